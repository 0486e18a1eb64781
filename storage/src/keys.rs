//! Key encodings of every column family, their names, and the small fixed-size values (head
//! index entries, `shard_meta` integers). Big-endian throughout, signed values with their sign
//! bit flipped, so that RocksDB's byte order is numeric (and time) order. It does no I/O, and
//! every change here is a format change: the layout is `storage/docs/format/keys.md`.

use crate::error::{Error, Result};
use cairn_model::Tier;

pub const CF_RAFT_LOG: &str = "raft_log";
pub const CF_RAFT_STATE: &str = "raft_state";
pub const CF_SERIES: &str = "series";
pub const CF_POSTINGS: &str = "postings";
pub const CF_SERIES_HASH: &str = "series_hash";
pub const CF_CHUNKS: &str = "chunks";
pub const CF_HEAD_INDEX: &str = "head_index";
pub const CF_SHARD_META: &str = "shard_meta";
pub const CF_ROLLUP_5M: &str = "rollup_5m";
pub const CF_ROLLUP_1H: &str = "rollup_1h";

/// Every column family Cairn opens, in creation order.
pub const ALL_CFS: &[&str] = &[
    CF_RAFT_LOG,
    CF_RAFT_STATE,
    CF_SERIES,
    CF_POSTINGS,
    CF_SERIES_HASH,
    CF_CHUNKS,
    CF_HEAD_INDEX,
    CF_SHARD_META,
    CF_ROLLUP_5M,
    CF_ROLLUP_1H,
];

pub const MS_PER_DAY: i64 = 86_400_000;

