//! [`Registry`] on SQLite.

use crate::registry::{AUDIT_GENESIS, Actor, AuditEntry, OrganisationRecord, Registry, TokenRecord, UserRecord};
use crate::sqlite::SqliteStore;
use crate::StoreError;
use phalanx_model::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

/// Tables of the registry, created with the store.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS organisations (
    id     TEXT PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE COLLATE NOCASE,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id     TEXT PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created     TEXT NOT NULL,
    expires     TEXT,
    revoked     TEXT
);
-- Counts changes to the three tables above, by any process (the triggers
-- of `generation_triggers`): what was derived from them (a token's actor)
-- stays valid while the count is the same. The row is made by the first
-- change, not here: opening a store must not write (it would wait for a
-- running import).
CREATE TABLE IF NOT EXISTS registry_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
"#;

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what: what.to_owned(), message: e.to_string() }
}

fn ts(text: Option<String>) -> Result<Option<Timestamp>, StoreError> {
    text.map(|t| Timestamp::parse(&t).map_err(|e| corrupt("token timestamp", e))).transpose()
}

/// Appends one audit entry on `conn` (inside whatever transaction is open).
pub(crate) fn append_audit(
    conn: &Connection,
    actor: &str,
    action: &str,
    target: &str,
    details: &serde_json::Value,
) -> Result<AuditEntry, StoreError> {
    let entry = next_audit_entry(last_audit(conn)?, actor, action, target, details);
    insert_audit(conn, &entry)?;
    Ok(entry)
}

/// The seq and hash of the last audit entry, if any.
pub(crate) fn last_audit(conn: &Connection) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// The entry that follows `last` (seq and hash), hashed.
pub(crate) fn next_audit_entry(
    last: Option<(i64, String)>,
    actor: &str,
    action: &str,
    target: &str,
    details: &serde_json::Value,
) -> AuditEntry {
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, AUDIT_GENESIS.to_owned()),
    };
    let mut entry = AuditEntry {
        seq,
        at: Timestamp::now(6).to_string(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        details: details.to_string(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.compute_hash();
    entry
}

/// Stores an entry made by [`next_audit_entry`].
pub(crate) fn insert_audit(conn: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit (seq, at, actor, action, target, details, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.target,
        entry.details,
        entry.prev_hash,
        entry.hash
    ])?;
    Ok(())
}

/// The triggers that count every insert, update and delete of the
/// organisations, users and tokens in `registry_generation`, created with
/// the store.
pub(crate) fn generation_triggers() -> String {
    let mut sql = String::new();
    for table in ["organisations", "users", "tokens"] {
        for (event, name) in [("INSERT", "inserted"), ("UPDATE", "updated"), ("DELETE", "deleted")] {
            sql.push_str(&format!(
                "CREATE TRIGGER IF NOT EXISTS {table}_{name} AFTER {event} ON {table} BEGIN
                     INSERT INTO registry_generation (id, n) SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM registry_generation);
                     UPDATE registry_generation SET n = n + 1 WHERE id = 1;
                 END;\n"
            ));
        }
    }
    sql
}

impl Registry for SqliteStore {
    fn put_organisation(&self, org: &OrganisationRecord) -> Result<(), StoreError> {
        let record = serde_json::to_string(org).map_err(|e| corrupt("organisation", e))?;
        self.with_writer(|conn| {
            conn.execute(
                "INSERT INTO organisations (id, name, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, record = excluded.record",
                params![org.org.id, org.name, record],
            )?;
            Ok(())
        })
    }

