//! Time intervals: Alertmanager's documented examples, the end of the day, negative days of
//! the month (February of leap and common years), zones and DST, and the two time stages.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|| panic!("bad date"))
}

fn business_hours() -> TimeInterval {
    // The documentation's example: Monday to Friday, 09:00 to 17:00.
    TimeInterval {
        times: vec![(9 * 60, 17 * 60)],
        weekdays: vec![(1, 5)],
        ..Default::default()
    }
}

#[test]
fn business_hours_in_utc() {
    let ti = business_hours();
    // 2024-03-06 is a Wednesday.
    assert!(ti.contains(utc(2024, 3, 6, 9, 0)));
    assert!(ti.contains(utc(2024, 3, 6, 16, 59)));
    assert!(!ti.contains(utc(2024, 3, 6, 17, 0)), "the end is exclusive");
    assert!(!ti.contains(utc(2024, 3, 6, 8, 59)));
    // Saturday and Sunday.
    assert!(!ti.contains(utc(2024, 3, 9, 12, 0)));
    assert!(!ti.contains(utc(2024, 3, 10, 12, 0)));
}

#[test]
fn an_empty_interval_contains_everything() {
    assert!(TimeInterval::default().contains(utc(1999, 12, 31, 23, 59)));
}

#[test]
fn end_of_day_is_24_00() {
    let ti = TimeInterval {
        times: vec![(23 * 60, 24 * 60)],
        ..Default::default()
    };
    assert!(ti.contains(utc(2024, 1, 1, 23, 0)));
    assert!(ti.contains(utc(2024, 1, 1, 23, 59)));
    assert!(!ti.contains(utc(2024, 1, 2, 0, 0)));
}

#[test]
fn negative_days_count_from_the_end_of_the_month() {
    let last_week = TimeInterval {
        days_of_month: vec![(-7, -1)],
        ..Default::default()
    };
    // February 2024 has 29 days: the last seven are the 23rd to the 29th.
    assert!(!last_week.contains(utc(2024, 2, 22, 12, 0)));
    assert!(last_week.contains(utc(2024, 2, 23, 12, 0)));
    assert!(last_week.contains(utc(2024, 2, 29, 12, 0)));
    // February 2023 has 28: the 22nd to the 28th.
    assert!(last_week.contains(utc(2023, 2, 22, 12, 0)));
    assert!(!last_week.contains(utc(2023, 2, 21, 12, 0)));
    let last_day = TimeInterval {
        days_of_month: vec![(-1, -1)],
        ..Default::default()
    };
    assert!(last_day.contains(utc(2024, 2, 29, 0, 0)));
    assert!(!last_day.contains(utc(2024, 2, 28, 0, 0)));
    assert!(last_day.contains(utc(2023, 2, 28, 0, 0)));
    assert!(last_day.contains(utc(2024, 12, 31, 0, 0)));
}

#[test]
fn days_past_a_short_months_end() {
    let the_31st = TimeInterval {
        days_of_month: vec![(31, 31)],
        ..Default::default()
    };
    assert!(
        !the_31st.contains(utc(2024, 4, 30, 12, 0)),
        "April has no 31st"
    );
    assert!(the_31st.contains(utc(2024, 5, 31, 12, 0)));
    // `25:31` in February is cut at its end.
    let late = TimeInterval {
        days_of_month: vec![(25, 31)],
        ..Default::default()
    };
    assert!(late.contains(utc(2023, 2, 28, 12, 0)));
    assert!(!late.contains(utc(2023, 3, 1, 12, 0)));
    // From the first to the last day, whatever the month's length.
    let whole = TimeInterval {
        days_of_month: vec![(1, -1)],
        ..Default::default()
    };
    assert!(whole.contains(utc(2024, 2, 29, 12, 0)));
}

