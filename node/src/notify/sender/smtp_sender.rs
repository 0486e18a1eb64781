//! `SmtpSender`: one attempt of one e-mail with lettre over tokio and rustls, as
//! Alertmanager's email notifier does it: to `smarthost`, implicit TLS on port 465, otherwise
//! plain then STARTTLS when the server offers it (and refusing to go on without it when
//! `require_tls`), AUTH PLAIN or LOGIN when `auth_username` is set, `hello` as the EHLO name,
//! and a multipart/alternative message of the text and HTML bodies.

use std::time::Duration;

use cairn_alerting::notify::EmailMessage;
use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Identity, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::AttemptError;
use super::retry::{FailureReason, Verdict, smtp_verdict};

/// The port on which SMTP runs inside TLS from the first byte (RFC 8314).
const IMPLICIT_TLS_PORT: u16 = 465;

#[derive(Default)]
pub struct SmtpSender {}

impl SmtpSender {
    /// Delivers `mail` in one SMTP session that may take at most `timeout`.
    pub async fn attempt(
        &self,
        mail: &EmailMessage,
        timeout: Duration,
    ) -> Result<(), AttemptError> {
        let (host, port) = split_smarthost(&mail.smarthost).map_err(permanent)?;
        let (envelope, body) = compose(mail).map_err(permanent)?;
        let transport = transport(mail, &host, port, timeout).map_err(permanent)?;
        match tokio::time::timeout(timeout, transport.send_raw(&envelope, &body)).await {
            Err(_) => Err(AttemptError {
                message: format!("no answer from {} within {timeout:?}", mail.smarthost),
                verdict: Verdict::Transient { retry_after: None },
                reason: FailureReason::Other,
            }),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(smtp_error(mail, &e)),
        }
    }
}

/// `host:port` (IPv6 as `[::1]:25`). Alertmanager requires the port; so do we.
fn split_smarthost(smarthost: &str) -> Result<(String, u16), String> {
    let bad = || format!("smarthost {smarthost:?} is not host:port");
    let (host, port) = smarthost.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

fn transport(
    mail: &EmailMessage,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .timeout(Some(timeout))
        // Alertmanager's default EHLO name, should the configuration leave it empty.
        .hello_name(ClientId::Domain(if mail.hello.is_empty() {
            "localhost".to_string()
        } else {
            mail.hello.clone()
        }));
    let tls = tls_parameters(mail, host)?;
    b = b.tls(if port == IMPLICIT_TLS_PORT {
        Tls::Wrapper(tls)
    } else if mail.require_tls {
        Tls::Required(tls)
    } else {
        Tls::Opportunistic(tls)
    });
    if let Some(user) = mail.auth_username.as_deref().filter(|u| !u.is_empty()) {
        let password = mail.auth_password.as_ref().map(|p| p.0.as_str());
        if password.is_none_or(str::is_empty)
            && mail.auth_secret.as_ref().is_some_and(|s| !s.0.is_empty())
        {
            // Alertmanager uses auth_secret for CRAM-MD5; lettre has no CRAM-MD5.
            return Err(
                "auth_secret (CRAM-MD5) is not supported: set auth_password \
                        for AUTH PLAIN or LOGIN"
                    .to_string(),
            );
        }
        // PLAIN's authorization identity (`auth_identity`) is not sent: lettre's PLAIN always
        // leaves it empty, which servers read as "the same as the user", its usual value.
        b = b
            .credentials(Credentials::new(
                user.to_string(),
                password.unwrap_or_default().to_string(),
            ))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(b.build())
}

fn tls_parameters(mail: &EmailMessage, host: &str) -> Result<TlsParameters, String> {
    let t = &mail.tls_config;
    // The name the certificate must carry (and SNI): `server_name`, else the smarthost's host.
    let name = t
        .server_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| host.to_string());
    let mut b = TlsParameters::builder(name).dangerous_accept_invalid_certs(t.insecure_skip_verify);
    if let Some(ca_file) = &t.ca_file {
        let pem =
            std::fs::read(ca_file).map_err(|e| format!("tls_config.ca_file {ca_file}: {e}"))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("tls_config.ca_file {ca_file}: {e}"))?;
        b = b.add_root_certificate(cert);
    }
    match (&t.cert_file, &t.key_file) {
        (None, None) => {}
        (Some(cert_file), Some(key_file)) => {
            let cert = std::fs::read(cert_file)
                .map_err(|e| format!("tls_config.cert_file {cert_file}: {e}"))?;
            let key = std::fs::read(key_file)
                .map_err(|e| format!("tls_config.key_file {key_file}: {e}"))?;
            let id = Identity::from_pem(&cert, &key)
                .map_err(|e| format!("tls_config.cert_file/key_file: {e}"))?;
            b = b.identify_with(id);
        }
        _ => return Err("tls_config: cert_file and key_file must be given together".into()),
    }
    b.build_rustls().map_err(|e| format!("tls_config: {e}"))
}

