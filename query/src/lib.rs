//! Cairn's query layer: PromQL evaluation over a [`Querier`]. It knows nothing of where data
//! lives, of HTTP or of runtimes: the node implements `Querier` on the storage engine and
//! serves the results.
//!
//! ```text
//!   node (HTTP) ──▶ QueryEngine::{instant,range} ──▶ engine (evaluator) ──▶ functions
//!                                   │
//!                                   └──▶ Querier (node: storage engine; tests: MemQuerier)
//! ```
//!
//! Also: the result cache that answers a dashboard's past steps from memory (`result_cache`,
//! pure: the node drives it around evaluations), series selectors for the metadata and export
//! APIs (`selector`), and a reader and checker for Prometheus' `.test` scripts (`promqltest`)
//! that the conformance tests share.

pub mod config;
pub mod engine;
pub mod error;
pub mod functions;
pub mod mem_querier;
pub mod promqltest;
pub mod querier;
pub mod result_cache;
pub mod selector;
pub mod value;

pub use config::{QueryCacheConfig, QueryConfig};
pub use engine::{QueryEngine, QueryOptions, QueryResult, QueryStats, Resolution};
pub use error::{Error, Result};
pub use mem_querier::MemQuerier;
pub use querier::{Querier, SeriesHandle, TierBounds};
pub use result_cache::ResultCache;
pub use selector::parse_selector;
pub use value::{QueryValue, Series, VectorElement};
