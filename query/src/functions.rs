//! PromQL's functions over floats, as pure functions of values and label sets: the
//! arithmetic of Prometheus 3.0's `promql/functions.go` and `promql/quantile.go`, float
//! operation for float operation so that results agree bit for bit.
//!
//! ```text
//!   engine (evaluator) ── selects windows, walks steps, handles __name__, annotations,
//!        │                 duplicate label sets and argument errors
//!        ├──▶ range      RangeFunction::eval: rate, deriv, *_over_time, …
//!        ├──▶ quantile   quantile (aggregator, quantile_over_time), bucket_quantile
//!        ├──▶ math       simple_math (abs, ln, sgn, …), round
//!        ├──▶ date       date_function (year, hour, …)
//!        ├──▶ labels     label_replace, label_join
//!        └──▶ kahan      kahan_sum_inc for the evaluator's own sums (sum, avg)
//! ```
//!
//! Nothing here touches series selection, time or I/O: that is the evaluator's part.

mod date;
mod kahan;
mod labels;
mod math;
mod quantile;
mod range;

pub use date::date_function;
pub use kahan::kahan_sum_inc;
pub use labels::{
    check_label_join_names, check_label_replace_dst, compile_anchored, is_valid_label_name,
    label_join, label_replace,
};
pub use math::{round, simple_math};
pub use quantile::{Bucket, bucket_quantile, quantile};
pub use range::{RangeFunction, check_smoothing_params};
