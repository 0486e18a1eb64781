//! `Senders`: carries an `Outgoing` out (HTTP POST or SMTP), retrying with exponential backoff
//! until the receiver accepts it or the deadline passes. Each call is independent, so one
//! slow or failing receiver never delays another.

use std::time::Instant;

use cairn_alerting::notify::Outgoing;

#[derive(Debug, Clone, PartialEq)]
pub struct SendError {
    pub message: String,
    /// Whether another attempt could succeed (connection errors, 5xx, 429).
    pub retryable: bool,
}

pub struct Senders {
    _private: (),
}

impl Senders {
    /// The stub's constructor (the senders branch replaces it with `Senders::new(metrics)`).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Senders {
        Senders { _private: () }
    }

    /// Sends `outgoing` for `receiver`'s `integration` (names for metrics and logs).
    pub async fn send(
        &self,
        receiver: &str,
        integration: &str,
        outgoing: &Outgoing,
        deadline: Instant,
    ) -> Result<(), SendError> {
        let _ = (receiver, integration, outgoing, deadline);
        Err(SendError {
            message: "senders are not built yet".to_string(),
            retryable: false,
        })
    }
}
