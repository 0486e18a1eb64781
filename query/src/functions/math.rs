//! Element-wise float functions of an instant vector (`abs`, `ln`, `sgn`, `round`, …).
//!
//! Rust's `f64` methods stand in for Go's `math` package. Where Go has its own pure-Go
//! implementation (the trigonometric and hyperbolic functions) the two may differ in the last
//! bit; Prometheus' test scripts compare with a relative tolerance of 1e-6, far above that.

/// Element-wise float functions with one argument: abs, ceil, floor, exp, sqrt, ln, log2,
/// log10, sgn, deg, rad, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, asinh, acosh,
/// atanh. None for other names.
pub fn simple_math(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => sgn,
        "deg" => deg,
        "rad" => rad,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        _ => return None,
    })
}

/// -1 or 1 by sign; zeros (keeping their sign) and NaN are returned as they are.
fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// Radians to degrees, multiplying before dividing as Prometheus does.
fn deg(v: f64) -> f64 {
    v * 180.0 / std::f64::consts::PI
}

/// Degrees to radians, multiplying before dividing as Prometheus does.
fn rad(v: f64) -> f64 {
    v * std::f64::consts::PI / 180.0
}

/// round(v, to_nearest) exactly as Prometheus: `floor(v * inv + 0.5) / inv` with
/// `inv = 1 / to_nearest` (dividing by the inverse rounds better than multiplying by
/// `to_nearest`). Ties round up, towards +Inf.
pub fn round(v: f64, to_nearest: f64) -> f64 {
    let inverse = 1.0 / to_nearest;
    (v * inverse + 0.5).floor() / inverse
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(name: &str, v: f64) -> f64 {
        simple_math(name).expect("known function")(v)
    }

    #[test]
    fn names() {
        assert!(simple_math("round").is_none());
        assert!(simple_math("clamp").is_none());
        assert_eq!(apply("abs", -2.5), 2.5);
        assert_eq!(apply("ceil", 1.2), 2.0);
        assert_eq!(apply("floor", -1.2), -2.0);
        assert_eq!(apply("ln", std::f64::consts::E), 1.0);
        assert_eq!(apply("log2", 8.0), 3.0);
        assert_eq!(apply("log10", 1000.0), 3.0);
        assert!(apply("sqrt", -1.0).is_nan());
        assert_eq!(apply("ln", 0.0), f64::NEG_INFINITY);
        assert_eq!(apply("exp", 0.0), 1.0);
    }

    #[test]
    fn sgn_keeps_zero_and_nan() {
        assert_eq!(apply("sgn", -3.0), -1.0);
        assert_eq!(apply("sgn", 0.5), 1.0);
        assert!(apply("sgn", -0.0).is_sign_negative());
        assert!(apply("sgn", f64::NAN).is_nan());
        assert_eq!(apply("sgn", f64::NEG_INFINITY), -1.0);
    }

    #[test]
    fn degrees_and_radians() {
        // functions.test: deg(pi()) == 180, rad(180) == pi.
        assert_eq!(apply("deg", std::f64::consts::PI), 180.0);
        assert_eq!(apply("rad", 180.0), std::f64::consts::PI);
        assert_eq!(apply("deg", 1.0), 57.29577951308232);
    }

    #[test]
    fn round_like_prometheus() {
        // functions.test "round": ties go up, also for negatives.
        assert_eq!(round(-0.5, 1.0), 0.0);
        assert_eq!(round(0.5, 1.0), 1.0);
        assert_eq!(round(-1.5, 1.0), -1.0);
        assert_eq!(round(1.5, 1.0), 2.0);
        assert_eq!(round(33.0, 10.0), 30.0);
        assert_eq!(round(0.123456, 0.01), 0.12);
        assert_eq!(round(5.0, 0.1), 5.0);
        // to_nearest 0 → inverse Inf → NaN, as in Prometheus.
        assert!(round(1.0, 0.0).is_nan());
        assert!(round(f64::NAN, 1.0).is_nan());
        assert_eq!(round(f64::INFINITY, 1.0), f64::INFINITY);
    }
}
