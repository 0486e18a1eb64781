//! The `series` column family's records: a series' tenant and full label set, written when
//! apply creates the series and read back by `select`. Series *identity* (the hashes) lives
//! in `cairn_model::series_hash`. It encodes and decodes bytes only (no I/O); the layout is
//! in `storage/docs/format/keys.md`.

use cairn_model::{Label, Labels};

use crate::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::series_hash::with_metric_name;

    #[test]
    fn series_records_round_trip() {
        let pairs = with_metric_name(&[("Zone", "z"), ("host", "ä,b c")], "cpu");
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
