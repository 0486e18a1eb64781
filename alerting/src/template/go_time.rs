//! Go's `time` package as templates see it: `time.Time` ([`GoTime`]: an instant with a fixed
//! zone offset and abbreviation, UTC for Prometheus' `toTime` and Alertmanager's alert times,
//! another zone after Alertmanager's `tz`) with `String()` and `Format(layout)` using Go's
//! reference-time layouts, and `time.Duration` with `String()` (`1h30m0s`, `1.5ms`).

/// Seconds, minutes, hours and days in nanoseconds.
const NS_PER_S: i64 = 1_000_000_000;

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's civil_from_days).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The broken-down UTC time of a nanosecond timestamp.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
    /// 0 = Sunday, as Go's `time.Weekday`.
    pub weekday: u32,
    /// 1-based day of the year.
    pub yday: u32,
}

/// The broken-down time of `secs` (already shifted by the zone's offset) and `nanos`.
fn civil_at(secs: i64, nanos: u32) -> Civil {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let jan1 = civil_from_days_inverse(year, 1, 1);
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: (sod / 60) % 60,
        second: sod % 60,
        nanos,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as u32,
        yday: (days - jan1 + 1) as u32,
    }
}

/// (year, month, day) to days since 1970-01-01 (Hinnant's days_from_civil).
fn civil_from_days_inverse(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Go's `time.Time`: an instant (seconds and nanoseconds since the Unix epoch, wide enough for
/// Go's zero time, year 1) seen in a zone with a fixed offset and abbreviation.
#[derive(Debug, Clone, PartialEq)]
pub struct GoTime {
    pub secs: i64,
    pub nanos: u32,
    /// East of UTC.
    pub offset_secs: i32,
    /// The abbreviation `MST` prints (`UTC`, `CET`, or `+0530` where the zone has none).
    pub zone: String,
}

/// Seconds from 0001-01-01 to 1970-01-01: Go's zero `time.Time` is the first.
const ZERO_TIME_SECS: i64 = -62_135_596_800;

impl GoTime {
    pub fn from_unix_nanos(unix_nanos: i64) -> GoTime {
        GoTime {
            secs: unix_nanos.div_euclid(NS_PER_S),
            nanos: unix_nanos.rem_euclid(NS_PER_S) as u32,
            offset_secs: 0,
            zone: "UTC".to_string(),
        }
    }

    pub fn from_unix_millis(ms: i64) -> GoTime {
        GoTime {
            secs: ms.div_euclid(1000),
            nanos: (ms.rem_euclid(1000) * 1_000_000) as u32,
            offset_secs: 0,
            zone: "UTC".to_string(),
        }
    }

    /// Go's zero `time.Time` (`0001-01-01 00:00:00 +0000 UTC`).
    pub fn zero() -> GoTime {
        GoTime {
            secs: ZERO_TIME_SECS,
            nanos: 0,
            offset_secs: 0,
            zone: "UTC".to_string(),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.secs == ZERO_TIME_SECS && self.nanos == 0
    }

    /// Nanoseconds since the epoch, wide.
    pub fn unix_nanos_wide(&self) -> i128 {
        i128::from(self.secs) * i128::from(NS_PER_S) + i128::from(self.nanos)
    }

    /// Nanoseconds since the epoch, saturating as Go's `UnixNano` does not (Go overflows;
    /// nothing here depends on that).
    pub fn unix_nanos(&self) -> i64 {
        self.unix_nanos_wide()
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// The same instant in UTC.
    pub fn utc(&self) -> GoTime {
        GoTime {
            offset_secs: 0,
            zone: "UTC".to_string(),
            ..self.clone()
        }
    }

    /// Adds a duration (nanoseconds), keeping the zone.
    pub fn add_nanos(&self, d: i64) -> GoTime {
        let t = self.unix_nanos_wide() + i128::from(d);
        GoTime {
            secs: t.div_euclid(i128::from(NS_PER_S)) as i64,
            nanos: t.rem_euclid(i128::from(NS_PER_S)) as u32,
            ..self.clone()
        }
    }

    /// Go's `t.Sub(u)`: saturates at the extremes of `time.Duration`.
    pub fn sub(&self, other: &GoTime) -> i64 {
        (self.unix_nanos_wide() - other.unix_nanos_wide())
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// The broken-down time in the time's zone.
    pub fn civil(&self) -> Civil {
        civil_at(self.secs + i64::from(self.offset_secs), self.nanos)
    }

    /// Go's `String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    pub fn string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// Go's `Format(layout)`.
    pub fn format(&self, layout: &str) -> String {
        format_go_time(self, layout)
    }
}

/// Go's `time.Time.String()` for a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`.
pub fn time_string(unix_nanos: i64) -> String {
    GoTime::from_unix_nanos(unix_nanos).string()
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `time.Time.Format(layout)` for a UTC time.
#[cfg(test)]
pub fn format_time(unix_nanos: i64, layout: &str) -> String {
    GoTime::from_unix_nanos(unix_nanos).format(layout)
}

/// Go's zone offset in one of the layout's forms: `sep` between hours, minutes and seconds,
/// `with_minutes`/`with_seconds` (seconds only when non-zero for the `Z` forms too, as Go).
fn offset_string(offset: i32, sep: &str, with_minutes: bool, with_seconds: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let mut s = format!("{sign}{:02}", abs / 3600);
    if with_minutes {
        s.push_str(&format!("{sep}{:02}", (abs / 60) % 60));
    }
    if with_seconds {
        s.push_str(&format!("{sep}{:02}", abs % 60));
    }
    s
}

fn format_go_time(t: &GoTime, layout: &str) -> String {
    let c = t.civil();
    let off = t.offset_secs;
    let z = |sep: &str, minutes: bool, seconds: bool| {
        if off == 0 {
            "Z".to_string()
        } else {
            offset_string(off, sep, minutes, seconds)
        }
    };
    // Go prints a zone without an abbreviation as its offset (`-0700`).
    let zone_name = if t.zone.is_empty() {
        offset_string(off, "", true, false)
    } else {
        t.zone.clone()
    };
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        // Each entry: the layout element and what it writes. Longest first where they overlap.
        let hour12 = if c.hour.is_multiple_of(12) {
            12
        } else {
            c.hour % 12
        };
        let month = MONTHS[(c.month - 1) as usize];
        let day = DAYS[c.weekday as usize];
        let token: Option<(&str, String)> = [
            ("January", month.to_string()),
            ("Jan", month[..3].to_string()),
            ("Monday", day.to_string()),
            ("Mon", day[..3].to_string()),
            ("MST", zone_name.clone()),
            ("2006", format!("{:04}", c.year)),
            ("002", format!("{:03}", c.yday)),
            ("01", format!("{:02}", c.month)),
            ("02", format!("{:02}", c.day)),
            ("_2", format!("{:>2}", c.day)),
            ("06", format!("{:02}", c.year.rem_euclid(100))),
            ("15", format!("{:02}", c.hour)),
            ("03", format!("{hour12:02}")),
            ("04", format!("{:02}", c.minute)),
            ("05", format!("{:02}", c.second)),
            ("-07:00:00", offset_string(off, ":", true, true)),
            ("-070000", offset_string(off, "", true, true)),
            ("-07:00", offset_string(off, ":", true, false)),
            ("-0700", offset_string(off, "", true, false)),
            ("-07", offset_string(off, "", false, false)),
            ("Z07:00:00", z(":", true, true)),
            ("Z070000", z("", true, true)),
            ("Z07:00", z(":", true, false)),
            ("Z0700", z("", true, false)),
            ("Z07", z("", false, false)),
            ("PM", if c.hour >= 12 { "PM" } else { "AM" }.to_string()),
            ("pm", if c.hour >= 12 { "pm" } else { "am" }.to_string()),
            ("1", c.month.to_string()),
            ("2", c.day.to_string()),
            ("3", hour12.to_string()),
            ("4", c.minute.to_string()),
            ("5", c.second.to_string()),
        ]
        .into_iter()
        .find(|(t, _)| rest.starts_with(t));
        // Fractional seconds: ".000" (fixed) or ".999" (trailing zeros trimmed), after a
        // seconds element; Go also takes "," as the separator.
        if (rest.starts_with('.') || rest.starts_with(',')) && out_ends_with_seconds(layout, rest) {
            let digits: String = rest[1..]
                .chars()
                .take_while(|d| *d == '0' || *d == '9')
                .collect();
            let n = digits.len();
            let next_is_digit = rest[1 + n..]
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_digit());
            if n > 0 && !next_is_digit && digits.chars().all(|d| d == digits.as_bytes()[0] as char)
            {
                let frac = format!("{:09}", c.nanos);
                let frac = &frac[..n.min(9)];
                if digits.starts_with('0') {
                    out.push_str(&rest[..1]);
                    out.push_str(frac);
                } else {
                    let trimmed = frac.trim_end_matches('0');
                    if !trimmed.is_empty() {
                        out.push_str(&rest[..1]);
                        out.push_str(trimmed);
                    }
                }
                rest = &rest[1 + n..];
                continue;
            }
        }
        match token {
            Some((t, v)) => {
                out.push_str(&v);
                rest = &rest[t.len()..];
            }
            None => {
                let ch = rest.chars().next().unwrap_or(' ');
                out.push(ch);
                rest = &rest[ch.len_utf8()..];
            }
        }
    }
    out
}

/// Go accepts a fractional-second element only right after a seconds element.
fn out_ends_with_seconds(layout: &str, rest: &str) -> bool {
    let done = &layout[..layout.len() - rest.len()];
    done.ends_with("05") || done.ends_with('5')
}

/// Go's `time.Duration.String()`.
pub fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    if u < NS_PER_S as u64 {
        // Sub-second: one unit with a fraction.
        let (unit, prec) = if u < 1_000 {
            ("ns", 0)
        } else if u < 1_000_000 {
            ("µs", 3)
        } else {
            ("ms", 6)
        };
        out.push_str(&frac_string(u, prec));
        out.push_str(unit);
    } else {
        let secs = frac_string(u % (60 * NS_PER_S as u64), 9);
        u /= 60 * NS_PER_S as u64;
        let mut s = format!("{secs}s");
        if u > 0 {
            s = format!("{}m{s}", u % 60);
            u /= 60;
            if u > 0 {
                s = format!("{u}h{s}");
            }
        }
        out.push_str(&s);
    }
    if neg { format!("-{out}") } else { out }
}

/// `v / 10^prec` with the fraction's trailing zeros (and a bare point) dropped.
fn frac_string(v: u64, prec: u32) -> String {
    let scale = 10u64.pow(prec);
    let int = v / scale;
    let frac = v % scale;
    if frac == 0 {
        return int.to_string();
    }
    let f = format!("{frac:0width$}", width = prec as usize);
    format!("{int}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
#[path = "go_time_test.rs"]
mod go_time_test;
