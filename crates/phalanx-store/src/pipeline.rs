//! The parse-then-write pipeline shared by `phalanx import`, TAXII POST and
//! the dashboard's upload: a second thread splits the input and parses and
//! validates its objects while the calling thread writes them through an
//! [`Ingest`], all in one transaction. Both cores work on one input, and an
//! object's compact JSON text is kept, so it is never serialised again.
//!
//! An input that turns out not to be JSON (or not the container expected)
//! is rolled back whole, however far it was written: nothing of it is
//! stored.

use crate::ingest::{Ingest, IngestReport};
use crate::{Store, StoreError};
use phalanx_model::stream::{
    Item, Limits, StreamError, StreamErrorKind, split_envelope, split_objects,
};
use phalanx_model::{ObjectErrors, ParsedObject, StixObject};
use serde_json::Value;
use std::io::BufRead;
use std::sync::mpsc;

/// Objects handed from the parsing thread to the writer at once.
const BATCH: usize = 256;

/// Batches in flight between the two threads. Few enough that the objects
/// in flight (and those handed back to be freed) stay in the caches: with
/// 64 (16,384 objects, tens of MiB) each reused allocation missed them, and
/// the parsing and writing threads took 15% and 9% more CPU on a 1M import
/// (bench/RESULTS.md, Import, session 17). 4 gave no more.
const BATCHES_IN_FLIGHT: usize = 8;

/// Nice steps a thread that feeds a write takes below the writer's threads.
/// With three busy threads on two cores, equal priorities give the SQL
/// worker (the slowest stage) two thirds of a core; a feeding stage, which
/// has time to spare, yields to it (1M-object imports, same build, the
/// parsing thread reniced: 22.4-26.1 s -> 18.5-22.8 s of wall time).
const FEEDER_NICE_STEPS: i32 = 5;

/// An input's size in bytes per object, taken on the small side for
/// sizing tables ahead (SCOs take about 120 bytes, SDOs 400-2,000): an
/// input of `n` bytes is taken to hold up to `n / 256` objects.
const BYTES_PER_OBJECT_FOR_SIZING: u64 = 256;

/// Most objects that tables are sized for ahead; a larger input grows
/// them as it goes.
const OBJECTS_SIZED_AHEAD_AT_MOST: u64 = 4 << 20;

/// How many objects to size the write's tables for when the input is
/// `bytes` long. Sized once, the tables of the ids written do not grow
/// (a growth rehashes every entry while the whole pipeline waits: 0.2 s
/// at 917,504 ids on a 1M import). An overestimate costs little memory,
/// as unused buckets are mostly never written: a 100 MB file of 2,000
/// large notes (sized for 392,000 objects) peaked 9.6 MB higher.
pub fn objects_expected_in(bytes: u64) -> usize {
    (bytes / BYTES_PER_OBJECT_FOR_SIZING).min(OBJECTS_SIZED_AHEAD_AT_MOST) as usize
}

/// Lowers the calling thread's priority by [`FEEDER_NICE_STEPS`] (Linux
/// keeps a nice value per thread): call it first in a thread that prepares
/// work for a write transaction and is faster than the writer (parsing,
/// a federation pull's checks). A failure only leaves it as it was.
pub fn yield_to_the_writer() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Ok(nice) = rustix::process::getpriority_process(Some(tid)) {
            let lowered = (nice + FEEDER_NICE_STEPS).min(19);
            if let Err(e) = rustix::process::setpriority_process(Some(tid), lowered) {
                tracing::debug!(error = %e, "cannot lower a feeding thread's priority");
            }
        }
    }
}

/// Whether a write may keep other users of the store out while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// Readers and other processes use the store meanwhile (servers, and
    /// every write by default).
    Shared,
    /// The caller expects to have the store to itself: the write is
    /// started with [`Store::begin_exclusive`].
    Exclusive,
}

/// What the input holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// Bundles, JSON arrays of objects and JSON lines ([`split_objects`]).
    Stix,
    /// One TAXII envelope, the body of a TAXII POST ([`split_envelope`]).
    TaxiiEnvelope,
}

/// One object of the input as it is handed to the ingest, in input order.
#[derive(Clone, Copy, Debug)]
pub struct SeenObject<'a> {
    /// Where it is in the input (`$.objects[3]`, `line 7`).
    pub path: &'a str,
    /// Its id: the computed one for an SCO given without one; as given for
    /// an invalid object.
    pub id: Option<&'a str>,
    /// `id` as given in the input.
    pub given_id: Option<&'a str>,
    /// `type` as given.
    pub object_type: Option<&'a str>,
    /// `modified`, else `created`, as given.
    pub version: Option<&'a str>,
}

