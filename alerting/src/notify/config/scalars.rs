//! Scalar conversions as Alertmanager's YAML decoder (Go's yaml.v2, YAML 1.1) and its field
//! types do them: any scalar reads as a string, `yes`/`on`/`true` are booleans, durations
//! in Prometheus' format (`1h30m`), URLs must be http(s) with a host, `host:port` addresses.

use cairn_query::promqltest::parse_duration_ms;

use crate::yaml::{Node, NodeKind};

/// A string field: any scalar (yaml.v2 stores `1` or `true` into a string as written);
/// `None` for null or an absent value.
pub(crate) fn string(node: &Node) -> Result<Option<String>, String> {
    match &node.kind {
        NodeKind::Null => Ok(None),
        NodeKind::Scalar { value, .. } => Ok(Some(value.clone())),
        _ => Err(format!("expected a string, found {}", node.describe())),
    }
}

/// A boolean field. YAML 1.1's spellings, and only unquoted (a quoted `"true"` is a string).
pub(crate) fn boolean(node: &Node) -> Result<Option<bool>, String> {
    match &node.kind {
        NodeKind::Null => Ok(None),
        NodeKind::Scalar { value, plain: true } => match value.as_str() {
            "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
                Ok(Some(true))
            }
            "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off"
            | "OFF" => Ok(Some(false)),
            _ => Err(format!("expected true or false, found {value:?}")),
        },
        NodeKind::Scalar { value, .. } => Err(format!(
            "expected true or false, found the string {value:?}"
        )),
        _ => Err(format!("expected true or false, found {}", node.describe())),
    }
}

/// An integer field: an unquoted decimal (or `0x` hexadecimal) integer.
pub(crate) fn integer(node: &Node) -> Result<Option<i64>, String> {
    match &node.kind {
        NodeKind::Null => Ok(None),
        NodeKind::Scalar { value, plain: true } => parse_int(value)
            .map(Some)
            .ok_or_else(|| format!("expected an integer, found {value:?}")),
        NodeKind::Scalar { value, .. } => {
            Err(format!("expected an integer, found the string {value:?}"))
        }
        _ => Err(format!("expected an integer, found {}", node.describe())),
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let s = s.replace('_', "");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    let n = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -n } else { n })
}

/// A duration field in Prometheus' format (`30s`, `1h30m`, `1d`), in milliseconds.
pub(crate) fn duration(node: &Node) -> Result<Option<i64>, String> {
    match string(node) {
        Ok(Some(s)) => parse_duration_ms(&s).map(Some),
        Ok(None) => Ok(None),
        Err(_) => Err(format!(
            "expected a duration (like 30s or 1h30m), found {}",
            node.describe()
        )),
    }
}

/// An http(s) URL with a host, as Alertmanager's `URL` type requires.
pub(crate) fn check_url(s: &str) -> Result<(), String> {
    if s.chars().any(|c| c.is_ascii_control()) {
        return Err(format!(
            "{s:?} is not a valid URL: it contains a control character"
        ));
    }
    // The scheme: letters first, then letters, digits, `+`, `-`, `.`, up to a colon.
    let mut scheme = "";
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => {
                return Err(format!("{s:?} is not a valid URL: missing protocol scheme"));
            }
            ':' => {
                scheme = &s[..i];
                break;
            }
            _ => break,
        }
    }
    let lower = scheme.to_ascii_lowercase();
    if lower != "http" && lower != "https" {
        return Err(format!(
            "unsupported scheme {lower:?} for URL {s:?} (http or https)"
        ));
    }
    let rest = &s[scheme.len() + 1..];
    let Some(authority) = rest.strip_prefix("//") else {
        return Err(format!("missing host for URL {s:?}"));
    };
    let authority = authority.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err(format!("{s:?} is not a valid URL: missing ']' in host")),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if let Some(port) = port
        && !port.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("{s:?} is not a valid URL: invalid port {port:?}"));
    }
    if let Some(c) = host.chars().find(|c| " <>\"{}|\\^`".contains(*c)) {
        return Err(format!(
            "{s:?} is not a valid URL: invalid character {c:?} in host name"
        ));
    }
    if host.is_empty() {
        return Err(format!("missing host for URL {s:?}"));
    }
    Ok(())
}

/// A `host:port` address (Go's `net.SplitHostPort`, and a port is required).
pub(crate) fn check_host_port(s: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("address {s:?}: {why}"));
    let port = if let Some(rest) = s.strip_prefix('[') {
        let Some((_, after)) = rest.split_once(']') else {
            return bad("missing ']' in address");
        };
        match after.strip_prefix(':') {
            Some(p) => p,
            None if after.is_empty() => return bad("missing port in address"),
            None => return bad("unexpected text after ']'"),
        }
    } else {
        let Some((host, port)) = s.rsplit_once(':') else {
            return bad("missing port in address");
        };
        if host.contains(':') {
            return bad("too many colons in address");
        }
        port
    };
    if port.is_empty() {
        return bad("port cannot be empty");
    }
    Ok(())
}

/// Prometheus' label name syntax (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub(crate) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | 'A'..='Z' | '_'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `content-type` → `Content-Type`; a key with a
/// space or a character outside a header token's is left as it is.
pub(crate) fn canonical_header(key: &str) -> String {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !key.chars().all(token) {
        return key.to_string();
    }
    let mut upper = true;
    key.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_an_http_scheme_and_a_host() {
        assert!(check_url("https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(check_url("http://127.0.0.1:9093/").is_ok());
        assert!(check_url("http://[::1]:80/x").is_ok());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("example.com/hook").is_err());
        assert!(check_url("http://").is_err());
        assert!(check_url("http:///path").is_err());
        assert!(check_url("http://host:port/").is_err());
    }

    #[test]
    fn host_ports_need_a_port() {
        assert!(check_host_port("smtp.example.org:587").is_ok());
        assert!(check_host_port("[::1]:25").is_ok());
        assert!(check_host_port("smtp.example.org").is_err());
        assert!(check_host_port("smtp.example.org:").is_err());
        assert!(check_host_port("a:b:25").is_err());
    }

    #[test]
    fn header_keys_are_canonical() {
        assert_eq!(canonical_header("subject"), "Subject");
        assert_eq!(canonical_header("x-PRIORITY"), "X-Priority");
        assert_eq!(canonical_header("bad key"), "bad key");
    }

    #[test]
    fn integers_are_unquoted() {
        let n = |v: &str, plain| Node {
            line: 1,
            column: 1,
            kind: NodeKind::Scalar {
                value: v.into(),
                plain,
            },
        };
        assert_eq!(integer(&n("-1001234", true)), Ok(Some(-1001234)));
        assert!(integer(&n("12", false)).is_err());
        assert!(integer(&n("1.5", true)).is_err());
    }
}
