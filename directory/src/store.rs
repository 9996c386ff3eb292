//! Where the directory lives: one small trait, so that a server database can stand in for the
//! embedded one ([`sqlite::SqliteStore`]). Every row is keyed by tenant. A write is one
//! [`Store::commit`]: durable when it returns, or not applied at all.

pub mod sqlite;

use crate::directory::Write;
use crate::resource::Resource;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database holds an unreadable row: {0}")]
    Corrupt(String),
}

/// A SCIM client's bearer token as stored: never the secret, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub tenant: String,
    pub hash: [u8; 32],
    pub created: String,
    pub revoked: Option<String>,
}

pub trait Store: Send {
    /// Every resource of every tenant, with its tenant.
    fn load(&mut self) -> Result<Vec<(String, Resource)>, StoreError>;
    /// Applies `writes` to `tenant`'s rows in one transaction, committed durably before it
    /// returns `Ok`; on an error nothing of it is applied.
    fn commit(&mut self, tenant: &str, writes: &[Write]) -> Result<(), StoreError>;
    /// The hashes of `tenant`'s tokens that are not revoked.
    fn token_hashes(&mut self, tenant: &str) -> Result<Vec<[u8; 32]>, StoreError>;
    fn add_token(&mut self, token: &TokenRecord) -> Result<(), StoreError>;
    /// Every token, revoked ones too.
    fn tokens(&mut self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Whether a token with that id was there to revoke.
    fn revoke_token(&mut self, id: &str, at: &str) -> Result<bool, StoreError>;
    /// The next bundle serial: above every serial handed out before (across restarts) and at
    /// least `floor`.
    fn next_serial(&mut self, floor: u64) -> Result<u64, StoreError>;
}
