//! The strategies: `simple` (one attempt) and `reflexion` (up to N trials with
//! verbal reflections in memory), optionally with cross-task memory.
//!
//! Honest metrics: the agent's feedback comes only from the internal tests
//! (docstring examples and, if configured, asserts the model wrote). The hidden
//! tests score the submitted attempt; for the pass@1-by-trial curve they also
//! score, after each trial k, the attempt a k-trial run would have submitted.
//! Neither score ever reaches a prompt.

use super::code::{extract_asserts, extract_code};
use super::events::{Event, EventSink};
use super::prompts::{PromptError, Prompts};
use crate::llm::{ChatModel, ChatRequest, ErrorClass, LlmError, Message, UsageTotals};
use environments::code::{score_submission, Check};
use environments::{Action, CodingEnv, Environment, Task, TaskKind};
use memory::{Filter, MemoryBank, Record, Reflection, Stored};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use tools::sandbox::Sandbox;

/// Which strategy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    /// One attempt, submitted as it is.
    Simple,
    /// Up to `trials` attempts with reflections between them.
    #[default]
    Reflexion,
}

impl std::str::FromStr for StrategyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "simple" => Ok(Self::Simple),
            "reflexion" => Ok(Self::Reflexion),
            other => Err(format!("unknown strategy {other:?} (simple, reflexion)")),
        }
    }
}

/// Where internal tests come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InternalTests {
    /// The prompt's docstring examples.
    #[default]
    Docstring,
    /// Asserts the model writes from the prompt.
    Model,
    /// Both.
    Both,
}

/// What the agent does and how; every part that matters for the gain is here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// `simple` or `reflexion`.
    pub strategy: StrategyKind,
    /// Trials per task (reflexion).
    pub trials: u32,
    /// Also retrieve reflections from other, similar tasks.
    pub cross_task: bool,
    /// Where internal tests come from.
    pub internal_tests: InternalTests,
    /// How many asserts to ask the model for.
    pub model_tests: usize,
    /// Temperature of the first attempt.
    pub first_temperature: f32,
    /// Temperature of later attempts.
    pub retry_temperature: f32,
    /// Reflections of this task shown to the actor (the most recent ones).
    pub reflections_kept: usize,
    /// Reflections of other tasks shown with cross-task memory.
    pub cross_task_k: usize,
    /// The first trial that sees other tasks' reflections (1: every attempt; 2: only retries).
    pub cross_task_from_trial: u32,
    /// The least similarity (cosine, task prompt against reflection) another task's reflection
    /// needs to be shown.
    pub cross_task_min_score: f32,
    /// Show the previous attempt and its test results to the actor (the reflector always sees
    /// them). Off by default: Qwen2.5-Coder-0.5B shown its failed code wrote it again to the
    /// letter in 79 of 96 retries on HumanEval and fixed none; without it, 5 (docs/benchmarks.md).
    pub show_previous_attempt: bool,
    /// Keep only the prose of a reflection. A small model often pastes its failed code into
    /// the "lesson", and then copies that code again on the retry.
    pub reflection_prose_only: bool,
    /// Completion tokens of a reflection (it should be two or three sentences).
    pub reflection_max_tokens: u32,
    /// Completion tokens per call.
    pub max_tokens: u32,
    /// A directory of template overrides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts_dir: Option<std::path::PathBuf>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            strategy: StrategyKind::Reflexion,
            trials: 3,
            cross_task: false,
            internal_tests: InternalTests::Docstring,
            model_tests: 5,
            first_temperature: 0.0,
            retry_temperature: 0.0,
            reflections_kept: 3,
            cross_task_k: 2,
            cross_task_from_trial: 2,
            cross_task_min_score: 0.0,
            show_previous_attempt: false,
            reflection_prose_only: true,
            reflection_max_tokens: 192,
            max_tokens: 768,
            prompts_dir: None,
        }
    }
}

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
    Prompt(#[from] PromptError),
}

/// The outcome of one task: one line of `results.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// Task.
    pub task_id: String,
    /// The submitted attempt passed the hidden tests.
    pub passed: bool,
    /// For k = 1..=trials: would a k-trial run have passed?
    pub passed_by_trial: Vec<bool>,
    /// Trials actually made.
    pub trials_used: u32,
    /// Verdict of the hidden tests on the submission (or `no_code`, `error`).
    pub verdict: String,
    /// Why the submission did not pass, as the check said (never shown to the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The submitted code.
    pub submitted_code: Option<String>,
    /// Tokens and cost of this task.
    pub usage: UsageTotals,
    /// Wall time.
    pub wall_ms: u64,
    /// The error that ended the task early, if any.
    pub error: Option<String>,
}

