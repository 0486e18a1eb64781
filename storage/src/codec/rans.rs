//! Entropy coder (static-model rANS) with a fitted parametric model for
//! signed integer residuals.
//!
//! Residuals `r` (any i64 values) are coded one by one with a static model
//! fitted to the whole chunk by [`ModelCode::choose`]. Each residual is split
//! into a *bucket* `b = r >> k` (arithmetic shift: floor division by `2^k`)
//! and an *offset* `r & (2^k - 1)`. Buckets in `[-K, K)` are entropy-coded
//! with a frequency table derived from a parametric shape (Gauss or Laplace)
//! with scale `s` (in buckets), followed by the offset as `k` raw bits (the density
//! is nearly flat within a bucket because `choose` picks `k` so that `s` is
//! 8..16 buckets, or `k = 0` for small data). Any other residual is coded as
//! the ESCAPE symbol followed by its zigzag form, length-prefixed.
//!
//! # Usage
//!
//! ```text
//! let (model, estimated_bytes) = ModelCode::choose(&residuals)?;  // compare with other codings
//! model.write_params(&mut out);                                  // 2 or 3 bytes
//! model.encode(&residuals, &mut out);                            // must end the chunk
//! ...
//! let model = ModelCode::read_params(chunk, &mut pos)?;
//! let mut dec = model.decoder(&chunk[pos..])?;                   // exactly the stream bytes
//! for _ in 0..n { values.push(dec.next()?); }
//! dec.finish()?;                                                 // truncation / trailing bytes
//! ```
//!
//! `choose` makes two passes over the data (a bit-length histogram for a
//! robust first scale estimate, then a bucket histogram), estimates the scale
//! of each shape from the moments (RMS / mean absolute bucket centre, which are
//! the maximum-likelihood scales) and evaluates the exact coded size of a few
//! candidate models from the histogram (scale refinement for small scales,
//! table extent, escape frequency). On round(N(0, 100)) data it codes within
//! about 0.1% (n = 8640) of the ideal cost, the 2-3 header bytes and the 3-4
//! bytes of rANS state overhead being most of that.
//!
//! # Format
//!
//! ```text
//!   params: 2 or 3 bytes (write_params)    stream (encode; runs to the end of the chunk)
//!  +--------+--------+- - - - -+          +----+----+----+----+------------------------------+
//!  |   p0   |   q    |   p2    |          | final rANS state  | renormalisation bytes, in    |
//!  +--------+--------+- - - - -+          | (u32 big-endian,  | the order the decoder reads  |
//!                                          |  >= 2^24)         | them (= reverse of encoding) |
//!                                          +----+----+----+----+------------------------------+
//!   p0: bits 0-5  k      bucket bits, 0..=62 (63 is invalid)
//!       bit  6    shape  0 = Gauss, 1 = Laplace
//!       bit  7    ext    1 = byte p2 follows
//!   q:            scale  s = 2^(q/32 - 4) buckets (1/16 .. 15.7)
//!   p2: bits 0-2  tail   index into the shape's K multipliers (default without
//!                        p2: Gauss 2 (K ~ 4 s), Laplace 3 (K ~ 10 s))
//!       bits 3-4  esc    ESCAPE frequency 1, 16, 256, 2048 / 65536 (default 1)
//!       bits 5-7  0      reserved; p2 must not encode the defaults (canonical)
//! ```
//!
//! Per residual, in decoding order (raw fields in pieces of at most 16 bits,
//! least significant piece first, each a symbol of frequency 1 out of
//! `2^bits`):
//!
//! ```text
//!   b in [-K, K):  [symbol b + K, fused with offset bits 0..min(k, 8)]
//!                  [offset bits 8..k, raw]                               (only if k > 8)
//!   otherwise:     [symbol 2K = ESCAPE, fused with L - 1 (6 bits)]
//!                  [z minus its top bit: L - 1 raw bits]
//!                  z = zigzag(r) >= 1, L = bit length of z (1..=64)
//! ```
//!
//! # Frequency table (must be bit-identical in encoder and decoder)
//!
//! `K = min(512, 2^(63-k), floor(M[shape][tail] * s) + 2)` (so every bucket
//! of the table is a bucket of some i64). The weight of bucket `b` is the
//! shape evaluated at `c = b + 1/2 - 2^-(k+1)` (the mean of the integers in
//! the bucket): `exp(-c^2 / (2 s^2))` or `exp(-|c| / s)`. Weights are built
//! outwards from `b = 0` and `b = -1` by multiplicative recurrences whose
//! factors come from [`det_exp`], an `exp` made only of IEEE `+ - * /` with
//! const-evaluated constants, in a fixed order; weights below `1e-100` become
//! 0 (no subnormals). Then, with `W` = (sum over `b >= 0`) + (sum over
//! `b < 0`), each summed outwards, `freq[b] = max(1, floor(w[b] * (2^16 - f_esc)
//! / W + 0.5))`, ESCAPE gets `f_esc`, and the difference to `2^16` is added to
//! (or, if negative, taken from, down to 1) bucket 0, then from the first
//! symbols. No libm call is involved, so every machine rebuilds the same
//! table (assuming IEEE binary64 arithmetic without extended precision, as on
//! all Rust tier-1 targets; x87-only targets such as i586 are not supported);
//! the `golden_tables` test pins the result.
//!
//! # rANS coder
//!
//! Static-model rANS, 32-bit state `x` in `[L, 2^32)` with `L = 2^24`,
//! byte-wise renormalisation, frequency total `M = 2^16`. Decoding a symbol
//! fused with `j <= 8` raw bits (`j = min(k, 8)` for a bucket, 6 for ESCAPE)
//! needs no division:
//!
//! ```text
//!   slot = x mod 2^16                   symbol s: cum[s] <= slot < cum[s+1]  (LUT, rarely a short scan)
//!   y    = f[s] * (x >> 16) + slot - cum[s]          (in [f 2^8, f 2^16))
//!   bits = y mod 2^j,  x = y >> j
//!   read n = 0..=3 bytes, x = x << 8n | next n bytes, n minimal with x >= L
//! ```
//!
//! and a raw piece of `nb <= 16` bits is `v = x mod 2^nb, x >>= nb`, then the
//! same renormalisation. The encoder runs backwards over the residuals (and
//! over each residual's fields), starting from `x = L`: for a symbol it emits
//! the low byte of `x` while `x >= f << (16 - j)`, then sets `x = x << j | bits`
//! and `x = (x / f) << 16 + x mod f + cum[s]`; for a raw piece it emits while
//! `x >= 2^(32 - nb)`, then `x = x << nb | v`. Each bound is `I * 2^8` where
//! `[I, 2^8 I)` is exactly the set of states the step maps into `[L, 2^32)`
//! (fusing is exact because `2^j` divides `L / M = 2^8`), so the decoder's
//! "read while `x < L`" mirrors the encoder's writes. The encoder finally
//! writes its state (4 bytes, big-endian) and the emitted bytes in reverse, so
//! the decoder reads forwards. Cost over the ideal: the 24 bits of the
//! initial state plus 0-8 bits of slack in the final state, 3-4 bytes per
//! stream (the division-based range coder this replaces needed 1-2).
//!
//! Decoding reads bytes beyond the end of its input as zeros and never
//! panics. Every state decodes to some symbol and raw value, so
//! [`ModelDecoder::next`] only fails for an ESCAPE that codes an in-table
//! value; [`ModelCode::decoder`] rejects a stream shorter than 4 bytes or
//! starting with a state below `L`. [`ModelDecoder::finish`] checks that
//! exactly all bytes were consumed and that the state is back at `L`, the
//! encoder's initial state. The decoder's reads depend only on the bytes
//! read so far, so a truncated stream is decoded like the full one up to the
//! first missing byte, which the full decoding reads: every truncation of a
//! valid stream is an error, and trailing bytes are rejected. Other
//! corruption is detected only with some probability, as in any code without
//! redundancy: a change that alters the decoded symbols almost always leaves
//! a final state other than `L`, but raw offset bits pass through the state
//! without mixing, so a flipped bit that only lands in them goes unnoticed
//! (most likely for streams with a large `k`, which are mostly raw bits).

