//! `X-Cairn-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body with a shared secret, as
//! GitHub's webhooks sign. Cairn checks it on `POST /api/v1/alerts/external` and writes it on
//! its own webhook notifications.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header's name.
pub const SIGNATURE_HEADER: &str = "X-Cairn-Signature";

/// The header value for `body`: `sha256=` and the lowercase hex HMAC.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = new_mac(secret);
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `header` is `body`'s signature. The comparison takes the same time wherever the
/// first wrong byte is (`Mac::verify_slice`), so a caller cannot find the tag byte by byte.
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(tag) = decode_hex(hex) else {
        return false;
    };
    let mut mac = new_mac(secret);
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

fn new_mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length (a long one is hashed first): this cannot fail.
    match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_rfc_4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verifies_only_the_right_signature() {
        let body = br#"{"alerts":[]}"#;
        let good = sign(b"s3cret", body);
        assert!(verify(b"s3cret", body, &good));
        assert!(verify(
            b"s3cret",
            body,
            &good.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify(b"other", body, &good));
        assert!(!verify(b"s3cret", b"{\"alerts\":[1]}", &good));
        assert!(!verify(b"s3cret", body, good.trim_start_matches("sha256=")));
        assert!(!verify(b"s3cret", body, "sha256=zz"));
        assert!(!verify(b"s3cret", body, "sha256="));
        assert!(!verify(b"s3cret", body, &good[..good.len() - 2]));
    }
}
