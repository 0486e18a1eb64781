//! Calendar functions of a Unix timestamp in seconds, in UTC (`year`, `hour`,
//! `days_in_month`, …).
//!
//! Prometheus converts the float to whole seconds with Go's `int64(f)` and reads the fields
//! of `time.Unix(sec, 0).UTC()`. To agree on every input this module does the same two steps:
//! the conversion truncates towards zero, and a NaN, an infinity or a value outside the
//! `i64` range becomes `i64::MIN`, which is what `int64(f)` yields on amd64 (the official
//! Prometheus builds); the calendar fields are then computed with Go 1.23's algorithm
//! (`absDate` over unsigned "absolute" seconds), including its wrap-around for times some
//! 292 billion years away, so `year(vector(NaN))` is the same odd number as in Prometheus.

/// Seconds from Go's absolute zero (1 January of year -292277022399) to the Unix epoch,
/// i.e. `unixToInternal + internalToAbsolute` in Go's `time` package, where
/// `absoluteToInternal = (absoluteZeroYear - 1) * 365.2425 * secondsPerDay`.
const UNIX_TO_ABSOLUTE: u64 = 9_223_372_028_715_321_600;
/// Go's `absoluteZeroYear`.
const ABSOLUTE_ZERO_YEAR: i64 = -292_277_022_399;
const SECONDS_PER_MINUTE: u64 = 60;
const SECONDS_PER_HOUR: u64 = 60 * SECONDS_PER_MINUTE;
const SECONDS_PER_DAY: u64 = 24 * SECONDS_PER_HOUR;
const SECONDS_PER_WEEK: u64 = 7 * SECONDS_PER_DAY;
const DAYS_PER_400_YEARS: u64 = 365 * 400 + 97;
const DAYS_PER_100_YEARS: u64 = 365 * 100 + 24;
const DAYS_PER_4_YEARS: u64 = 365 * 4 + 1;
/// Days before the start of each month in a non-leap year (index 12 is the year's length).
const DAYS_BEFORE: [i64; 13] = [
    0,
    31,
    31 + 28,
    31 + 28 + 31,
    31 + 28 + 31 + 30,
    31 + 28 + 31 + 30 + 31,
    31 + 28 + 31 + 30 + 31 + 30,
    31 + 28 + 31 + 30 + 31 + 30 + 31,
    31 + 28 + 31 + 30 + 31 + 30 + 31 + 31,
    31 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30,
    31 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31,
    31 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 30,
    31 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 30 + 31,
];

/// Date functions of a timestamp in seconds (UTC): day_of_month, day_of_week, day_of_year,
/// days_in_month, hour, minute, month, year. None for other names. NaN, ±Inf and values
/// beyond the `i64` range behave as in Prometheus on amd64 (see the module docs).
pub fn date_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "day_of_month" => |v| Date::of(v).day as f64,
        "day_of_week" => |v| Date::of(v).weekday as f64,
        "day_of_year" => |v| (Date::of(v).year_day + 1) as f64,
        "days_in_month" => |v| {
            let date = Date::of(v);
            days_in_month(date.year, date.month) as f64
        },
        "hour" => |v| Date::of(v).hour as f64,
        "minute" => |v| Date::of(v).minute as f64,
        "month" => |v| Date::of(v).month as f64,
        "year" => |v| Date::of(v).year as f64,
        _ => return None,
    })
}

/// The fields of a UTC time that the date functions read.
#[derive(Debug, PartialEq, Eq)]
struct Date {
    year: i64,
    /// 1..=12.
    month: i64,
    /// 1..=31.
    day: i64,
    /// 0-based day of the year.
    year_day: i64,
    /// 0 = Sunday.
    weekday: u64,
    hour: u64,
    minute: u64,
}

impl Date {
    /// The UTC date of `seconds` since the Unix epoch, converted as Go's `int64(f)` does.
    fn of(seconds: f64) -> Date {
        Date::of_unix(go_f64_to_i64(seconds))
    }

    fn of_unix(unix: i64) -> Date {
        // Go adds in int64 (wrapping) and reinterprets as uint64.
        let abs = (unix as u64).wrapping_add(UNIX_TO_ABSOLUTE);
        let (year, year_day) = abs_year(abs);
        let (month, day) = month_and_day(year, year_day);
        // Absolute day 0 is a Monday.
        let weekday = (abs.wrapping_add(SECONDS_PER_DAY) % SECONDS_PER_WEEK) / SECONDS_PER_DAY;
        Date {
            year,
            month,
            day,
            year_day,
            weekday,
            hour: (abs % SECONDS_PER_DAY) / SECONDS_PER_HOUR,
            minute: (abs % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE,
        }
    }
}

/// Go's `int64(f)` on amd64: truncation towards zero, and `i64::MIN` (the "integer
/// indefinite" value of CVTTSD2SI) for NaN, infinities and out-of-range values. Rust's `as`
/// would saturate instead.
fn go_f64_to_i64(v: f64) -> i64 {
    // 2^63 is exactly representable; i64's range is [-2^63, 2^63). NaN is in no range.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if !(-TWO_POW_63..TWO_POW_63).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// Year and 0-based day of the year of absolute seconds `abs` (Go 1.23's `absDate`, first
/// half): peel off 400-, 100-, 4- and 1-year cycles. Go's absolute epoch is 1 January of a
/// year ≡ 1 (mod 400), a Monday, so each cycle ends with its leap year.
fn abs_year(abs: u64) -> (i64, i64) {
    let mut d = abs / SECONDS_PER_DAY;

    let mut n = d / DAYS_PER_400_YEARS;
    let mut y = 400 * n;
    d -= DAYS_PER_400_YEARS * n;

    // The last 100-year cycle of 400 has an extra leap day, on which the quotient is 4;
    // `n >> 2` brings it back to 3. The same trick applies to years within 4.
    n = d / DAYS_PER_100_YEARS;
    n -= n >> 2;
    y += 100 * n;
    d -= DAYS_PER_100_YEARS * n;

    n = d / DAYS_PER_4_YEARS;
    y += 4 * n;
    d -= DAYS_PER_4_YEARS * n;

    n = d / 365;
    n -= n >> 2;
    y += n;
    d -= 365 * n;

    ((y as i64).wrapping_add(ABSOLUTE_ZERO_YEAR), d as i64)
}

/// Month (1..=12) and day of month (1..=31) of a 0-based day of the year.
fn month_and_day(year: i64, year_day: i64) -> (i64, i64) {
    let mut day = year_day;
    if is_leap(year) {
        match day.cmp(&(31 + 29 - 1)) {
            // After the leap day: pretend it was not there.
            std::cmp::Ordering::Greater => day -= 1,
            std::cmp::Ordering::Equal => return (2, 29),
            std::cmp::Ordering::Less => {}
        }
    }
    // Guess the month as if every month had 31 days; the guess is at most one too low.
    let mut month = (day / 31) as usize;
    let end = DAYS_BEFORE[month + 1];
    let begin = if day >= end {
        month += 1;
        end
    } else {
        DAYS_BEFORE[month]
    };
    (month as i64 + 1, day - begin + 1)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1..=12) of `year`, what Prometheus derives by normalising day 32.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod date_test;
