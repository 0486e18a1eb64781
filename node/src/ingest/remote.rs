//! Prometheus remote_write 1.0: a snappy-compressed (block format) protobuf `WriteRequest`
//! becomes write-batch groups, one per time series: the labels other than `__name__` are the
//! group, the metric name and the samples its one item. Stale markers are kept bit for bit.

use cairn_proto::prometheus::WriteRequest;
use cairn_storage::model::METRIC_NAME;
use cairn_storage::{Sample, WriteBatchBuilder};
use prost::Message;

/// Decodes `body` into `builder`. Errors name the series (by position and name) or the layer
/// (snappy, protobuf) that failed; on error nothing of the request should be committed.
pub fn decode_into(
    body: &[u8],
    max_decompressed: usize,
    builder: &mut WriteBatchBuilder,
) -> Result<usize, String> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| format!("body is not snappy-compressed (block format): {e}"))?;
    if len > max_decompressed {
        return Err(format!(
            "decompressed body of {len} bytes exceeds the limit of {max_decompressed} bytes"
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("body is not valid snappy: {e}"))?;
    let req = WriteRequest::decode(&raw[..])
        .map_err(|e| format!("body is not a remote_write WriteRequest: {e}"))?;
    let mut samples = 0usize;
    for (i, ts) in req.timeseries.iter().enumerate() {
        if ts.samples.is_empty() {
            continue;
        }
        let name = ts
            .labels
            .iter()
            .find(|l| l.name == METRIC_NAME)
            .map(|l| l.value.as_str())
            .unwrap_or("");
        let names = ts.labels.iter().filter(|l| l.name == METRIC_NAME).count();
        if names > 1 {
            return Err(format!(
                "timeseries {i}: label __name__ appears {names} times"
            ));
        }
        builder
            .begin_group(
                ts.labels
                    .iter()
                    .filter(|l| l.name != METRIC_NAME)
                    .map(|l| (l.name.as_str(), l.value.as_str())),
            )
            .map_err(|e| format!("timeseries {i} ({name}): {e}"))?;
        builder.add_series(
            name,
            ts.samples.iter().map(|s| Sample::new(s.timestamp, s.value)),
        );
        samples += ts.samples.len();
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_proto::prometheus::{Label, Sample as PSample, TimeSeries};
    use cairn_storage::Tenant;

    fn encode(req: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap()
    }

    fn label(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn series_become_groups_and_stale_markers_survive() {
        let stale = f64::from_bits(cairn_storage::model::STALE_NAN_BITS);
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("__name__", "up"), label("job", "prom")],
                samples: vec![
                    PSample {
                        value: 1.0,
                        timestamp: 10,
                    },
                    PSample {
                        value: stale,
                        timestamp: 20,
                    },
                ],
                exemplars: vec![],
            }],
            metadata: vec![],
        };
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        assert_eq!(decode_into(&encode(&req), 1 << 20, &mut b).unwrap(), 2);
        let wb = b.finish();
        let d = wb.decode().unwrap();
        let g = &d.groups[0];
        assert_eq!(d.str(g.items[0].name), "up");
        assert_eq!(d.str(g.labels[0].0), "job");
        assert_eq!(d.samples_of(&g.items[0])[1].v.to_bits(), stale.to_bits());
    }

    #[test]
    fn garbage_and_bad_series_are_named() {
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        let e = decode_into(b"not snappy at all", 1 << 20, &mut b).unwrap_err();
        assert!(e.contains("snappy") || e.contains("WriteRequest"), "{e}");
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("__name__", "up"), label("a", "1"), label("a", "2")],
                samples: vec![PSample {
                    value: 1.0,
                    timestamp: 1,
                }],
                exemplars: vec![],
            }],
            metadata: vec![],
        };
        let e = decode_into(&encode(&req), 1 << 20, &mut b).unwrap_err();
        assert!(e.contains("timeseries 0") && e.contains("\"a\""), "{e}");
        let e = decode_into(&encode(&req), 4, &mut b).unwrap_err();
        assert!(e.contains("limit"), "{e}");
    }
}
