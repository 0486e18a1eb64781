//! The bit codings of a zigzagged residual sequence (`SeqCode`: all-zero, Rice, zero-flag
//! Rice, packed) and the Rice code itself with its escape, which the decimal stream shares.
//! It owns choosing the cheapest coding by its exact size and writing and reading it; it must
//! not know what the residuals are (times or values) or how a chunk frames them.
//!
//! ```text
//!  mode 0 zero       nothing (all z are 0)
//!  mode 1 Rice(k)    q = z >> k ones, a 0, the low k bits; q >= 32: 32 ones, len-1:6, z
//!  mode 2 zero-flag  0 for z = 0, else 1 and Rice(k) of z - 1
//!  mode 3 packed(w)  z in w bits
//! ```

use crate::codec::{BitReader, BitSink, BitWriter, corrupt};
use crate::error::Result;

/// Rice quotients from this on are escaped; also the longest unary run.
pub(crate) const ESCAPE: u64 = 32;

pub(super) const MODE_ZERO: u8 = 0;
pub(super) const MODE_RICE: u8 = 1;
pub(super) const MODE_ZERO_FLAG: u8 = 2;
pub(super) const MODE_PACKED: u8 = 3;

/// How one residual sequence is coded: mode, its parameter (Rice k, or packed width - 1), and
/// (when chosen by the encoder) its size in bits.
#[derive(Debug, Clone, Copy)]
pub(super) struct SeqCode {
    pub(super) mode: u8,
    pub(super) param: u8,
    pub(super) bits: u64,
}

/// Bits of Rice(k) for z, with the escape.
#[inline]
pub(super) fn rice_bits(z: u64, k: u32) -> u64 {
    let q = z >> k;
    if q < ESCAPE {
        q + 1 + u64::from(k)
    } else {
        ESCAPE + 6 + u64::from(64 - z.leading_zeros())
    }
}

impl SeqCode {
    pub(super) fn new(mode: u8, param: u8) -> Self {
        SeqCode {
            mode,
            param,
            bits: 0,
        }
    }

    /// The cheapest coding of `res`: exact sizes, Rice k by a local search from an estimate,
    /// and the zero flag only tried when zeros are common enough to pay for it.
    pub(super) fn choose(res: &[u64]) -> SeqCode {
        let (mut max, mut sum, mut zeros) = (0u64, 0u128, 0u64);
        for &z in res {
            max = max.max(z);
            sum += u128::from(z);
            zeros += u64::from(z == 0);
        }
        if max == 0 {
            return SeqCode::new(MODE_ZERO, 0);
        }
        let n = res.len() as u64;
        let width = 64 - max.leading_zeros();
        let mut best = SeqCode {
            mode: MODE_PACKED,
            param: (width - 1) as u8,
            bits: n * u64::from(width),
        };
        let mean = |sum: u128, n: u64| (sum / u128::from(n.max(1))) as u64;
        let (k, bits) = best_k(mean(sum, n), |k| res.iter().map(|&z| rice_bits(z, k)).sum());
        if bits < best.bits {
            best = SeqCode {
                mode: MODE_RICE,
                param: k as u8,
                bits,
            };
        }
        // The flag saves about k bits per zero and costs 1 bit per other value.
        let nonzero = n - zeros;
        if zeros * u64::from(k.max(1)) > nonzero {
            let (k, bits) = best_k(mean(sum - u128::from(nonzero), nonzero), |k| {
                n + res
                    .iter()
                    .filter(|&&z| z != 0)
                    .map(|&z| rice_bits(z - 1, k))
                    .sum::<u64>()
            });
            if bits < best.bits {
                best = SeqCode {
                    mode: MODE_ZERO_FLAG,
                    param: k as u8,
                    bits,
                };
            }
        }
        best
    }

    pub(super) fn write_all(&self, w: &mut BitWriter<'_>, res: &[u64]) {
        let p = u32::from(self.param);
        match self.mode {
            MODE_RICE => res.iter().for_each(|&z| write_rice(w, z, p)),
            MODE_ZERO_FLAG => {
                for &z in res {
                    if z == 0 {
                        w.write(0, 1);
                    } else {
                        w.write(1, 1);
                        write_rice(w, z - 1, p);
                    }
                }
            }
            MODE_PACKED => res.iter().for_each(|&z| w.write_long(z, p + 1)),
            _ => {}
        }
    }

    /// Reads one residual.
    #[inline]
    pub(super) fn read(&self, r: &mut BitReader<'_>) -> Result<u64> {
        let p = u32::from(self.param);
        match self.mode {
            MODE_RICE => read_rice(r, p),
            MODE_ZERO_FLAG => {
                if r.read(1) == 0 {
                    Ok(0)
                } else {
                    Ok(read_rice(r, p)?.wrapping_add(1))
                }
            }
            MODE_PACKED => Ok(r.read_long(p + 1)),
            _ => Ok(0),
        }
    }
}

/// Minimises `cost(k)` over k in 0..=63 by walking downhill from an estimate based on the
/// mean residual; returns (k, cost).
fn best_k(mean: u64, cost: impl Fn(u32) -> u64) -> (u32, u64) {
    let mut k = (63 - (mean | 1).leading_zeros()).min(63);
    let mut best = cost(k);
    for step in [-1i32, 1] {
        loop {
            let next = k as i32 + step;
            if !(0..=63).contains(&next) {
                break;
            }
            let c = cost(next as u32);
            if c >= best {
                break;
            }
            (k, best) = (next as u32, c);
        }
    }
    (k, best)
}

#[inline]
pub(crate) fn write_rice(w: &mut impl BitSink, z: u64, k: u32) {
    let q = z >> k;
    if q < ESCAPE {
        // q ones and a zero, then the low k bits.
        let unary = ((1u64 << q) - 1) << 1;
        if q + 1 + u64::from(k) <= 32 {
            w.write((unary << k) | (z & ((1u64 << k) - 1)), q as u32 + 1 + k);
        } else {
            w.write(unary, q as u32 + 1);
            w.write_long(z, k);
        }
    } else {
        let len = 64 - z.leading_zeros();
        w.write((1u64 << ESCAPE) - 1, ESCAPE as u32);
        w.write(u64::from(len - 1), 6);
        w.write_long(z, len);
    }
}

#[inline]
pub(crate) fn read_rice(r: &mut BitReader<'_>, k: u32) -> Result<u64> {
    let w = r.peek();
    let q = (!w).leading_zeros();
    if u64::from(q) < ESCAPE {
        if q + 1 + k <= 57 {
            // Fast path: quotient and remainder from the same 57 valid bits.
            r.skip(q + 1 + k);
            let low = ((w << (q + 1)) >> 1) >> (63 - k);
            return Ok((u64::from(q) << k) | low);
        }
        r.skip(q + 1);
        return Ok((u64::from(q) << k) | r.read_long(k));
    }
    r.skip(ESCAPE as u32);
    let len = r.read(6) as u32 + 1;
    let z = r.read_long(len);
    if z >> k < ESCAPE {
        return Err(corrupt("decimal: escape for a small value"));
    }
    Ok(z)
}
