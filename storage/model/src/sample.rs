//! Samples: `(i64 milliseconds, f64)`. Prometheus' stale marker (a NaN with a fixed bit
//! pattern) is an ordinary value here and is kept bit for bit.

/// Prometheus' staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Returns true if `v` is Prometheus' stale marker (not any other NaN).
pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One sample: milliseconds since the Unix epoch and a float value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

impl Sample {
    pub fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }

    /// Bitwise equality, so that NaNs (and stale markers) compare equal to themselves.
    pub fn bit_eq(&self, other: &Sample) -> bool {
        self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

/// Appends to `out` the union of two time-sorted sample lists without repeated timestamps;
/// on a timestamp in both, `first`'s sample is kept (in-order data over out-of-order data).
pub fn merge_preferring_first(first: &[Sample], second: &[Sample], out: &mut Vec<Sample>) {
    out.reserve(first.len() + second.len());
    let (mut i, mut j) = (0, 0);
    while i < first.len() && j < second.len() {
        let (a, b) = (first[i], second[j]);
        if a.t <= b.t {
            out.push(a);
            i += 1;
            if a.t == b.t {
                j += 1;
            }
        } else {
            out.push(b);
            j += 1;
        }
    }
    out.extend_from_slice(&first[i..]);
    out.extend_from_slice(&second[j..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_recognised_exactly() {
        assert!(is_stale_marker(f64::from_bits(STALE_NAN_BITS)));
        assert!(!is_stale_marker(f64::NAN));
    }

    #[test]
    fn merge_keeps_the_first_lists_sample_on_a_tie() {
        let a = [Sample::new(1, 1.0), Sample::new(3, 3.0)];
        let b = [
            Sample::new(2, 20.0),
            Sample::new(3, 30.0),
            Sample::new(4, 40.0),
        ];
        let mut out = Vec::new();
        merge_preferring_first(&a, &b, &mut out);
        let got: Vec<(i64, f64)> = out.iter().map(|s| (s.t, s.v)).collect();
        assert_eq!(got, [(1, 1.0), (2, 20.0), (3, 3.0), (4, 40.0)]);
    }
}
