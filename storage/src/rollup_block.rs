//! The value of one key in `rollup_5m` / `rollup_1h`: the non-empty buckets of one series in one
//! window, stored column by column with the chunk codecs. Bytes only (no keys, no I/O); the
//! layout and why it is columnar are in `storage/docs/format/rollups.md`.
//!
//! ```text
//!  &[Bucket] ──► encode_block ──► version · n · slots · counts · stale · 8 float columns
//!                                                  (each an encode_chunk chunk: decimal | gorilla)
//!  bytes + window start + width ──► decode_block ──► &mut Vec<Bucket> (bit for bit)
//! ```
//! Exact: every float goes through `encode_chunk`, whose codecs refuse what they cannot store
//! bit for bit (Gorilla stores any f64, NaN payloads and -0.0 included), so a stored bucket
//! equals the bucket the rollup job built, and equals what a query computes from raw samples.

use cairn_model::{Bucket, Sample};

use crate::codec::{decode_chunk, encode_chunk, get_uvarint, put_uvarint};
use crate::error::{Error, Result};

/// First byte of every block written now. Version 1 stored `sum` and `reset_sum` as they are;
/// version 2 (read alongside) stores each as the nearest short decimal plus a correction in
/// units in the last place (see `split_near_decimal`).
const BLOCK_VERSION: u8 = 2;

/// Columns stored as a short decimal and an ulp correction (version 2): `sum`, `reset_sum`.
const CORRECTED: [usize; 2] = [2, 7];

/// The correction of a value that is a near-decimal is at most this many ulps.
const MAX_ULPS: u64 = 256;

