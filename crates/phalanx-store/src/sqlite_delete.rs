//! Deleting object versions from the SQLite store (TAXII §5.7): the rows,
//! their full-text entries, the `is_latest` mark, a tombstone per version
//! in `deleted` (for federation to propagate later) and an audit entry,
//! all in one transaction.

use crate::bodies::Bodies;
use crate::query::VersionFilter;
use crate::sqlite::{SqliteStore, id_hash};
use crate::StoreError;
use phalanx_model::Timestamp;
use phalanx_model::object::SearchTextForm;
use rusqlite::{Connection, params};

/// Tombstones of deleted versions: one row per (id, version) deleted,
/// with the version's access class and origin (federation sends a
/// deletion only where the version could go).
const DELETED_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS deleted (
    id           TEXT NOT NULL,
    version      TEXT NOT NULL, -- modified/created, 9 digits; '' when unversioned
    at           TEXT NOT NULL, -- when it was deleted
    access_class INTEGER NOT NULL DEFAULT 0,
    origin       TEXT NOT NULL DEFAULT ''
)";

/// Creates the tombstone table, adding the columns that older data
/// directories lack.
pub(crate) fn ensure_deleted_table(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(DELETED_SCHEMA)?;
    let mut columns = Vec::new();
    {
        let mut stmt = conn.prepare_cached("SELECT name FROM pragma_table_info('deleted')")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            columns.push(r.get::<_, String>(0)?);
        }
    }
    if !columns.iter().any(|c| c == "access_class") {
        conn.execute_batch("ALTER TABLE deleted ADD COLUMN access_class INTEGER NOT NULL DEFAULT 0")?;
    }
    if !columns.iter().any(|c| c == "origin") {
        conn.execute_batch("ALTER TABLE deleted ADD COLUMN origin TEXT NOT NULL DEFAULT ''")?;
    }
    Ok(())
}

/// One stored version of the object being deleted.
struct Row {
    seq: i64,
    version: String,
    is_latest: bool,
    access_class: i64,
    origin: String,
    body_off: i64,
    body_len: i64,
}

/// Whether `objects_fts` is the older contentless_delete table, from which
/// a row is deleted by rowid; the current one is given the indexed text
/// back (see the store's schema).
fn fts_deletes_by_rowid(conn: &Connection) -> Result<bool, StoreError> {
    let sql: String = conn
        .prepare_cached("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'objects_fts'")?
        .query_row([], |r| r.get(0))?;
    Ok(sql.contains("contentless_delete"))
}

/// Removes version `seq`'s full-text entry, whose text (in the store's
/// `form`) is read from its stored body `json`.
fn delete_fts_row(conn: &Connection, by_rowid: bool, form: SearchTextForm, seq: i64, json: &str) -> Result<(), StoreError> {
    if by_rowid {
        // A row that had no text has no entry; deleting it is a no-op.
        conn.prepare_cached("DELETE FROM objects_fts WHERE rowid = ?1")?.execute([seq])?;
        return Ok(());
    }
    let map = match phalanx_model::strict::parse_text(json) {
        Ok(serde_json::Value::Object(map)) => map,
        other => {
            // A damaged body must not keep its version from being deleted.
            // Its terms stay in the index, unreachable: every search goes
            // through `objects`, and a seq is never given again.
            let error = other.err().map(|e| e.to_string());
            tracing::warn!(seq, ?error, "the stored body of a deleted version is not a json object; its full-text terms stay");
            return Ok(());
        }
    };
    // The same text as when it was written (`write_row_with`): the body
    // is the JSON that was parsed then.
    let (name, description) = phalanx_model::object::search_text_of(&map, form);
    if !name.is_empty() || !description.is_empty() {
        conn.prepare_cached("INSERT INTO objects_fts (objects_fts, rowid, name, description) VALUES ('delete', ?1, ?2, ?3)")?
            .execute(params![seq, name, description])?;
    }
    Ok(())
}

