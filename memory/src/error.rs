//! Errors of the memory crate.

use std::path::PathBuf;

/// What can go wrong storing, finding or embedding memories.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The embedding model failed or could not be set up.
    #[error("embedding: {0}")]
    Embed(String),
    /// The store directory holds something that is not a readable store.
    #[error("memory store at {path} is unreadable: {message}. It was left untouched; move it aside to start a new store")]
    Corrupt {
        /// The directory.
        path: PathBuf,
        /// What the engine reported.
        message: String,
    },
    /// The store directory is gone when it was expected to exist.
    #[error("memory store {path} does not exist yet (the first run that stores a memory creates it, as does `mneme memory import`)")]
    Missing {
        /// The directory.
        path: PathBuf,
    },
    /// The storage engine (embedded or server) failed.
    #[error("{backend} store: {message}")]
    Store {
        /// `edge` or `qdrant`.
        backend: &'static str,
        /// The engine's message.
        message: String,
    },
    /// A stored payload is not a record mneme understands.
    #[error("record {id}: {message}")]
    BadRecord {
        /// Point id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// Input (an import file, a vector) is invalid.
    #[error("{0}")]
    Invalid(String),
    /// File-system work failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, MemoryError>;
