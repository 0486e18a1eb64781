//! The rANS encoder: codes residuals with a model's table, backwards (rANS is last in, first
//! out), and writes the final state and the renormalisation bytes in the order the decoder
//! reads them. It must write exactly what `decode.rs` reads; the bounds are explained in the
//! module docs of `rans.rs`.

use super::model::ModelCode;
use super::{
    ESC_LEN_BITS, FUSED_BITS, PROB_BITS, RAW_PIECE, STATE_BITS, STATE_LOW, TOTAL, bit_len,
};
use crate::codec::zigzag;

impl ModelCode {
    /// rANS-codes `residuals` and appends the bytes to `out` (the stream must
    /// be the last thing handed to [`ModelCode::decoder`], it has no length
    /// field). Any i64 values are accepted.
    pub(crate) fn encode(&self, residuals: &[i64], out: &mut Vec<u8>) {
        let t = self.table();
        let k = t.k;
        let side = t.side;
        let nsym = 2 * side as u64;
        let cum = &t.cum[..];
        let esc_lo = cum[cum.len() - 2];
        let esc_f = TOTAL - esc_lo;
        // Offset bits coded with the symbol, and the rest.
        let j = k.min(FUSED_BITS);
        let j_mask = (1u64 << j) - 1;
        let mut enc = Encoder::new(out);
        // rANS is last in, first out: code the residuals backwards, and each
        // residual's fields in the reverse of the decoder's order.
        for &r in residuals.iter().rev() {
            let idx = (r >> k).wrapping_add(side) as u64;
            if idx < nsym {
                let i = idx as usize;
                let off = r as u64;
                if k > FUSED_BITS {
                    enc.put_wide(off >> FUSED_BITS, k - FUSED_BITS);
                }
                let lo = cum[i];
                enc.put_symbol(lo, cum[i + 1] - lo, (off & j_mask) as u32, j);
            } else {
                let z = zigzag(r);
                let len = bit_len(z);
                enc.put_wide(z, len - 1);
                enc.put_symbol(esc_lo, esc_f, len - 1, ESC_LEN_BITS);
            }
        }
        enc.finish();
    }
}

// ---------------------------------------------------------------------------
// rANS encoder.

/// Encoder state and output. The renormalisation bytes are produced in the
/// reverse of the decoder's reading order; `finish` appends the final state
/// and reverses the whole stream in place.
struct Encoder<'a> {
    x: u32,
    out: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> Encoder<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        Encoder {
            x: STATE_LOW,
            out,
            start,
        }
    }

    /// Shifts out bytes while `x >= x_max`, the bound above which coding a
    /// value would leave `[L, 2^32)`. Every `x_max` used is `I * 2^8` with
    /// `[I, I * 2^8)` the preimage of `[L, 2^32)` under the coding step, so
    /// the decoder's reads (while `x < L`) mirror these writes exactly.
    #[inline]
    fn renorm(&mut self, x_max: u64) {
        while u64::from(self.x) >= x_max {
            self.out.push(self.x as u8);
            self.x >>= 8;
        }
    }

    /// Codes a symbol with cumulative frequency `c` and frequency `f`,
    /// fused with `j` (0..=8) raw bits `v` that the decoder gets first.
    #[inline]
    fn put_symbol(&mut self, c: u32, f: u32, v: u32, j: u32) {
        self.renorm(u64::from(f) << (STATE_BITS + 8 - PROB_BITS - j));
        let x = self.x << j | v;
        self.x = ((x / f) << PROB_BITS) + x % f + c;
    }

    /// Codes `nb` (1..=16) raw bits: a symbol with frequency 1 out of `2^nb`.
    #[inline]
    fn put_bits(&mut self, v: u32, nb: u32) {
        self.renorm(1 << (STATE_BITS + 8 - nb));
        self.x = self.x << nb | v;
    }

    /// Codes the low `bits` (0..=64) bits of `value` so that the decoder
    /// reads them in pieces of at most 16 bits, least significant first.
    fn put_wide(&mut self, value: u64, bits: u32) {
        if bits == 0 {
            return;
        }
        let mut off = (bits - 1) / RAW_PIECE * RAW_PIECE;
        loop {
            let nb = (bits - off).min(RAW_PIECE);
            self.put_bits((value >> off) as u32 & ((1 << nb) - 1), nb);
            if off == 0 {
                break;
            }
            off -= RAW_PIECE;
        }
    }

    /// Appends the final state and puts the stream in decoder order.
    fn finish(self) {
        self.out.extend(self.x.to_le_bytes());
        self.out[self.start..].reverse();
    }
}
