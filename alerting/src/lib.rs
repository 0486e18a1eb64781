//! Cairn's alerting: rule files, evaluation scheduling, the alert state machine, notification
//! routing and notifiers (DESIGN.md, "Alerting").
//!
//! Not built yet: it comes after the PromQL engine (`cairn-query`), on which rule evaluation
//! depends. The crate exists so the workspace has the layout DESIGN.md fixes; it holds no code
//! that pretends to work.