#[inline]
pub fn flip_i64(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

#[inline]
pub fn unflip_i64(v: u64) -> i64 {
    (v ^ (1 << 63)) as i64
}

/// Day number of a millisecond timestamp (floor, so negative times work), as a sortable u32.
#[inline]
pub fn day_of(t: i64) -> u32 {
    (t.div_euclid(MS_PER_DAY) as i32 as u32) ^ (1 << 31)
}

/// First millisecond of a sortable day number.
pub fn day_start(day: u32) -> i64 {
    ((day ^ (1 << 31)) as i32 as i64) * MS_PER_DAY
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

// ---- raft_log: group u64 | index u64 -------------------------------------------------------

pub fn log_key(group: u64, index: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&group.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

pub fn parse_log_key(k: &[u8]) -> Result<(u64, u64)> {
    if k.len() != 16 {
        return Err(corrupt("raft_log key", 0, format!("length {}", k.len())));
    }
    Ok((be_u64(&k[..8]), be_u64(&k[8..])))
}

// ---- series: shard u16 | sid u64 -----------------------------------------------------------

pub fn series_key(shard: u32, sid: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(&(shard as u16).to_be_bytes());
    k[2..].copy_from_slice(&sid.to_be_bytes());
    k
}

pub fn shard_prefix(shard: u32) -> [u8; 2] {
    (shard as u16).to_be_bytes()
}

// ---- series_hash: shard u16 | hash u128 -> sid u64 ------------------------------------------

pub fn series_hash_key(shard: u32, hash: u128) -> [u8; 18] {
    let mut k = [0u8; 18];
    k[..2].copy_from_slice(&(shard as u16).to_be_bytes());
    k[2..].copy_from_slice(&hash.to_be_bytes());
    k
}

pub fn parse_series_hash_key(k: &[u8]) -> Result<u128> {
    if k.len() != 18 {
        return Err(corrupt("series_hash key", 0, format!("length {}", k.len())));
    }
    let mut a = [0u8; 16];
    a.copy_from_slice(&k[2..]);
    Ok(u128::from_be_bytes(a))
}

// ---- postings: shard u16 | tenant (u8 len) | name (u16 len) | value (u32 len) | sid u64 ----

/// Prefix for all postings of a tenant in a shard.
pub fn postings_tenant_prefix(shard: u32, tenant: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(3 + tenant.len() + 32);
    k.extend_from_slice(&(shard as u16).to_be_bytes());
    k.push(tenant.len() as u8);
    k.extend_from_slice(tenant.as_bytes());
    k
}

/// Prefix for all postings of label `name`.
pub fn postings_name_prefix(shard: u32, tenant: &str, name: &str) -> Vec<u8> {
    let mut k = postings_tenant_prefix(shard, tenant);
    k.extend_from_slice(&(name.len() as u16).to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

/// Prefix for the postings list of `name="value"`.
pub fn postings_value_prefix(shard: u32, tenant: &str, name: &str, value: &str) -> Vec<u8> {
    let mut k = postings_name_prefix(shard, tenant, name);
    k.extend_from_slice(&(value.len() as u32).to_be_bytes());
    k.extend_from_slice(value.as_bytes());
    k
}

pub fn postings_key(shard: u32, tenant: &str, name: &str, value: &str, sid: u64) -> Vec<u8> {
    let mut k = postings_value_prefix(shard, tenant, name, value);
    k.extend_from_slice(&sid.to_be_bytes());
    k
}

/// The (name, value, sid) of a postings key, given the length of its tenant prefix.
pub fn parse_postings_key(k: &[u8], tenant_prefix_len: usize) -> Result<(&str, &str, u64)> {
    let bad = || corrupt("postings key", 0, format!("{k:?}"));
    let rest = k.get(tenant_prefix_len..).ok_or_else(bad)?;
    if rest.len() < 2 {
        return Err(bad());
    }
    let nl = u16::from_be_bytes([rest[0], rest[1]]) as usize;
    let name = rest.get(2..2 + nl).ok_or_else(bad)?;
    let rest = &rest[2 + nl..];
    if rest.len() < 4 {
        return Err(bad());
    }
    let vl = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let value = rest.get(4..4 + vl).ok_or_else(bad)?;
    let sid = rest.get(4 + vl..4 + vl + 8).ok_or_else(bad)?;
    let name = std::str::from_utf8(name).map_err(|_| bad())?;
    let value = std::str::from_utf8(value).map_err(|_| bad())?;
    Ok((name, value, be_u64(sid)))
}

/// The smallest key greater than every key with this prefix (None if the prefix is all 0xff).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut k = prefix.to_vec();
    while let Some(last) = k.last_mut() {
        if *last < 0xff {
            *last += 1;
            return Some(k);
        }
        k.pop();
    }
    None
}

// ---- chunks: shard u16 | day u32 | sid u64 | start i64 | seq u32 ------------------------------

pub const CHUNK_KEY_LEN: usize = 26;

/// `seq` is 0 for in-order chunks (a partial chunk written at a checkpoint is overwritten by the
/// full chunk under the same key); out-of-order chunks use the checkpoint sequence so that they
/// never replace another chunk.
pub fn chunk_key(shard: u32, sid: u64, start: i64, seq: u32) -> [u8; CHUNK_KEY_LEN] {
    let mut k = [0u8; CHUNK_KEY_LEN];
    k[..2].copy_from_slice(&(shard as u16).to_be_bytes());
    k[2..6].copy_from_slice(&day_of(start).to_be_bytes());
    k[6..14].copy_from_slice(&sid.to_be_bytes());
    k[14..22].copy_from_slice(&flip_i64(start).to_be_bytes());
    k[22..26].copy_from_slice(&seq.to_be_bytes());
    k
}

pub fn chunk_series_day_prefix(shard: u32, day: u32, sid: u64) -> [u8; 14] {
    let mut k = [0u8; 14];
    k[..2].copy_from_slice(&(shard as u16).to_be_bytes());
    k[2..6].copy_from_slice(&day.to_be_bytes());
    k[6..14].copy_from_slice(&sid.to_be_bytes());
    k
}

/// (sid, start, seq) of a chunk key.
pub fn parse_chunk_key(k: &[u8]) -> Result<(u64, i64, u32)> {
    if k.len() != CHUNK_KEY_LEN {
        return Err(corrupt("chunk key", 0, format!("length {}", k.len())));
    }
    let sid = be_u64(&k[6..14]);
    let start = unflip_i64(be_u64(&k[14..22]));
    let seq = u32::from_be_bytes([k[22], k[23], k[24], k[25]]);
    Ok((sid, start, seq))
}

// ---- rollup_5m / rollup_1h: shard u16 | day u32 | sid u64 | window_start i64 ----------------

pub const ROLLUP_KEY_LEN: usize = 22;

/// The column family of a rollup tier (`None` for raw samples, which live in `chunks`).
pub fn rollup_cf(tier: Tier) -> Option<&'static str> {
    match tier {
        Tier::Raw => None,
        Tier::Rollup5m => Some(CF_ROLLUP_5M),
        Tier::Rollup1h => Some(CF_ROLLUP_1H),
    }
}

/// The column family holding a tier's data (`chunks` for raw samples).
pub fn tier_cf(tier: Tier) -> &'static str {
    rollup_cf(tier).unwrap_or(CF_CHUNKS)
}

/// The width of one stored block of a rollup tier: 2 hours of 5-minute buckets, a day of
/// 1-hour buckets (24 buckets each). Both divide a day, so a block never spans two days.
pub fn rollup_window_ms(tier: Tier) -> i64 {
    match tier {
        Tier::Raw => 0,
        Tier::Rollup5m => 2 * 3_600_000,
        Tier::Rollup1h => MS_PER_DAY,
    }
}

/// Start of the window `(ws, ws + window]` of `tier` that holds time `t` (a sample's time or
/// a bucket's end).
pub fn rollup_window_of(tier: Tier, t: i64) -> i64 {
    let w = rollup_window_ms(tier);
    cairn_model::bucket_end(t, w) - w
}

/// Key of one series' block of the window starting at `ws`. Keyed by `day_of(ws)`: the window
/// `(ws, ws + window]` lies in that day's `(day, day + 1 d]`, so retention deletes whole days.
pub fn rollup_key(shard: u32, sid: u64, ws: i64) -> [u8; ROLLUP_KEY_LEN] {
    let mut k = [0u8; ROLLUP_KEY_LEN];
    k[..2].copy_from_slice(&(shard as u16).to_be_bytes());
    k[2..6].copy_from_slice(&day_of(ws).to_be_bytes());
    k[6..14].copy_from_slice(&sid.to_be_bytes());
    k[14..22].copy_from_slice(&flip_i64(ws).to_be_bytes());
    k
}

/// (sid, window start) of a rollup key.
pub fn parse_rollup_key(k: &[u8]) -> Result<(u64, i64)> {
    if k.len() != ROLLUP_KEY_LEN {
        return Err(corrupt("rollup key", 0, format!("length {}", k.len())));
    }
    Ok((be_u64(&k[6..14]), unflip_i64(be_u64(&k[14..22]))))
}

/// The first key of `shard`'s day `day` in `chunks` or a rollup family (both start
/// `shard u16 · day u32`): `[shard_day_key(s, a), shard_day_key(s, b))` is days `a..b`.
pub fn shard_day_key(shard: u32, day: u32) -> [u8; 6] {
    let mut k = [0u8; 6];
    k[..2].copy_from_slice(&(shard as u16).to_be_bytes());
    k[2..6].copy_from_slice(&day.to_be_bytes());
    k
}

// ---- head_index: shard u16 | sid u64 -> HeadIndexEntry ---------------------------------------

/// What a checkpoint records of a series' head, so a restart can reopen its open chunk and
/// keep its time bounds (for out-of-order decisions and time-range filtering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadIndexEntry {
    pub min_t: i64,
    pub max_t: i64,
    /// Start of the open (partial) in-order chunk written at the checkpoint, if any.
    pub open_chunk: Option<i64>,
}

impl HeadIndexEntry {
    pub fn encode(&self) -> [u8; 25] {
        let mut v = [0u8; 25];
        v[..8].copy_from_slice(&self.min_t.to_be_bytes());
        v[8..16].copy_from_slice(&self.max_t.to_be_bytes());
        if let Some(s) = self.open_chunk {
            v[16] = 1;
            v[17..25].copy_from_slice(&s.to_be_bytes());
        }
        v
    }

    pub fn decode(b: &[u8], shard: u32) -> Result<Self> {
        if b.len() != 25 {
            return Err(corrupt("head index", shard, format!("length {}", b.len())));
        }
        let i = |r: std::ops::Range<usize>| be_u64(&b[r]) as i64;
        Ok(HeadIndexEntry {
            min_t: i(0..8),
            max_t: i(8..16),
            open_chunk: if b[16] == 1 { Some(i(17..25)) } else { None },
        })
    }
}

// ---- shard_meta: shard u16 | kind u8 ---------------------------------------------------------

pub const META_FLUSHED_INDEX: u8 = 1;
pub const META_NEXT_SID: u8 = 2;
pub const META_CHECKPOINT_SEQ: u8 = 3;
// Kind 4 was set aside for retention and never written by any version; not reused.
/// The Raft layer's record of what the checkpoint contains (its applied log id and membership).
pub const META_APPLIED_MARKER: u8 = 5;
/// The 5-minute tier's watermark and dirty windows (`RollupMarks::encode`).
pub const META_ROLLUP_5M: u8 = 6;
/// The 1-hour tier's watermark and dirty days.
pub const META_ROLLUP_1H: u8 = 7;
/// The applied retention cut-offs of raw samples (`Cutoffs::encode`).
pub const META_CUTOFFS_RAW: u8 = 8;
pub const META_CUTOFFS_5M: u8 = 9;
pub const META_CUTOFFS_1H: u8 = 10;
/// Set while a snapshot install replaces the shard (the marker being installed): the install
/// spans several writes, so a shard found with it at open was cut off and is emptied.
pub const META_INSTALLING: u8 = 11;

/// The `shard_meta` kind of a rollup tier's marks (`None` for raw).
pub fn meta_rollup_kind(tier: Tier) -> Option<u8> {
    match tier {
        Tier::Raw => None,
        Tier::Rollup5m => Some(META_ROLLUP_5M),
        Tier::Rollup1h => Some(META_ROLLUP_1H),
    }
}

/// The `shard_meta` kind of a tier's cut-offs.
pub fn meta_cutoffs_kind(tier: Tier) -> u8 {
    match tier {
        Tier::Raw => META_CUTOFFS_RAW,
        Tier::Rollup5m => META_CUTOFFS_5M,
        Tier::Rollup1h => META_CUTOFFS_1H,
    }
}

pub fn shard_meta_key(shard: u32, kind: u8) -> [u8; 3] {
    let s = (shard as u16).to_be_bytes();
    [s[0], s[1], kind]
}

pub fn decode_u64(b: &[u8], what: &'static str, shard: u32) -> Result<u64> {
    if b.len() != 8 {
        return Err(corrupt(what, shard, format!("length {}", b.len())));
    }
    Ok(be_u64(b))
}

fn corrupt(what: &'static str, shard: u32, reason: String) -> Error {
    Error::CorruptRecord {
        what,
        shard,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys_sort_by_shard_day_series_then_time() {
        let a = chunk_key(1, 5, -10, 0);
        let b = chunk_key(1, 5, 10, 0);
        let c = chunk_key(1, 6, 10, 0);
        let d = chunk_key(1, 5, MS_PER_DAY + 1, 0);
        let e = chunk_key(2, 0, -MS_PER_DAY * 1000, 0);
        assert!(a < b && b < c && c < d && d < e);
        assert_eq!(parse_chunk_key(&b).unwrap(), (5, 10, 0));
        assert_eq!(parse_chunk_key(&a).unwrap(), (5, -10, 0));
    }

    #[test]
    fn days_floor_for_negative_times() {
        assert_eq!(day_start(day_of(-1)), -MS_PER_DAY);
        assert_eq!(day_start(day_of(0)), 0);
        assert_eq!(day_start(day_of(MS_PER_DAY * 3 + 5)), MS_PER_DAY * 3);
        assert!(day_of(-1) < day_of(0));
    }

    #[test]
    fn postings_keys_round_trip_and_group_by_value() {
        let k = postings_key(3, "acme", "host", "a,b=c", 42);
        let p = postings_tenant_prefix(3, "acme").len();
        assert_eq!(parse_postings_key(&k, p).unwrap(), ("host", "a,b=c", 42));
        assert!(k.starts_with(&postings_value_prefix(3, "acme", "host", "a,b=c")));
        // A value that is a prefix of another must not share its postings prefix.
        let k2 = postings_key(3, "acme", "host", "a,b=cd", 1);
        assert!(!k2.starts_with(&postings_value_prefix(3, "acme", "host", "a,b=c")));
    }

    #[test]
    fn prefix_successor_skips_every_extension() {
        assert_eq!(prefix_successor(&[1, 2]).unwrap(), vec![1, 3]);
        assert_eq!(prefix_successor(&[1, 0xff]).unwrap(), vec![2]);
        assert!(prefix_successor(&[0xff]).is_none());
    }

    #[test]
    fn rollup_keys_sort_by_shard_day_series_then_window() {
        let h2 = 2 * 3_600_000;
        let a = rollup_key(1, 5, 0);
        let b = rollup_key(1, 5, h2);
        let c = rollup_key(1, 6, 0);
        let d = rollup_key(1, 5, MS_PER_DAY);
        assert!(a < b && b < c && c < d);
        assert_eq!(parse_rollup_key(&b).unwrap(), (5, h2));
        assert!(a.starts_with(&chunk_series_day_prefix(1, day_of(0), 5)));
        assert!(shard_day_key(1, day_of(0)) <= a[..6].try_into().unwrap());
        assert_eq!(rollup_window_of(Tier::Rollup5m, h2), 0);
        assert_eq!(rollup_window_of(Tier::Rollup5m, h2 + 1), h2);
        assert_eq!(rollup_window_of(Tier::Rollup1h, MS_PER_DAY), 0);
        assert_eq!(rollup_window_of(Tier::Rollup1h, -1), -MS_PER_DAY);
    }

    #[test]
    fn head_index_entries_round_trip() {
        let e = HeadIndexEntry {
            min_t: -5,
            max_t: 99,
            open_chunk: Some(50),
        };
        assert_eq!(HeadIndexEntry::decode(&e.encode(), 0).unwrap(), e);
        let e = HeadIndexEntry {
            open_chunk: None,
            ..e
        };
        assert_eq!(HeadIndexEntry::decode(&e.encode(), 0).unwrap(), e);
        assert!(HeadIndexEntry::decode(&[1, 2], 0).is_err());
    }
}
