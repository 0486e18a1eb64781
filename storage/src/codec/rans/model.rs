//! The residual model: the Gauss and Laplace shapes, their parameters (2 or 3 bytes) and the
//! frequency table each set of parameters stands for. The table is part of the format: encoder
//! and decoder must rebuild it bit for bit on every machine, so it is computed with IEEE
//! `+ - * /` only (`det_exp`, no libm), in a fixed order; nothing here may call libm or depend
//! on the platform's floating point. Choosing the parameters is `fit.rs`'s job; coding with the
//! table is `encode.rs`' and `decode.rs`'.

use super::{MAX_SIDE, TOTAL};

/// Scale code: `log2 s = q / 32 + Q_MIN_LOG2`.
pub(super) const Q_MIN_LOG2: i32 = -4;
/// `K = floor(M * s) + 2` per shape and tail index.
const GAUSS_TAIL: [f64; 8] = [3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 8.0, 12.0];
const LAPLACE_TAIL: [f64; 8] = [6.0, 7.0, 8.0, 10.0, 12.0, 14.0, 18.0, 24.0];
/// ESCAPE frequencies (out of `TOTAL`) per `esc` code.
pub(super) const ESC_FREQ: [u32; 4] = [1, 16, 256, 2048];
/// Tail indices implied by a 2-byte header: `K` about 4 s (Gauss) or 10 s
/// (Laplace).
pub(super) const GAUSS_TAIL_DEFAULT: u8 = 2;
pub(super) const LAPLACE_TAIL_DEFAULT: u8 = 3;

const ERR_PARAMS_SHORT: &str = "range: truncated model parameters";
const ERR_PARAMS_K: &str = "range: invalid bucket bits";
const ERR_PARAMS_RESERVED: &str = "range: reserved parameter bits set";

// ---------------------------------------------------------------------------
// Deterministic arithmetic helpers (no libm).

/// `2^e` for `-1022 <= e <= 1023`, exact.
pub(super) fn pow2(e: i32) -> f64 {
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
    pub(super) shape: Shape,
    /// Bucket bits, `0..=62`.
    pub(super) k: u8,
    /// Tail multiplier index, `0..8`.
    pub(super) tail: u8,
    /// Escape frequency index, `0..4`.
    pub(super) esc: u8,
    /// Log scale code: `s = 2^(q/32 - 4)` buckets.
    pub(super) q: u8,
}

/// Frequency table of one model: cumulative frequencies of the `2K + 1`
/// symbols (buckets `-K..K`, then ESCAPE).
pub(super) struct Table {
    pub(super) k: u32,
    pub(super) side: i64,
    /// `cum[i]` = sum of the frequencies of symbols `< i`; `len = 2K + 2`,
    /// `cum[0] = 0`, `cum[2K + 1] = TOTAL`.
    pub(super) cum: Vec<u32>,
}

/// Reusable buffers for table building.
#[derive(Default)]
pub(super) struct Scratch {
    weights: Vec<f64>,
    pub(super) freqs: Vec<u32>,
}

impl ModelCode {
    /// Scale in buckets, `2^(q/32 - 4)`, computed deterministically.
    pub(super) fn scale(&self) -> f64 {
        EXP2_32[usize::from(self.q % 32)] * pow2(i32::from(self.q / 32) + Q_MIN_LOG2)
    }

    /// Number of buckets per side, `K`.
    pub(super) fn side(&self, s: f64) -> u32 {
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
    pub(super) fn build_freqs(&self, scratch: &mut Scratch) -> u32 {
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
    pub(super) fn table(&self) -> Table {
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
}

#[cfg(test)]
#[path = "model_test.rs"]
mod tests;
