//! The rANS decoder: one table lookup, a multiply and a branch-free renormalisation per
//! residual, no division. It treats its input as untrusted: it never panics, reads missing
//! bytes as zeros and reports truncation, trailing bytes and a wrong final state in `finish`.

use std::hint::select_unpredictable;

use super::model::ModelCode;
use super::{ESC_LEN_BITS, FUSED_BITS, PROB_BITS, RAW_PIECE, STATE_LOW, TOTAL};
use crate::codec::unzigzag;

/// Size of the decoder's symbol lookup table (log2).
const LUT_BITS: u32 = 10;
const LUT_SHIFT: u32 = PROB_BITS - LUT_BITS;

const ERR_EMPTY: &str = "range: empty stream";
const ERR_STATE: &str = "range: corrupt stream (bad initial state)";
const ERR_ESCAPE: &str = "range: corrupt stream (escape codes an in-table value)";
const ERR_OVERRUN: &str = "range: truncated stream";
const ERR_TRAILING: &str = "range: trailing bytes after stream";
const ERR_FINAL: &str = "range: corrupt stream (bad final state)";

impl ModelCode {
    /// Creates a decoder over `bytes`, which must be exactly the bytes written
    /// by [`ModelCode::encode`] (the decoder checks this in `finish`).
    pub(crate) fn decoder<'a>(&self, bytes: &'a [u8]) -> Result<ModelDecoder<'a>, &'static str> {
        let Some(&head) = bytes.first_chunk::<4>() else {
            return Err(if bytes.is_empty() {
                ERR_EMPTY
            } else {
                ERR_OVERRUN
            });
        };
        let x = u32::from_be_bytes(head);
        if x < STATE_LOW {
            return Err(ERR_STATE);
        }
        let t = self.table();
        // Cell j covers the slots [j << LUT_SHIFT, (j + 1) << LUT_SHIFT).
        // A cell inside one symbol holds that symbol's freq (bits 0-15),
        // cum (bits 32-47) and index (bits 48-63); a cell containing a
        // symbol boundary holds freq 0 and the index of the symbol its first
        // slot belongs to (the decoder then scans `cum`).
        let mut lut = Box::new([0u64; 1 << LUT_BITS]);
        for (i, w) in t.cum.windows(2).enumerate() {
            let (c0, c1) = (w[0], w[1]);
            // Cells starting at or after c0 and ending at or before c1.
            let first = c0.div_ceil(1 << LUT_SHIFT) as usize;
            let end = (c1 >> LUT_SHIFT) as usize;
            if first < end {
                let packed = u64::from(c1 - c0) | u64::from(c0) << 32 | (i as u64) << 48;
                lut[first..end].fill(packed);
            }
            // The cell that starts in this symbol and contains its end.
            if c1 & ((1 << LUT_SHIFT) - 1) != 0 && (end << LUT_SHIFT) as u32 >= c0 {
                lut[end] = (i as u64) << 48;
            }
        }
        Ok(ModelDecoder {
            st: State { bytes, pos: 4, x },
            k: t.k,
            side: t.side,
            nsym: 2 * t.side as usize,
            cum: t.cum,
            lut,
        })
    }
}

// ---------------------------------------------------------------------------
// Decoder.

/// Decoder for a stream written by [`ModelCode::encode`]. Never panics on
/// corrupt input: it reads missing bytes as zeros and reports errors from
/// [`ModelDecoder::next`] or [`ModelDecoder::finish`].
pub(crate) struct ModelDecoder<'a> {
    st: State<'a>,
    k: u32,
    side: i64,
    /// Number of table buckets, `2K` (symbol `2K` is ESCAPE).
    nsym: usize,
    cum: Vec<u32>,
    /// Symbol lookup by the top `LUT_BITS` of a slot (see `decoder`).
    lut: Box<[u64; 1 << LUT_BITS]>,
}

/// The mutable part of the decoder, passed by value to the out-of-line slow
/// paths so that the hot loop can keep it in registers.
#[derive(Clone, Copy)]
struct State<'a> {
    bytes: &'a [u8],
    /// Bytes consumed so far (may exceed `bytes.len()`).
    pos: usize,
    /// rANS state, in `[L, 2^32)` between values.
    x: u32,
}