/// An agent: a model, prompts, the sandbox, optional memory, and a configuration.
pub struct Agent {
    model: Arc<dyn ChatModel>,
    prompts: Prompts,
    sandbox: Arc<Sandbox>,
    memory: Option<MemoryBank>,
    config: AgentConfig,
    run_id: String,
}

/// One question to the model: why, what, how hot.
struct Ask<'a> {
    purpose: &'a str,
    messages: Vec<Message>,
    temperature: f32,
    /// Completion tokens; `None`: the configured `max_tokens`.
    max_tokens: Option<u32>,
}

impl<'a> Ask<'a> {
    fn new(purpose: &'a str, messages: Vec<Message>, temperature: f32) -> Self {
        Self {
            purpose,
            messages,
            temperature,
            max_tokens: None,
        }
    }

    fn max_tokens(self, max_tokens: u32) -> Self {
        Self {
            max_tokens: Some(max_tokens),
            ..self
        }
    }
}

/// One trial's attempt.
struct Attempt {
    code: Option<String>,
    feedback: String,
    internal_passed: bool,
}

impl Agent {
    /// An agent for run `run_id` (which scopes same-task reflections to this run).
    pub fn new(
        model: Arc<dyn ChatModel>,
        prompts: Prompts,
        sandbox: Arc<Sandbox>,
        memory: Option<MemoryBank>,
        config: AgentConfig,
        run_id: impl Into<String>,
    ) -> Self {
        Self {
            model,
            prompts,
            sandbox,
            memory,
            config,
            run_id: run_id.into(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    async fn call(
        &self,
        task: &Task,
        trial: u32,
        ask: Ask<'_>,
        usage: &mut UsageTotals,
        events: &dyn EventSink,
    ) -> Result<String, LlmError> {
        let Ask {
            purpose,
            messages,
            temperature,
            max_tokens,
        } = ask;
        let request = ChatRequest::new(messages)
            .temperature(temperature)
            .max_tokens(max_tokens.unwrap_or(self.config.max_tokens));
        super::events::ask(
            self.model.as_ref(),
            (&task.id, trial, purpose),
            request,
            usage,
            events,
        )
        .await
    }

    /// Works on `task` with the configured strategy and returns its result.
    ///
    /// Only the agent's own model failure, a prompt too long for the context window, ends
    /// the task as failed (with the error). Everything else (a budget running out, a server
    /// that cannot be reached, retries exhausted, bad credentials) is not the agent's doing:
    /// it is returned as an error, the run stops, and the task is redone on resume.
    pub async fn solve(
        &self,
        task: &Task,
        events: &dyn EventSink,
    ) -> Result<TaskResult, AgentError> {
        let started = Instant::now();
        let mut usage = UsageTotals::default();
        match self.solve_inner(task, events, &mut usage, started).await {
            Ok(r) => Ok(r),
            Err(AgentError::Model(e)) if e.class() == ErrorClass::ContextLength => {
                events.emit(Event::TaskError {
                    task_id: task.id.clone(),
                    message: e.to_string(),
                });
                Ok(TaskResult {
                    task_id: task.id.clone(),
                    passed: false,
                    passed_by_trial: vec![false; self.trials() as usize],
                    trials_used: 0,
                    verdict: "error".into(),
                    reason: None,
                    submitted_code: None,
                    usage,
                    wall_ms: started.elapsed().as_millis() as u64,
                    error: Some(e.to_string()),
                })
            }
            Err(e) => Err(e),
        }
    }

    fn trials(&self) -> u32 {
        match self.config.strategy {
            StrategyKind::Simple => 1,
            StrategyKind::Reflexion => self.config.trials.max(1),
        }
    }

    async fn solve_inner(
        &self,
        task: &Task,
        events: &dyn EventSink,
        usage: &mut UsageTotals,
        started: Instant,
    ) -> Result<TaskResult, AgentError> {
        let TaskKind::Code(code_task) = &task.kind else {
            return Err(
                environments::EnvError::Usage(format!("{} is not a coding task", task.id)).into(),
            );
        };
        let trials = self.trials();
        let mut env = CodingEnv::new(self.sandbox.clone());
        env.reset(task).await?;
        if matches!(
            self.config.internal_tests,
            InternalTests::Model | InternalTests::Both
        ) {
            let messages = vec![Message::user(self.prompts.render(
                "tests_user",
                json!({"entry_point": code_task.entry_point, "prompt": task.prompt, "count": self.config.model_tests}),
            )?)];
            let reply = self
                .call(task, 0, Ask::new("tests", messages, 0.0), usage, events)
                .await?;
            env.set_internal_asserts(extract_asserts(&reply, &code_task.entry_point));
        }
        env.set_use_examples(!matches!(self.config.internal_tests, InternalTests::Model));

        let mut passed_by_trial = Vec::with_capacity(trials as usize);
        let mut previous: Option<Attempt> = None;
        // The trial whose attempt is submitted, its code and the one hidden check of that code.
        let mut submitted: Option<(u32, String, Check)> = None;
        for trial in 1..=trials {
            let attempt = self
                .attempt(task, trial, previous.as_ref(), &mut env, usage, events)
                .await?;
            let last = trial == trials;
            let would_submit = attempt.internal_passed || last;
            // The attempt a `trial`-trial run would submit: this one. Scored once; a submitted
            // attempt's result is this same check.
            let hidden = match &attempt.code {
                Some(code) => Some(score_submission(&self.sandbox, task, code).await?),
                None => None,
            };
            let passed = hidden.as_ref().is_some_and(Check::passed);
            events.emit(Event::TrialScore {
                task_id: task.id.clone(),
                trial,
                passed,
            });
            passed_by_trial.push(passed);
            if would_submit {
                // An attempt without code is only ever the last one: nothing is submitted.
                submitted = attempt.code.clone().zip(hidden).map(|(c, h)| (trial, c, h));
                break;
            }
            self.reflect(task, trial, &attempt, usage, events).await?;
            previous = Some(attempt);
        }
        // Later trial counts would have submitted the same attempt.
        let final_pass = *passed_by_trial.last().unwrap_or(&false);
        passed_by_trial.resize(trials as usize, final_pass);

        let (trial, code, passed, verdict, reason) = match submitted {
            Some((trial, code, check)) => {
                events.emit(Event::Action {
                    task_id: task.id.clone(),
                    trial,
                    kind: "submit".into(),
                    code: code.clone(),
                });
                let verdict = check.verdict.to_string();
                (trial, Some(code), check.passed(), verdict, check.reason)
            }
            None => (trials, None, false, "no_code".to_string(), None),
        };
        events.emit(Event::Submission {
            task_id: task.id.clone(),
            trial,
            verdict: verdict.clone(),
            passed,
        });
        Ok(TaskResult {
            task_id: task.id.clone(),
            passed,
            passed_by_trial,
            trials_used: trial,
            verdict,
            reason,
            submitted_code: code,
            usage: *usage,
            wall_ms: started.elapsed().as_millis() as u64,
            error: None,
        })
    }

    /// One trial: retrieve, act (re-asking once for a missing code block), test.
    async fn attempt(
        &self,
        task: &Task,
        trial: u32,
        previous: Option<&Attempt>,
        env: &mut CodingEnv,
        usage: &mut UsageTotals,
        events: &dyn EventSink,
    ) -> Result<Attempt, AgentError> {
        let TaskKind::Code(code_task) = &task.kind else {
            unreachable!("checked by solve")
        };
        let (same_task, other_tasks) = self.retrieve(task, trial).await?;
        if !same_task.is_empty() || !other_tasks.is_empty() {
            events.emit(Event::Retrieval {
                task_id: task.id.clone(),
                trial,
                same_task: same_task.clone(),
                other_tasks: other_tasks.clone(),
            });
        }
        let reflections: Vec<String> = same_task.into_iter().chain(other_tasks).collect();
        let show = self.config.show_previous_attempt;
        let context = json!({
            "prompt": task.prompt,
            "entry_point": code_task.entry_point,
            "reflections": reflections,
            "previous_code": previous.filter(|_| show).and_then(|p| p.code.clone()),
            "feedback": previous.filter(|_| show).map(|p| p.feedback.clone()),
        });
        let mut messages = vec![
            Message::system(self.prompts.render("actor_system", &context)?),
            Message::user(self.prompts.render("actor_user", &context)?),
        ];
        let temperature = if trial == 1 {
            self.config.first_temperature
        } else {
            self.config.retry_temperature
        };
        let reply = self
            .call(
                task,
                trial,
                Ask::new("act", messages.clone(), temperature),
                usage,
                events,
            )
            .await?;
        let mut code = extract_code(&reply);
        if code.is_none() {
            messages.push(Message::assistant(reply));
            messages.push(Message::user(self.prompts.render("reask", &context)?));
            let again = self
                .call(
                    task,
                    trial,
                    Ask::new("reask", messages, temperature),
                    usage,
                    events,
                )
                .await?;
            code = extract_code(&again);
        }
        let Some(code) = code else {
            let feedback =
                "The reply contained no Python code block, even when asked again.".to_string();
            events.emit(Event::Evaluation {
                task_id: task.id.clone(),
                trial,
                feedback: feedback.clone(),
                reward: 0.0,
                verdict: "no_code".into(),
                passed: false,
            });
            return Ok(Attempt {
                code: None,
                feedback,
                internal_passed: false,
            });
        };
        events.emit(Event::Action {
            task_id: task.id.clone(),
            trial,
            kind: "test".into(),
            code: code.clone(),
        });
        let step = env.step(&Action::test(code.clone())).await?;
        let total = step.info["internal_tests"].as_u64().unwrap_or(0);
        let verdict = step.info["verdict"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        // With no internal test to run (none in the docstring, none written), the code
        // only has to run: its definitions must load without error.
        let internal_passed = if total == 0 {
            verdict == "passed"
        } else {
            step.reward >= 1.0
        };
        events.emit(Event::Evaluation {
            task_id: task.id.clone(),
            trial,
            feedback: step.observation.text.clone(),
            reward: step.reward,
            verdict,
            passed: internal_passed,
        });
        Ok(Attempt {
            code: Some(code),
            feedback: step.observation.text,
            internal_passed,
        })
    }

    /// Reflections of earlier trials of this task in this run, and (cross-task) of similar tasks.
    async fn retrieve(
        &self,
        task: &Task,
        trial: u32,
    ) -> Result<(Vec<String>, Vec<String>), AgentError> {
        let Some(memory) = &self.memory else {
            return Ok((Vec::new(), Vec::new()));
        };
        if self.config.strategy == StrategyKind::Simple {
            return Ok((Vec::new(), Vec::new()));
        }
        let text = |r: &memory::Recalled| match &r.record {
            Record::Reflection(x) => x.text.clone(),
            _ => String::new(),
        };
        let mut same = Vec::new();
        if trial > 1 {
            let filter = Filter::all().task(&task.id).tags_any(vec![self.run_tag()]);
            let recent = memory.recent_reflections_where(filter, usize::MAX).await?;
            let mut earlier: Vec<_> = recent
                .iter()
                .filter(|r| matches!(&r.record, Record::Reflection(x) if x.trial < trial))
                .map(text)
                .collect();
            earlier.truncate(self.config.reflections_kept);
            earlier.reverse(); // oldest first, as a story
            same = earlier;
        }
        let mut other = Vec::new();
        if self.config.cross_task && trial >= self.config.cross_task_from_trial {
            other = memory
                .similar_reflections(&task.prompt, &task.id, self.config.cross_task_k)
                .await?
                .iter()
                .filter(|r| r.score >= self.config.cross_task_min_score)
                .map(text)
                .collect();
        }
        Ok((same, other))
    }

    fn run_tag(&self) -> String {
        format!("run:{}", self.run_id)
    }

    /// Writes and stores a reflection on a failed trial.
    async fn reflect(
        &self,
        task: &Task,
        trial: u32,
        attempt: &Attempt,
        usage: &mut UsageTotals,
        events: &dyn EventSink,
    ) -> Result<(), AgentError> {
        let context = json!({
            "prompt": task.prompt,
            "code": attempt.code.as_deref().unwrap_or("(no code)"),
            "feedback": attempt.feedback,
        });
        let messages = vec![
            Message::system(self.prompts.render("reflect_system", &context)?),
            Message::user(self.prompts.render("reflect_user", &context)?),
        ];
        let reply = self
            .call(
                task,
                trial,
                Ask::new("reflect", messages, 0.0).max_tokens(self.config.reflection_max_tokens),
                usage,
                events,
            )
            .await?;
        let text = if self.config.reflection_prose_only {
            super::code::prose_only(&reply)
        } else {
            reply.trim().to_string()
        };
        events.emit(Event::Reflection {
            task_id: task.id.clone(),
            trial,
            text: text.clone(),
        });
        // A reply that was all code leaves no lesson to keep.
        if let Some(memory) = self.memory.as_ref().filter(|_| !text.is_empty()) {
            let record = Record::Reflection(Reflection {
                task_id: task.id.clone(),
                env: task.suite.clone(),
                trial,
                text,
                outcome: "failed internal tests".into(),
                score: 0.0,
                tags: vec![self.run_tag()],
                created_at: memory::record::now(),
            });
            let (id, outcome) = match memory.remember(record).await? {
                Stored::New(id) => (id, "new"),
                Stored::Unchanged(id) => (id, "unchanged"),
                Stored::Merged { into, .. } => (into, "merged"),
            };
            events.emit(Event::MemoryWrite {
                task_id: task.id.clone(),
                trial,
                id,
                outcome: outcome.into(),
            });
        }
        Ok(())
    }
}
