//! The coding environment: write a function, check it in the sandbox.
//!
//! `test` runs the *internal* tests (docstring examples and the agent's own
//! asserts) and shows the result. `submit` runs the *hidden* tests once, ends
//! the episode and reports only the verdict: a hidden test's traceback would
//! reveal its inputs, so it never reaches the agent.

mod examples;

pub use examples::{extract as extract_examples, Example};

use crate::{Action, EnvError, Environment, Observation, Snapshot, Step, Task, TaskKind};
use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;
use tools::sandbox::{Job, Outcome, Sandbox, Verdict};

const CHECK_PROGRAM: &str = include_str!("check.py");

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

/// The program that checks `candidate` (a complete solution) against the hidden tests.
pub fn hidden_check_program(task: &Task, code: &CodeTask, candidate: &str) -> String {
    program(
        &task.prompt,
        &code.entry_point,
        candidate,
        "hidden",
        code.hidden.source(),
        &[],
        &[],
    )
}

/// The program that runs the internal tests: `examples` (docstring examples) plus `asserts`.
pub fn internal_check_program(
    task: &Task,
    code: &CodeTask,
    candidate: &str,
    examples: &[Example],
    asserts: &[String],
) -> String {
    program(
        &task.prompt,
        &code.entry_point,
        candidate,
        "internal",
        "",
        examples,
        asserts,
    )
}

fn program(
    prompt: &str,
    entry: &str,
    candidate: &str,
    mode: &str,
    hidden: &str,
    examples: &[Example],
    asserts: &[String],
) -> String {
    let lit = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let pairs: Vec<[&str; 2]> = examples
        .iter()
        .map(|e| [e.expr.as_str(), e.expected.as_str()])
        .collect();
    CHECK_PROGRAM
        .replace("__PROMPT__", &lit(prompt))
        .replace("__CANDIDATE__", &lit(candidate))
        .replace("__ENTRY__", &lit(entry))
        .replace("__MODE__", &lit(mode))
        .replace("__HIDDEN__", &lit(hidden))
        .replace(
            "__EXAMPLES__",
            &serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into()),
        )
        .replace(
            "__ASSERTS__",
            &serde_json::to_string(asserts).unwrap_or_else(|_| "[]".into()),
        )
}

/// Scores `candidate` on the hidden tests (for a finished attempt only).
pub async fn score_submission(
    sandbox: &Sandbox,
    task: &Task,
    candidate: &str,
) -> Result<Outcome, EnvError> {
    let code = code_task(task)?;
    let mut job = Job::python(hidden_check_program(task, code, candidate));
    job.filename = "check.py".into();
    Ok(sandbox.run(&job).await)
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

/// Feedback text from an internal-test outcome.
fn internal_feedback(outcome: &Outcome, timeout_hint: f64) -> String {
    match outcome.verdict {
        Verdict::Passed | Verdict::Failed if outcome.stdout.contains("internal tests passed") => {
            let mut text = outcome.stdout.trim().to_string();
            if outcome.verdict == Verdict::Failed && !outcome.stderr.trim().is_empty() {
                text.push('\n');
                text.push_str(outcome.stderr.trim());
            }
            text
        }
        Verdict::Failed => format!(
            "the solution failed before its tests ran:\n{}",
            outcome.stderr.trim()
        ),
        Verdict::Timeout => {
            format!("the tests did not finish within {timeout_hint} s (an infinite loop?)")
        }
        Verdict::Memory => "the solution ran out of memory".into(),
        Verdict::OutputLimit => "the solution printed too much output".into(),
        Verdict::Killed => format!(
            "the solution crashed (signal {})",
            outcome.signal.unwrap_or(0)
        ),
        Verdict::SandboxError => format!("the sandbox failed: {}", outcome.stderr.trim()),
        Verdict::Passed => outcome.stdout.trim().to_string(),
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
                let program =
                    internal_check_program(task, code, &action.content, examples, &self.asserts);
                let mut job = Job::python(program);
                job.filename = "internal_tests.py".into();
                let outcome = self.sandbox.run(&job).await;
                // The first line reads "PASSED/TOTAL internal tests passed".
                let (passed, total) = outcome
                    .stdout
                    .lines()
                    .next()
                    .and_then(|l| l.split_whitespace().next())
                    .and_then(|frac| frac.split_once('/'))
                    .and_then(|(p, t)| Some((p.parse::<usize>().ok()?, t.parse::<usize>().ok()?)))
                    .unwrap_or((0, examples.len() + self.asserts.len()));
                let reward = if total == 0 {
                    0.0
                } else {
                    passed as f64 / total as f64
                };
                let text = internal_feedback(&outcome, self.sandbox.config().timeout_secs);
                Ok(Step {
                    observation: Observation::text(text),
                    reward,
                    done: false,
                    info: json!({"verdict": outcome.verdict, "internal_tests": total, "passed": passed}),
                })
            }
            "submit" => {
                let task = task.clone();
                let outcome = score_submission(&self.sandbox, &task, &action.content).await?;
                self.submitted = true;
                let passed = outcome.verdict == Verdict::Passed;
                Ok(Step {
                    observation: Observation::text("submitted"),
                    reward: if passed { 1.0 } else { 0.0 },
                    done: true,
                    // The verdict only: the hidden tests' output stays out of reach.
                    info: json!({"verdict": outcome.verdict, "duration_ms": outcome.duration_ms}),
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
