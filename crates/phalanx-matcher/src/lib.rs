//! `phalanx-matcher`: IOC matching of telemetry against STIX 2.1 indicators
//! and observables, and a STIX pattern evaluator for `observed-data`.
//!
//! - [`normalize`]: normal forms (domains, URLs, hashes, addresses).
//! - [`index`]: [`Compiler`] turns indicators and SCOs into a [`Matcher`]
//!   (hash maps of typed keys, CIDR maps per prefix length, scanned regular
//!   expressions), dropping revoked and expired indicators.
//! - [`allowlist`]: MISP warninglists that suppress matches.
//! - [`telemetry`]: Zeek / EVE / JSON-lines / plain-text decoding to typed fields.
//! - [`stream`]: the multi-threaded run over inputs, [`LiveMatcher`]
//!   (atomic swap on recompile), and the in-order [`stream::Sequencer`]
//!   for patterns over several events.
//! - [`eval`]: the pattern evaluator with `stix2-matcher` semantics.
//! - [`sighting`]: matches to per-indicator sighting summaries and STIX `sighting` objects.
//! - [`sensor`]: indicators as Suricata rules, Zeek Intel entries and CSV rows.
//! - [`alert`]: collective-threat alerts from sightings in several countries.
//!
//! The crate does no network I/O and holds no global state.

pub mod alert;
pub mod allowlist;
pub mod eval;
pub mod index;
/// The compiler's object reader; public for the `matcher_lite` fuzz target only.
#[doc(hidden)]
pub mod lite;
pub mod load;
pub mod normalize;
pub mod sensor;
pub mod sighting;
pub mod stream;
pub mod telemetry;

pub use allowlist::AllowList;
pub use index::{CompileOptions, CompileStats, Compiler, Matcher, RuleId};
pub use stream::{Input, LiveMatcher, MatchRecord, RunOptions, RunStats};
pub use telemetry::{Format, Kind};

/// The first line of a matcher snapshot file (`phalanx export --format
/// matcher-snapshot`): the rest are STIX objects, one per line.
pub const SNAPSHOT_HEADER: &str = "{\"type\":\"x-phalanx-matcher-snapshot\",\"version\":1}";
