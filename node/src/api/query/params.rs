//! The query API's parameters, parsed and reported as Prometheus does: a bad one is a 400
//! `bad_data` saying `invalid parameter "<name>": ...`.

use crate::api::{ApiError, Params};
use crate::timeparse::parse_time_ms;

/// `invalid parameter "<name>": <reason>`
pub fn invalid(name: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_data(format!("invalid parameter {name:?}: {reason}"))
}

/// A time (RFC 3339 or Unix seconds) in ms; `default` when absent, required when `None`.
pub fn time_param(params: &Params, name: &str, default: Option<i64>) -> Result<i64, ApiError> {
    match (params.get(name), default) {
        (None | Some(""), Some(d)) => Ok(d),
        (v, _) => {
            let v = v.unwrap_or("");
            parse_time_ms(v)
                .ok_or_else(|| invalid(name, format!("cannot parse {v:?} to a valid timestamp")))
        }
    }
}

/// An optional duration parameter in ms.
pub fn duration_param(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(None),
        Some(v) => parse_duration_ms(v).map(Some).map_err(|e| invalid(name, e)),
    }
}

/// Prometheus' API durations: float seconds (`15`, `0.5`, `-1`) or a duration (`1m30s`).
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let ms = (secs * 1000.0).round();
        if !ms.is_finite() || ms.abs() > 9.2e15 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ms as i64);
    }
    cairn_model::units::parse_duration_ms(s)
        .ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

/// `11000` → `11,000`, as Prometheus spells the resolution limit.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn durations_are_float_seconds_or_prometheus_durations() {
        assert_eq!(parse_duration_ms("15"), Ok(15_000));
        assert_eq!(parse_duration_ms("0.5"), Ok(500));
        assert_eq!(parse_duration_ms("-1"), Ok(-1000));
        assert_eq!(parse_duration_ms("15s"), Ok(15_000));
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        let e = parse_duration_ms("soon").unwrap_err();
        assert_eq!(e, "cannot parse \"soon\" to a valid duration");
        assert!(parse_duration_ms("1e30").unwrap_err().contains("overflows"));
        assert!(parse_duration_ms("NaN").is_err());
    }

    #[test]
    fn times_default_or_name_the_parameter() {
        let p = params(&[("time", "1700000000.5"), ("bad", "noon")]);
        assert_eq!(time_param(&p, "time", None).unwrap(), 1_700_000_000_500);
        assert_eq!(time_param(&p, "absent", Some(7)).unwrap(), 7);
        let e = time_param(&p, "bad", Some(0)).unwrap_err();
        assert_eq!(e.kind, "bad_data");
        assert_eq!(
            e.message,
            "invalid parameter \"bad\": cannot parse \"noon\" to a valid timestamp"
        );
        let e = time_param(&p, "start", None).unwrap_err();
        assert_eq!(
            e.message,
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp"
        );
        let e = duration_param(&params(&[("step", "x")]), "step").unwrap_err();
        assert!(
            e.message.starts_with("invalid parameter \"step\": "),
            "{}",
            e.message
        );
        assert_eq!(duration_param(&p, "timeout").unwrap(), None);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(11_000), "11,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