    fn organisations(&self) -> Result<Vec<OrganisationRecord>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached("SELECT record FROM organisations ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(serde_json::from_str(&row?).map_err(|e| corrupt("organisation", e))?);
            }
            Ok(out)
        })
    }

    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let record = serde_json::to_string(user).map_err(|e| corrupt("user", e))?;
        self.with_writer(|conn| {
            conn.execute(
                "INSERT INTO users (id, name, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, record = excluded.record",
                params![user.id, user.name, record],
            )?;
            Ok(())
        })
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached("SELECT record FROM users ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(serde_json::from_str(&row?).map_err(|e| corrupt("user", e))?);
            }
            Ok(out)
        })
    }

    /// One indexed lookup instead of the trait's scan of every user (a
    /// token authentication does this on every request); same answer.
    fn find_user(&self, name_or_id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.with_reader(|conn| {
            let record: Option<String> = conn
                .prepare_cached("SELECT record FROM users WHERE name = ?1 OR id = ?1 ORDER BY name LIMIT 1")?
                .query_row([name_or_id], |r| r.get(0))
                .optional()?;
            record.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("user", e))).transpose()
        })
    }

    /// The trait's answer with two lookups by id instead of reading every
    /// organisation (done on every authenticated request).
    fn actor(&self, user: &UserRecord, context: Option<String>) -> Result<Actor, StoreError> {
        let (org, parent_org) = self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached("SELECT record FROM organisations WHERE id = ?1")?;
            let mut by_id = |id: &str| -> Result<Option<OrganisationRecord>, StoreError> {
                let record: Option<String> = stmt.query_row([id], |r| r.get(0)).optional()?;
                record.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("organisation", e))).transpose()
            };
            let org = by_id(&user.org_id)?.ok_or_else(|| StoreError::Corrupt {
                what: format!("user {}", user.name),
                message: format!("organisation {} is not registered", user.org_id),
            })?;
            let parent_org = match &org.org.parent {
                Some(parent) => by_id(parent)?.map(|p| p.org),
                None => None,
            };
            Ok((org, parent_org))
        })?;
        Ok(crate::registry::actor_of(user, org.org, parent_org, context))
    }

    fn put_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.execute(
                "INSERT INTO tokens (id, user_id, secret_hash, created, expires, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    t.id,
                    t.user_id,
                    t.secret_hash,
                    t.created.to_string(),
                    t.expires.map(|e| e.to_string()),
                    t.revoked.map(|e| e.to_string())
                ],
            )?;
            Ok(())
        })
    }

    fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.with_reader(|conn| {
            let row = conn
                .prepare_cached("SELECT id, user_id, secret_hash, created, expires, revoked FROM tokens WHERE secret_hash = ?1")?
                .query_row([secret_hash], token_row)
                .optional()?;
            row.map(token_from_row).transpose()
        })
    }

    fn tokens_of(&self, user_id: &str) -> Result<Vec<TokenRecord>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, user_id, secret_hash, created, expires, revoked FROM tokens WHERE user_id = ?1 ORDER BY created",
            )?;
            let rows = stmt.query_map([user_id], token_row)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(token_from_row(row?)?);
            }
            Ok(out)
        })
    }

    fn generation(&self) -> Result<Option<i64>, StoreError> {
        self.with_reader(|conn| {
            let n: i64 = conn
                .prepare_cached("SELECT COALESCE((SELECT n FROM registry_generation WHERE id = 1), 0)")?
                .query_row([], |r| r.get(0))?;
            Ok(Some(n))
        })
    }

    fn revoke_token(&self, token_id: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.with_writer(|conn| {
            let n = conn.execute(
                "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
                params![token_id, at.to_string()],
            )?;
            Ok(n == 1)
        })
    }

    fn audit(&self, actor: &str, action: &str, target: &str, details: &serde_json::Value) -> Result<AuditEntry, StoreError> {
        self.with_writer(|conn| append_audit(conn, actor, action, target, details))
    }

    fn audit_entries(&self, after: i64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit.min(i64::MAX as usize) as i64], |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    details: r.get(5)?,
                    prev_hash: r.get(6)?,
                    hash: r.get(7)?,
                })
            })?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row?);
            }
            Ok(out)
        })
    }
}

type TokenRow = (String, String, String, String, Option<String>, Option<String>);

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn token_from_row((id, user_id, secret_hash, created, expires, revoked): TokenRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id,
        user_id,
        secret_hash,
        created: Timestamp::parse(&created).map_err(|e| corrupt("token created", e))?,
        expires: ts(expires)?,
        revoked: ts(revoked)?,
    })
}
