//! Query results: what an expression evaluates to, in Prometheus' four value types.
//!
//! During a range evaluation every instant-vector expression is held as a set of
//! [`Series`] whose points sit on the query's step timestamps; an instant query is a range
//! query with one step. [`QueryValue`] is what leaves the engine (and what the HTTP API
//! renders as `vector`, `matrix`, `scalar` or `string`).

pub use cairn_storage::model::{Label, Labels, Sample, METRIC_NAME};

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