/// Whether the version `key` (9-digit sort key, `''` unversioned) is
/// selected by `filter` among `all` the object's version keys.
fn selected(filter: &VersionFilter, key: &str, all: &[String]) -> bool {
    match filter {
        VersionFilter::All => true,
        VersionFilter::Last => all.iter().max().is_some_and(|m| m == key),
        VersionFilter::First => all.iter().min().is_some_and(|m| m == key),
        VersionFilter::Exact(list) => !key.is_empty() && list.iter().any(|t| t.sort_key() == key),
        VersionFilter::AnyOf(list) => list.iter().any(|f| selected(f, key, all)),
    }
}

/// Deletes what [`SqliteStore::delete_versions_impl`] says; returns the
/// access class of each version deleted.
fn delete_in(
    conn: &Connection,
    bodies: &Bodies,
    form: SearchTextForm,
    actor: &str,
    id: &str,
    versions: &VersionFilter,
) -> Result<Vec<i64>, StoreError> {
    ensure_deleted_table(conn)?;
    let mut rows = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, version, is_latest, access_class, origin, body_off, body_len FROM objects WHERE id_hash = ?1 AND id = ?2",
        )?;
        let mut found = stmt.query(params![id_hash(id), id])?;
        while let Some(r) = found.next()? {
            rows.push(Row {
                seq: r.get(0)?,
                version: r.get(1)?,
                is_latest: r.get::<_, i64>(2)? != 0,
                access_class: r.get(3)?,
                origin: r.get(4)?,
                body_off: r.get(5)?,
                body_len: r.get(6)?,
            });
        }
    }
    let keys: Vec<String> = rows.iter().map(|r| r.version.clone()).collect();
    let doomed: Vec<&Row> = rows.iter().filter(|r| selected(versions, &r.version, &keys)).collect();
    if doomed.is_empty() {
        return Ok(Vec::new());
    }
    let at = Timestamp::now(6).to_string();
    let fts_by_rowid = fts_deletes_by_rowid(conn)?;
    let mut latest_gone = false;
    for row in &doomed {
        let json = if fts_by_rowid { String::new() } else { bodies.read(row.body_off as u64, row.body_len as u64)? };
        delete_fts_row(conn, fts_by_rowid, form, row.seq, &json)?;
        conn.prepare_cached("DELETE FROM objects WHERE seq = ?1")?.execute([row.seq])?;
        conn.prepare_cached("DELETE FROM object_refs WHERE seq = ?1")?.execute([row.seq])?;
        conn.prepare_cached("DELETE FROM observable_values WHERE seq = ?1")?.execute([row.seq])?;
        conn.prepare_cached("DELETE FROM received_signatures WHERE seq = ?1")?.execute([row.seq])?;
        conn.prepare_cached("INSERT INTO deleted (id, version, at, access_class, origin) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![id, row.version, at, row.access_class, row.origin])?;
        latest_gone |= row.is_latest;
    }
    if latest_gone {
        // The newest remaining version becomes the latest.
        conn.prepare_cached(
            "UPDATE objects SET is_latest = 1 WHERE seq = (
                 SELECT seq FROM objects WHERE id_hash = ?1 AND id = ?2 ORDER BY version DESC LIMIT 1)",
        )?
        .execute(params![id_hash(id), id])?;
    }
    let deleted: Vec<&str> = doomed.iter().map(|r| r.version.as_str()).collect();
    crate::sqlite_registry::append_audit(
        conn,
        actor,
        "delete",
        id,
        &serde_json::json!({"versions": deleted, "remaining": rows.len() - doomed.len()}),
    )?;
    Ok(doomed.iter().map(|r| r.access_class).collect())
}

