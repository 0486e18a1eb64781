//! Alertmanager's template functions (`template.DefaultFuncs`): `toUpper`, `toLower`,
//! `title`, `trimSpace`, `join`, `match`, `safeHtml`, `reReplaceAll`, `stringSlice`, `date`,
//! `tz`, `since` and `humanizeDuration`, beside Go's built-ins. Pure: `since` measures from
//! the notification's time, given.

use chrono::{Offset, TimeZone};
use chrono_tz::OffsetName;

use super::data::string_list;
use crate::template::{
    Functions, GoTime, ParamType, PrometheusFunctions, Signature, Value, convert_to_float,
    humanize_duration,
};

pub struct AlertmanagerFunctions {
    /// What `since` measures from.
    pub now: GoTime,
}

const NAMES: &[&str] = &[
    "toUpper",
    "toLower",
    "title",
    "trimSpace",
    "join",
    "match",
    "safeHtml",
    "reReplaceAll",
    "stringSlice",
    "date",
    "tz",
    "since",
    "humanizeDuration",
];

impl Functions for AlertmanagerFunctions {
    fn has(&self, name: &str) -> bool {
        NAMES.contains(&name)
    }

    fn signature(&self, name: &str) -> Option<Signature> {
        use ParamType::{Any, String, Time};
        Some(match name {
            "toUpper" | "toLower" | "title" | "trimSpace" | "safeHtml" => {
                Signature::fixed(&[String])
            }
            "join" => Signature::fixed(&[String, Any]),
            "match" => Signature::fixed(&[String, String]),
            "reReplaceAll" => Signature::fixed(&[String, String, String]),
            "stringSlice" => Signature::variadic(&[], String),
            "date" | "tz" => Signature::fixed(&[String, Time]),
            "since" => Signature::fixed(&[Time]),
            "humanizeDuration" => Signature::fixed(&[Any]),
            _ => return None,
        })
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let s = |i: usize| match args.get(i) {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        };
        let time = |i: usize| match args.get(i) {
            Some(Value::Time(t)) => t.clone(),
            _ => GoTime::zero(),
        };
        Some(match name {
            // Shared with Prometheus' set: same Go functions underneath.
            "toUpper" | "toLower" | "match" | "safeHtml" | "reReplaceAll" => PrometheusFunctions {
                querier: None,
                external_url: String::new(),
            }
            .call(name, args)?,
            "title" => Ok(Value::Str(title(&s(0)))),
            "trimSpace" => Ok(Value::Str(s(0).trim().to_string())),
            "join" => string_list(args.get(1).unwrap_or(&Value::Nil))
                .map(|items| Value::Str(items.join(&s(0)))),
            "stringSlice" => Ok(Value::List(args.to_vec())),
            "date" => Ok(Value::Str(time(1).format(&s(0)))),
            "tz" => in_zone(&s(0), &time(1)).map(Value::Time),
            "since" => Ok(Value::Duration(self.now.sub(&time(0)))),
            "humanizeDuration" => {
                let secs = match args.first() {
                    Some(Value::Duration(d)) => Ok(*d as f64 / 1e9),
                    Some(v) => convert_to_float(v),
                    None => Err("can't convert <nil> to float".to_string()),
                };
                secs.map(|v| Value::Str(humanize_duration(v)))
            }
            _ => return None,
        })
    }
}

/// `cases.Title(language.AmericanEnglish)`: each word's first letter upper-cased and the
/// rest lower-cased (Prometheus' `title` leaves the rest alone; Alertmanager's does not).
pub fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if !in_word && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else if in_word {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        in_word = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// Go's `t.In(time.LoadLocation(name))` with the IANA database chrono-tz carries.
fn in_zone(name: &str, t: &GoTime) -> Result<GoTime, String> {
    if name.is_empty() || name == "UTC" || name == "Local" {
        // Cairn's "Local" is UTC: a server's own zone has no place in a message.
        return Ok(t.utc());
    }
    let tz: chrono_tz::Tz = name
        .parse()
        .map_err(|_| format!("unknown time zone {name}"))?;
    let utc = chrono::DateTime::from_timestamp(t.secs, t.nanos)
        .ok_or_else(|| format!("time out of range for zone {name}"))?
        .naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc);
    let offset_secs = offset.fix().local_minus_utc();
    let zone = offset.abbreviation().unwrap_or("").to_string();
    Ok(GoTime {
        offset_secs,
        // chrono-tz names zones without an abbreviation by their offset (`+0530`), as Go.
        zone,
        ..t.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_lowercases_the_rest_of_each_word() {
        assert_eq!(title("hELLO wORLD"), "Hello World");
        assert_eq!(title("don't stop"), "Don't Stop");
    }

    #[test]
    fn tz_moves_a_time_into_a_zone() {
        let t = GoTime::from_unix_millis(1_700_000_000_000); // 2023-11-14T22:13:20Z
        let berlin = in_zone("Europe/Berlin", &t).unwrap();
        assert_eq!(berlin.string(), "2023-11-14 23:13:20 +0100 CET");
        let kolkata = in_zone("Asia/Kolkata", &t).unwrap();
        assert_eq!(kolkata.string(), "2023-11-15 03:43:20 +0530 IST");
        assert_eq!(
            in_zone("Mars/Olympus", &t).unwrap_err(),
            "unknown time zone Mars/Olympus"
        );
    }
}
