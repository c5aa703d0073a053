//! The coding environment: write a function, check it in the sandbox.
//!
//! `test` runs the *internal* tests (docstring examples, unless `use_examples` says
//! `false`, and the agent's own asserts, added with `add_tests`) and shows the result. The environment has no
//! way to run the *hidden* tests: [`HiddenTestGrader`] (with the `grading`
//! feature, which the scoring program enables and agent-core does not) scores a
//! finished attempt after the agent has returned, and reports only the verdict.

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
    #[cfg(feature = "grading")]
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
#[cfg(feature = "grading")]
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
#[cfg(feature = "grading")]
pub async fn score_submission(
    sandbox: &Sandbox,
    task: &Task,
    candidate: &str,
) -> Result<Check, EnvError> {
    let check = hidden_check_job(task, code_task(task)?, candidate);
    Ok(check.judge(sandbox.run(&check.job).await))
}

/// Grades finished code attempts with the hidden tests, in the sandbox.
#[cfg(feature = "grading")]
pub struct HiddenTestGrader {
    sandbox: Arc<Sandbox>,
}

#[cfg(feature = "grading")]
impl HiddenTestGrader {
    /// A grader running its checks in `sandbox`.
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        Self { sandbox }
    }
}

#[cfg(feature = "grading")]
#[async_trait]
impl crate::Grader for HiddenTestGrader {
    async fn grade(&self, task: &Task, candidate: &str) -> Result<crate::Grade, EnvError> {
        let check = score_submission(&self.sandbox, task, candidate).await?;
        Ok(crate::Grade {
            passed: check.passed(),
            verdict: check.verdict.to_string(),
            reason: check.reason,
        })
    }
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
}

