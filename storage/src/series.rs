//! Series identity: the canonical hashes of a series and of its label set, and the encoding
//! of the `series` column family's records.
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

use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use crate::error::{Error, Result};
use crate::model::{Label, Labels, METRIC_NAME};

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

/// `series` CF value: `tenant_len:u8 tenant n:u16 (name_len:u16 name value_len:u32 value)*`,
/// labels sorted by name with `__name__` among them.
pub fn encode_series_record<'a>(
    tenant: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(tenant.len() as u8);
    out.extend_from_slice(tenant.as_bytes());
    let n_at = out.len();
    out.extend_from_slice(&[0, 0]);
    let mut n = 0u16;
    for (name, value) in labels {
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
        n += 1;
    }
    out[n_at..n_at + 2].copy_from_slice(&n.to_be_bytes());
    out
}

/// Decodes a `series` record into (tenant, labels).
pub fn decode_series_record(b: &[u8], shard: u32) -> Result<(String, Labels)> {
    let bad = |r: &str| Error::CorruptRecord {
        what: "series",
        shard,
        reason: r.to_string(),
    };
    let mut pos = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let s = b.get(pos..pos + n).ok_or_else(|| bad("truncated"))?;
        pos += n;
        Ok(s)
    };
    let tl = take(1)?[0] as usize;
    let tenant = String::from_utf8(take(tl)?.to_vec()).map_err(|_| bad("tenant not UTF-8"))?;
    let nb = take(2)?;
    let n = u16::from_be_bytes([nb[0], nb[1]]) as usize;
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let l = take(2)?;
        let nl = u16::from_be_bytes([l[0], l[1]]) as usize;
        let name = String::from_utf8(take(nl)?.to_vec()).map_err(|_| bad("name not UTF-8"))?;
        let l = take(4)?;
        let vl = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
        let value = String::from_utf8(take(vl)?.to_vec()).map_err(|_| bad("value not UTF-8"))?;
        labels.push(Label { name, value });
    }
    Ok((tenant, Labels::from_sorted_unchecked(labels)))
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
    fn series_records_round_trip() {
        let pairs = with_metric_name(&[("Zone", "z"), ("host", "ä,b c")], "cpu");
        assert_eq!(
            pairs,
            [("Zone", "z"), ("__name__", "cpu"), ("host", "ä,b c")]
        );
        let rec = encode_series_record("acme", pairs.iter().copied());
        let (tenant, labels) = decode_series_record(&rec, 0).unwrap();
        assert_eq!(tenant, "acme");
        assert_eq!(labels.metric_name(), "cpu");
        assert_eq!(labels.get("host"), "ä,b c");
        assert_eq!(labels.len(), 3);
        for cut in 0..rec.len() {
            assert!(decode_series_record(&rec[..cut], 0).is_err());
        }
    }
}
