//! The coding environment: write a function, check it in the sandbox.
//!
//! `test` runs the *internal* tests (docstring examples and the agent's own
//! asserts) and shows the result. `submit` runs the *hidden* tests once, ends
//! the episode and reports only the verdict: a hidden test's traceback would
//! reveal its inputs, so it never reaches the agent.

mod check;
mod examples;

pub use check::{Check, CheckJob, CheckReport};
pub use examples::{extract as extract_examples, Example};

use check::Tests;

use crate::{Action, EnvError, Environment, Observation, Snapshot, Step, Task, TaskKind};
use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;
use tools::sandbox::{Sandbox, Verdict};

/// The hidden tests of a task: source defining `check(candidate)`.
///
/// Deliberately opaque: no `Display`, a redacting `Debug`, and readable only by
/// this crate, which uses it to score a submitted attempt and nothing else.
#[derive(Clone)]
pub struct HiddenTests(String);

impl HiddenTests {
    /// Wraps test source.
    pub fn new(source: impl Into<String>) -> Self {
        Self(source.into())
    }
    pub(crate) fn source(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for HiddenTests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HiddenTests(<{} bytes, hidden>)", self.0.len())
    }
}

/// A function-writing task (HumanEval's shape).
#[derive(Clone, Debug)]
pub struct CodeTask {
    /// The function to define.
    pub entry_point: String,
    /// The scoring tests.
    pub hidden: HiddenTests,
    /// A reference solution (a body completing the prompt), where the data set has one.
    pub canonical_solution: Option<String>,
    /// Docstring examples: the internal tests every agent may use.
    pub examples: Vec<Example>,
}

/// The check of `candidate` (a complete solution) against the hidden tests.
pub fn hidden_check_job(task: &Task, code: &CodeTask, candidate: &str) -> CheckJob {
    CheckJob::new(
        &task.prompt,
        &code.entry_point,
        candidate,
        Tests::Hidden(code.hidden.source()),
    )
}

/// The check that runs the internal tests: `examples` (docstring examples) plus `asserts`.
pub fn internal_check_job(
    task: &Task,
    code: &CodeTask,
    candidate: &str,
    examples: &[Example],
    asserts: &[String],
) -> CheckJob {
    let examples = examples
        .iter()
        .map(|e| [e.expr.as_str(), e.expected.as_str()])
        .collect();
    CheckJob::new(
        &task.prompt,
        &code.entry_point,
        candidate,
        Tests::Internal { examples, asserts },
    )
}

/// Scores `candidate` on the hidden tests (for a finished attempt only).
pub async fn score_submission(
    sandbox: &Sandbox,
    task: &Task,
    candidate: &str,
) -> Result<Check, EnvError> {
    let check = hidden_check_job(task, code_task(task)?, candidate);
    Ok(check.judge(sandbox.run(&check.job).await))
}

fn code_task(task: &Task) -> Result<&CodeTask, EnvError> {
    match &task.kind {
        TaskKind::Code(c) => Ok(c),
        TaskKind::Custom(_) => Err(EnvError::Usage(format!("{} is not a coding task", task.id))),
    }
}

/// The coding environment over a shared [`Sandbox`].
pub struct CodingEnv {
    sandbox: Arc<Sandbox>,
    task: Option<Task>,
    /// Asserts the agent wrote, run by `test` with the docstring examples.
    asserts: Vec<String>,
    /// Whether `test` runs the docstring examples.
    use_examples: bool,
    submitted: bool,
}

impl CodingEnv {
    /// An environment running checks in `sandbox`.
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        Self {
            sandbox,
            task: None,
            asserts: Vec::new(),
            use_examples: true,
            submitted: false,
        }
    }

    /// Adds the agent's own test asserts (e.g. model-written) to the internal tests.
    pub fn set_internal_asserts(&mut self, asserts: Vec<String>) {
        self.asserts = asserts;
    }

    /// Whether `test` runs the docstring examples (default: yes).
    pub fn set_use_examples(&mut self, use_examples: bool) {
        self.use_examples = use_examples;
    }

    fn current(&self) -> Result<(&Task, &CodeTask), EnvError> {
        let task = self
            .task
            .as_ref()
            .ok_or_else(|| EnvError::Usage("step before reset".into()))?;
        Ok((task, code_task(task)?))
    }
}

