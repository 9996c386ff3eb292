//! The embedded store: one SQLite file for every tenant, WAL journal, `synchronous=FULL` (a
//! commit is on disk when it returns, so an acknowledged write survives a crash or power loss).

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::{Store, StoreError, TokenRecord};
use crate::directory::Write;
use crate::resource::{Kind, Resource};

#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS resources (
    tenant   TEXT NOT NULL,
    kind     TEXT NOT NULL,
    id       TEXT NOT NULL,
    key      TEXT NOT NULL,
    version  INTEGER NOT NULL,
    created  TEXT NOT NULL,
    modified TEXT NOT NULL,
    body     TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, id),
    UNIQUE (tenant, kind, key)
);
CREATE TABLE IF NOT EXISTS tokens (
    id      TEXT PRIMARY KEY,
    tenant  TEXT NOT NULL,
    hash    BLOB NOT NULL UNIQUE,
    created TEXT NOT NULL,
    revoked TEXT
);
CREATE INDEX IF NOT EXISTS tokens_by_tenant ON tokens (tenant);
CREATE TABLE IF NOT EXISTS state (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

impl SqliteStore {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        // Another process (`gatehouse directory token`) may hold the write lock for a moment.
        conn.busy_timeout(Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "journal mode `{mode}` instead of WAL"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore { conn })
    }
}

impl Store for SqliteStore {
    fn load(&mut self) -> Result<Vec<(String, Resource)>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT tenant, kind, id, version, created, modified, body FROM resources ORDER BY tenant, kind, id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (tenant, kind, id, version, created, modified, body) = row?;
            let kind = Kind::from_name(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("resource kind `{kind}`")))?;
            let attrs = match serde_json::from_str(&body) {
                Ok(serde_json::Value::Object(attrs)) => attrs,
                _ => return Err(StoreError::Corrupt(format!("body of {tenant}/{id}"))),
            };
            let version = u64::try_from(version)
                .map_err(|_| StoreError::Corrupt(format!("version of {tenant}/{id}")))?;
            out.push((
                tenant,
                Resource {
                    kind,
                    id,
                    attrs,
                    created,
                    modified,
                    version,
                },
            ));
        }
        Ok(out)
    }

    fn commit(&mut self, tenant: &str, writes: &[Write]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for write in writes {
            match write {
                Write::Put(r) => {
                    let body = serde_json::Value::Object(r.attrs.clone()).to_string();
                    let version = i64::try_from(r.version)
                        .map_err(|_| StoreError::Corrupt(format!("version of {}", r.id)))?;
                    tx.execute(
                        "INSERT INTO resources (tenant, kind, id, key, version, created, modified, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (tenant, kind, id) DO UPDATE SET
                           key = excluded.key, version = excluded.version,
                           modified = excluded.modified, body = excluded.body",
                        params![tenant, r.kind.name(), r.id, r.key(), version, r.created, r.modified, body],
                    )?;
                }
                Write::Delete(kind, id) => {
                    tx.execute(
                        "DELETE FROM resources WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                        params![tenant, kind.name(), id],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn token_hashes(&mut self, tenant: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT hash FROM tokens WHERE tenant = ?1 AND revoked IS NULL")?;
        let rows = statement.query_map([tenant], |row| row.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let hash: [u8; 32] = row?
                .try_into()
                .map_err(|_| StoreError::Corrupt("a token hash is not 32 bytes".into()))?;
            out.push(hash);
        }
        Ok(out)
    }

    fn add_token(&mut self, token: &TokenRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO tokens (id, tenant, hash, created, revoked) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                token.id,
                token.tenant,
                token.hash.as_slice(),
                token.created,
                token.revoked
            ],
        )?;
        Ok(())
    }

    fn tokens(&mut self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT id, tenant, hash, created, revoked FROM tokens ORDER BY tenant, created, id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Vec<u8>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, tenant, hash, created, revoked) = row?;
            let hash = hash
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("hash of token {id}")))?;
            out.push(TokenRecord {
                id,
                tenant,
                hash,
                created,
                revoked,
            });
        }
        Ok(out)
    }

    fn revoke_token(&mut self, id: &str, at: &str) -> Result<bool, StoreError> {
        let changed = self.conn.execute(
            "UPDATE tokens SET revoked = COALESCE(revoked, ?2) WHERE id = ?1",
            params![id, at],
        )?;
        Ok(changed > 0)
    }

    fn next_serial(&mut self, floor: u64) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let last: Option<i64> = tx
            .query_row("SELECT value FROM state WHERE name = 'serial'", [], |row| {
                row.get(0)
            })
            .optional()?;
        let last = last.and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
        let next = last.saturating_add(1).max(floor);
        let stored = i64::try_from(next).map_err(|_| StoreError::Corrupt("serial".into()))?;
        tx.execute(
            "INSERT INTO state (name, value) VALUES ('serial', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [stored],
        )?;
        tx.commit()?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(id: &str, name: &str) -> Resource {
        Resource {
            kind: Kind::User,
            id: id.into(),
            attrs: json!({"userName": name, "active": true})
                .as_object()
                .unwrap()
                .clone(),
            created: "t".into(),
            modified: "t".into(),
            version: 1,
        }
    }

    #[test]
    fn commits_are_all_or_nothing_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("gh-dir-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.db");
        let _ = std::fs::remove_file(&path);
        let mut store = SqliteStore::open(&path).unwrap();
        store
            .commit("acme", &[Write::Put(user("u1", "a@x.y"))])
            .unwrap();
        // The second row breaks the unique email: the first of the same commit is not kept.
        let err = store.commit(
            "acme",
            &[
                Write::Put(user("u2", "b@x.y")),
                Write::Put(user("u3", "a@x.y")),
            ],
        );
        assert!(err.is_err());
        // Another tenant may hold the same email.
        store
            .commit("globex", &[Write::Put(user("u9", "a@x.y"))])
            .unwrap();
        drop(store);
        let mut store = SqliteStore::open(&path).unwrap();
        let loaded: Vec<(String, String)> = store
            .load()
            .unwrap()
            .into_iter()
            .map(|(t, r)| (t, r.id))
            .collect();
        assert_eq!(
            loaded,
            [("acme".into(), "u1".into()), ("globex".into(), "u9".into())]
        );
        assert_eq!(store.next_serial(10).unwrap(), 10);
        assert_eq!(store.next_serial(5).unwrap(), 11);
        drop(store);
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.next_serial(0).unwrap(), 12);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
