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
//! factors come from `det_exp` (`model.rs`), an `exp` made only of IEEE `+ - * /` with
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
//! [`decode::ModelDecoder::next`] only fails for an ESCAPE that codes an in-table
//! value; [`ModelCode::decoder`] rejects a stream shorter than 4 bytes or
//! starting with a state below `L`. [`decode::ModelDecoder::finish`] checks that
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
//!
//! # Files
//!
//! ```text
//!  residuals ──► fit.rs ──────► ModelCode (shape, k, scale, tail, escape) + estimated bytes
//!                 (ModelCode::choose: histograms, moment estimates, exact costs)
//!  ModelCode ──► model.rs ────► frequency table (det_exp: IEEE + - * / only), 2-3 param bytes
//!  residuals ──► encode.rs ───► rANS stream (Encoder: backwards, then reversed)
//!  stream ─────► decode.rs ───► residuals (ModelDecoder: LUT, branch-free renormalisation)
//! ```
//!
//! This module owns the model-coded residual format and nothing else: it knows no chunks,
//! samples or timestamps (the decimal codec frames its output and decides when to use it),
//! and it must never change the bytes it writes or accepts for given parameters without a new
//! chunk codec id (`model_test.rs` pins the tables, `rans_test.rs` a stream).

mod decode;
mod encode;
mod fit;
mod model;

pub(crate) use model::ModelCode;

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
/// Maximum raw bits per rANS step (a piece of a raw field).
const RAW_PIECE: u32 = 16;

#[inline]
fn bit_len(z: u64) -> u32 {
    64 - z.leading_zeros()
}

#[cfg(test)]
#[path = "rans/rans_test.rs"]
mod tests;
