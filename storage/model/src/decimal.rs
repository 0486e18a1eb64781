//! Decimal values: a value `v` is a decimal at scale `s` when `v == m / 10^s` exactly (bit for
//! bit) for an integer `m` with `|m| < 2^53`. Most monitoring values are (a 2-decimal gauge, an
//! integer counter), and two formats exploit it with the same definition: the write batch
//! (`write_batch`) stores `m` instead of 8 raw bytes, and the chunk codecs in `cairn-storage`
//! code `m` with delta and Rice or rANS coding.

use crate::sample::Sample;

/// Scales 0..=15: 10^15 is still exact as an f64, and 4 bits of a descriptor hold it.
pub const MAX_SCALE: usize = 15;

pub const POW10: [f64; MAX_SCALE + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The same powers as integers.
pub const POW10_I64: [i64; MAX_SCALE + 1] = {
    let mut p = [1i64; MAX_SCALE + 1];
    let mut i = 1;
    while i <= MAX_SCALE {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// Scaled integers stay below 2^53 in magnitude, where every integer is exact as an f64.
pub const MAX_ABS_INT: i64 = 1 << 53;

/// `v` as an integer at scale `10^s` (= `p`), if that round-trips bit for bit through the
/// decoder's `m as f64 / p`. Refuses NaN, ±Inf, -0.0 (0 comes back as +0.0) and |m| >= 2^53.
#[inline]
pub fn to_int(v: f64, p: f64) -> Option<i64> {
    let m = (v * p).round();
    if m.is_nan() || m.abs() >= MAX_ABS_INT as f64 {
        return None;
    }
    let m = m as i64;
    ((m as f64 / p).to_bits() == v.to_bits()).then_some(m)
}

/// Fills `ints` with every value at the samples' smallest common scale, and returns that
/// scale; None if some value needs more than 15 decimals (or is not finite, or is -0.0).
pub fn scale_to_ints(samples: &[Sample], ints: &mut Vec<i64>) -> Option<usize> {
    let mut s = 0;
    'scale: loop {
        ints.clear();
        for smp in samples {
            if let Some(m) = to_int(smp.v, POW10[s]) {
                ints.push(m);
                continue;
            }
            // This value needs a larger scale: find its smallest, then redo the chunk there
            // (a value that fit a smaller scale almost always fits a larger one, but near
            // 2^53 rounding may differ, so everything is re-checked).
            s = (s + 1..=MAX_SCALE).find(|&s2| to_int(smp.v, POW10[s2]).is_some())?;
            continue 'scale;
        }
        return Some(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_common_scale_is_found() {
        let mut ints = Vec::new();
        let s = |vals: &[f64], ints: &mut Vec<i64>| {
            let samples: Vec<Sample> = vals.iter().map(|&v| Sample::new(0, v)).collect();
            scale_to_ints(&samples, ints)
        };
        assert_eq!(s(&[1.0, 2.0, -3.0], &mut ints), Some(0));
        assert_eq!(ints, [1, 2, -3]);
        assert_eq!(s(&[1.5, 2.25], &mut ints), Some(2));
        assert_eq!(ints, [150, 225]);
        assert_eq!(s(&[0.1, 12.34], &mut ints), Some(2));
        assert_eq!(s(&[f64::NAN], &mut ints), None);
        assert_eq!(s(&[-0.0], &mut ints), None);
        assert_eq!(s(&[f64::INFINITY], &mut ints), None);
        assert_eq!(s(&[0.1 + 0.2], &mut ints), None);
        assert_eq!(s(&[9_007_199_254_740_992.0], &mut ints), None);
    }
}
