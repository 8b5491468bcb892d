//! The body file: the JSON text of every stored version, appended to one
//! file beside the database (`phalanx.bodies`), so that SQLite's B-trees,
//! WAL and checkpoints only carry the small row of each version.
//!
//! A row names its body by offset and length. The file is only appended
//! to, and only by the writer, under SQLite's write lock:
//! - the bytes of a transaction are written (and `fdatasync`ed) *before*
//!   its SQLite `COMMIT`, which also records the new end of the committed
//!   bytes (`settings.body_end`): a committed row never points at missing
//!   bytes, after `kill -9` or power loss alike;
//! - a rolled-back transaction truncates the file back to where it began;
//! - every write transaction (and opening the store) first truncates
//!   whatever lies past the committed end: the bytes of a writer that died
//!   before its `COMMIT` (a torn write) are never read and are dropped.
//!
//! Readers read bodies with positioned reads of committed bytes only, so
//! they run while a write is under way. Deleted versions leave their bytes
//! behind (like any append-only log).

use crate::StoreError;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The file's name in the data directory.
pub(crate) const FILE_NAME: &str = "phalanx.bodies";
/// The first bytes of the file (format version 1).
const MAGIC: &[u8; 8] = b"PHXBODY1";
/// Where the first body starts.
pub(crate) const HEADER_LEN: u64 = MAGIC.len() as u64;
/// Appends are buffered up to this many bytes before they are written.
const FLUSH_AT: usize = 1 << 20;
/// Bytes written by a transaction after which a background thread starts
/// an `fdatasync` of them, while the transaction goes on appending: the
/// disk then writes a large transaction's bodies during it, and the sync
/// before its `COMMIT` waits only for the last ones (a 1M-object import
/// otherwise waited 0.5-0.8 s there for all 470 MB).
const EARLY_SYNC_EVERY: u64 = 32 << 20;

/// The open body file, shared by the writer and the readers.
pub(crate) struct Bodies {
    file: File,
    path: PathBuf,
}

/// Largest gap between two bodies that [`Bodies::read_many`] reads over.
const COALESCE_GAP: u64 = 16 << 10;
/// Largest single read of [`Bodies::read_many`].
const COALESCE_MAX: u64 = 4 << 20;
/// The largest run buffer a reading thread keeps for its next read.
const KEPT_READ_BUFFER: usize = 256 << 10;

thread_local! {
    /// The run buffer of [`Bodies::read_many`], kept per thread: a fresh
    /// zeroed buffer per page read (often fresh pages from the kernel) was
    /// 7% of a TAXII page request's CPU.
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::DataDir { path: path.display().to_string(), message: e.to_string() }
}

