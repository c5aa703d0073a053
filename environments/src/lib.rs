//! # environments
//!
//! Where tasks come from and where actions are scored.
//!
//! - [`Environment`]: `reset(task) → observation`, `step(action) → {observation, reward, done, info}`,
//!   optional `snapshot`/`restore` for tree search.
//! - [`TaskSuite`]: lists and loads tasks.
//! - [`Grader`]: scores a finished attempt after the agent is done (hidden tests for code, a
//!   replay for episodes); the hidden-test grader exists only with the `grading` feature.
//! - [`code`]: the coding environment over the sandbox; HumanEval and MBPP suites.
//! - [`protocol`]: environments in any language, as a process speaking JSON lines.
//! - [`suites`]: loading HumanEval, MBPP and user task files.

pub mod code;
pub mod protocol;
pub mod suites;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use code::{CodeTask, CodingEnv, Example, HiddenTests};
pub use protocol::{ProtocolConfig, ProtocolEnv};
pub use suites::{load_suite, Suite};

/// One task: what the agent is asked, plus what its environment needs.
#[derive(Clone, Debug)]
pub struct Task {
    /// Unique within its suite, e.g. `HumanEval/38`.
    pub id: String,
    /// The suite it belongs to.
    pub suite: String,
    /// What the agent sees.
    pub prompt: String,
    /// Environment-specific contents.
    pub kind: TaskKind,
}

/// Environment-specific contents of a [`Task`].
#[derive(Clone, Debug)]
pub enum TaskKind {
    /// A function to write, checked by tests.
    Code(CodeTask),
    /// Anything else: the fields of a custom environment's task, sent with `reset`.
    Custom(serde_json::Value),
}

/// What the environment shows the agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Text for the model.
    pub text: String,
    /// Structured extras, if the environment has any.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Observation {
    /// A text-only observation.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            data: serde_json::Value::Null,
        }
    }
}

/// What the agent does. Coding environments know `test` and `add_tests`;
/// custom environments define their own kinds (default `act`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The kind of action.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Its content: code, a command, an answer.
    pub content: String,
    /// The task this action is for, where the agent has one (a program written for a
    /// curriculum task or a need). An environment may use it: Crafter lets a need's own program
    /// finish unless a critical need comes up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
}

fn default_kind() -> String {
    "act".into()
}

impl Action {
    /// A plain action of kind `act`.
    pub fn act(content: impl Into<String>) -> Self {
        Self {
            kind: default_kind(),
            content: content.into(),
            goal: None,
        }
    }
    /// Run the agent's own (internal) tests on `code`.
    pub fn test(code: impl Into<String>) -> Self {
        Self {
            kind: "test".into(),
            content: code.into(),
            goal: None,
        }
    }
    /// Add the agent's own test asserts (one per line) to the internal tests.
    pub fn add_tests(asserts: &[String]) -> Self {
        Self {
            kind: "add_tests".into(),
            content: asserts.join("\n"),
            goal: None,
        }
    }
}

/// The result of one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What the agent sees next.
    pub observation: Observation,
    /// Reward of this step.
    #[serde(default)]
    pub reward: f64,
    /// Whether the episode is over.
    #[serde(default)]
    pub done: bool,
    /// Diagnostics for the framework (never fed to the model by the built-in strategies).
    #[serde(default)]
    pub info: serde_json::Value,
}

/// An opaque saved state of an environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot(pub serde_json::Value);

