//! Notifications on the node: the thin driver around `cairn_alerting::notify`'s pure pipeline,
//! and the senders that carry its requests and e-mails out. Only the meta leader sends; what
//! it sent is committed to the meta group's notification log.

pub mod alert_board;
pub mod deliveries;
pub mod nflog_writer;
pub mod notify_manager;
pub mod parsed_scan;
pub mod sender;

pub use alert_board::AlertBoard;
pub use notify_manager::{NotifyManager, NotifyManagerSettings};
pub use sender::{SendError, SendTarget, Senders};
