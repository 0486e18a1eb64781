//! What every HTTP integration shares: secrets given inline or in a file, the
//! `Authorization` header `http_config` asks for, and the request's common headers.

use crate::notify::config::{HttpClientConfig, Secret};
use crate::notify::outgoing::HttpRequest;
use crate::notify::payload::ReadFile;

/// Cairn's `User-Agent` (Alertmanager sends `Alertmanager/<version>`).
pub fn user_agent() -> String {
    format!("Cairn/{}", env!("CARGO_PKG_VERSION"))
}

/// A secret given inline or as a file (trimmed, as Alertmanager trims URL and token files).
pub fn secret(
    value: &Option<Secret>,
    file: &Option<String>,
    read_file: ReadFile<'_>,
    what: &str,
) -> Result<Option<String>, String> {
    if let Some(s) = value {
        return Ok(Some(s.0.clone()));
    }
    match file {
        Some(path) => read_file(path)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| format!("read {what} file {path}: {e}")),
        None => Ok(None),
    }
}

/// The `Authorization` header `http_config` asks for: `Basic` for `basic_auth`, `<type>
/// <credentials>` for `authorization`.
pub fn authorization(
    cfg: &HttpClientConfig,
    read_file: ReadFile<'_>,
) -> Result<Option<String>, String> {
    if let Some(b) = &cfg.basic_auth {
        let password = secret(
            &b.password,
            &b.password_file,
            read_file,
            "basic_auth password",
        )?
        .unwrap_or_default();
        let raw = format!("{}:{}", b.username, password);
        return Ok(Some(format!("Basic {}", base64(raw.as_bytes()))));
    }
    if let Some(a) = &cfg.authorization {
        let kind = if a.kind.is_empty() {
            "Bearer"
        } else {
            a.kind.as_str()
        };
        let creds = secret(
            &a.credentials,
            &a.credentials_file,
            read_file,
            "authorization credentials",
        )?
        .unwrap_or_default();
        return Ok(Some(format!("{kind} {creds}")));
    }
    Ok(None)
}

/// A JSON POST with Cairn's `User-Agent` and `http_config`'s authorization.
pub fn json_post(
    url: String,
    body: Vec<u8>,
    cfg: &HttpClientConfig,
    read_file: ReadFile<'_>,
) -> Result<HttpRequest, String> {
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("User-Agent".to_string(), user_agent()),
    ];
    if let Some(auth) = authorization(cfg, read_file)? {
        headers.push(("Authorization".to_string(), auth));
    }
    Ok(HttpRequest {
        url,
        headers,
        body,
        http_config: cfg.clone(),
        timeout_ms: None,
    })
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Alertmanager's `TruncateInRunes`: at most `n` characters, the last one `…` when cut.
pub fn truncate_in_runes(s: &str, n: usize) -> (String, bool) {
    let count = s.chars().count();
    if count <= n {
        return (s.to_string(), false);
    }
    if n <= 3 {
        return (s.chars().take(n).collect(), true);
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:pa ss"), "dXNlcjpwYSBzcw==");
    }

    #[test]
    fn truncation_keeps_n_runes_with_an_ellipsis() {
        assert_eq!(
            truncate_in_runes("abcdef", 6),
            ("abcdef".to_string(), false)
        );
        assert_eq!(
            truncate_in_runes("abcdefg", 6),
            ("abcde…".to_string(), true)
        );
        assert_eq!(truncate_in_runes("äöüäöü", 3), ("äöü".to_string(), true));
    }
}
