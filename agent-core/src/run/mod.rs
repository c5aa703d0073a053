//! Runs: a directory that holds everything about one run, written so that a
//! killed run can be resumed with nothing lost and nothing done twice.
//!
//! ```text
//! RUN_DIR/
//!   run.json        what was asked: suite, tasks, agent configuration, model (written once)
//!   config.toml     the effective mneme configuration (no keys: they never are configuration)
//!   events.jsonl    append-only: every model call, action, evaluation, reflection, memory write
//!   results.jsonl   one line per finished task, appended and synced when the task ends
//!   summary.json    pass@1 after each attempt and each call, tokens, cost, wall time (atomic)
//!   tasks/ID.json   a strategy's checkpoint of a task in progress (lats: its tree), atomic
//! ```
//!
//! One loop for every strategy and environment: for each task, a fresh environment from the
//! [`Runner`]'s factory, the agent's strategy ([`Agent::solve`]), then, after the strategy has
//! returned, the [`Grader`] scores its candidates ([`crate::agent::grade`]).
//!
//! On resume, finished tasks (those in `results.jsonl`) are skipped; an unfinished
//! task resumes from its checkpoint where its strategy keeps one, else it is redone. With the response cache at temperature 0 the
//! redone task gets the same answers, its reflections have the same deterministic
//! ids (so memory gains nothing twice), and the summary equals an uninterrupted run's.
//! A line cut off by a crash at the end of a JSONL file is dropped with a warning.

mod log;
mod shard;
mod summary;

pub use log::{EventLog, LoggedEvent};
pub use shard::Shard;
pub use summary::Summary;

