//! Where notification state lives in the meta group's key-value space, and the records stored
//! there. The node's HTTP API and its notification driver both go through these functions.
//!
//! ```text
//!  amconfig/{tenant}                                            → StoredConfig (JSON)
//!  silences/{tenant}/{silence id}                               → StoredSilence (JSON)
//!  extalerts/{tenant}/{fingerprint:016x}                        → StoredAlert (JSON)
//!  nflog/{tenant}/{receiver}/{integration}/{idx}/{group:016x}   → StoredNflogEntry (JSON)
//! ```
//! `{receiver}` is percent-encoded like rule group keys (`%` and `/`); `{group}` is the xxh64
//! of the group key (the entry holds the key itself). Tenant names need no encoding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::matcher::{MatchOp, Matcher};
use super::nflog::NflogEntry;
use super::notify_alert::NotifyAlert;
use super::silence::Silence;

pub const AM_CONFIG: &str = "amconfig/";
pub const SILENCES: &str = "silences/";
pub const EXTERNAL_ALERTS: &str = "extalerts/";
pub const NFLOG: &str = "nflog/";

fn encode(component: &str) -> String {
    component.replace('%', "%25").replace('/', "%2F")
}

pub fn config_key(tenant: &str) -> String {
    format!("{AM_CONFIG}{tenant}")
}

pub fn tenant_silences_prefix(tenant: &str) -> String {
    format!("{SILENCES}{tenant}/")
}

pub fn silence_key(tenant: &str, id: &str) -> String {
    format!("{SILENCES}{tenant}/{}", encode(id))
}

pub fn tenant_external_alerts_prefix(tenant: &str) -> String {
    format!("{EXTERNAL_ALERTS}{tenant}/")
}

pub fn external_alert_key(tenant: &str, fingerprint: u64) -> String {
    format!("{EXTERNAL_ALERTS}{tenant}/{fingerprint:016x}")
}

pub fn tenant_nflog_prefix(tenant: &str) -> String {
    format!("{NFLOG}{tenant}/")
}

pub fn nflog_key(tenant: &str, e: &NflogEntry) -> String {
    format!(
        "{NFLOG}{tenant}/{}/{}/{}/{:016x}",
        encode(&e.receiver),
        e.integration,
        e.idx,
        xxhash_rust::xxh64::xxh64(e.group_key.as_bytes(), 0)
    )
}

/// A tenant's notification configuration as applied: the YAML text and the template files it
/// names (Mimir's `alertmanager_config` and `template_files`). Parsed again when read, so
/// what is stored is exactly what the user sent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StoredConfig {
    pub alertmanager_config: String,
    #[serde(default)]
    pub template_files: BTreeMap<String, String>,
    /// When it was applied (ms).
    #[serde(default)]
    pub applied_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMatcher {
    pub name: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSilence {
    pub id: String,
    pub matchers: Vec<StoredMatcher>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub updated_at_ms: i64,
    pub created_by: String,
    pub comment: String,
}

impl StoredSilence {
    pub fn from_silence(s: &Silence) -> StoredSilence {
        StoredSilence {
            id: s.id.clone(),
            matchers: s
                .matchers
                .iter()
                .map(|m| StoredMatcher {
                    name: m.name.clone(),
                    op: m.op.as_str().to_string(),
                    value: m.value.clone(),
                })
                .collect(),
            starts_at_ms: s.starts_at_ms,
            ends_at_ms: s.ends_at_ms,
            updated_at_ms: s.updated_at_ms,
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
        }
    }

    /// The silence; an operator or regex that no longer parses is an error naming it.
    pub fn to_silence(&self) -> Result<Silence, String> {
        let matchers = self
            .matchers
            .iter()
            .map(|m| {
                let op = match m.op.as_str() {
                    "=" => MatchOp::Equal,
                    "!=" => MatchOp::NotEqual,
                    "=~" => MatchOp::Regex,
                    "!~" => MatchOp::NotRegex,
                    other => {
                        return Err(format!("silence {}: unknown operator {other:?}", self.id));
                    }
                };
                Matcher::new(&m.name, op, &m.value).map_err(|e| format!("silence {}: {e}", self.id))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Silence {
            id: self.id.clone(),
            matchers,
            starts_at_ms: self.starts_at_ms,
            ends_at_ms: self.ends_at_ms,
            updated_at_ms: self.updated_at_ms,
            created_by: self.created_by.clone(),
            comment: self.comment.clone(),
        })
    }
}

/// An alert posted from outside (`POST /api/v1/alerts/external`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    #[serde(default)]
    pub generator_url: String,
    pub updated_at_ms: i64,
}

impl StoredAlert {
    pub fn from_alert(a: &NotifyAlert) -> StoredAlert {
        StoredAlert {
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at_ms: a.starts_at_ms,
            ends_at_ms: a.ends_at_ms,
            generator_url: a.generator_url.clone(),
            updated_at_ms: a.updated_at_ms,
        }
    }

    pub fn to_alert(&self) -> NotifyAlert {
        NotifyAlert {
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            starts_at_ms: self.starts_at_ms,
            ends_at_ms: self.ends_at_ms,
            generator_url: self.generator_url.clone(),
            updated_at_ms: self.updated_at_ms,
        }
    }
}
