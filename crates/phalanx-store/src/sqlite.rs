//! The embedded backend: one SQLite database in the data directory, in WAL
//! mode (but for the length of an exclusive write, [`crate::sqlite_exclusive`]),
//! with one writer connection and a small pool of readers. The JSON
//! text of each version lives in the append-only body file beside it
//! ([`crate::bodies`]); a row names its body by offset and length.

use crate::bodies::{Appender, Bodies, HEADER_LEN};
use crate::sqlite_exclusive::CommittedVersions;
use crate::query::{Cursor, JsonPage, JsonPageObject, LabelFilter, Order, Page, Query, VersionFilter};
use crate::{ExistingVersion, NewVersion, PutOutcome, Stats, Store, StoreError, StoredObject, WriteTxn};
use phalanx_labels::{Label, Subject, can_read};
use phalanx_model::Timestamp;
use phalanx_model::object::SearchTextForm;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SCHEMA_VERSION: &str = "3";

/// Settings key of the end of the committed bytes in the body file.
const BODY_END_SETTING: &str = "body_end";

/// A write transaction that looks up this many ids loads the set of
/// stored id hashes ([`KnownIds`]), so that ids certainly new skip the
/// lookup; small writes never pay for loading it.
const KNOWN_IDS_AFTER_LOOKUPS: u32 = 256;

/// Rows handed to the SQL worker at once.
const WORKER_BATCH: usize = 256;

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
    access_class INTEGER NOT NULL,
    is_latest    INTEGER NOT NULL,
    revoked      INTEGER NOT NULL,
    origin       TEXT NOT NULL,
    body_off     INTEGER NOT NULL,    -- the JSON text: offset in the body file
    body_len     INTEGER NOT NULL     -- and length in bytes
);
CREATE INDEX IF NOT EXISTS objects_id ON objects (id_hash);
-- Type partitions walked in date_added order; access_class rides along so
-- that counting a type's versions of the readable classes is answered from
-- the index alone (no row lookup per version: 190 ms -> 35 ms for three
-- counts over 1M versions). Replaces the older objects_type (type, seq).
CREATE INDEX IF NOT EXISTS objects_type_class ON objects (type, seq, access_class);
DROP INDEX IF EXISTS objects_type;
-- No column or index for ranges over versions: no query has one yet (the
-- column version_us, the version in µs, was written and never read: 8
-- bytes a row in the B-tree, the WAL and the checkpoint). Stores made
-- before keep it, NULL in rows written since.
CREATE INDEX IF NOT EXISTS objects_access_class ON objects (access_class, seq);
-- Relationship references of relationships and sightings (source_ref,
-- target_ref, sighting_of_ref, observed_data_refs, where_sighted_refs):
-- which versions point at an id (REST relations).
CREATE TABLE IF NOT EXISTS object_refs (
    seq         INTEGER NOT NULL,  -- the referring version
    target_hash INTEGER NOT NULL,  -- id_hash of the referenced id
    target      TEXT NOT NULL,
    PRIMARY KEY (seq, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS object_refs_target ON object_refs (target_hash);
-- Contentless: a deletion hands the indexed text back ('delete' command),
-- read from the stored body (sqlite_delete.rs). Without contentless_delete
-- and with columnsize=0, FTS5 keeps no %_docsize row per version: the
-- index of 1M imported objects takes 23 MB instead of 36, and the SQL
-- worker 5% fewer instructions (bench/RESULTS.md, Import, session 16).
-- Data directories made before keep their contentless_delete table, from
-- which a version is deleted by rowid.
CREATE VIRTUAL TABLE IF NOT EXISTS objects_fts USING fts5 (
    name, description, content = '', columnsize = 0, detail = none,
    tokenize = 'unicode61 remove_diacritics 2'
);
"#;

/// Distinct (label, originator) pairs, cached in memory.
#[derive(Default)]
struct AccessClasses {
    by_key: HashMap<String, i64>,
    labels: Vec<(i64, Label)>,
}

impl AccessClasses {
    /// The label of access class `class`.
    fn label(&self, class: i64) -> Result<Label, StoreError> {
        self.labels
            .iter()
            .find(|(id, _)| *id == class)
            .map(|(_, l)| l.clone())
            .ok_or_else(|| StoreError::Corrupt { what: format!("access class {class}"), message: "unknown".into() })
    }
}

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<WriterState>,
    readers: Mutex<Vec<Connection>>,
    classes: RwLock<AccessClasses>,
    pub(crate) bodies: Bodies,
    /// Lookups after which a write transaction loads the known ids and
    /// hands its SQL to a worker thread ([`KNOWN_IDS_AFTER_LOOKUPS`];
    /// tests lower it to run every write through that path).
    large_after: u32,
    /// Most versions the store may hold for a write to be exclusive
    /// ([`crate::sqlite_exclusive::EXCLUSIVE_STORE_MAX`]; tests lower it).
    exclusive_store_max: usize,
    /// Every write is begun as [`Store::begin_exclusive`] (tests: the
    /// shared store suite run through exclusive writes).
    #[cfg(test)]
    exclusive_always: bool,
    /// Wakes the background checkpointer after a commit, when it is on
    /// ([`SqliteStore::with_background_checkpoints`]).
    checkpointer: Option<SyncSender<()>>,
    /// Stored versions per access class: a hint for how a page is read
    /// ([`PagePlan::TableWalk`]). Counted on first use, then kept up by
    /// this process's commits and deletions (other processes' writes are
    /// not seen: a stale count only picks a slower plan).
    class_rows: Mutex<Option<HashMap<i64, u64>>>,
    /// What the full-text index holds: set when the data directory is
    /// made ([`FTS_FORM_SETTING`]), and kept, so that a deletion hands
    /// back the text that was indexed.
    pub(crate) fts_form: SearchTextForm,
}

/// The setting that names the form of the full-text index's text; a data
/// directory made before it has none and keeps
/// [`SearchTextForm::WithValuesAndPatterns`].
const FTS_FORM_SETTING: &str = "fts_text_form";

/// The value of [`FTS_FORM_SETTING`] for [`SearchTextForm::Words`].
const FTS_FORM_WORDS: &str = "words";

struct WriterState {
    conn: Connection,
    last_date_added: i64,
    /// Id hashes of every stored version, once a large write loaded them.
    known: Option<KnownIds>,
}

/// Hashes an id hash (already a hash) for the in-memory set.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        let x = (v ^ (v >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

/// The id hashes of every stored version with `seq <= upto`: an id whose
/// hash is not in the set is certainly not stored, so the write path skips
/// looking it up. Versions added by another process are caught up at the
/// start of each write transaction (their `seq` is always larger, see
/// [`SqliteStore::begin`]); deleted ones only leave a harmless extra hash.
struct KnownIds {
    hashes: HashSet<i64, BuildHasherDefault<IdHasher>>,
    upto: i64,
}

impl KnownIds {
    /// Every stored id hash (from the covering index on `id_hash`).
    fn load(conn: &Connection) -> Result<KnownIds, StoreError> {
        let upto: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM objects", [], |r| r.get(0))?;
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM objects", [], |r| r.get(0))?;
        let mut hashes = HashSet::with_capacity_and_hasher(count.max(0) as usize + 1024, Default::default());
        let mut stmt = conn.prepare("SELECT id_hash FROM objects INDEXED BY objects_id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            hashes.insert(row.get(0)?);
        }
        Ok(KnownIds { hashes, upto })
    }

    /// Adds the versions stored (by another process) since `upto`.
    fn catch_up(&mut self, conn: &Connection) -> Result<(), StoreError> {
        let mut stmt = conn.prepare_cached("SELECT seq, id_hash FROM objects WHERE seq > ?1")?;
        let mut rows = stmt.query([self.upto])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            self.hashes.insert(row.get(1)?);
            self.upto = self.upto.max(seq);
        }
        Ok(())
    }
}

/// Settings of every connection. Pages of the database file are read
/// through a memory map of up to 4 GiB (SQLite caps it at its compiled
/// limit) instead of a copy per page read: TAXII page reads at 1M objects,
/// three alternating pairs, 5,665/5,431/5,501 -> 6,103/6,136/6,170 pages/s,
/// p99 a little lower; import and POST unchanged or a little faster. The
/// price SQLite documents: an I/O error while reading the map stops the
/// process (SIGBUS) instead of failing the query. The page size only takes effect on a new
/// database file (it must come before `journal_mode`, which writes the
/// header). 16 KiB pages against the 4 KiB default, 1M-object import, three
/// alternating runs each: 22.0-22.9 s -> 18.9-20.1 s (shallower B-trees,
/// fewer page-cache operations and WAL frames). Existing stores keep theirs.
/// The journal mode is not among them: WAL is a property of the database
/// file, set once by the writer at open ([`SqliteStore::open`]); a reader
/// that set it too would fail while an exclusive write
/// ([`crate::sqlite_exclusive`]) has the database in its rollback journal.
const CONNECTION_PRAGMAS: &str = "PRAGMA page_size = 16384;
     PRAGMA synchronous = NORMAL;
     PRAGMA temp_store = MEMORY;
     PRAGMA mmap_size = 4294967296;";

/// WAL pages past which the writer checkpoints itself although a
/// background checkpointer is on (256 MiB of 16 KiB pages).
const WRITER_CHECKPOINT_FALLBACK: u32 = 16_384;

/// The page cache of every connection (64 MiB).
const NORMAL_CACHE: &str = "PRAGMA cache_size = -65536";