/// The envelope and the message's bytes: the rendered headers in their order, `Date` and
/// `Message-Id` unless the configuration set them, and the bodies.
fn compose(mail: &EmailMessage) -> Result<(Envelope, Vec<u8>), String> {
    let from: Address = mail
        .from
        .parse()
        .map_err(|e| format!("from {:?}: {e}", mail.from))?;
    let to = mail
        .to
        .iter()
        .map(|t| t.parse::<Address>().map_err(|e| format!("to {t:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if to.is_empty() {
        return Err("no recipient (to)".into());
    }
    let envelope = Envelope::new(Some(from.clone()), to).map_err(|e| e.to_string())?;

    let mut b = Message::builder().envelope(envelope.clone());
    let has = |name: &str| {
        mail.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has("From") {
        b = b.from(Mailbox::new(None, from));
    }
    if !has("Message-Id") {
        b = b.message_id(None);
    }
    for (name, value) in &mail.headers {
        // The body's own headers come from the parts below.
        if name.eq_ignore_ascii_case("Content-Type")
            || name.eq_ignore_ascii_case("Content-Transfer-Encoding")
            || name.eq_ignore_ascii_case("MIME-Version")
        {
            continue;
        }
        let hn = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| format!("header name {name:?} is not a valid header name"))?;
        b = b.raw_header(HeaderValue::new(hn, value.clone()));
    }
    // lettre checks that From parses as mailboxes; the error names the header's value.
    let message = match (&mail.text, &mail.html) {
        (Some(text), Some(html)) => b.multipart(MultiPart::alternative_plain_html(
            text.clone(),
            html.clone(),
        )),
        (None, Some(html)) => b.singlepart(SinglePart::html(html.clone())),
        (Some(text), None) => b.singlepart(SinglePart::plain(text.clone())),
        (None, None) => b.singlepart(SinglePart::plain(String::new())),
    }
    .map_err(|e| {
        format!(
            "composing the message (From {:?}): {e}",
            header_value(mail, "From")
        )
    })?;
    Ok((envelope, message.formatted()))
}

fn header_value<'a>(mail: &'a EmailMessage, name: &str) -> &'a str {
    mail.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

fn permanent(message: String) -> AttemptError {
    AttemptError {
        message,
        verdict: Verdict::Permanent,
        reason: FailureReason::Other,
    }
}

/// lettre's error, classed: an SMTP reply's code decides (4xx again, 5xx final); the server
/// not offering STARTTLS under `require_tls` and lettre refusing the input are final; anything
/// else (connection refused or reset, TLS handshake cut) is worth another try.
fn smtp_error(mail: &EmailMessage, e: &lettre::transport::smtp::Error) -> AttemptError {
    let text = chain(e);
    if e.is_client() && text.contains("STARTTLS") {
        return permanent(format!(
            "'require_tls' is true (default) but {:?} does not advertise the STARTTLS extension",
            mail.smarthost
        ));
    }
    let verdict = match e.status() {
        Some(code) => smtp_verdict(u16::from(code)),
        None if e.is_client() => Verdict::Permanent,
        None => Verdict::Transient { retry_after: None },
    };
    AttemptError {
        message: format!("{}: {text}", mail.smarthost),
        verdict,
        reason: FailureReason::Other,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> EmailMessage {
        EmailMessage {
            smarthost: "mail.example.org:587".into(),
            hello: "cairn.local".into(),
            from: "cairn@example.org".into(),
            to: vec!["ops@example.org".into(), "dev@example.org".into()],
            headers: vec![
                ("From".into(), "Cairn <cairn@example.org>".into()),
                ("To".into(), "ops@example.org, dev@example.org".into()),
                ("Subject".into(), "[FIRING:1] Høj last".into()),
                ("X-Team".into(), "ops".into()),
            ],
            html: Some("<b>firing</b>".into()),
            text: Some("firing".into()),
            auth_username: None,
            auth_password: None,
            auth_identity: None,
            auth_secret: None,
            require_tls: true,
            tls_config: Default::default(),
        }
    }

    #[test]
    fn smarthosts_split_into_host_and_port() {
        assert_eq!(split_smarthost("a.b:25").unwrap(), ("a.b".to_string(), 25));
        assert_eq!(
            split_smarthost("[::1]:465").unwrap(),
            ("::1".to_string(), 465)
        );
        assert!(split_smarthost("a.b").unwrap_err().contains("host:port"));
        assert!(split_smarthost(":25").is_err());
        assert!(split_smarthost("a.b:x").is_err());
    }

    #[test]
    fn the_message_carries_the_headers_and_both_bodies() {
        let (env, bytes) = compose(&mail()).unwrap();
        assert_eq!(env.to().len(), 2);
        assert_eq!(env.from().unwrap().to_string(), "cairn@example.org");
        let text = String::from_utf8(bytes).unwrap();
        let head = text.split("\r\n\r\n").next().unwrap();
        assert!(head.contains("From: Cairn <cairn@example.org>"), "{head}");
        assert!(head.contains("X-Team: ops"), "{head}");
        assert!(
            head.contains("Message-ID: <") || head.contains("Message-Id: <"),
            "{head}"
        );
        assert!(head.contains("Date: "), "{head}");
        // The non-ASCII subject is encoded (RFC 2047), not sent raw.
        assert!(head.contains("Subject: [FIRING:1] =?utf-8?b?"), "{head}");
        assert!(head.contains("multipart/alternative"), "{head}");
        assert!(text.contains("text/plain") && text.contains("text/html"));
    }

    #[test]
    fn cram_md5_and_bad_addresses_are_refused_with_a_reason() {
        let mut m = mail();
        m.auth_username = Some("u".into());
        m.auth_secret = Some(cairn_alerting::notify::config::Secret("s".into()));
        let e = transport(&m, "h", 25, Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(e.contains("CRAM-MD5"), "{e}");
        let mut m = mail();
        m.to = vec!["not an address".into()];
        assert!(compose(&m).unwrap_err().contains("not an address"));
        let mut m = mail();
        m.headers[0].1 = "<<<".into();
        assert!(compose(&m).unwrap_err().contains("From"));
    }
}