use crate::agent::{grade, Agent, AgentConfig, AgentError, TaskResult};
use crate::llm::LlmError;
use environments::{EnvError, Environment, Grader, Task};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What a run was asked to do (`run.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Unique id (also scopes this run's reflections in memory).
    pub run_id: String,
    /// Suite name or task file.
    pub suite: String,
    /// The tasks, in order.
    pub task_ids: Vec<String>,
    /// The agent's configuration.
    pub agent: AgentConfig,
    /// The model name.
    pub model: String,
    /// Tasks worked on at once.
    pub concurrency: usize,
    /// Unix seconds of creation.
    pub created_at: i64,
    /// The part of the run's tasks this directory holds, when the run is split between
    /// processes (`task_ids` are then this shard's tasks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// The command of a custom environment speaking JSON lines (`mneme run --env`), if the
    /// tasks are played in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_command: Option<Vec<String>>,
}

/// Makes a fresh environment for a task.
pub type EnvFactory = Arc<dyn Fn(&Task) -> Result<Box<dyn Environment>, EnvError> + Send + Sync>;

/// What runs a run's tasks: the agent (with its strategy), where its environments come from,
/// and the grader that scores what it submits once it has returned.
#[derive(Clone)]
pub struct Runner {
    /// The agent.
    pub agent: Arc<Agent>,
    /// A fresh environment per task.
    pub envs: EnvFactory,
    /// Scores finished candidates (hidden tests, a replay): never seen by the agent.
    pub grader: Arc<dyn Grader>,
}

impl Runner {
    /// Works on one task and grades the outcome. `checkpoint` is the task's checkpoint file.
    pub async fn run_task(
        &self,
        task: &Task,
        events: &dyn crate::agent::EventSink,
        checkpoint: Option<PathBuf>,
    ) -> Result<TaskResult, AgentError> {
        let mut env = (self.envs)(task)?;
        let solved = self
            .agent
            .solve(task, env.as_mut(), events, checkpoint)
            .await;
        if let Err(e) = env.close().await {
            tracing::warn!(task = %task.id, "closing the environment: {e}");
        }
        let solved = solved?;
        let budget = self.agent.config().budget.calls;
        Ok(grade(task, &solved, self.grader.as_ref(), budget, events).await?)
    }
}

/// Errors of run bookkeeping.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A file of the run could not be read or written.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file of the run is not what it should be.
    #[error("{path}: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The agent failed in a way that stops the run.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The run names tasks its suite no longer has.
    #[error(
        "the run's suite no longer has {} of its tasks: {}; restore the suite (the same file or \
         data version) to resume this run",
        .0.len(),
        .0.join(", ")
    )]
    MissingTasks(Vec<String>),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let context = context.into();
    move |source| RunError::Io { context, source }
}

/// Why a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every task finished.
    Complete,
    /// A budget ran out; `mneme resume` continues after raising it.
    StoppedBudget,
    /// Stopped by the user (Ctrl-C); `mneme resume` continues.
    Interrupted,
    /// Still running, or killed.
    InProgress,
}

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

/// The checkpoint file of task `task_id` in the run directory `run`: `tasks/ID.json`, with the
/// id as [`task_file_stem`] makes it.
pub fn checkpoint_file(run: &Path, task_id: &str) -> PathBuf {
    run.join("tasks")
        .join(format!("{}.json", task_file_stem(task_id)))
}

/// A task id made safe as a file name (`HumanEval/12` → `HumanEval_12`).
pub fn task_file_stem(task_id: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    task_id
        .chars()
        .map(|c| if safe(c) { c } else { '_' })
        .collect()
}

/// Reads a JSONL file, dropping a final line cut off by a crash; any other bad line is an error.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, RunError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(v) => out.push(v),
            Err(_) if i + 1 == lines.len() && !complete => {
                tracing::warn!(file = %path.display(), "dropping a last line cut off by a crash");
            }
            Err(e) => {
                return Err(RunError::Corrupt {
                    path: path.to_path_buf(),
                    problem: format!("line {}: {e}", i + 1),
                })
            }
        }
    }
    Ok(out)
}

/// Rewrites `path` so that it ends with a newline after its last complete line.
fn repair_tail(path: &Path) -> Result<(), RunError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    if text.is_empty() || text.ends_with('\n') {
        return Ok(());
    }
    let keep = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(format!("opening {}", path.display())))?;
    file.set_len(keep as u64)
        .map_err(io(format!("truncating {}", path.display())))?;
    file.sync_all().map_err(io("syncing"))?;
    Ok(())
}

impl RunDir {
    /// Creates a new run directory (it must not hold a run already).
    pub fn create(path: &Path, spec: &RunSpec, config_toml: &str) -> Result<Self, RunError> {
        if path.join("run.json").exists() {
            return Err(RunError::Corrupt {
                path: path.to_path_buf(),
                problem: "already holds a run; use `mneme resume` to continue it".into(),
            });
        }
        std::fs::create_dir_all(path).map_err(io(format!("creating {}", path.display())))?;
        let dir = Self {
            path: path.to_path_buf(),
        };
        dir.write_atomic("config.toml", config_toml.as_bytes())?;
        let json = serde_json::to_vec_pretty(spec).map_err(|e| RunError::Corrupt {
            path: path.join("run.json"),
            problem: e.to_string(),
        })?;
        dir.write_atomic("run.json", &json)?;
        Ok(dir)
    }

    /// Opens an existing run directory.
    pub fn open(path: &Path) -> Result<(Self, RunSpec), RunError> {
        let file = path.join("run.json");
        let bytes = std::fs::read(&file).map_err(io(format!(
            "reading {} (is this a run directory?)",
            file.display()
        )))?;
        let spec = serde_json::from_slice(&bytes).map_err(|e| RunError::Corrupt {
            path: file,
            problem: e.to_string(),
        })?;
        Ok((
            Self {
                path: path.to_path_buf(),
            },
            spec,
        ))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration the run was started with.
    pub fn config_toml(&self) -> Result<String, RunError> {
        let p = self.path.join("config.toml");
        std::fs::read_to_string(&p).map_err(io(format!("reading {}", p.display())))
    }

    /// Results of finished tasks.
    pub fn results(&self) -> Result<Vec<TaskResult>, RunError> {
        read_jsonl(&self.path.join("results.jsonl"))
    }

    /// The summary last written, if any.
    pub fn summary(&self) -> Option<Summary> {
        serde_json::from_slice(&std::fs::read(self.path.join("summary.json")).ok()?).ok()
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), RunError> {
        tools::fsio::write_atomic(&self.path.join(name), bytes)
            .map_err(io(format!("writing {name}")))
    }

    fn append_result(&self, result: &TaskResult) -> Result<(), RunError> {
        let path = self.path.join("results.jsonl");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(format!("opening {}", path.display())))?;
        let mut line = serde_json::to_vec(result).map_err(|e| RunError::Corrupt {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        line.push(b'\n');
        file.write_all(&line).map_err(io("appending a result"))?;
        file.sync_all().map_err(io("syncing results"))?;
        Ok(())
    }

    /// The checkpoint file of task `task_id` (`tasks/ID.json`, the id made safe as a name).
    pub fn checkpoint_path(&self, task_id: &str) -> PathBuf {
        let name: String = task_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.path.join("tasks").join(format!("{name}.json"))
    }

    /// Writes `summary.json`.
    pub fn write_summary(&self, summary: &Summary) -> Result<(), RunError> {
        let json = serde_json::to_vec_pretty(summary).map_err(|e| RunError::Corrupt {
            path: self.path.join("summary.json"),
            problem: e.to_string(),
        })?;
        self.write_atomic("summary.json", &json)
    }
}

/// Executes the unfinished tasks of a run and returns its summary.
///
/// `tasks` must hold every task of `spec.task_ids`. `stop` is checked before each
/// task starts (Ctrl-C sets it): tasks in flight finish, no new one starts.
/// `on_result` sees every newly finished task (a progress bar, say).
pub async fn execute(
    dir: &RunDir,
    spec: &RunSpec,
    runner: Runner,
    tasks: Vec<Task>,
    stop: Arc<AtomicBool>,
    mut on_result: impl FnMut(&TaskResult, &[TaskResult]),
) -> Result<Summary, RunError> {
    repair_tail(&dir.path.join("results.jsonl"))?;
    repair_tail(&dir.path.join("events.jsonl"))?;
    let mut results = dir.results()?;
    let done: std::collections::HashSet<String> =
        results.iter().map(|r| r.task_id.clone()).collect();
    let session = log::next_session(&dir.path.join("events.jsonl"))?;
    let events = Arc::new(EventLog::open(&dir.path.join("events.jsonl"), session)?);
    let missing: Vec<String> = spec
        .task_ids
        .iter()
        .filter(|id| !tasks.iter().any(|t| &t.id == *id))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(RunError::MissingTasks(missing));
    }
    let pending: Vec<Task> = spec
        .task_ids
        .iter()
        .filter(|id| !done.contains(*id))
        .filter_map(|id| tasks.iter().find(|t| &t.id == id).cloned())
        .collect();
    std::fs::create_dir_all(dir.path.join("tasks")).map_err(io("creating tasks/"))?;
    let started = Instant::now();
    let budget_hit = Arc::new(AtomicBool::new(false));
    let mut stream = futures::stream::iter(pending)
        .map(|task| {
            let runner = runner.clone();
            let events = events.clone();
            let checkpoint = dir.checkpoint_path(&task.id);
            let stop = stop.clone();
            let budget_hit = budget_hit.clone();
            async move {
                if stop.load(Ordering::SeqCst) || budget_hit.load(Ordering::SeqCst) {
                    return None;
                }
                let span = tracing::info_span!("task", task = %task.id);
                let work = runner.run_task(&task, events.as_ref(), Some(checkpoint));
                let result = tracing::Instrument::instrument(work, span).await;
                if let Err(AgentError::Model(LlmError::BudgetExhausted(_))) = &result {
                    budget_hit.store(true, Ordering::SeqCst);
                }
                Some(result)
            }
        })
        .buffer_unordered(spec.concurrency.max(1));
    let mut fatal = None;
    while let Some(outcome) = stream.next().await {
        match outcome {
            None => {}
            Some(Ok(result)) => {
                events.sync();
                dir.append_result(&result)?;
                results.push(result);
                on_result(results.last().expect("just pushed"), &results);
            }
            Some(Err(AgentError::Model(LlmError::BudgetExhausted(why)))) => {
                tracing::warn!("budget exhausted: {why}");
            }
            Some(Err(e)) => {
                stop.store(true, Ordering::SeqCst);
                fatal.get_or_insert(e);
            }
        }
    }
    events.sync();
    let status = if budget_hit.load(Ordering::SeqCst) {
        RunStatus::StoppedBudget
    } else if results.len() == spec.task_ids.len() {
        RunStatus::Complete
    } else if fatal.is_some() {
        RunStatus::InProgress
    } else {
        RunStatus::Interrupted
    };
    let previous_wall = dir.summary().map(|s| s.wall_ms).unwrap_or(0);
    let summary = Summary::from_results(
        spec,
        &results,
        status,
        previous_wall + started.elapsed().as_millis() as u64,
    );
    dir.write_summary(&summary)?;
    match fatal {
        Some(e) => Err(e.into()),
        None => Ok(summary),
    }
}
