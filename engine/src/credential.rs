//! API keys (SPEC 2.7): the one definition of their text form, shared by the tool that issues
//! them, the compiler that records their hashes and the filter that checks them.
//!
//! ```text
//! gh_key_<id: 16 lowercase hex>_<secret: 43 base62><checksum: 6 base62>
//! ```
//!
//! 73 ASCII characters; a secret scanner matches `gh_key_[0-9a-f]{16}_[0-9A-Za-z]{49}`. The secret
//! is 43 characters drawn uniformly from 62 (256.03 bits from the OS's random source). The
//! checksum is the CRC-32 (IEEE) of everything before it, six base62 digits, so a mistyped key is
//! refused without a lookup and a scanner can tell a key from a look-alike. The id is not secret:
//! it names the key in the credentials file, the bundle, `x-gatehouse-credential` and logs. What
//! the policy keeps is the SHA-256 of the secret ([`ApiKey::digest`]), never the secret.

use core::fmt;

use sha2::{Digest, Sha256};

/// Every key starts with this.
pub const PREFIX: &str = "gh_key_";
/// Characters of the id (hex of 64 bits).
pub const ID_LEN: usize = 16;
/// Characters of the secret: 43 base62 digits, 256.03 bits.
pub const SECRET_LEN: usize = 43;
/// Characters of the checksum: CRC-32 in six base62 digits.
pub const CHECKSUM_LEN: usize = 6;
/// The whole key.
pub const KEY_LEN: usize = PREFIX.len() + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;
/// The pattern secret scanners use, as documented in `docs/security.md`.
pub const PATTERN: &str = "gh_key_[0-9a-f]{16}_[0-9A-Za-z]{49}";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A key's id: 64 bits, written as 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u64);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl core::str::FromStr for KeyId {
    type Err = KeyError;

    /// Exactly 16 lowercase hex digits.
    fn from_str(s: &str) -> Result<KeyId, KeyError> {
        if s.len() != ID_LEN || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(KeyError::Id);
        }
        u64::from_str_radix(s, 16)
            .map(KeyId)
            .map_err(|_| KeyError::Id)
    }
}

/// Why a text is not an API key. All of them are `token_malformed` at the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Not `gh_key_`, or not 73 characters.
    Shape,
    /// The id is not 16 lowercase hex digits.
    Id,
    /// The secret or checksum has a character outside base62.
    Alphabet,
    /// The checksum does not match: a typo, or not a Gatehouse key.
    Checksum,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::Shape => "not a Gatehouse API key (`gh_key_` and 73 characters)",
            KeyError::Id => "the key id is not 16 lowercase hex digits",
            KeyError::Alphabet => "the key has a character outside 0-9, A-Z, a-z",
            KeyError::Checksum => "the key's checksum does not match (a typo?)",
        })
    }
}

impl std::error::Error for KeyError {}

/// A presented key, checked for shape and checksum.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ApiKey<'a> {
    pub id: KeyId,
    secret: &'a str,
}

impl fmt::Debug for ApiKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Whether a presented credential is meant as an API key (and so is never read as a JWS).
pub fn is_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

impl<'a> ApiKey<'a> {
    /// Reads a key: shape, id, alphabet, then the checksum.
    pub fn parse(text: &'a str) -> Result<ApiKey<'a>, KeyError> {
        let rest = text.strip_prefix(PREFIX).ok_or(KeyError::Shape)?;
        if text.len() != KEY_LEN {
            return Err(KeyError::Shape);
        }
        let (id, rest) = rest.split_at_checked(ID_LEN).ok_or(KeyError::Shape)?;
        let rest = rest.strip_prefix('_').ok_or(KeyError::Shape)?;
        let id: KeyId = id.parse()?;
        let (secret, checksum) = rest.split_at_checked(SECRET_LEN).ok_or(KeyError::Shape)?;
        if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyError::Alphabet);
        }
        let signed = text.get(..KEY_LEN - CHECKSUM_LEN).ok_or(KeyError::Shape)?;
        if base62_u32(crc32(signed.as_bytes())).as_bytes() != checksum.as_bytes() {
            return Err(KeyError::Checksum);
        }
        Ok(ApiKey { id, secret })
    }

    /// SHA-256 of the secret: what the credentials file records.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.secret.as_bytes()).into()
    }
}

/// A newly issued key: the text to hand over once, and what the policy records.
pub struct IssuedKey {
    pub id: KeyId,
    pub key: String,
    /// SHA-256 of the secret.
    pub digest: [u8; 32],
}