use std::hint::select_unpredictable;

use super::{unzigzag, zigzag};

/// log2 of the frequency total.
const PROB_BITS: u32 = 16;
/// Frequency total `M`. With the rANS state `x >= L = 2^24`, `x >> 16 >= 2^8`:
/// the coding inefficiency from the finite state is negligible (and
/// `L / M = 2^8` leaves room for up to 8 fused raw bits).
const TOTAL: u32 = 1 << PROB_BITS;
/// log2 of the lower bound `L` of the rANS state: between values the state
/// is in `[L, 2^32)`; `L` is also the encoder's initial state, which the
/// decoder must arrive at after the last value.
const STATE_BITS: u32 = 24;
const STATE_LOW: u32 = 1 << STATE_BITS;
/// Offset bits coded together with the bucket symbol (at most
/// `STATE_BITS - PROB_BITS`, see `Encoder::put_symbol`).
const FUSED_BITS: u32 = 8;
/// Bits of the ESCAPE length field (coded with the ESCAPE symbol).
const ESC_LEN_BITS: u32 = 6;
/// Bytes of the final state at the start of the stream.
const STATE_BYTES: usize = 4;
const _: () = assert!(FUSED_BITS <= STATE_BITS - PROB_BITS && ESC_LEN_BITS <= FUSED_BITS);
/// Maximum number of buckets per side (table has at most `2 * 512 + 1` symbols).
const MAX_SIDE: u32 = 512;
/// Size of the decoder's symbol lookup table (log2).
const LUT_BITS: u32 = 10;
const LUT_SHIFT: u32 = PROB_BITS - LUT_BITS;
/// Maximum raw bits per rANS step (a piece of a raw field).
const RAW_PIECE: u32 = 16;
/// Scale code: `log2 s = q / 32 + Q_MIN_LOG2`.
const Q_PER_OCTAVE: f64 = 32.0;
const Q_MIN_LOG2: i32 = -4;
/// `choose` picks `k` so that the fitted scale lands in `[S_MIN, 2 S_MIN)`
/// buckets (or `k = 0` when the data is small).
const S_MIN: f64 = 8.0;
/// `K = floor(M * s) + 2` per shape and tail index.
const GAUSS_TAIL: [f64; 8] = [3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 8.0, 12.0];
const LAPLACE_TAIL: [f64; 8] = [6.0, 7.0, 8.0, 10.0, 12.0, 14.0, 18.0, 24.0];
/// ESCAPE frequencies (out of `TOTAL`) per `esc` code.
const ESC_FREQ: [u32; 4] = [1, 16, 256, 2048];
/// Tail indices implied by a 2-byte header: `K` about 4 s (Gauss) or 10 s
/// (Laplace).
const GAUSS_TAIL_DEFAULT: u8 = 2;
const LAPLACE_TAIL_DEFAULT: u8 = 3;

const ERR_PARAMS_SHORT: &str = "range: truncated model parameters";
const ERR_PARAMS_K: &str = "range: invalid bucket bits";
const ERR_PARAMS_RESERVED: &str = "range: reserved parameter bits set";
const ERR_EMPTY: &str = "range: empty stream";
const ERR_STATE: &str = "range: corrupt stream (bad initial state)";
const ERR_ESCAPE: &str = "range: corrupt stream (escape codes an in-table value)";
const ERR_OVERRUN: &str = "range: truncated stream";
const ERR_TRAILING: &str = "range: trailing bytes after stream";
const ERR_FINAL: &str = "range: corrupt stream (bad final state)";

// ---------------------------------------------------------------------------
// Deterministic arithmetic helpers (no libm).

/// `2^e` for `-1022 <= e <= 1023`, exact.
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((1023 + e) as u64) << 52)
}

/// `ln 2`, and its split for Cody-Waite reduction (`LN2_HI` has 21 trailing
/// zero bits, so `n * LN2_HI / 32` is exact for `|n| < 2^21`).
const LN2: f64 = f64::from_bits(0x3fe6_2e42_fefa_39ef);
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `2^(j/32)` for `j = 0..32`. Const evaluation of floating-point arithmetic
/// is IEEE-exact (correctly rounded, no fusing), so these constants are the
/// same on every build and platform; `golden_tables` pins them indirectly.
const EXP2_32: [f64; 32] = {
    let mut t = [1.0; 32];
    let mut j = 1;
    while j < 32 {
        // e^x for x = j ln2 / 32 <= 0.68 by its Taylor series (30 terms).
        let x = j as f64 * LN2 / 32.0;
        let mut sum = 1.0;
        let mut term = 1.0;
        let mut i = 1;
        while i < 30 {
            term = term * x / i as f64;
            sum += term;
            i += 1;
        }
        t[j] = sum;
        j += 1;
    }
    t
};

/// `e^x` using only IEEE `+ - * /`, integer operations and constants, so
/// the result is bit-identical on every platform. Relative error ~1e-15;
/// returns exactly 0 for `x < -230` or NaN (so weights are either 0 or
/// `>= 1e-100`, and no subnormal ever appears downstream).
fn det_exp(x: f64) -> f64 {
    if x.is_nan() || x <= -230.0 {
        return 0.0;
    }
    let x = if x > 230.0 { 230.0 } else { x };
    // x = n ln2 / 32 + f, |f| <= ln2 / 64.
    let t = x * (32.0 / LN2);
    let n = if t >= 0.0 {
        (t + 0.5) as i32
    } else {
        -((0.5 - t) as i32)
    };
    let nf = f64::from(n);
    let f = (x - nf * (LN2_HI / 32.0)) - nf * (LN2_LO / 32.0);
    // e^f by its Taylor series of degree 6 (error < 1e-17), Horner form.
    let p = 1.0
        + f * (1.0
            + f * (1.0 / 2.0
                + f * (1.0 / 6.0 + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f * (1.0 / 720.0))))));
    EXP2_32[n.rem_euclid(32) as usize] * p * pow2(n.div_euclid(32))
}

/// Weights below this are flushed to zero while building tables, so no
/// product ever becomes subnormal (and no platform's denormal handling can
/// matter).
const WEIGHT_FLOOR: f64 = 1e-100;

/// `log2(1 + i / 256)` for `i = 0..=256` in 8.24 fixed point, for
/// [`log2_fix`].
const LOG2_TABLE: [u32; 257] = {
    let mut t = [0; 257];
    let mut i = 0;
    while i <= 256 {
        // ln(m) = 2 atanh(u), u = (m - 1) / (m + 1) <= 1/3: series to u^29.
        let m = 1.0 + i as f64 / 256.0;
        let u = (m - 1.0) / (m + 1.0);
        let u2 = u * u;
        let mut sum = 0.0;
        let mut p = u;
        let mut j = 1;
        while j <= 29 {
            sum += p / j as f64;
            p *= u2;
            j += 2;
        }
        t[i] = (2.0 * sum * std::f64::consts::LOG2_E * (1u32 << 24) as f64 + 0.5) as u32;
        i += 1;
    }
    t
};

/// `log2(x)` for `x >= 1` in 8.24 fixed point, error < 3e-6 (table and
/// linear interpolation). Only guides `choose`, never affects the format.
#[inline]
fn log2_fix(x: u32) -> u32 {
    let lz = x.leading_zeros();
    let m = x << lz;
    let i = (m >> 23 & 0xff) as usize;
    let frac = m & 0x7f_ffff;
    let (a, b) = (LOG2_TABLE[i], LOG2_TABLE[i + 1]);
    ((31 - lz) << 24) + a + ((u64::from(b - a) * u64::from(frac)) >> 23) as u32
}

