//! Go's time formatting, checked against Go 1.19's output for the same instants.

use super::*;

// 2015-06-23 13:19:44.128 UTC, a Tuesday, day 174.
const T: i64 = 1_435_065_584_128_000_000;

#[test]
fn string_is_gos() {
    assert_eq!(time_string(0), "1970-01-01 00:00:00 +0000 UTC");
    assert_eq!(time_string(T), "2015-06-23 13:19:44.128 +0000 UTC");
    assert_eq!(time_string(-NS_PER_S), "1969-12-31 23:59:59 +0000 UTC");
}

#[test]
fn layouts_are_gos() {
    // Expected strings as Go 1.19 formats this instant.
    assert_eq!(format_time(T, "2006"), "2015");
    assert_eq!(
        format_time(T, "2006-01-02T15:04:05Z07:00"),
        "2015-06-23T13:19:44Z"
    );
    assert_eq!(
        format_time(T, "Mon Jan 2 15:04:05 2006"),
        "Tue Jun 23 13:19:44 2015"
    );
    assert_eq!(
        format_time(T, "Monday, 02-Jan-06 03:04:05.000 PM MST"),
        "Tuesday, 23-Jun-15 01:19:44.128 PM UTC"
    );
    assert_eq!(
        format_time(T, "Jan _2 15:04:05.999999 -0700"),
        "Jun 23 13:19:44.128 +0000"
    );
    assert_eq!(format_time(T, "002 January 3:4:5pm"), "174 June 1:19:44pm");
    assert_eq!(format_time(T - 128_000_000, "15:04:05.999"), "13:19:44");
}

#[test]
fn durations_print_as_gos() {
    assert_eq!(duration_string(0), "0s");
    assert_eq!(duration_string(1800 * NS_PER_S), "30m0s");
    assert_eq!(duration_string(5400 * NS_PER_S + NS_PER_S / 2), "1h30m0.5s");
    assert_eq!(duration_string(1_500_000), "1.5ms");
    assert_eq!(duration_string(1_500), "1.5µs");
    assert_eq!(duration_string(15), "15ns");
    assert_eq!(duration_string(-90 * NS_PER_S), "-1m30s");
}

#[test]
fn zoned_and_zero_times_print_as_go() {
    let zero = GoTime::zero();
    assert_eq!(zero.string(), "0001-01-01 00:00:00 +0000 UTC");
    assert_eq!(
        zero.format("2006-01-02T15:04:05.999999999Z07:00"),
        "0001-01-01T00:00:00Z"
    );
    let berlin = GoTime {
        offset_secs: 3600,
        zone: "CET".to_string(),
        ..GoTime::from_unix_nanos(T)
    };
    assert_eq!(berlin.string(), "2015-06-23 14:19:44.128 +0100 CET");
    assert_eq!(
        berlin.format("2006-01-02T15:04:05Z07:00"),
        "2015-06-23T14:19:44+01:00"
    );
    let india = GoTime {
        offset_secs: -(5 * 3600 + 30 * 60),
        zone: String::new(),
        ..GoTime::from_unix_nanos(0)
    };
    assert_eq!(india.format("MST -07:00"), "-0530 -05:30");
    // Sub saturates at Go's largest duration.
    assert_eq!(GoTime::from_unix_nanos(0).sub(&zero), i64::MAX);
}
