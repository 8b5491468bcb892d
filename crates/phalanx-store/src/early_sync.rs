//! Starting the disk early on a file that a large write will sync: a
//! helper thread `fdatasync`s it while the writer goes on, so that the
//! sync that makes the write durable waits only for what came last.
//!
//! The helper opens the file itself, as an open file of its own: a
//! write-back error it meets is then still reported to the writer's own
//! sync (Linux reports an error once per open file), and only that sync
//! decides durability. Only files on which nobody holds POSIX locks may
//! be opened so (the body file, SQLite's WAL): closing a handle drops
//! every such lock the process holds on the file. A file or thread that
//! cannot be had only means no early sync.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Opens `path` for a helper thread named `thread`.
fn open(path: &Path, thread: &str) -> Option<std::fs::File> {
    match std::fs::File::open(path) {
        Ok(file) => Some(file),
        Err(e) => {
            tracing::debug!(error = %e, thread, "no early sync");
            None
        }
    }
}

/// Syncs `path` once on a thread named `thread`; join it to know it is done.
pub(crate) fn once(path: &Path, thread: &str) -> Option<JoinHandle<()>> {
    let file = open(path, thread)?;
    let name = thread.to_owned();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            if let Err(e) = file.sync_data() {
                tracing::debug!(error = %e, thread = %name, "early sync");
            }
        })
        .ok()
}

/// Syncs `path` every `every` on a thread named `thread` until the
/// returned value is dropped (the thread then ends after the sync under
/// way; nobody waits for it).
pub(crate) struct Repeated {
    _stop: mpsc::Sender<()>,
}

impl Repeated {
    /// Starts the thread; `None` when the file or the thread cannot be had.
    pub(crate) fn start(path: &Path, every: Duration, thread: &str) -> Option<Self> {
        let file = open(path, thread)?;
        let name = thread.to_owned();
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if let Err(e) = file.sync_data() {
                        tracing::debug!(error = %e, thread = %name, "early sync");
                        return;
                    }
                }
            })
            .ok()?;
        Some(Repeated { _stop: stop })
    }
}
