//! Strict decoding of the JOSE building blocks: unpadded base64url and JSON without duplicate
//! member names.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

/// Base64url without padding, as RFC 7515 section 2 requires. The engine rejects `=`, the
/// standard alphabet's `+` and `/`, whitespace and non-zero trailing bits, so every byte string
/// has exactly one accepted encoding.
pub(crate) fn b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(any(test, feature = "sign"))]
pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Parses a JSON object, rejecting duplicate member names at any depth (RFC 7515 section 5.2
/// lets us; accepting them invites parser-differential attacks). The same strict parser reads
/// request bodies: see [`crate::json`].
pub(crate) fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match crate::json::parse_strict(bytes) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64url("YWI").as_deref(), Some(&b"ab"[..]));
        assert_eq!(b64url("").as_deref(), Some(&b""[..]));
        assert!(b64url("YWI=").is_none(), "padding");
        assert!(b64url("YWJ").is_none(), "non-canonical trailing bits");
        assert!(b64url("+/8").is_none(), "standard alphabet");
        assert_eq!(b64url("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert!(b64url("YW I").is_none(), "whitespace");
        assert!(b64url("YWI\n").is_none(), "newline");
        assert!(b64url("Y").is_none(), "impossible length");
    }

    #[test]
    fn objects_reject_duplicates_at_any_depth() {
        assert!(object(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_some());
        assert!(object(br#"{"a":1,"a":1}"#).is_none());
        assert!(object(br#"{"a":{"b":1,"b":2}}"#).is_none());
        assert!(object(br#"{"a":[{"b":1,"b":2}]}"#).is_none());
        // Same name through an escape is still a duplicate.
        assert!(object(br#"{"a":1,"\u0061":2}"#).is_none());
    }

    #[test]
    fn objects_only() {
        assert!(object(b"[]").is_none());
        assert!(object(b"\"x\"").is_none());
        assert!(object(b"{} x").is_none());
        assert!(object(b"").is_none());
        assert!(object(b"{\"a\":\"\xff\"}").is_none(), "invalid utf-8");
        assert!(object(br#"{"a":"\ud800"}"#).is_none(), "lone surrogate");
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(object(format!("{{\"a\":{deep}}}").as_bytes()).is_none());
    }

    #[test]
    fn numbers_keep_their_kind() {
        let map = object(br#"{"i":-3,"u":18446744073709551615,"f":1.0,"e":1e3}"#).unwrap();
        assert_eq!(map["i"].as_i64(), Some(-3));
        assert_eq!(map["u"].as_u64(), Some(u64::MAX));
        assert!(map["f"].is_f64());
        assert!(map["e"].is_f64());
    }
}
