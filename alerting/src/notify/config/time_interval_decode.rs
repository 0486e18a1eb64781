//! `time_intervals:` (and the older `mute_time_intervals:`) entries, read as Alertmanager's
//! `timeinterval` package reads them: `HH:MM` times up to `24:00`, weekday and month names
//! (any case) or numbers, `a:b` ranges, negative days of the month, IANA locations.

use chrono_tz::Tz;

use super::fields::{Fields, list_items};
use super::scalars;
use super::sink::Sink;
use crate::notify::time_interval::TimeInterval;
use crate::yaml::Node;

const KEYS: [&str; 6] = [
    "times",
    "weekdays",
    "days_of_month",
    "months",
    "years",
    "location",
];

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// One part of a named interval (an item of its `time_intervals:` list).
pub(crate) fn decode_time_interval(
    sink: &mut Sink,
    node: &Node,
    path: &str,
) -> Option<TimeInterval> {
    let f = Fields::read(sink, node, path, "a time interval", &KEYS)?;
    let before = sink.len();
    let mut ti = TimeInterval::default();
    for (item_path, item) in f.list(sink, "times") {
        if let Some(r) = time_range(sink, item, &item_path) {
            ti.times.push(r);
        }
    }
    ti.weekdays = ranges(sink, &f, "weekdays", weekday);
    ti.days_of_month = ranges(sink, &f, "days_of_month", day_of_month);
    ti.months = ranges(sink, &f, "months", month);
    ti.years = ranges(sink, &f, "years", year);
    if let Some(loc) = f.string(sink, "location") {
        match loc.as_str() {
            // Go's LoadLocation("") is UTC.
            "" => {}
            // Alertmanager would use the server's zone; a cluster's nodes need not share one.
            "Local" => f.report(
                sink,
                "location",
                "location \"Local\" is not supported by Cairn: name the zone (e.g. Europe/Berlin)",
            ),
            name => match name.parse::<Tz>() {
                Ok(_) => ti.location = Some(name.to_string()),
                Err(_) => f.report(sink, "location", format!("unknown time zone {name}")),
            },
        }
    }
    (sink.len() == before).then_some(ti)
}

fn time_range(sink: &mut Sink, node: &Node, path: &str) -> Option<(u32, u32)> {
    let f = Fields::read(
        sink,
        node,
        path,
        "a time range",
        &["start_time", "end_time"],
    )?;
    let start = f.nonempty(sink, "start_time");
    let end = f.nonempty(sink, "end_time");
    let (Some(start), Some(end)) = (start, end) else {
        sink.at(path, node, "both start and end times must be provided");
        return None;
    };
    let s = parse_time(&start)
        .map_err(|e| f.report(sink, "start_time", e))
        .ok();
    let e = parse_time(&end)
        .map_err(|e| f.report(sink, "end_time", e))
        .ok();
    let (s, e) = (s?, e?);
    if s >= e {
        sink.at(
            path,
            node,
            "start time cannot be equal or greater than end time",
        );
        return None;
    }
    Some((s, e))
}

/// `HH:MM`, `00:00` to `24:00`, in minutes of the day.
fn parse_time(s: &str) -> Result<u32, String> {
    let bad = || format!("couldn't parse timestamp {s}, invalid format (HH:MM, 00:00 to 24:00)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if (h < 24 && m < 60) || (h == 24 && m == 0) {
        Ok(h * 60 + m)
    } else {
        Err(bad())
    }
}

/// A list of `a` or `a:b` items, each checked by `check`.
fn ranges(
    sink: &mut Sink,
    f: &Fields<'_>,
    key: &str,
    check: fn(&str) -> Result<(i32, i32), String>,
) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let Some(node) = f.get(key) else {
        return out;
    };
    for (path, item) in list_items(sink, node, &f.path_of(key)) {
        let text = match scalars::string(item) {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                sink.at(&path, item, e);
                continue;
            }
        };
        match check(&text) {
            Ok(r) => out.push(r),
            Err(e) => sink.at(&path, item, e),
        }
    }
    out
}

