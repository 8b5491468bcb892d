//! Store errors.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(String),
    /// The data directory cannot be used.
    #[error("data directory {path}: {message}")]
    DataDir {
        /// The directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// An (id, version) is already stored with different content.
    #[error("{id} version {version} is already stored with different content")]
    Conflict {
        /// The object id.
        id: String,
        /// The version (`modified`), or `-` for unversioned objects.
        version: String,
    },
    /// Stored data could not be decoded.
    #[error("corrupt stored data in {what}: {message}")]
    Corrupt {
        /// Which record.
        what: String,
        /// What was wrong.
        message: String,
    },
    /// A query parameter is not usable.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}
