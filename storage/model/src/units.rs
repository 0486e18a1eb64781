//! Human units in configuration: durations like `"7d"`, `"1h30m"`, `"250ms"`, `"0s"` and sizes
//! like `"16MiB"`, `"512KB"`, `"1048576"`; with serde adapters for config structs.

/// Parses a Prometheus-style duration into milliseconds: one or more `<number><unit>` with
/// units `ms`, `s`, `m`, `h`, `d`, `w`, `y` (365 d). A bare `0` is allowed.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    if b.is_empty() {
        return None;
    }
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let mult: i64 = match &s[ustart..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    Some(total)
}

/// Formats milliseconds back as the shortest exact duration string.
pub fn format_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    for (unit, m) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms % m == 0 {
            return format!("{}{unit}", ms / m);
        }
    }
    format!("{ms}ms")
}

/// Parses a byte size: a number with an optional unit `B`, `KB`/`MB`/`GB` (powers of 1000) or
/// `KiB`/`MiB`/`GiB` (powers of 1024); case-insensitive, spaces allowed.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..split].parse().ok()?;
    let mult: u64 = match s[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Formats bytes as the largest exact binary unit.
pub fn format_bytes(b: u64) -> String {
    for (unit, m) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if b != 0 && b.is_multiple_of(m) {
            return format!("{}{unit}", b / m);
        }
    }
    format!("{b}B")
}

/// serde adapter: a duration string <-> i64 milliseconds.
pub mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration_ms(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration_ms(&s).ok_or_else(|| {
            D::Error::custom(format!("invalid duration {s:?} (e.g. \"7d\", \"90s\")"))
        })
    }
}

/// serde adapter: a duration string <-> u64 milliseconds.
pub mod duration_ms_u64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration_ms(*v as i64))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration_ms(&s)
            .map(|v| v as u64)
            .ok_or_else(|| D::Error::custom(format!("invalid duration {s:?} (e.g. \"10m\")")))
    }
}

/// serde adapter: a size string (or integer) <-> bytes.
pub mod bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(u64),
        S(String),
    }

    pub fn serialize<S: Serializer, T: Copy + Into<u64>>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_bytes((*v).into()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
        let n = match Raw::deserialize(d)? {
            Raw::N(n) => n,
            Raw::S(s) => super::parse_bytes(&s)
                .ok_or_else(|| D::Error::custom(format!("invalid size {s:?} (e.g. \"16MiB\")")))?,
        };
        T::try_from(n).map_err(|_| D::Error::custom(format!("size {n} is too large")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("7d"), Some(7 * 86_400_000));
        assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("0s"), Some(0));
        assert_eq!(parse_duration_ms("0"), Some(0));
        assert_eq!(parse_duration_ms("7"), None);
        assert_eq!(parse_duration_ms("7x"), None);
        assert_eq!(parse_duration_ms(""), None);
        assert_eq!(format_duration_ms(7 * 86_400_000), "7d");
        assert_eq!(format_duration_ms(5_400_000), "90m");
        assert_eq!(format_duration_ms(1), "1ms");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("16MiB"), Some(16 << 20));
        assert_eq!(parse_bytes("16 mib"), Some(16 << 20));
        assert_eq!(parse_bytes("1KB"), Some(1000));
        assert_eq!(parse_bytes("42"), Some(42));
        assert_eq!(parse_bytes("MiB"), None);
        assert_eq!(parse_bytes("1PB"), None);
        assert_eq!(format_bytes(16 << 20), "16MiB");
        assert_eq!(format_bytes(1000), "1000B");
    }
}
