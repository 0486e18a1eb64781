//! `StreamCodec` (id 3): the decimal codec's scaled integers in a form that grows one sample at
//! a time, so that the open head chunk can hold it ([`OpenStream`]). A head chunk of 2-decimal
//! gauges then costs ~1.35 bytes per sample instead of Gorilla's ~7, and sealing it is a copy
//! instead of a Gorilla decode and a decimal encode.
//!
//! Nothing about the chunk's later samples is known when its first is written, so instead of
//! choosing codings over the whole chunk (as `DecimalCodec` does), everything adapts as it goes:
//!
//! ```text
//!  desc u8: scale (bits 0-3) | k0 (bits 4-7)        k0: the Rice parameter to start with
//!  m0: zigzag uvarint                                the first value at that scale
//!  bits, per later sample i:
//!    time:  delta-of-delta (Δ before the first delta is 0), zigzagged:
//!           '0' = 0 | '10' 7 bits | '110' 12 bits | '1110' 20 bits | '1111' 32 bits
//!    value: zigzag(m[i] - m[i-1]) in Rice(k), escaped as in DecimalCodec; then k is set
//!           from the mean of the recent residuals (see `Adapt`), in encoder and decoder alike
//!  zero-padded to a byte
//! ```
//!
//! It is larger than `DecimalCodec`'s choice for the same samples (a bit per sample for
//! regular times, and k cannot be chosen with hindsight), so it is a transitional format: the
//! checkpoint's window merge re-encodes a window's chunks with `encode_chunk`, and a window
//! of one stream chunk is re-encoded too (`compaction.rs`). Like every codec it knows no keys,
//! series or RocksDB, and its decoder never panics on garbage.

use super::decimal::seq_code::{ESCAPE, read_rice, write_rice};
use cairn_model::decimal::{MAX_ABS_INT, MAX_SCALE, POW10, POW10_I64, scale_to_ints, to_int};

use super::{
    BitReader, BitSink, ChunkCodec, MAX_CHUNK_SPAN_MS, check_samples, corrupt, get_uvarint,
    put_uvarint, unzigzag, zigzag,
};
use crate::error::{Error, Result};
use cairn_model::Sample;

/// Appendable scaled-integer compression; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamCodec;

impl StreamCodec {
    pub const ID: u8 = 3;
    pub const NAME: &'static str = "decimal-stream";
}

/// The largest k0 the descriptor holds.
const MAX_K0: u32 = 15;

impl ChunkCodec for StreamCodec {
    fn id(&self) -> u8 {
        Self::ID
    }

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn encode(&self, samples: &[Sample], out: &mut Vec<u8>) -> Result<()> {
        check_samples(Self::NAME, samples)?;
        let open = OpenStream::from_samples(samples, 0).ok_or(Error::CodecUnsupported {
            codec: Self::NAME,
            reason: "a value is not a decimal with at most 15 digits after the point",
        })?;
        out.extend_from_slice(open.bytes());
        Ok(())
    }

    fn decode(
        &self,
        base_t: i64,
        count: usize,
        payload: &[u8],
        out: &mut Vec<Sample>,
    ) -> Result<()> {
        decode_stream_payload(base_t, count, payload, out)
    }
}

/// The adaptive Rice parameter: k = floor(log2(mean)) of the recent zigzagged residuals,
/// the mean kept as a sum and a count that are halved every 32 samples (so about the last
/// 32-64 residuals count).
#[derive(Debug, Clone, Copy)]
struct Adapt {
    sum: u64,
    /// 4 to 64 (narrow: every open head chunk holds one `Adapt`).
    cnt: u8,
    /// `floor(log2(sum / cnt))` (0 when the mean is 0), at most 56; kept up to date by
    /// `update` so that coding a residual needs no division.
    k: u8,
}

impl Adapt {
    fn new(k0: u32) -> Self {
        // Four residuals of 1.5 * 2^k0: the first real ones soon outweigh the guess.
        let mut a = Adapt {
            sum: 6 << k0,
            cnt: 4,
            k: 0,
        };
        a.k = a.compute_k();
        a
    }

    #[inline]
    fn k(&self) -> u32 {
        u32::from(self.k)
    }

    /// The largest k with `cnt * 2^k <= sum`, which is `floor(log2(floor(sum / cnt)))`.
    #[inline]
    fn compute_k(&self) -> u8 {
        let bits = |x: u64| 64 - x.leading_zeros();
        let cnt = u64::from(self.cnt);
        if self.sum < cnt {
            return 0;
        }
        let mut k = bits(self.sum) - bits(cnt);
        if u128::from(cnt) << k > u128::from(self.sum) {
            k -= 1;
        }
        k.min(56) as u8
    }

