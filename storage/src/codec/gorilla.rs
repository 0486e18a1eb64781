//! `GorillaCodec` (id 1): Facebook Gorilla's delta-of-delta timestamps and XOR'd floats, as
//! written by tsz 0.1.4. It stores any f64 bit for bit (NaN payloads, the stale marker, ±Inf,
//! -0.0), so it is the fallback for values the decimal codecs refuse, and the format of an
//! open head chunk holding such a value ([`OpenGorilla`]).
//!
//! The payload is tsz's bit stream without its first 64 bits (the start timestamp, always 0:
//! times are handed to tsz as `t - base_t`, and `base_t` is in the chunk key) and without the
//! 36-bit end marker (the count is in the chunk header); the last byte is zero-padded.
//!
//! tsz corrupts silently outside its limits (docs/design.md): a first delta must fit 14 bits
//! (it is always 0 here, since the first sample is the start), a delta-of-delta must fit an i32
//! (spans are kept below 2^31 ms, so every delta and delta-of-delta does) and times must ascend.
//! The encoder checks all of this before tsz sees a sample.
//!
//! Encoding goes through tsz. Decoding does not: tsz's decoder uses unchecked arithmetic that
//! panics on garbage in debug builds (e.g. `64 - leading - significant` underflows) and returns
//! wrong times silently in release, and it reads bit by bit. `decode_gorilla_payload` reads the
//! same stream with checked arithmetic, word at a time, and is tested against tsz's decoder.
//! Like every codec it knows no keys, series or RocksDB.

use std::cell::RefCell;
use std::mem;

use tsz::stream::Write;
use tsz::{Bit, DataPoint, Encode, StdEncoder};

use super::{BitReader, ChunkCodec, MAX_CHUNK_SPAN_MS, check_samples, corrupt};
use crate::error::Result;
use cairn_model::Sample;

/// Gorilla compression through tsz; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct GorillaCodec;

impl GorillaCodec {
    pub const ID: u8 = 1;
    pub const NAME: &'static str = "gorilla";

    /// The exact payload length `encode` would produce for checked samples (see
    /// [`check_samples`]), at a fraction of the cost: it mirrors tsz's encoder without writing,
    /// so `encode_chunk` can skip Gorilla when it cannot win.
    pub(crate) fn payload_len(samples: &[Sample]) -> usize {
        let Some(first) = samples.first() else {
            return 0;
        };
        // First sample: control bit, 14-bit delta, 64-bit value.
        let mut bits: u64 = 1 + 14 + 64;
        let (mut prev_t, mut prev_delta) = (first.t, 0i64);
        let mut prev_v = first.v.to_bits();
        // tsz's XOR window; 64/64 is its "none yet" sentinel.
        let (mut leading, mut trailing) = (64, 64);
        for s in &samples[1..] {
            let delta = s.t - prev_t;
            bits += match delta - prev_delta {
                0 => 1,
                -63..=64 => 2 + 7,
                -255..=256 => 3 + 9,
                -2047..=2048 => 4 + 12,
                _ => 4 + 32,
            };
            (prev_t, prev_delta) = (s.t, delta);
            let v = s.v.to_bits();
            let xor = v ^ prev_v;
            prev_v = v;
            bits += if xor == 0 {
                1
            } else {
                let (l, t) = (xor.leading_zeros(), xor.trailing_zeros());
                if l >= leading && t >= trailing {
                    2 + u64::from(64 - leading - trailing)
                } else {
                    (leading, trailing) = (l, t);
                    2 + 12 + u64::from(64 - l - t)
                }
            };
        }
        bits.div_ceil(8) as usize
    }
}

impl ChunkCodec for GorillaCodec {
    fn id(&self) -> u8 {
        Self::ID
    }

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn encode(&self, samples: &[Sample], out: &mut Vec<u8>) -> Result<()> {
        // The guard against tsz's silent limits: ascending, span < 2^31 ms.
        check_samples(Self::NAME, samples)?;
        out.reserve(samples.len() * 2 + 16);
        let mut enc = OpenGorilla::appending_to(mem::take(out));
        enc.push_all(samples[0].t, samples);
        *out = enc.into_bytes();
        Ok(())
    }

    fn decode(
        &self,
        base_t: i64,
        count: usize,
        payload: &[u8],
        out: &mut Vec<Sample>,
    ) -> Result<()> {
        decode_gorilla_payload(base_t, count, payload, out).map(|_| ())
    }
}

// ---- encoding: tsz with a writer whose bytes stay visible ----------------------------------

