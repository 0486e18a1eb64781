//! Series identity: the canonical hashes of a series and of its label set.
//!
//! * `series_hash` (128-bit xxh3) identifies a series within a shard. It is two-level so that
//!   the fields of one line-protocol point hash their shared tags once: `group_hash` covers
//!   `tenant` and the labels other than `__name__` sorted by name, and the series hash covers
//!   the group hash and the metric name. 128 bits make a collision
//!   (two series sharing an id) negligible at any realistic cardinality (~1e-20 at 1e9 series),
//!   so the write path never needs the labels in memory to confirm a match.
//! * `label_set_hash` (64-bit) routes a series to one of its tenant's shards. It leaves the
//!   metric name out on purpose: all fields of one line-protocol point (one host's `cpu_*`)
//!   share a shard, so one line becomes one log entry, and one target's series stay together.
//!
//! These hashes are on disk (the `series_hash` column family) and decide shard routing:
//! changing them moves every series.

use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use crate::labels::{Labels, METRIC_NAME};

/// The 128-bit hash of a tenant and a label set without `__name__` (sorted by name), built
/// from a canonical byte string in `buf`.
pub fn group_hash<'a>(
    buf: &mut Vec<u8>,
    tenant: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> u128 {
    buf.clear();
    push_str(buf, tenant);
    for (n, v) in labels {
        push_str(buf, n);
        push_str(buf, v);
    }
    xxh3_128(buf)
}

/// The series hash from its group hash and metric name.
pub fn series_hash_in_group(buf: &mut Vec<u8>, group: u128, name: &str) -> u128 {
    buf.clear();
    buf.extend_from_slice(&group.to_le_bytes());
    push_str(buf, name);
    xxh3_128(buf)
}

/// The 128-bit hash identifying a series. `labels` must be sorted by name and must not
/// contain `__name__`.
pub fn series_hash<'a>(
    buf: &mut Vec<u8>,
    tenant: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    name: &str,
) -> u128 {
    let g = group_hash(buf, tenant, labels);
    series_hash_in_group(buf, g, name)
}

/// 64-bit hash of a label set without its metric name, sorted by name; routes it to a shard.
pub fn label_set_hash<'a>(
    buf: &mut Vec<u8>,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> u64 {
    buf.clear();
    for (n, v) in labels {
        push_str(buf, n);
        push_str(buf, v);
    }
    xxh3_64(buf)
}

/// Hashes a full label set (as stored) the same way the write path does.
pub fn series_hash_of(tenant: &str, labels: &Labels) -> u128 {
    let mut buf = Vec::new();
    series_hash(
        &mut buf,
        tenant,
        labels
            .iter()
            .filter(|l| l.name != METRIC_NAME)
            .map(|l| (l.name.as_str(), l.value.as_str())),
        labels.metric_name(),
    )
}

fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// Merges the group labels (sorted, no `__name__`) with the metric name into one sorted list.
pub fn with_metric_name<'a>(
    labels: &[(&'a str, &'a str)],
    name: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::with_capacity(labels.len() + 1);
    let mut placed = name.is_empty();
    for &(n, v) in labels {
        if !placed && n > METRIC_NAME {
            out.push((METRIC_NAME, name));
            placed = true;
        }
        out.push((n, v));
    }
    if !placed {
        out.push((METRIC_NAME, name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_hash_matches_between_write_path_and_labels() {
        let labels =
            Labels::from_pairs([("__name__", "cpu"), ("host", "a"), ("Zone", "z")]).unwrap();
        let mut buf = Vec::new();
        let h = series_hash(&mut buf, "t", [("Zone", "z"), ("host", "a")], "cpu");
        assert_eq!(h, series_hash_of("t", &labels));
        assert_ne!(
            h,
            series_hash(&mut buf, "u", [("Zone", "z"), ("host", "a")], "cpu")
        );
        assert_ne!(
            h,
            series_hash(&mut buf, "t", [("Zone", "z"), ("host", "a")], "cpu2")
        );
        // Length prefixes keep "ab"+"c" apart from "a"+"bc".
        assert_ne!(
            series_hash(&mut buf, "t", [("ab", "c")], "m"),
            series_hash(&mut buf, "t", [("a", "bc")], "m")
        );
    }

    #[test]
    fn the_metric_name_is_merged_in_label_order() {
        let pairs = with_metric_name(&[("Zone", "z"), ("host", "a")], "cpu");
        assert_eq!(pairs, [("Zone", "z"), ("__name__", "cpu"), ("host", "a")]);
        assert_eq!(with_metric_name(&[("a", "1")], ""), [("a", "1")]);
        assert_eq!(
            with_metric_name(&[("a", "1")], "m"),
            [("__name__", "m"), ("a", "1")]
        );
    }

    /// The hashes are on disk and route series to shards: pin their values.
    #[test]
    fn hash_values_are_pinned() {
        let mut buf = Vec::new();
        assert_eq!(
            label_set_hash(&mut buf, [("host", "a"), ("region", "eu")]),
            PINNED_LABEL_SET
        );
        assert_eq!(
            series_hash(&mut buf, "default", [("host", "a")], "cpu_usage_user"),
            PINNED_SERIES
        );
    }

    const PINNED_LABEL_SET: u64 = 5_745_983_850_899_802_779;
    const PINNED_SERIES: u128 = 102_124_489_971_656_268_927_175_558_724_211_519_674;
}
