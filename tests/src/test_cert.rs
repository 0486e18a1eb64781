//! `TestCa`: a throwaway certificate authority for tests of TLS (the senders' `ca_file`, the
//! SMTP sink's STARTTLS, a TLS capture server), made with rcgen in the test, never checked in.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A CA and one server certificate it issued, written as PEM files into a directory.
pub struct TestCa {
    /// The CA certificate (what a client's `ca_file` names).
    pub ca_file: PathBuf,
    /// The server's certificate and key.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    /// A CA, and a server certificate for `names` (DNS names or IP addresses, e.g.
    /// `["localhost", "127.0.0.1"]`), written under `dir`.
    pub fn generate(dir: &Path, names: &[&str]) -> anyhow::Result<TestCa> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Cairn test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "cairn test server");
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;

        let t = TestCa {
            ca_file: dir.join("ca.pem"),
            cert_file: dir.join("server.pem"),
            key_file: dir.join("server-key.pem"),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        for (path, text) in [
            (&t.ca_file, ca.pem()),
            (&t.cert_file, t.cert_pem.clone()),
            (&t.key_file, t.key_pem.clone()),
        ] {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(t)
    }
}
