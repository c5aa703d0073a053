//! What a job's end means.

use serde::{Deserialize, Serialize};

/// The verdict on one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Exited with status 0.
    Passed,
    /// Exited with another status (an assertion, an exception: see stderr).
    Failed,
    /// Ran past its wall-clock or CPU-time limit.
    Timeout,
    /// Ran out of its memory limit.
    Memory,
    /// Ended by a signal (a segfault, an abort, a kill).
    Killed,
    /// Wrote more than the output cap.
    OutputLimit,
    /// The sandbox itself failed; the job's own behaviour is unknown.
    SandboxError,
}

impl Verdict {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Timeout => "timeout",
            Verdict::Memory => "memory",
            Verdict::Killed => "killed",
            Verdict::OutputLimit => "output_limit",
            Verdict::SandboxError => "sandbox_error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything known about a finished job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// Terminating signal, when one ended it.
    pub signal: Option<i32>,
    /// Captured stdout (capped, with a marker when cut).
    pub stdout: String,
    /// Captured stderr (capped, with a marker when cut).
    pub stderr: String,
    /// Wall time of the job inside the sandbox.
    pub duration_ms: f64,
}

impl Outcome {
    /// An outcome for a failure of the sandbox itself.
    pub fn sandbox_error(message: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::SandboxError,
            exit_code: None,
            signal: None,
            stdout: String::new(),
            stderr: message.into(),
            duration_ms: 0.0,
        }
    }

    /// The last non-empty line of stderr (an exception's message, usually).
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
    }
}

/// The fork server's reply.
#[derive(Debug, Deserialize)]
pub(crate) struct Reply {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub stdout_truncated: bool,
    #[serde(default)]
    pub stderr_truncated: bool,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub duration_ms: f64,
}

const SIGXCPU: i32 = 24;

/// Marker appended to a stream that was cut at the cap.
pub(crate) fn truncation_marker(cap: usize) -> String {
    format!("\n[mneme sandbox: output truncated at {cap} bytes]")
}

impl Reply {
    /// Classifies the reply.
    pub(crate) fn into_outcome(mut self, cap: usize) -> Outcome {
        let memory_error = self
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.starts_with("MemoryError"));
        let verdict = if self.stdout_truncated || self.stderr_truncated {
            Verdict::OutputLimit
        } else if self.timed_out || self.signal == Some(SIGXCPU) {
            Verdict::Timeout
        } else if memory_error && self.exit_code != Some(0) {
            Verdict::Memory
        } else if self.signal.is_some() {
            Verdict::Killed
        } else if self.exit_code == Some(0) {
            Verdict::Passed
        } else {
            Verdict::Failed
        };
        if self.stdout_truncated {
            self.stdout.push_str(&truncation_marker(cap));
        }
        if self.stderr_truncated {
            self.stderr.push_str(&truncation_marker(cap));
        }
        Outcome {
            verdict,
            exit_code: self.exit_code,
            signal: self.signal,
            stdout: self.stdout,
            stderr: self.stderr,
            duration_ms: self.duration_ms,
        }
    }
}