/// The page cache of the writer connection during a large write (the SQL
/// worker runs it): 256 MiB. 1M-object import, alternating runs: 64 MiB
/// 17.4-19.1 s, 128 MiB 16.8 s, 256 MiB 16.3-16.4 s, 384 MiB 16.3-17.0 s;
/// peak RSS 465 -> 666 MiB (the target is under 1 GiB). Fewer pages are
/// evicted and read back from the WAL while the write goes on.
const LARGE_WRITE_CACHE: &str = "PRAGMA cache_size = -262144";

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(crate::sqlite_exclusive::BUSY_TIMEOUT)?;
    conn.execute_batch(CONNECTION_PRAGMAS)?;
    conn.execute_batch(NORMAL_CACHE)?;
    // Query-planner stability: without it, SQLite (built with STAT4)
    // marks parameters compared with indexed columns so that binding a new
    // value re-prepares the statement on its next step; a page read then
    // parsed and planned its statements again on every request (40% of the
    // CPU of a TAXII page). Our statements and their plans are fixed.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // A merged page read holds one statement per partition.
    conn.set_prepared_statement_cache_capacity(MAX_PARTITIONS + 32);
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
        let bodies = Bodies::open(&dir.join(crate::bodies::FILE_NAME))?;
        let conn = open_connection(&path)?;
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => {}
            // Only a database in the rollback journal with a lock held
            // answers so: another process's exclusive write.
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => {
                return Err(StoreError::DataDir {
                    path: dir.display().to_string(),
                    message: crate::sqlite_exclusive::HELD_BY_AN_EXCLUSIVE_WRITE.into(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(crate::sqlite_registry::SCHEMA)?;
        conn.execute_batch(&crate::sqlite_registry::generation_triggers())?;
        conn.execute_batch(crate::sqlite_federation::SCHEMA)?;
        crate::sqlite_federation::ensure_columns(&conn)?;
        conn.execute_batch(crate::correlation::SCHEMA)?;
        let stored: Option<String> =
            conn.query_row("SELECT value FROM settings WHERE key = 'schema_version'", [], |r| r.get(0)).optional()?;
        match stored.as_deref() {
            None => {
                conn.execute("INSERT INTO settings (key, value) VALUES ('schema_version', ?1)", [SCHEMA_VERSION])?;
                // A new data directory: values are searched through
                // `observable_values`, not as words.
                conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)", [FTS_FORM_SETTING, FTS_FORM_WORDS])?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::DataDir {
                    path: dir.display().to_string(),
                    message: format!("schema version {other} is not supported by this build (wants {SCHEMA_VERSION})"),
                });
            }
        }
        let form: Option<String> =
            conn.query_row("SELECT value FROM settings WHERE key = ?1", [FTS_FORM_SETTING], |r| r.get(0)).optional()?;
        let fts_form = match form.as_deref() {
            None => SearchTextForm::WithValuesAndPatterns,
            Some(FTS_FORM_WORDS) => SearchTextForm::Words,
            Some(other) => {
                return Err(StoreError::DataDir {
                    path: dir.display().to_string(),
                    message: format!("setting {FTS_FORM_SETTING}: full-text form '{other}' is not supported by this build"),
                });
            }
        };
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
        // Drop the bytes of a write that died before its COMMIT, unless
        // another process is writing right now (its begin does it then).
        conn.busy_timeout(std::time::Duration::ZERO)?;
        if conn.execute_batch("BEGIN IMMEDIATE").is_ok() {
            let end = committed_body_end(&conn);
            conn.execute_batch("COMMIT")?;
            bodies.truncate_to_committed(end?)?;
        }
        conn.busy_timeout(crate::sqlite_exclusive::BUSY_TIMEOUT)?;
        index_relationship_refs(&conn, &bodies)?;
        crate::correlation::index_values(&conn, &bodies)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(WriterState { conn, last_date_added, known: None }),
            readers: Mutex::new(Vec::new()),
            classes: RwLock::new(classes),
            bodies,
            large_after: KNOWN_IDS_AFTER_LOOKUPS,
            exclusive_store_max: crate::sqlite_exclusive::EXCLUSIVE_STORE_MAX,
            #[cfg(test)]
            exclusive_always: false,
            checkpointer: None,
            class_rows: Mutex::new(None),
            fts_form,
        })
    }

    /// Copies committed WAL frames into the database file on a thread of
    /// its own, woken after each write (a transaction's commit or a
    /// statement on the writer connection), instead of in the commit
    /// of every write that fills the WAL past 1,000 pages. The writer
    /// still checkpoints itself past [`WRITER_CHECKPOINT_FALLBACK`] pages,
    /// should the thread fall behind. For a long-running server.
    pub fn with_background_checkpoints(mut self) -> Result<Self, StoreError> {
        let conn = open_connection(&self.path)?;
        let (wake, woken) = sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("phalanx-checkpoint".into())
            .spawn(move || {
                for () in woken {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    });
                    match done {
                        Ok((frames, copied)) => tracing::debug!(frames, copied, "wal checkpoint"),
                        // Another process's checkpoint is running: it does the work.
                        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => {
                            tracing::debug!("wal checkpoint skipped: another checkpoint is running");
                        }
                        Err(e) => tracing::warn!(error = %e, "background wal checkpoint failed"),
                    }
                }
            })
            .map_err(|e| StoreError::Database(format!("cannot start the checkpoint thread: {e}")))?;
        let writer = self.writer.get_mut().unwrap_or_else(|p| p.into_inner());
        writer.conn.execute_batch(&format!("PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_FALLBACK}"))?;
        self.checkpointer = Some(wake);
        Ok(self)
    }

    /// Makes every write transaction take the large-write path (known ids,
    /// SQL worker) after `lookups` lookups instead of
    /// [`KNOWN_IDS_AFTER_LOOKUPS`] (0: from the first).
    #[cfg(test)]
    pub(crate) fn with_large_after(mut self, lookups: u32) -> Self {
        self.large_after = lookups;
        self
    }

    /// Lowers the most versions a store may hold for a write to be
    /// exclusive (tests).
    #[cfg(test)]
    pub(crate) fn with_exclusive_store_max(mut self, versions: usize) -> Self {
        self.exclusive_store_max = versions;
        self
    }

    /// Runs `f` on the writer connection (outside any write transaction).
    pub(crate) fn with_writer<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let result = f(&guard.conn);
        drop(guard);
        self.wake_checkpointer();
        result
    }

    /// Tells the background checkpointer, when it is on, that a write
    /// committed (a wake-up already pending is enough).
    fn wake_checkpointer(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            let _ = checkpointer.try_send(());
        }
    }

    /// Runs `f` on a pooled reader connection.
    pub(crate) fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.take_reader()?;
        let result = f(&conn);
        self.return_reader(conn);
        result
    }

    /// A reader connection from the pool, or a new one.
    fn take_reader(&self) -> Result<Connection, StoreError> {
        let conn = {
            let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            pool.pop()
        };
        match conn {
            Some(c) => Ok(c),
            None => open_connection(&self.path),
        }
    }

    /// Puts a reader connection (not in a transaction) back in the pool.
    fn return_reader(&self, conn: Connection) {
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 16 {
            pool.push(conn);
        }
    }

    /// The access classes whose label meets `keep`, as an SQL list of
    /// integers (`None` when there are none).
    pub(crate) fn classes_where(&self, keep: impl Fn(&Label) -> bool) -> Option<String> {
        let classes = self.classes.read().unwrap_or_else(|p| p.into_inner());
        let mut list = String::new();
        for (id, label) in &classes.labels {
            if keep(label) {
                if !list.is_empty() {
                    list.push(',');
                }
                list.push_str(&id.to_string());
            }
        }
        if list.is_empty() { None } else { Some(list) }
    }

    /// A page of at most `limit` objects from `rows` (one more row than
    /// `limit` means that more follow), their bodies read.
    pub(crate) fn page_of(&self, rows: Vec<RawRow>, limit: usize) -> Result<Page, StoreError> {
        let spans: Vec<(u64, u64)> = rows.iter().map(|r| (r.body_off, r.body_len)).collect();
        let bodies = self.bodies.read_many(&spans)?;
        let mut objects = Vec::with_capacity(rows.len());
        // One look at the classes for the page, not one lock per row.
        let classes = self.classes.read().unwrap_or_else(|p| p.into_inner());
        for (raw, json) in rows.into_iter().zip(bodies) {
            let label = classes.label(raw.access_class)?;
            objects.push(raw.into_object(label, json));
        }
        drop(classes);
        let more = objects.len() > limit;
        if more {
            objects.truncate(limit);
        }
        let next = if more { objects.last().map(|o| Cursor(o.seq)) } else { None };
        Ok(Page { objects, more, next })
    }

    /// A [`JsonPage`] of at most `limit` objects from `rows` (one more row
    /// than `limit` means that more follow), their bodies read.
    fn json_page_of(&self, mut rows: Vec<BodyRow>, limit: usize) -> Result<JsonPage, StoreError> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let mut page = JsonPage { more, next: if more { rows.last().map(|r| Cursor(r.seq)) } else { None }, ..JsonPage::default() };
        let spans: Vec<(u64, u64)> = rows.iter().map(|r| (r.body_off, r.body_len)).collect();
        page.texts.reserve(spans.iter().map(|s| s.1 as usize).sum());
        let at = self.bodies.read_many_into(&spans, &mut page.texts)?;
        // The labels of the page's classes, each once (`classes` runs
        // beside `page.labels`).
        let mut classes: Vec<i64> = Vec::new();
        let known = self.classes.read().unwrap_or_else(|p| p.into_inner());
        for (row, (start, end)) in rows.iter().zip(at) {
            let label = match classes.iter().position(|c| *c == row.access_class) {
                Some(i) => i,
                None => {
                    page.labels.push(known.label(row.access_class)?);
                    classes.push(row.access_class);
                    classes.len() - 1
                }
            };
            page.objects.push(JsonPageObject { text: start..end, date_added: Timestamp::from_unix_micros(row.seq), label });
        }
        Ok(page)
    }

    /// The access classes `reader` may read, as an SQL list of integers
    /// (`None` when there are none).
    pub(crate) fn readable_classes(&self, reader: &Subject) -> Option<String> {
        self.readable_classes_and_all(reader).map(|(list, _)| list)
    }

    /// [`SqliteStore::readable_classes`], and whether they are every class
    /// this store knows. Inside a snapshot the store knows every class of
    /// the snapshot's rows ([`SqliteStore::in_snapshot`] loads the ones
    /// other processes added), so `true` means the reader reads every row.
    fn readable_classes_and_all(&self, reader: &Subject) -> Option<(String, bool)> {
        let classes = self.classes.read().unwrap_or_else(|p| p.into_inner());
        let mut list = String::new();
        let mut all = true;
        for (id, label) in &classes.labels {
            if can_read(reader, label) {
                if !list.is_empty() {
                    list.push(',');
                }
                list.push_str(&id.to_string());
            } else {
                all = false;
            }
        }
        if list.is_empty() { None } else { Some((list, all)) }
    }

    /// The readable access classes whose label also meets `filter`, as an
    /// SQL list (`None` when there are none).
    fn selected_classes(&self, reader: &Subject, filter: &LabelFilter) -> Option<String> {
        let classes = self.classes.read().unwrap_or_else(|p| p.into_inner());
        let mut list = String::new();
        for (id, label) in &classes.labels {
            if filter.matches(label) && can_read(reader, label) {
                if !list.is_empty() {
                    list.push(',');
                }
                list.push_str(&id.to_string());
            }
        }
        if list.is_empty() { None } else { Some(list) }
    }

    /// The classes a query selects and the classes that decide which
    /// version is first or last. `None` when the query can select nothing.
    fn classes_for(&self, reader: &Subject, query: &Query) -> Option<ReaderClasses> {
        let (readable, every) = self.readable_classes_and_all(reader)?;
        let selected = match &query.label {
            None => readable.clone(),
            Some(filter) => self.selected_classes(reader, filter)?,
        };
        Some(ReaderClasses { selected, readable, every })
    }

    /// [`Store::query`] on `conn`, inside [`SqliteStore::in_snapshot`].
    ///
    /// A page in `date_added` order is read as a merge: one statement per
    /// partition (each selected access class, or each asked type), each
    /// walking its `(partition, seq)` index in order, merged lazily until
    /// the page is full. A single statement with `access_class IN (...)`
    /// and `ORDER BY seq` would make SQLite sort every matching row before
    /// the `LIMIT` (a temporary B-tree of the whole store on a 1M-object
    /// node). Queries by id or full text select few rows and stay one
    /// statement.
    fn query_on(&self, conn: &Connection, reader: &Subject, query: &Query) -> Result<Page, StoreError> {
        match self.rows_on::<RawRow>(conn, reader, query)? {
            Some(rows) => self.page_of(rows, if query.limit > 0 { query.limit } else { usize::MAX }),
            None => Ok(Page::default()),
        }
    }

    /// [`Store::query_json`] on `conn`, inside [`SqliteStore::in_snapshot`].
    fn json_query_on(&self, conn: &Connection, reader: &Subject, query: &Query) -> Result<JsonPage, StoreError> {
        match self.rows_on::<BodyRow>(conn, reader, query)? {
            Some(rows) => self.json_page_of(rows, if query.limit > 0 { query.limit } else { usize::MAX }),
            None => Ok(JsonPage::default()),
        }
    }

    /// The rows of a page of `query` (one more than its limit when more
    /// follow), read as `R`; `None` when the reader may read nothing.
    fn rows_on<R: PageRow>(&self, conn: &Connection, reader: &Subject, query: &Query) -> Result<Option<Vec<R>>, StoreError> {
        let Some(classes) = self.classes_for(reader, query) else {
            return Ok(None);
        };
        let selected = &classes.selected;
        let mut params = Vec::new();
        let mut filter = where_clause(query, &classes, &mut params)?;
        if let Some(Cursor(seq)) = query.after {
            match query.order {
                Order::AddedAscending => filter.push_str(" AND o.seq > ?"),
                Order::AddedDescending => filter.push_str(" AND o.seq < ?"),
            }
            params.push(SqlValue::Integer(seq));
        }
        let order = match query.order {
            Order::AddedAscending => " ORDER BY o.seq ASC",
            Order::AddedDescending => " ORDER BY o.seq DESC",
        };
        let limit = if query.limit > 0 { format!(" LIMIT {}", query.limit + 1) } else { String::new() };
        let rows = match partitions(query, selected, |classes| self.hold_most_rows(conn, classes))? {
            PagePlan::Merge(Partitions { index, column, values }) => {
                let sql = format!(
                    "SELECT {} FROM objects o INDEXED BY {index} WHERE o.{column} = ? AND {filter}{order}{limit}",
                    R::COLUMNS
                );
                merge_partitions(conn, &sql, &values, &params, query)?
            }
            plan => {
                // A walk of the table in `seq` order still tests the classes
                // (they are in `filter`): the class count is only a hint.
                let from = if matches!(plan, PagePlan::TableWalk) { "objects o NOT INDEXED" } else { "objects o" };
                let sql = format!("SELECT {} FROM {from} WHERE {filter}{order}{limit}", R::COLUMNS);
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(R::read(row)?);
                }
                out
            }
        };
        Ok(Some(rows))
    }

    /// [`Store::count`] on `conn`, inside [`SqliteStore::in_snapshot`].
    fn count_on(&self, conn: &Connection, reader: &Subject, query: &Query) -> Result<u64, StoreError> {
        let Some(classes) = self.classes_for(reader, query) else {
            return Ok(0);
        };
        let mut params = Vec::new();
        let sql = format!("SELECT COUNT(*) FROM objects o WHERE {}", where_clause(query, &classes, &mut params)?);
        let n: i64 = conn.prepare_cached(&sql)?.query_row(params_from_iter(params.iter()), |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Runs `f` on `conn` in one read transaction, after loading the access
    /// classes other processes added (see [`SqliteStore::refresh_classes`]):
    /// the classes and the rows then come from the same snapshot, so a row
    /// committed by another process is never left out of a page while
    /// later rows are served (the live stream resumes after the last one).
    pub(crate) fn in_snapshot<T>(
        &self,
        conn: &Connection,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Cached statements: parsing BEGIN and COMMIT again on every read
        // was a tenth of a page request's CPU.
        conn.prepare_cached("BEGIN")?.execute([])?;
        let result = self.refresh_classes(conn).and_then(|()| f(conn));
        let end = conn.prepare_cached(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })?.execute([]).map(|_| ());
        let value = result?;
        end?;
        Ok(value)
    }

    /// Loads the access classes that other processes (such as `phalanx
    /// import` beside `phalanx serve`) added since this store loaded its
    /// own: until then their rows are in no reader's readable classes.
    fn refresh_classes(&self, conn: &Connection) -> Result<(), StoreError> {
        // Classes are never deleted: a count that differs means some are
        // missing here (not only the newest ones: this process may have
        // added a later one itself).
        let known = self.classes.read().unwrap_or_else(|p| p.into_inner()).labels.len() as i64;
        let stored: i64 = conn.prepare_cached("SELECT COUNT(*) FROM access_classes")?.query_row([], |r| r.get(0))?;
        if stored <= known {
            return Ok(());
        }
        let mut found = Vec::new();
        {
            let mut stmt = conn.prepare_cached("SELECT id, access_key, label FROM access_classes")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
            for row in rows {
                let (id, key, label) = row?;
                let label: Label = serde_json::from_str(&label)
                    .map_err(|e| StoreError::Corrupt { what: format!("access class {id}"), message: e.to_string() })?;
                found.push((id, key, label));
            }
        }
        let mut classes = self.classes.write().unwrap_or_else(|p| p.into_inner());
        for (id, key, label) in found {
            if !classes.by_key.contains_key(&key) {
                tracing::debug!(class = id, "access class added by another process");
                classes.by_key.insert(key, id);
                classes.labels.push((id, label));
            }
        }
        Ok(())
    }

    /// Runs `read` on a reader in a snapshot ([`SqliteStore::in_snapshot`]),
    /// given up (`None`) when its SQL runs longer than `budget`.
    fn within_budget<T>(&self, budget: Duration, read: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<Option<T>, StoreError> {
        let mut conn = self.take_reader()?;
        let deadline = Instant::now() + budget;
        let gave_up = Arc::new(AtomicBool::new(false));
        let flag = gave_up.clone();
        conn.progress_handler(
            BUDGET_CHECK_OPS,
            Some(move || {
                let late = Instant::now() >= deadline;
                if late {
                    flag.store(true, Ordering::Relaxed);
                }
                late
            }),
        )?;
        let result = self.in_snapshot(&conn, read);
        // The connection goes back to the pool only without the handler
        // and outside any transaction; else it is closed.
        let cleared = conn.progress_handler(0, None::<fn() -> bool>).is_ok();
        if cleared && conn.is_autocommit() {
            self.return_reader(conn);
        }
        match result {
            Ok(value) => Ok(Some(value)),
            Err(_) if gave_up.load(Ordering::Relaxed) => {
                tracing::debug!(budget_us = budget.as_micros() as u64, "read over its budget: handed back");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the access classes `classes` hold at least half the stored
    /// versions (by [`SqliteStore::class_rows`]; counted on `conn` the
    /// first time).
    fn hold_most_rows(&self, conn: &Connection, classes: &[i64]) -> Result<bool, StoreError> {
        let mut counts = self.class_rows.lock().unwrap_or_else(|p| p.into_inner());
        if counts.is_none() {
            let mut found = HashMap::new();
            let mut stmt = conn.prepare_cached("SELECT access_class, COUNT(*) FROM objects GROUP BY access_class")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                found.insert(row.get::<_, i64>(0)?, row.get::<_, i64>(1)?.max(0) as u64);
            }
            *counts = Some(found);
        }
        let counts = counts.as_ref().map(|c| (c.values().sum::<u64>(), classes.iter().filter_map(|k| c.get(k)).sum::<u64>()));
        Ok(counts.is_some_and(|(all, selected)| selected * 2 >= all))
    }

    /// Adds `added` versions to (and takes `removed` from) the counts of
    /// [`SqliteStore::class_rows`], once they are loaded.
    pub(crate) fn count_class_rows(&self, added: impl Iterator<Item = i64>, removed: impl Iterator<Item = i64>) {
        let mut counts = self.class_rows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(counts) = counts.as_mut() {
            for class in added {
                *counts.entry(class).or_default() += 1;
            }
            for class in removed {
                let n = counts.entry(class).or_default();
                *n = n.saturating_sub(1);
            }
        }
    }

    pub(crate) fn label_of(&self, class: i64) -> Result<Label, StoreError> {
        self.classes.read().unwrap_or_else(|p| p.into_inner()).label(class)
    }
}

/// The setting that says `object_refs` holds every stored version's
/// relationship references.
const REFS_INDEXED_SETTING: &str = "object_refs_indexed";

/// The types whose relationship references are indexed.
const RELATION_TYPES: [&str; 2] = ["relationship", "sighting"];

/// The properties that make a relationship or sighting point at objects.
const RELATIONSHIP_REF_KEYS: [&str; 5] =
    ["source_ref", "target_ref", "sighting_of_ref", "observed_data_refs", "where_sighted_refs"];

/// The ids a relationship or sighting points at (nothing for other types).
pub(crate) fn relationship_refs(object_type: &str, map: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    if !RELATION_TYPES.contains(&object_type) {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for key in RELATIONSHIP_REF_KEYS {
        match phalanx_model::check::member(map, key) {
            Some(serde_json::Value::String(id)) => out.push(id.clone()),
            Some(serde_json::Value::Array(ids)) => {
                out.extend(ids.iter().filter_map(serde_json::Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Fills `object_refs` from the stored relationships and sightings of a
/// data directory written before the table existed (once; a setting
/// records it). Skipped while another process writes: its next open does it.
fn index_relationship_refs(conn: &Connection, bodies: &Bodies) -> Result<(), StoreError> {
    let done: Option<String> =
        conn.query_row("SELECT value FROM settings WHERE key = ?1", [REFS_INDEXED_SETTING], |r| r.get(0)).optional()?;
    if done.is_some() {
        return Ok(());
    }
    if conn.execute_batch("BEGIN IMMEDIATE").is_err() {
        return Ok(());
    }
    let n = commit_or_rollback(conn, "the reference index", || {
        let mut rows = Vec::new();
        {
            let mut stmt = conn.prepare(
                "SELECT seq, type, body_off, body_len FROM objects WHERE type IN ('relationship', 'sighting')",
            )?;
            let mut found = stmt.query([])?;
            while let Some(r) = found.next()? {
                rows.push((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?));
            }
        }
        let mut insert = conn.prepare_cached(REFS_SQL)?;
        let mut n = 0;
        for (seq, object_type, off, len) in rows {
            let json = bodies.read(off as u64, len as u64)?;
            let Ok(serde_json::Value::Object(map)) = phalanx_model::strict::parse_text(&json) else {
                return Err(StoreError::Corrupt { what: format!("object version {seq}"), message: "body is not a json object".into() });
            };
            for target in relationship_refs(&object_type, &map) {
                insert.execute(params![seq, id_hash(&target), target])?;
                n += 1;
            }
        }
        conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?1, '1')", [REFS_INDEXED_SETTING])?;
        Ok(n)
    })?;
    if n > 0 {
        tracing::info!(references = n, "indexed the relationship references of stored versions");
    }
    Ok(())
}

/// Finishes the transaction the caller began on `conn` around `work`:
/// commits when `work` succeeds, rolls back when it fails (a failed
/// rollback is logged naming `what`) and returns `work`'s error.
pub(crate) fn commit_or_rollback<T>(
    conn: &Connection,
    what: &str,
    work: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match work() {
        Ok(value) => {
            conn.execute_batch("COMMIT")?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %rollback, what, "rollback failed");
            }
            Err(e)
        }
    }
}

/// The end of the committed bytes in the body file.
fn committed_body_end(conn: &Connection) -> Result<u64, StoreError> {
    let end: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [BODY_END_SETTING], |r| r.get(0))
        .optional()?;
    match end {
        None => Ok(HEADER_LEN),
        Some(v) => v
            .parse::<u64>()
            .map_err(|e| StoreError::Corrupt { what: format!("setting {BODY_END_SETTING}"), message: e.to_string() }),
    }
}

/// The access classes of one reader's query, as SQL lists.
struct ReaderClasses {
    /// The classes whose rows the query selects.
    selected: String,
    /// The classes the reader reads: they decide which version is first or last.
    readable: String,
    /// Whether `readable` is every class the store knows.
    every: bool,
}

/// The `WHERE` clause shared by query and count: rows of the selected
/// classes only, the query's filters, and its version filter decided over
/// the readable classes.
fn where_clause(query: &Query, classes: &ReaderClasses, params: &mut Vec<SqlValue>) -> Result<String, StoreError> {
    let readable = classes.readable.as_str();
    let mut sql = format!("o.access_class IN ({})", classes.selected);
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
    if let Some(before) = query.added_before {
        sql.push_str(" AND o.seq < ?");
        params.push(SqlValue::Integer(before.unix_micros()));
    }
    if !query.referencing.is_empty() {
        sql.push_str(" AND o.seq IN (SELECT r.seq FROM object_refs r WHERE r.target_hash IN (");
        for (i, id) in query.referencing.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('?');
            params.push(SqlValue::Integer(id_hash(id)));
        }
        sql.push_str(") AND r.target IN (");
        for (i, id) in query.referencing.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('?');
            params.push(SqlValue::Text(id.clone()));
        }
        sql.push_str("))");
    }
    if query.readable_ends {
        // Every end must be a stored object in a class the reader reads.
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM object_refs r WHERE r.seq = o.seq AND NOT EXISTS \
             (SELECT 1 FROM objects t WHERE t.id_hash = r.target_hash AND t.id = r.target AND t.access_class IN ({readable})))"
        ));
    }
    if query.exclude_revoked {
        sql.push_str(" AND o.revoked = 0");
    }
    if let Some(text) = &query.text {
        let fts = fts_query(text)?;
        sql.push_str(" AND o.seq IN (SELECT rowid FROM objects_fts WHERE objects_fts MATCH ?");
        params.push(SqlValue::Text(fts));
        // A value (an address, a domain and its subdomains, a hash...) is
        // found in normal form in `observable_values`, not as words; a
        // sighting's values are its indicator's, not its own.
        const OWN_VALUES: &str = " UNION SELECT v.seq FROM observable_values v JOIN objects s ON s.seq = v.seq WHERE s.type <> 'sighting' AND v.kind = ?";
        for v in crate::correlation::searched_values(text) {
            sql.push_str(OWN_VALUES);
            sql.push_str(" AND v.value = ?");
            params.push(SqlValue::Text(v.kind.to_owned()));
            params.push(SqlValue::Text(v.value));
            if let ("domain", Some(reversed)) = (v.kind, &v.lo) {
                let (from, to) = crate::correlation::children_bounds(reversed);
                sql.push_str(OWN_VALUES);
                sql.push_str(" AND v.lo > ? AND v.lo < ?");
                params.push(SqlValue::Text(v.kind.to_owned()));
                params.push(SqlValue::Text(from));
                params.push(SqlValue::Text(to));
            }
        }
        sql.push(')');
    }
    sql.push_str(" AND ");
    sql.push_str(&version_clause(&query.versions, classes, params));
    Ok(sql)
}

fn version_clause(filter: &VersionFilter, classes: &ReaderClasses, params: &mut Vec<SqlValue>) -> String {
    let readable = classes.readable.as_str();
    match filter {
        VersionFilter::All => "1".into(),
        // A reader of every class reads the newest version of each id, and
        // `is_latest` marks exactly that one (kept by every put and every
        // deletion): no look at the other versions. +18-24% TAXII pages/s
        // for such a reader on a 1M-object node (3% older versions).
        VersionFilter::Last if classes.every => "o.is_latest = 1".into(),
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
            let parts: Vec<String> = list.iter().map(|f| version_clause(f, classes, params)).collect();
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

pub(crate) const SELECT_COLUMNS: &str =
    "o.seq, o.id, o.type, o.version, o.seq, o.access_class, o.revoked, o.origin, o.body_off, o.body_len";

/// SQLite virtual-machine steps between two looks at the clock of
/// [`Store::query_within`] (a step is tens of nanoseconds: the clock is
/// read about every 20 µs).
const BUDGET_CHECK_OPS: i32 = 1000;

/// Most partitions a page is merged from; more read as one statement.
const MAX_PARTITIONS: usize = 256;

/// The partitions of a merged page read: an index whose leading column is
/// `column`, and one value of that column per partition.
struct Partitions {
    index: &'static str,
    column: &'static str,
    values: Vec<SqlValue>,
}

/// How the rows of a page are read.
enum PagePlan {
    /// One statement, planned by SQLite (ids, full text, no limit, or too
    /// many partitions).
    Single,
    /// A merge of one ordered index walk per partition.
    Merge(Partitions),
    /// The table itself walked in `seq` order, when the selected access
    /// classes hold at least half the stored versions: a page then reads
    /// about `limit` rows, at most twice that on average. Per-class index
    /// walks would each look up every row in the table as well (a tenth of
    /// a page request's CPU in a profile at 1M objects; a fifth once the
    /// pool hand-off was gone, for a reader of 4 classes out of 5).
    TableWalk,
}

/// How a page query is read; `hold_most_rows(classes)` tells whether the
/// access classes `classes` hold at least half the stored versions.
fn partitions(
    query: &Query,
    selected: &str,
    hold_most_rows: impl FnOnce(&[i64]) -> Result<bool, StoreError>,
) -> Result<PagePlan, StoreError> {
    if query.limit == 0 || !query.ids.is_empty() || query.text.is_some() {
        return Ok(PagePlan::Single);
    }
    let classes: Vec<i64> = selected.split(',').filter_map(|c| c.parse().ok()).collect();
    if !query.types.is_empty() && query.types.len() <= classes.len() {
        if query.types.len() > MAX_PARTITIONS {
            return Ok(PagePlan::Single);
        }
        let values = query.types.iter().map(|t| SqlValue::Text(t.clone())).collect();
        return Ok(PagePlan::Merge(Partitions { index: "objects_type_class", column: "type", values }));
    }
    if query.types.is_empty() && hold_most_rows(&classes)? {
        return Ok(PagePlan::TableWalk);
    }
    if classes.len() > MAX_PARTITIONS {
        return Ok(PagePlan::Single);
    }
    let values = classes.into_iter().map(SqlValue::Integer).collect();
    Ok(PagePlan::Merge(Partitions { index: "objects_access_class", column: "access_class", values }))
}

/// Runs `sql` (first parameter: the partition value, then `params`) once
/// per partition and merges the ordered results lazily: only the rows that
/// make the page (plus one look-ahead row per partition) are read.
fn merge_partitions<R: PageRow>(
    conn: &Connection,
    sql: &str,
    values: &[SqlValue],
    params: &[SqlValue],
    query: &Query,
) -> Result<Vec<R>, StoreError> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let want = query.limit + 1;
    // The statement cache keeps one statement per SQL text: each partition
    // slot gets its own text (a comment), or all but one would be prepared
    // again on every page.
    let mut statements = Vec::with_capacity(values.len());
    for slot in 0..values.len() {
        statements.push(conn.prepare_cached(&format!("{sql} /* partition {slot} */"))?);
    }
    let mut cursors = Vec::with_capacity(values.len());
    for (stmt, value) in statements.iter_mut().zip(values) {
        let all = std::iter::once(value).chain(params.iter());
        cursors.push(stmt.query(params_from_iter(all))?);
    }
    // The head row of each partition, and a heap of (seq, partition)
    // ordered so that the next row of the page pops first.
    let mut heads: Vec<Option<R>> = Vec::with_capacity(cursors.len());
    let mut ascending = BinaryHeap::new();
    let mut descending = BinaryHeap::new();
    for (part, rows) in cursors.iter_mut().enumerate() {
        let head = match rows.next()? {
            Some(row) => Some(R::read(row)?),
            None => None,
        };
        if let Some(h) = &head {
            ascending.push(Reverse((h.seq(), part)));
            descending.push((h.seq(), part));
        }
        heads.push(head);
    }
    let mut out = Vec::with_capacity(want);
    while out.len() < want {
        let next = match query.order {
            Order::AddedAscending => ascending.pop().map(|Reverse((_, part))| part),
            Order::AddedDescending => descending.pop().map(|(_, part)| part),
        };
        let Some(part) = next else { break };
        if let Some(row) = heads[part].take() {
            out.push(row);
        }
        if let Some(row) = cursors[part].next()? {
            let row = R::read(row)?;
            ascending.push(Reverse((row.seq(), part)));
            descending.push((row.seq(), part));
            heads[part] = Some(row);
        }
    }
    Ok(out)
}

/// A row of a page read: the columns it is read from and its `seq`.
trait PageRow: Sized {
    /// The selected columns (the table is `o`).
    const COLUMNS: &'static str;
    /// Reads the [`PageRow::COLUMNS`] of `row`.
    fn read(row: &rusqlite::Row<'_>) -> Result<Self, StoreError>;
    /// Its `seq` (date_added), the page order.
    fn seq(&self) -> i64;
}

impl PageRow for RawRow {
    const COLUMNS: &'static str = SELECT_COLUMNS;
    fn read(row: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        RawRow::read(row)
    }
    fn seq(&self) -> i64 {
        self.seq
    }
}

/// What a [`JsonPage`] needs of a row: where its body is and its class.
struct BodyRow {
    seq: i64,
    access_class: i64,
    body_off: u64,
    body_len: u64,
}

impl PageRow for BodyRow {
    const COLUMNS: &'static str = "o.seq, o.access_class, o.body_off, o.body_len";
    fn read(row: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        Ok(BodyRow {
            seq: row.get(0)?,
            access_class: row.get(1)?,
            body_off: row.get::<_, i64>(2)? as u64,
            body_len: row.get::<_, i64>(3)? as u64,
        })
    }
    fn seq(&self) -> i64 {
        self.seq
    }
}

/// The columns of one selected row, before its body is read.
pub(crate) struct RawRow {
    seq: i64,
    id: String,
    object_type: String,
    /// Parsed from the column's text, which is read without a copy.
    version: Option<Timestamp>,
    date_added: i64,
    access_class: i64,
    revoked: bool,
    origin: String,
    body_off: u64,
    body_len: u64,
}

impl RawRow {
    /// Reads the [`SELECT_COLUMNS`] of `row`.
    pub(crate) fn read(row: &rusqlite::Row<'_>) -> Result<RawRow, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt { what: "version".into(), message };
        let version = match row.get_ref(3)?.as_str().map_err(|e| corrupt(e.to_string()))? {
            "" => None,
            text => Some(Timestamp::parse(text).map_err(|e| corrupt(e.to_string()))?),
        };
        Ok(RawRow {
            seq: row.get(0)?,
            id: row.get(1)?,
            object_type: row.get(2)?,
            version,
            date_added: row.get(4)?,
            access_class: row.get(5)?,
            revoked: row.get::<_, i64>(6)? != 0,
            origin: row.get(7)?,
            body_off: row.get::<_, i64>(8)? as u64,
            body_len: row.get::<_, i64>(9)? as u64,
        })
    }

    /// The stored object, with its body `json` (read by the caller).
    fn into_object(self, label: Label, json: String) -> StoredObject {
        // The version as given (digits kept) is read back from the object.
        let version = match self.version {
            Some(v) => Some(given_version(&json).filter(|g| *g == v).unwrap_or(v)),
            None => None,
        };
        StoredObject {
            seq: self.seq,
            id: self.id,
            object_type: self.object_type,
            version,
            date_added: Timestamp::from_unix_micros(self.date_added),
            label,
            revoked: self.revoked,
            origin: self.origin,
            json,
        }
    }
}

/// `modified` (else `created`) as written in the object's JSON.
fn given_version(json: &str) -> Option<Timestamp> {
    match scan_version(json.as_bytes()) {
        VersionScan::Found(text) => Timestamp::parse(text).ok(),
        VersionScan::Absent => None,
        VersionScan::Declined => given_version_parsed(json),
    }
}

/// What [`scan_version`] found.
#[derive(Debug, PartialEq)]
enum VersionScan<'a> {
    /// The text of the top-level `modified` (else `created`) string.
    Found(&'a str),
    /// Neither member is at the top level.
    Absent,
    /// Text the scan does not handle (an escape in a key or in either
    /// member, either member not a string, not one JSON object): ask serde.
    Declined,
}

/// Finds the top-level `modified` (else `created`) of a stored body without
/// parsing it: a page read asked serde for every body's version (9% of a
/// TAXII page request's CPU), and `modified` usually comes early. Gives
/// serde's answer or declines on every body serde reads (every stored
/// body: it was validated, so `modified` and `created` are strings); it
/// stops at `modified`, so on text serde refuses (say `created` a number
/// after it) it may still find one.
fn scan_version(b: &[u8]) -> VersionScan<'_> {
    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }
    /// The end (after the closing quote) of the string opening at `i`, and
    /// whether it holds an escape.
    fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
        let mut j = i + 1;
        let mut escaped = false;
        while j < b.len() {
            match b[j] {
                b'"' => return Some((j + 1, escaped)),
                b'\\' => {
                    escaped = true;
                    j += 2;
                }
                _ => j += 1,
            }
        }
        None
    }
    /// The end of the value starting at `i` (not validated: serde checked
    /// the body when it was stored; the scan only needs its extent).
    fn value_end(b: &[u8], i: usize) -> Option<usize> {
        match b.get(i)? {
            b'"' => string_end(b, i).map(|(end, _)| end),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut j = i;
                while j < b.len() {
                    match b[j] {
                        b'"' => {
                            j = string_end(b, j)?.0;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                None
            }
            _ => {
                let mut j = i;
                while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    j += 1;
                }
                Some(j)
            }
        }
    }
    let mut created: Option<&str> = None;
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return VersionScan::Declined;
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return VersionScan::Absent;
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return VersionScan::Declined;
        }
        let Some((key_end, key_escaped)) = string_end(b, i) else { return VersionScan::Declined };
        if key_escaped {
            return VersionScan::Declined;
        }
        let key = &b[i + 1..key_end - 1];
        i = ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return VersionScan::Declined;
        }
        i = ws(b, i + 1);
        if key == b"modified" || key == b"created" {
            if b.get(i) != Some(&b'"') {
                return VersionScan::Declined;
            }
            let Some((end, escaped)) = string_end(b, i) else { return VersionScan::Declined };
            let Ok(text) = std::str::from_utf8(&b[i + 1..end - 1]) else { return VersionScan::Declined };
            if escaped {
                return VersionScan::Declined;
            }
            if key == b"modified" {
                return VersionScan::Found(text);
            }
            created = Some(text);
            i = end;
        } else {
            let Some(end) = value_end(b, i) else { return VersionScan::Declined };
            i = end;
        }
        i = ws(b, i);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => break,
            _ => return VersionScan::Declined,
        }
    }
    match created {
        Some(text) => VersionScan::Found(text),
        None => VersionScan::Absent,
    }
}