#[inline]
fn bit_len(z: u64) -> u32 {
    64 - z.leading_zeros()
}

// ---------------------------------------------------------------------------
// Model parameters.

/// Shape of the bucket distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `exp(-c^2 / (2 s^2))`: Normal steps (random walks).
    Gauss,
    /// `exp(-|c| / s)`: two-sided geometric / Laplace residuals.
    Laplace,
}

/// Parameters of the residual model: shape, bucket bits `k`, scale, table
/// extent and escape frequency. Serialised in 2 or 3 bytes
/// ([`ModelCode::write_params`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ModelCode {
    shape: Shape,
    /// Bucket bits, `0..=62`.
    k: u8,
    /// Tail multiplier index, `0..8`.
    tail: u8,
    /// Escape frequency index, `0..4`.
    esc: u8,
    /// Log scale code: `s = 2^(q/32 - 4)` buckets.
    q: u8,
}

/// Frequency table of one model: cumulative frequencies of the `2K + 1`
/// symbols (buckets `-K..K`, then ESCAPE).
struct Table {
    k: u32,
    side: i64,
    /// `cum[i]` = sum of the frequencies of symbols `< i`; `len = 2K + 2`,
    /// `cum[0] = 0`, `cum[2K + 1] = TOTAL`.
    cum: Vec<u32>,
}

/// Reusable buffers for table building.
#[derive(Default)]
struct Scratch {
    weights: Vec<f64>,
    freqs: Vec<u32>,
}

impl ModelCode {
    /// Scale in buckets, `2^(q/32 - 4)`, computed deterministically.
    fn scale(&self) -> f64 {
        EXP2_32[usize::from(self.q % 32)] * pow2(i32::from(self.q / 32) + Q_MIN_LOG2)
    }

    /// Number of buckets per side, `K`.
    fn side(&self, s: f64) -> u32 {
        let m = match self.shape {
            Shape::Gauss => GAUSS_TAIL[usize::from(self.tail & 7)],
            Shape::Laplace => LAPLACE_TAIL[usize::from(self.tail & 7)],
        };
        // `as` saturates; `m * s` is at most 24 * 16.
        let kk = ((m * s) as u32).saturating_add(2).min(MAX_SIDE);
        // Every bucket of the table must be a bucket of some i64:
        // b in [-2^(63-k), 2^(63-k)).
        let k = u32::from(self.k);
        if k >= 54 { kk.min(1 << (63 - k)) } else { kk }
    }

    /// Fills `scratch.freqs` with the `2K + 1` symbol frequencies (summing to
    /// `TOTAL`, each >= 1) and returns `K`. Deterministic: IEEE basic
    /// operations only, in a fixed order.
    fn build_freqs(&self, scratch: &mut Scratch) -> u32 {
        let s = self.scale();
        let side = self.side(s);
        let n = side as usize;
        let w = &mut scratch.weights;
        w.clear();
        w.resize(2 * n, 0.0);
        // Bucket centre offset: mean of the integers in a bucket, in bucket
        // units, is b + delta.
        let delta = 0.5 - pow2(-(i32::from(self.k) + 1));
        let inv_s = 1.0 / s;
        // Weights for b >= 0 go to w[n + b], for b < 0 to w[n + b]
        // (i.e. w[n - 1] is b = -1). Each side is a multiplicative recurrence
        // starting at the centre.
        let (up0, up_ratio, up_ratio2, down0, down_ratio, down_ratio2) = match self.shape {
            Shape::Gauss => {
                let a = 0.5 * inv_s * inv_s;
                // w(c) = exp(-a c^2); w(c+1)/w(c) = exp(-a (2c + 1)),
                // and that ratio changes by exp(-2a) per step.
                let rho = det_exp(-2.0 * a);
                (
                    det_exp(-a * delta * delta),
                    det_exp(-a * (2.0 * delta + 1.0)),
                    rho,
                    det_exp(-a * (1.0 - delta) * (1.0 - delta)),
                    det_exp(-a * (3.0 - 2.0 * delta)),
                    rho,
                )
            }
            Shape::Laplace => {
                let theta = det_exp(-inv_s);
                (
                    det_exp(-delta * inv_s),
                    theta,
                    1.0,
                    det_exp(-(1.0 - delta) * inv_s),
                    theta,
                    1.0,
                )
            }
        };
        // Both sides at once (two independent dependency chains). Start
        // values and ratios are 0 or in [1e-100, 1] (see `det_exp`), and a
        // side is zeroed for good once its weight drops below WEIGHT_FLOOR,
        // so every product computed here is 0 or a normal number >= 1e-300.
        let (down, up) = w.split_at_mut(n);
        let (mut vu, mut gu, mut vd, mut gd) = (up0, up_ratio, down0, down_ratio);
        let (mut sum_up, mut sum_down) = (0.0, 0.0);
        // down[n - 1] is b = -1, down[0] is b = -K: fill reversed.
        for (u, d) in up.iter_mut().zip(down.iter_mut().rev()) {
            *u = vu;
            *d = vd;
            sum_up += vu;
            sum_down += vd;
            let (nu, nd) = (vu * gu, vd * gd);
            (vu, gu) = if nu < WEIGHT_FLOOR {
                (0.0, 0.0)
            } else {
                (nu, gu * up_ratio2)
            };
            (vd, gd) = if nd < WEIGHT_FLOOR {
                (0.0, 0.0)
            } else {
                (nd, gd * down_ratio2)
            };
        }
        let total_w = sum_up + sum_down;
        let f_esc = ESC_FREQ[usize::from(self.esc & 3)];
        let budget = TOTAL - f_esc;
        let mult = f64::from(budget) / total_w;
        let f = &mut scratch.freqs;
        f.clear();
        // x * mult + 0.5 is in [0.5, budget + 0.5]; the conversion truncates,
        // i.e. this is round-half-up, then at least 1.
        f.extend(w.iter().map(|&x| ((x * mult + 0.5) as i32).max(1) as u32));
        let sum: u32 = f.iter().sum();
        f.push(f_esc);
        // Fix the total on the most probable bucket (b = 0, index K).
        let peak = n;
        if sum <= budget {
            f[peak] += budget - sum;
        } else {
            let mut excess = sum - budget;
            let take = excess.min(f[peak] - 1);
            f[peak] -= take;
            excess -= take;
            // Pathological tables only: take the rest from the front.
            for v in f.iter_mut() {
                if excess == 0 {
                    break;
                }
                let take = excess.min(*v - 1);
                *v -= take;
                excess -= take;
            }
            // The ESCAPE entry at the end might have been reduced; the sum is
            // exact either way since every entry stays >= 1 and
            // 2K + 1 <= 1025 < TOTAL.
        }
        side
    }

    /// Builds the cumulative table used by the coder.
    fn table(&self) -> Table {
        let mut scratch = Scratch::default();
        let side = self.build_freqs(&mut scratch);
        let mut cum = Vec::with_capacity(scratch.freqs.len() + 1);
        let mut acc = 0u32;
        cum.push(0);
        for &f in &scratch.freqs {
            acc += f;
            cum.push(acc);
        }
        debug_assert_eq!(acc, TOTAL);
        Table {
            k: u32::from(self.k),
            side: i64::from(side),
            cum,
        }
    }

    /// Default tail index of the shape (used when the header has no
    /// extension byte).
    fn default_tail(shape: Shape) -> u8 {
        match shape {
            Shape::Gauss => GAUSS_TAIL_DEFAULT,
            Shape::Laplace => LAPLACE_TAIL_DEFAULT,
        }
    }

    /// Whether the parameters need the extension byte.
    fn extended(&self) -> bool {
        self.tail != Self::default_tail(self.shape) || self.esc != 0
    }

    /// Length of the serialised parameters: 2 or 3 bytes.
    pub(crate) fn params_len(&self) -> usize {
        if self.extended() { 3 } else { 2 }
    }

