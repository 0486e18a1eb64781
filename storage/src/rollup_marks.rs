//! `RollupMarks`: one rollup tier's watermark and dirty windows in a shard, and the
//! `shard_meta` bytes of them and of a tier's retention cut-offs (kinds 6 to 10, `keys.md`).
//! Written at every checkpoint and read at open, so a restart plus the replay of the log after
//! the checkpoint comes back to the same marks. Bytes only; no I/O.
//!
//! ```text
//!  marks   := has_watermark u8 · watermark i64be · n u32be · window_start i64be × n
//!  cutoffs := default i64be · n u32be · (tlen u8 · tenant · cutoff i64be) × n
//! ```

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::maintenance::{TierCutoffs, TierProgress};

/// A rollup tier's progress in a shard (the mutable form of `TierProgress`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupMarks {
    /// Every window ending at or before this is stored, unless dirty.
    pub watermark: Option<i64>,
    /// Starts of windows at or below the watermark that later samples changed.
    pub dirty: BTreeSet<i64>,
}

impl RollupMarks {
    /// Whether the stored block of the window `(ws, ws + window]` is current.
    pub fn is_stored(&self, ws: i64, window: i64) -> bool {
        self.watermark.is_some_and(|w| ws + window <= w) && !self.dirty.contains(&ws)
    }

    pub fn progress(&self) -> TierProgress {
        TierProgress {
            watermark: self.watermark,
            dirty: self.dirty.iter().copied().collect(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(13 + 8 * self.dirty.len());
        v.push(self.watermark.is_some() as u8);
        v.extend_from_slice(&self.watermark.unwrap_or(0).to_be_bytes());
        v.extend_from_slice(&(self.dirty.len() as u32).to_be_bytes());
        for ws in &self.dirty {
            v.extend_from_slice(&ws.to_be_bytes());
        }
        v
    }

    pub fn decode(b: &[u8], shard: u32) -> Result<Self> {
        let bad = || corrupt("rollup marks", shard);
        if b.len() < 13 {
            return Err(bad());
        }
        let n = u32::from_be_bytes(b[9..13].try_into().map_err(|_| bad())?) as usize;
        if b.len() != 13 + 8 * n {
            return Err(bad());
        }
        Ok(RollupMarks {
            watermark: (b[0] == 1).then(|| i64_at(b, 1)),
            dirty: (0..n).map(|i| i64_at(b, 13 + 8 * i)).collect(),
        })
    }
}

pub fn encode_cutoffs(c: &TierCutoffs) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&c.default.to_be_bytes());
    v.extend_from_slice(&(c.tenants.len() as u32).to_be_bytes());
    for (t, cut) in &c.tenants {
        v.push(t.len() as u8);
        v.extend_from_slice(t.as_bytes());
        v.extend_from_slice(&cut.to_be_bytes());
    }
    v
}

pub fn decode_cutoffs(b: &[u8], shard: u32) -> Result<TierCutoffs> {
    let bad = || corrupt("retention cut-offs", shard);
    if b.len() < 12 {
        return Err(bad());
    }
    let mut c = TierCutoffs {
        default: i64_at(b, 0),
        ..Default::default()
    };
    let n = u32::from_be_bytes(b[8..12].try_into().map_err(|_| bad())?);
    let mut pos = 12;
    for _ in 0..n {
        let tl = *b.get(pos).ok_or_else(bad)? as usize;
        let t = b.get(pos + 1..pos + 1 + tl).ok_or_else(bad)?;
        let t = std::str::from_utf8(t).map_err(|_| bad())?.to_string();
        pos += 1 + tl;
        if b.len() < pos + 8 {
            return Err(bad());
        }
        c.tenants.insert(t, i64_at(b, pos));
        pos += 8;
    }
    if pos != b.len() {
        return Err(bad());
    }
    Ok(c)
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn corrupt(what: &'static str, shard: u32) -> Error {
    Error::CorruptRecord {
        what,
        shard,
        reason: "bad length".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_cutoffs_round_trip() {
        let m = RollupMarks {
            watermark: Some(-7_200_000),
            dirty: [-14_400_000, 0].into_iter().collect(),
        };
        assert_eq!(RollupMarks::decode(&m.encode(), 0).unwrap(), m);
        let m = RollupMarks::default();
        assert_eq!(RollupMarks::decode(&m.encode(), 0).unwrap(), m);
        assert!(RollupMarks::decode(&[1, 2], 0).is_err());
        let mut c = TierCutoffs {
            default: 86_400_000,
            ..Default::default()
        };
        c.tenants.insert("acme".into(), 0);
        c.tenants.insert("b".into(), 5 * 86_400_000);
        assert_eq!(decode_cutoffs(&encode_cutoffs(&c), 0).unwrap(), c);
        let bytes = encode_cutoffs(&c);
        assert!(decode_cutoffs(&bytes[..bytes.len() - 1], 0).is_err());
    }
}
