//! A time interval (`time_intervals:`): the union of its parts; each part is the
//! intersection of its non-empty fields, evaluated in its `location`. And the two time
//! stages of Alertmanager's pipeline: a route's `mute_time_intervals` mute it inside them,
//! its `active_time_intervals` mute it outside them.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use super::route::Route;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeInterval {
    /// Minutes of the day, `[start, end)`, 0..=1440.
    pub times: Vec<(u32, u32)>,
    /// Inclusive ranges; Sunday is 0, as Go counts weekdays.
    pub weekdays: Vec<(i32, i32)>,
    /// Inclusive ranges; negative counts from the month's end (-1 is its last day).
    pub days_of_month: Vec<(i32, i32)>,
    /// Inclusive ranges, January is 1.
    pub months: Vec<(i32, i32)>,
    pub years: Vec<(i32, i32)>,
    /// An IANA zone name (`Europe/Berlin`); None is UTC. `Local` is refused at parse time
    /// (a cluster's nodes need not share a zone).
    pub location: Option<String>,
}

/// The calendar fields of an instant in a zone.
struct Civil {
    minute_of_day: u32,
    weekday: i32,
    day: i32,
    month: i32,
    year: i32,
    days_in_month: i32,
}

impl Civil {
    fn at<Z: chrono::TimeZone>(t: DateTime<Z>) -> Civil {
        let (year, month) = (t.year(), t.month());
        // Counted on the calendar, not as hours / 24: a month with a DST change has a
        // 23- or 25-hour day (Alertmanager 0.25 divided, and was wrong there).
        let first = NaiveDate::from_ymd_opt(year, month, 1);
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        };
        let days_in_month = match (first, next) {
            (Some(a), Some(b)) => (b - a).num_days() as i32,
            _ => 31,
        };
        Civil {
            minute_of_day: t.hour() * 60 + t.minute(),
            weekday: t.weekday().num_days_from_sunday() as i32,
            day: t.day() as i32,
            month: month as i32,
            year,
            days_in_month,
        }
    }
}

impl TimeInterval {
    /// Whether the instant (ms since the epoch) falls in this part.
    pub fn contains(&self, ts_ms: i64) -> bool {
        let Some(utc) = DateTime::<Utc>::from_timestamp_millis(ts_ms) else {
            return false;
        };
        let civil = match self.location.as_deref().map(str::parse::<Tz>) {
            None => Civil::at(utc),
            Some(Ok(tz)) => Civil::at(utc.with_timezone(&tz)),
            // Refused at parse time; an unknown zone contains nothing.
            Some(Err(_)) => return false,
        };
        let in_any = |ranges: &[(i32, i32)], v: i32| ranges.iter().any(|&(b, e)| b <= v && v <= e);
        if !self.times.is_empty()
            && !self
                .times
                .iter()
                .any(|&(s, e)| s <= civil.minute_of_day && civil.minute_of_day < e)
        {
            return false;
        }
        if !self.days_of_month.is_empty() {
            let n = civil.days_in_month;
            let found = self.days_of_month.iter().any(|&(b, e)| {
                // Negative days count back from the month's end: -1 is its last day.
                let begin = if b < 0 { n + b + 1 } else { b };
                let end = if e < 0 { n + e + 1 } else { e };
                // A range starting after this month's end (`31` in April) is not in it;
                // one ending after it (`25:31`) is cut at the end.
                begin <= n && begin.clamp(-n, n) <= civil.day && civil.day <= end.clamp(-n, n)
            });
            if !found {
                return false;
            }
        }
        if !self.months.is_empty() && !in_any(&self.months, civil.month) {
            return false;
        }
        if !self.weekdays.is_empty() && !in_any(&self.weekdays, civil.weekday) {
            return false;
        }
        if !self.years.is_empty() && !in_any(&self.years, civil.year) {
            return false;
        }
        true
    }
}

/// Whether any part of the named intervals contains the instant. Unknown names contain
/// nothing (the configuration refuses them).
pub fn any_contains(
    intervals: &BTreeMap<String, Vec<TimeInterval>>,
    names: &[String],
    ts_ms: i64,
) -> bool {
    names
        .iter()
        .filter_map(|n| intervals.get(n))
        .flatten()
        .any(|ti| ti.contains(ts_ms))
}

/// Whether notifications of `route` are held back at the instant: inside one of its
/// `mute_time_intervals`, or outside all of its `active_time_intervals` when it has any
/// (Alertmanager's TimeMuteStage and TimeActiveStage).
pub fn route_muted_at(
    route: &Route,
    intervals: &BTreeMap<String, Vec<TimeInterval>>,
    ts_ms: i64,
) -> bool {
    if any_contains(intervals, &route.mute_time_intervals, ts_ms) {
        return true;
    }
    !route.active_time_intervals.is_empty()
        && !any_contains(intervals, &route.active_time_intervals, ts_ms)
}

#[cfg(test)]
#[path = "time_interval/time_interval_test.rs"]
mod time_interval_test;
