//! SCIM client secrets: `gh_scim_` and 256 bits from the operating system's generator,
//! stored as SHA-256 only, compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Store, StoreError, TokenRecord};

/// What every secret starts with, so that a leaked one is recognised by secret scanners.
pub const PREFIX: &str = "gh_scim_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the operating system's random generator failed: {0}")]
    Random(getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no token with id `{0}`")]
    Unknown(String),
}

/// A new secret for `tenant`'s SCIM client: recorded (hashed), returned once as `(id, secret)`.
pub fn issue(store: &mut dyn Store, tenant: &str) -> Result<(String, String), TokenError> {
    let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random::<32>()?));
    let id = format!("tok_{}", hex(&random::<6>()?));
    store.add_token(&TokenRecord {
        id: id.clone(),
        tenant: tenant.to_owned(),
        hash: hash(&secret),
        created: crate::clock::now_rfc3339(),
        revoked: None,
    })?;
    Ok((id, secret))
}

/// Revokes the token `id`.
pub fn revoke(store: &mut dyn Store, id: &str) -> Result<(), TokenError> {
    if store.revoke_token(id, &crate::clock::now_rfc3339())? {
        Ok(())
    } else {
        Err(TokenError::Unknown(id.to_owned()))
    }
}

pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `presented` hashes to one of `valid`, comparing every one of them in constant time.
pub fn matches(presented: &str, valid: &[[u8; 32]]) -> bool {
    let presented = hash(presented);
    valid
        .iter()
        .fold(subtle::Choice::from(0), |found, h| {
            found | presented.ct_eq(h)
        })
        .into()
}

pub fn random<const N: usize>() -> Result<[u8; N], TokenError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(TokenError::Random)?;
    Ok(bytes)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn secrets_are_prefixed_random_and_stored_hashed() {
        let path = std::env::temp_dir().join(format!("gh-dir-token-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut store = SqliteStore::open(&path).unwrap();
        let (id1, s1) = issue(&mut store, "acme").unwrap();
        let (id2, s2) = issue(&mut store, "acme").unwrap();
        assert!(s1.starts_with(PREFIX) && s1.len() == PREFIX.len() + 43);
        assert_ne!(s1, s2);
        assert_ne!(id1, id2);
        let hashes = store.token_hashes("acme").unwrap();
        assert!(
            matches(&s1, &hashes) && matches(&s2, &hashes),
            "both valid at once"
        );
        assert!(!matches(&s1, &store.token_hashes("globex").unwrap()));
        assert!(!matches("gh_scim_wrong", &hashes));
        let all = store.tokens().unwrap();
        assert!(all.iter().all(|t| t.hash != [0; 32]));
        revoke(&mut store, &id1).unwrap();
        let hashes = store.token_hashes("acme").unwrap();
        assert!(!matches(&s1, &hashes) && matches(&s2, &hashes));
        assert!(matches!(
            revoke(&mut store, "tok_nope"),
            Err(TokenError::Unknown(_))
        ));
        let _ = std::fs::remove_file(&path);
    }
}
