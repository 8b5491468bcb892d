//! [`FederationStore`] for the SQLite backend: the `peers`, `signed_roots`,
//! `received_signatures`, `version_signatures` and `known_keys` tables,
//! and the release page.

use crate::federation::{FederationStore, KnownKey, PeerExchange, PeerRecord, SignatureRecord, Tombstone, VersionSignature};
use crate::query::{Cursor, Page};
use crate::sqlite::{RawRow, SELECT_COLUMNS, SqliteStore};
use crate::StoreError;
use phalanx_labels::{PeerScope, may_release_to_peer};
use phalanx_model::Timestamp;
use rusqlite::{OptionalExtension, params};

/// Inserts version signatures on `conn` (in the caller's transaction):
/// the first signature of a version stays.
pub(crate) fn insert_signatures(conn: &rusqlite::Connection, signatures: &[SignatureRecord]) -> Result<(), StoreError> {
    let mut exists = conn.prepare_cached("SELECT 1 FROM version_signatures WHERE id_hash = ?1 AND id = ?2 AND version = ?3")?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO version_signatures (id_hash, id, version, signer, key_id, sig, tree) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for s in signatures {
        let hash = crate::sqlite::id_hash(&s.id);
        if exists.query_row(params![hash, s.id, s.version], |_| Ok(())).optional()?.is_none() {
            insert.execute(params![hash, s.id, s.version, s.signer, s.key_id, s.sig, s.tree])?;
        }
    }
    Ok(())
}

/// Inserts the signatures of versions stored new in the caller's
/// transaction (none of them has one yet): each distinct signature once
/// in `signed_roots` (the versions of one tree share it), and a row per
/// version, appended in `seq` order, with its proof.
pub(crate) fn insert_new_signatures(conn: &rusqlite::Connection, signatures: &[VersionSignature]) -> Result<(), StoreError> {
    let mut root = conn.prepare_cached("INSERT INTO signed_roots (signer, key_id, sig) VALUES (?1, ?2, ?3)")?;
    let mut version = conn.prepare_cached("INSERT OR IGNORE INTO received_signatures (seq, root, proof) VALUES (?1, ?2, ?3)")?;
    // The versions of a tree come one after the other: the last root
    // inserted is the one to reuse.
    let mut last: Option<(&str, &str, &str, i64)> = None;
    for s in signatures {
        let id = match last {
            Some((signer, key_id, sig, id)) if signer == s.signer && key_id == s.key_id && sig == s.sig => id,
            _ => {
                root.execute(params![s.signer, s.key_id, s.sig])?;
                let id = conn.last_insert_rowid();
                last = Some((&s.signer, &s.key_id, &s.sig, id));
                id
            }
        };
        version.execute(params![s.seq, id, s.proof])?;
    }
    Ok(())
}

/// Adds an exchange to a peer's counters and position on `conn`.
pub(crate) fn write_exchange(conn: &rusqlite::Connection, name: &str, exchange: &PeerExchange) -> Result<(), StoreError> {
    let now = Timestamp::now(3).to_string();
    let (error, error_at, ok_at) = match &exchange.error {
        Some(e) => (Some(e.as_str()), Some(now.as_str()), None),
        None => (None, None, Some(now.as_str())),
    };
    conn.prepare_cached(
        "UPDATE peers SET sent = sent + ?2, received = received + ?3, refused = refused + ?4,
             last_error = ?5, last_error_at = COALESCE(?6, last_error_at), last_ok_at = COALESCE(?7, last_ok_at),
             pull_cursor = MAX(pull_cursor, COALESCE(?8, pull_cursor))
         WHERE name = ?1",
    )?
    .execute(params![name, exchange.sent as i64, exchange.received as i64, exchange.refused as i64, error, error_at, ok_at, exchange.position])?;
    Ok(())
}

