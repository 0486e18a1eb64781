//! The notification log: what was last sent to one integration of one receiver for one
//! aggregation group (Alertmanager's `nflogpb.Entry`). It lives in the meta group, so a new
//! meta leader knows exactly what the old one sent. Stored as JSON (`notify_keys::nflog_key`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NflogEntry {
    /// Alertmanager's group key (`{}/{severity="critical"}:{alertname="X"}`).
    pub group_key: String,
    pub receiver: String,
    /// `Integration::kind()`.
    pub integration: String,
    /// The integration's index within its kind in the receiver.
    pub idx: u32,
    /// When the notification was accepted by the receiver.
    pub timestamp_ms: i64,
    /// Fingerprints (`NotifyAlert::fingerprint`), sorted.
    pub firing: Vec<u64>,
    pub resolved: Vec<u64>,
}
