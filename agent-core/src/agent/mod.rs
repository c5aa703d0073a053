//! The agent: a model, prompts, optional memory and a [`Strategy`] working on one task at a
//! time in an [`Environment`]. What it hands back ([`Solved`]) is graded by the run, never by
//! the agent: agent-core has no path to hidden tests (the `environments` crate's `grading`
//! feature, which holds them, is not one of its dependencies' features).
//!
//! - [`config`]: what the agent does and how ([`AgentConfig`]).
//! - [`work`]: one task in progress as a strategy sees it ([`Work`]): budget, books, memory.
//! - [`actor`]: how one attempt is made, per kind of environment (code, episodes).
//! - [`result`]: candidates, the strategy's choices, and grading them into a [`TaskResult`].
//! - [`prompts`], [`code`], [`events`]: templates, code out of replies, what a task emits.
//!
//! The strategies themselves live in [`crate::strategy`].

pub mod actor;
pub mod code;
pub mod config;
pub mod episode;
pub mod events;
pub mod prompts;
pub mod result;
pub mod work;

pub use actor::{Attempt, Guidance, Proposal, Shown};
pub use config::{
    AgentConfig, BestOfNConfig, ConfigError, EpisodeConfig, InternalTests, LatsConfig,
    LearningConfig, MctsConfig, TaskBudget, VoyagerConfig,
};
pub use events::{Event, EventSink, MemoryEvents};
pub use prompts::Prompts;
pub use result::{grade, Candidate, Solved, TaskResult};
pub use work::{Ask, Learned, Work, WorkState};

use crate::llm::{ChatModel, ErrorClass, LlmError};
use crate::strategy::{self, Strategy};
use environments::{Environment, Task};
use memory::MemoryBank;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a task could not be worked on at all.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The model layer failed (a budget, a permanent error, retries exhausted).
    #[error(transparent)]
    Model(#[from] LlmError),
    /// Memory failed.
    #[error(transparent)]
    Memory(#[from] memory::MemoryError),
    /// The environment failed.
    #[error(transparent)]
    Env(#[from] environments::EnvError),
    /// A template failed.
    #[error(transparent)]
    Prompt(#[from] prompts::PromptError),
    /// A setting cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No strategy has this name.
    #[error(transparent)]
    UnknownStrategy(#[from] strategy::UnknownStrategy),
    /// A strategy asked for a model call beyond the task's budget (a bug in the strategy).
    #[error("task {task}: a model call beyond the task's budget ({calls} calls made)")]
    BudgetSpent {
        /// Task.
        task: String,
        /// Calls made.
        calls: u32,
    },
    /// Replaying a path of actions from the start gave another observation than the one the
    /// search recorded: the environment is not deterministic, so its tree cannot be trusted.
    #[error("task {task}: replaying action {step} ({action:?}) gave another observation than recorded (the environment is not deterministic; give it snapshot/restore).\nrecorded: {expected}\nnow:      {got}")]
    Diverged {
        /// Task.
        task: String,
        /// The 1-based step that diverged (0: the observation after reset).
        step: usize,
        /// The action replayed at that step.
        action: String,
        /// The observation recorded (cut).
        expected: String,
        /// The observation now (cut).
        got: String,
    },
    /// The strategy cannot work on this kind of task.
    #[error("strategy {strategy} cannot work on task {task}: {reason}")]
    Unsuited {
        /// The strategy.
        strategy: String,
        /// Task.
        task: String,
        /// Why.
        reason: String,
    },
    /// A task's checkpoint could not be written or read.
    #[error("checkpoint {}: {problem}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// Whether `error` ends only the task it happened in.
fn ends_task(error: &AgentError) -> bool {
    match error {
        AgentError::Model(e) => e.class() == ErrorClass::ContextLength,
        AgentError::Env(e) => e.is_task_fault(),
        AgentError::Diverged { .. } => true,
        _ => false,
    }
}

/// An agent: a model, prompts, optional memory, a configuration and a strategy.
pub struct Agent {
    model: Arc<dyn ChatModel>,
    prompts: Prompts,
    memory: Option<MemoryBank>,
    config: AgentConfig,
    run_id: String,
    strategy: Arc<dyn Strategy>,
}

impl Agent {
    /// An agent for run `run_id` (which scopes same-task reflections to this run), with the
    /// strategy `config.strategy` names. A setting that cannot work or an unknown strategy is
    /// an error naming it.
    pub fn new(
        model: Arc<dyn ChatModel>,
        prompts: Prompts,
        memory: Option<MemoryBank>,
        config: AgentConfig,
        run_id: impl Into<String>,
    ) -> Result<Self, AgentError> {
        config.validate()?;
        let strategy = strategy::by_name(&config.strategy)?;
        Ok(Self {
            model,
            prompts,
            memory,
            config,
            run_id: run_id.into(),
            strategy,
        })
    }

    /// Uses `strategy` instead of the one the configuration names (your own, say).
    pub fn with_strategy(mut self, strategy: Arc<dyn Strategy>) -> Self {
        self.config.strategy = strategy.name().to_string();
        self.strategy = strategy;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    fn run_tag(&self) -> String {
        format!("run:{}", self.run_id)
    }

    /// Works on `task` in `env` with the strategy and returns its candidates and choices, to
    /// be graded by the caller ([`grade`]). With a `checkpoint` file, a strategy that saves
    /// its state resumes from it.
    ///
    /// Two failures end the task early (in [`Solved::error`]) and let the run go on: a prompt
    /// too long for the context window, and the environment's own fault on this task (it
    /// crashed, hung or sent a malformed line). Everything else (a budget running out, a server
    /// that cannot be reached, retries exhausted, bad credentials) is returned as an error: the
    /// run stops and the task is redone on resume.
    pub async fn solve(
        &self,
        task: &Task,
        env: &mut dyn Environment,
        events: &dyn EventSink,
        checkpoint: Option<PathBuf>,
    ) -> Result<Solved, AgentError> {
        let mut work = Work::new(self, task, env, events, checkpoint);
        work.load_setup();
        let outcome = match work.begin().await {
            Ok(()) => self.strategy.solve(&mut work).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                work.learn_from_submission().await?;
                Ok(work.finish(None))
            }
            Err(e) if ends_task(&e) => {
                events.emit(Event::TaskError {
                    task_id: task.id.clone(),
                    message: e.to_string(),
                });
                Ok(work.finish(Some(e.to_string())))
            }
            Err(e) => Err(e),
        }
    }
}