/// Adds the columns that older data directories lack to the federation
/// tables (after [`SCHEMA`]).
pub(crate) fn ensure_columns(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let mut has_tree = false;
    {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('version_signatures')")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            has_tree |= r.get::<_, String>(0)? == "tree";
        }
    }
    if !has_tree {
        conn.execute_batch("ALTER TABLE version_signatures ADD COLUMN tree TEXT")?;
    }
    Ok(())
}

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
-- Appended in arrival order; found through the small integer index on
-- id_hash (a primary key on the id text made every insert a random write
-- into a table-sized B-tree: a quarter of a catch-up's time at 300k).
CREATE TABLE IF NOT EXISTS version_signatures (
    id_hash INTEGER NOT NULL,  -- 64-bit FNV-1a of id, as objects.id_hash
    id      TEXT NOT NULL,
    version TEXT NOT NULL,     -- modified/created, 9 digits; '' when unversioned
    signer  TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    sig     TEXT NOT NULL,
    tree    TEXT               -- the inclusion proof when sig covers a tree root
);
CREATE INDEX IF NOT EXISTS version_signatures_id ON version_signatures (id_hash);
-- The signatures that came with versions received from peers, kept by
-- the version's seq (rows appended in seq order; no index to keep):
-- each distinct signature once (up to 32 versions of a tree share it),
-- each version's inclusion proof beside its seq. version_signatures
-- above keeps deletions' signatures and those of versions received
-- before these tables (whose rows cost a random index insert and about
-- 540 bytes per version: a sixth of a catch-up's CPU on the receiver).
CREATE TABLE IF NOT EXISTS signed_roots (
    id     INTEGER PRIMARY KEY,
    signer TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sig    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS received_signatures (
    seq   INTEGER PRIMARY KEY,  -- objects.seq of the version
    root  INTEGER NOT NULL,     -- signed_roots.id
    proof BLOB                  -- the inclusion proof when sig covers a tree root
);
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
        self.with_writer(|conn| write_exchange(conn, name, exchange))
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
        self.with_writer(crate::sqlite_delete::ensure_deleted_table)?;
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
            crate::sqlite::commit_or_rollback(conn, "signatures", || insert_signatures(conn, signatures))
        })
    }

    fn signatures_of(&self, versions: &[(String, String)]) -> Result<Vec<SignatureRecord>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT signer, key_id, sig, tree FROM version_signatures WHERE id_hash = ?1 AND id = ?2 AND version = ?3 ORDER BY rowid LIMIT 1",
            )?;
            let mut out = Vec::new();
            for (id, version) in versions {
                let found = stmt
                    .query_row(params![crate::sqlite::id_hash(id), id, version], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
                    })
                    .optional()?;
                if let Some((signer, key_id, sig, tree)) = found {
                    out.push(SignatureRecord { id: id.clone(), version: version.clone(), signer, key_id, sig, tree });
                }
            }
            Ok(out)
        })
    }

    fn signatures_by_seq(&self, seqs: &[i64]) -> Result<Vec<VersionSignature>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT r.signer, r.key_id, r.sig, v.proof FROM received_signatures v JOIN signed_roots r ON r.id = v.root WHERE v.seq = ?1",
            )?;
            let mut older = conn.prepare_cached(
                "SELECT s.signer, s.key_id, s.sig, s.tree FROM objects o JOIN version_signatures s \
                 ON s.id_hash = o.id_hash AND s.id = o.id AND s.version = o.version WHERE o.seq = ?1 ORDER BY s.rowid LIMIT 1",
            )?;
            let mut out = Vec::with_capacity(seqs.len());
            for &seq in seqs {
                let found = stmt
                    .query_row([seq], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<Vec<u8>>>(3)?)))
                    .optional()?;
                let found = match found {
                    Some(f) => Some(f),
                    None => older
                        .query_row([seq], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?.map(String::into_bytes)))
                        })
                        .optional()?,
                };
                if let Some((signer, key_id, sig, proof)) = found {
                    out.push(VersionSignature { seq, signer, key_id, sig, proof });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewVersion, Store, VersionFilter};
    use phalanx_labels::{Label, Organisation, Policy, Rank, Tlp};
    use phalanx_model::StixObject;
    use std::collections::BTreeSet;

    const LTU: &str = "identity--0e6a3b1c-1111-4a8d-9a63-7a1a6bd0f201";
    const NATO_ORG: &str = "identity--0e6a3b1c-2222-4a8d-9a63-7a1a6bd0f202";

    fn make() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        (dir, store)
    }

    fn put(store: &SqliteStore, n: u32, label: &Label, origin: &str) -> String {
        let id = format!("indicator--0e6a3b1c-0000-4000-8000-{n:012x}");
        let value = serde_json::json!({
            "type": "indicator", "spec_version": "2.1", "id": id,
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "pattern": "[domain-name:value = 'x.example']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
        });
        let object = StixObject::from_value(value, "$").expect("valid").object;
        let json = object.to_json_string();
        let mut txn = store.begin().expect("begin");
        txn.put(NewVersion { object: &object, json: &json, label, origin }).expect("put");
        txn.commit().expect("commit");
        id
    }

    fn nato_only_peer() -> PeerScope {
        let mut org = Organisation::new(NATO_ORG);
        org.memberships.insert("NATO".into());
        PeerScope { serves: vec![org], accredited: BTreeSet::from([Policy::Nato]), ceiling: Rank::Secret, exercises: BTreeSet::new() }
    }

    fn labelled(policy: Policy, rank: Rank, tlp: Tlp, rel: &[&str]) -> Label {
        let mut label = Label::unclassified(tlp).with_originator(Some(LTU.to_owned()));
        label.policy = policy;
        label.classification = rank;
        label.releasable_to = rel.iter().map(|s| s.to_string()).collect();
        label
    }

    #[test]
    fn the_release_page_holds_only_what_may_go_to_the_peer_in_commit_order() {
        let (_dir, store) = make();
        let public = put(&store, 1, &labelled(Policy::Unclassified, Rank::Unclassified, Tlp::Green, &[]), "local:a");
        put(&store, 2, &labelled(Policy::Eu, Rank::Secret, Tlp::Green, &[]), "local:a");
        let nato = put(&store, 3, &labelled(Policy::Nato, Rank::Secret, Tlp::Green, &[]), "local:a");
        put(&store, 4, &labelled(Policy::Unclassified, Rank::Unclassified, Tlp::Red, &["NATO"]), "local:a");
        put(&store, 5, &labelled(Policy::Nato, Rank::TopSecret, Tlp::Green, &[]), "local:a");
        let named = put(&store, 6, &labelled(Policy::Unclassified, Rank::Unclassified, Tlp::Red, &[NATO_ORG]), "peer:x");
        let peer = nato_only_peer();
        let page = store.release_page(&peer, Cursor(0), 10).expect("page");
        let ids: Vec<&str> = page.objects.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, vec![public.as_str(), nato.as_str(), named.as_str()]);
        assert!(!page.more);
        let first = store.release_page(&peer, Cursor(0), 1).expect("page");
        assert_eq!(first.objects.len(), 1);
        assert!(first.more);
        let rest = store.release_page(&peer, Cursor(first.objects[0].seq), 10).expect("page");
        assert_eq!(rest.objects.len(), 2);
        let (backlog, since) = store.release_backlog(&peer, Cursor(first.objects[0].seq)).expect("backlog");
        assert_eq!(backlog, 2);
        assert!(since.is_some());
        let nobody = PeerScope { serves: vec![], ..nato_only_peer() };
        assert!(store.release_page(&nobody, Cursor(0), 10).expect("page").objects.is_empty());
    }

    #[test]
    fn peers_keep_their_progress_when_reconfigured_and_count_exchanges() {
        let (_dir, store) = make();
        store.put_peer("hub", "{\"a\":1}").expect("put");
        store.set_push_cursor("hub", 42).expect("cursor");
        store.set_pull_cursor("hub", 7).expect("cursor");
        store.set_pull_cursor("hub", 5).expect("an older position is ignored");
        store.record_exchange("hub", &PeerExchange { sent: 3, received: 2, refused: 1, error: Some("boom".into()), position: None }).expect("record");
        store.put_peer("hub", "{\"a\":2}").expect("reconfigure");
        let peers = store.peers().expect("peers");
        assert_eq!(peers.len(), 1);
        let p = &peers[0];
        assert_eq!((p.config.as_str(), p.push_cursor, p.pull_cursor, p.sent, p.received, p.refused), ("{\"a\":2}", 42, 7, 3, 2, 1));
        assert_eq!(p.last_error.as_deref(), Some("boom"));
        store.record_exchange("hub", &PeerExchange::default()).expect("ok");
        let p = &store.peers().expect("peers")[0];
        assert!(p.last_error.is_none() && p.last_ok_at.is_some());
        assert!(store.remove_peer("hub").expect("remove"));
        assert!(!store.remove_peer("hub").expect("remove again"));
    }

    #[test]
    fn an_older_signature_table_gains_the_tree_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let conn = rusqlite::Connection::open(dir.path().join("phalanx.sqlite")).expect("open");
            conn.execute_batch(
                "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL;
                 CREATE TABLE version_signatures (id_hash INTEGER NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL,
                     signer TEXT NOT NULL, key_id TEXT NOT NULL, sig TEXT NOT NULL);",
            )
            .expect("old table");
            conn.execute("INSERT INTO version_signatures VALUES (?1, 'x--1', 'v', 'o', 'k', 'old')", [crate::sqlite::id_hash("x--1")])
                .expect("old row");
        }
        let store = SqliteStore::open(dir.path()).expect("open an older store");
        let found = store.signatures_of(&[("x--1".into(), "v".into())]).expect("get");
        assert_eq!((found[0].sig.as_str(), found[0].tree.as_deref()), ("old", None));
    }

    #[test]
    fn the_first_signature_and_key_of_a_version_stay() {
        let (_dir, store) = make();
        let sig = |s: &str, tree: Option<&str>| SignatureRecord {
            id: "x--1".into(),
            version: "v".into(),
            signer: LTU.into(),
            key_id: "k".into(),
            sig: s.into(),
            tree: tree.map(str::to_owned),
        };
        store.put_signatures(&[sig("first", Some(r#"{"index":0}"#))]).expect("put");
        store.put_signatures(&[sig("second", None)]).expect("put");
        let found = store.signatures_of(&[("x--1".into(), "v".into()), ("x--2".into(), "v".into())]).expect("get");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].sig, "first");
        assert_eq!(found[0].tree.as_deref(), Some(r#"{"index":0}"#), "the proof stays with its signature");
        let key = |k: &str| KnownKey { owner: LTU.into(), key_id: "k1".into(), public_key: k.into(), learned_from: "hub".into(), added: Timestamp::now(3) };
        store.put_known_key(&key("AAA")).expect("key");
        store.put_known_key(&key("BBB")).expect("key");
        let keys = store.known_keys().expect("keys");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].public_key, "AAA");
    }

    #[test]
    fn signatures_and_exchanges_queued_on_the_sql_worker_commit_with_the_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Every write transaction hands its SQL to the worker thread.
        let store = SqliteStore::open(dir.path()).expect("open").with_large_after(0);
        store.put_peer("hub", "{}").expect("peer");
        let label = labelled(Policy::Unclassified, Rank::Unclassified, Tlp::Green, &[]);
        let object = |n: u32| {
            let value = serde_json::json!({
                "type": "indicator", "spec_version": "2.1", "id": format!("indicator--0e6a3b1c-0000-4000-8000-{n:012x}"),
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "pattern": "[domain-name:value = 'x.example']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
            });
            StixObject::from_value(value, "$").expect("valid").object
        };
        let stored = |outcome: crate::PutOutcome| match outcome {
            crate::PutOutcome::Stored { date_added } => date_added.unix_micros(),
            crate::PutOutcome::Unchanged => panic!("stored new"),
        };
        // Versions n and n + 1 (n odd) share one signed root; each has its own proof.
        let signature = |seq: i64, n: u32| VersionSignature {
            seq,
            signer: LTU.into(),
            key_id: "k".into(),
            sig: format!("root of {}", (n + 1) / 2),
            proof: Some(n.to_be_bytes().to_vec()),
        };
        // Rolled back: neither the signatures nor the position stay.
        let rolled_back = {
            let mut txn = store.begin().expect("begin");
            let o = object(1);
            let seq = stored(txn.put(NewVersion { object: &o, json: &o.to_json_string(), label: &label, origin: "peer:hub" }).expect("put"));
            txn.put_new_signatures(vec![signature(seq, 1)]).expect("queued");
            txn.record_exchange("hub", PeerExchange { received: 1, position: Some(10), ..PeerExchange::default() }).expect("queued");
            seq
        };
        assert!(store.signatures_by_seq(&[rolled_back]).expect("get").is_empty());
        assert_eq!(store.peers().expect("peers")[0].pull_cursor, 0);
        // Committed: rows queued after the versions, and more versions after them.
        let mut txn = store.begin().expect("begin");
        let mut seqs = Vec::new();
        for n in 1..=600 {
            let o = object(n);
            seqs.push(stored(txn.put(NewVersion { object: &o, json: &o.to_json_string(), label: &label, origin: "peer:hub" }).expect("put")));
            if n % 300 == 0 {
                let from = seqs.len() - 300;
                let batch = seqs[from..].iter().zip(from as u32 + 1..).map(|(seq, n)| signature(*seq, n)).collect();
                txn.put_new_signatures(batch).expect("queued");
                txn.record_exchange("hub", PeerExchange { received: 300, position: Some(i64::from(n)), ..PeerExchange::default() })
                    .expect("queued");
            }
        }
        txn.commit().expect("commit");
        let found = store.signatures_by_seq(&seqs).expect("get");
        assert_eq!(found.len(), 600);
        for (i, s) in found.iter().enumerate() {
            assert_eq!(*s, signature(seqs[i], i as u32 + 1), "version {i}");
        }
        let roots: i64 = store.with_reader(|c| Ok(c.query_row("SELECT COUNT(*) FROM signed_roots", [], |r| r.get(0))?)).expect("count");
        assert_eq!(roots, 300, "two versions of a tree share their root");
        let hub = &store.peers().expect("peers")[0];
        assert_eq!((hub.pull_cursor, hub.received), (600, 600));
    }

    #[test]
    fn a_version_received_before_signatures_were_kept_by_seq_answers_from_the_older_table() {
        let (_dir, store) = make();
        let id = put(&store, 1, &labelled(Policy::Unclassified, Rank::Unclassified, Tlp::Green, &[]), "peer:hub");
        let seq: i64 = store.with_reader(|c| Ok(c.query_row("SELECT seq FROM objects WHERE id = ?1", [&id], |r| r.get(0))?)).expect("seq");
        let older = SignatureRecord {
            id: id.clone(),
            version: "2026-01-01T00:00:00.000000000Z".into(),
            signer: LTU.into(),
            key_id: "k".into(),
            sig: "older".into(),
            tree: Some(r#"{"index":0}"#.into()),
        };
        store.put_signatures(std::slice::from_ref(&older)).expect("put");
        let found = store.signatures_by_seq(&[seq, seq + 1]).expect("get");
        assert_eq!(found.len(), 1, "a seq without a version has no signature");
        assert_eq!((found[0].sig.as_str(), found[0].proof.as_deref()), ("older", Some(r#"{"index":0}"#.as_bytes())));
        // Deleting the version drops its signature kept by seq.
        let mut txn = store.begin().expect("begin");
        txn.put_new_signatures(vec![VersionSignature { seq, signer: LTU.into(), key_id: "k".into(), sig: "new".into(), proof: None }])
            .expect("put");
        txn.commit().expect("commit");
        assert_eq!(store.signatures_by_seq(&[seq]).expect("get")[0].sig, "new", "the row kept by seq answers first");
        assert_eq!(store.delete_versions(&id, &VersionFilter::All).expect("delete"), 1);
        let left: i64 =
            store.with_reader(|c| Ok(c.query_row("SELECT COUNT(*) FROM received_signatures", [], |r| r.get(0))?)).expect("count");
        assert_eq!(left, 0);
    }

    #[test]
    fn deletions_are_offered_only_where_the_version_could_go() {
        let (_dir, store) = make();
        let public = put(&store, 1, &labelled(Policy::Unclassified, Rank::Unclassified, Tlp::Green, &[]), "local:a");
        let secret = put(&store, 2, &labelled(Policy::Eu, Rank::Secret, Tlp::Green, &[]), "local:a");
        assert_eq!(store.version_originator(&public, "2026-01-01T00:00:00.000000000Z").expect("originator").as_deref(), Some(LTU));
        assert_eq!(store.delete_versions(&public, &VersionFilter::All).expect("delete"), 1);
        assert_eq!(store.delete_versions(&secret, &VersionFilter::All).expect("delete"), 1);
        assert!(store.version_originator(&public, "2026-01-01T00:00:00.000000000Z").expect("originator").is_none());
        let tombs = store.deletions_for(&nato_only_peer(), 0, 10).expect("deletions");
        assert_eq!(tombs.len(), 1);
        assert_eq!(tombs[0].id, public);
        assert_eq!(tombs[0].origin, "local:a");
        assert!(store.deletions_for(&nato_only_peer(), tombs[0].row, 10).expect("after").is_empty());
    }
}