    /// Serialises the parameters (2 or 3 bytes, see the module docs).
    pub(crate) fn write_params(&self, out: &mut Vec<u8>) {
        let shape = match self.shape {
            Shape::Gauss => 0,
            Shape::Laplace => 1,
        };
        let ext = self.extended();
        out.push(self.k | shape << 6 | u8::from(ext) << 7);
        out.push(self.q);
        if ext {
            out.push(self.tail | self.esc << 3);
        }
    }

    /// Parses parameters written by [`ModelCode::write_params`] at `*pos` and
    /// advances `*pos` past them. Validates every field (and rejects
    /// non-canonical encodings); never panics.
    pub(crate) fn read_params(buf: &[u8], pos: &mut usize) -> Result<ModelCode, &'static str> {
        let rest = buf.get(*pos..).unwrap_or_default();
        let (&b0, &q) = rest.first().zip(rest.get(1)).ok_or(ERR_PARAMS_SHORT)?;
        let k = b0 & 63;
        if k > 62 {
            return Err(ERR_PARAMS_K);
        }
        let shape = if b0 & 64 == 0 {
            Shape::Gauss
        } else {
            Shape::Laplace
        };
        let mut m = ModelCode {
            shape,
            k,
            tail: Self::default_tail(shape),
            esc: 0,
            q,
        };
        if b0 & 128 != 0 {
            let &e = rest.get(2).ok_or(ERR_PARAMS_SHORT)?;
            if e >> 5 != 0 {
                return Err(ERR_PARAMS_RESERVED);
            }
            (m.tail, m.esc) = (e & 7, e >> 3);
            if !m.extended() {
                return Err(ERR_PARAMS_RESERVED);
            }
        }
        *pos += m.params_len();
        Ok(m)
    }

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

// ---------------------------------------------------------------------------
// Model selection.

/// Bucket histogram used by `choose`.
struct Hist {
    counts: Vec<u32>,
    /// Bucket of `counts[0]` (even).
    base: i64,
    /// Non-empty index range `[lo, hi)`; entries outside it are stale.
    lo: usize,
    hi: usize,
    k: u32,
    /// Number of residuals outside the histogram (escapes for any model).
    out_n: u64,
    /// Escape payload bits of those residuals (6 + L - 1 each).
    out_bits: u64,
    /// Non-empty buckets `(b, count)`, filled by `compact`.
    bins: Vec<(i64, u32)>,
}

/// Histogram half-width in buckets at the initial `k`; merging twice still
/// covers `MAX_SIDE` buckets per side.
const HIST_HALF: i64 = 2048;

impl Hist {
    fn build(residuals: &[i64], k: u32) -> Hist {
        let mut counts = vec![0u32; 2 * HIST_HALF as usize];
        let mut lo = usize::MAX;
        let mut hi = 0usize;
        let mut out_n = 0u64;
        let mut out_bits = 0u64;
        for &r in residuals {
            let idx = (r >> k).wrapping_add(HIST_HALF) as u64;
            if let Some(c) = counts.get_mut(idx as usize) {
                *c += 1;
                lo = lo.min(idx as usize);
                hi = hi.max(idx as usize);
            } else {
                out_n += 1;
                out_bits += u64::from(5 + bit_len(zigzag(r)));
            }
        }
        let (lo, hi) = if lo == usize::MAX {
            (0, 0)
        } else {
            (lo, hi + 1)
        };
        Hist {
            counts,
            base: -HIST_HALF,
            lo,
            hi,
            k,
            out_n,
            out_bits,
            bins: Vec::new(),
        }
    }

    /// Lists the non-empty buckets (model evaluations only visit those).
    fn compact(&mut self) {
        self.bins.clear();
        for i in self.lo..self.hi {
            if self.counts[i] != 0 {
                self.bins.push((self.base + i as i64, self.counts[i]));
            }
        }
    }

    /// Merges pairs of buckets: the histogram at `k + 1`.
    fn coarsen(&mut self) {
        let (lo, hi) = (self.lo / 2, self.hi.div_ceil(2));
        for j in lo..hi {
            let a = self.counts.get(2 * j).copied().unwrap_or(0);
            let b = self.counts.get(2 * j + 1).copied().unwrap_or(0);
            // Indices 2j, 2j+1 outside the old [lo, hi) are stale: skip them.
            let a = if (self.lo..self.hi).contains(&(2 * j)) {
                a
            } else {
                0
            };
            let b = if (self.lo..self.hi).contains(&(2 * j + 1)) {
                b
            } else {
                0
            };
            self.counts[j] = a + b;
        }
        self.base >>= 1;
        self.lo = lo;
        self.hi = hi;
        self.k += 1;
    }

    /// Returns `(n_in, sum c^2, sum |c|)` over the histogram, with bucket
    /// centres `c = b + delta(k)`.
    fn moments(&self) -> (f64, f64, f64) {
        let delta = 0.5 - pow2(-(self.k as i32 + 1));
        let (mut n, mut m2, mut m1) = (0.0, 0.0, 0.0);
        for i in self.lo..self.hi {
            let h = f64::from(self.counts[i]);
            let c = (self.base + i as i64) as f64 + delta;
            n += h;
            m2 += h * c * c;
            m1 += h * c.abs();
        }
        (n, m2, m1)
    }
}

/// Exact coded size in bits (excluding header and rANS state overhead) of the
/// histogram under `m`, and the number of escapes.
fn cost_bits(m: &ModelCode, h: &Hist, scratch: &mut Scratch) -> (f64, u64) {
    let side = i64::from(m.build_freqs(scratch));
    let f = &scratch.freqs[..];
    let k = u64::from(m.k);
    // Sum of count * log2(freq) in 8.24 fixed point: integer adds keep the
    // loop free of floating-point latency chains.
    let mut sum_log = 0u64;
    let mut n_tab = 0u64;
    let mut n_esc = h.out_n;
    let mut payload = h.out_bits;
    for &(b, c) in &h.bins {
        match f.get((b + side) as usize) {
            Some(&fr) if b + side >= 0 && b < side => {
                sum_log += u64::from(c) * u64::from(log2_fix(fr));
                n_tab += u64::from(c);
            }
            _ => {
                n_esc += u64::from(c);
                payload += u64::from(c) * (6 + u64::from(bit_len((b ^ (b >> 63)) as u64)) + k);
            }
        }
    }
    let f_esc = ESC_FREQ[usize::from(m.esc)];
    let fix = f64::from(1u32 << 24);
    let bits = (n_tab * (u64::from(PROB_BITS) + k) + payload) as f64 - sum_log as f64 / fix
        + n_esc as f64 * (f64::from(PROB_BITS) - f64::from(log2_fix(f_esc)) / fix);
    (bits, n_esc)
}

/// A candidate model with its coded size in bits and number of escapes.
type Scored = (ModelCode, f64, u64);

/// Integer line search over one parameter in `0..=max`, starting from `v0`
/// whose evaluation is `start`: probe the neighbours (upwards only if `up`),
/// walk downhill with doubling steps, then refine by halving.
fn line_search(
    v0: u8,
    start: Scored,
    max: u8,
    up: bool,
    eval: &mut impl FnMut(u8) -> Scored,
) -> Scored {
    let (mut best_v, mut best) = (v0, start);
    let mut dir: i32 = 0;
    if up && v0 < max {
        let c = eval(v0 + 1);
        if c.1 < best.1 {
            (best_v, best, dir) = (v0 + 1, c, 1);
        }
    }
    if dir == 0 && v0 > 0 {
        let c = eval(v0 - 1);
        if c.1 < best.1 {
            (best_v, best, dir) = (v0 - 1, c, -1);
        }
    }
    if dir == 0 {
        return best;
    }
    let mut step = 2i32;
    let mut last_step = 1i32;
    loop {
        let v = (i32::from(best_v) + dir * step).clamp(0, i32::from(max)) as u8;
        if v == best_v {
            break;
        }
        let c = eval(v);
        if c.1 < best.1 {
            (best_v, best) = (v, c);
            last_step = step;
            step *= 2;
        } else {
            break;
        }
    }
    // The minimum is within last_step of best_v; refine by bisection.
    let mut step = last_step / 2;
    while step >= 1 {
        for d in [-step, step] {
            let v = i32::from(best_v) + d;
            if (0..=i32::from(max)).contains(&v) {
                let c = eval(v as u8);
                if c.1 < best.1 {
                    (best_v, best) = (v as u8, c);
                    break;
                }
            }
        }
        step /= 2;
    }
    best
}

