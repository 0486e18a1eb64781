//! Cairn's query layer. It knows nothing of where data lives: it sees series through the
//! storage model's matchers and samples.
//!
//! Today: parsing series selectors (`up{job=~"api|web"}`) for the metadata and export APIs,
//! with `promql-parser`. The PromQL evaluator over a `Querier` trait arrives with issue 3.

pub mod error;
pub mod selector;

pub use error::{Error, Result};
pub use selector::parse_selector;