/// [`given_version`] by serde, for the bodies [`scan_version`] declines.
fn given_version_parsed(json: &str) -> Option<Timestamp> {
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

impl SqliteStore {
    /// Starts the write transaction, exclusive ([`crate::sqlite_exclusive`])
    /// when `exclusive` asks for it and the store can be had alone.
    fn begin_txn(&self, exclusive: bool) -> Result<SqliteTxn<'_>, StoreError> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut exclusive = exclusive;
        if exclusive && let Some(reason) = crate::sqlite_exclusive::too_large(&guard.conn, self.exclusive_store_max)? {
            tracing::warn!(reason, "the write is not exclusive: it shares the store, through the WAL");
            exclusive = false;
        }
        if exclusive {
            // This process's idle readers would keep the database shared.
            self.readers.lock().unwrap_or_else(|p| p.into_inner()).clear();
            if let Err(reason) = crate::sqlite_exclusive::take(&guard.conn)? {
                tracing::warn!(reason, "the write is not exclusive: it shares the store, through the WAL");
                exclusive = false;
            }
        }
        if let Err(e) = guard.conn.execute_batch("BEGIN IMMEDIATE") {
            if exclusive {
                crate::sqlite_exclusive::give_back(&guard.conn);
            }
            return Err(e.into());
        }
        let prepared = (|| -> Result<(u64, Option<CommittedVersions>), StoreError> {
            // Another process may have written since: date_added stays
            // above every stored one, and the id set catches up.
            let max_seq: i64 = guard.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM objects", [], |r| r.get(0))?;
            guard.last_date_added = guard.last_date_added.max(max_seq);
            let WriterState { conn, known, .. } = &mut *guard;
            if let Some(k) = known.as_mut().filter(|k| k.upto < max_seq) {
                k.catch_up(conn)?;
            }
            let end = committed_body_end(&guard.conn)?;
            self.bodies.truncate_to_committed(end)?;
            // An exclusive write reads the committed versions from memory,
            // and knows every committed id from the start.
            let committed = if exclusive {
                let committed = CommittedVersions::load(&guard.conn)?;
                let mut hashes = HashSet::default();
                hashes.extend(committed.hashes());
                guard.known = Some(KnownIds { hashes, upto: max_seq });
                Some(committed)
            } else {
                None
            };
            Ok((end, committed))
        })();
        let (end, committed) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                let _ = guard.conn.execute_batch("ROLLBACK");
                if exclusive {
                    crate::sqlite_exclusive::give_back(&guard.conn);
                }
                return Err(e);
            }
        };
        Ok(SqliteTxn {
            store: self,
            guard,
            open: true,
            new_classes: Vec::new(),
            last_lookup: None,
            appender: Appender::new(end),
            lookups: 0,
            recent_classes: Vec::new(),
            worker: None,
            large_cache: false,
            audit_tail: None,
            rows: TxnRows::default(),
            by_hash: HashMap::default(),
            demoted: HashSet::default(),
            snapshot: None,
            exclusive: committed,
        })
    }
}

