//! Trusted bundle signing keys as operators write them: in a VM configuration's `trusted_keys`,
//! after `gatehouse check --trusted-key` or `gatehouse envoy-config --trusted-key`. One parser, so
//! a key the CLI accepts is a key the filter accepts.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// Why a trusted key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedKeyError {
    /// Neither standard base64 (padded) nor URL-safe base64 (unpadded or padded).
    NotBase64,
    /// Decoded to this many bytes; an Ed25519 public key is 32.
    Length(usize),
}

impl core::fmt::Display for TrustedKeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TrustedKeyError::NotBase64 => f.write_str("is not base64"),
            TrustedKeyError::Length(n) => {
                write!(f, "is {n} bytes, an Ed25519 public key is 32")
            }
        }
    }
}

impl std::error::Error for TrustedKeyError {}

/// An Ed25519 public key from its base64 text: standard alphabet with padding, or the URL-safe
/// alphabet with or without padding; surrounding whitespace is ignored.
pub fn parse_trusted_key(text: &str) -> Result<[u8; 32], TrustedKeyError> {
    let text = text.trim();
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
        .map_err(|_| TrustedKeyError::NotBase64)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| TrustedKeyError::Length(bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_padding_and_whitespace() {
        let key = [0xfbu8; 32];
        let standard = STANDARD.encode(key);
        let url = URL_SAFE_NO_PAD.encode(key);
        assert!(standard.contains('+') || standard.contains('/'));
        for text in [
            standard.clone(),
            format!("  {standard}\n"),
            url.clone(),
            format!("{url}="),
        ] {
            assert_eq!(parse_trusted_key(&text), Ok(key), "{text:?}");
        }
        assert_eq!(parse_trusted_key("AAAA"), Err(TrustedKeyError::Length(3)));
        assert_eq!(
            parse_trusted_key("not base64!"),
            Err(TrustedKeyError::NotBase64)
        );
    }
}
