//! `global:` and the HTTP client settings every HTTP integration shares (`http_config`).

/// A secret value (passwords, tokens, API URLs that carry a key). Shown as `<secret>` when the
/// configuration is read back, as Alertmanager shows it.
#[derive(Clone, PartialEq, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// `global:`. Fields for integrations Cairn does not have are accepted and ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalConfig {
    /// Default 5m: an alert without `endsAt` resolves this long after its last update.
    pub resolve_timeout_ms: i64,
    pub http_config: HttpClientConfig,
    pub smtp_from: Option<String>,
    /// Default `localhost`.
    pub smtp_hello: String,
    /// `host:port`.
    pub smtp_smarthost: Option<String>,
    pub smtp_auth_username: Option<String>,
    pub smtp_auth_password: Option<Secret>,
    pub smtp_auth_password_file: Option<String>,
    pub smtp_auth_secret: Option<Secret>,
    pub smtp_auth_identity: Option<String>,
    /// Default true.
    pub smtp_require_tls: bool,
    pub slack_api_url: Option<Secret>,
    pub slack_api_url_file: Option<String>,
    /// Default `https://api.telegram.org`.
    pub telegram_api_url: String,
    /// Cairn's extension; default `https://graph.facebook.com/v21.0`.
    pub whatsapp_api_url: String,
}

/// Prometheus' common `http_config` (the parts a notifier uses).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpClientConfig {
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub tls_config: TlsConfig,
    pub proxy_url: Option<String>,
    /// Default true.
    pub follow_redirects: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BasicAuth {
    pub username: String,
    pub password: Option<Secret>,
    pub password_file: Option<String>,
}

/// `authorization:` (and the older `bearer_token`, which becomes type Bearer).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Authorization {
    /// Default `Bearer`.
    pub kind: String,
    pub credentials: Option<Secret>,
    pub credentials_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsConfig {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
}