impl fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Issues a key from `random`, which fills a buffer with bytes from the OS's random source (the
/// CLI passes `getrandom`). The secret's characters are drawn by rejection (bytes below 248 =
/// 4 x 62), so each of the 62 is equally likely.
pub fn issue<E>(mut random: impl FnMut(&mut [u8]) -> Result<(), E>) -> Result<IssuedKey, E> {
    let mut id = [0u8; 8];
    random(&mut id)?;
    let id = KeyId(u64::from_be_bytes(id));
    let mut secret = String::with_capacity(SECRET_LEN);
    let mut pool = [0u8; 64];
    while secret.len() < SECRET_LEN {
        random(&mut pool)?;
        for b in pool {
            if secret.len() < SECRET_LEN && b < 248 {
                if let Some(&c) = BASE62.get(usize::from(b % 62)) {
                    secret.push(char::from(c));
                }
            }
        }
    }
    Ok(assemble(id, &secret))
}

/// The key of `id` and `secret` (43 base62 characters), checksum appended.
pub fn assemble(id: KeyId, secret: &str) -> IssuedKey {
    let mut key = format!("{PREFIX}{id}_{secret}");
    let checksum = base62_u32(crc32(key.as_bytes()));
    key.push_str(&checksum);
    IssuedKey {
        id,
        digest: Sha256::digest(secret.as_bytes()).into(),
        key,
    }
}

/// Six base62 digits, most significant first.
fn base62_u32(mut v: u32) -> String {
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        if let Some(&c) = BASE62.get((v % 62) as usize) {
            *slot = c;
        }
        v /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time, where `i < 256` indexing out of bounds fails the build"
)]
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3, as zlib's `crc32`).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        let i = ((c ^ u32::from(b)) & 0xFF) as usize;
        c = CRC_TABLE.get(i).copied().unwrap_or(0) ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut(&mut [u8]) -> Result<(), ()> {
        let mut n = 0u8;
        move |buf| {
            for b in buf {
                *b = n;
                n = n.wrapping_add(37);
            }
            Ok(())
        }
    }

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn issued_keys_parse_and_keep_their_digest() {
        let issued = issue(counter()).unwrap();
        assert_eq!(issued.key.len(), KEY_LEN);
        assert!(is_key(&issued.key));
        let key = ApiKey::parse(&issued.key).unwrap();
        assert_eq!(key.id, issued.id);
        assert_eq!(key.digest(), issued.digest);
        assert_eq!(
            format!("{:?}", key),
            format!("ApiKey {{ id: {:?}, .. }}", issued.id)
        );
    }

    #[test]
    fn every_single_character_change_is_refused() {
        let issued = issue(counter()).unwrap();
        let bytes = issued.key.as_bytes();
        for i in 0..bytes.len() {
            for replacement in [b'0', b'a', b'Z', b'_', b'-'] {
                if bytes[i] == replacement {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[i] = replacement;
                let changed = String::from_utf8(changed).unwrap();
                assert!(ApiKey::parse(&changed).is_err(), "{changed}");
            }
        }
    }

    #[test]
    fn shapes_are_refused_before_the_checksum() {
        let issued = issue(counter()).unwrap();
        assert_eq!(ApiKey::parse("gh_key_"), Err(KeyError::Shape));
        assert_eq!(ApiKey::parse(&issued.key[1..]), Err(KeyError::Shape));
        let longer = format!("{}0", issued.key);
        assert_eq!(ApiKey::parse(&longer), Err(KeyError::Shape));
        let upper = issued.key.replacen(
            &issued.id.to_string(),
            &issued.id.to_string().to_uppercase(),
            1,
        );
        if upper != issued.key {
            assert_eq!(ApiKey::parse(&upper), Err(KeyError::Id));
        }
        let mut last = issued.key.clone();
        last.pop();
        last.push('!');
        assert_eq!(ApiKey::parse(&last), Err(KeyError::Alphabet));
        // Multi-byte text of the right byte length never panics.
        let odd = format!("{PREFIX}{}", "é".repeat((KEY_LEN - PREFIX.len()) / 2));
        assert!(ApiKey::parse(&odd).is_err());
    }

    #[test]
    fn secrets_use_the_whole_alphabet_evenly() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut counts = [0u32; 62];
        for _ in 0..400 {
            let issued = issue(|buf: &mut [u8]| -> Result<(), ()> {
                for b in buf {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    *b = seed as u8;
                }
                Ok(())
            })
            .unwrap();
            let secret = &issued.key[PREFIX.len() + ID_LEN + 1..][..SECRET_LEN];
            for b in secret.bytes() {
                counts[BASE62.iter().position(|&c| c == b).unwrap()] += 1;
            }
        }
        // 17,200 draws, 277 expected per character.
        assert!(
            counts.iter().all(|&n| (200..360).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn ids_read_only_as_written() {
        assert_eq!("00000000000000ff".parse::<KeyId>(), Ok(KeyId(255)));
        assert_eq!(KeyId(255).to_string(), "00000000000000ff");
        assert!("+0000000000000ff".parse::<KeyId>().is_err());
        assert!("00000000000000FF".parse::<KeyId>().is_err());
        assert!("ff".parse::<KeyId>().is_err());
    }
}
