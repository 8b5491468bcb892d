//! [`FederationStore`] for the SQLite backend: the `peers`, `signatures`
//! and `known_keys` tables, and the release page.

use crate::federation::{FederationStore, KnownKey, PeerExchange, PeerRecord, SignatureRecord, Tombstone};
use crate::query::{Cursor, Page};
use crate::sqlite::{RawRow, SELECT_COLUMNS, SqliteStore};
use crate::StoreError;
use phalanx_labels::{PeerScope, may_release_to_peer};
use phalanx_model::Timestamp;
use rusqlite::{OptionalExtension, params};

/// The federation tables.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS peers (
    name          TEXT PRIMARY KEY,
    config        TEXT NOT NULL,
    added         TEXT NOT NULL,
    push_cursor   INTEGER NOT NULL DEFAULT 0,
    pull_cursor   INTEGER NOT NULL DEFAULT 0,
    delete_cursor INTEGER NOT NULL DEFAULT 0,
    sent          INTEGER NOT NULL DEFAULT 0,
    received      INTEGER NOT NULL DEFAULT 0,
    refused       INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    last_error_at TEXT,
    last_ok_at    TEXT
);
CREATE TABLE IF NOT EXISTS signatures (
    id      TEXT NOT NULL,
    version TEXT NOT NULL,  -- modified/created, 9 digits; '' when unversioned
    signer  TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    sig     TEXT NOT NULL,
    PRIMARY KEY (id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS known_keys (
    owner        TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    learned_from TEXT NOT NULL,
    added        TEXT NOT NULL,
    PRIMARY KEY (owner, key_id)
) WITHOUT ROWID;
"#;

fn parse_time(text: Option<String>) -> Option<Timestamp> {
    text.and_then(|t| Timestamp::parse(&t).ok())
}

impl SqliteStore {
    /// The access classes whose label may go to `peer`, as an SQL list.
    fn released_classes(&self, peer: &PeerScope) -> Option<String> {
        self.classes_where(|label| may_release_to_peer(peer, label))
    }
}

impl FederationStore for SqliteStore {
    fn put_peer(&self, name: &str, config: &str) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.execute(
                "INSERT INTO peers (name, config, added) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET config = excluded.config",
                params![name, config, Timestamp::now(3).to_string()],
            )?;
            Ok(())
        })
    }

    fn peers(&self) -> Result<Vec<PeerRecord>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, config, added, push_cursor, pull_cursor, sent, received, refused,
                        last_error, last_error_at, last_ok_at, delete_cursor FROM peers ORDER BY name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    (r.get::<_, i64>(5)?, r.get::<_, i64>(6)?, r.get::<_, i64>(7)?),
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, Option<String>>(10)?,
                    r.get::<_, i64>(11)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (name, config, added, push_cursor, pull_cursor, (sent, received, refused), last_error, error_at, ok_at, delete_cursor) =
                    row?;
                let added = Timestamp::parse(&added)
                    .map_err(|e| StoreError::Corrupt { what: format!("peer {name} added"), message: e.to_string() })?;
                out.push(PeerRecord {
                    name,
                    config,
                    added,
                    push_cursor,
                    pull_cursor,
                    delete_cursor,
                    sent: sent as u64,
                    received: received as u64,
                    refused: refused as u64,
                    last_error,
                    last_error_at: parse_time(error_at),
                    last_ok_at: parse_time(ok_at),
                });
            }
            Ok(out)
        })
    }

    fn remove_peer(&self, name: &str) -> Result<bool, StoreError> {
        self.with_writer(|conn| Ok(conn.execute("DELETE FROM peers WHERE name = ?1", [name])? > 0))
    }

    fn set_push_cursor(&self, name: &str, seq: i64) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.prepare_cached("UPDATE peers SET push_cursor = ?2 WHERE name = ?1 AND push_cursor < ?2")?
                .execute(params![name, seq])?;
            Ok(())
        })
    }

    fn set_pull_cursor(&self, name: &str, seq: i64) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.prepare_cached("UPDATE peers SET pull_cursor = ?2 WHERE name = ?1 AND pull_cursor < ?2")?
                .execute(params![name, seq])?;
            Ok(())
        })
    }

    fn record_exchange(&self, name: &str, exchange: &PeerExchange) -> Result<(), StoreError> {
        let now = Timestamp::now(3).to_string();
        self.with_writer(|conn| {
            let counts = params![name, exchange.sent as i64, exchange.received as i64, exchange.refused as i64];
            conn.prepare_cached(
                "UPDATE peers SET sent = sent + ?2, received = received + ?3, refused = refused + ?4 WHERE name = ?1",
            )?
            .execute(counts)?;
            match &exchange.error {
                Some(error) => conn
                    .prepare_cached("UPDATE peers SET last_error = ?2, last_error_at = ?3 WHERE name = ?1")?
                    .execute(params![name, error, now])?,
                None => conn
                    .prepare_cached("UPDATE peers SET last_error = NULL, last_ok_at = ?2 WHERE name = ?1")?
                    .execute(params![name, now])?,
            };
            Ok(())
        })
    }

    fn release_page(&self, peer: &PeerScope, after: Cursor, limit: usize) -> Result<Page, StoreError> {
        self.with_reader(|conn| {
            self.in_snapshot(conn, |conn| {
                let Some(classes) = self.released_classes(peer) else {
                    return Ok(Page::default());
                };
                // The rowid order is the commit order: walk it, never sort.
                let sql = format!(
                    "SELECT {SELECT_COLUMNS} FROM objects o NOT INDEXED
                     WHERE o.seq > ?1 AND o.access_class IN ({classes}) ORDER BY o.seq LIMIT ?2"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params![after.0, (limit.max(1) + 1) as i64])?;
                let mut raw = Vec::new();
                while let Some(row) = rows.next()? {
                    raw.push(RawRow::read(row)?);
                }
                self.page_of(raw, limit.max(1))
            })
        })
    }

    fn release_backlog(&self, peer: &PeerScope, after: Cursor) -> Result<(u64, Option<Timestamp>), StoreError> {
        self.with_reader(|conn| {
            self.in_snapshot(conn, |conn| {
                let Some(classes) = self.released_classes(peer) else {
                    return Ok((0, None));
                };
                let sql = format!(
                    "SELECT COUNT(*), MIN(o.seq) FROM objects o NOT INDEXED WHERE o.seq > ?1 AND o.access_class IN ({classes})"
                );
                let (count, first): (i64, Option<i64>) =
                    conn.prepare_cached(&sql)?.query_row([after.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok((count as u64, first.map(Timestamp::from_unix_micros)))
            })
        })
    }

    fn set_delete_cursor(&self, name: &str, row: i64) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.prepare_cached("UPDATE peers SET delete_cursor = ?2 WHERE name = ?1")?.execute(params![name, row])?;
            Ok(())
        })
    }

    fn deletions_for(&self, peer: &PeerScope, after: i64, limit: usize) -> Result<Vec<Tombstone>, StoreError> {
        self.with_writer(|conn| crate::sqlite_delete::ensure_deleted_table(conn))?;
        self.with_reader(|conn| {
            self.in_snapshot(conn, |conn| {
                let Some(classes) = self.released_classes(peer) else {
                    return Ok(Vec::new());
                };
                let sql = format!(
                    "SELECT rowid, id, version, access_class, origin FROM deleted
                     WHERE rowid > ?1 AND access_class IN ({classes}) ORDER BY rowid LIMIT ?2"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params![after, limit.max(1) as i64])?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(Tombstone {
                        row: r.get(0)?,
                        id: r.get(1)?,
                        version: r.get(2)?,
                        label: self.label_of(r.get(3)?)?,
                        origin: r.get(4)?,
                    });
                }
                Ok(out)
            })
        })
    }

    fn version_originator(&self, id: &str, version: &str) -> Result<Option<String>, StoreError> {
        self.with_reader(|conn| {
            self.in_snapshot(conn, |conn| {
                let class: Option<i64> = conn
                    .prepare_cached("SELECT access_class FROM objects WHERE id_hash = ?1 AND id = ?2 AND version = ?3")?
                    .query_row(params![crate::sqlite::id_hash(id), id, version], |r| r.get(0))
                    .optional()?;
                match class {
                    Some(c) => Ok(self.label_of(c)?.originator),
                    None => Ok(None),
                }
            })
        })
    }

    fn put_signatures(&self, signatures: &[SignatureRecord]) -> Result<(), StoreError> {
        if signatures.is_empty() {
            return Ok(());
        }
        self.with_writer(|conn| {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let result = (|| {
                let mut stmt = conn.prepare_cached(
                    "INSERT OR IGNORE INTO signatures (id, version, signer, key_id, sig) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for s in signatures {
                    stmt.execute(params![s.id, s.version, s.signer, s.key_id, s.sig])?;
                }
                Ok::<(), StoreError>(())
            })();
            match result {
                Ok(()) => {
                    conn.execute_batch("COMMIT")?;
                    Ok(())
                }
                Err(e) => {
                    if let Err(rollback) = conn.execute_batch("ROLLBACK") {
                        tracing::error!(error = %rollback, "rollback of signatures failed");
                    }
                    Err(e)
                }
            }
        })
    }

    fn signatures_of(&self, versions: &[(String, String)]) -> Result<Vec<SignatureRecord>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT signer, key_id, sig FROM signatures WHERE id = ?1 AND version = ?2",
            )?;
            let mut out = Vec::new();
            for (id, version) in versions {
                let found = stmt
                    .query_row(params![id, version], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })
                    .optional()?;
                if let Some((signer, key_id, sig)) = found {
                    out.push(SignatureRecord { id: id.clone(), version: version.clone(), signer, key_id, sig });
                }
            }
            Ok(out)
        })
    }

    fn known_keys(&self) -> Result<Vec<KnownKey>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT owner, key_id, public_key, learned_from, added FROM known_keys ORDER BY owner, added",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (owner, key_id, public_key, learned_from, added) = row?;
                let added = Timestamp::parse(&added)
                    .map_err(|e| StoreError::Corrupt { what: format!("key {key_id} added"), message: e.to_string() })?;
                out.push(KnownKey { owner, key_id, public_key, learned_from, added });
            }
            Ok(out)
        })
    }

    fn put_known_key(&self, key: &KnownKey) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.execute(
                "INSERT OR IGNORE INTO known_keys (owner, key_id, public_key, learned_from, added) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.owner, key.key_id, key.public_key, key.learned_from, key.added.to_string()],
            )?;
            Ok(())
        })
    }
}