impl SqliteStore {
    /// Deletes the versions of `id` that `versions` selects (among all its
    /// stored versions; the caller has checked what it may delete), with
    /// their full-text rows, fixes `is_latest`, writes tombstones and an
    /// audit entry by `actor`. Returns how many versions were deleted.
    pub(crate) fn delete_versions_impl(&self, actor: &str, id: &str, versions: &VersionFilter) -> Result<u64, StoreError> {
        let classes = self.with_writer(|conn| {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            crate::sqlite::commit_or_rollback(conn, "a delete", || delete_in(conn, &self.bodies, self.fts_form, actor, id, versions))
        })?;
        self.count_class_rows(std::iter::empty(), classes.iter().copied());
        Ok(classes.len() as u64)
    }

    /// The row of the newest tombstone, 0 when none was ever written:
    /// every deletion writes one, and tombstones are never removed, so it
    /// grows with each deletion ([`crate::Store::deletion_mark`]). Read on
    /// a reader: the tombstone table is created with the first deletion.
    pub(crate) fn deletion_mark_impl(&self) -> Result<i64, StoreError> {
        self.with_reader(|conn| {
            let exists: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'deleted')",
                [],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(0);
            }
            Ok(conn.query_row("SELECT COALESCE(MAX(rowid), 0) FROM deleted", [], |r| r.get(0))?)
        })
    }

    /// Tombstones of deleted versions, oldest first: (id, version, at).
    pub fn deleted_versions(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.with_writer(|conn| {
            ensure_deleted_table(conn)?;
            let mut stmt = conn.prepare("SELECT id, version, at FROM deleted ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row?);
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::{Registry, verify_audit_chain};
    use crate::{NewVersion, Query, SqliteStore, Store, VersionFilter};
    use phalanx_model::object::SearchTextForm;
    use phalanx_labels::{Label, Organisation, Reader, Subject, Tlp};
    use phalanx_model::{StixObject, Timestamp};
    use serde_json::json;

    const ORG: &str = "identity--a0000000-0000-4000-8000-000000000001";
    const ID: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

    fn indicator(modified: &str, name: &str) -> StixObject {
        let v = json!({"type": "indicator", "spec_version": "2.1", "id": ID, "created": "2026-01-01T00:00:00.000Z",
            "modified": modified, "name": name, "pattern": "[domain-name:value = 'evil.example']",
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"});
        StixObject::from_value(v, "$").expect("valid").object
    }

    fn put_all(store: &SqliteStore, objects: &[StixObject]) {
        let label = Label::unclassified(Tlp::Green).with_originator(Some(ORG.into()));
        let mut txn = store.begin().expect("begin");
        for o in objects {
            let json = o.to_json_string();
            txn.put(NewVersion { object: o, json: &json, label: &label, origin: "t" }).expect("put");
        }
        txn.commit().expect("commit");
    }

    fn reader() -> Subject {
        Subject::User(Reader::new(Organisation::new(ORG)))
    }

    fn versions(store: &SqliteStore, filter: VersionFilter) -> Vec<String> {
        store.get(&reader(), ID, &filter).expect("get").iter().map(|o| o.version.expect("versioned").to_string()).collect()
    }

    #[test]
    fn deleting_the_latest_version_makes_the_previous_one_latest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let (t1, t2, t3) = ("2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z");
        put_all(&store, &[indicator(t1, "one"), indicator(t2, "two"), indicator(t3, "three")]);
        assert_eq!(store.delete_versions(ID, &VersionFilter::Last).expect("delete"), 1);
        assert_eq!(versions(&store, VersionFilter::Last), vec![t2]);
        assert_eq!(versions(&store, VersionFilter::All), vec![t1, t2]);
        // The full-text row of the deleted version is gone.
        let q = Query { text: Some("three".into()), versions: VersionFilter::All, ..Query::default() };
        assert_eq!(store.count(&reader(), &q).expect("count"), 0);
        let q = Query { text: Some("two".into()), ..Query::default() };
        assert_eq!(store.count(&reader(), &q).expect("count"), 1);
        // Exact version, then everything.
        let exact = VersionFilter::Exact(vec![Timestamp::parse("2026-01-01T00:00:00Z").expect("ts")]);
        assert_eq!(store.delete_versions(ID, &exact).expect("delete"), 1);
        assert_eq!(versions(&store, VersionFilter::All), vec![t2]);
        assert_eq!(store.delete_versions(ID, &VersionFilter::All).expect("delete"), 1);
        assert!(versions(&store, VersionFilter::All).is_empty());
        assert_eq!(store.delete_versions(ID, &VersionFilter::All).expect("delete"), 0);
        // Tombstones and a verified audit chain with the deletions.
        let tombs = store.deleted_versions().expect("tombstones");
        assert_eq!(tombs.len(), 3);
        assert!(tombs.iter().all(|(id, _, _)| id == ID));
        let audit = store.audit_entries(0, 100).expect("audit");
        assert_eq!(audit.iter().filter(|e| e.action == "delete" && e.target == ID).count(), 3);
        assert!(verify_audit_chain(&audit).is_none());
    }

    /// Versions whose full-text entry holds `term`, read from the index
    /// itself (not through `objects`): a leftover entry shows here.
    fn indexed_with(store: &SqliteStore, term: &str) -> Vec<i64> {
        store
            .with_writer(|c| {
                let mut st = c.prepare("SELECT rowid FROM objects_fts WHERE objects_fts MATCH ?1 ORDER BY rowid")?;
                let rows = st.query_map([term], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
                Ok(rows)
            })
            .expect("fts")
    }

    /// Documents the index counts for `term` (fts5vocab over the index).
    fn term_documents(store: &SqliteStore, term: &str) -> i64 {
        store
            .with_writer(|c| {
                c.execute_batch("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, 'objects_fts', 'row')")?;
                let n = c.query_row("SELECT COALESCE(SUM(doc), 0) FROM temp.fts_terms WHERE term = ?1", [term], |r| r.get(0))?;
                Ok(n)
            })
            .expect("vocab")
    }

    /// Deletes the versions of an indicator and checks that their terms
    /// leave the index; `patterns_indexed` says whether the store's form
    /// indexes STIX patterns as words (data directories made before
    /// [`SearchTextForm::Words`]).
    fn deleted_versions_leave_the_index(store: &SqliteStore, patterns_indexed: bool) {
        assert_eq!(store.fts_form == SearchTextForm::WithValuesAndPatterns, patterns_indexed);
        let pattern_documents = |n: i64| if patterns_indexed { n } else { 0 };
        let (t1, t2) = ("2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z");
        // A description with a diacritic (tokenised without it) and an
        // escape in the stored JSON text.
        let v = json!({"type": "indicator", "spec_version": "2.1", "id": ID, "created": "2026-01-01T00:00:00.000Z",
            "modified": t2, "name": "zulu quebec", "description": "kilo \u{e9}cho \"x\"",
            "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"});
        let second = StixObject::from_value(v, "$").expect("valid").object;
        put_all(store, &[indicator(t1, "alpha zulu"), second]);
        assert_eq!(indexed_with(store, "zulu").len(), 2);
        assert_eq!(term_documents(store, "kilo"), 1);
        assert_eq!(term_documents(store, "evil"), pattern_documents(2));
        assert_eq!(store.delete_versions(ID, &VersionFilter::Last).expect("delete"), 1);
        // Every term of the deleted version's name, pattern and description
        // is gone from the index; the other version's stay.
        assert_eq!(indexed_with(store, "zulu").len(), 1);
        for term in ["quebec", "kilo", "echo"] {
            assert!(indexed_with(store, term).is_empty(), "{term} still indexed");
            assert_eq!(term_documents(store, term), 0, "{term} still counted");
        }
        assert_eq!(term_documents(store, "alpha"), 1);
        assert_eq!(term_documents(store, "evil"), pattern_documents(1));
        assert_eq!(store.delete_versions(ID, &VersionFilter::All).expect("delete"), 1);
        assert!(indexed_with(store, "zulu").is_empty());
        for term in ["alpha", "zulu", "evil", "example"] {
            assert_eq!(term_documents(store, term), 0, "{term} still counted");
        }
    }

    #[test]
    fn a_deleted_version_leaves_the_full_text_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let sql: String = store
            .with_writer(|c| Ok(c.query_row("SELECT sql FROM sqlite_schema WHERE name = 'objects_fts'", [], |r| r.get(0))?))
            .expect("schema");
        assert!(sql.contains("columnsize = 0") && !sql.contains("contentless_delete"), "{sql}");
        deleted_versions_leave_the_index(&store, false);
    }

    #[test]
    fn an_older_contentless_delete_index_is_kept_and_deleted_from_by_rowid() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let conn = rusqlite::Connection::open(dir.path().join("phalanx.sqlite")).expect("old file");
            conn.execute_batch(
                "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL;
                 CREATE VIRTUAL TABLE objects_fts USING fts5 (name, description, content = '', contentless_delete = 1,
                     detail = none, tokenize = 'unicode61 remove_diacritics 2');",
            )
            .expect("older index");
        }
        let store = SqliteStore::open(dir.path()).expect("open");
        assert!(store.with_writer(super::fts_deletes_by_rowid).expect("schema"));
        deleted_versions_leave_the_index(&store, false);
    }

    #[test]
    fn a_data_directory_made_before_the_words_form_keeps_indexing_and_deleting_patterns() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            // Such a directory has a schema version and no form setting.
            let store = SqliteStore::open(dir.path()).expect("open");
            assert_eq!(store.fts_form, SearchTextForm::Words);
            store.with_writer(|c| Ok(c.execute("DELETE FROM settings WHERE key = 'fts_text_form'", [])?)).expect("older");
        }
        let store = SqliteStore::open(dir.path()).expect("reopen");
        deleted_versions_leave_the_index(&store, true);
        drop(store);
        // A form this build does not know is refused, by name.
        let store = SqliteStore::open(dir.path()).expect("reopen");
        store.with_writer(|c| Ok(c.execute("INSERT INTO settings (key, value) VALUES ('fts_text_form', 'stems')", [])?)).expect("newer");
        drop(store);
        let error = SqliteStore::open(dir.path()).err().expect("refused").to_string();
        assert!(error.contains("fts_text_form") && error.contains("'stems'"), "{error}");
    }

    #[test]
    fn a_version_whose_body_is_damaged_is_still_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let t1 = "2026-01-01T00:00:00.000Z";
        put_all(&store, &[indicator(t1, "one")]);
        let (off, len): (i64, i64) = store
            .with_writer(|c| Ok(c.query_row("SELECT body_off, body_len FROM objects WHERE id = ?1", [ID], |r| Ok((r.get(0)?, r.get(1)?)))?))
            .expect("span");
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = std::fs::OpenOptions::new().write(true).open(dir.path().join("phalanx.bodies")).expect("bodies");
            f.seek(SeekFrom::Start(off as u64)).expect("seek");
            f.write_all(&vec![b'#'; len as usize]).expect("damage");
        }
        assert_eq!(store.delete_versions(ID, &VersionFilter::All).expect("delete"), 1);
        assert!(versions(&store, VersionFilter::All).is_empty());
        let q = Query { text: Some("one".into()), versions: VersionFilter::All, ..Query::default() };
        assert_eq!(store.count(&reader(), &q).expect("count"), 0);
    }

    #[test]
    fn an_object_can_be_stored_again_after_deletion() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let t1 = "2026-01-01T00:00:00.000Z";
        put_all(&store, &[indicator(t1, "one")]);
        assert_eq!(store.delete_versions_by("user:alice", ID, &VersionFilter::All).expect("delete"), 1);
        assert!(versions(&store, VersionFilter::Last).is_empty());
        put_all(&store, &[indicator(t1, "one")]);
        assert_eq!(versions(&store, VersionFilter::Last), vec![t1]);
        let audit = store.audit_entries(0, 100).expect("audit");
        assert!(audit.iter().any(|e| e.action == "delete" && e.actor == "user:alice"));
    }
}