#[test]
fn months_and_years() {
    let ti = TimeInterval {
        months: vec![(1, 3), (12, 12)],
        years: vec![(2024, 2025)],
        ..Default::default()
    };
    assert!(ti.contains(utc(2024, 2, 1, 0, 0)));
    assert!(ti.contains(utc(2025, 12, 31, 23, 59)));
    assert!(!ti.contains(utc(2024, 4, 1, 0, 0)));
    assert!(!ti.contains(utc(2026, 1, 1, 0, 0)));
}

#[test]
fn location_moves_the_day_and_the_hours() {
    let sydney = TimeInterval {
        location: Some("Australia/Sydney".to_string()),
        ..business_hours()
    };
    // Tuesday 2024-01-09 23:00 UTC is Wednesday 10:00 in Sydney (AEDT, +11).
    assert!(sydney.contains(utc(2024, 1, 9, 23, 0)));
    assert!(!business_hours().contains(utc(2024, 1, 9, 23, 0)));
    // Friday 2024-01-12 22:00 UTC is Saturday 09:00 in Sydney.
    assert!(!sydney.contains(utc(2024, 1, 12, 22, 0)));
}

#[test]
fn daylight_saving_time_shifts_the_utc_window() {
    let berlin = TimeInterval {
        times: vec![(9 * 60, 17 * 60)],
        location: Some("Europe/Berlin".to_string()),
        ..Default::default()
    };
    // Winter (CET, +1): 09:00 local is 08:00 UTC.
    assert!(berlin.contains(utc(2024, 1, 15, 8, 0)));
    assert!(!berlin.contains(utc(2024, 1, 15, 7, 59)));
    // Summer (CEST, +2): 09:00 local is 07:00 UTC.
    assert!(berlin.contains(utc(2024, 7, 15, 7, 0)));
    assert!(!berlin.contains(utc(2024, 7, 15, 15, 0)));
    // The last day of March 2024 (the change-over day) is still the month's last.
    let last_day = TimeInterval {
        days_of_month: vec![(-1, -1)],
        location: Some("Europe/Berlin".to_string()),
        ..Default::default()
    };
    assert!(last_day.contains(utc(2024, 3, 31, 12, 0)));
    assert!(!last_day.contains(utc(2024, 3, 30, 12, 0)));
}

fn route(mute: &[&str], active: &[&str]) -> Route {
    Route {
        receiver: "r".to_string(),
        group_by: Vec::new(),
        group_by_all: false,
        matchers: Vec::new(),
        continue_matching: false,
        group_wait_ms: 30_000,
        group_interval_ms: 300_000,
        repeat_interval_ms: 900_000,
        mute_time_intervals: mute.iter().map(|s| s.to_string()).collect(),
        active_time_intervals: active.iter().map(|s| s.to_string()).collect(),
        routes: Vec::new(),
        key: "{}".to_string(),
        id: "{}".to_string(),
    }
}

#[test]
fn routes_are_muted_inside_mute_intervals_and_outside_active_ones() {
    let intervals = BTreeMap::from([
        ("business".to_string(), vec![business_hours()]),
        (
            "weekend".to_string(),
            vec![TimeInterval {
                weekdays: vec![(0, 0), (6, 6)],
                ..Default::default()
            }],
        ),
    ]);
    let wednesday_noon = utc(2024, 3, 6, 12, 0);
    let saturday_noon = utc(2024, 3, 9, 12, 0);
    let plain = route(&[], &[]);
    assert!(!route_muted_at(&plain, &intervals, wednesday_noon));
    let mute_weekend = route(&["weekend"], &[]);
    assert!(route_muted_at(&mute_weekend, &intervals, saturday_noon));
    assert!(!route_muted_at(&mute_weekend, &intervals, wednesday_noon));
    let only_business = route(&[], &["business"]);
    assert!(!route_muted_at(&only_business, &intervals, wednesday_noon));
    assert!(route_muted_at(&only_business, &intervals, saturday_noon));
    // Both: mute wins inside the mute interval.
    let both = route(&["business"], &["business", "weekend"]);
    assert!(route_muted_at(&both, &intervals, wednesday_noon));
    assert!(!route_muted_at(&both, &intervals, saturday_noon));
}
