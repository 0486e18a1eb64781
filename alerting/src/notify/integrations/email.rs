//! `email_configs`. Unset fields take `global.smtp_*`.

use std::collections::BTreeMap;

use crate::notify::config::{Secret, TlsConfig};

#[derive(Debug, Clone, PartialEq)]
pub struct EmailConfig {
    /// Default false.
    pub send_resolved: bool,
    /// Template source (addresses, comma-separated once rendered).
    pub to: String,
    pub from: String,
    pub hello: String,
    /// `host:port`.
    pub smarthost: String,
    pub auth_username: Option<String>,
    pub auth_password: Option<Secret>,
    pub auth_password_file: Option<String>,
    pub auth_secret: Option<Secret>,
    pub auth_identity: Option<String>,
    /// Header name (canonical case, e.g. `Subject`) to template source. Subject, To and From
    /// have Alertmanager's defaults.
    pub headers: BTreeMap<String, String>,
    /// Template source; default `{{ template "email.default.html" . }}`.
    pub html: Option<String>,
    pub text: Option<String>,
    pub require_tls: bool,
    pub tls_config: TlsConfig,
}

/// Alertmanager's defaults; `to`, `from`, `hello`, `smarthost` and `require_tls` come from
/// the file or `global`.
impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            send_resolved: false,
            to: String::new(),
            from: String::new(),
            hello: "localhost".to_string(),
            smarthost: String::new(),
            auth_username: None,
            auth_password: None,
            auth_password_file: None,
            auth_secret: None,
            auth_identity: None,
            headers: BTreeMap::from([(
                "Subject".to_string(),
                "{{ template \"email.default.subject\" . }}".to_string(),
            )]),
            html: Some("{{ template \"email.default.html\" . }}".to_string()),
            text: None,
            require_tls: true,
            tls_config: TlsConfig::default(),
        }
    }
}
