//! One check of a candidate in the sandbox, and what its end means.
//!
//! The check program (`check.py`) loads the candidate in a process of its own and runs the
//! tests in another, against a proxy that receives only plain data. Task data reaches it on
//! stdin as data, never by editing its source. It says how the tests went on one line that
//! starts with a per-job random token, read by the program only after every test has run:
//! a candidate that exits, kills or prints its way out cannot produce that line, and a check
//! without it never passes.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tools::sandbox::{Job, Outcome, Verdict};

const CHECK_PROGRAM: &str = include_str!("check.py");

/// What the check program reports on its token line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// `hidden` or `internal`.
    pub mode: String,
    /// How the tests went: `passed`, `failed`, or how the candidate's process ended
    /// (`timeout`, `memory`, `killed`).
    pub verdict: Verdict,
    /// Whether the candidate loaded (defined its entry point without error).
    pub loaded: bool,
    /// Tests judged (internal: examples and asserts; hidden: the one `check`).
    pub tests: usize,
    /// Tests that passed.
    pub passed: usize,
    /// Docstring examples that could not be read as Python.
    pub skipped: usize,
    /// Calls made to the candidate.
    pub calls: usize,
    /// One line per failed test or misbehaviour of the candidate.
    pub failures: Vec<String>,
    /// The first reason it did not pass.
    pub reason: Option<String>,
}

/// A finished check: the verdict that counts and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Passed only when the check program ran every test to its end and said so.
    pub verdict: Verdict,
    /// Why it did not pass (`None` when it did).
    pub reason: Option<String>,
    /// The check program's report, when it reached its end.
    pub report: Option<CheckReport>,
    /// The sandbox's outcome of the whole job (stdout without the report line).
    pub outcome: Outcome,
}

impl Check {
    /// Whether the candidate passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }
}

/// A check ready to run: the job and the token its report must carry.
#[derive(Debug)]
pub struct CheckJob {
    /// The sandbox job (the check program, the task data on stdin).
    pub job: Job,
    token: String,
}

/// Which tests a check runs.
pub(crate) enum Tests<'a> {
    /// `check(candidate)` from the hidden test source.
    #[cfg_attr(not(feature = "grading"), allow(dead_code))]
    Hidden(&'a str),
    /// Docstring examples (`[expression, expected]`) and asserts.
    Internal {
        examples: Vec<[&'a str; 2]>,
        asserts: &'a [String],
    },
}

/// A length-prefixed frame, as `check.py` reads them.
fn frame(value: serde_json::Value) -> String {
    let body = value.to_string();
    format!("{}\n{body}", body.len())
}

fn new_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("mneme-check-{hex}")
}

impl CheckJob {
    /// A check of `candidate` (a complete solution defining `entry`) on `tests`.
    pub(crate) fn new(prompt: &str, entry: &str, candidate: &str, tests: Tests<'_>) -> Self {
        let token = new_token();
        let tests = match tests {
            Tests::Hidden(source) => json!({"mode": "hidden", "hidden": source}),
            Tests::Internal { examples, asserts } => {
                json!({"mode": "internal", "examples": examples, "asserts": asserts})
            }
        };
        let stdin = [
            frame(json!({"prompt": prompt, "candidate": candidate, "entry": entry})),
            frame(tests),
            frame(json!({ "token": token })),
        ]
        .concat();
        // The check program is mneme's own: compiled once per worker, not once per check.
        let mut job = Job::python(CHECK_PROGRAM).stdin(stdin).trusted();
        job.filename = "check.py".into();
        Self { job, token }
    }

    /// Reads the job's outcome: passed only with a report line carrying this job's token,
    /// from a job that exited normally, whose report says every test passed.
    pub fn judge(&self, mut outcome: Outcome) -> Check {
        let report = self.take_report(&mut outcome);
        let (verdict, reason) = match (&report, outcome.verdict) {
            (Some(r), Verdict::Passed) => (r.verdict, r.reason.clone()),
            (_, Verdict::Passed) => (
                Verdict::Failed,
                Some("the check did not reach its end, so not every test ran".into()),
            ),
            (_, verdict) => (verdict, Some(job_failure(&outcome))),
        };
        let reason = reason.filter(|_| verdict != Verdict::Passed);
        Check {
            verdict,
            reason,
            report,
            outcome,
        }
    }

    /// Finds the last line starting with the token, parses it and cuts it from stdout.
    fn take_report(&self, outcome: &mut Outcome) -> Option<CheckReport> {
        let marker = format!("\n{} ", self.token);
        let at = outcome.stdout.rfind(&marker)?;
        let line = outcome.stdout[at + marker.len()..].lines().next()?;
        let report = serde_json::from_str(line).ok()?;
        outcome.stdout.truncate(at);
        Some(report)
    }
}

/// Why a job that did not exit normally failed, in a line.
fn job_failure(outcome: &Outcome) -> String {
    match outcome.verdict {
        Verdict::Timeout => "the check ran past its time limit".into(),
        Verdict::Memory => "the check ran out of memory".into(),
        Verdict::OutputLimit => "the solution printed more output than allowed".into(),
        Verdict::Killed => format!(
            "the check process was killed ({})",
            match outcome.signal {
                Some(signal) => format!("signal {signal}"),
                None => outcome.error_line().to_string(),
            }
        ),
        Verdict::SandboxError => format!("the sandbox failed: {}", outcome.error_line()),
        Verdict::Failed | Verdict::Passed => {
            format!("the check program failed: {}", outcome.error_line())
        }
    }
}