/// `q` code closest to a scale of `s` buckets.
fn q_for_scale(s: f64) -> u8 {
    if s > 0.0 {
        ((s.log2() - f64::from(Q_MIN_LOG2)) * Q_PER_OCTAVE)
            .round()
            .clamp(0.0, 255.0) as u8
    } else {
        0
    }
}

impl ModelCode {
    /// Fits a model to `residuals` and returns it with the estimated encoded
    /// size in bytes (parameters + rANS stream including its 4 state bytes;
    /// an upper bound, usually 0-2 bytes above the actual size).
    /// Returns `None` for an empty input (or more than `u32::MAX` values).
    pub(crate) fn choose(residuals: &[i64]) -> Option<(ModelCode, usize)> {
        let n = residuals.len();
        if n == 0 || u32::try_from(n).is_err() {
            return None;
        }
        // Pass 1: a robust magnitude estimate from the bit-length histogram
        // (the 75% quantile of |r|; outliers do not move it).
        // Four interleaved sub-histograms avoid store-to-load stalls on
        // repeated lengths.
        let mut sub = [[0u32; 65]; 4];
        let quads = residuals.chunks_exact(4);
        for &r in quads.remainder() {
            sub[0][bit_len(zigzag(r)) as usize] += 1;
        }
        for q in quads {
            for (s, &r) in sub.iter_mut().zip(q) {
                s[bit_len(zigzag(r)) as usize] += 1;
            }
        }
        let mut lens = [0u32; 65];
        for (l, c) in lens.iter_mut().enumerate() {
            *c = sub[0][l] + sub[1][l] + sub[2][l] + sub[3][l];
        }
        let target = (n - n / 4) as u32;
        let mut below = 0u32;
        let mut lg_q75 = 0.0;
        for (l, &c) in lens.iter().enumerate() {
            if below + c >= target {
                // zigzag length l means |r| in [2^(l-2), 2^(l-1)).
                lg_q75 = l as f64 - 2.0 + f64::from(target - below) / f64::from(c.max(1));
                break;
            }
            below += c;
        }
        // q75 of |N(0, sigma)| is 1.15 sigma; start one k finer than the
        // target so the histogram can be coarsened after measuring the RMS.
        let k_target = (lg_q75 - 0.2 - S_MIN.log2()).floor();
        let k0 = (k_target - 1.0).clamp(0.0, 62.0) as u32;

        // Pass 2: histogram.
        let mut h = Hist::build(residuals, k0);
        let (n_in, m2, _) = h.moments();
        let rms = if n_in > 0.0 { (m2 / n_in).sqrt() } else { 0.0 };
        let mut sigma = rms;
        for _ in 0..2 {
            if sigma < 2.0 * S_MIN || h.k >= 62 {
                break;
            }
            h.coarsen();
            sigma *= 0.5;
        }
        let k = h.k as u8;
        h.compact();
        let (n_in, m2, m1) = h.moments();
        let (m2, m1) = if n_in > 0.0 {
            (m2 / n_in, m1 / n_in)
        } else {
            (0.0, 0.0)
        };
        let sheppard = if k > 0 { 1.0 / 12.0 } else { 0.0 };
        let mut s_gauss = (m2 - sheppard).max(0.0).sqrt();
        let mut s_laplace = m1;
        if k == 0 && s_gauss < 0.8 {
            // Small integers: moments are poor estimates of the discrete
            // model's scale; match the ratio P(+-1) / P(0) instead.
            let at = |b: i64| {
                usize::try_from(b - h.base)
                    .ok()
                    .filter(|&i| (h.lo..h.hi).contains(&i))
                    .map_or(0.0, |i| f64::from(h.counts[i]))
            };
            let ratio = (at(1) + at(-1)) / (2.0 * at(0));
            if ratio > 0.0 && ratio < 1.0 {
                s_gauss = (-0.5 / ratio.ln()).sqrt();
            }
        }
        if k == 0 && m1 > 0.0 {
            // Two-sided geometric with ratio theta: E|b| = 2 theta / (1 - theta^2).
            let theta = ((1.0 + m1 * m1).sqrt() - 1.0) / m1;
            s_laplace = -1.0 / theta.ln();
        }

        // Buckets per side needed to cover everything in the histogram.
        let need = if h.hi > h.lo {
            (-(h.base + h.lo as i64)).max(h.base + h.hi as i64)
        } else {
            1
        };
        let mut scratch = Scratch::default();
        let mut eval = |m: ModelCode| -> Scored {
            let (bits, esc) = cost_bits(&m, &h, &mut scratch);
            (m, bits + 8.0 * m.params_len() as f64, esc)
        };
        let gauss = ModelCode {
            shape: Shape::Gauss,
            k,
            tail: GAUSS_TAIL_DEFAULT,
            esc: 0,
            q: q_for_scale(s_gauss),
        };
        let laplace = ModelCode {
            shape: Shape::Laplace,
            tail: LAPLACE_TAIL_DEFAULT,
            q: q_for_scale(s_laplace),
            ..gauss
        };
        // Which shapes to try: m1 / sqrt(m2) is 0.80 for Gauss and 0.71 for
        // Laplace; skip the clearly worse one (only meaningful when the
        // scale spans several buckets).
        let ratio = m1 / m2.sqrt();
        let clear = s_gauss >= 4.0;
        let mut starts: [Option<Scored>; 2] = [None, None];
        if !(clear && ratio < 0.73) {
            starts[0] = Some(eval(gauss));
        }
        if !(clear && ratio > 0.775) {
            starts[1] = Some(eval(laplace));
        }
        let mut best = match starts {
            [Some(g), Some(l)] => {
                if l.1 < g.1 {
                    l
                } else {
                    g
                }
            }
            [Some(x), None] | [None, Some(x)] => x,
            [None, None] => return None,
        };
        // The moment estimates are the maximum-likelihood scales of the
        // continuous shapes; search the scale only where discretisation or
        // escapes make them inaccurate (small scales, outliers), for each
        // shape that is within 0.5% of the best.
        for start in starts.into_iter().flatten() {
            let m0 = start.0;
            let clamped = m0.q == 0 || m0.q == 255;
            if start.1 > best.1 * 1.005 || (m0.scale() >= 4.0 && start.2 == 0 && !clamped) {
                continue;
            }
            let c = line_search(m0.q, start, 255, true, &mut |q| eval(ModelCode { q, ..m0 }));
            if c.1 < best.1 {
                best = c;
            }
        }
        // Table extent (costs the extension byte unless it is the default):
        // the smallest tail index that covers the histogram (larger ones
        // only waste probability on empty buckets), then smaller ones (some
        // values escape).
        let m0 = best.0;
        let s = m0.scale();
        let mut cover = ModelCode { tail: 0, ..m0 };
        while cover.tail < 7 && i64::from(cover.side(s)) < need {
            cover.tail += 1;
        }
        let start = if cover.tail == m0.tail {
            best
        } else {
            eval(cover)
        };
        let c = line_search(cover.tail, start, 7, false, &mut |tail| {
            eval(ModelCode { tail, ..m0 })
        });
        if c.1 < best.1 {
            best = c;
        }
        // Escape frequency, only if something escapes.
        if best.2 > 0 {
            let m0 = best.0;
            best = line_search(m0.esc, best, 3, true, &mut |esc| {
                eval(ModelCode { esc, ..m0 })
            });
        }
        let (m, c, _) = best;
        // The stream is the 4 state bytes plus E emitted bytes with
        // 8 E ~ cost + 24 - log2(final state) <= cost (the state is >= 2^24).
        let bytes = STATE_BYTES + (c / 8.0).ceil() as usize;
        Some((m, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// Uniform in (0, 1).
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        /// Standard normal (Box-Muller).
        fn normal(&mut self) -> f64 {
            let (u1, u2) = (self.uniform(), self.uniform());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }

        /// Standard Laplace (scale 1).
        fn laplace(&mut self) -> f64 {
            let u = self.uniform() - 0.5;
            let m = -(1.0 - 2.0 * u.abs()).ln();
            if u < 0.0 { -m } else { m }
        }
    }

    fn normal_data(seed: u64, n: usize, sigma: f64) -> Vec<i64> {
        let mut rng = Rng(seed);
        (0..n)
            .map(|_| (rng.normal() * sigma).round() as i64)
            .collect()
    }

    fn laplace_data(seed: u64, n: usize, beta: f64) -> Vec<i64> {
        let mut rng = Rng(seed);
        (0..n)
            .map(|_| (rng.laplace() * beta).round() as i64)
            .collect()
    }

    /// Encodes with `m` (header + stream) and returns the bytes.
    fn encode_with(m: &ModelCode, data: &[i64]) -> Vec<u8> {
        let mut buf = Vec::new();
        m.write_params(&mut buf);
        m.encode(data, &mut buf);
        buf
    }

    /// Decodes `n` values from header + stream.
    fn decode_all(buf: &[u8], n: usize) -> Result<Vec<i64>, &'static str> {
        let mut pos = 0;
        let m = ModelCode::read_params(buf, &mut pos)?;
        let mut d = m.decoder(&buf[pos..])?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(d.next()?);
        }
        d.finish()?;
        Ok(out)
    }