impl Store for SqliteStore {
    fn begin(&self) -> Result<Box<dyn WriteTxn + '_>, StoreError> {
        #[cfg(test)]
        if self.exclusive_always {
            return Ok(Box::new(self.begin_txn(true)?));
        }
        Ok(Box::new(self.begin_txn(false)?))
    }

    fn begin_exclusive(&self) -> Result<Box<dyn WriteTxn + '_>, StoreError> {
        Ok(Box::new(self.begin_txn(true)?))
    }

    fn get(&self, reader: &Subject, id: &str, versions: &VersionFilter) -> Result<Vec<StoredObject>, StoreError> {
        let query = Query { ids: vec![id.to_owned()], versions: versions.clone(), ..Query::default() };
        Ok(self.query(reader, &query)?.objects)
    }

    fn query(&self, reader: &Subject, query: &Query) -> Result<Page, StoreError> {
        self.with_reader(|conn| self.in_snapshot(conn, |conn| self.query_on(conn, reader, query)))
    }

    fn query_within(&self, reader: &Subject, query: &Query, budget: Duration) -> Result<Option<Page>, StoreError> {
        self.within_budget(budget, |conn| self.query_on(conn, reader, query))
    }

    fn query_json(&self, reader: &Subject, query: &Query, budget: Option<Duration>) -> Result<Option<JsonPage>, StoreError> {
        match budget {
            Some(budget) => self.within_budget(budget, |conn| self.json_query_on(conn, reader, query)),
            None => self.with_reader(|conn| self.in_snapshot(conn, |conn| self.json_query_on(conn, reader, query))).map(Some),
        }
    }

    fn count(&self, reader: &Subject, query: &Query) -> Result<u64, StoreError> {
        self.with_reader(|conn| self.in_snapshot(conn, |conn| self.count_on(conn, reader, query)))
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
            let mut stmt =
                conn.prepare_cached("SELECT body_off, body_len FROM objects WHERE type = 'marking-definition'")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (off, len) = row?;
                let json = self.bodies.read(off as u64, len as u64)?;
                let v = phalanx_model::strict::parse_text(&json)
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

    fn deletion_mark(&self) -> Result<i64, StoreError> { self.deletion_mark_impl() }

    fn related(&self, reader: &Subject, id: &str, too_common: usize) -> Result<Option<crate::Related>, StoreError> {
        self.correlate(reader, id, too_common)
    }
}

struct SqliteTxn<'s> {
    store: &'s SqliteStore,
    guard: MutexGuard<'s, WriterState>,
    open: bool,
    new_classes: Vec<(String, i64, Label)>,
    /// The rows of the id looked up last, reused by the `put` that
    /// usually follows `versions_of` for the same id.
    last_lookup: Option<(String, Vec<VersionRow>)>,
    /// The bodies this transaction appends.
    appender: Appender,
    /// Lookups made so far (see [`KNOWN_IDS_AFTER_LOOKUPS`]).
    lookups: u32,
    /// Access classes of the labels met last.
    recent_classes: Vec<(Label, i64)>,
    /// In a large transaction, the thread that runs its SQL.
    worker: Option<Worker>,
    /// The connection has the page cache of a large write
    /// ([`LARGE_WRITE_CACHE`]) until this transaction ends.
    large_cache: bool,
    /// With a worker: the seq and hash of the last audit entry, so that
    /// entries are chained here and only their inserts are queued (no one
    /// else appends while this transaction holds the write lock).
    audit_tail: Option<Option<(i64, String)>>,
    /// The versions this transaction stored, so that looking one up does
    /// not wait for the worker: `rows`, chained per id hash from
    /// `by_hash` (the latest stored) through [`TxnRow::prev`].
    rows: TxnRows,
    by_hash: HashMap<i64, u32, BuildHasherDefault<IdHasher>>,
    /// Versions (`seq`) this transaction made no longer the latest.
    demoted: HashSet<i64, BuildHasherDefault<IdHasher>>,
    /// See [`SqliteTxn::committed_reader`].
    snapshot: Option<Connection>,
    /// In an exclusive write ([`crate::sqlite_exclusive`]), the versions
    /// committed before it began, which its lookups read instead of a
    /// reader.
    exclusive: Option<CommittedVersions>,
}

/// How often the WAL is synced while a large write commits (see
/// [`SqliteTxn::commit`]).
const WAL_EARLY_SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(25);

/// A version stored by the current transaction, as its lookups need it
/// (the id itself is checked against the body).
struct TxnRow {
    seq: i64,
    body_off: u64,
    body_len: u64,
    class: i64,
    version: Option<Timestamp>,
    is_latest: bool,
    revoked: bool,
    prev: u32,
}

const NO_ROW: u32 = u32::MAX;

/// The rows of one transaction, in chunks (no reallocation and copy of a
/// large vector as it grows).
#[derive(Default)]
struct TxnRows {
    chunks: Vec<Vec<TxnRow>>,
    len: u32,
}

impl TxnRows {
    const CHUNK: usize = 1 << 14;

    fn len(&self) -> u32 {
        self.len
    }

    fn push(&mut self, row: TxnRow) {
        if self.chunks.last().is_none_or(|c| c.len() == Self::CHUNK) {
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(row);
        }
        self.len += 1;
    }

    fn get(&self, at: u32) -> &TxnRow {
        &self.chunks[at as usize / Self::CHUNK][at as usize % Self::CHUNK]
    }

    fn iter(&self) -> impl Iterator<Item = &TxnRow> {
        self.chunks.iter().flatten()
    }
}

/// The `id` written in an object's JSON text.
fn json_id(json: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        id: std::borrow::Cow<'a, str>,
    }
    serde_json::from_str::<Id<'_>>(json).ok().map(|i| i.id.into_owned())
}

/// The SQL of one stored version.
struct RowJob {
    seq: i64,
    id_hash: i64,
    id: String,
    object_type: String,
    version: String,
    class: i64,
    is_latest: bool,
    revoked: bool,
    origin: String,
    body_off: i64,
    body_len: i64,
    /// The version that stops being the latest.
    demote: Option<i64>,
    name: String,
    description: String,
    /// Relationship references (relationships and sightings only).
    refs: Vec<String>,
    /// Correlation values (see `correlation.rs`).
    values: Vec<crate::correlation::CorrelationValue>,
    /// For a sighting, the id it sights (it takes that object's values).
    sighting_of: Option<String>,
}

const DEMOTE_SQL: &str = "UPDATE objects SET is_latest = 0 WHERE seq = ?1";
const INSERT_SQL: &str = "INSERT INTO objects (seq, id_hash, id, type, version, access_class, is_latest, revoked, origin, body_off, body_len)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
const FTS_SQL: &str = "INSERT INTO objects_fts (rowid, name, description) VALUES (?1, ?2, ?3)";
const REFS_SQL: &str = "INSERT OR IGNORE INTO object_refs (seq, target_hash, target) VALUES (?1, ?2, ?3)";

/// The statements of [`write_row`], prepared once.
struct RowStatements<'c> {
    demote: rusqlite::CachedStatement<'c>,
    insert: rusqlite::CachedStatement<'c>,
    fts: rusqlite::CachedStatement<'c>,
    refs: rusqlite::CachedStatement<'c>,
    values: rusqlite::CachedStatement<'c>,
    sighted_values: rusqlite::CachedStatement<'c>,
}

impl<'c> RowStatements<'c> {
    fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(RowStatements {
            demote: conn.prepare_cached(DEMOTE_SQL)?,
            insert: conn.prepare_cached(INSERT_SQL)?,
            fts: conn.prepare_cached(FTS_SQL)?,
            refs: conn.prepare_cached(REFS_SQL)?,
            values: conn.prepare_cached(crate::correlation::VALUE_SQL)?,
            sighted_values: conn.prepare_cached(crate::correlation::SIGHTED_VALUES_SQL)?,
        })
    }
}

fn write_row(conn: &Connection, r: RowJob) -> Result<(), StoreError> {
    let mut st = RowStatements::new(conn)?;
    let mut derived = DerivedRows::default();
    write_row_with(&mut st, r, &mut derived)?;
    derived.flush(&mut st)
}

/// Writes a version's `objects` and full-text rows, and hands its
/// `object_refs` and `observable_values` rows to `derived`.
fn write_row_with(st: &mut RowStatements<'_>, r: RowJob, derived: &mut DerivedRows) -> Result<(), StoreError> {
    if let Some(seq) = r.demote {
        st.demote.execute([seq])?;
    }
    st.insert.execute(params![
        r.seq,
        r.id_hash,
        r.id,
        r.object_type,
        r.version,
        r.class,
        r.is_latest as i64,
        r.revoked as i64,
        r.origin,
        r.body_off,
        r.body_len
    ])?;
    if !r.name.is_empty() || !r.description.is_empty() {
        st.fts.execute(params![r.seq, r.name, r.description])?;
    }
    for target in r.refs {
        derived.refs.push((id_hash(&target), r.seq, target));
    }
    for v in r.values {
        derived.values.push((r.seq, v));
    }
    if let Some(target) = r.sighting_of {
        derived.sightings.push((r.seq, target));
    }
    Ok(())
}

/// The rows of the derived tables `object_refs` and `observable_values`,
/// whose index keys (a referenced id, an observable value) arrive in
/// random order. They are kept until [`DerivedRows::flush`] and inserted
/// sorted by key, so that a large write visits each index page once per
/// flush instead of once per row: on 1M objects, inserting them row by
/// row took as much time as everything else in the SQL thread together
/// (bench/RESULTS.md, Import). Flushed before the connection answers any
/// other question and before the commit, so no reader, not even the
/// transaction itself, sees them missing; and whenever the worker waits
/// for work with a few thousand kept, so that a 10,000-object TAXII POST
/// does not insert them all at its commit, alone on one core.
#[derive(Default)]
struct DerivedRows {
    /// (target id hash, referring version, target id).
    refs: Vec<(i64, i64, String)>,
    /// (version, value).
    values: Vec<(i64, crate::correlation::CorrelationValue)>,
    /// (sighting version, sighted id): the sighting takes the values of
    /// the latest version of the sighted object, after `values` are in.
    sightings: Vec<(i64, String)>,
}

impl DerivedRows {
    /// Rows kept before a flush (about 60 MiB at most).
    const FLUSH_AT: usize = 1 << 17;

    /// Rows kept before the worker flushes them while it waits for work.
    const IDLE_FLUSH_AT: usize = 1 << 12;

    fn len(&self) -> usize {
        self.refs.len() + self.values.len() + self.sightings.len()
    }

    /// Inserts every kept row, sorted by its index key.
    fn flush(&mut self, st: &mut RowStatements<'_>) -> Result<(), StoreError> {
        self.refs.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (hash, seq, target) in self.refs.drain(..) {
            st.refs.execute(params![seq, hash, target])?;
        }
        self.values.sort_unstable_by(|a, b| (a.1.kind, &a.1.value, a.0).cmp(&(b.1.kind, &b.1.value, b.0)));
        for (seq, v) in self.values.drain(..) {
            st.values.execute(params![seq, v.kind, v.value, v.lo, v.hi])?;
        }
        for (seq, target) in self.sightings.drain(..) {
            crate::correlation::copy_sighted_values(&mut st.sighted_values, &mut st.values, seq, &target)?;
        }
        Ok(())
    }
}

/// A call on the worker's connection, told about an earlier failed row.
type ConnCall = Box<dyn FnOnce(&Connection, Option<&StoreError>) + Send>;

/// A write queued for the SQL worker. None of them is answered: a
/// failure fails every later answer and the commit.
enum Queued {
    Row(RowJob),
    Audit(crate::registry::AuditEntry),
    /// Signatures of versions stored new in this transaction.
    Signatures(Vec<crate::VersionSignature>),
    /// A peer's counters and position.
    Exchange(String, crate::PeerExchange),
}

