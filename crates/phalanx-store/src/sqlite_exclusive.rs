//! Exclusive writes: a large load by a process that has the data directory
//! to itself (`phalanx import --exclusive`, [`crate::Store::begin_exclusive`]).
//!
//! A shared write goes through SQLite's write-ahead log: every page of the
//! transaction is written to the WAL, and a checkpoint then copies it into
//! the database file, so readers run while the write is under way. A
//! 1M-object import into a new store wrote 428 MB twice that way, and its
//! commit (the last pages to the WAL, the checkpoint's copy, two fsyncs,
//! the WAL's removal) took 1.1-2.0 s while nothing else ran.
//!
//! An exclusive write switches the database to SQLite's rollback journal
//! for its one transaction: new pages are written once, straight into the
//! database file (the journal keeps only the original content of pages
//! that existed before), and the commit syncs that file. The switch is
//! only made when no other connection, of this process or another, has
//! the database open (SQLite refuses it otherwise, and the write is then
//! shared, as usual). While it runs, other processes cannot open the data
//! directory: their switch to WAL fails at once, and
//! [`crate::SqliteStore::open`] says why. The database goes back to WAL
//! when the transaction commits or rolls back; after `kill -9`, the next
//! open rolls the hot journal back (nothing of the write stays) and
//! switches to WAL again.
//!
//! A reader holding a read transaction would stop the writer from spilling
//! pages to the database file and from committing, so an exclusive write
//! reads no committed version through a reader: it loads every committed
//! version's row once, at its start ([`CommittedVersions`]). That is why
//! only stores of at most [`EXCLUSIVE_STORE_MAX`] versions are written
//! exclusively (the initial load of a node, the case it is for); a larger
//! store is written shared.

use crate::sqlite::{VersionRow, version_row_at};
use crate::StoreError;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::time::Duration;

/// Most versions a store may hold for a write into it to be exclusive
/// (their rows are held in memory while it runs: about 15 MB at most).
pub(crate) const EXCLUSIVE_STORE_MAX: usize = 100_000;

/// How long the writer waits for a lock in the usual, shared mode.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why [`crate::SqliteStore::open`] could not switch the database to WAL
/// (SQLite answers "database is locked" at once).
pub(crate) const HELD_BY_AN_EXCLUSIVE_WRITE: &str = "the database is held by an exclusive write of another process \
     (phalanx import --exclusive); open it again when that import has ended";

/// Why a store is too large to be written exclusively: it holds more than
/// `store_max` versions. Asked before [`take`], so that a store written
/// shared for its size keeps this process's idle readers.
pub(crate) fn too_large(conn: &Connection, store_max: usize) -> Result<Option<String>, StoreError> {
    let held: i64 = conn.query_row(
        "SELECT COUNT(*) FROM (SELECT 1 FROM objects LIMIT ?1)",
        params![store_max as i64 + 1],
        |r| r.get(0),
    )?;
    if held as usize > store_max {
        return Ok(Some(format!("the store holds more than {store_max} versions")));
    }
    Ok(None)
}

/// Switches the writer connection `conn` (outside a transaction) to the
/// rollback journal, when no other connection has the database open;
/// otherwise says why not. The caller has closed this process's idle
/// readers first.
pub(crate) fn take(conn: &Connection) -> Result<Result<(), String>, StoreError> {
    // SQLite answers at once when it cannot have the database alone; a
    // busy timeout would only wait for a reader that will not go away.
    conn.busy_timeout(Duration::ZERO)?;
    let mode = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0));
    conn.busy_timeout(BUSY_TIMEOUT)?;
    match mode {
        Ok(mode) if mode.eq_ignore_ascii_case("delete") => {}
        Ok(mode) => return Ok(Err(format!("the journal stayed in mode {mode}"))),
        Err(e) => return Ok(Err(format!("another connection has the database open ({e})"))),
    }
    // In the rollback journal, NORMAL leaves a small window for corruption
    // on power loss (the WAL does not); FULL closes it.
    if let Err(e) = conn.execute_batch("PRAGMA synchronous = FULL") {
        give_back(conn);
        return Err(e.into());
    }
    Ok(Ok(()))
}

/// Switches the writer connection `conn` (outside a transaction) back to
/// WAL after an exclusive write. A failure is logged: the next open of the
/// store switches it again.
pub(crate) fn give_back(conn: &Connection) {
    match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
        Ok(mode) if mode.eq_ignore_ascii_case("wal") => {}
        Ok(mode) => tracing::warn!(mode, "the database did not go back to WAL after an exclusive write"),
        Err(e) => tracing::warn!(error = %e, "the database did not go back to WAL after an exclusive write"),
    }
    if let Err(e) = conn.execute_batch("PRAGMA synchronous = NORMAL") {
        tracing::warn!(error = %e, "restoring synchronous = NORMAL after an exclusive write failed");
    }
}

/// One committed version of an id.
struct CommittedVersion {
    id: String,
    row: VersionRow,
    body_off: u64,
    body_len: u64,
}

/// Every version committed before an exclusive write began, by id hash:
/// what its lookups of committed versions read instead of a reader.
pub(crate) struct CommittedVersions {
    by_hash: HashMap<i64, Vec<CommittedVersion>>,
}

impl CommittedVersions {
    /// Loads every stored version's row through the writer connection, in
    /// its transaction, before it wrote anything.
    pub(crate) fn load(conn: &Connection) -> Result<Self, StoreError> {
        let mut stmt = conn.prepare(
            "SELECT id_hash, id, seq, version, is_latest, access_class, revoked, body_off, body_len FROM objects",
        )?;
        let mut rows = stmt.query([])?;
        let mut by_hash: HashMap<i64, Vec<CommittedVersion>> = HashMap::new();
        while let Some(row) = rows.next()? {
            let (version, body_off, body_len) = version_row_at(row, 2)?;
            let version = CommittedVersion { id: row.get(1)?, row: version, body_off, body_len };
            by_hash.entry(row.get(0)?).or_default().push(version);
        }
        Ok(CommittedVersions { by_hash })
    }

    /// The id hash of every committed version.
    pub(crate) fn hashes(&self) -> impl Iterator<Item = i64> + '_ {
        self.by_hash.keys().copied()
    }

    /// The committed versions of `id` (hash `hash`), as `select_versions`
    /// gives them: the row, its body's offset and length.
    pub(crate) fn versions(&self, hash: i64, id: &str) -> Vec<(VersionRow, u64, u64)> {
        let mut out = Vec::new();
        for version in self.by_hash.get(&hash).into_iter().flatten() {
            if version.id == id {
                out.push((version.row.clone(), version.body_off, version.body_len));
            }
        }
        out
    }
}