    /// choose + encode + decode; checks the round trip and the size estimate.
    /// Returns (model, total bytes).
    fn roundtrip(data: &[i64]) -> (ModelCode, usize) {
        let (m, est) = ModelCode::choose(data).expect("non-empty");
        let buf = encode_with(&m, data);
        let back = decode_all(&buf, data.len()).expect("valid stream");
        assert_eq!(back, data, "round trip with {m:?}");
        assert!(
            est + 2 >= buf.len() && est <= buf.len() + 4,
            "estimate {est} vs actual {} ({m:?})",
            buf.len()
        );
        (m, buf.len())
    }

    #[test]
    fn log2_fix_is_accurate() {
        for x in (1..=TOTAL)
            .step_by(7)
            .chain([1, 2, 3, TOTAL - 1, TOTAL, 1 << 31])
        {
            let err = f64::from(log2_fix(x)) / f64::from(1u32 << 24) - f64::from(x).log2();
            assert!(err.abs() < 3e-6, "log2({x}): {err}");
        }
    }

    #[test]
    fn det_exp_is_accurate() {
        let mut x = -240.0;
        while x < 5.0 {
            let (a, b) = (det_exp(x), x.exp());
            if x < -230.0 {
                assert_eq!(a, 0.0);
            } else {
                assert!(((a - b) / b).abs() < 1e-14, "exp({x}) = {a} vs {b}");
            }
            x += 0.0137;
        }
        assert_eq!(det_exp(0.0), 1.0);
        assert_eq!(det_exp(f64::NAN), 0.0);
    }

