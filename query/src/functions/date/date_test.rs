//! Expected values from Prometheus' `functions.test` (tests/conformance/promql) and
//! from the proleptic Gregorian calendar.

use super::*;

fn apply(name: &str, v: f64) -> f64 {
    date_function(name).expect("known function")(v)
}

#[test]
fn epoch() {
    let d = Date::of(0.0);
    assert_eq!(
        d,
        Date {
            year: 1970,
            month: 1,
            day: 1,
            year_day: 0,
            weekday: 4,
            hour: 0,
            minute: 0
        }
    );
}

#[test]
fn conformance_values() {
    // functions.test, 2006-01-02T22:04:05Z.
    let t = 1136239445.0;
    assert_eq!(apply("year", t), 2006.0);
    assert_eq!(apply("month", t), 1.0);
    assert_eq!(apply("day_of_month", t), 2.0);
    assert_eq!(apply("day_of_year", t), 2.0);
    assert_eq!(apply("day_of_week", t), 1.0);
    assert_eq!(apply("hour", t), 22.0);
    assert_eq!(apply("minute", t), 4.0);
    // Year boundaries.
    assert_eq!(apply("year", 1230767999.0), 2008.0);
    assert_eq!(apply("year", 1230768000.0), 2009.0);
    // Leap day 2016: month + day/100.
    assert_eq!(apply("month", 1456790399.0), 2.0);
    assert_eq!(apply("day_of_month", 1456790399.0), 29.0);
    assert_eq!(apply("month", 1456790400.0), 3.0);
    assert_eq!(apply("day_of_month", 1456790400.0), 1.0);
    // Day of year 366 in a leap year, 365 otherwise.
    assert_eq!(apply("day_of_year", 1483191420.0), 366.0);
    assert_eq!(apply("day_of_year", 1672493820.0), 365.0);
    assert_eq!(apply("days_in_month", 1454284800.0), 29.0);
    assert_eq!(apply("days_in_month", 1485907200.0), 28.0);
}

#[test]
fn before_epoch_and_fractions() {
    // 1969-12-31T23:59:59Z; -0.5 truncates to 0 (the epoch), as Go's int64() does.
    assert_eq!(apply("year", -1.0), 1969.0);
    assert_eq!(apply("day_of_month", -1.0), 31.0);
    assert_eq!(apply("minute", -1.0), 59.0);
    assert_eq!(apply("day_of_week", -1.0), 3.0);
    assert_eq!(apply("year", -0.5), 1970.0);
    // 1900 is not a leap year, 2000 is.
    assert_eq!(apply("days_in_month", -2203977600.0), 28.0); // 1900-02-28
    assert_eq!(apply("days_in_month", 951782400.0), 29.0); // 2000-02-29
    assert_eq!(apply("day_of_month", 951782400.0), 29.0);
    assert_eq!(apply("day_of_month", -2203891200.0), 1.0); // 1900-03-01
    assert_eq!(apply("day_of_year", -2203891200.0), 60.0);
    // Far future, 9999-12-31T23:59:59Z.
    assert_eq!(apply("year", 253402300799.0), 9999.0);
    assert_eq!(apply("day_of_year", 253402300799.0), 365.0);
}

#[test]
fn non_finite_like_go_on_amd64() {
    assert_eq!(go_f64_to_i64(f64::NAN), i64::MIN);
    assert_eq!(go_f64_to_i64(f64::INFINITY), i64::MIN);
    assert_eq!(go_f64_to_i64(-1e300), i64::MIN);
    assert_eq!(go_f64_to_i64(-1.9), -1);
    // All of them land on the same (wrapped) date; whatever it is, it is a valid one.
    let d = Date::of(f64::NAN);
    assert_eq!(d, Date::of(f64::NEG_INFINITY));
    assert!((1..=12).contains(&d.month) && (1..=31).contains(&d.day));
    assert!(d.weekday < 7 && d.hour < 24 && d.minute < 60);
}

#[test]
fn unknown_names() {
    assert!(date_function("time").is_none());
    assert!(date_function("timestamp").is_none());
}
