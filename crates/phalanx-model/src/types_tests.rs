//! Unit tests of the type-specific rules (`types.rs`).