    #[test]
    fn every_table_is_valid() {
        let mut scratch = Scratch::default();
        for shape in [Shape::Gauss, Shape::Laplace] {
            for k in [0u8, 1, 7, 53, 54, 55, 61, 62] {
                for tail in 0..8 {
                    for esc in 0..4 {
                        for q in 0..=255 {
                            let m = ModelCode {
                                shape,
                                k,
                                tail,
                                esc,
                                q,
                            };
                            let side = m.build_freqs(&mut scratch);
                            let f = &scratch.freqs;
                            assert!((1..=MAX_SIDE).contains(&side));
                            assert_eq!(f.len(), 2 * side as usize + 1);
                            assert!(f.iter().all(|&x| x >= 1), "{m:?}");
                            assert_eq!(f.iter().sum::<u32>(), TOTAL, "{m:?}");
                            if k >= 54 {
                                assert!(i64::from(side) <= 1 << (63 - k));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Pins the exact tables: any change of the table construction (which
    /// would break decoding of stored data) fails here.
    #[test]
    fn golden_tables() {
        let mut scratch = Scratch::default();
        let mut h = 0xcbf2_9ce4_8422_2325u64; // FNV-1a 64
        let mut count = 0;
        for shape in [Shape::Gauss, Shape::Laplace] {
            for k in [0u8, 3, 62] {
                for tail in [0u8, 3, 7] {
                    for esc in [0u8, 3] {
                        for q in (0..=255).step_by(5) {
                            let m = ModelCode {
                                shape,
                                k,
                                tail,
                                esc,
                                q,
                            };
                            m.build_freqs(&mut scratch);
                            for &f in &scratch.freqs {
                                for byte in f.to_le_bytes() {
                                    h = (h ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
                                }
                                count += 1;
                            }
                        }
                    }
                }
            }
        }
        println!("golden: count {count} hash {h:#018x}");
        assert_eq!((count, h), (80472, 0xe009_fa2e_252e_9439));
        // Two tables in full, for readability of failures.
        let full: [(ModelCode, &[u32]); 2] = [
            (
                ModelCode {
                    shape: Shape::Gauss,
                    k: 3,
                    tail: 0,
                    esc: 0,
                    q: 128,
                },
                &[1, 46, 981, 7713, 22319, 23759, 9304, 1340, 71, 1, 1],
            ),
            (
                ModelCode {
                    shape: Shape::Laplace,
                    k: 0,
                    tail: 0,
                    esc: 1,
                    q: 100,
                },
                &[5, 31, 194, 1212, 7585, 47471, 7585, 1212, 194, 31, 16],
            ),
        ];
        for (m, want) in full {
            m.build_freqs(&mut scratch);
            println!("golden: {m:?} -> {:?}", scratch.freqs);
            assert_eq!(scratch.freqs, want);
        }
    }

    /// Pins the coder's bytes for one model and three residuals (a bucket, a negative bucket,
    /// an escape), so that a change that still round-trips fails here. Such a change needs a
    /// new format (a new chunk codec id) and a note in `storage/docs/format/chunks.md`. The
    /// decimal codec's `model_coded_chunk_bytes_are_pinned` decodes these bytes in a chunk.
    #[test]
    fn stream_bytes_are_pinned() {
        // The first table `golden_tables` pins: K = 5, symbols b + 5 for buckets -5..5, then
        // ESCAPE; frequencies 1 46 981 7713 22319 23759 9304 1340 71 1 | 1.
        let m = ModelCode {
            shape: Shape::Gauss,
            k: 3,
            tail: 0,
            esc: 0,
            q: 128,
        };
        // Encoding runs backwards from x = 2^24 (emitted bytes in brackets):
        //   40: b = 5 is outside the table: ESCAPE. z = zigzag(40) = 80, 7 bits: its low 6
        //       bits 16 raw (x < 2^26, no byte: x = 2^30 + 16), then ESCAPE (cum 65535, f 1)
        //       fused with L - 1 = 6 (bound 1 << 10: [0x10 0x00 0x00], x = 64):
        //       x = (64 << 6 | 6) << 16 + 65535 = 268_894_207
        //   -9: b = -2 (symbol 3: cum 1028, f 7713), offset 7; bound 7713 << 13: [0xff],
        //       x = 1_050_367 << 3 | 7 = 8_402_943 = 1089 · 7713 + 3486:
        //       x = 1089 << 16 + 3486 + 1028 = 71_373_218
        //    3: b = 0 (symbol 5: cum 31060, f 23759), offset 3; below the bound, no byte:
        //       x << 3 | 3 = 570_985_747 = 24032 · 23759 + 9459:
        //       x = 24032 << 16 + 9459 + 31060 = 0x5de0_9e47
        // The stream is that state, big-endian, then the bytes in the reverse of emission.
        let want = [0x5d, 0xe0, 0x9e, 0x47, 0xff, 0x00, 0x00, 0x10];
        let mut params = Vec::new();
        m.write_params(&mut params);
        // k 3 | Gauss (0 << 6) | extended (1 << 7): tail 0 is not Gauss' default; q;
        // tail 0 | escape frequency code 0 (<< 3).
        assert_eq!(params, [0x83, 0x80, 0x00]);
        let mut stream = Vec::new();
        m.encode(&[3, -9, 40], &mut stream);
        assert_eq!(stream, want, "{stream:02x?}");
        assert_eq!(decode_all(&[params, stream].concat(), 3), Ok(vec![3, -9, 40]));
    }

    /// Round trips of one family of data for each of its parameters and sizes, printing the
    /// cost at n = 8640.
    fn roundtrip_family(
        name: &str,
        params: &[f64],
        sizes: &[usize],
        data_of: fn(u64, usize, f64) -> Vec<i64>,
    ) {
        for (i, &p) in params.iter().enumerate() {
            for &n in sizes {
                let data = data_of(i as u64 * 1000 + n as u64, n, p);
                let (m, bytes) = roundtrip(&data);
                if n == 8640 {
                    println!(
                        "{name} {p:>8}: n {n} bytes {bytes} ({:.3} bits/value) {m:?}",
                        bytes as f64 * 8.0 / n as f64
                    );
                }
            }
        }
    }

    #[test]
    fn roundtrip_normal() {
        let sigmas = [0.3, 1.0, 3.0, 10.0, 100.0, 1e4, 1e9];
        roundtrip_family(
            "normal sigma",
            &sigmas,
            &[1, 2, 3, 720, 8640, 16384],
            normal_data,
        );
    }

    #[test]
    fn roundtrip_laplace() {
        let betas = [0.2, 1.0, 5.0, 77.0, 3e5, 1e12];
        roundtrip_family("laplace beta", &betas, &[1, 2, 720, 8640], laplace_data);
    }

    #[test]
    fn roundtrip_edge_cases() {
        let big = [i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1, 0, -1, 1];
        let mut cases: Vec<Vec<i64>> = vec![
            vec![0],
            vec![i64::MIN],
            vec![i64::MAX],
            vec![0; 720],
            vec![0; 16384],
            vec![5; 720],
            vec![-123_456_789_012; 100],
            vec![i64::MIN; 50],
            vec![i64::MAX; 50],
            (0..720)
                .map(|i| if i % 2 == 0 { i64::MAX } else { -i64::MAX })
                .collect(),
            (0..720)
                .map(|i| if i % 2 == 0 { i64::MAX } else { i64::MIN })
                .collect(),
            (0..1000).map(|i| big[i % big.len()]).collect(),
            (0..64).map(|i| 1i64 << i).collect(),
            (0..64).map(|i| (1i64 << i).wrapping_neg()).collect(),
            (0..64).map(|i| (1i64 << i).wrapping_sub(1)).collect(),
            (-1000..1000).collect(),
        ];
        // Normal data with outliers.
        let mut d = normal_data(1, 8640, 100.0);
        d[4000] = 1 << 40;
        cases.push(d.clone());
        d[10] = i64::MIN;
        d[11] = i64::MAX;
        cases.push(d);
        let mut d = normal_data(2, 720, 3.0);
        d[0] = -(1 << 62);
        cases.push(d);
        // Sparse: mostly zero, some large.
        let mut rng = Rng(3);
        cases.push(
            (0..5000)
                .map(|_| {
                    if rng.next_u64().is_multiple_of(10) {
                        (rng.normal() * 1e6) as i64
                    } else {
                        0
                    }
                })
                .collect(),
        );
        // Uniform random i64.
        cases.push((0..2000).map(|_| rng.next_u64() as i64).collect());
        // Random bit lengths.
        cases.push(
            (0..4000)
                .map(|_| {
                    let b = rng.next_u64() % 64;
                    (rng.next_u64() >> b) as i64
                })
                .collect(),
        );
        for data in &cases {
            let (m, bytes) = roundtrip(data);
            println!("edge n {:>5}: {bytes:>6} bytes {m:?}", data.len());
        }
    }

    /// The coder itself, independent of `choose`: random models on random data.
    #[test]
    fn roundtrip_random_models() {
        let mut rng = Rng(42);
        // Bit length of the final encoder state (the stream's first 4 bytes).
        let mut state_bits = [0; 33];
        for round in 0..3000 {
            let m = ModelCode {
                shape: if rng.next_u64() & 1 == 0 {
                    Shape::Gauss
                } else {
                    Shape::Laplace
                },
                k: (rng.next_u64() % 63) as u8,
                tail: (rng.next_u64() % 8) as u8,
                esc: (rng.next_u64() % 4) as u8,
                q: rng.next_u64() as u8,
            };
            let n = 1 + (rng.next_u64() % 300) as usize;
            let shift = rng.next_u64() % 64;
            let data: Vec<i64> = (0..n)
                .map(|_| match rng.next_u64() % 8 {
                    0 => rng.next_u64() as i64,
                    1 => (rng.next_u64() as i64) >> shift,
                    2 => [i64::MIN, i64::MAX, 0, -1][(rng.next_u64() % 4) as usize],
                    _ => (rng.normal() * 2f64.powi((shift % 63) as i32)) as i64,
                })
                .collect();
            let buf = encode_with(&m, &data);
            let back = decode_all(&buf, n);
            assert_eq!(back.as_deref(), Ok(&data[..]), "round {round} {m:?}");
            let stream = &buf[m.params_len()..];
            let x = u32::from_be_bytes(*stream.first_chunk::<4>().unwrap());
            state_bits[bit_len(u64::from(x)) as usize] += 1;
            // One value fewer or more than encoded is always an error.
            assert!(decode_all(&buf, n - 1).is_err(), "round {round}: n - 1");
            assert!(decode_all(&buf, n + 1).is_err(), "round {round}: n + 1");
        }
        println!("final state bit lengths: {state_bits:?}");
        assert_eq!(state_bits[..=STATE_BITS as usize].iter().sum::<i32>(), 0);
    }

    /// Ideal cost in bits per value of the integer-rounded Normal(0, sigma):
    /// the entropy of the discretised distribution.
    fn discretized_normal_entropy(sigma: f64) -> f64 {
        let lim = (12.0 * sigma).ceil() as i64;
        (-lim..=lim)
            .map(|x| p_normal(x, sigma))
            .filter(|&p| p > 0.0)
            .map(|p| -p * p.log2())
            .sum()
    }

    /// Probability of integer x under round(N(0, sigma)).
    fn p_normal(x: i64, sigma: f64) -> f64 {
        let pdf = |t: f64| {
            (-0.5 * (t / sigma).powi(2)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt())
        };
        let steps = 16;
        let dx = 1.0 / f64::from(steps);
        let mut p = pdf(x as f64 - 0.5) + pdf(x as f64 + 0.5);
        for j in 1..steps {
            let t = x as f64 - 0.5 + f64::from(j) * dx;
            p += pdf(t) * if j % 2 == 1 { 4.0 } else { 2.0 };
        }
        p * dx / 3.0
    }

    /// Coded size vs. the ideal `n * H` of round(N(0, 100)) (the entropy of
    /// the true distribution; the sample's own cost under the true model is
    /// printed too, it differs from `n * H` by sampling noise).
    #[test]
    fn efficiency_normal() {
        let sigma = 100.0;
        let h = discretized_normal_entropy(sigma);
        println!("entropy of round(N(0, {sigma})): H = {h:.5} bits/value");
        for (n, slack) in [(8640usize, 1.004), (720, 1.015)] {
            let (mut total_bytes, mut total_ideal) = (0.0, 0.0);
            for seed in 0..8u64 {
                let data = normal_data(seed * 77 + 5, n, sigma);
                let (m, bytes) = roundtrip(&data);
                let ideal = n as f64 * h / 8.0;
                let sample: f64 = data
                    .iter()
                    .map(|&x| -p_normal(x, sigma).log2())
                    .sum::<f64>()
                    / 8.0;
                println!(
                    "n {n:>5} seed {seed}: {bytes} bytes; n*H/8 = {ideal:.1} (ratio {:.5}); \
                     sample under true model {sample:.1} (ratio {:.5}); {m:?}",
                    bytes as f64 / ideal,
                    bytes as f64 / sample,
                );
                assert!(
                    bytes as f64 <= slack * ideal + 16.0,
                    "n {n}: {bytes} bytes vs ideal {ideal:.1}"
                );
                total_bytes += bytes as f64;
                total_ideal += ideal;
            }
            println!(
                "n {n:>5}: mean bytes / (n*H/8) = {:.5}",
                total_bytes / total_ideal
            );
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng(7);
        let mut errors = 0;
        for round in 0..20000 {
            let len = (rng.next_u64() % 80) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if round % 2 == 0 && buf.len() >= 3 {
                // Mostly valid parameters so the coder itself gets exercised.
                buf[0] = (buf[0] % 63) | (buf[0] & 0xc0);
                buf[2] &= 0x1f;
            }
            let n = 1 + (rng.next_u64() % 200) as usize;
            if decode_all(&buf, n).is_err() {
                errors += 1;
            }
        }
        println!("garbage: {errors} of 20000 random inputs rejected");
        // Valid streams with a few flipped bits, decoded with too few, the
        // right number or too many values.
        let mut errors = 0;
        let mut total = 0;
        for seed in 0..300u64 {
            let n = 1 + (rng.next_u64() % 500) as usize;
            let data = match seed % 3 {
                0 => normal_data(seed, n, 50.0),
                1 => laplace_data(seed, n, 2.0),
                _ => (0..n)
                    .map(|_| (rng.next_u64() as i64) >> (seed % 64))
                    .collect(),
            };
            let (m, _) = ModelCode::choose(&data).unwrap();
            let buf = encode_with(&m, &data);
            for _ in 0..20 {
                let mut bad = buf.clone();
                for _ in 0..1 + rng.next_u64() % 3 {
                    let i = (rng.next_u64() % bad.len() as u64) as usize;
                    bad[i] ^= 1 << (rng.next_u64() % 8);
                }
                let count = match rng.next_u64() % 3 {
                    0 => n - 1,
                    1 => n,
                    _ => n + 1,
                };
                total += 1;
                match decode_all(&bad, count) {
                    Err(_) => errors += 1,
                    Ok(v) => assert!(count != n || v != data || bad == buf),
                }
            }
        }
        println!("garbage: {errors} of {total} corrupted streams rejected");
    }

    /// `choose` on assorted distributions: round trip and size estimate.
    #[test]
    fn roundtrip_assorted() {
        let mut rng = Rng(11);
        let mut worst = (0i64, 0i64);
        for round in 0..400 {
            let n = 1 + (rng.next_u64() % 3000) as usize;
            let scale = 2f64.powf((rng.next_u64() % 600) as f64 / 10.0);
            let p_out = [0.0, 0.001, 0.02, 0.3][round % 4];
            let offset = [0i64, 1, -7, 1 << 40][(round / 4) % 4];
            let data: Vec<i64> = (0..n)
                .map(|_| {
                    let x = if rng.uniform() < p_out {
                        (rng.next_u64() as i64) >> (rng.next_u64() % 64)
                    } else if round % 3 == 0 {
                        (rng.laplace() * scale) as i64
                    } else if round % 3 == 1 {
                        (rng.normal() * scale) as i64
                    } else {
                        ((rng.uniform() - 0.5) * scale) as i64
                    };
                    x.wrapping_add(offset)
                })
                .collect();
            let (m, est) = ModelCode::choose(&data).unwrap();
            let buf = encode_with(&m, &data);
            assert_eq!(decode_all(&buf, n).as_deref(), Ok(&data[..]), "{m:?}");
            let d = est as i64 - buf.len() as i64;
            worst = (worst.0.min(d), worst.1.max(d));
        }
        println!("estimate - actual bytes within {worst:?}");
        assert!(worst.0 >= -2 && worst.1 <= 4);
    }

    #[test]
    fn truncation_is_detected() {
        let mut checked = 0;
        let mut rng = Rng(13);
        for seed in 0..400u64 {
            let n = 1 + (rng.next_u64() % 1000) as usize;
            let data = match seed % 5 {
                0 => normal_data(seed, n, 100.0),
                1 => laplace_data(seed, n, 3.0),
                2 => normal_data(seed, n, 1e9),
                3 => normal_data(seed, n, 0.7),
                _ => (0..n).map(|_| rng.next_u64() as i64).collect(),
            };
            let (m, _) = ModelCode::choose(&data).unwrap();
            let buf = encode_with(&m, &data);
            let stream_len = buf.len() - m.params_len();
            let cuts = (1..=stream_len.min(16))
                .chain((0..8).map(|_| 1 + (rng.next_u64() % stream_len as u64) as usize));
            for cut in cuts {
                let short = &buf[..buf.len() - cut];
                assert!(
                    decode_all(short, data.len()).is_err(),
                    "seed {seed}: truncation by {cut} of {} accepted",
                    buf.len()
                );
                checked += 1;
            }
            // Trailing bytes are rejected too.
            let mut long = buf.clone();
            long.push(0);
            assert!(decode_all(&long, data.len()).is_err());
        }
        println!("truncation: {checked} truncated streams rejected");
    }

    #[test]
    fn bad_params_are_rejected() {
        let mut pos = 0;
        assert!(ModelCode::read_params(&[], &mut pos).is_err());
        assert!(ModelCode::read_params(&[1], &mut pos).is_err());
        assert!(
            ModelCode::read_params(&[63, 0], &mut pos).is_err(),
            "k = 63"
        );
        assert!(
            ModelCode::read_params(&[0x80, 0], &mut pos).is_err(),
            "no ext"
        );
        assert!(ModelCode::read_params(&[0x80, 0, 0x20], &mut pos).is_err());
        let non_canonical = [0x80, 0, GAUSS_TAIL_DEFAULT];
        assert!(ModelCode::read_params(&non_canonical, &mut pos).is_err());
        assert_eq!(pos, 0);
        let mut pos = 1;
        assert!(ModelCode::read_params(&[9, 1, 2, 3], &mut pos).is_ok());
        assert_eq!(pos, 3);
        let mut pos = 5;
        assert!(ModelCode::read_params(&[9, 1, 2, 3], &mut pos).is_err());
        // Every accepted header re-serialises to exactly the bytes consumed.
        for b0 in 0..=255u8 {
            for q in [0u8, 1, 77, 255] {
                for e in 0..=255u8 {
                    let b = [b0, q, e];
                    let mut pos = 0;
                    match ModelCode::read_params(&b, &mut pos) {
                        Ok(m) => {
                            let mut out = Vec::new();
                            m.write_params(&mut out);
                            assert_eq!(out, &b[..pos]);
                            assert_eq!(pos, m.params_len());
                        }
                        Err(_) => assert!(b0 & 63 == 63 || b0 & 128 != 0),
                    }
                }
            }
        }
    }
}
