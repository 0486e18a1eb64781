//! InfluxDB line protocol → one `WriteBatch`: the body of `/write` (v1) and `/api/v2/write`.
//!
//! It owns the mapping of points onto Cairn series (docs/design.md, "Data model"), which is
//! VictoriaMetrics' `measurement_field` mapping with two differences; it must not route or
//! apply the batch.
//!
//! ```text
//!  cpu,host=a usage_user=1.5,up=true,msg="x",value=3i 1700000000000000000
//!   │                                                   │ ÷ precision → ms (floor)
//!   ▼  one group per line: labels {host="a"} (+ db="NAME" from ?db= / bucket=)
//!      cpu_usage_user 1.5 @1700000000000
//!      cpu_up         1.0 @1700000000000
//!      cpu            3.0 @1700000000000     ← a field named `value` gives the bare measurement
//!      msg: rejected (Cairn stores numbers only), counted in IngestReport::rejected
//! ```
//!
//! - Tags become labels verbatim: UTF-8, unescaped, not sanitised.
//! - `db` label: added from `?db=` (v1) or `bucket=` (v2) unless the line has its own `db` tag,
//!   which wins (VictoriaMetrics does the same).
//! - Integers, unsigned integers and booleans become f64; string fields are rejected one by one.
//! - A bad line is skipped and the rest of the body kept (InfluxDB's partial write); so is a line
//!   whose tags cannot be labels (a repeated tag key, or a tag named `__name__`) or whose
//!   timestamp does not fit i64 milliseconds.

use cairn_model::{Tenant, WriteBatch, WriteBatchBuilder};

use crate::line_protocol::{FieldValue, Line, Parser};

pub use crate::line_protocol::LineError;

/// The unit of the timestamps in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Ns,
    Us,
    Ms,
    S,
    /// Minutes (v1 only).
    M,
    /// Hours (v1 only).
    H,
}

impl Precision {
    /// v1's `precision=`: `n`, `ns`, `u`, `us`, `µ`, `µs`, `ms`, `s`, `m` or `h`; empty means ns.
    pub fn parse_v1(s: &str) -> Option<Self> {
        match s {
            "" | "n" | "ns" => Some(Precision::Ns),
            "u" | "us" | "µ" | "µs" => Some(Precision::Us),
            "ms" => Some(Precision::Ms),
            "s" => Some(Precision::S),
            "m" => Some(Precision::M),
            "h" => Some(Precision::H),
            _ => None,
        }
    }

    /// v2's `precision=`: `ns`, `us`, `ms` or `s`; empty means ns.
    pub fn parse_v2(s: &str) -> Option<Self> {
        match s {
            "" | "ns" => Some(Precision::Ns),
            "us" => Some(Precision::Us),
            "ms" => Some(Precision::Ms),
            "s" => Some(Precision::S),
            _ => None,
        }
    }

    /// The v2 name (`ns`, `us`, `ms`, `s`; `m`, `h`).
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Ns => "ns",
            Precision::Us => "us",
            Precision::Ms => "ms",
            Precision::S => "s",
            Precision::M => "m",
            Precision::H => "h",
        }
    }

    /// Converts a timestamp in this precision to milliseconds, rounding down (so -1 ns is
    /// -1 ms, the millisecond it falls in); `None` when it does not fit an i64.
    pub fn to_millis(self, t: i64) -> Option<i64> {
        match self {
            Precision::Ns => Some(t.div_euclid(1_000_000)),
            Precision::Us => Some(t.div_euclid(1_000)),
            Precision::Ms => Some(t),
            Precision::S => t.checked_mul(1_000),
            Precision::M => t.checked_mul(60_000),
            Precision::H => t.checked_mul(3_600_000),
        }
    }
}

/// What became of a request body, for the response and for self-metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Entries read (blank and comment lines are not counted), good or bad.
    pub lines: usize,
    /// Samples in the batch.
    pub samples: usize,
    /// Lines rejected plus string fields rejected.
    pub rejected: usize,
    /// The first problem met, for the response body.
    pub first_error: Option<LineError>,
}

impl IngestReport {
    fn reject(&mut self, err: LineError) {
        self.rejected += 1;
        if self.first_error.is_none() {
            self.first_error = Some(err);
        }
    }
}

