//! # tools
//!
//! What agents act with. Today: [`sandbox`], which runs model-written Python
//! in bubblewrap (user, PID, network and IPC namespaces; only `/usr` visible,
//! read-only; a private `/tmp`) with CPU, memory, file-size, process and output
//! limits, through a pool of warm fork servers so a check costs milliseconds.
//! Also [`fsio`] (atomic, durable file writes) and [`pypi`] (fetching wheels).

pub mod fsio;
pub mod pypi;
pub mod sandbox;

pub use sandbox::{Job, Outcome, Sandbox, SandboxConfig, SandboxError, Verdict};

/// The default data directory: `$MNEME_DATA_DIR`, else `$HOME/.cache/mneme`.
///
/// Holds the model server's virtualenv, weights, data sets, caches and logs.
pub fn default_data_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("MNEME_DATA_DIR").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ".".into());
    home.join(".cache").join("mneme")
}
