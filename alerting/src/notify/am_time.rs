//! Times as Alertmanager's API writes and reads them: RFC 3339 in UTC with milliseconds
//! (`2024-01-02T03:04:05.123Z`, go-openapi's `strfmt.DateTime`), and Go's zero time
//! (`0001-01-01T00:00:00Z`, what a firing alert's `endsAt` holds in a webhook payload) read as
//! "not given".

use chrono::{DateTime, SecondsFormat, Utc};

/// Go's `time.Time{}` in ms since the epoch: `0001-01-01T00:00:00Z`.
pub const GO_ZERO_TIME_MS: i64 = -62_135_596_800_000;

/// `ms` as `2024-01-02T03:04:05.123Z`.
pub fn format_ms(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        // Out of chrono's range (±262,000 years): no stored time gets there.
        None => String::new(),
    }
}

/// A duration in ms as Go's `time.Duration.String()` writes it (`0s`, `350ms`, `1.2s`,
/// `1m30s`), as Grafana's receivers status shows `lastNotifyAttemptDuration`.
pub fn format_duration_ms(ms: i64) -> String {
    crate::template::duration_string(ms.saturating_mul(1_000_000))
}

/// An RFC 3339 time (any offset, any fraction, truncated to ms); `Ok(None)` for Go's zero
/// time, which Alertmanager's JSON uses for "unset". The error is the reason.
pub fn parse_ms(s: &str) -> Result<Option<i64>, String> {
    let t = DateTime::parse_from_rfc3339(s.trim())
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))?;
    let ms = t.timestamp_millis();
    Ok((ms > GO_ZERO_TIME_MS).then_some(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_alertmanager_with_milliseconds_in_utc() {
        assert_eq!(format_ms(1_700_000_000_500), "2023-11-14T22:13:20.500Z");
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn formats_go_zero_time_and_durations() {
        assert_eq!(format_ms(GO_ZERO_TIME_MS), "0001-01-01T00:00:00.000Z");
        assert_eq!(format_duration_ms(0), "0s");
        assert_eq!(format_duration_ms(350), "350ms");
        assert_eq!(format_duration_ms(1_200), "1.2s");
        assert_eq!(format_duration_ms(90_000), "1m30s");
    }

    #[test]
    fn parses_offsets_and_fractions_and_zero_time_as_unset() {
        assert_eq!(
            parse_ms("2023-11-14T23:13:20.5+01:00"),
            Ok(Some(1_700_000_000_500))
        );
        assert_eq!(
            parse_ms("2023-11-14T22:13:20.123456789Z"),
            Ok(Some(1_700_000_000_123))
        );
        assert_eq!(parse_ms("0001-01-01T00:00:00Z"), Ok(None));
        assert!(parse_ms("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
