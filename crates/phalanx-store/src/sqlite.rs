//! The embedded backend: one SQLite database in the data directory, in WAL
//! mode, with one writer connection and a small pool of readers.

use crate::query::{Cursor, Order, Page, Query, VersionFilter};
use crate::{ExistingVersion, NewVersion, PutOutcome, Stats, Store, StoreError, StoredObject, WriteTxn};
use phalanx_labels::{Label, Subject, can_read};
use phalanx_model::Timestamp;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

const SCHEMA_VERSION: &str = "2";

/// 64-bit FNV-1a of an object id: a small integer key for the id index.
/// Collisions are harmless: every lookup also compares the id itself.
pub(crate) fn id_hash(id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS access_classes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    access_key TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    seq          INTEGER PRIMARY KEY, -- date_added, µs since the epoch
    id_hash      INTEGER NOT NULL,    -- 64-bit FNV-1a of id
    id           TEXT NOT NULL,
    type         TEXT NOT NULL,
    version      TEXT NOT NULL,       -- modified/created, 9 digits; '' when unversioned
    version_us   INTEGER,             -- the same in µs, for range queries
    access_class INTEGER NOT NULL,
    is_latest    INTEGER NOT NULL,
    revoked      INTEGER NOT NULL,
    origin       TEXT NOT NULL,
    json         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_id ON objects (id_hash);
CREATE INDEX IF NOT EXISTS objects_type ON objects (type, seq);
CREATE INDEX IF NOT EXISTS objects_modified ON objects (version_us);
CREATE INDEX IF NOT EXISTS objects_access_class ON objects (access_class, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS objects_fts USING fts5 (
    name, description, content = '', contentless_delete = 1, detail = none,
    tokenize = 'unicode61 remove_diacritics 2'
);
"#;

/// Distinct (label, originator) pairs, cached in memory.
#[derive(Default)]
struct AccessClasses {
    by_key: HashMap<String, i64>,
    labels: Vec<(i64, Label)>,
}

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<WriterState>,
    readers: Mutex<Vec<Connection>>,
    classes: RwLock<AccessClasses>,
}

struct WriterState {
    conn: Connection,
    last_date_added: i64,
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -65536;",
    )?;
    Ok(conn)
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the store in data directory `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::DataDir {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let path = dir.join("phalanx.sqlite");
        let conn = open_connection(&path)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(crate::sqlite_registry::SCHEMA)?;
        let stored: Option<String> =
            conn.query_row("SELECT value FROM settings WHERE key = 'schema_version'", [], |r| r.get(0)).optional()?;
        match stored.as_deref() {
            None => {
                conn.execute("INSERT INTO settings (key, value) VALUES ('schema_version', ?1)", [SCHEMA_VERSION])?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::DataDir {
                    path: dir.display().to_string(),
                    message: format!("schema version {other} is not supported by this build (wants {SCHEMA_VERSION})"),
                });
            }
        }
        let last_date_added: i64 =
            conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM objects", [], |r| r.get(0))?;
        let mut classes = AccessClasses::default();
        {
            let mut stmt = conn.prepare("SELECT id, access_key, label FROM access_classes")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
            for row in rows {
                let (id, key, label) = row?;
                let label: Label = serde_json::from_str(&label).map_err(|e| StoreError::Corrupt {
                    what: format!("access class {id}"),
                    message: e.to_string(),
                })?;
                classes.by_key.insert(key, id);
                classes.labels.push((id, label));
            }
        }
        Ok(SqliteStore {
            path,
            writer: Mutex::new(WriterState { conn, last_date_added }),
            readers: Mutex::new(Vec::new()),
            classes: RwLock::new(classes),
        })
    }

    /// Runs `f` on the writer connection (outside any write transaction).
    pub(crate) fn with_writer<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard.conn)
    }

    /// Runs `f` on a pooled reader connection.
    pub(crate) fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = {
            let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        let result = f(&conn);
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 16 {
            pool.push(conn);
        }
        result
    }

    /// The access classes `reader` may read, as an SQL list of integers
    /// (`None` when there are none).
    fn readable_classes(&self, reader: &Subject) -> Option<String> {
        let classes = self.classes.read().unwrap_or_else(|p| p.into_inner());
        let mut list = String::new();
        for (id, label) in &classes.labels {
            if can_read(reader, label) {
                if !list.is_empty() {
                    list.push(',');
                }
                list.push_str(&id.to_string());
            }
        }
        if list.is_empty() { None } else { Some(list) }
    }

    fn label_of(&self, class: i64) -> Result<Label, StoreError> {
        let classes = self.classes.read().unwrap_or_else(|p| p.into_inner());
        classes
            .labels
            .iter()
            .find(|(id, _)| *id == class)
            .map(|(_, l)| l.clone())
            .ok_or_else(|| StoreError::Corrupt { what: format!("access class {class}"), message: "unknown".into() })
    }
}

/// Builds the WHERE clause shared by query and count.
fn where_clause(query: &Query, readable: &str, params: &mut Vec<SqlValue>) -> Result<String, StoreError> {
    let mut sql = format!("o.access_class IN ({readable})");
    if !query.ids.is_empty() {
        sql.push_str(" AND o.id_hash IN (");
        for (i, id) in query.ids.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('?');
            params.push(SqlValue::Integer(id_hash(id)));
        }
        sql.push_str(") AND o.id IN (");
        for (i, id) in query.ids.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('?');
            params.push(SqlValue::Text(id.clone()));
        }
        sql.push(')');
    }
    if !query.types.is_empty() {
        sql.push_str(" AND o.type IN (");
        for (i, t) in query.types.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('?');
            params.push(SqlValue::Text(t.clone()));
        }
        sql.push(')');
    }
    if let Some(after) = query.added_after {
        sql.push_str(" AND o.seq > ?");
        params.push(SqlValue::Integer(after.unix_micros()));
    }
    if query.exclude_revoked {
        sql.push_str(" AND o.revoked = 0");
    }
    if let Some(text) = &query.text {
        let fts = fts_query(text)?;
        sql.push_str(" AND o.seq IN (SELECT rowid FROM objects_fts WHERE objects_fts MATCH ?)");
        params.push(SqlValue::Text(fts));
    }
    sql.push_str(" AND ");
    sql.push_str(&version_clause(&query.versions, readable, params));
    Ok(sql)
}

fn version_clause(filter: &VersionFilter, readable: &str, params: &mut Vec<SqlValue>) -> String {
    match filter {
        VersionFilter::All => "1".into(),
        VersionFilter::Last => format!(
            "(o.is_latest = 1 OR NOT EXISTS (SELECT 1 FROM objects n WHERE n.id_hash = o.id_hash AND n.id = o.id AND n.version > o.version AND n.access_class IN ({readable})))"
        ),
        VersionFilter::First => format!(
            "NOT EXISTS (SELECT 1 FROM objects n WHERE n.id_hash = o.id_hash AND n.id = o.id AND n.version < o.version AND n.access_class IN ({readable}))"
        ),
        VersionFilter::Exact(list) => {
            if list.is_empty() {
                return "0".into();
            }
            let mut s = String::from("o.version IN (");
            for (i, t) in list.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push('?');
                params.push(SqlValue::Text(t.sort_key()));
            }
            s.push(')');
            s
        }
        VersionFilter::AnyOf(list) => {
            if list.is_empty() {
                return "0".into();
            }
            let parts: Vec<String> = list.iter().map(|f| version_clause(f, readable, params)).collect();
            format!("({})", parts.join(" OR "))
        }
    }
}

/// Turns free text into an FTS5 query: the text is cut into words at
/// anything that is not a letter or digit (as the unicode61 tokenizer
/// does), each word must appear, and the last one matches as a prefix.
/// Every word is quoted, so no FTS5 syntax reaches SQLite.
fn fts_query(text: &str) -> Result<String, StoreError> {
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return Err(StoreError::InvalidQuery("the full-text query has no words".into()));
    }
    if words.len() > 32 {
        return Err(StoreError::InvalidQuery("the full-text query has more than 32 words".into()));
    }
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('"');
        out.push_str(w);
        out.push('"');
        if i + 1 == words.len() {
            out.push('*');
        }
    }
    Ok(out)
}

const SELECT_COLUMNS: &str =
    "o.seq, o.id, o.type, o.version, o.seq, o.access_class, o.revoked, o.origin, o.json";

fn row_to_object(store: &SqliteStore, row: &rusqlite::Row<'_>) -> Result<StoredObject, StoreError> {
    let version: String = row.get(3)?;
    let version = if version.is_empty() {
        None
    } else {
        Some(Timestamp::parse(&version).map_err(|e| StoreError::Corrupt { what: "version".into(), message: e.to_string() })?)
    };
    let json: String = row.get(8)?;
    // The version as given (digits kept) is read back from the object.
    let version = match version {
        Some(v) => Some(given_version(&json).filter(|g| *g == v).unwrap_or(v)),
        None => None,
    };
    Ok(StoredObject {
        seq: row.get(0)?,
        id: row.get(1)?,
        object_type: row.get(2)?,
        version,
        date_added: Timestamp::from_unix_micros(row.get(4)?),
        label: store.label_of(row.get(5)?)?,
        revoked: row.get::<_, i64>(6)? != 0,
        origin: row.get(7)?,
        json,
    })
}

/// `modified` (else `created`) as written in the object's JSON.
fn given_version(json: &str) -> Option<Timestamp> {
    #[derive(serde::Deserialize)]
    struct Times<'a> {
        #[serde(borrow)]
        modified: Option<&'a str>,
        #[serde(borrow)]
        created: Option<&'a str>,
    }
    let t: Times<'_> = serde_json::from_str(json).ok()?;
    Timestamp::parse(t.modified.or(t.created)?).ok()
}

impl Store for SqliteStore {
    fn begin(&self) -> Result<Box<dyn WriteTxn + '_>, StoreError> {
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        guard.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteTxn { store: self, guard, open: true, new_classes: Vec::new(), last_lookup: None }))
    }

    fn get(&self, reader: &Subject, id: &str, versions: &VersionFilter) -> Result<Vec<StoredObject>, StoreError> {
        let query = Query { ids: vec![id.to_owned()], versions: versions.clone(), ..Query::default() };
        Ok(self.query(reader, &query)?.objects)
    }

    fn query(&self, reader: &Subject, query: &Query) -> Result<Page, StoreError> {
        let Some(readable) = self.readable_classes(reader) else {
            return Ok(Page::default());
        };
        let mut params = Vec::new();
        let mut sql = format!("SELECT {SELECT_COLUMNS} FROM objects o WHERE ");
        sql.push_str(&where_clause(query, &readable, &mut params)?);
        if let Some(Cursor(seq)) = query.after {
            match query.order {
                Order::AddedAscending => sql.push_str(" AND o.seq > ?"),
                Order::AddedDescending => sql.push_str(" AND o.seq < ?"),
            }
            params.push(SqlValue::Integer(seq));
        }
        sql.push_str(match query.order {
            Order::AddedAscending => " ORDER BY o.seq ASC",
            Order::AddedDescending => " ORDER BY o.seq DESC",
        });
        if query.limit > 0 {
            sql.push_str(" LIMIT ?");
            params.push(SqlValue::Integer(query.limit as i64 + 1));
        }
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(params.iter()))?;
            let mut objects = Vec::new();
            while let Some(row) = rows.next()? {
                objects.push(row_to_object(self, row)?);
            }
            let more = query.limit > 0 && objects.len() > query.limit;
            if more {
                objects.truncate(query.limit);
            }
            let next = if more { objects.last().map(|o| Cursor(o.seq)) } else { None };
            Ok(Page { objects, more, next })
        })
    }

    fn count(&self, reader: &Subject, query: &Query) -> Result<u64, StoreError> {
        let Some(readable) = self.readable_classes(reader) else {
            return Ok(0);
        };
        let mut params = Vec::new();
        let sql = format!("SELECT COUNT(*) FROM objects o WHERE {}", where_clause(query, &readable, &mut params)?);
        self.with_reader(|conn| {
            let n: i64 = conn.prepare_cached(&sql)?.query_row(params_from_iter(params.iter()), |r| r.get(0))?;
            Ok(n as u64)
        })
    }

    fn stats(&self, reader: &Subject) -> Result<Stats, StoreError> {
        let access_classes = self.classes.read().unwrap_or_else(|p| p.into_inner()).labels.len() as u64;
        let Some(readable) = self.readable_classes(reader) else {
            return Ok(Stats { access_classes, ..Stats::default() });
        };
        let all = Query { versions: VersionFilter::All, ..Query::default() };
        let versions = self.count(reader, &all)?;
        let objects = self.count(reader, &Query::default())?;
        self.with_reader(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT type, COUNT(*) FROM objects WHERE access_class IN ({readable}) GROUP BY type ORDER BY type"
            ))?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
            let mut versions_by_type = Vec::new();
            for row in rows {
                versions_by_type.push(row?);
            }
            let last: Option<i64> = conn.query_row(
                &format!("SELECT MAX(seq) FROM objects WHERE access_class IN ({readable})"),
                [],
                |r| r.get(0),
            )?;
            Ok(Stats {
                versions_by_type,
                objects,
                versions,
                access_classes,
                last_added: last.map(Timestamp::from_unix_micros),
            })
        })
    }

    fn marking_definitions(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached("SELECT json FROM objects WHERE type = 'marking-definition'")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                let json = row?;
                let v = serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt { what: "marking-definition".into(), message: e.to_string() })?;
                out.push(v);
            }
            Ok(out)
        })
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with_reader(|conn| {
            Ok(conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
        })
    }

    fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
            )?;
            Ok(())
        })
    }

    fn delete_versions_by(&self, actor: &str, id: &str, versions: &VersionFilter) -> Result<u64, StoreError> { self.delete_versions_impl(actor, id, versions) }
}

struct SqliteTxn<'s> {
    store: &'s SqliteStore,
    guard: MutexGuard<'s, WriterState>,
    open: bool,
    new_classes: Vec<(String, i64, Label)>,
    /// The rows of the id looked up last, reused by the `put` that
    /// usually follows `versions_of` for the same id.
    last_lookup: Option<(String, Vec<VersionRow>)>,
}

/// One stored version, as the write path reads it.
#[derive(Clone)]
struct VersionRow {
    seq: i64,
    version: String,
    is_latest: bool,
    access_class: i64,
    revoked: bool,
    json: String,
}

impl SqliteTxn<'_> {
    /// Every stored version of `id` (one query, no ORDER BY: with STAT4 an
    /// ORDER BY here made SQLite re-prepare the statement on every call).
    fn lookup(&mut self, id: &str) -> Result<Vec<VersionRow>, StoreError> {
        if let Some((last_id, rows)) = &self.last_lookup {
            if last_id == id {
                return Ok(rows.clone());
            }
        }
        let mut out = Vec::new();
        {
            let mut stmt = self.guard.conn.prepare_cached(
                "SELECT seq, version, is_latest, access_class, revoked, json FROM objects WHERE id_hash = ?1 AND id = ?2",
            )?;
            let mut rows = stmt.query(params![id_hash(id), id])?;
            while let Some(row) = rows.next()? {
                out.push(VersionRow {
                    seq: row.get(0)?,
                    version: row.get(1)?,
                    is_latest: row.get::<_, i64>(2)? != 0,
                    access_class: row.get(3)?,
                    revoked: row.get::<_, i64>(4)? != 0,
                    json: row.get(5)?,
                });
            }
        }
        self.last_lookup = Some((id.to_owned(), out.clone()));
        Ok(out)
    }

    fn access_class(&mut self, label: &Label) -> Result<i64, StoreError> {
        let key = label.access_key();
        if let Some(id) = self.store.classes.read().unwrap_or_else(|p| p.into_inner()).by_key.get(&key) {
            return Ok(*id);
        }
        if let Some((_, id, _)) = self.new_classes.iter().find(|(k, _, _)| *k == key) {
            return Ok(*id);
        }
        let json = serde_json::to_string(label)
            .map_err(|e| StoreError::Corrupt { what: "label".into(), message: e.to_string() })?;
        self.guard
            .conn
            .prepare_cached("INSERT INTO access_classes (access_key, label) VALUES (?1, ?2)")?
            .execute(params![key, json])?;
        let id = self.guard.conn.last_insert_rowid();
        self.new_classes.push((key, id, label.clone()));
        Ok(id)
    }
}

impl WriteTxn for SqliteTxn<'_> {
    fn audit(
        &mut self,
        actor: &str,
        action: &str,
        target: &str,
        details: &serde_json::Value,
    ) -> Result<crate::registry::AuditEntry, StoreError> {
        crate::sqlite_registry::append_audit(&self.guard.conn, actor, action, target, details)
    }

    fn versions_of(&mut self, id: &str) -> Result<Vec<ExistingVersion>, StoreError> {
        let rows = self.lookup(id)?;
        let mut out = Vec::new();
        for row in rows {
            let label = match self.new_classes.iter().find(|(_, cid, _)| *cid == row.access_class) {
                Some((_, _, l)) => l.clone(),
                None => self.store.label_of(row.access_class)?,
            };
            out.push(ExistingVersion { version_key: row.version, label, revoked: row.revoked, json: row.json });
        }
        out.sort_by(|a, b| b.version_key.cmp(&a.version_key));
        Ok(out)
    }

    fn put(&mut self, v: NewVersion<'_>) -> Result<PutOutcome, StoreError> {
        let id = v.object.id().as_str();
        let version_key = v.object.version().map(|t| t.sort_key()).unwrap_or_default();
        let mut latest: Option<(i64, String)> = None;
        for row in self.lookup(id)? {
            if row.version == version_key {
                if row.json == v.json || same_json(&row.json, v.json) {
                    return Ok(PutOutcome::Unchanged);
                }
                return Err(StoreError::Conflict {
                    id: id.to_owned(),
                    version: v.object.version().map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                });
            }
            if row.is_latest {
                latest = Some((row.seq, row.version));
            }
        }
        self.last_lookup = None;
        let is_latest = match &latest {
            Some((_, latest_version)) => version_key > *latest_version,
            None => true,
        };
        if is_latest {
            if let Some((seq, _)) = latest {
                self.guard.conn.prepare_cached("UPDATE objects SET is_latest = 0 WHERE seq = ?1")?.execute([seq])?;
            }
        }
        let class = self.access_class(v.label)?;
        let date_added = now_micros().max(self.guard.last_date_added + 1);
        let version_us = v.object.version().map(|t| t.unix_micros());
        self.guard
            .conn
            .prepare_cached(
                "INSERT INTO objects (seq, id_hash, id, type, version, version_us, access_class, is_latest, revoked, origin, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                date_added,
                id_hash(id),
                id,
                v.object.object_type(),
                version_key,
                version_us,
                class,
                is_latest as i64,
                v.object.revoked() as i64,
                v.origin,
                v.json
            ])?;
        let seq = date_added;
        let (name, description) = v.object.search_text();
        if !name.is_empty() || !description.is_empty() {
            self.guard
                .conn
                .prepare_cached("INSERT INTO objects_fts (rowid, name, description) VALUES (?1, ?2, ?3)")?
                .execute(params![seq, name, description])?;
        }
        self.guard.last_date_added = date_added;
        Ok(PutOutcome::Stored { date_added: Timestamp::from_unix_micros(date_added) })
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        {
            let mut classes = self.store.classes.write().unwrap_or_else(|p| p.into_inner());
            for (key, id, label) in self.new_classes.drain(..) {
                classes.by_key.insert(key, id);
                classes.labels.push((id, label));
            }
        }
        self.guard.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTxn<'_> {
    fn drop(&mut self) {
        if self.open {
            if let Err(e) = self.guard.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rollback failed");
            }
            // date_added values handed out in the rolled-back transaction
            // are simply skipped; they still only ever increase.
        }
    }
}

/// Whether two JSON texts hold equal values (member order ignored).
fn same_json(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        (dir, store)
    }

    store_test_suite!(make);

    #[test]
    fn reopening_keeps_data_and_date_added_order() {
        let (dir, store) = make();
        crate::test_suite::date_added_strictly_increases(&store);
        drop(store);
        let again = SqliteStore::open(dir.path()).unwrap();
        let o = crate::test_suite::obj(serde_json::json!({"type": "domain-name", "value": "example.org"}));
        let json = o.to_json_string();
        let label = Label::unclassified(phalanx_labels::Tlp::Green).with_originator(Some("identity--a0000000-0000-4000-8000-000000000001".into()));
        let mut txn = again.begin().unwrap();
        let out = txn.put(NewVersion { object: &o, json: &json, label: &label, origin: "t" }).unwrap();
        txn.commit().unwrap();
        let max_before: i64 = again.with_reader(|c| Ok(c.query_row("SELECT MAX(seq) FROM objects WHERE type = 'ipv4-addr'", [], |r| r.get(0))?)).unwrap();
        match out {
            PutOutcome::Stored { date_added } => assert!(date_added.unix_micros() > max_before),
            PutOutcome::Unchanged => panic!("new object reported unchanged"),
        }
    }
}
