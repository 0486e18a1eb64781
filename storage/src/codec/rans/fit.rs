//! Choosing the model: `ModelCode::choose` fits a shape, bucket bits and scale to a chunk's
//! residuals from two histograms, then searches scale, table extent and escape frequency by the
//! exact coded size. It only guides the encoder: the parameters it picks are written in the
//! chunk and any valid ones decode, so nothing here is part of the format. It may change
//! freely as long as it only picks parameters: it must not build tables or code anything.

use super::model::{
    ESC_FREQ, GAUSS_TAIL_DEFAULT, LAPLACE_TAIL_DEFAULT, ModelCode, Q_MIN_LOG2, Scratch, Shape, pow2,
};
use super::{PROB_BITS, STATE_BYTES, bit_len};
use crate::codec::zigzag;

/// Scale codes per octave (`log2 s = q / 32 + Q_MIN_LOG2`).
const Q_PER_OCTAVE: f64 = 32.0;
/// `choose` picks `k` so that the fitted scale lands in `[S_MIN, 2 S_MIN)`
/// buckets (or `k = 0` when the data is small).
const S_MIN: f64 = 8.0;

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
#[path = "fit_test.rs"]
mod tests;
