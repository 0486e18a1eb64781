//! Query results: what an expression evaluates to, in Prometheus' four value types.
//!
//! During a range evaluation every instant-vector expression is held as a set of
//! [`Series`] whose points sit on the query's step timestamps; an instant query is a range
//! query with one step. [`QueryValue`] is what leaves the engine (and what the HTTP API
//! renders as `vector`, `matrix`, `scalar` or `string`).

pub use cairn_model::{Label, Labels, METRIC_NAME, Sample};

/// A labelled list of points, sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

impl Series {
    pub fn new(labels: Labels, samples: Vec<Sample>) -> Self {
        Series { labels, samples }
    }
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorElement {
    pub labels: Labels,
    pub sample: Sample,
}

/// The result of a query, as the Prometheus HTTP API returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    /// `resultType: scalar`: one value at the evaluation time.
    Scalar(Sample),
    /// `resultType: string`.
    String { t: i64, value: String },
    /// `resultType: vector`: an instant query's instant vector.
    Vector(Vec<VectorElement>),
    /// `resultType: matrix`: a range query's result, or an instant query of a range vector.
    Matrix(Vec<Series>),
}

impl QueryValue {
    /// Prometheus' name of the result type.
    pub fn type_name(&self) -> &'static str {
        match self {
            QueryValue::Scalar(_) => "scalar",
            QueryValue::String { .. } => "string",
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
        }
    }
}

/// Formats a float as Prometheus does in JSON and in `count_values` labels (Go's
/// `strconv.FormatFloat(v, 'f', -1, 64)`): shortest round-trip digits, no exponent, and
/// `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        // Rust's `Display` for f64 is shortest round-trip and never uses an exponent.
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_format_as_go_does() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(-2.5e-7), "-0.00000025");
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }
}