/// Parses a line protocol body into one batch for `tenant`. Lines without a timestamp get
/// `now_ms`; `db` (from `?db=` or `bucket=`) becomes a `db` label. Never fails as a whole: bad
/// lines and string fields are skipped and reported.
pub fn parse_body(
    body: &[u8],
    tenant: Tenant,
    precision: Precision,
    db: Option<&str>,
    now_ms: i64,
) -> (WriteBatch, IngestReport) {
    let mut builder = WriteBatchBuilder::new(tenant);
    let report = parse_body_into(body, &mut builder, precision, db, now_ms);
    (builder.finish(), report)
}

/// `parse_body` into a builder the caller owns, e.g. one made with
/// `WriteBatchBuilder::sharded` to get one batch per shard. `samples` in the report counts
/// the samples this body added.
pub fn parse_body_into(
    body: &[u8],
    builder: &mut WriteBatchBuilder,
    precision: Precision,
    db: Option<&str>,
    now_ms: i64,
) -> IngestReport {
    let before = builder.sample_count();
    let mut report = IngestReport::default();
    let mut mapper = Mapper {
        precision,
        // An empty db label would mean "absent" anyway (Prometheus' convention).
        db: db.filter(|d| !d.is_empty()),
        now_ms,
        name: String::with_capacity(128),
    };
    let mut parser = Parser::new(body);
    while let Some(next) = parser.next_line() {
        report.lines += 1;
        match next {
            Ok(line) => mapper.add_line(&line, builder, &mut report),
            Err(err) => report.reject(err),
        }
    }
    report.samples = builder.sample_count() - before;
    report
}

/// The request's side of the mapping, and a reused buffer for metric names.
struct Mapper<'r> {
    precision: Precision,
    db: Option<&'r str>,
    now_ms: i64,
    name: String,
}

impl Mapper<'_> {
    /// Adds one line's numeric fields as one group. Everything that can reject the whole line
    /// is checked before the first sample is added, so a rejected line leaves nothing behind.
    fn add_line(
        &mut self,
        line: &Line<'_, '_>,
        builder: &mut WriteBatchBuilder,
        report: &mut IngestReport,
    ) {
        let t = match line.timestamp {
            None => self.now_ms,
            Some(ts) => match self.precision.to_millis(ts) {
                Some(t) => t,
                None => {
                    report.reject(LineError {
                        line: line.number,
                        message: format!(
                            "timestamp {ts} (in {}) is out of range for i64 milliseconds",
                            self.precision.as_str()
                        ),
                    });
                    return;
                }
            },
        };
        let numeric = line
            .fields
            .iter()
            .filter(|f| !matches!(f.value, FieldValue::String(_)))
            .count();
        if numeric > 0 {
            // A line's own `db` tag wins over the request's (VictoriaMetrics does the same).
            let db = self.db.filter(|_| !line.tags.iter().any(|t| t.key == "db"));
            let labels = line
                .tags
                .iter()
                .map(|t| (t.key.as_ref(), t.value.as_ref()))
                .chain(db.map(|d| ("db", d)));
            if let Err(err) = builder.begin_group(labels) {
                report.reject(LineError {
                    line: line.number,
                    message: label_error(err),
                });
                return;
            }
        }
        let measurement: &str = &line.measurement;
        for f in line.fields {
            let Some(v) = f.value.as_f64() else {
                report.reject(LineError {
                    line: line.number,
                    message: format!("field {:?} is a string; Cairn stores numbers only", f.key),
                });
                continue;
            };
            if f.key == "value" {
                // Telegraf's Prometheus convention: `m value=1` is the series `m`.
                builder.add(measurement, t, v);
            } else {
                self.name.clear();
                self.name.push_str(measurement);
                self.name.push('_');
                self.name.push_str(&f.key);
                builder.add(&self.name, t, v);
            }
        }
    }
}

fn label_error(err: cairn_model::Error) -> String {
    match err {
        cairn_model::Error::DuplicateLabel { name } if name == "__name__" => {
            "tag \"__name__\" is reserved for the metric name".to_string()
        }
        cairn_model::Error::DuplicateLabel { name } => format!("tag {name:?} appears twice"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod influx_test;
