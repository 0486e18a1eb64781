//! `cairn bench ingest --protocol remote-write`: turns a batch of line protocol into a
//! Prometheus remote_write 1.0 request, so that servers that take no line protocol
//! (Prometheus' `--web.enable-remote-write-receiver`) load the same file as the others.
//!
//! ```text
//!  lines ─► ingest::influx::parse_body ─► WriteBatch ─► one TimeSeries per series ─► protobuf ─► snappy
//!           (Cairn's own parser and series mapping: cpu usage_user=… → cpu_usage_user{…})
//! ```
//!
//! Going through Cairn's write path types keeps one definition of the line → series mapping:
//! what Prometheus receives is exactly what Cairn stores for the same lines.

use std::collections::HashMap;

use cairn_model::METRIC_NAME;
use cairn_model::Tenant;
use cairn_proto::prometheus::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;

use cairn_ingest::influx::{self, LineError, Precision};

/// A converted batch.
#[derive(Debug)]
pub struct Encoded {
    /// Snappy (block format) compressed `WriteRequest`.
    pub body: Vec<u8>,
    pub samples: u64,
    pub series: usize,
}

/// Why a batch could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A line Cairn's `/write` would reject (in whole or in part); line numbers count from 1
    /// within the batch.
    #[error("{0}")]
    Line(LineError),
    #[error("the converted batch does not decode: {0}")]
    Batch(#[from] cairn_model::Error),
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
}

/// A series within one decoded batch: its group's (label name, value) string ids and its
/// metric name's string id.
type SeriesKey<'a> = (&'a [(u32, u32)], u32);

/// Converts `lines` (timestamps in nanoseconds; lines without one get `now_ms`) into a
/// snappy-compressed remote_write request. Any rejected line or string field fails the batch:
/// a benchmark must not load less into one system than into another.
pub fn encode_lines(lines: &[u8], now_ms: i64) -> Result<Encoded, ConvertError> {
    let req = write_request(lines, now_ms)?;
    let samples = req
        .timeseries
        .iter()
        .map(|ts| ts.samples.len() as u64)
        .sum();
    let series = req.timeseries.len();
    let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec())?;
    Ok(Encoded {
        body,
        samples,
        series,
    })
}