impl Bodies {
    /// Opens (creating if needed) the body file at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_error(path, e))?;
        let bodies = Bodies { file, path: path.to_owned() };
        let len = bodies.len()?;
        if len < HEADER_LEN {
            // New, or its creation was torn before the header was written:
            // nothing was ever committed into it.
            bodies.file.set_len(0).map_err(|e| io_error(path, e))?;
            bodies.file.write_all_at(MAGIC, 0).map_err(|e| io_error(path, e))?;
            bodies.file.sync_all().map_err(|e| io_error(path, e))?;
        } else {
            let mut magic = [0u8; MAGIC.len()];
            bodies.file.read_exact_at(&mut magic, 0).map_err(|e| io_error(path, e))?;
            if &magic != MAGIC {
                return Err(StoreError::Corrupt {
                    what: path.display().to_string(),
                    message: "not a phalanx body file (bad magic)".into(),
                });
            }
        }
        Ok(bodies)
    }

    /// The file's current length.
    pub(crate) fn len(&self) -> Result<u64, StoreError> {
        Ok(self.file.metadata().map_err(|e| io_error(&self.path, e))?.len())
    }

    /// Drops everything past `end` (the committed end): bytes of a write
    /// that was never committed. Fails when the file is shorter than
    /// `end`, i.e. when committed bodies are missing.
    pub(crate) fn truncate_to_committed(&self, end: u64) -> Result<(), StoreError> {
        let len = self.len()?;
        if len < end {
            return Err(StoreError::Corrupt {
                what: self.path.display().to_string(),
                message: format!("the body file has {len} bytes, but {end} are committed"),
            });
        }
        if len > end {
            tracing::info!(dropped = len - end, "body file: dropping bytes of an uncommitted write");
            self.file.set_len(end).map_err(|e| io_error(&self.path, e))?;
        }
        Ok(())
    }

    /// Reads several bodies, each `(offset, len)`, in the order given.
    /// Bodies written together lie side by side in the file, so nearby
    /// ones are read with one `pread` per run (gaps up to [`COALESCE_GAP`],
    /// runs up to [`COALESCE_MAX`]) instead of one per body.
    pub(crate) fn read_many(&self, spans: &[(u64, u64)]) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<Option<String>> = vec![None; spans.len()];
        self.visit_many(spans, |i, text| out[i] = Some(text.to_owned()))?;
        Ok(out.into_iter().map(|s| s.unwrap_or_default()).collect())
    }

    /// Reads several bodies, each `(offset, len)`, as [`Bodies::read_many`]
    /// does, appending them to `out` one after another (in file order);
    /// returns where each one lies in `out`, in the order given.
    pub(crate) fn read_many_into(&self, spans: &[(u64, u64)], out: &mut String) -> Result<Vec<(usize, usize)>, StoreError> {
        let mut at = vec![(0, 0); spans.len()];
        self.visit_many(spans, |i, text| {
            at[i] = (out.len(), out.len() + text.len());
            out.push_str(text);
        })?;
        Ok(at)
    }

    /// Hands each body of `spans` to `visit` (its index in `spans`, its
    /// text), in file order, reading runs of nearby bodies at once.
    fn visit_many(&self, spans: &[(u64, u64)], mut visit: impl FnMut(usize, &str)) -> Result<(), StoreError> {
        let mut order: Vec<usize> = (0..spans.len()).collect();
        order.sort_by_key(|&i| spans[i].0);
        let mut at = 0;
        while at < order.len() {
            let (start, first_len) = spans[order[at]];
            let mut end = start + first_len;
            let mut last = at;
            while last + 1 < order.len() {
                let (offset, len) = spans[order[last + 1]];
                if offset > end + COALESCE_GAP || offset + len - start > COALESCE_MAX {
                    break;
                }
                end = end.max(offset + len);
                last += 1;
            }
            READ_BUFFER.with_borrow_mut(|buf| -> Result<(), StoreError> {
                buf.clear();
                buf.resize((end - start) as usize, 0);
                self.file.read_exact_at(buf, start).map_err(|e| StoreError::Corrupt {
                    what: format!("body at {start}+{}", end - start),
                    message: e.to_string(),
                })?;
                for &i in &order[at..=last] {
                    let (offset, len) = spans[i];
                    let from = (offset - start) as usize;
                    let text = std::str::from_utf8(&buf[from..from + len as usize])
                        .map_err(|e| StoreError::Corrupt { what: format!("body at {offset}+{len}"), message: e.to_string() })?;
                    visit(i, text);
                }
                if buf.capacity() > KEPT_READ_BUFFER {
                    *buf = Vec::new();
                }
                Ok(())
            })?;
            at = last + 1;
        }
        Ok(())
    }

    /// Reads the committed body at `offset`, `len` bytes long.
    pub(crate) fn read(&self, offset: u64, len: u64) -> Result<String, StoreError> {
        let mut buf = vec![0u8; len as usize];
        self.file.read_exact_at(&mut buf, offset).map_err(|e| StoreError::Corrupt {
            what: format!("body at {offset}+{len}"),
            message: e.to_string(),
        })?;
        String::from_utf8(buf)
            .map_err(|e| StoreError::Corrupt { what: format!("body at {offset}+{len}"), message: e.to_string() })
    }
}

/// The bodies appended by one write transaction, from `start` (the
/// committed end when it began) on; the last ones still in `buf`.
pub(crate) struct Appender {
    start: u64,
    written: u64,
    buf: Vec<u8>,
    /// The end of what was written when the last early sync started.
    early_synced: u64,
    /// The early sync under way, if any ([`EARLY_SYNC_EVERY`]).
    early_sync: Option<std::thread::JoinHandle<()>>,
}

impl Appender {
    /// Starts appending at `start`, the committed end.
    pub(crate) fn new(start: u64) -> Self {
        Appender { start, written: start, buf: Vec::new(), early_synced: start, early_sync: None }
    }