/// An open tsz encoder whose output can be read at any time without closing it.
///
/// `StdEncoder` owns its writer and offers no way to reach it before `close()`. So the writer
/// given to tsz, [`LentWriter`], is a zero-sized handle, and the bytes live next to the
/// encoder in [`BitBuf`]. For the duration of each `encode` call (and only then) the buffer is
/// moved into a thread-local slot, where `LentWriter` appends to it, and moved back
/// afterwards (also on unwind). Since encoding needs `&mut self`, nothing can observe the
/// buffer while it is lent, and `&self` readers always see every bit written so far.
///
/// Why this and not the alternatives: a shared `Arc<Mutex<Vec<u8>>>` costs a lock per bit
/// write (tsz makes 2-6 per sample) and ~60 bytes per series; a raw pointer from the writer
/// into a boxed buffer needs `unsafe` and a second allocation; keeping raw samples and
/// re-encoding would not be an open Gorilla encoder. The lending costs two 32-byte swaps per
/// sample and keeps the encoder at 40 bytes plus a `Vec`, with no `unsafe`.
#[derive(Debug)]
pub(crate) struct OpenGorilla {
    enc: StdEncoder<LentWriter>,
    buf: BitBuf,
}

impl OpenGorilla {
    /// An encoder whose payload is appended to `bytes` (from the next byte boundary).
    pub(crate) fn appending_to(bytes: Vec<u8>) -> Self {
        let mut buf = BitBuf { bytes, free: 0 };
        let start = buf.bytes.len();
        let enc = lend(&mut buf, || StdEncoder::new(0, LentWriter));
        // `new` wrote the 64-bit start time, 0: base_t lives in the chunk key, so drop it.
        debug_assert_eq!(buf.bytes[start..], [0; 8]);
        buf.bytes.truncate(start);
        OpenGorilla { enc, buf }
    }

    /// Appends one sample at `rel_t` ms after the first one. The caller keeps `rel_t`
    /// ascending, starting at 0, and below 2^31.
    pub(crate) fn push(&mut self, rel_t: u64, v: f64) {
        let enc = &mut self.enc;
        lend(&mut self.buf, || enc.encode(DataPoint::new(rel_t, v)));
    }

    /// Appends checked samples (see [`check_samples`]) whose first timestamp is `base_t`.
    fn push_all(&mut self, base_t: i64, samples: &[Sample]) {
        let enc = &mut self.enc;
        lend(&mut self.buf, || {
            for s in samples {
                enc.encode(DataPoint::new((s.t - base_t) as u64, s.v));
            }
        });
    }

    /// The payload so far (the last byte zero-padded).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf.bytes
    }

    fn into_bytes(self) -> Vec<u8> {
        self.buf.bytes
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.bytes.capacity()
    }
}

/// Appends bits MSB-first, straight into the bytes (no pending word), so the bytes are always
/// complete up to the last bit written.
#[derive(Debug, Default)]
struct BitBuf {
    bytes: Vec<u8>,
    /// Unused low-order bits of the last byte (0..=7).
    free: u32,
}

impl BitBuf {
    #[inline]
    fn write_bits(&mut self, bits: u64, n: u32) {
        let n = n.min(64);
        if n == 0 {
            return;
        }
        // tsz passes e.g. negative delta-of-deltas with all high bits set.
        let bits = if n == 64 { bits } else { bits & ((1 << n) - 1) };
        // Most writes are tsz's 1-2 bit control codes: they fit the partial last byte.
        if n <= self.free
            && let Some(last) = self.bytes.last_mut()
        {
            self.free -= n;
            *last |= (bits << self.free) as u8;
            return;
        }
        self.write_spanning(bits, n);
    }

    /// Writes `n` (1..=64) masked bits that do not fit in the partial last byte.
    fn write_spanning(&mut self, bits: u64, n: u32) {
        // Take back the partial last byte and rewrite from its start: at most 7 + 64 bits.
        let (partial, used) = match self.bytes.last() {
            Some(&last) if self.free > 0 => (u128::from(last >> self.free), 8 - self.free),
            _ => (0, 0),
        };
        let start = self.bytes.len() - usize::from(used > 0);
        let total = used + n;
        let block = ((partial << n) | u128::from(bits)) << (128 - total);
        let len = total.div_ceil(8) as usize;
        if self.bytes.capacity() - start < len {
            // Grow by half (at least 16 bytes): a head chunk's spare capacity stays small.
            let extra = (self.bytes.len() / 2).max(16);
            self.bytes.reserve_exact(extra);
        }
        self.bytes.truncate(start);
        self.bytes.extend_from_slice(&block.to_be_bytes()[..len]);
        self.free = len as u32 * 8 - total;
    }
}

thread_local! {
    /// Holds the buffer of the `OpenGorilla` that is encoding on this thread, if any; else an
    /// empty `BitBuf` (no allocation).
    static LENT: RefCell<BitBuf> = const { RefCell::new(BitBuf { bytes: Vec::new(), free: 0 }) };
}

/// Runs `f` with `buf` moved into this thread's `LENT` slot, and moves it back even if `f`
/// panics (so one series' bytes can never end up in another's).
fn lend<R>(buf: &mut BitBuf, f: impl FnOnce() -> R) -> R {
    struct GiveBack<'a>(&'a mut BitBuf);
    impl Drop for GiveBack<'_> {
        fn drop(&mut self) {
            LENT.with_borrow_mut(|slot| mem::swap(self.0, slot));
        }
    }
    LENT.with_borrow_mut(|slot| mem::swap(buf, slot));
    let _give_back = GiveBack(buf);
    f()
}