    #[inline]
    fn update(&mut self, z: u64) {
        self.sum = self.sum.saturating_add(z);
        self.cnt += 1;
        if self.cnt == 64 {
            self.sum >>= 1;
            self.cnt = 32;
        }
        self.k = self.compute_k();
    }
}

/// The open stream of one head chunk: its bytes so far (descriptor, m0, then whole bytes and
/// a zero-padded partial one) and what the next sample is coded against.
pub(crate) struct OpenStream {
    bytes: Vec<u8>,
    last_m: i64,
    /// The last time delta (0 before the second sample); below 2^31 like every delta (narrow:
    /// every open head chunk holds one `OpenStream`).
    last_delta: i32,
    adapt: Adapt,
    /// Bits used in the last byte (0: it is full, or there is no bit yet).
    used: u8,
    scale: u8,
}

impl OpenStream {
    /// A stream starting with `v` at the smallest scale that holds it, with room for
    /// `capacity` bytes; None if `v` is no decimal of at most 15 digits after the point.
    pub(crate) fn new(v: f64, k0: u32, capacity: usize) -> Option<Self> {
        let (scale, m) = (0..=MAX_SCALE).find_map(|s| to_int(v, POW10[s]).map(|m| (s, m)))?;
        Some(Self::start(scale, m, k0, capacity))
    }

    fn start(scale: usize, m: i64, k0: u32, capacity: usize) -> Self {
        let k0 = k0.min(MAX_K0);
        let mut bytes = Vec::with_capacity(capacity.max(16));
        bytes.push(scale as u8 | (k0 as u8) << 4);
        put_uvarint(&mut bytes, zigzag(m));
        OpenStream {
            bytes,
            last_m: m,
            last_delta: 0,
            adapt: Adapt::new(k0),
            used: 0,
            scale: scale as u8,
        }
    }

    /// Encodes `samples` (checked: ascending, span < 2^31 ms) at their smallest common scale;
    /// None if some value is no such decimal.
    pub(crate) fn from_samples(samples: &[Sample], k0: u32) -> Option<Self> {
        let mut ints = Vec::with_capacity(samples.len());
        let scale = scale_to_ints(samples, &mut ints)?;
        let mut open = Self::start(scale, ints[0], k0, samples.len() * 2);
        for w in samples.windows(2).zip(&ints[1..]) {
            open.push_int(w.0[1].t - w.0[0].t, *w.1);
        }
        Some(open)
    }

    /// Appends a sample `dt` ms after the previous one (0 < dt < 2^31); false, with nothing
    /// written, if `v` does not fit this stream's scale.
    #[inline]
    pub(crate) fn push(&mut self, dt: i64, v: f64) -> bool {
        match to_int(v, POW10[usize::from(self.scale)]) {
            Some(m) => {
                self.push_int(dt, m);
                true
            }
            None => false,
        }
    }

    /// Like [`push`](Self::push) for a value known to be exactly `m / 10^scale`: moves `m`
    /// to this stream's scale with integer arithmetic instead of a float round trip. False,
    /// with nothing written, if it does not fit that scale; `push` then decides for certain.
    ///
    /// Exact: `m / 10^scale` and `m' / 10^own` are the same rational number, both integers
    /// and both powers below 2^53, so their correctly rounded quotients are the same f64.
    #[inline]
    pub(crate) fn push_scaled(&mut self, dt: i64, m: i64, scale: u8) -> bool {
        let own = usize::from(self.scale);
        let scale = usize::from(scale);
        let m = if scale == own {
            Some(m)
        } else if scale < own {
            m.checked_mul(POW10_I64[own - scale])
        } else {
            let d = POW10_I64[scale - own];
            (m % d == 0).then(|| m / d)
        };
        match m {
            Some(m) if m.unsigned_abs() < MAX_ABS_INT as u64 => {
                self.push_int(dt, m);
                true
            }
            _ => false,
        }
    }

    fn push_int(&mut self, dt: i64, m: i64) {
        debug_assert!(dt > 0 && dt <= i64::from(i32::MAX), "dt={dt}");
        let (tbits, tn) = time_code(zigzag(dt - i64::from(self.last_delta)));
        self.last_delta = dt as i32;
        let z = zigzag(m.wrapping_sub(self.last_m));
        self.last_m = m;
        let k = self.adapt.k();
        self.adapt.update(z);
        let q = z >> k;
        if q < ESCAPE && tn + q as u32 + 1 + k <= 56 {
            // The common case: time code, q ones, a zero, the low k bits, in one append.
            let unary = ((1u64 << q) - 1) << 1;
            let n = q as u32 + 1 + k;
            let low = z & ((1u64 << k) - 1);
            self.append((tbits << n) | (unary << k) | low, tn + n);
            return;
        }
        self.append(tbits, tn);
        write_rice(self, z, k);
    }

