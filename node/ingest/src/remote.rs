//! Prometheus remote_write 1.0: a snappy-compressed (block format) protobuf `WriteRequest`
//! becomes write-batch groups, one per time series: the labels other than `__name__` are the
//! group, the metric name and the samples its one item. Stale markers are kept bit for bit.

use cairn_model::{METRIC_NAME, Sample, WriteBatchBuilder};
use cairn_proto::prometheus::WriteRequest;
use prost::Message;

/// What a request held besides the float samples added to the builder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Float samples added (stale markers included).
    pub samples: usize,
    /// Native-histogram samples, which Cairn does not store.
    pub histograms: usize,
    /// Series that carried native histograms.
    pub histogram_series: usize,
}

/// Decodes `body` into `builder`. Errors name the series (by position and name) or the layer
/// (snappy, protobuf) that failed; on error nothing of the request should be committed.
/// Native histograms are counted, not stored: the caller reports them as rejected.
pub fn decode_into(
    body: &[u8],
    max_decompressed: usize,
    builder: &mut WriteBatchBuilder,
) -> Result<Decoded, String> {
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
    let mut out = Decoded::default();
    for (i, ts) in req.timeseries.iter().enumerate() {
        if !ts.histograms.is_empty() {
            out.histograms += ts.histograms.len();
            out.histogram_series += 1;
        }
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
        out.samples += ts.samples.len();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::Tenant;
    use cairn_proto::prometheus::{Label, Sample as PSample, TimeSeries};

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
        let stale = f64::from_bits(cairn_model::STALE_NAN_BITS);
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
                histograms: vec![],
            }],
            metadata: vec![],
        };
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        assert_eq!(
            decode_into(&encode(&req), 1 << 20, &mut b).unwrap().samples,
            2
        );
        let wb = b.finish();
        let d = wb.decode().unwrap();
        let g = &d.groups[0];
        assert_eq!(d.str(d.items_of(g)[0].name), "up");
        assert_eq!(d.str(d.labels_of(g)[0].0), "job");
        assert_eq!(
            d.samples_of(&d.items_of(g)[0])[1].v.to_bits(),
            stale.to_bits()
        );
    }

    #[test]
    fn native_histograms_are_counted_not_stored() {
        let req = WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![label("__name__", "h")],
                    samples: vec![],
                    exemplars: vec![],
                    // Two opaque histogram messages (field contents do not matter here).
                    histograms: vec![vec![0x08, 0x01], vec![0x08, 0x02]],
                },
                TimeSeries {
                    labels: vec![label("__name__", "up")],
                    samples: vec![PSample {
                        value: 1.0,
                        timestamp: 1,
                    }],
                    exemplars: vec![],
                    histograms: vec![],
                },
            ],
            metadata: vec![],
        };
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        let d = decode_into(&encode(&req), 1 << 20, &mut b).unwrap();
        assert_eq!(
            d,
            Decoded {
                samples: 1,
                histograms: 2,
                histogram_series: 1
            }
        );
        assert_eq!(b.sample_count(), 1);
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
                histograms: vec![],
            }],
            metadata: vec![],
        };
        let e = decode_into(&encode(&req), 1 << 20, &mut b).unwrap_err();
        assert!(e.contains("timeseries 0") && e.contains("\"a\""), "{e}");
        let e = decode_into(&encode(&req), 4, &mut b).unwrap_err();
        assert!(e.contains("limit"), "{e}");
    }
}