/// The request for `lines`: one `TimeSeries` per distinct series, its samples in time order,
/// its labels (`__name__` included) sorted by name, as remote_write 1.0 asks.
pub fn write_request(lines: &[u8], now_ms: i64) -> Result<WriteRequest, ConvertError> {
    let (wb, report) =
        influx::parse_body(lines, Tenant::default_tenant(), Precision::Ns, None, now_ms);
    if let Some(err) = report.first_error {
        return Err(ConvertError::Line(err));
    }
    let d = wb.decode()?;
    // Strings are interned per batch, so (label ids, name id) identifies a series.
    let mut index: HashMap<SeriesKey<'_>, usize> = HashMap::new();
    let mut out: Vec<TimeSeries> = Vec::new();
    for g in &d.groups {
        for item in d.items_of(g) {
            let i = *index.entry((d.labels_of(g), item.name)).or_insert_with(|| {
                let mut labels: Vec<Label> = d
                    .labels_of(g)
                    .iter()
                    .map(|&(n, v)| Label {
                        name: d.str(n).to_string(),
                        value: d.str(v).to_string(),
                    })
                    .collect();
                // Group labels are sorted by name already; `__name__` goes where it sorts
                // (after upper-case names, before lower-case ones).
                let at = labels.partition_point(|l| l.name.as_str() < METRIC_NAME);
                labels.insert(
                    at,
                    Label {
                        name: METRIC_NAME.to_string(),
                        value: d.str(item.name).to_string(),
                    },
                );
                out.push(TimeSeries {
                    labels,
                    samples: Vec::new(),
                    exemplars: Vec::new(),
                    histograms: Vec::new(),
                });
                out.len() - 1
            });
            out[i]
                .samples
                .extend(d.samples_of(item).iter().map(|s| Sample {
                    value: s.v,
                    timestamp: s.t,
                }));
        }
    }
    for ts in &mut out {
        // Stable: two lines with the same series and timestamp keep their order (the last wins
        // in Prometheus as in Cairn).
        ts.samples.sort_by_key(|s| s.timestamp);
    }
    Ok(WriteRequest {
        timeseries: out,
        metadata: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Labels<'a> = Vec<(&'a str, &'a str)>;

    fn labels(ts: &TimeSeries) -> Labels<'_> {
        ts.labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect()
    }

    fn samples(ts: &TimeSeries) -> Vec<(i64, f64)> {
        ts.samples.iter().map(|s| (s.timestamp, s.value)).collect()
    }

    #[test]
    fn lines_become_one_series_per_field_and_tag_set() {
        // Time-major like TSBS: each series appears in several lines of the batch.
        let body = b"cpu,hostname=host_1,region=eu usage_user=1.5,usage_system=2 1000000000\n\
                     cpu,region=us,hostname=host_2 usage_user=3,usage_system=4i 1000000000\n\
                     cpu,hostname=host_1,region=eu usage_user=5,usage_system=6 2000000000\n\
                     cpu,hostname=host_2,region=us usage_user=7,usage_system=8 2000000000\n";
        let req = write_request(body, 0).unwrap();
        let mut got: Vec<(Labels<'_>, Vec<(i64, f64)>)> = req
            .timeseries
            .iter()
            .map(|ts| (labels(ts), samples(ts)))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let series =
            |name, host, region| vec![("__name__", name), ("hostname", host), ("region", region)];
        assert_eq!(
            got,
            vec![
                (
                    series("cpu_usage_system", "host_1", "eu"),
                    vec![(1000, 2.0), (2000, 6.0)]
                ),
                (
                    series("cpu_usage_system", "host_2", "us"),
                    vec![(1000, 4.0), (2000, 8.0)]
                ),
                (
                    series("cpu_usage_user", "host_1", "eu"),
                    vec![(1000, 1.5), (2000, 5.0)]
                ),
                (
                    series("cpu_usage_user", "host_2", "us"),
                    vec![(1000, 3.0), (2000, 7.0)]
                ),
            ]
        );
        assert!(req.metadata.is_empty());
    }

    #[test]
    fn labels_sort_by_name_around_the_metric_name_and_samples_by_time() {
        let body = b"m,b=2,Z=1,a=1 value=1 3000000\nm,a=1,Z=1,b=2 value=2 1000000\n";
        let req = write_request(body, 0).unwrap();
        assert_eq!(req.timeseries.len(), 1);
        let ts = &req.timeseries[0];
        assert_eq!(
            labels(ts),
            vec![("Z", "1"), ("__name__", "m"), ("a", "1"), ("b", "2")]
        );
        assert_eq!(samples(ts), vec![(1, 2.0), (3, 1.0)]);
    }

    #[test]
    fn lines_without_timestamps_take_now() {
        let req = write_request(b"up value=1\n", 42).unwrap();
        assert_eq!(samples(&req.timeseries[0]), vec![(42, 1.0)]);
    }

    #[test]
    fn rejected_lines_and_string_fields_fail_the_batch() {
        let e = write_request(b"cpu v=1 1\ncpu v= 2\n", 0).unwrap_err();
        assert!(matches!(&e, ConvertError::Line(l) if l.line == 2), "{e}");
        let e = write_request(b"cpu v=1,msg=\"x\" 1\n", 0).unwrap_err();
        assert!(e.to_string().contains("msg"), "{e}");
    }

    #[test]
    fn the_body_is_what_cairn_remote_write_decodes() {
        let body =
            b"cpu,host=a usage_user=1,usage_idle=2 1000000\ncpu,host=a usage_user=3 2000000\n";
        let enc = encode_lines(body, 0).unwrap();
        assert_eq!((enc.samples, enc.series), (3, 2));
        let raw = snap::raw::Decoder::new().decompress_vec(&enc.body).unwrap();
        let req = WriteRequest::decode(&raw[..]).unwrap();
        assert_eq!(req, write_request(body, 0).unwrap());
        // And Cairn's own receiver reads it back into the same series as `/write` would.
        let mut b = cairn_model::WriteBatchBuilder::new(Tenant::default_tenant());
        let n = cairn_ingest::remote::decode_into(&enc.body, 1 << 20, &mut b)
            .unwrap()
            .samples;
        assert_eq!(n, 3);
    }
}
