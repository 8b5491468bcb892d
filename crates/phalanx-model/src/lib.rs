//! STIX 2.1 objects for Phalanx: parsing, validation, identifiers,
//! timestamps and serialisation.
//!
//! An object is kept as the JSON it came in ([`StixObject`]): properties
//! keep their order, and custom properties and extensions survive a round
//! trip unchanged. Validation reads that JSON and reports every problem
//! with the object id, the JSON path and the rule broken
//! ([`ObjectError`]). [`stream`] splits large inputs (bundles, arrays,
//! JSON lines) into objects without holding the whole input in memory.
//!
//! Architecture invariant: this crate does no I/O of its own. It reads only
//! from the `BufRead` it is handed, opens no files and no sockets.

pub mod check;
pub mod error;
pub mod id;
pub mod jcs;
pub mod kinds;
pub mod object;
pub mod sco;
pub mod stream;
pub mod strict;
pub mod timestamp;
mod types;
mod vocab;

pub use error::{ObjectError, ObjectErrors};
pub use id::StixId;
pub use kinds::Family;
pub use object::{ParsedObject, StixObject};
pub use timestamp::Timestamp;

/// Checks a STIX pattern as the OASIS validator does (syntax, and hash
/// literals that fit their algorithm), giving the parsed pattern.
fn pattern_check(pattern: &str) -> Result<phalanx_pattern::Pattern, String> {
    phalanx_pattern::parse_strict(pattern).map_err(|e| e.to_string())
}