/// `x` as `(d, c)`: `d` the decimal with the fewest digits after the point (up to 9) within
/// `MAX_ULPS` of `x`, and `c` the distance in ulps (`x`'s bits minus `d`'s, as integers), or
/// `(x, 0)` when there is none. Why: a bucket's `sum` of two-decimal samples is, in floats,
/// rarely the double nearest to its exact decimal (0.1 + 0.2 is not 0.3), so the decimal codec
/// refused the whole column and it fell to Gorilla at ~8 bytes a value; `d` goes through the
/// decimal codec and `c` is a byte or nothing. Exact: `x == from_bits(bits(d) + c)`.
fn split_near_decimal(x: f64) -> (f64, i64) {
    if !x.is_finite() || x == 0.0 {
        return (x, 0);
    }
    let mut p = 1.0f64;
    for _ in 0..=9 {
        let d = (x * p).round() / p;
        let c = (x.to_bits() as i64).wrapping_sub(d.to_bits() as i64);
        if d.is_finite()
            && d != 0.0
            && d.is_sign_negative() == x.is_sign_negative()
            && c.unsigned_abs() <= MAX_ULPS
        {
            return (d, c);
        }
        p *= 10.0;
    }
    (x, 0)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends the block of `buckets` (non-empty buckets, ascending ends, each a multiple of
/// `width` in `(ws, ws + width * slots]`) to `out`.
pub fn encode_block(ws: i64, width: i64, buckets: &[Bucket], out: &mut Vec<u8>) -> Result<()> {
    let unsupported = |reason| Error::CodecUnsupported {
        codec: "rollup block",
        reason,
    };
    out.push(BLOCK_VERSION);
    put_uvarint(out, buckets.len() as u64);
    let mut prev = -1i64;
    for b in buckets {
        let off = b.end - ws;
        if off <= 0 || off % width != 0 || b.is_empty() {
            return Err(unsupported(
                "a bucket end off the window's grid, or an empty bucket",
            ));
        }
        let slot = off / width - 1;
        if slot <= prev {
            return Err(unsupported("bucket ends not ascending"));
        }
        // The first delta is the slot itself (prev starts at -1).
        put_uvarint(out, (slot - prev - 1) as u64);
        prev = slot;
    }
    for b in buckets {
        put_uvarint(out, b.count);
    }
    let mut bitmap = vec![0u8; buckets.len().div_ceil(8)];
    for (i, b) in buckets.iter().enumerate() {
        if b.stale_t.is_some() {
            bitmap[i / 8] |= 1 << (i % 8);
        }
    }
    out.extend_from_slice(&bitmap);
    for b in buckets {
        if let Some(st) = b.stale_t {
            // A stale marker is inside its bucket: `end - width < st <= end`.
            let back = b.end - st;
            if !(0..width).contains(&back) {
                return Err(unsupported("stale marker outside its bucket"));
            }
            put_uvarint(out, back as u64);
        }
    }
    // Buckets with only a stale marker hold no sample: their other fields are those of
    // `Bucket::empty`, so only buckets with samples have columns.
    let full: Vec<&Bucket> = buckets.iter().filter(|b| b.count > 0).collect();
    if full.is_empty() {
        return Ok(());
    }
    for b in &full {
        let ok = |t: i64| (0..width).contains(&(b.end - t));
        if !ok(b.first_t) || !ok(b.last_t) {
            return Err(unsupported("first or last sample outside its bucket"));
        }
    }
    // The times go in as the distance back from the bucket's end (below the width, so exact
    // as f64): regular scrapes make them nearly constant, which the decimal codec's deltas
    // store in a few bits each.
    let columns: [fn(&Bucket) -> f64; 8] = [
        |b| (b.end - b.first_t) as f64,
        |b| (b.end - b.last_t) as f64,
        |b| b.sum,
        |b| b.min,
        |b| b.max,
        |b| b.first_v,
        |b| b.last_v,
        |b| b.reset_sum,
    ];
    let mut col = Vec::with_capacity(full.len());
    let mut chunk = Vec::new();
    let mut corrections: Vec<Vec<i64>> = Vec::new();
    for (c, f) in columns.into_iter().enumerate() {
        col.clear();
        // Synthetic timestamps 0, 1, 2, …: one bit each in either codec's time stream.
        if CORRECTED.contains(&c) {
            let mut fix = Vec::with_capacity(full.len());
            col.extend(full.iter().enumerate().map(|(i, b)| {
                let (d, ulps) = split_near_decimal(f(b));
                fix.push(ulps);
                Sample::new(i as i64, d)
            }));
            corrections.push(fix);
        } else {
            col.extend(
                full.iter()
                    .enumerate()
                    .map(|(i, b)| Sample::new(i as i64, f(b))),
            );
        }
        chunk.clear();
        encode_chunk(&col, &mut chunk)?;
        put_uvarint(out, chunk.len() as u64);
        out.extend_from_slice(&chunk);
    }
    // Each correction column: a bitmap of the non-zero ones, then those, zigzag varints.
    for fix in &corrections {
        let mut bitmap = vec![0u8; fix.len().div_ceil(8)];
        for (i, &c) in fix.iter().enumerate() {
            if c != 0 {
                bitmap[i / 8] |= 1 << (i % 8);
            }
        }
        out.extend_from_slice(&bitmap);
        for &c in fix.iter().filter(|&&c| c != 0) {
            put_uvarint(out, zigzag(c));
        }
    }
    Ok(())
}

/// Decodes a block of the window starting at `ws` with buckets `width` wide and at most
/// `slots` of them, appending its buckets to `out` (unchanged on error).
pub fn decode_block(
    bytes: &[u8],
    ws: i64,
    width: i64,
    slots: u64,
    out: &mut Vec<Bucket>,
) -> Result<()> {
    let start = out.len();
    let r = decode_into(bytes, ws, width, slots, out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn decode_into(bytes: &[u8], ws: i64, width: i64, slots: u64, out: &mut Vec<Bucket>) -> Result<()> {
    let bad = |reason: &str| Error::CorruptRecord {
        what: "rollup block",
        shard: 0,
        reason: reason.to_string(),
    };
    let version = match bytes.first() {
        Some(&v @ (1 | 2)) => v,
        _ => return Err(bad("unknown version")),
    };
    let mut pos = 1;
    let n = get_uvarint(bytes, &mut pos)?;
    if n == 0 || n > slots {
        return Err(bad("bucket count out of range"));
    }
    let n = n as usize;
    let first = out.len();
    let mut slot = -1i64;
    for _ in 0..n {
        let d = get_uvarint(bytes, &mut pos)?;
        slot = slot
            .checked_add(d as i64 + 1)
            .filter(|s| (*s as u64) < slots && d < slots)
            .ok_or_else(|| bad("slot out of range"))?;
        out.push(Bucket::empty(ws + (slot + 1) * width));
    }
    for b in &mut out[first..] {
        b.count = get_uvarint(bytes, &mut pos)?;
    }
    let bitmap = bytes
        .get(pos..pos + n.div_ceil(8))
        .ok_or_else(|| bad("truncated stale bitmap"))?
        .to_vec();
    pos += n.div_ceil(8);
    for (i, b) in out[first..].iter_mut().enumerate() {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            let back = get_uvarint(bytes, &mut pos)?;
            if back >= width as u64 {
                return Err(bad("stale marker outside its bucket"));
            }
            b.stale_t = Some(b.end - back as i64);
        }
    }
    if out[first..].iter().any(|b| b.is_empty()) {
        return Err(bad("an empty bucket"));
    }
    let full: Vec<usize> = (first..out.len()).filter(|&i| out[i].count > 0).collect();
    if full.is_empty() {
        return if pos == bytes.len() {
            Ok(())
        } else {
            Err(bad("trailing bytes"))
        };
    }
    let mut col = Vec::with_capacity(full.len());
    for c in 0..8 {
        let len = get_uvarint(bytes, &mut pos)? as usize;
        let chunk = bytes
            .get(pos..pos.saturating_add(len))
            .ok_or_else(|| bad("truncated column"))?;
        pos += len;
        col.clear();
        decode_chunk(chunk, 0, &mut col)?;
        if col.len() != full.len() || col.iter().enumerate().any(|(i, s)| s.t != i as i64) {
            return Err(bad("a column of the wrong length"));
        }
        for (&i, s) in full.iter().zip(&col) {
            let b = &mut out[i];
            let back = |v: f64| -> Result<i64> {
                if v.fract() == 0.0 && v >= 0.0 && v < width as f64 {
                    Ok(b.end - v as i64)
                } else {
                    Err(bad("a sample time outside its bucket"))
                }
            };
            match c {
                0 => b.first_t = back(s.v)?,
                1 => b.last_t = back(s.v)?,
                2 => b.sum = s.v,
                3 => b.min = s.v,
                4 => b.max = s.v,
                5 => b.first_v = s.v,
                6 => b.last_v = s.v,
                _ => b.reset_sum = s.v,
            }
        }
    }
    if version >= 2 {
        for c in CORRECTED {
            let bitmap = bytes
                .get(pos..pos + full.len().div_ceil(8))
                .ok_or_else(|| bad("truncated correction bitmap"))?
                .to_vec();
            pos += full.len().div_ceil(8);
            for (k, &i) in full.iter().enumerate() {
                if bitmap[k / 8] & (1 << (k % 8)) == 0 {
                    continue;
                }
                let fix = unzigzag(get_uvarint(bytes, &mut pos)?);
                let b = &mut out[i];
                let v = if c == 2 { &mut b.sum } else { &mut b.reset_sum };
                *v = f64::from_bits((v.to_bits() as i64).wrapping_add(fix) as u64);
            }
        }
    }
    if pos != bytes.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::{STALE_NAN_BITS, buckets_of_samples};

    const W: i64 = 300_000;

    fn same(a: &[Bucket], b: &[Bucket]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            // Bitwise, so NaN fields compare too.
            assert_eq!(format!("{x:?}"), format!("{y:?}"));
            for (p, q) in [
                (x.sum, y.sum),
                (x.min, y.min),
                (x.max, y.max),
                (x.first_v, y.first_v),
                (x.last_v, y.last_v),
                (x.reset_sum, y.reset_sum),
            ] {
                assert_eq!(p.to_bits(), q.to_bits());
            }
        }
    }

    fn round_trip(ws: i64, buckets: &[Bucket]) -> usize {
        let mut bytes = Vec::new();
        encode_block(ws, W, buckets, &mut bytes).unwrap();
        let mut back = Vec::new();
        decode_block(&bytes, ws, W, 24, &mut back).unwrap();
        same(buckets, &back);
        bytes.len()
    }

    #[test]
    fn blocks_round_trip_bit_for_bit() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let ws = 7 * 7_200_000;
        let t = |m: i64| ws + m * 1_000;
        let samples = vec![
            Sample::new(t(1), 1.5),
            Sample::new(t(15), f64::NAN),
            Sample::new(t(30), f64::INFINITY),
            Sample::new(t(301), -0.0),
            Sample::new(t(310), f64::NEG_INFINITY),
            Sample::new(t(320), stale),
            Sample::new(t(900), stale),
            Sample::new(t(1500), 10.0),
            Sample::new(t(1510), 3.0),
            Sample::new(t(1520), 1e300),
            Sample::new(t(7200), 42.0),
        ];
        let mut buckets = Vec::new();
        buckets_of_samples(W, &samples, ws, ws + 7_200_000, &mut buckets);
        assert!(buckets.iter().any(|b| b.count == 0 && b.stale_t.is_some()));
        assert!(buckets.iter().any(|b| b.count > 0 && b.stale_t.is_some()));
        assert_eq!(buckets.last().unwrap().end, ws + 7_200_000);
        round_trip(ws, &buckets);
        // Only stale markers: no float columns at all.
        let only_stale: Vec<Bucket> = buckets.iter().filter(|b| b.count == 0).copied().collect();
        round_trip(ws, &only_stale);
    }

    #[test]
    fn sums_of_decimals_split_into_a_decimal_and_a_few_ulps_exactly() {
        for x in [
            0.1 + 0.2,
            12.34 + 56.78 + 90.12,
            -(0.7 + 0.1),
            1e300,
            f64::MIN_POSITIVE,
            5e-324,
            123_456_789.123,
            f64::NAN,
            f64::INFINITY,
            -0.0,
        ] {
            let (d, c) = split_near_decimal(x);
            let back = f64::from_bits((d.to_bits() as i64).wrapping_add(c) as u64);
            assert_eq!(back.to_bits(), x.to_bits(), "{x:e}");
        }
        assert_eq!(split_near_decimal(0.1 + 0.2), (0.3, 1));
        assert_eq!(split_near_decimal(2.5), (2.5, 0));
        for v in [0i64, 1, -1, 256, -256, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn a_version_1_block_still_decodes() {
        // Version 1 had no correction columns: the same bytes up to them.
        let samples: Vec<Sample> = (1..=30)
            .map(|i| Sample::new(i * 10_000, 20.0 + (i % 7) as f64 * 0.25))
            .collect();
        let mut buckets = Vec::new();
        buckets_of_samples(W, &samples, 0, 7_200_000, &mut buckets);
        // Every sum here is exact (quarters), so no correction: drop the two empty bitmaps.
        let mut bytes = Vec::new();
        encode_block(0, W, &buckets, &mut bytes).unwrap();
        let n = buckets.len().div_ceil(8);
        bytes.truncate(bytes.len() - 2 * n);
        bytes[0] = 1;
        let mut back = Vec::new();
        decode_block(&bytes, 0, W, 24, &mut back).unwrap();
        same(&buckets, &back);
    }

    #[test]
    fn regular_gauges_are_small() {
        let ws = 0;
        let samples: Vec<Sample> = (1..=720)
            .map(|i| Sample::new(i * 10_000, (i % 17) as f64 * 0.25))
            .collect();
        let mut buckets = Vec::new();
        buckets_of_samples(W, &samples, ws, 7_200_000, &mut buckets);
        assert_eq!(buckets.len(), 24);
        let len = round_trip(ws, &buckets);
        // 24 buckets × 11 fields × 8 bytes would be 2,112 bytes as they are.
        assert!(len < 700, "{len} bytes");
    }

    #[test]
    fn sums_of_two_decimal_gauges_take_the_decimal_codec() {
        // A TSBS-like gauge: a random walk with two decimals, every 10 s, whose bucket sums
        // are almost never the double nearest their decimal.
        let mut v = 50.0f64;
        let mut x = 7u64;
        let samples: Vec<Sample> = (1..=720)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let step = ((x >> 33) % 201) as f64 / 100.0 - 1.0;
                v = ((v + step) * 100.0).round() / 100.0;
                Sample::new(i * 10_000, v)
            })
            .collect();
        let mut buckets = Vec::new();
        buckets_of_samples(W, &samples, 0, 7_200_000, &mut buckets);
        let inexact = buckets
            .iter()
            .filter(|b| split_near_decimal(b.sum).1 != 0)
            .count();
        assert!(
            inexact > 0,
            "the data should have float sums off their decimal"
        );
        let len = round_trip(0, &buckets);
        // Version 1 stored these sums with Gorilla: 24 × ~8 bytes for that column alone.
        eprintln!("24 buckets of a two-decimal random walk: {len} bytes");
        assert!(len < 600, "{len} bytes");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let samples: Vec<Sample> = (1..=50)
            .map(|i| Sample::new(i * 60_000, i as f64))
            .collect();
        let mut buckets = Vec::new();
        buckets_of_samples(W, &samples, 0, 7_200_000, &mut buckets);
        let mut bytes = Vec::new();
        encode_block(0, W, &buckets, &mut bytes).unwrap();
        let mut out = Vec::new();
        for cut in 0..bytes.len() {
            assert!(decode_block(&bytes[..cut], 0, W, 24, &mut out).is_err());
            assert!(out.is_empty());
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            let _ = decode_block(&b, 0, W, 24, &mut out);
            out.clear();
        }
        assert!(decode_block(&bytes, 0, W, 3, &mut out).is_err());
        assert!(encode_block(1, W, &buckets, &mut Vec::new()).is_err());
    }
}