impl State<'_> {
    /// The next 4 stream bytes, big-endian, zeros past the end.
    #[inline(always)]
    fn peek(&self) -> u32 {
        match self
            .bytes
            .get(self.pos..)
            .and_then(<[u8]>::first_chunk::<4>)
        {
            Some(&b) => u32::from_be_bytes(b),
            None => peek_tail(self.bytes, self.pos),
        }
    }

    /// Sets the state to `x` (1 <= x < 2^32) and reads bytes until it is
    /// `>= L = 2^24`, all at once: `n` bytes for `x` in `[2^(24-8n), 2^(32-8n))`.
    /// Branch-free: the four candidates are selected with conditional moves.
    #[inline(always)]
    fn renorm(&mut self, x: u32) {
        // x followed by the next 4 bytes; the candidates are windows of it.
        let xw = u64::from(x) << 32 | u64::from(self.peek());
        let (x1, x2, x3) = ((xw >> 24) as u32, (xw >> 16) as u32, (xw >> 8) as u32);
        let (a, b, c) = (x >= 1 << 24, x >= 1 << 16, x >= 1 << 8);
        let hi = select_unpredictable(a, x, x1);
        let lo = select_unpredictable(c, x2, x3);
        self.x = select_unpredictable(b, hi, lo);
        self.pos += 3 - usize::from(a) - usize::from(b) - usize::from(c);
    }

    /// Decodes `nb` (1..=16) raw bits.
    #[inline]
    fn get_bits(&mut self, nb: u32) -> u32 {
        let x = self.x;
        self.renorm(x >> nb);
        x & ((1 << nb) - 1)
    }

    /// Decodes `bits` (0..=64) raw bits, least significant piece first.
    #[inline]
    fn get_wide(&mut self, bits: u32) -> u64 {
        let mut v = 0u64;
        let mut off = 0;
        while off < bits {
            let nb = (bits - off).min(RAW_PIECE);
            v |= u64::from(self.get_bits(nb)) << off;
            off += nb;
        }
        v
    }
}

/// The 4 bytes at `pos`, big-endian, zeros past the end of `bytes`.
#[cold]
#[inline(never)]
fn peek_tail(bytes: &[u8], pos: usize) -> u32 {
    (0..4).fold(0, |w, i| {
        let b = bytes.get(pos.wrapping_add(i)).copied().unwrap_or(0);
        w << 8 | u32::from(b)
    })
}

/// Rare path of the symbol lookup: `slot` is in a LUT cell that contains a
/// symbol boundary; `s` is the symbol of the cell's first slot. Returns
/// `(cum, freq, symbol)`.
#[inline(always)]
fn scan(cum: &[u32], slot: u32, mut s: usize) -> (u32, u32, usize) {
    // Largest s with cum[s] <= slot (cum[last] = TOTAL > slot).
    while cum.get(s + 1).is_some_and(|&c| c <= slot) {
        s += 1;
    }
    let c = cum.get(s).copied().unwrap_or(0);
    let f = cum.get(s + 1).copied().unwrap_or(TOTAL) - c;
    (c, f, s)
}

impl ModelDecoder<'_> {
    /// Decodes the next residual.
    #[allow(clippy::should_implement_trait)]
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Result<i64, &'static str> {
        let x = self.st.x;
        let slot = x & (TOTAL - 1);
        let e = self.lut[(slot >> LUT_SHIFT) as usize];
        let (c, f, s) = if e as u32 != 0 {
            ((e >> 32) as u32 & 0xffff, e as u32, (e >> 48) as usize)
        } else {
            scan(&self.cum, slot, (e >> 48) as usize)
        };
        // The inverse of `Encoder::put_symbol`: y is in [f * 2^8, f * 2^16)
        // and holds the fused offset bits in its low bits.
        let y = f * (x >> PROB_BITS) + (slot - c);
        if s < self.nsym {
            let k = self.k;
            let b = s as i64 - self.side;
            if k <= FUSED_BITS {
                self.st.renorm(y >> k);
                // b is in [-2^(63-k), 2^(63-k)), so the shift cannot overflow.
                Ok(b << k | i64::from(y & ((1 << k) - 1)))
            } else {
                self.st.renorm(y >> FUSED_BITS);
                let lo = u64::from(y & ((1 << FUSED_BITS) - 1));
                let off = self.st.get_wide(k - FUSED_BITS) << FUSED_BITS | lo;
                Ok(b << k | off as i64)
            }
        } else {
            let r;
            (self.st, r) = escape(self.st, y, self.k, self.side, self.nsym);
            r
        }
    }

    /// Checks that the input is exactly the stream the encoder writes for
    /// the values decoded so far: every byte consumed, none missing
    /// (truncation) or left over (trailing bytes), and the state back at the
    /// encoder's initial state `L`.
    #[inline]
    pub(crate) fn finish(self) -> Result<(), &'static str> {
        let len = self.st.bytes.len();
        if self.st.pos > len {
            return Err(ERR_OVERRUN);
        }
        if self.st.pos < len {
            return Err(ERR_TRAILING);
        }
        if self.st.x != STATE_LOW {
            return Err(ERR_FINAL);
        }
        Ok(())
    }
}

/// The rest of an ESCAPE, `y` being the state after the symbol step: the
/// length is fused with the symbol, the zigzag value follows.
#[inline(never)]
fn escape(
    mut st: State<'_>,
    y: u32,
    k: u32,
    side: i64,
    nsym: usize,
) -> (State<'_>, Result<i64, &'static str>) {
    st.renorm(y >> ESC_LEN_BITS);
    let len = (y & ((1 << ESC_LEN_BITS) - 1)) + 1;
    let z = 1u64 << (len - 1) | st.get_wide(len - 1);
    let r = unzigzag(z);
    let idx = (r >> k).wrapping_add(side) as u64;
    if idx < nsym as u64 {
        return (st, Err(ERR_ESCAPE));
    }
    (st, Ok(r))
}