/// Errors of environments and suites.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A task file or data set is malformed.
    #[error("{source_name}:{line}: {problem}")]
    BadTaskLine {
        /// File or suite.
        source_name: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// Data could not be obtained.
    #[error("{0}")]
    Data(String),
    /// `step` before `reset`, a task of the wrong kind, an unknown action.
    #[error("{0}")]
    Usage(String),
    /// The environment process wrote something that is not a valid reply.
    #[error("environment `{env}` sent a malformed line ({problem}): {line:?}")]
    Protocol {
        /// Environment name.
        env: String,
        /// The offending line (cut to 500 characters).
        line: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The environment process exited.
    #[error(
        "environment `{env}` exited ({status}) during `{op}`; its stderr ended with:\n{stderr}"
    )]
    Crashed {
        /// Environment name.
        env: String,
        /// The request being served.
        op: String,
        /// Exit status.
        status: String,
        /// Last lines of its stderr.
        stderr: String,
    },
    /// The environment process did not answer in time.
    #[error("environment `{env}` did not answer `{op}` within {secs} s")]
    Timeout {
        /// Environment name.
        env: String,
        /// The request.
        op: String,
        /// The limit.
        secs: f64,
    },
    /// The environment reported an error itself.
    #[error("environment `{env}` reported an error: {message}")]
    Reported {
        /// Environment name.
        env: String,
        /// Its message.
        message: String,
    },
    /// This environment cannot snapshot or restore.
    #[error("environment `{0}` does not support snapshot/restore")]
    Unsupported(String),
    /// Starting or talking to a process failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The sandbox cannot run code.
    #[error(transparent)]
    Sandbox(#[from] tools::SandboxError),
}

impl EnvError {
    /// Whether the error is the environment's own failure on this task (it crashed, hung, sent
    /// a malformed line or reported an error): the task ends with the error and the run goes on.
    /// Other errors (the sandbox, starting a process, a misuse) stop the run.
    pub fn is_task_fault(&self) -> bool {
        matches!(
            self,
            EnvError::Protocol { .. }
                | EnvError::Crashed { .. }
                | EnvError::Timeout { .. }
                | EnvError::Reported { .. }
        )
    }
}

/// An environment an agent acts in.
#[async_trait]
pub trait Environment: Send {
    /// Starts an episode of `task` and returns the first observation.
    async fn reset(&mut self, task: &Task) -> Result<Observation, EnvError>;
    /// Applies one action.
    async fn step(&mut self, action: &Action) -> Result<Step, EnvError>;
    /// Saves the current state, where supported.
    async fn snapshot(&mut self) -> Result<Snapshot, EnvError> {
        Err(EnvError::Unsupported(self.name().to_string()))
    }
    /// Returns to a saved state, where supported.
    async fn restore(&mut self, _snapshot: &Snapshot) -> Result<(), EnvError> {
        Err(EnvError::Unsupported(self.name().to_string()))
    }
    /// Ends the environment (stops a process, frees resources).
    async fn close(&mut self) -> Result<(), EnvError> {
        Ok(())
    }
    /// A short name for errors and logs.
    fn name(&self) -> &str;
}

/// The score of a finished attempt, decided outside the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    /// Whether it passed.
    pub passed: bool,
    /// The verdict (`passed`, `failed`, `timeout`, …).
    pub verdict: String,
    /// Why it did not pass, as the grader says (never shown to the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Scores finished attempts after the agent has returned: the hidden tests of a coding task
/// ([`code::HiddenTestGrader`], with the `grading` feature), a replay of an episode's actions in
/// a fresh environment ([`protocol::ReplayGrader`]). Strategies never hold one.
#[async_trait]
pub trait Grader: Send + Sync {
    /// The grade of `candidate` (code, or an episode's actions as JSON) for `task`.
    async fn grade(&self, task: &Task, candidate: &str) -> Result<Grade, EnvError>;
}

/// For runs that are measured, not graded: an exploration session's outcome is what its
/// environment reported along the way (achievements), so every candidate is `ungraded`.
pub struct Ungraded {
    /// Why, for the results.
    pub reason: String,
}

#[async_trait]
impl Grader for Ungraded {
    async fn grade(&self, _task: &Task, _candidate: &str) -> Result<Grade, EnvError> {
        Ok(Grade {
            passed: false,
            verdict: "ungraded".into(),
            reason: Some(self.reason.clone()),
        })
    }
}

/// A named collection of tasks.
pub trait TaskSuite {
    /// Its name (`humaneval`, `mbpp`, a file name).
    fn name(&self) -> &str;
    /// All tasks, in order.
    fn tasks(&self) -> &[Task];
    /// One task by id.
    fn get(&self, id: &str) -> Option<&Task> {
        self.tasks().iter().find(|t| t.id == id)
    }
}