/// Work for the SQL worker, in order.
enum Job {
    Rows(Vec<Queued>),
    Run(ConnCall),
}

/// A large write transaction runs its SQL on this thread, in order, while
/// the caller prepares the next versions: the caller only waits for it
/// when it needs an answer from the database (a lookup of an id that may
/// be stored, a new access class, an audit entry, the commit). A row that
/// fails fails every later answer and the commit, so the transaction
/// rolls back as a whole, as when the SQL ran inline.
struct Worker {
    jobs: SyncSender<Job>,
    handle: JoinHandle<(Connection, Option<StoreError>)>,
    batch: Vec<Queued>,
}

fn run_worker(conn: Connection, jobs: Receiver<Job>) -> (Connection, Option<StoreError>) {
    let mut failed: Option<StoreError> = None;
    {
        let mut statements: Option<RowStatements<'_>> = None;
        let mut derived = DerivedRows::default();
        loop {
            let job = match jobs.try_recv() {
                Ok(job) => job,
                Err(TryRecvError::Empty) => {
                    // Idle: the caller is still preparing rows. Insert the
                    // kept derived rows now rather than all at the commit,
                    // where nothing else runs beside them.
                    if derived.len() >= DerivedRows::IDLE_FLUSH_AT
                        && let (None, Some(st)) = (&failed, statements.as_mut())
                        && let Err(e) = derived.flush(st)
                    {
                        failed = Some(e);
                    }
                    match jobs.recv() {
                        Ok(job) => job,
                        Err(_) => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            match job {
                Job::Rows(rows) => {
                    for queued in rows {
                        if failed.is_some() {
                            break;
                        }
                        let row = match queued {
                            Queued::Row(row) => row,
                            Queued::Audit(entry) => {
                                if let Err(e) = crate::sqlite_registry::insert_audit(&conn, &entry) {
                                    failed = Some(e);
                                }
                                continue;
                            }
                            Queued::Signatures(signatures) => {
                                // Prepared apart from the row statements,
                                // which stay as they are.
                                if let Err(e) = crate::sqlite_federation::insert_new_signatures(&conn, &signatures) {
                                    failed = Some(e);
                                }
                                continue;
                            }
                            Queued::Exchange(peer, exchange) => {
                                if let Err(e) = crate::sqlite_federation::write_exchange(&conn, &peer, &exchange) {
                                    failed = Some(e);
                                }
                                continue;
                            }
                        };
                        if statements.is_none() {
                            match RowStatements::new(&conn) {
                                Ok(st) => statements = Some(st),
                                Err(e) => {
                                    failed = Some(e);
                                    break;
                                }
                            }
                        }
                        let Some(st) = statements.as_mut() else { break };
                        let mut written = write_row_with(st, row, &mut derived);
                        if written.is_ok() && derived.len() >= DerivedRows::FLUSH_AT {
                            written = derived.flush(st);
                        }
                        if let Err(e) = written {
                            failed = Some(e);
                        }
                    }
                }
                Job::Run(f) => {
                    // The job sees every row written before it.
                    if let (None, Some(st)) = (&failed, statements.as_mut())
                        && let Err(e) = derived.flush(st)
                    {
                        failed = Some(e);
                    }
                    // A job may use the same statements: put them back first.
                    statements = None;
                    f(&conn, failed.as_ref());
                }
            }
        }
        if let (None, Some(st)) = (&failed, statements.as_mut())
            && let Err(e) = derived.flush(st)
        {
            failed = Some(e);
        }
    }
    (conn, failed)
}

fn worker_gone() -> StoreError {
    StoreError::Database("the SQL worker thread stopped".into())
}

/// One stored version, as the write path reads it.
#[derive(Clone)]
pub(crate) struct VersionRow {
    pub(crate) seq: i64,
    pub(crate) version: String,
    pub(crate) is_latest: bool,
    pub(crate) access_class: i64,
    pub(crate) revoked: bool,
    pub(crate) json: String,
}

/// Every stored version of `id` (one query, no ORDER BY: with STAT4 an
/// ORDER BY here made SQLite re-prepare the statement on every call), with
/// the offset and length of its body (`json` left empty).
fn select_versions(conn: &Connection, hash: i64, id: &str) -> Result<Vec<(VersionRow, u64, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, version, is_latest, access_class, revoked, body_off, body_len FROM objects WHERE id_hash = ?1 AND id = ?2",
    )?;
    let mut rows = stmt.query(params![hash, id])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(version_row_at(row, 0)?);
    }
    Ok(found)
}

/// A version's row read from the columns `seq, version, is_latest,
/// access_class, revoked, body_off, body_len` of `row`, the first at
/// index `at`, with its body's offset and length (`json` left empty).
pub(crate) fn version_row_at(row: &rusqlite::Row<'_>, at: usize) -> Result<(VersionRow, u64, u64), StoreError> {
    let version = VersionRow {
        seq: row.get(at)?,
        version: row.get(at + 1)?,
        is_latest: row.get::<_, i64>(at + 2)? != 0,
        access_class: row.get(at + 3)?,
        revoked: row.get::<_, i64>(at + 4)? != 0,
        json: String::new(),
    };
    Ok((version, row.get::<_, i64>(at + 5)? as u64, row.get::<_, i64>(at + 6)? as u64))
}

impl SqliteTxn<'_> {
    /// Runs `f` on the connection: inline, or on the worker after the SQL
    /// queued before it (and waits for it).
    fn run<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.send_queued_rows()?;
        let Some(worker) = &self.worker else {
            return f(&self.guard.conn);
        };
        let (tx, rx) = sync_channel(1);
        let job = Job::Run(Box::new(move |conn, failed| {
            let result = match failed {
                Some(e) => Err(StoreError::Database(format!("an earlier write in this transaction failed: {e}"))),
                None => f(conn),
            };
            let _ = tx.send(result);
        }));
        worker.jobs.send(job).map_err(|_| worker_gone())?;
        rx.recv().map_err(|_| worker_gone())?
    }

    /// Writes one version's rows: inline, or queued for the worker.
    fn write(&mut self, row: RowJob) -> Result<(), StoreError> {
        if self.worker.is_none() {
            return write_row(&self.guard.conn, row);
        }
        self.queue(Queued::Row(row))
    }

    /// Queues a write for the worker (there is one), in order with the rest.
    fn queue(&mut self, queued: Queued) -> Result<(), StoreError> {
        let Some(worker) = &mut self.worker else { return Err(worker_gone()) };
        worker.batch.push(queued);
        if worker.batch.len() >= WORKER_BATCH {
            return self.send_queued_rows();
        }
        Ok(())
    }

    /// A reader kept in one read transaction until this write transaction
    /// ends. While this transaction holds the write lock, it sees exactly
    /// what was committed before it began; holding it spares every lookup
    /// of a committed id the start and end of a read transaction of its
    /// own (a TAXII POST looks up what thousands of relationships refer to).
    fn committed_reader(&mut self) -> Result<&Connection, StoreError> {
        let conn = match self.snapshot.take() {
            Some(conn) => conn,
            None => {
                let conn = self.store.take_reader()?;
                conn.execute_batch("BEGIN")?;
                conn
            }
        };
        Ok(self.snapshot.insert(conn))
    }

    /// Ends the read transaction of [`Self::committed_reader`], before the
    /// commit: a checkpoint would not copy frames past its snapshot.
    fn release_committed_reader(&mut self) {
        if let Some(conn) = self.snapshot.take() {
            match conn.execute_batch("ROLLBACK") {
                Ok(()) => self.store.return_reader(conn),
                Err(e) => tracing::warn!(error = %e, "ending the read transaction of a lookup reader failed"),
            }
        }
    }

    /// Hands the connection to a worker thread.
    fn start_worker(&mut self) -> Result<(), StoreError> {
        if self.worker.is_some() {
            return Ok(());
        }
        self.guard.conn.execute_batch(LARGE_WRITE_CACHE)?;
        self.large_cache = true;
        // A stand-in keeps the guard's place until the worker gives the
        // connection back (commit or rollback).
        let conn = std::mem::replace(&mut self.guard.conn, Connection::open_in_memory()?);
        let (jobs, rx) = sync_channel(16);
        let handle = std::thread::Builder::new()
            .name("phalanx-sql".into())
            .spawn(move || run_worker(conn, rx))
            .map_err(|e| StoreError::Database(format!("cannot start the SQL worker: {e}")));
        let handle = match handle {
            Ok(h) => h,
            Err(e) => {
                // Unreachable in practice; the connection went with the
                // closure, so open it again (its transaction rolled back).
                self.guard.conn = open_connection(&self.store.path)?;
                return Err(e);
            }
        };
        self.worker = Some(Worker { jobs, handle, batch: Vec::with_capacity(WORKER_BATCH) });
        Ok(())
    }

    /// Gives the writer connection its usual page cache back after a large
    /// write (SQLite frees the pages above the new size).
    fn restore_cache(&mut self) {
        if std::mem::take(&mut self.large_cache)
            && let Err(e) = self.guard.conn.execute_batch(NORMAL_CACHE)
        {
            tracing::warn!(error = %e, "restoring the page cache size after a large write failed");
        }
    }

    /// Hands the worker (when there is one) the rows queued for it.
    fn send_queued_rows(&mut self) -> Result<(), StoreError> {
        let Some(worker) = &mut self.worker else { return Ok(()) };
        if worker.batch.is_empty() {
            return Ok(());
        }
        let rows = std::mem::replace(&mut worker.batch, Vec::with_capacity(WORKER_BATCH));
        worker.jobs.send(Job::Rows(rows)).map_err(|_| worker_gone())
    }

    /// Waits for the worker to finish the queued SQL and takes the
    /// connection back; the first failed row's error, if any.
    fn stop_worker(&mut self) -> Result<(), StoreError> {
        let sent = self.send_queued_rows();
        let Some(worker) = self.worker.take() else { return sent };
        drop(worker.jobs);
        match worker.handle.join() {
            Ok((conn, failed)) => {
                self.guard.conn = conn;
                sent?;
                match failed {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            }
            Err(_) => {
                // The connection was dropped with the panic, which rolled
                // its transaction back: open it again.
                self.guard.conn = open_connection(&self.store.path)?;
                Err(StoreError::Database("the SQL worker thread panicked; the write was rolled back".into()))
            }
        }
    }

    /// Every stored version of `id`.
    fn lookup(&mut self, id: &str) -> Result<Vec<VersionRow>, StoreError> {
        if let Some((last_id, rows)) = &self.last_lookup {
            if last_id == id {
                return Ok(rows.clone());
            }
        }
        let out = self.version_rows(id, true)?;
        self.last_lookup = Some((id.to_owned(), out.clone()));
        Ok(out)
    }

    /// Every stored version of `id`, committed or written by this
    /// transaction; with `bodies`, each with its JSON text (the label of
    /// what a derived object refers to needs none, and reading them was a
    /// quarter of these lookups' cost in a TAXII POST profile).
    fn version_rows(&mut self, id: &str, bodies: bool) -> Result<Vec<VersionRow>, StoreError> {
        let hash = id_hash(id);
        if self.worker.is_none() {
            self.lookups += 1;
            if self.lookups >= self.store.large_after {
                if self.guard.known.is_none() {
                    // From a reader: only what was committed before this
                    // transaction (its own versions are in `by_hash`).
                    let loaded = self.store.with_reader(KnownIds::load)?;
                    self.guard.known = Some(loaded);
                }
                self.start_worker()?;
            }
        }
        let in_txn = self.by_hash.get(&hash).copied();
        // `known` holds the committed ids (this transaction's are added
        // when it commits).
        let maybe_committed = self.guard.known.as_ref().is_none_or(|k| k.hashes.contains(&hash));
        if in_txn.is_none() && !maybe_committed {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        if self.worker.is_none() {
            // Inline SQL: the writer connection sees committed and
            // uncommitted versions alike.
            let found = select_versions(&self.guard.conn, hash, id)?;
            for (mut version, off, len) in found {
                if bodies {
                    version.json = self.appender.read(&self.store.bodies, off, len)?;
                }
                out.push(version);
            }
        } else {
            if maybe_committed {
                // The committed versions, from a reader: while this
                // transaction holds the write lock, a reader sees exactly
                // what was committed before it began. An exclusive write
                // has them in memory.
                let loaded = self.exclusive.as_ref().map(|committed| committed.versions(hash, id));
                let found = match loaded {
                    Some(found) => found,
                    None => select_versions(self.committed_reader()?, hash, id)?,
                };
                for (mut version, off, len) in found {
                    if bodies {
                        version.json = self.store.bodies.read(off, len)?;
                    }
                    if self.demoted.contains(&version.seq) {
                        version.is_latest = false;
                    }
                    out.push(version);
                }
            }
            // And the versions this transaction stored (the body tells
            // their id from another id with the same hash).
            let mut at = in_txn.unwrap_or(NO_ROW);
            while at != NO_ROW {
                let row = self.rows.get(at);
                at = row.prev;
                let json = self.appender.read(&self.store.bodies, row.body_off, row.body_len)?;
                if json_id(&json).as_deref() != Some(id) {
                    continue; // another id with the same hash
                }
                out.push(VersionRow {
                    seq: row.seq,
                    version: row.version.map(|t| t.sort_key()).unwrap_or_default(),
                    is_latest: row.is_latest && !self.demoted.contains(&row.seq),
                    access_class: row.class,
                    revoked: row.revoked,
                    json: if bodies { json } else { String::new() },
                });
            }
        }
        Ok(out)
    }

    /// The label of access class `class`, one this transaction added
    /// included.
    fn class_label(&self, class: i64) -> Result<Label, StoreError> {
        match self.new_classes.iter().find(|(_, cid, _)| *cid == class) {
            Some((_, _, label)) => Ok(label.clone()),
            None => self.store.label_of(class),
        }
    }

    fn access_class(&mut self, label: &Label) -> Result<i64, StoreError> {
        // Most objects share a few labels: compare before building the
        // key, the label met last first (runs of objects share one). A
        // label found moves to the end, so the most used ones are met
        // first.
        if let Some(at) = self.recent_classes.iter().rposition(|(l, _)| l == label) {
            let id = self.recent_classes[at].1;
            let last = self.recent_classes.len() - 1;
            if at != last {
                self.recent_classes[at..].rotate_left(1);
            }
            return Ok(id);
        }
        let id = self.access_class_by_key(label)?;
        if self.recent_classes.len() >= 16 {
            self.recent_classes.remove(0);
        }
        self.recent_classes.push((label.clone(), id));
        Ok(id)
    }

    fn access_class_by_key(&mut self, label: &Label) -> Result<i64, StoreError> {
        let key = label.access_key();
        if let Some(id) = self.store.classes.read().unwrap_or_else(|p| p.into_inner()).by_key.get(&key) {
            return Ok(*id);
        }
        if let Some((_, id, _)) = self.new_classes.iter().find(|(k, _, _)| *k == key) {
            return Ok(*id);
        }
        let json = serde_json::to_string(label)
            .map_err(|e| StoreError::Corrupt { what: "label".into(), message: e.to_string() })?;
        let owned_key = key.clone();
        let id = self.run(move |conn| {
            // Another process may have added it since this one loaded them.
            let stored: Option<i64> = conn
                .prepare_cached("SELECT id FROM access_classes WHERE access_key = ?1")?
                .query_row([&owned_key], |r| r.get(0))
                .optional()?;
            if let Some(id) = stored {
                return Ok(id);
            }
            conn.prepare_cached("INSERT INTO access_classes (access_key, label) VALUES (?1, ?2)")?
                .execute(params![owned_key, json])?;
            Ok(conn.last_insert_rowid())
        })?;
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
        if self.worker.is_none() {
            return crate::sqlite_registry::append_audit(&self.guard.conn, actor, action, target, details);
        }
        let last = match self.audit_tail.take() {
            Some(last) => last,
            None => self.run(|conn| crate::sqlite_registry::last_audit(conn))?,
        };
        let entry = crate::sqlite_registry::next_audit_entry(last, actor, action, target, details);
        self.audit_tail = Some(Some((entry.seq, entry.hash.clone())));
        self.queue(Queued::Audit(entry.clone()))?;
        Ok(entry)
    }

    fn put_new_signatures(&mut self, signatures: Vec<crate::VersionSignature>) -> Result<(), StoreError> {
        if signatures.is_empty() {
            return Ok(());
        }
        match &mut self.worker {
            None => crate::sqlite_federation::insert_new_signatures(&self.guard.conn, &signatures),
            // Queued like a row: the caller goes on with the next batch
            // while the worker writes (a pull stores a batch of 20,000
            // versions per call).
            Some(_) => self.queue(Queued::Signatures(signatures)),
        }
    }

    fn record_exchange(&mut self, peer: &str, exchange: crate::PeerExchange) -> Result<(), StoreError> {
        match &mut self.worker {
            None => crate::sqlite_federation::write_exchange(&self.guard.conn, peer, &exchange),
            Some(_) => self.queue(Queued::Exchange(peer.to_owned(), exchange)),
        }
    }

    fn versions_of(&mut self, id: &str) -> Result<Vec<ExistingVersion>, StoreError> {
        let rows = self.lookup(id)?;
        let mut out = Vec::new();
        for row in rows {
            let label = self.class_label(row.access_class)?;
            out.push(ExistingVersion { version_key: row.version, label, revoked: row.revoked, json: row.json });
        }
        out.sort_by(|a, b| b.version_key.cmp(&a.version_key));
        Ok(out)
    }

    /// The newest version's label, from the versions' keys and classes
    /// without their bodies.
    fn latest_label(&mut self, id: &str) -> Result<Option<Label>, StoreError> {
        let rows = self.version_rows(id, false)?;
        let Some(newest) = rows.iter().reduce(|a, b| if b.version > a.version { b } else { a }) else { return Ok(None) };
        self.class_label(newest.access_class).map(Some)
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
        let demote = if is_latest { latest.map(|(seq, _)| seq) } else { None };
        let class = self.access_class(v.label)?;
        let date_added = now_micros().max(self.guard.last_date_added + 1);
        let body_off = self.appender.append(&self.store.bodies, v.json.as_bytes())?;
        let hash = id_hash(id);
        let (name, description) = v.object.search_text(self.store.fts_form);
        let refs = relationship_refs(v.object.object_type(), v.object.map());
        let values = crate::correlation::values_of(v.object.object_type(), v.object.map(), v.object.stix_pattern());
        let sighting_of = crate::correlation::sighted(v.object.object_type(), v.object.map());
        self.write(RowJob {
            seq: date_added,
            id_hash: hash,
            id: id.to_owned(),
            object_type: v.object.object_type().to_owned(),
            version: version_key,
            class,
            is_latest,
            revoked: v.object.revoked(),
            origin: v.origin.to_owned(),
            body_off: body_off as i64,
            body_len: v.json.len() as i64,
            demote,
            name,
            description,
            refs,
            values,
            sighting_of,
        })?;
        if let Some(seq) = demote {
            self.demoted.insert(seq);
        }
        let prev = self.by_hash.insert(hash, self.rows.len()).unwrap_or(NO_ROW);
        self.rows.push(TxnRow {
            seq: date_added,
            body_off,
            body_len: v.json.len() as u64,
            class,
            version: v.object.version(),
            is_latest,
            revoked: v.object.revoked(),
            prev,
        });
        self.guard.last_date_added = date_added;
        Ok(PutOutcome::Stored { date_added: Timestamp::from_unix_micros(date_added) })
    }

    fn reserve(&mut self, versions: usize) {
        self.by_hash.reserve(versions);
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        self.release_committed_reader();
        // The bodies are durable before the rows that point at them are
        // committed. Their sync runs while the worker writes its last
        // rows and derived rows (a large write's tail).
        self.send_queued_rows()?;
        self.appender.make_durable(&self.store.bodies)?;
        let bodies_done = started.elapsed();
        self.stop_worker()?;
        let worker_done = started.elapsed();
        {
            let mut classes = self.store.classes.write().unwrap_or_else(|p| p.into_inner());
            for (key, id, label) in self.new_classes.drain(..) {
                classes.by_key.insert(key, id);
                classes.labels.push((id, label));
            }
        }
        if self.appender.end() != self.appender.start() {
            self.guard
                .conn
                .prepare_cached(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![BODY_END_SETTING, self.appender.end().to_string()])?;
        }
        {
            // A large write's COMMIT appends most of its pages to the WAL
            // only now, and without a background checkpointer the
            // checkpoint that follows in it syncs them: the WAL's disk is
            // started early meanwhile (crate::early_sync; SQLite holds no
            // lock on that file). With the background checkpointer
            // nothing waits for that sync at commit, and the early syncs
            // would only slow the appending (0.49 -> 0.55-0.75 s for
            // 450 MB). An exclusive write has no WAL, and its database
            // file cannot be synced so: SQLite holds POSIX locks on it,
            // which closing another handle of the file would drop.
            let _early_sync = if self.large_cache && self.store.checkpointer.is_none() && self.exclusive.is_none() {
                let mut wal = self.store.path.as_os_str().to_owned();
                wal.push("-wal");
                crate::early_sync::Repeated::start(Path::new(&wal), WAL_EARLY_SYNC_EVERY, "phalanx-wal-sync")
            } else {
                None
            };
            self.guard.conn.execute_batch("COMMIT")?;
        }
        if self.exclusive.take().is_some() {
            crate::sqlite_exclusive::give_back(&self.guard.conn);
        }
        self.store.count_class_rows(self.rows.iter().map(|r| r.class), std::iter::empty());
        self.store.wake_checkpointer();
        self.open = false;
        self.restore_cache();
        tracing::debug!(
            versions = self.rows.len(),
            bodies_sync_ms = bodies_done.as_millis() as u64,
            worker_ms = (worker_done - bodies_done).as_millis() as u64,
            sqlite_commit_ms = (started.elapsed() - worker_done).as_millis() as u64,
            "write transaction committed"
        );
        let last = self.guard.last_date_added;
        let by_hash = std::mem::take(&mut self.by_hash);
        if let Some(known) = &mut self.guard.known {
            known.hashes.extend(by_hash.into_keys());
            known.upto = known.upto.max(last);
        }
        Ok(())
    }
}

impl Drop for SqliteTxn<'_> {
    fn drop(&mut self) {
        self.release_committed_reader();
        if self.open {
            if let Err(e) = self.stop_worker() {
                tracing::debug!(error = %e, "SQL worker of a rolled-back transaction");
            }
            if let Err(e) = self.guard.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rollback failed");
            }
            if self.exclusive.take().is_some() {
                crate::sqlite_exclusive::give_back(&self.guard.conn);
            }
            self.restore_cache();
            if let Err(e) = self.appender.roll_back(&self.store.bodies) {
                tracing::error!(error = %e, "truncating the body file after a rollback failed");
            }
            // date_added values handed out in the rolled-back transaction
            // are simply skipped; they still only ever increase.
        }
    }
}

