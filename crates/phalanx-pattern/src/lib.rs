//! Parser for the STIX 2.1 patterning language (STIX 2.1 §9, OASIS grammar `STIXPattern.g4`).
//!
//! [`parse`] turns pattern text into a typed tree ([`Pattern`]) or a [`PatternError`] that
//! names the byte offset, line and column of the problem:
//!
//! ```
//! use phalanx_pattern::{parse, Literal, Operator, PathStep};
//!
//! let p = parse("[file:hashes.'SHA-256' = 'aec0' OR file:size > 1024] WITHIN 60 SECONDS")?;
//! let first = p.comparisons().next().unwrap();
//! assert_eq!(first.path.object_type, "file");
//! assert_eq!(first.path.steps[1], PathStep::Property("SHA-256".into()));
//! assert_eq!(first.op, Operator::Eq);
//! assert_eq!(first.value, Some(Literal::String("aec0".into())));
//! assert_eq!(
//!     p.to_string(),
//!     "[file:hashes.'SHA-256' = 'aec0' OR file:size > 1024] WITHIN 60 SECONDS"
//! );
//!
//! let err = parse("[file:name = 'x'").unwrap_err();
//! assert_eq!(err.message, "expected 'AND', 'OR' or ']' at 1:17, found end of input");
//! assert_eq!((err.position, err.line, err.column), (16, 1, 17));
//! # Ok::<(), phalanx_pattern::PatternError>(())
//! ```
//!
//! The parser is hand-written (recursive descent), never panics, and refuses nesting deeper
//! than [`MAX_DEPTH`]. It accepts what the grammar accepts, with these additions that match the
//! OASIS validator (stix2-patterns 2.1.2): a `[ ... ]` observation has at most one qualifier of
//! each kind, and list indexes are non-negative. Integers must fit an `i64` (a `u64` for list
//! indexes and `REPEATS`). [`parse_strict`] also checks hash values, as that validator does.

#![deny(missing_docs)]

mod ast;
mod display;
mod error;
mod hashes;
mod lexer;
mod parser;

pub use ast::{
    Comparison, ComparisonExpr, Comparisons, Literal, ObjectPath, ObservationExpr, Operator,
    PathStep, Pattern, Qualifier,
};
pub use error::PatternError;
pub use parser::MAX_DEPTH;

/// Parses a STIX 2.1 pattern.
///
/// Checks syntax (including timestamp, hex and base64 literal forms) and the one-qualifier-of-
/// each-kind rule; it does not check that properties exist on their object types or that values
/// suit them.
pub fn parse(input: &str) -> Result<Pattern, PatternError> {
    parser::Parser::new(input, false).parse_pattern()
}

/// Parses like [`parse`], and also refuses a comparison on a path through `hashes` that ends in a
/// known hash algorithm (`MD5`, `SHA-1`, `SHA-256`, `SSDEEP`, ... in any case, with or without
/// `-`) when the value is not a hash of that algorithm, e.g. `[file:hashes.MD5 = 'abc']`.
///
/// This is the verdict of the OASIS validator `stix2patterns.validator.run_validator`; see
/// `interop/patterns/DIFFERENCES.md` for the few places where it differs.
pub fn parse_strict(input: &str) -> Result<Pattern, PatternError> {
    parser::Parser::new(input, true).parse_pattern()
}

impl std::str::FromStr for Pattern {
    type Err = PatternError;

    /// Same as [`parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}
