//! Notifications, as Alertmanager does them (docs/design.md, "Alerting"): a tenant's
//! `alertmanager.yml`, the pipeline that turns active alerts into notifications, and the
//! payload each receiver integration sends. Everything here is pure: the node's driver
//! (`node/src/notify/`) owns the clock, the timers, the meta group and the sockets.
//!
//! ```text
//!  alerts (rules' state + external) ─► inhibit ─► silence ─► route ─► aggregation groups
//!      ─► time intervals ─► dedup against the notification log ─► Notification
//!      ─► payload::build (templates) ─► Outgoing (HTTP request | e-mail) ─► node's senders
//!      ─► nflog entry committed to the meta group
//! ```

pub mod aggr_group;
pub mod alert_listing;
pub mod am_time;
pub mod config;
pub mod config_upload;
pub mod dedup;
pub mod dispatch;
pub mod external_alerts;
pub mod gettable_silence;
pub mod inhibit_rule;
pub mod inhibitor;
pub mod integrations;
pub mod ip_allow_list;
pub mod matcher;
pub mod matcher_parse;
pub mod mute;
pub mod nflog;
pub mod notification;
pub mod notification_log;
pub mod notify_alert;
pub mod notify_gc;
pub mod notify_keys;
pub mod outgoing;
pub mod payload;
pub mod receiver;
pub mod route;
pub mod rule_alert;
pub mod signature;
pub mod silence;
pub mod silence_gc;
pub mod silence_query;
pub mod silence_set;
pub mod time_interval;

pub use aggr_group::GroupId;
pub use config::AlertmanagerConfig;
pub use dispatch::{DispatchConfig, DispatchInput, DispatchState, Flush, GroupView};
pub use matcher::{MatchOp, Matcher};
pub use matcher_parse::{parse_matcher, parse_matchers};
pub use notification::Notification;
pub use notification_log::NotificationLog;
pub use notify_alert::NotifyAlert;
pub use outgoing::{EmailMessage, HttpRequest, Outgoing};
pub use receiver::{Integration, Receiver};
pub use route::Route;
pub use silence::Silence;
