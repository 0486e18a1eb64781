//! A tenant's notification configuration: Alertmanager's `alertmanager.yml`, parsed and
//! validated, with every default and inherited route setting resolved, plus the notification
//! templates it names (stored with it, as Mimir stores them).

use std::collections::BTreeMap;

use super::inhibit_rule::InhibitRule;
use super::receiver::Receiver;
use super::route::Route;
use super::time_interval::TimeInterval;

mod decode;
mod fields;
pub mod global;
mod http_decode;
mod inhibit_decode;
mod receivers_decode;
mod redact;
mod route_decode;
mod scalars;
mod sink;
mod time_interval_decode;
mod validate;

pub use global::{Authorization, BasicAuth, GlobalConfig, HttpClientConfig, Secret, TlsConfig};
pub use redact::redacted_source;

/// The whole configuration. Durations and times are milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerConfig {
    pub global: GlobalConfig,
    /// The root route, with every child's inherited settings filled in.
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    /// `time_intervals` (and the older `mute_time_intervals`) by name.
    pub time_intervals: BTreeMap<String, Vec<TimeInterval>>,
    pub receivers: Vec<Receiver>,
    /// The notification templates' text by file name (`templates:` in the file names them;
    /// the texts travel with the configuration, as Mimir's `template_files`).
    pub template_files: BTreeMap<String, String>,
    /// Cairn's extension for `POST /api/v1/alerts/external`.
    pub external_alerts: Option<ExternalAlertsConfig>,
}

/// `external_alerts:` (Cairn's extension): how alerts from outside are accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalAlertsConfig {
    /// The HMAC-SHA256 key the sender signs the body with (`X-Cairn-Signature: sha256=<hex>`).
    pub secret: Secret,
    /// Source networks allowed to post (`10.0.0.0/8`, `192.0.2.7`); empty allows any.
    pub allowed_ips: Vec<String>,
}

impl AlertmanagerConfig {
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

/// Every problem found in a configuration, each naming the key (`route.routes[1].receiver`)
/// and, where known, the line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The YAML path of the offending key or value.
    pub path: String,
    /// 1-based; 0 when unknown (e.g. a reference between sections).
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}: {}: {}",
                self.line, self.column, self.path, self.message
            )
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl AlertmanagerConfig {
    /// Parses and validates `alertmanager.yml` as Alertmanager 0.25 does (with the 0.26-0.28
    /// additions and Cairn's extensions), filling every default and inherited setting.
    /// `template_files` are the texts of the templates it names (by file name), stored as
    /// given. On failure, every problem found, in file order.
    pub fn parse(
        yaml: &str,
        template_files: BTreeMap<String, String>,
    ) -> Result<AlertmanagerConfig, Vec<ConfigError>> {
        decode::parse(yaml, template_files)
    }
}

#[cfg(test)]
#[path = "config/config_test.rs"]
mod config_test;