/// Splits `a:b` (or `a`, meaning `a:a`) after lower-casing, each side read by `member`.
fn split_range(
    s: &str,
    member: impl Fn(&str) -> Result<i32, String>,
) -> Result<(i32, i32), String> {
    let s = s.to_lowercase();
    match s.split(':').collect::<Vec<_>>().as_slice() {
        [one] => member(one).map(|v| (v, v)),
        [a, b] => Ok((member(a)?, member(b)?)),
        _ => Err(format!("couldn't parse range {s}, invalid format")),
    }
}

fn atoi(s: &str) -> Result<i32, String> {
    s.parse::<i32>()
        .map_err(|_| format!("{s:?} is not an integer"))
}

fn weekday(s: &str) -> Result<(i32, i32), String> {
    let (b, e) = split_range(s, |w| {
        WEEKDAYS
            .iter()
            .position(|d| *d == w)
            .map(|i| i as i32)
            .ok_or_else(|| format!("{w} is not a valid weekday"))
    })?;
    if b > e {
        return Err("start day cannot be before end day".to_string());
    }
    Ok((b, e))
}

fn day_of_month(s: &str) -> Result<(i32, i32), String> {
    let (b, e) = split_range(s, atoi)?;
    for d in [b, e] {
        if d == 0 || !(-31..=31).contains(&d) {
            return Err(format!("{d} is not a valid day of the month: out of range"));
        }
    }
    if b < 0 && e > 0 {
        return Err("end day must be negative if start day is negative".to_string());
    }
    // Compared as in the shortest month (28 days): `-3:25` could be empty.
    let check = |d: i32| if d < 0 { 28 + d } else { d };
    if check(b) > check(e) {
        return Err(format!("end day {e} is always before start day {b}"));
    }
    Ok((b, e))
}

fn month(s: &str) -> Result<(i32, i32), String> {
    let (b, e) = split_range(s, |m| match MONTHS.iter().position(|n| *n == m) {
        Some(i) => Ok(i as i32 + 1),
        None => m
            .parse::<i32>()
            .map_err(|_| format!("{m} is not a valid month")),
    })?;
    if b > e {
        return Err(format!("end month {e} is before start month {b}"));
    }
    Ok((b, e))
}

fn year(s: &str) -> Result<(i32, i32), String> {
    let (b, e) = split_range(s, atoi)?;
    if b > e {
        return Err(format!("end year {e} is before start year {b}"));
    }
    Ok((b, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_hh_mm_up_to_24_00() {
        assert_eq!(parse_time("00:00"), Ok(0));
        assert_eq!(parse_time("17:30"), Ok(1050));
        assert_eq!(parse_time("24:00"), Ok(1440));
        for bad in ["24:01", "9:00", "12:60", "25:00", "12-00", "noon"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_by_name_and_number() {
        assert_eq!(weekday("Monday:FRIDAY"), Ok((1, 5)));
        assert_eq!(weekday("sunday"), Ok((0, 0)));
        assert!(weekday("1").is_err());
        assert!(weekday("friday:monday").is_err());
        assert_eq!(month("january:march"), Ok((1, 3)));
        assert_eq!(month("11:december"), Ok((11, 12)));
        assert!(month("march:january").is_err());
        assert_eq!(day_of_month("-3:-1"), Ok((-3, -1)));
        assert_eq!(day_of_month("1:-1"), Ok((1, -1)));
        assert!(day_of_month("0").is_err());
        assert!(day_of_month("-1:5").is_err());
        assert!(day_of_month("32").is_err());
        assert!(day_of_month("10:-25").is_err());
        assert_eq!(year("2020:2022"), Ok((2020, 2022)));
        assert!(year("2022:2020").is_err());
        assert!(year("1:2:3").is_err());
    }
}