/// Why a whole input was refused; nothing of it was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fatal {
    /// Not JSON, or JSON of the wrong shape.
    pub kind: StreamErrorKind,
    /// What was wrong, and where.
    pub message: String,
}

/// What writing one input did.
#[derive(Debug)]
pub struct StreamOutcome {
    /// What the ingest did, when the input was read to its end and
    /// committed.
    pub report: Option<IngestReport>,
    /// Why the whole input was refused and rolled back, when it was.
    pub fatal: Option<Fatal>,
}

/// An item parsed on the parsing thread.
enum Parsed {
    Object(String, ParsedObject),
    Invalid {
        path: String,
        errors: ObjectErrors,
        given: Given,
    },
    TooLarge(String, u64),
}

/// What an invalid object said it was.
#[derive(Default)]
struct Given {
    id: Option<String>,
    object_type: Option<String>,
    version: Option<String>,
}

impl Given {
    fn read(bytes: &[u8]) -> Given {
        // Read as written; an object refused for naming a member twice
        // is read again by serde_json (the last one kept), only so that
        // the refusal can name its id.
        let read = phalanx_model::strict::parse_value(bytes).or_else(|_| serde_json::from_slice::<Value>(bytes));
        let Ok(Value::Object(map)) = read else {
            return Given::default();
        };
        let field = |name: &str| map.get(name).and_then(Value::as_str).map(str::to_owned);
        Given {
            id: field("id"),
            object_type: field("type"),
            version: field("modified").or_else(|| field("created")),
        }
    }
}