    /// Appends the low `n <= 56` bits of `v`, most significant first.
    #[inline]
    fn append(&mut self, v: u64, n: u32) {
        debug_assert!(n <= 56);
        let (mut acc, mut have) = (0u64, 0u32);
        if self.used != 0 {
            let last = self.bytes.pop().unwrap_or(0);
            have = u32::from(self.used);
            acc = u64::from(last >> (8 - have));
        }
        acc = (acc << n) | (v & ((1u64 << n) - 1));
        have += n;
        while have >= 8 {
            have -= 8;
            self.bytes.push((acc >> have) as u8);
        }
        if have > 0 {
            self.bytes.push((acc << (8 - have)) as u8);
        }
        self.used = have as u8;
    }

    /// The payload so far (valid as a whole `StreamCodec` payload for the samples pushed).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// The Rice parameter the next residual would use, to start a series' next chunk with.
    pub(crate) fn k(&self) -> u32 {
        self.adapt.k()
    }
}

impl BitSink for OpenStream {
    #[inline]
    fn write(&mut self, bits: u64, n: u32) {
        self.append(bits, n);
    }
}

/// The time delta-of-delta's code (bits, length) for its zigzag `z` (< 2^32: deltas are
/// below 2^31).
#[inline]
fn time_code(z: u64) -> (u64, u32) {
    match z {
        0 => (0, 1),
        1..=0x7f => (0b10 << 7 | z, 9),
        0x80..=0xfff => (0b110 << 12 | z, 15),
        0x1000..=0xf_ffff => (0b1110 << 20 | z, 24),
        _ => (0b1111u64 << 32 | z, 36),
    }
}

#[inline]
fn read_time(r: &mut BitReader<'_>) -> u64 {
    let ones = (!r.peek()).leading_zeros().min(4);
    r.skip((ones + 1).min(4));
    match ones {
        0 => 0,
        1 => r.read(7),
        2 => r.read(12),
        3 => r.read(20),
        _ => r.read(32),
    }
}

/// Decodes `count` samples of a `StreamCodec` payload whose first timestamp is `base_t`.
pub(crate) fn decode_stream_payload(
    base_t: i64,
    count: usize,
    payload: &[u8],
    out: &mut Vec<Sample>,
) -> Result<()> {
    if count == 0 {
        return Err(corrupt("chunk with no samples"));
    }
    let Some(&desc) = payload.first() else {
        return Err(corrupt("decimal-stream: empty payload"));
    };
    let scale = usize::from(desc & 0x0f);
    if scale > MAX_SCALE {
        return Err(corrupt("decimal-stream: scale above 15"));
    }
    let p = POW10[scale];
    let mut adapt = Adapt::new(u32::from(desc >> 4));
    let mut pos = 1;
    let mut m = unzigzag(get_uvarint(payload, &mut pos)?);
    let mut widest = m.unsigned_abs();
    out.reserve(count.min(1 << 16));
    out.push(Sample::new(base_t, m as f64 / p));
    let mut r = BitReader::new(&payload[pos..]);
    let (mut delta, mut rel) = (0i64, 0i64);
    for _ in 1..count {
        let k = adapt.k();
        // Fast path, from one peek: a regular time ('0') and a short Rice code.
        let w = r.peek();
        let q = (!(w << 1)).leading_zeros();
        let z = if w >> 63 == 0 && u64::from(q) < ESCAPE && q + 2 + k <= 57 {
            r.skip(q + 2 + k);
            ((u64::from(q)) << k) | (((w << (q + 2)) >> 1) >> (63 - k))
        } else {
            delta += unzigzag(read_time(&mut r));
            read_rice(&mut r, k)?
        };
        rel += delta;
        if delta <= 0 || rel >= MAX_CHUNK_SPAN_MS || r.overrun() {
            return Err(corrupt(
                "decimal-stream: timestamps not ascending, span of 2^31 ms or more, or truncated",
            ));
        }
        adapt.update(z);
        m = m.wrapping_add(unzigzag(z));
        widest = widest.max(m.unsigned_abs());
        // rel > 0, so the sum wrapped exactly when it is below base_t.
        let t = base_t.wrapping_add(rel);
        if t < base_t {
            return Err(corrupt("decimal-stream: timestamp overflows i64"));
        }
        out.push(Sample::new(t, m as f64 / p));
    }
    if widest >= MAX_ABS_INT as u64 {
        return Err(corrupt("decimal-stream: integer value out of range"));
    }
    r.finish()
}

#[cfg(test)]
#[path = "stream/stream_test.rs"]
mod tests;
