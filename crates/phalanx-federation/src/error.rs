//! Errors of the federation crate.

use phalanx_store::StoreError;

/// What went wrong in federation.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key file could not be read or written.
    #[error("key file {path}: {message}")]
    KeyFile {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// A value given by an operator is not acceptable; names the field.
    #[error("{field}: {message}")]
    Input {
        /// The field (flag) that is wrong.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// A signature or node authentication did not verify.
    #[error("authentication: {0}")]
    Authentication(String),
    /// Talking to a peer failed.
    #[error("peer {peer}: {message}")]
    Peer {
        /// The peer's name.
        peer: String,
        /// What failed.
        message: String,
    },
    /// No randomness for a new key.
    #[error("no randomness for a new key: {0}")]
    Randomness(String),
}

impl FederationError {
    /// An [`FederationError::Input`] error.
    pub fn input(field: &'static str, message: impl Into<String>) -> Self {
        FederationError::Input { field, message: message.into() }
    }
}