impl CodingEnv {
    /// An environment running checks in `sandbox`.
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        Self {
            sandbox,
            task: None,
            asserts: Vec::new(),
            use_examples: true,
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

    /// Runs `examples` and `asserts` on `candidate`: the reward is the fraction that passed.
    async fn run_tests(
        &self,
        task: &Task,
        code: &CodeTask,
        candidate: &str,
        examples: &[Example],
        asserts: &[String],
    ) -> Step {
        let check = internal_check_job(task, code, candidate, examples, asserts);
        let check = check.judge(self.sandbox.run(&check.job).await);
        let (passed, total) = check
            .report
            .as_ref()
            .map(|r| (r.passed, r.tests))
            .unwrap_or((0, examples.len() + asserts.len()));
        let reward = if total == 0 {
            0.0
        } else {
            passed as f64 / total as f64
        };
        let text = internal_feedback(&check, self.sandbox.config().timeout_secs);
        let loaded = check.report.as_ref().is_some_and(|r| r.loaded);
        Step {
            observation: Observation::text(text),
            reward,
            done: false,
            info: json!({"verdict": check.verdict, "internal_tests": total, "passed": passed, "loaded": loaded}),
        }
    }

    /// Adds asserts (one per line) to the internal tests.
    fn add_tests(&mut self, asserts: &str) -> Step {
        let added = asserts.lines().map(str::trim).filter(|l| !l.is_empty());
        let before = self.asserts.len();
        self.asserts.extend(added.map(str::to_string));
        Step {
            observation: Observation::text(format!(
                "{} internal test assert(s) added",
                self.asserts.len() - before
            )),
            reward: 0.0,
            done: false,
            info: json!({"asserts": self.asserts.len()}),
        }
    }

    fn current(&self) -> Result<(&Task, &CodeTask), EnvError> {
        let task = self
            .task
            .as_ref()
            .ok_or_else(|| EnvError::Usage("step before reset".into()))?;
        Ok((task, code_task(task)?))
    }
}

/// What `test_asserts` runs: a candidate and asserts of the agent's own (without the docstring
/// examples or the asserts added before), to tell which of them it passes.
#[derive(serde::Deserialize)]
struct AssertsRequest {
    code: String,
    asserts: Vec<String>,
}

/// The indices of `asserts` that the feedback names as failed; all of them when the candidate
/// did not get as far as its tests (it failed to load, crashed or hung).
fn failed_asserts(feedback: &str, asserts: &[String]) -> Vec<usize> {
    let judged = feedback.contains(" internal tests passed");
    (0..asserts.len())
        .filter(|&i| {
            let line = format!("FAILED: {}", asserts[i].trim());
            !judged || feedback.lines().any(|l| l.starts_with(&line))
        })
        .collect()
}

/// `text` with memory addresses (`0x7f2a125b0d30` in `<reversed object at 0x7f2a…>`) replaced
/// by `0x…`: they differ from run to run, and feedback that differs makes a retry's prompt
/// differ, so a rerun or a resume could not replay the same answers.
fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        let digits = rest[at + 2..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .count();
        out.push_str(&rest[..at + 2]);
        if digits >= 8 {
            out.push('…');
        } else {
            out.push_str(&rest[at + 2..at + 2 + digits]);
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// Feedback text from an internal-test check.
fn internal_feedback(check: &Check, timeout_hint: f64) -> String {
    without_addresses(&feedback_of(check, timeout_hint))
}

fn feedback_of(check: &Check, timeout_hint: f64) -> String {
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
        Ok(Observation::text(task.prompt.clone()))
    }

    async fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        if action.kind == "add_tests" {
            self.current()?;
            return Ok(self.add_tests(&action.content));
        }
        if action.kind == "use_examples" {
            self.current()?;
            self.use_examples = action.content.trim() != "false";
            let text = format!("docstring examples used: {}", self.use_examples);
            return Ok(Step {
                observation: Observation::text(text),
                reward: 0.0,
                done: false,
                info: json!({"use_examples": self.use_examples}),
            });
        }
        let (task, code) = self.current()?;
        match action.kind.as_str() {
            "test" => {
                let examples: &[Example] = if self.use_examples {
                    &code.examples
                } else {
                    &[]
                };
                Ok(self
                    .run_tests(task, code, &action.content, examples, &self.asserts)
                    .await)
            }
            "test_asserts" => {
                let request: AssertsRequest = serde_json::from_str(&action.content)
                    .map_err(|e| EnvError::Usage(format!("test_asserts wants {{\"code\", \"asserts\"}}: {e}")))?;
                let mut step = self
                    .run_tests(task, code, &request.code, &[], &request.asserts)
                    .await;
                step.info["failed"] = json!(failed_asserts(&step.observation.text, &request.asserts));
                Ok(step)
            }
            other => Err(EnvError::Usage(format!(
                "unknown action kind {other:?}; use \"test\", \"test_asserts\", \"add_tests\" or \"use_examples\""
            ))),
        }
    }

    async fn snapshot(&mut self) -> Result<Snapshot, EnvError> {
        let (task, _) = self.current()?;
        Ok(Snapshot(
            json!({"task": task.id, "asserts": self.asserts, "use_examples": self.use_examples}),
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
        self.use_examples = snapshot.0["use_examples"].as_bool().unwrap_or(true);
        Ok(())
    }

    fn name(&self) -> &str {
        "coding"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn failed_asserts_are_read_off_the_feedback_or_all_fail_without_a_run() {
        let asserts = vec![
            "assert f(1) == 2".to_string(),
            "assert f(2) == 3".to_string(),
        ];
        let judged = "1/2 internal tests passed\nFAILED: assert f(2) == 3 failed (left side was 4)";
        assert_eq!(super::failed_asserts(judged, &asserts), vec![1]);
        let crashed = "the solution failed before its tests ran:\nSyntaxError";
        assert_eq!(super::failed_asserts(crashed, &asserts), vec![0, 1]);
    }

    #[test]
    fn memory_addresses_are_masked_and_short_hex_is_kept() {
        assert_eq!(
            super::without_addresses("returned ['<reversed object at 0x7fa6c2b90ca0>'], 0x1f"),
            "returned ['<reversed object at 0x…>'], 0x1f"
        );
    }
}
