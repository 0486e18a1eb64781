//! The rustls client configuration for an integration's `tls_config`: the public web's roots
//! (webpki-roots, so Slack, Teams, Telegram and WhatsApp verify on any machine) plus
//! `ca_file`, a client certificate from `cert_file`/`key_file`, `server_name` to verify the
//! certificate against another name than the URL's host, and `insecure_skip_verify`.
//! The crypto provider is ring, as in the rest of the workspace (rustls 0.23 refuses to pick
//! one itself when two are compiled in).

use std::sync::Arc;

use cairn_alerting::notify::config::TlsConfig;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// Builds the configuration, or says which file or setting is wrong.
pub fn client_config(tls: &TlsConfig) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca_file) = &tls.ca_file {
        let certs = CertificateDer::pem_file_iter(ca_file)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("tls_config.ca_file {ca_file}: {e}"))?;
        if certs.is_empty() {
            return Err(format!(
                "tls_config.ca_file {ca_file}: no PEM certificate in it"
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("tls_config.ca_file {ca_file}: {e}"))?;
        }
    }
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(AcceptAnyCert(provider.clone()))
    } else {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("tls_config: {e}"))?;
        match tls.server_name.as_deref().filter(|n| !n.is_empty()) {
            None => webpki,
            Some(name) => {
                let name = ServerName::try_from(name.to_string())
                    .map_err(|e| format!("tls_config.server_name {name:?}: {e}"))?;
                Arc::new(VerifyAs {
                    inner: webpki,
                    name,
                })
            }
        }
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls_config: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (&tls.cert_file, &tls.key_file) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert_file), Some(key_file)) => {
            let certs = CertificateDer::pem_file_iter(cert_file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("tls_config.cert_file {cert_file}: {e}"))?;
            let key = PrivateKeyDer::from_pem_file(key_file)
                .map_err(|e| format!("tls_config.key_file {key_file}: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("tls_config.cert_file/key_file: {e}"))
        }
        _ => Err("tls_config: cert_file and key_file must be given together".to_string()),
    }
}

/// `server_name`: verifies the server's certificate against the configured name instead of
/// the host the URL names (Go's `tls.Config.ServerName`).
#[derive(Debug)]
struct VerifyAs {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for VerifyAs {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any certificate is accepted, but the handshake's signatures are
/// still checked (the session is still encrypted to whoever holds the key).
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_build_and_bad_files_are_named() {
        assert!(client_config(&TlsConfig::default()).is_ok());
        assert!(
            client_config(&TlsConfig {
                insecure_skip_verify: true,
                server_name: Some("example.org".into()),
                ..Default::default()
            })
            .is_ok()
        );
        let e = client_config(&TlsConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("tls_config.ca_file /nonexistent/ca.pem"), "{e}");
        let e = client_config(&TlsConfig {
            cert_file: Some("/x.pem".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("together"), "{e}");
    }
}
