//! # tools
//!
//! What agents act with. Today: [`sandbox`], which runs model-written Python
//! in bubblewrap (user, PID, network and IPC namespaces; only `/usr` visible,
//! read-only; a private `/tmp`) with CPU, memory, file-size, process and output
//! limits, through a pool of warm fork servers so a check costs milliseconds.

pub mod sandbox;

pub use sandbox::{Job, Outcome, Sandbox, SandboxConfig, SandboxError, Verdict};
