//! Running untrusted Python safely and fast.
//!
//! A [`Sandbox`] keeps a pool of workers. Each worker is one bubblewrap sandbox
//! running a small Python fork server (`forkserver.py`) as an unprivileged uid:
//!
//! - namespaces: user (no further user namespaces), PID, network (no
//!   interfaces but a down loopback), IPC, UTS, cgroup; a new session;
//! - file system: `/usr` read-only (with the `/bin`, `/lib`, `/lib64` links),
//!   fresh `/proc` and `/dev`, a size-capped tmpfs at `/tmp`; nothing else of the
//!   host (no `/root`, no `/home`, no `/etc`, no project or data directory);
//! - environment: cleared; the host process is started with an empty environment
//!   too, so no key exists anywhere in the sandbox;
//! - limits: processes per worker (`RLIMIT_NPROC` on a uid of its own), and per
//!   job CPU time, address space, file size, no core dumps, a wall-clock deadline
//!   and a cap on each output stream.
//!
//! Every job is forked from the warm interpreter into a fresh directory; when it
//! ends, every other process in the worker's PID namespace is killed, so
//! daemons that detached with `setsid` or a double fork die with the job.
//!
//! Where bubblewrap is missing the sandbox refuses to start unless the user
//! opted into [`Isolation::UnsafeNone`], which says what it gives up.

mod confine;
mod pool;
mod verdict;

pub use confine::confine;
pub use pool::Sandbox;
pub use verdict::{Outcome, Verdict};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The fork server's source, run with `python3 -I -c`.
pub(crate) const FORK_SERVER: &str = include_str!("forkserver.py");

/// How jobs are isolated from the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// bubblewrap namespaces plus resource limits (the default, and the only safe choice).
    #[default]
    Bubblewrap,
    /// No namespaces: the job sees the host's files and network. Resource limits
    /// still apply, and as root the job runs as an unprivileged uid. Detached
    /// processes may outlive a job. Only for machines without bubblewrap, by explicit choice.
    UnsafeNone,
}

/// Limits and set-up of a [`Sandbox`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Wall-clock limit of one job, seconds.
    pub timeout_secs: f64,
    /// CPU-time limit of one job, seconds.
    pub cpu_secs: u64,
    /// Address-space limit of one job, MiB.
    pub memory_mb: u64,
    /// Processes a worker may hold at once (the fork server and the job's processes).
    pub max_processes: u32,
    /// Bytes kept of each of stdout and stderr; more ends the job with `output_limit`.
    pub max_output_bytes: usize,
    /// Largest file a job may write, MiB.
    pub file_size_mb: u64,
    /// Size of the sandbox's private `/tmp`, MiB.
    pub tmpfs_mb: u64,
    /// Warm workers (jobs that run at once).
    pub workers: usize,
    /// The interpreter, which must live under `/usr` in bubblewrap mode.
    pub python: PathBuf,
    /// The bubblewrap binary.
    pub bwrap: PathBuf,
    /// Isolation mechanism.
    pub isolation: Isolation,
    /// First of the unprivileged uids the workers run as (one per worker) when started as root.
    pub uid_base: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 10.0,
            cpu_secs: 10,
            memory_mb: 1024,
            max_processes: 32,
            max_output_bytes: 1 << 20,
            file_size_mb: 16,
            tmpfs_mb: 64,
            workers: 2,
            python: PathBuf::from("/usr/bin/python3"),
            bwrap: PathBuf::from("bwrap"),
            isolation: Isolation::Bubblewrap,
            uid_base: 100_000,
        }
    }
}

impl SandboxConfig {
    /// The wall-clock limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs.max(0.001))
    }
}

/// One program to run.
#[derive(Clone, Debug, Default)]
pub struct Job {
    /// Python source.
    pub code: String,
    /// Name shown in tracebacks.
    pub filename: String,
    /// Overrides the configured wall-clock limit.
    pub timeout: Option<Duration>,
    /// Overrides the configured memory limit (MiB).
    pub memory_mb: Option<u64>,
    /// What the job reads on stdin (an anonymous in-memory file); `None`: `/dev/null`.
    pub stdin: Option<String>,
    /// The host's own program, never model-written: each worker compiles it once and reuses
    /// the compiled code. Model-written code must leave this off (it is compiled inside its
    /// job, under the job's limits).
    pub trusted: bool,
}

impl Job {
    /// A job running `code` with the configured limits.
    pub fn python(code: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            filename: "main.py".into(),
            ..Self::default()
        }
    }
    /// Sets the wall-clock limit.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// Sets the memory limit.
    pub fn memory_mb(mut self, mb: u64) -> Self {
        self.memory_mb = Some(mb);
        self
    }
    /// Marks the code as the host's own (see [`Job::trusted`]).
    pub fn trusted(mut self) -> Self {
        self.trusted = true;
        self
    }
    /// Sets what the job reads on stdin.
    pub fn stdin(mut self, input: impl Into<String>) -> Self {
        self.stdin = Some(input.into());
        self
    }
}

/// Why the sandbox could not run anything at all.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The isolation mechanism is missing and unsafe mode was not chosen.
    #[error(
        "cannot sandbox model-written code: {0}. Install the Debian package `bubblewrap`, or set \
         sandbox.isolation = \"unsafe_none\" to run it WITHOUT isolation (it will see your files and network)"
    )]
    Unavailable(String),
    /// The configuration cannot work.
    #[error("sandbox configuration: {0}")]
    Config(String),
}