/// Writes every object of `reader` through `ingest` in one transaction of
/// `store`, parsing on a second thread; `seen`, when given, is called for
/// each object (valid or not) just before it is written. Commits when the input was
/// read to its end; rolls back and reports [`Fatal`] when it is not JSON.
/// `input_bytes`, the input's length when it is known, sizes the write's
/// tables ahead ([`objects_expected_in`]); `sharing` says how the
/// transaction is begun.
#[allow(clippy::too_many_arguments)]
pub fn write_stream(
    store: &dyn Store,
    mut ingest: Ingest<'_>,
    limits: Limits,
    reader: Box<dyn BufRead + Send>,
    container: Container,
    input_bytes: Option<u64>,
    sharing: Sharing,
    mut seen: Option<&mut dyn FnMut(SeenObject<'_>)>,
) -> Result<StreamOutcome, StoreError> {
    let (tx, rx) = mpsc::sync_channel::<Vec<Parsed>>(BATCHES_IN_FLIGHT);
    // Written objects go back to the parsing thread to be freed there.
    let (spent_tx, spent_rx) = mpsc::channel::<Vec<StixObject>>();
    ingest.keep_spent();
    let parser = std::thread::Builder::new()
        .name("phalanx-parse".into())
        .spawn(move || {
            yield_to_the_writer();
            parse_input(reader, limits, container, &tx, &spent_rx)
        })
        .map_err(|e| StoreError::Database(format!("cannot start the parsing thread: {e}")))?;

    let mut txn = match sharing {
        Sharing::Shared => store.begin()?,
        Sharing::Exclusive => store.begin_exclusive()?,
    };
    if let Some(bytes) = input_bytes {
        let objects = objects_expected_in(bytes);
        ingest.reserve(objects);
        txn.reserve(objects);
    }
    let mut fatal: Option<Fatal> = None;
    let mut failed: Option<StoreError> = None;
    for batch in rx.iter() {
        if fatal.is_some() || failed.is_some() {
            continue; // drain, so that the parser finishes
        }
        for parsed in batch {
            let written = match parsed {
                Parsed::Object(path, p) => {
                    if let Some(seen) = seen.as_deref_mut() {
                        let version = ["modified", "created"]
                            .iter()
                            .find_map(|k| p.object.map().get(*k).and_then(Value::as_str));
                        let id = p.object.id().as_str();
                        seen(SeenObject {
                            path: &path,
                            id: Some(id),
                            given_id: if p.id_computed { None } else { Some(id) },
                            object_type: Some(p.object.object_type()),
                            version,
                        });
                    }
                    ingest.object(txn.as_mut(), &path, p)
                }
                Parsed::Invalid {
                    path,
                    errors,
                    given,
                } => {
                    if errors.first().is_some_and(|e| e.rule == "json-syntax") {
                        fatal = Some(Fatal {
                            kind: StreamErrorKind::Syntax,
                            message: errors.to_string(),
                        });
                        break;
                    }
                    if let Some(seen) = seen.as_deref_mut() {
                        seen(SeenObject {
                            path: &path,
                            id: given.id.as_deref(),
                        given_id: given.id.as_deref(),
                        object_type: given.object_type.as_deref(),
                            version: given.version.as_deref(),
                        });
                    }
                    ingest.refuse_invalid(&path, &errors);
                    Ok(())
                }
                Parsed::TooLarge(path, size) => {
                    if let Some(seen) = seen.as_deref_mut() {
                        seen(SeenObject { path: &path, id: None, given_id: None, object_type: None, version: None });
                    }
                    ingest.refuse(
                        &path,
                        format!(
                            "object is {size} bytes, larger than the limit of {} bytes",
                            limits.max_object_bytes
                        ),
                    );
                    Ok(())
                }
            };
            if let Err(e) = written {
                failed = Some(e);
                break;
            }
        }
        let _ = spent_tx.send(ingest.take_spent()); // a parser that is gone drops nothing more
    }
    let split = parser
        .join()
        .map_err(|_| StoreError::Database("the parsing thread panicked".into()))?;
    if let Some(e) = failed {
        return Err(e); // the transaction rolls back when dropped
    }
    if let Err(e) = split {
        let message = match e.kind {
            StreamErrorKind::Syntax => format!("invalid json: {e}"),
            StreamErrorKind::Container => e.to_string(),
        };
        fatal.get_or_insert(Fatal {
            kind: e.kind,
            message,
        });
    }
    if let Some(fatal) = fatal {
        drop(txn); // rolls back: nothing from this input is stored
        return Ok(StreamOutcome {
            report: None,
            fatal: Some(fatal),
        });
    }
    let report = ingest.finish(txn.as_mut())?;
    txn.commit()?;
    Ok(StreamOutcome {
        report: Some(report),
        fatal: None,
    })
}

/// The parsing thread: splits the input and parses each object, handing
/// them on in batches.
fn parse_input(
    reader: Box<dyn BufRead + Send>,
    limits: Limits,
    container: Container,
    tx: &mpsc::SyncSender<Vec<Parsed>>,
    spent: &mpsc::Receiver<Vec<StixObject>>,
) -> Result<u64, StreamError> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut on_item = |item: Item| {
        if batch.is_empty() {
            while let Ok(objects) = spent.try_recv() {
                drop(objects);
            }
        }
        let parsed = match item {
            Item::Object { path, bytes, .. } => {
                match StixObject::from_compact_json_or_bytes(bytes, &path) {
                    Ok(p) => Parsed::Object(path, p),
                    Err((mut errors, bytes)) => {
                        let given = Given::read(&bytes);
                        // A text refused before its members were checked
                        // (one named twice) still names its id.
                        for e in &mut errors.0 {
                            if e.object_id.is_none() {
                                e.object_id.clone_from(&given.id);
                            }
                        }
                        Parsed::Invalid { path, errors, given }
                    }
                }
            }
            Item::TooLarge { path, size } => Parsed::TooLarge(path, size),
        };
        batch.push(parsed);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            let _ = tx.send(full); // the writer stopped: it drains or is gone
        }
    };
    let result = match container {
        Container::Stix => split_objects(reader, &limits, &mut on_item),
        Container::TaxiiEnvelope => split_envelope(reader, &limits, &mut on_item),
    };
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    result
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn an_input_is_taken_to_hold_an_object_per_256_bytes_up_to_a_cap() {
        assert_eq!(objects_expected_in(0), 0);
        // The benchmark's 1M-object corpus (469 bytes an object).
        assert_eq!(objects_expected_in(469_269_163), 1_833_082);
        assert_eq!(objects_expected_in(u64::MAX), 4 << 20);
    }

    #[test]
    fn a_feeding_thread_yields_to_the_writer_and_only_it() {
        let nice = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("own priority");
        let before = nice();
        let (lowered, after) = std::thread::spawn(move || {
            let start = nice();
            yield_to_the_writer();
            (nice() - start, start)
        })
        .join()
        .expect("thread");
        assert_eq!(after, before, "a new thread starts at the process's priority");
        assert_eq!(lowered, FEEDER_NICE_STEPS.min(19 - before), "lowered by the steps, within nice's range");
        assert_eq!(nice(), before, "the calling thread keeps its priority");
    }
}