    /// Where the transaction began.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// The end of what was appended so far.
    pub(crate) fn end(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// Appends one body; returns its offset.
    pub(crate) fn append(&mut self, bodies: &Bodies, body: &[u8]) -> Result<u64, StoreError> {
        let offset = self.end();
        if self.buf.capacity() == 0 {
            self.buf.reserve(FLUSH_AT + (1 << 16));
        }
        self.buf.extend_from_slice(body);
        if self.buf.len() >= FLUSH_AT {
            self.write(bodies)?;
        }
        Ok(offset)
    }

    /// Writes the buffered bodies to the file (not yet synced).
    fn write(&mut self, bodies: &Bodies) -> Result<(), StoreError> {
        if !self.buf.is_empty() {
            bodies.file.write_all_at(&self.buf, self.written).map_err(|e| io_error(&bodies.path, e))?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
            if self.written - self.early_synced >= EARLY_SYNC_EVERY {
                self.start_early_sync(bodies);
            }
        }
        Ok(())
    }

    /// Starts an `fdatasync` of what was written so far on a helper
    /// thread ([`crate::early_sync`]), unless the last one is still under
    /// way. Only the sync before `COMMIT` ([`Appender::make_durable`])
    /// makes bodies durable.
    fn start_early_sync(&mut self, bodies: &Bodies) {
        if self.early_sync.as_ref().is_some_and(|sync| !sync.is_finished()) {
            return;
        }
        self.finish_early_sync();
        self.early_synced = self.written;
        self.early_sync = crate::early_sync::once(&bodies.path, "phalanx-bodies-sync");
    }

    /// Waits for the early sync under way, if any (its errors, on its own
    /// open file, are the final sync's to report).
    fn finish_early_sync(&mut self) {
        if let Some(sync) = self.early_sync.take() {
            let _ = sync.join();
        }
    }

    /// Writes and syncs everything appended: call before the `COMMIT`.
    pub(crate) fn make_durable(&mut self, bodies: &Bodies) -> Result<(), StoreError> {
        self.write(bodies)?;
        self.finish_early_sync();
        if self.written > self.start {
            bodies.file.sync_data().map_err(|e| io_error(&bodies.path, e))?;
        }
        Ok(())
    }

    /// Reads a body appended by this transaction or committed before it.
    pub(crate) fn read(&self, bodies: &Bodies, offset: u64, len: u64) -> Result<String, StoreError> {
        if offset >= self.written {
            let at = (offset - self.written) as usize;
            let bytes = self.buf.get(at..at + len as usize).ok_or_else(|| StoreError::Corrupt {
                what: format!("body at {offset}+{len}"),
                message: "past the end of the appended bodies".into(),
            })?;
            return String::from_utf8(bytes.to_vec())
                .map_err(|e| StoreError::Corrupt { what: format!("body at {offset}+{len}"), message: e.to_string() });
        }
        bodies.read(offset, len)
    }

    /// Drops what this transaction appended (after its `ROLLBACK`).
    pub(crate) fn roll_back(&mut self, bodies: &Bodies) -> Result<(), StoreError> {
        self.buf.clear();
        // An early sync still under way only syncs bytes dropped here;
        // it is left to finish on its own.
        self.early_sync = None;
        if self.written > self.start {
            bodies.file.set_len(self.start).map_err(|e| io_error(&bodies.path, e))?;
        }
        self.written = self.start;
        self.early_synced = self.start;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_write_syncs_early_and_still_rolls_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let bodies = Bodies::open(&dir.path().join(FILE_NAME)).unwrap();
        let start = bodies.len().unwrap();
        let body = vec![b'x'; 64 << 10];
        let mut appender = Appender::new(start);
        while appender.end() - start <= EARLY_SYNC_EVERY + FLUSH_AT as u64 {
            appender.append(&bodies, &body).unwrap();
        }
        assert!(appender.early_sync.is_some(), "no early sync was started");
        assert!(appender.early_synced > start);
        appender.make_durable(&bodies).unwrap();
        assert!(appender.early_sync.is_none(), "make_durable did not wait for the early sync");
        assert_eq!(bodies.len().unwrap(), appender.end());

        let mut appender = Appender::new(start);
        while appender.end() - start <= EARLY_SYNC_EVERY + FLUSH_AT as u64 {
            appender.append(&bodies, &body).unwrap();
        }
        assert!(appender.early_synced > start);
        appender.roll_back(&bodies).unwrap();
        assert_eq!(bodies.len().unwrap(), start);
        assert_eq!(appender.end(), start);
    }

    #[test]
    fn read_many_returns_each_body_in_the_order_asked() {
        let dir = tempfile::tempdir().unwrap();
        let bodies = Bodies::open(&dir.path().join(FILE_NAME)).unwrap();
        let mut appender = Appender::new(bodies.len().unwrap());
        let mut spans = Vec::new();
        let mut texts = Vec::new();
        for i in 0..50 {
            // Every tenth body is large, so runs break at COALESCE_GAP.
            let text = if i % 10 == 9 { "x".repeat(COALESCE_GAP as usize + 1) } else { format!("{{\"n\":{i}}}") };
            let offset = appender.append(&bodies, text.as_bytes()).unwrap();
            spans.push((offset, text.len() as u64));
            texts.push(text);
        }
        appender.make_durable(&bodies).unwrap();
        // Ask for every other body, newest first: gaps and reverse order.
        let asked: Vec<usize> = (0..50).rev().filter(|i| i % 2 == 0 || i % 10 == 9).collect();
        let wanted: Vec<(u64, u64)> = asked.iter().map(|&i| spans[i]).collect();
        let got = bodies.read_many(&wanted).unwrap();
        assert_eq!(got.len(), asked.len());
        for (text, &i) in got.iter().zip(&asked) {
            assert_eq!(text, &texts[i], "body {i}");
            assert_eq!(text, &bodies.read(spans[i].0, spans[i].1).unwrap());
        }
        assert!(bodies.read_many(&[]).unwrap().is_empty());
    }
}