/// Feedback text from an internal-test check.
fn internal_feedback(check: &Check, timeout_hint: f64) -> String {
    let reason = check.reason.as_deref().unwrap_or("");
    match (&check.report, check.verdict) {
        (Some(r), _) if !r.loaded => format!("the solution failed before its tests ran:\n{reason}"),
        (Some(r), Verdict::Passed | Verdict::Failed) => {
            let mut lines = vec![format!("{}/{} internal tests passed", r.passed, r.tests)];
            if r.skipped > 0 {
                lines.push(format!(
                    "({} docstring example(s) could not be read as Python and were skipped)",
                    r.skipped
                ));
            }
            lines.extend(r.failures.iter().map(|f| format!("FAILED: {f}")));
            lines.join("\n")
        }
        (_, Verdict::Timeout) => {
            format!("the tests did not finish within {timeout_hint} s (an infinite loop?)")
        }
        (_, Verdict::Memory) => "the solution ran out of memory".into(),
        (_, Verdict::OutputLimit) => "the solution printed too much output".into(),
        (_, Verdict::Killed) => format!("the solution crashed: {reason}"),
        (_, Verdict::SandboxError) => format!("the sandbox failed: {reason}"),
        (None, _) => format!("the tests did not run to their end: {reason}"),
    }
}

#[async_trait]
impl Environment for CodingEnv {
    async fn reset(&mut self, task: &Task) -> Result<Observation, EnvError> {
        code_task(task)?;
        self.task = Some(task.clone());
        self.asserts.clear();
        self.submitted = false;
        Ok(Observation::text(task.prompt.clone()))
    }

    async fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        if self.submitted {
            return Err(EnvError::Usage(
                "the episode is over: the attempt was submitted".into(),
            ));
        }
        let (task, code) = self.current()?;
        match action.kind.as_str() {
            "test" => {
                let examples: &[Example] = if self.use_examples {
                    &code.examples
                } else {
                    &[]
                };
                let check =
                    internal_check_job(task, code, &action.content, examples, &self.asserts);
                let check = check.judge(self.sandbox.run(&check.job).await);
                let (passed, total) = check
                    .report
                    .as_ref()
                    .map(|r| (r.passed, r.tests))
                    .unwrap_or((0, examples.len() + self.asserts.len()));
                let reward = if total == 0 {
                    0.0
                } else {
                    passed as f64 / total as f64
                };
                let text = internal_feedback(&check, self.sandbox.config().timeout_secs);
                Ok(Step {
                    observation: Observation::text(text),
                    reward,
                    done: false,
                    info: json!({"verdict": check.verdict, "internal_tests": total, "passed": passed}),
                })
            }
            "submit" => {
                let task = task.clone();
                let check = score_submission(&self.sandbox, &task, &action.content).await?;
                self.submitted = true;
                Ok(Step {
                    observation: Observation::text("submitted"),
                    reward: if check.passed() { 1.0 } else { 0.0 },
                    done: true,
                    // The verdict only: the hidden tests' output stays out of reach.
                    info: json!({"verdict": check.verdict, "duration_ms": check.outcome.duration_ms}),
                })
            }
            other => Err(EnvError::Usage(format!(
                "unknown action kind {other:?}; use \"test\" or \"submit\""
            ))),
        }
    }

    async fn snapshot(&mut self) -> Result<Snapshot, EnvError> {
        let (task, _) = self.current()?;
        Ok(Snapshot(
            json!({"task": task.id, "asserts": self.asserts, "submitted": self.submitted}),
        ))
    }

    async fn restore(&mut self, snapshot: &Snapshot) -> Result<(), EnvError> {
        let (task, _) = self.current()?;
        if snapshot.0["task"] != json!(task.id) {
            return Err(EnvError::Usage(format!(
                "snapshot is of task {}, not {}",
                snapshot.0["task"], task.id
            )));
        }
        self.asserts = serde_json::from_value(snapshot.0["asserts"].clone()).unwrap_or_default();
        self.submitted = snapshot.0["submitted"].as_bool().unwrap_or(false);
        Ok(())
    }

    fn name(&self) -> &str {
        "coding"
    }
}
