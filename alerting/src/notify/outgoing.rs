//! What an integration sends, built by the pure payload builders and carried out by the node's
//! senders: an HTTP POST or an e-mail. Secrets in `*_file` fields are already read.

use super::config::{HttpClientConfig, Secret, TlsConfig};

// One value per notification: the size of the e-mail variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// One or more requests (WhatsApp sends one per recipient), sent in order.
    Http(Vec<HttpRequest>),
    Email(EmailMessage),
}

/// An HTTP POST.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub url: String,
    /// Including `Content-Type`, any `Authorization` from `http_config`, and Cairn's
    /// `X-Cairn-Notification-Id` / `X-Cairn-Signature` where the integration sends them.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// TLS, proxy and redirect settings for the client.
    pub http_config: HttpClientConfig,
    /// Per attempt; None uses the sender's default.
    pub timeout_ms: Option<i64>,
}

/// An e-mail and how to reach the server.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailMessage {
    /// `host:port`; port 465 means implicit TLS, anything else plain then STARTTLS (required
    /// when `require_tls`).
    pub smarthost: String,
    pub hello: String,
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// Rendered headers, `Subject`, `From` and `To` included.
    pub headers: Vec<(String, String)>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub auth_username: Option<String>,
    pub auth_password: Option<Secret>,
    pub auth_identity: Option<String>,
    pub auth_secret: Option<Secret>,
    pub require_tls: bool,
    pub tls_config: TlsConfig,
}