/// Whether two texts are the same object: equal RFC 8785 forms, the form
/// its signature covers. Member order and number spelling do not count
/// (`1.0` and `1`: a version received from a peer is stored as its
/// canonical text, and the same version imported here keeps its own).
fn same_json(a: &str, b: &str) -> bool {
    match (phalanx_model::strict::parse_text(a), phalanx_model::strict::parse_text(b)) {
        (Ok(a), Ok(b)) => a == b || phalanx_model::jcs::canonicalize(&a) == phalanx_model::jcs::canonicalize(&b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_object_is_the_same_canonical_form() {
        assert!(same_json(r#"{"a":1.0,"b":[2]}"#, r#"{"b":[2],"a":1}"#));
        assert!(same_json(r#"{"x":1e2}"#, r#"{"x":100}"#));
        assert!(!same_json(r#"{"a":1.5}"#, r#"{"a":1}"#));
        assert!(!same_json(r#"{"a":[1,2]}"#, r#"{"a":[2,1]}"#));
        assert!(!same_json(r#"{"a":1}"#, "not json"));
        // serde_json's Value reads this one member name as its raw-value
        // token and puts the parsed string in the object's place.
        assert!(!same_json(r#"{"x_a":{"b":1}}"#, r#"{"x_a":{"$serde_json::private::RawValue":"{\"b\":1}"}}"#));
    }

    fn make() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        (dir, store)
    }

    store_test_suite!(make);

    /// A store whose every write transaction takes the large-write path
    /// (known-id set and SQL worker thread) from its first lookup.
    fn make_large() -> (tempfile::TempDir, SqliteStore) {
        let (dir, store) = make();
        (dir, store.with_large_after(0))
    }

    mod large {
        use super::*;
        store_test_suite!(make_large);
    }

    /// A store whose every write is exclusive, on the large-write path.
    fn make_exclusive() -> (tempfile::TempDir, SqliteStore) {
        let (dir, mut store) = make_large();
        store.exclusive_always = true;
        (dir, store)
    }

    mod exclusive {
        use super::*;
        store_test_suite!(make_exclusive);
    }

    #[test]
    fn a_new_store_uses_16_kib_pages_and_an_old_one_keeps_its_own() {
        let (dir, store) = make();
        let size: i64 = store.with_reader(|c| Ok(c.query_row("PRAGMA page_size", [], |r| r.get(0))?)).expect("page size");
        assert_eq!(size, 16384);
        drop(store);
        // A store made with 4 KiB pages (an older build) is opened as it is.
        let old = tempfile::tempdir().expect("tempdir");
        {
            let conn = Connection::open(old.path().join("phalanx.sqlite")).expect("sqlite");
            conn.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);").expect("old file");
        }
        let store = SqliteStore::open(old.path()).expect("open old");
        let size: i64 = store.with_reader(|c| Ok(c.query_row("PRAGMA page_size", [], |r| r.get(0))?)).expect("page size");
        assert_eq!(size, 4096);
        drop(dir);
    }

    /// What serde makes of the top-level `modified`/`created` strings: the
    /// text [`scan_version`] must find, or `None` when serde fails.
    fn serde_version(json: &str) -> Option<Option<String>> {
        #[derive(serde::Deserialize)]
        struct Times {
            modified: Option<String>,
            created: Option<String>,
        }
        let t: Times = serde_json::from_str(json).ok()?;
        Some(t.modified.or(t.created))
    }

    #[test]
    fn the_version_scan_finds_what_serde_finds() {
        let cases = [
            r#"{"type":"x","created":"2026-01-01T00:00:00Z","modified":"2026-01-02T00:00:00.1Z"}"#,
            r#"{"type":"x","created":"2026-01-01T00:00:00.123Z"}"#,
            r#"{"type":"x","ext":{"modified":"1999-01-01T00:00:00Z"},"list":[{"created":"x"},"]}"],"created":"2026-01-01T00:00:00Z"}"#,
            r#"{"name":"a \"quoted\" modified","modified":"2026-03-01T00:00:00.000000001Z"}"#,
            r#"{ "n" : 1.5e3 , "b" : true , "z" : null , "modified" : "2026-01-01T00:00:00Z" }"#,
            r#"{"type":"ipv4-addr","value":"10.0.0.1"}"#,
            r#"{}"#,
        ];
        for json in cases {
            let found = match scan_version(json.as_bytes()) {
                VersionScan::Found(t) => Some(Some(t.to_owned())),
                VersionScan::Absent => Some(None),
                VersionScan::Declined => panic!("declined {json}"),
            };
            assert_eq!(found, serde_version(json), "{json}");
        }
        // Escapes in a key or in the value, a number as version, no object: serde decides.
        for json in [r#"{"modifi\u0065d":"2026-01-01T00:00:00Z"}"#, r#"{"modified":"2026-01-01T00:00:00\u005a"}"#, r#"{"modified":5}"#, "[1]", r#"{"a":1"#] {
            assert_eq!(scan_version(json.as_bytes()), VersionScan::Declined, "{json}");
        }
    }

    use proptest::prelude::Strategy as _;

    proptest::proptest! {
        /// On any JSON object that serde reads (nested values, escapes, any
        /// member order) the scan gives serde's version text or declines.
        #[test]
        fn the_version_scan_agrees_with_serde_on_random_objects(
            members in proptest::collection::vec(
                (proptest::prop_oneof!["modified", "created", "name", "x_ext", "m\\u006f"], proptest::prop_oneof![
                    "[0-9T:.Z-]{0,12}".prop_map(serde_json::Value::from),
                    ".{0,8}".prop_map(serde_json::Value::from),
                    proptest::num::i32::ANY.prop_map(serde_json::Value::from),
                    (".{0,4}", ".{0,8}").prop_map(|(k, v)| serde_json::json!({ "modified": v, k: [v, {"created": 1}] })),
                ]),
                0..6,
            ),
            spaced in proptest::bool::ANY,
        ) {
            let mut json = String::from("{");
            let mut seen = std::collections::HashSet::new();
            for (key, value) in &members {
                if !seen.insert(key.clone()) {
                    continue; // serde refuses duplicated fields; stored bodies have none
                }
                if json.len() > 1 {
                    json.push_str(if spaced { " , " } else { "," });
                }
                json.push_str(&serde_json::to_string(key).unwrap());
                json.push_str(if spaced { " : " } else { ":" });
                json.push_str(&serde_json::to_string(value).unwrap());
            }
            json.push('}');
            if let Some(expected) = serde_version(&json) {
                match scan_version(json.as_bytes()) {
                    VersionScan::Found(t) => proptest::prop_assert_eq!(expected, Some(t.to_owned()), "{}", json),
                    VersionScan::Absent => proptest::prop_assert_eq!(expected, None, "{}", json),
                    VersionScan::Declined => {}
                }
            }
        }
    }

    const ORG: &str = "identity--a0000000-0000-4000-8000-000000000001";

    fn green() -> Label {
        Label::unclassified(phalanx_labels::Tlp::Green).with_originator(Some(ORG.into()))
    }

    fn ip(i: u32) -> phalanx_model::StixObject {
        crate::test_suite::obj(serde_json::json!({"type": "ipv4-addr", "value": format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)}))
    }

    fn indicator(name: &str) -> phalanx_model::StixObject {
        crate::test_suite::obj(serde_json::json!({
            "type": "indicator", "spec_version": "2.1", "id": "indicator--c0000000-0000-4000-8000-000000000003",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "name": name, "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"
        }))
    }

    /// (kind, value) of the correlation values of every version of `id`.
    fn values_of_id(store: &SqliteStore, id: &str) -> Vec<(String, String)> {
        store
            .with_reader(|c| {
                let mut stmt = c.prepare(
                    "SELECT v.kind, v.value FROM observable_values v JOIN objects o ON o.seq = v.seq WHERE o.id = ?1 ORDER BY 1, 2",
                )?;
                let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<(String, String)>, _>>()?;
                Ok(rows)
            })
            .unwrap()
    }

    #[test]
    fn a_sighting_takes_the_values_of_the_latest_version_it_sights() {
        let version = |modified: &str, pattern: &str| {
            crate::test_suite::obj(serde_json::json!({
                "type": "indicator", "spec_version": "2.1", "id": "indicator--c0000000-0000-4000-8000-000000000009",
                "created": "2026-01-01T00:00:00.000Z", "modified": modified,
                "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
            }))
        };
        let old = version("2026-01-01T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.7']");
        let new = version("2026-01-02T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'Evil.Example']");
        let sighting = crate::test_suite::obj(serde_json::json!({
            "type": "sighting", "spec_version": "2.1", "id": "sighting--d0000000-0000-4000-8000-000000000009",
            "created": "2026-01-03T00:00:00.000Z", "modified": "2026-01-03T00:00:00.000Z",
            "sighting_of_ref": "indicator--c0000000-0000-4000-8000-000000000009"
        }));
        let expected = [("domain".to_owned(), "evil.example".to_owned()), ("ipv4".to_owned(), "198.51.100.7".to_owned())];
        // Row by row, and through the SQL worker's flush of derived rows.
        for (dir, store) in [make(), make_large()] {
            let mut txn = store.begin().unwrap();
            txn.put(NewVersion { object: &old, json: &old.to_json_string(), label: &green(), origin: "t" }).unwrap();
            txn.commit().unwrap();
            // The newer version and the sighting in one transaction.
            let mut txn = store.begin().unwrap();
            for o in [&new, &sighting] {
                txn.put(NewVersion { object: o, json: &o.to_json_string(), label: &green(), origin: "t" }).unwrap();
            }
            txn.commit().unwrap();
            assert_eq!(values_of_id(&store, sighting.id().as_str()), expected);
            // And when the values are indexed again from the bodies.
            store
                .with_writer(|c| {
                    c.execute_batch("DELETE FROM observable_values; DELETE FROM settings WHERE key = 'observable_values_indexed';")?;
                    Ok(())
                })
                .unwrap();
            assert_eq!(values_of_id(&store, sighting.id().as_str()), []);
            drop(store);
            let store = SqliteStore::open(dir.path()).unwrap();
            assert_eq!(values_of_id(&store, sighting.id().as_str()), expected);
        }
    }

    #[test]
    fn the_writer_gets_its_usual_page_cache_back_after_a_large_write() {
        let (dir, store) = make_large();
        let cache = |store: &SqliteStore| -> i64 { store.with_writer(|c| Ok(c.query_row("PRAGMA cache_size", [], |r| r.get(0))?)).unwrap() };
        assert_eq!(cache(&store), -65536);
        put_ips(&store, 0..10);
        assert_eq!(cache(&store), -65536, "after a commit");
        {
            let mut txn = store.begin().unwrap();
            assert!(txn.versions_of("ipv4-addr--00000000-0000-4000-8000-000000000000").is_ok());
            // Dropped: rolled back.
        }
        assert_eq!(cache(&store), -65536, "after a rollback");
        assert_eq!(count_all(&store), 10);
        drop(dir);
    }

    /// An indicator version with its own `modified` and name.
    fn indicator_at(modified: &str, name: &str) -> phalanx_model::StixObject {
        crate::test_suite::obj(serde_json::json!({
            "type": "indicator", "spec_version": "2.1", "id": "indicator--c0000000-0000-4000-8000-000000000003",
            "created": "2026-01-01T00:00:00.000Z", "modified": modified,
            "name": name, "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"
        }))
    }

    #[test]
    fn the_latest_label_is_that_of_the_newest_version_committed_or_not() {
        let amber = Label::unclassified(phalanx_labels::Tlp::Amber).with_originator(Some(ORG.into()));
        let id = "indicator--c0000000-0000-4000-8000-000000000003";
        for (dir, store) in [make(), make_large()] {
            let first = indicator_at("2026-01-02T00:00:00.000Z", "one");
            let mut txn = store.begin().unwrap();
            txn.put(NewVersion { object: &first, json: &first.to_json_string(), label: &green(), origin: "t" }).unwrap();
            txn.commit().unwrap();
            let mut txn = store.begin().unwrap();
            // The large store's worker starts with this first lookup.
            assert_eq!(txn.versions_of("ipv4-addr--00000000-0000-4000-8000-000000000000").unwrap().len(), 0);
            assert_eq!(txn.latest_label(id).unwrap(), Some(green()), "committed");
            assert_eq!(txn.latest_label("indicator--c0000000-0000-4000-8000-000000000009").unwrap(), None);
            // An older version written now does not change it; a newer one does.
            let older = indicator_at("2026-01-01T00:00:00.000Z", "zero");
            txn.put(NewVersion { object: &older, json: &older.to_json_string(), label: &amber, origin: "t" }).unwrap();
            assert_eq!(txn.latest_label(id).unwrap(), Some(green()));
            let newer = indicator_at("2026-01-03T00:00:00.000Z", "two");
            txn.put(NewVersion { object: &newer, json: &newer.to_json_string(), label: &amber, origin: "t" }).unwrap();
            assert_eq!(txn.latest_label(id).unwrap(), Some(amber.clone()), "written by this transaction");
            let first_of_versions = txn.versions_of(id).unwrap().into_iter().next().map(|v| v.label);
            assert_eq!(txn.latest_label(id).unwrap(), first_of_versions, "what versions_of gives first");
            drop(txn);
            drop(dir);
        }
    }

    fn put_ips(store: &SqliteStore, range: std::ops::Range<u32>) {
        let mut txn = store.begin().unwrap();
        put_ips_in(txn.as_mut(), range);
        txn.commit().unwrap();
    }

    /// Puts the addresses `ip(i)` of `range`, TLP:GREEN, in the open `txn`.
    fn put_ips_in(txn: &mut dyn WriteTxn, range: std::ops::Range<u32>) {
        for i in range {
            let o = ip(i);
            txn.put(NewVersion { object: &o, json: &o.to_json_string(), label: &green(), origin: "t" }).unwrap();
        }
    }

    fn count_all(store: &SqliteStore) -> u64 {
        let reader = Subject::User(phalanx_labels::Reader::new(phalanx_labels::Organisation::new(ORG)));
        store.count(&reader, &Query { versions: VersionFilter::All, ..Query::default() }).unwrap()
    }

    fn all_json(store: &SqliteStore) -> Vec<String> {
        let reader = Subject::User(phalanx_labels::Reader::new(phalanx_labels::Organisation::new(ORG)));
        let q = Query { versions: VersionFilter::All, ..Query::default() };
        store.query(&reader, &q).unwrap().objects.into_iter().map(|o| o.json).collect()
    }

    #[test]
    fn the_background_checkpointer_copies_a_commit_into_the_database_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open").with_background_checkpoints().expect("checkpointer");
        let db = dir.path().join("phalanx.sqlite");
        let before = std::fs::metadata(&db).unwrap().len();
        // About 1 MiB of pages: far below both the writer's own threshold
        // (256 MiB here) and SQLite's default (1,000 pages), so only the
        // background thread copies it into the database file.
        put_ips(&store, 0..3000);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&db).unwrap().len() <= before {
            assert!(std::time::Instant::now() < deadline, "the database file did not grow: no checkpoint ran");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(count_all(&store), 3000);
        drop(store);
        let reopened = SqliteStore::open(dir.path()).expect("reopen");
        assert_eq!(count_all(&reopened), 3000);
    }

    fn body_len(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join(crate::bodies::FILE_NAME)).unwrap().len()
    }

    #[test]
    fn a_query_within_its_budget_answers_as_query_does_and_one_over_it_gives_up_cleanly() {
        let (_dir, store) = make();
        put_ips(&store, 0..3000);
        let reader = Subject::User(phalanx_labels::Reader::new(phalanx_labels::Organisation::new(ORG)));
        let page = Query { versions: VersionFilter::All, limit: 100, ..Query::default() };
        let expected: Vec<String> = store.query(&reader, &page).unwrap().objects.into_iter().map(|o| o.json).collect();
        assert_eq!(expected.len(), 100);
        let within = store.query_within(&reader, &page, Duration::from_secs(60)).unwrap().expect("answered within a minute");
        assert_eq!(within.objects.into_iter().map(|o| o.json).collect::<Vec<_>>(), expected);
        // Every row, with no time at all: given up.
        let all = Query { versions: VersionFilter::All, ..Query::default() };
        assert!(store.query_within(&reader, &all, Duration::ZERO).unwrap().is_none());
        // The connection went back to the pool without its handler and
        // outside a transaction: reads through it answer in full and see
        // the next commit.
        assert_eq!(all_json(&store).len(), 3000);
        put_ips(&store, 3000..3010);
        assert_eq!(all_json(&store).len(), 3010);
        assert_eq!(count_all(&store), 3010);
    }

    /// Pages through everything `subject` may read, in both orders and
    /// several page sizes, comparing [`Store::query_json`] (with and
    /// without a budget) with [`Store::query`]; returns how many objects
    /// the ascending walk with the smallest page saw.
    fn json_pages_match_full_pages(store: &SqliteStore, subject: &Subject) -> usize {
        let mut seen = 0;
        for (limit, order) in [(7, Order::AddedAscending), (50, Order::AddedDescending), (0, Order::AddedAscending)] {
            let mut after = None;
            loop {
                let q = Query { limit, after, order, ..Query::default() };
                let full = store.query(subject, &q).unwrap();
                if limit == 7 {
                    seen += full.objects.len();
                }
                for budget in [None, Some(Duration::from_secs(60))] {
                    let json = store.query_json(subject, &q, budget).unwrap().expect("within a minute");
                    assert_eq!(json.texts().collect::<Vec<_>>(), full.objects.iter().map(|o| o.json.as_str()).collect::<Vec<_>>());
                    let dates: Vec<_> = json.objects.iter().map(|o| o.date_added).collect();
                    assert_eq!(dates, full.objects.iter().map(|o| o.date_added).collect::<Vec<_>>());
                    let labels: Vec<&Label> = json.objects.iter().map(|o| &json.labels[o.label]).collect();
                    assert_eq!(labels, full.objects.iter().map(|o| &o.label).collect::<Vec<_>>());
                    assert_eq!((json.more, json.next), (full.more, full.next));
                }
                match full.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        seen
    }

    #[test]
    fn a_json_page_holds_what_the_full_page_holds() {
        // Classes this organisation reads all of (the table is walked),
        // then another organisation's AMBER+STRICT beside them: readers of
        // most versions still walk the table, a reader of GREEN alone
        // (under half) merges per-class index walks.
        let (_dir, store) = make();
        let theirs_org = "identity--b0000000-0000-4000-8000-000000000002";
        let theirs = Label::unclassified(phalanx_labels::Tlp::AmberStrict).with_originator(Some(theirs_org.into()));
        let amber = Label::unclassified(phalanx_labels::Tlp::Amber).with_originator(Some(ORG.into()));
        let put = |range: std::ops::Range<u32>, labels: &[Label]| {
            let mut txn = store.begin().unwrap();
            for i in range {
                let o = ip(i);
                let json = o.to_json_string();
                let label = &labels[i as usize % labels.len()];
                txn.put(NewVersion { object: &o, json: &json, label, origin: "t" }).unwrap();
            }
            txn.commit().unwrap();
        };
        let ours = Subject::User(phalanx_labels::Reader::new(phalanx_labels::Organisation::new(ORG)));
        let other = Subject::User(phalanx_labels::Reader::new(phalanx_labels::Organisation::new(theirs_org)));
        put(0..200, &[green(), amber.clone()]);
        assert_eq!(json_pages_match_full_pages(&store, &ours), 200);
        put(200..500, &[green(), theirs.clone(), amber.clone()]);
        assert_eq!(json_pages_match_full_pages(&store, &ours), 400, "all but the other AMBER+STRICT");
        assert_eq!(json_pages_match_full_pages(&store, &other), 300, "200 GREEN and their own 100");
        let third = Subject::User(phalanx_labels::Reader::new(phalanx_labels::Organisation::new(
            "identity--c0000000-0000-4000-8000-000000000003",
        )));
        assert_eq!(json_pages_match_full_pages(&store, &third), 200, "GREEN only");
        let plan = |classes: &[i64]| store.with_reader(|c| store.hold_most_rows(c, classes)).unwrap();
        let green_class = store.classes_where(|l| *l == green()).unwrap().parse::<i64>().unwrap();
        assert!(!plan(&[green_class]), "200 of 500: the merge is what was compared");
        assert_eq!(json_pages_match_full_pages(&store, &Subject::Anonymous), 0);
    }

    #[test]
    fn a_page_reads_the_table_in_order_when_the_readable_classes_hold_most_versions() {
        let (_dir, store) = make();
        // Another organisation's AMBER+STRICT versions, which this reader
        // may not read, every fourth one.
        let theirs = Label::unclassified(phalanx_labels::Tlp::AmberStrict)
            .with_originator(Some("identity--b0000000-0000-4000-8000-000000000002".into()));
        let mut readable = Vec::new();
        {
            let mut txn = store.begin().unwrap();
            for i in 0..400 {
                let o = ip(i);
                let json = o.to_json_string();
                let label = if i % 4 == 3 { theirs.clone() } else { green() };
                txn.put(NewVersion { object: &o, json: &json, label: &label, origin: "t" }).unwrap();
                if i % 4 != 3 {
                    readable.push(json);
                }
            }
            txn.commit().unwrap();
        }
        let reader = Subject::User(phalanx_labels::Reader::new(phalanx_labels::Organisation::new(ORG)));
        let ours = store.classes_where(|l| *l == green()).unwrap().parse::<i64>().unwrap();
        let other = store.classes_where(|l| *l == theirs).unwrap().parse::<i64>().unwrap();
        let plan = |classes: &[i64]| store.with_reader(|c| store.hold_most_rows(c, classes)).unwrap();
        assert!(plan(&[ours]), "300 of 400 versions");
        assert!(!plan(&[other]), "100 of 400 versions");
        // Paged through the table walk: every readable version once, in
        // order, and none of the others.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.query(&reader, &Query { limit: 64, after, ..Query::default() }).unwrap();
            seen.extend(page.objects.iter().map(|o| o.json.clone()));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, readable);
        // Commits and deletions keep the counts: 150 of ours deleted leaves
        // 150 against 100, 51 more leave 99 against 100.
        for i in (0..400).filter(|i| i % 4 != 3).take(150) {
            store.delete_versions_impl("t", ip(i).id().as_str(), &VersionFilter::All).unwrap();
        }
        assert!(plan(&[ours]));
        for i in (0..400).filter(|i| i % 4 != 3).skip(150).take(51) {
            store.delete_versions_impl("t", ip(i).id().as_str(), &VersionFilter::All).unwrap();
        }
        assert!(!plan(&[ours]));
        put_ips(&store, 1000..1002);
        assert!(plan(&[ours]), "101 against 100");
    }

    #[test]
    fn bodies_live_in_the_body_file_and_read_back() {
        let (dir, store) = make();
        put_ips(&store, 0..2000);
        let jsons = all_json(&store);
        assert_eq!(jsons.len(), 2000);
        for (i, json) in jsons.iter().enumerate() {
            assert_eq!(*json, ip(i as u32).to_json_string());
        }
        let total: u64 = jsons.iter().map(|j| j.len() as u64).sum();
        assert_eq!(body_len(dir.path()), crate::bodies::HEADER_LEN + total);
        // The rows hold no JSON.
        let columns: Vec<String> = store
            .with_reader(|c| {
                let mut st = c.prepare("SELECT name FROM pragma_table_info('objects')")?;
                let names = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
                Ok(names)
            })
            .unwrap();
        assert!(!columns.iter().any(|c| c == "json"), "{columns:?}");
    }

    #[test]
    fn a_torn_write_past_the_committed_end_is_dropped_on_open() {
        let (dir, store) = make();
        put_ips(&store, 0..300);
        let committed = body_len(dir.path());
        drop(store);
        // A writer died after appending bodies, before its COMMIT.
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join(crate::bodies::FILE_NAME)).unwrap();
            f.write_all(b"{\"type\":\"ipv4-addr\",\"val").unwrap();
        }
        assert!(body_len(dir.path()) > committed);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(body_len(dir.path()), committed, "uncommitted bytes are dropped on open");
        assert_eq!(count_all(&store), 300);
        // New writes land right after the committed bytes and read back.
        put_ips(&store, 300..600);
        let jsons = all_json(&store);
        assert_eq!(jsons.len(), 600);
        assert_eq!(jsons[599], ip(599).to_json_string());
    }

    #[test]
    fn a_torn_write_is_also_dropped_by_the_next_write() {
        // The store stays open (e.g. another process crashed mid-write).
        let (dir, store) = make();
        put_ips(&store, 0..10);
        let committed = body_len(dir.path());
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join(crate::bodies::FILE_NAME)).unwrap();
            f.write_all(&[b'x'; 5000]).unwrap();
        }
        put_ips(&store, 10..20);
        let expected: u64 = (10..20).map(|i| ip(i).to_json_string().len() as u64).sum();
        assert_eq!(body_len(dir.path()), committed + expected);
        assert_eq!(all_json(&store)[19], ip(19).to_json_string());
    }

    #[test]
    fn missing_committed_bodies_are_reported() {
        let (dir, store) = make();
        put_ips(&store, 0..10);
        drop(store);
        let f = std::fs::OpenOptions::new().write(true).open(dir.path().join(crate::bodies::FILE_NAME)).unwrap();
        f.set_len(20).unwrap();
        match SqliteStore::open(dir.path()) {
            Err(StoreError::Corrupt { message, .. }) => assert!(message.contains("committed"), "{message}"),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a body file missing committed bytes was accepted"),
        }
    }

    #[test]
    fn a_rollback_truncates_the_body_file() {
        for large in [false, true] {
            let (dir, store) = if large { make_large() } else { make() };
            put_ips(&store, 0..10);
            let committed = body_len(dir.path());
            {
                let mut txn = store.begin().unwrap();
                put_ips_in(txn.as_mut(), 10..3000);
                // dropped without commit
            }
            assert_eq!(body_len(dir.path()), committed);
            assert_eq!(count_all(&store), 10);
            put_ips(&store, 10..20);
            assert_eq!(count_all(&store), 20);
            assert_eq!(all_json(&store)[19], ip(19).to_json_string());
        }
    }

    #[test]
    fn readers_see_the_last_commit_while_a_large_write_runs() {
        let (_dir, store) = make_large();
        put_ips(&store, 0..100);
        let mut txn = store.begin().unwrap();
        put_ips_in(txn.as_mut(), 100..5000);
        // A reader (another connection) runs while the write is under way.
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(count_all(&store), 100);
                assert_eq!(all_json(&store).len(), 100);
            });
        });
        txn.commit().unwrap();
        assert_eq!(count_all(&store), 5000);
    }

    #[test]
    fn readers_see_labels_that_another_process_added() {
        // Two stores on one directory stand for `phalanx serve` and a
        // `phalanx import` beside it.
        let dir = tempfile::tempdir().unwrap();
        let serve = SqliteStore::open(dir.path()).unwrap();
        let import = SqliteStore::open(dir.path()).unwrap();
        put_ips(&serve, 0..2);
        let reader = Subject::User(phalanx_labels::Reader::new(phalanx_labels::Organisation::new(ORG)));
        let all = Query { versions: VersionFilter::All, ..Query::default() };
        let first = serve.query(&reader, &all).unwrap();
        // The other process stores a version under a label new to both
        // (a new access class), then serve adds a class of its own.
        let clear = Label::unclassified(phalanx_labels::Tlp::Clear).with_originator(Some(ORG.into()));
        let one = indicator("one");
        let mut txn = import.begin().unwrap();
        txn.put(NewVersion { object: &one, json: &one.to_json_string(), label: &clear, origin: "t" }).unwrap();
        txn.commit().unwrap();
        let amber = Label::unclassified(phalanx_labels::Tlp::Amber).with_originator(Some(ORG.into()));
        let mut txn = serve.begin().unwrap();
        txn.put(NewVersion { object: &ip(9), json: &ip(9).to_json_string(), label: &amber, origin: "t" }).unwrap();
        txn.commit().unwrap();
        let after = Query { after: first.objects.last().map(|o| Cursor(o.seq)), ..all.clone() };
        let page = serve.query(&reader, &after).unwrap();
        let types: Vec<&str> = page.objects.iter().map(|o| o.object_type.as_str()).collect();
        assert_eq!(types, ["indicator", "ipv4-addr"], "the other process's version is not skipped");
        assert_eq!(serve.count(&reader, &all).unwrap(), 4);
    }

    #[test]
    fn the_known_id_set_catches_up_with_other_writers() {
        // Two stores on one directory stand for two processes.
        let dir = tempfile::tempdir().unwrap();
        let a = SqliteStore::open(dir.path()).unwrap().with_large_after(0);
        let b = SqliteStore::open(dir.path()).unwrap();
        put_ips(&a, 0..10); // a loads its known-id set
        let one = indicator("one");
        let json = one.to_json_string();
        let mut txn = b.begin().unwrap();
        txn.put(NewVersion { object: &one, json: &json, label: &green(), origin: "t" }).unwrap();
        txn.commit().unwrap();
        // a must see b's version: same content unchanged, other content a conflict.
        let mut txn = a.begin().unwrap();
        assert_eq!(txn.put(NewVersion { object: &one, json: &json, label: &green(), origin: "t" }).unwrap(), PutOutcome::Unchanged);
        let other = indicator("other");
        let other_json = other.to_json_string();
        let err = txn.put(NewVersion { object: &other, json: &other_json, label: &green(), origin: "t" }).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        let date = match txn.put(NewVersion { object: &ip(99), json: &ip(99).to_json_string(), label: &green(), origin: "t" }).unwrap() {
            PutOutcome::Stored { date_added } => date_added,
            PutOutcome::Unchanged => panic!("new object unchanged"),
        };
        txn.commit().unwrap();
        // date_added stays above what the other writer stored.
        let max_b: i64 = b.with_reader(|c| Ok(c.query_row("SELECT seq FROM objects WHERE type = 'indicator'", [], |r| r.get(0))?)).unwrap();
        assert!(date.unix_micros() > max_b);
        assert_eq!(count_all(&a), 12);
    }

    #[test]
    fn a_large_transaction_keeps_versions_and_latest() {
        let (_dir, store) = make_large();
        let mut txn = store.begin().unwrap();
        let mut objects = Vec::new();
        for i in 0..1000u32 {
            objects.push(ip(i));
            if i % 100 == 0 {
                let month = 1 + i / 100;
                objects.push(crate::test_suite::obj(serde_json::json!({
                    "type": "indicator", "spec_version": "2.1", "id": "indicator--c0000000-0000-4000-8000-000000000003",
                    "created": "2026-01-01T00:00:00.000Z", "modified": format!("2026-{month:02}-01T00:00:00.000Z"),
                    "name": format!("v{month}"), "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
                    "valid_from": "2026-01-01T00:00:00Z"
                })));
            }
        }
        for o in &objects {
            let json = o.to_json_string();
            txn.put(NewVersion { object: o, json: &json, label: &green(), origin: "t" }).unwrap();
        }
        // Stored again in the same transaction: unchanged.
        let again = ip(5);
        assert_eq!(
            txn.put(NewVersion { object: &again, json: &again.to_json_string(), label: &green(), origin: "t" }).unwrap(),
            PutOutcome::Unchanged
        );
        txn.commit().unwrap();
        let reader = Subject::User(phalanx_labels::Reader::new(phalanx_labels::Organisation::new(ORG)));
        let id = "indicator--c0000000-0000-4000-8000-000000000003";
        assert_eq!(store.get(&reader, id, &VersionFilter::All).unwrap().len(), 10);
        let last = store.get(&reader, id, &VersionFilter::Last).unwrap();
        assert_eq!(last.len(), 1);
        assert!(last[0].json.contains("\"v10\""));
        let latest: i64 = store.with_reader(|c| Ok(c.query_row("SELECT COUNT(*) FROM objects WHERE is_latest = 1", [], |r| r.get(0))?)).unwrap();
        assert_eq!(latest, 1001);
        let text = Query { text: Some("v7".into()), versions: VersionFilter::All, ..Query::default() };
        assert_eq!(store.count(&reader, &text).unwrap(), 1);
    }

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

    /// The journal mode of the database in `dir`, as a new connection of
    /// its own sees it (closed again before it returns).
    fn journal_mode(dir: &Path) -> String {
        let conn = Connection::open(dir.join("phalanx.sqlite")).expect("sqlite");
        conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
        conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("journal mode")
    }

    /// What SQLite's `integrity_check` finds in the store ("ok" alone when
    /// nothing is wrong).
    fn integrity(store: &SqliteStore) -> Vec<String> {
        store
            .with_reader(|c| {
                let mut stmt = c.prepare("PRAGMA integrity_check")?;
                let rows = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
                Ok(rows)
            })
            .unwrap()
    }

    fn count_ips(store: &SqliteStore) -> i64 {
        store.with_reader(|c| Ok(c.query_row("SELECT COUNT(*) FROM objects WHERE type = 'ipv4-addr'", [], |r| r.get(0))?)).unwrap()
    }

    #[test]
    fn an_exclusive_write_runs_in_the_rollback_journal_and_goes_back_to_wal() {
        let (dir, store) = make();
        put_ips(&store, 0..2);
        let mut txn = store.begin_exclusive().unwrap();
        put_ips_in(txn.as_mut(), 2..5);
        assert_eq!(journal_mode(dir.path()), "delete");
        txn.commit().unwrap();
        assert_eq!(journal_mode(dir.path()), "wal");
        assert!(!dir.path().join("phalanx.sqlite-journal").exists(), "the rollback journal is gone");
        assert_eq!(count_ips(&store), 5);
        assert_eq!(integrity(&store), ["ok"]);
        // Later writes share the store again.
        let txn = store.begin().unwrap();
        assert_eq!(journal_mode(dir.path()), "wal");
        drop(txn);
    }

    #[test]
    fn an_exclusive_write_is_shared_while_another_connection_has_the_store_open() {
        let (dir, store) = make();
        put_ips(&store, 0..1);
        // Another process (a server) reads the store.
        let other = Connection::open(dir.path().join("phalanx.sqlite")).expect("sqlite");
        let before: i64 = other.query_row("SELECT COUNT(*) FROM objects WHERE type = 'ipv4-addr'", [], |r| r.get(0)).unwrap();
        assert_eq!(before, 1);
        let started = Instant::now();
        let mut txn = store.begin_exclusive().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "the switch did not wait for the other connection");
        let o = ip(1);
        txn.put(NewVersion { object: &o, json: &o.to_json_string(), label: &green(), origin: "t" }).unwrap();
        let mode: String = other.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let during: i64 = other.query_row("SELECT COUNT(*) FROM objects WHERE type = 'ipv4-addr'", [], |r| r.get(0)).unwrap();
        assert_eq!(during, 1, "the other connection reads while the write runs");
        txn.commit().unwrap();
        let after: i64 = other.query_row("SELECT COUNT(*) FROM objects WHERE type = 'ipv4-addr'", [], |r| r.get(0)).unwrap();
        assert_eq!(after, 2);
    }

    #[test]
    fn a_store_larger_than_the_limit_is_written_shared() {
        let (dir, store) = make();
        put_ips(&store, 0..3);
        let store = store.with_exclusive_store_max(2);
        assert_eq!(count_ips(&store), 3); // leaves an idle reader
        let idle_readers = || store.readers.lock().unwrap().len();
        assert_eq!(idle_readers(), 1);
        let txn = store.begin_exclusive().unwrap();
        assert_eq!(journal_mode(dir.path()), "wal");
        assert_eq!(idle_readers(), 1, "a write shared for the store's size keeps the idle readers");
        drop(txn);
        let store = store.with_exclusive_store_max(3);
        let txn = store.begin_exclusive().unwrap();
        assert_eq!(journal_mode(dir.path()), "delete", "a store at the limit is written exclusively");
        assert_eq!(store.readers.lock().unwrap().len(), 0, "an exclusive write closes the idle readers");
        drop(txn);
        assert_eq!(journal_mode(dir.path()), "wal");
    }

    #[test]
    fn an_exclusive_write_looks_committed_versions_up_in_memory() {
        let (dir, store) = make_large();
        let old = indicator("old");
        let mut txn = store.begin().unwrap();
        txn.put(NewVersion { object: &old, json: &old.to_json_string(), label: &green(), origin: "t" }).unwrap();
        put_ips_in(txn.as_mut(), 0..3);
        txn.commit().unwrap();
        let mut txn = store.begin_txn(true).unwrap();
        assert_eq!(journal_mode(dir.path()), "delete");
        // A committed SCO again: unchanged.
        let again = ip(1);
        let outcome = txn.put(NewVersion { object: &again, json: &again.to_json_string(), label: &green(), origin: "t" }).unwrap();
        assert_eq!(outcome, PutOutcome::Unchanged);
        // The committed (id, version) with other content: a conflict.
        let other = indicator("other");
        let err = txn.put(NewVersion { object: &other, json: &other.to_json_string(), label: &green(), origin: "t" }).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        // A newer version: the committed one is no longer the latest.
        let newer = crate::test_suite::obj(serde_json::json!({
            "type": "indicator", "spec_version": "2.1", "id": "indicator--c0000000-0000-4000-8000-000000000003",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-02-01T00:00:00.000Z",
            "name": "newer", "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"
        }));
        let versions = txn.versions_of(old.id().as_str()).unwrap();
        assert_eq!(versions.len(), 1, "the committed version is found");
        assert!(matches!(
            txn.put(NewVersion { object: &newer, json: &newer.to_json_string(), label: &green(), origin: "t" }).unwrap(),
            PutOutcome::Stored { .. }
        ));
        assert!(txn.worker.is_some(), "the lookups ran beside the SQL worker");
        // A reader in a read transaction would keep the writer from
        // spilling pages to the database file and from committing.
        assert!(txn.snapshot.is_none(), "no reader was kept for the committed versions");
        Box::new(txn).commit().unwrap();
        assert_eq!(journal_mode(dir.path()), "wal");
        let latest: Vec<(String, i64)> = store
            .with_reader(|c| {
                let mut stmt = c.prepare("SELECT version, is_latest FROM objects WHERE type = 'indicator' ORDER BY version")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .unwrap();
        assert_eq!(latest.len(), 2);
        assert_eq!((latest[0].1, latest[1].1), (0, 1), "{latest:?}");
        assert_eq!(count_ips(&store), 3);
        assert_eq!(integrity(&store), ["ok"]);
    }

    #[test]
    fn a_rolled_back_exclusive_write_leaves_nothing_and_goes_back_to_wal() {
        let (dir, store) = make();
        put_ips(&store, 0..1);
        let bodies_before = store.bodies.len().unwrap();
        let mut txn = store.begin_exclusive().unwrap();
        put_ips_in(txn.as_mut(), 1..50);
        assert_eq!(journal_mode(dir.path()), "delete");
        drop(txn);
        assert_eq!(journal_mode(dir.path()), "wal");
        assert!(!dir.path().join("phalanx.sqlite-journal").exists());
        assert_eq!(count_ips(&store), 1);
        assert_eq!(store.bodies.len().unwrap(), bodies_before);
        assert_eq!(integrity(&store), ["ok"]);
    }

    #[test]
    fn opening_a_store_that_an_exclusive_write_holds_says_so() {
        let (dir, store) = make();
        let mut txn = store.begin_exclusive().unwrap();
        let o = ip(1);
        txn.put(NewVersion { object: &o, json: &o.to_json_string(), label: &green(), origin: "t" }).unwrap();
        let started = Instant::now();
        let err = SqliteStore::open(dir.path()).err().expect("the open is refused while the write runs");
        assert!(started.elapsed() < Duration::from_secs(5), "the open did not wait");
        assert!(err.to_string().contains("exclusive write"), "{err}");
        txn.commit().unwrap();
        let again = SqliteStore::open(dir.path()).expect("open after the write");
        assert_eq!(count_ips(&again), 1);
    }
}