/// tsz's writer: appends to whatever buffer is lent to this thread (see [`OpenGorilla`]).
#[derive(Debug)]
struct LentWriter;

impl Write for LentWriter {
    fn write_bit(&mut self, bit: Bit) {
        LENT.with_borrow_mut(|b| b.write_bits(bit.to_u64(), 1));
    }

    fn write_byte(&mut self, byte: u8) {
        LENT.with_borrow_mut(|b| b.write_bits(u64::from(byte), 8));
    }

    fn write_bits(&mut self, bits: u64, num: u32) {
        LENT.with_borrow_mut(|b| b.write_bits(bits, num));
    }

    /// Only `StdEncoder::close` calls this, and Cairn never closes an encoder: the bytes are
    /// read from the `BitBuf`, and the end marker is not needed as the count is in the header.
    fn close(self) -> Box<[u8]> {
        Box::default()
    }
}

// ---- decoding ------------------------------------------------------------------------------

/// Decodes a Gorilla payload of `count` samples starting at `base_t`, appending to `out`;
/// returns the number of bits read. Checks everything tsz's encoder guarantees: first delta 0,
/// strictly ascending times within 2^31 ms, canonical XOR windows, no end marker before
/// `count` samples, nothing but zero padding after them.
pub(crate) fn decode_gorilla_payload(
    base_t: i64,
    count: usize,
    payload: &[u8],
    out: &mut Vec<Sample>,
) -> Result<usize> {
    if count == 0 {
        return Err(corrupt("chunk with no samples"));
    }
    let mut r = BitReader::new(payload);
    // First sample: control bit 0, 14-bit delta from the start (always 0), 64-bit value.
    if r.read(15) != 0 {
        return Err(corrupt("gorilla: first sample is not at the chunk start"));
    }
    let mut value = r.read_long(64);
    if r.overrun() {
        return Err(corrupt("gorilla: payload truncated"));
    }
    out.reserve(count.min(1 << 16));
    out.push(Sample::new(base_t, f64::from_bits(value)));

    let mut rel: i64 = 0;
    let mut delta: i64 = 0;
    // The XOR window of the last "new window" value; None until the first one.
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..count {
        // Timestamp: 0 | 10+7 | 110+9 | 1110+12 | 1111+32 bits of delta-of-delta.
        let w = r.peek();
        let ones = (!w).leading_zeros().min(4);
        r.skip(if ones == 4 { 4 } else { ones + 1 });
        if ones > 0 {
            let size = [0, 7, 9, 12, 32][ones as usize];
            let raw = r.read(size);
            if ones == 4 && raw == 0 {
                return Err(corrupt("gorilla: end marker before the last sample"));
            }
            // tsz's sign convention: values above 2^(size-1) are negative.
            let dod = if raw > 1 << (size - 1) {
                raw as i64 - (1i64 << size)
            } else {
                raw as i64
            };
            delta += dod;
        }
        rel += delta;
        if delta <= 0 || rel >= MAX_CHUNK_SPAN_MS {
            return Err(corrupt(
                "gorilla: timestamps not ascending or span of 2^31 ms or more",
            ));
        }

        // Value: 0 (same) | 10 + bits in the last window | 11 + 6-bit leading zeros,
        // 6-bit length-1, bits.
        let w = r.peek();
        if w >> 63 == 1 {
            let xor = if (w >> 62) & 1 == 1 {
                r.skip(2);
                let leading = r.read(6) as u32;
                let len = r.read(6) as u32 + 1;
                if leading + len > 64 {
                    return Err(corrupt("gorilla: XOR window wider than 64 bits"));
                }
                let trailing = 64 - leading - len;
                let bits = r.read_long(len);
                // tsz stores the exact window: its first and last bits are 1.
                if bits >> (len - 1) != 1 || bits & 1 != 1 {
                    return Err(corrupt("gorilla: XOR window not tight"));
                }
                window = Some((leading, trailing));
                bits << trailing
            } else {
                r.skip(2);
                let Some((leading, trailing)) = window else {
                    return Err(corrupt("gorilla: XOR window reused before being set"));
                };
                let bits = r.read_long(64 - leading - trailing);
                if bits == 0 {
                    return Err(corrupt("gorilla: empty XOR"));
                }
                bits << trailing
            };
            value ^= xor;
        } else {
            r.skip(1);
        }
        if r.overrun() {
            return Err(corrupt("gorilla: payload truncated"));
        }
        let t = base_t
            .checked_add(rel)
            .ok_or_else(|| corrupt("gorilla: timestamp overflows i64"))?;
        out.push(Sample::new(t, f64::from_bits(value)));
    }
    r.finish()?;
    Ok(r.position())
}

#[cfg(test)]
#[path = "gorilla/gorilla_test.rs"]
mod tests;
