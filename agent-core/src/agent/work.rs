//! [`Work`]: one task in progress, as a strategy sees it. It holds the task, its environment,
//! the model, memory and prompts, and keeps the books every strategy shares: model calls and
//! tokens against the task's budget, the candidates made, the candidate the strategy would
//! submit after each attempt and each call, and an optional checkpoint file so a strategy can
//! resume mid-task. Strategies reach the model, the environment and memory only through it.

use super::actor::{actor_for, Actor, Attempt, Guidance, Proposal};
use super::events::{Event, EventSink};
use super::result::{Candidate, Solved};
use super::{Agent, AgentConfig, AgentError};
use crate::learn::{insights, skills, Helper};
use crate::llm::{ChatRequest, Message, UsageTotals};
use environments::{Environment, Snapshot, Task};
use memory::{Filter, MemoryBank, Record, Reflection, Stored};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The books of one task: plain data, saved with a strategy's checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkState {
    /// Every candidate made, in order.
    pub candidates: Vec<Candidate>,
    /// The candidate the strategy would submit now.
    pub choice: Option<usize>,
    /// After each attempt: the choice then.
    pub choice_by_attempt: Vec<Option<usize>>,
    /// After each model call: the choice then.
    pub choice_by_call: Vec<Option<usize>>,
    /// Tokens spent after each model call.
    pub tokens_by_call: Vec<u64>,
    /// Tokens and cost.
    pub usage: UsageTotals,
    /// The environment's state once the task was set up (e.g. model-written tests), where it
    /// can save one, so a resumed task does not ask for them again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<Snapshot>,
}

#[derive(Serialize, Deserialize)]
struct CheckpointFile<T> {
    work: WorkState,
    strategy: T,
}

/// One question to the model.
pub struct Ask<'a> {
    /// Why: `act`, `reask`, `reflect`, `tests`, `evaluate`.
    pub purpose: &'a str,
    /// The attempt it belongs to (trial, node) for events.
    pub label: u32,
    /// The messages.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Completion tokens.
    pub max_tokens: u32,
    /// A sampling seed (sampled calls with a seed are reproducible and cached).
    pub seed: Option<u64>,
}

/// What the library of cross-task memory shows a task's attempts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Learned {
    /// Insights (rules), most voted first.
    pub insights: Vec<String>,
    /// Skills the code may call.
    pub helpers: Vec<Helper>,
}

/// One task in progress.
pub struct Work<'a> {
    agent: &'a Agent,
    task: &'a Task,
    env: &'a mut dyn Environment,
    events: &'a dyn EventSink,
    actor: Arc<dyn Actor>,
    state: WorkState,
    checkpoint: Option<PathBuf>,
    started: Instant,
    learned: Option<Learned>,
}

impl<'a> Work<'a> {
    pub(crate) fn new(
        agent: &'a Agent,
        task: &'a Task,
        env: &'a mut dyn Environment,
        events: &'a dyn EventSink,
        checkpoint: Option<PathBuf>,
    ) -> Self {
        Self {
            agent,
            task,
            env,
            events,
            actor: actor_for(task),
            state: WorkState::default(),
            checkpoint,
            started: Instant::now(),
            learned: None,
        }
    }

    /// The task.
    pub fn task(&self) -> &'a Task {
        self.task
    }

    /// The agent's configuration.
    pub fn config(&self) -> &'a AgentConfig {
        &self.agent.config
    }

    /// The prompt templates.
    pub fn prompts(&self) -> &'a super::Prompts {
        &self.agent.prompts
    }

    /// The environment.
    pub fn env(&mut self) -> &mut dyn Environment {
        self.env
    }

    /// Where events go.
    pub fn events(&self) -> &'a dyn EventSink {
        self.events
    }

    /// Memory, when the agent has it.
    pub fn memory(&self) -> Option<&'a MemoryBank> {
        self.agent.memory.as_ref()
    }

    /// The tag this run's records carry (`run:ID`).
    pub fn run_tag(&self) -> String {
        self.agent.run_tag()
    }

    /// The books so far.
    pub fn state(&self) -> &WorkState {
        &self.state
    }

    /// Model calls made on this task.
    pub fn calls(&self) -> u32 {
        self.state.tokens_by_call.len() as u32
    }

    /// Whether `n` more model calls fit the task's budget (calls and tokens).
    pub fn can_call(&self, n: u32) -> bool {
        let budget = &self.agent.config.budget;
        let tokens_ok = budget
            .tokens
            .is_none_or(|t| self.state.usage.total_tokens() < t);
        self.calls() + n <= budget.calls && tokens_ok
    }

    /// Sends one request, counting it against the budget; an error when none is left.
    pub async fn ask(&mut self, ask: Ask<'_>) -> Result<String, AgentError> {
        if !self.can_call(1) {
            return Err(AgentError::BudgetSpent {
                task: self.task.id.clone(),
                calls: self.calls(),
            });
        }
        let mut request = ChatRequest::new(ask.messages)
            .temperature(ask.temperature)
            .max_tokens(ask.max_tokens);
        request.seed = ask.seed;
        let reply = super::events::ask(
            self.agent.model.as_ref(),
            (&self.task.id, ask.label, ask.purpose),
            request,
            &mut self.state.usage,
            self.events,
        )
        .await?;
        self.state
            .tokens_by_call
            .push(self.state.usage.total_tokens());
        self.state.choice_by_call.push(self.state.choice);
        Ok(reply)
    }

    /// One attempt: propose a candidate and evaluate it. `None` when the budget allows no call.
    pub async fn attempt(&mut self, guidance: &Guidance) -> Result<Option<Attempt>, AgentError> {
        let Some(proposal) = self.propose(guidance).await? else {
            return Ok(None);
        };
        Ok(Some(self.evaluate(proposal, guidance.label).await?))
    }

    /// The proposing half of an attempt (model calls only); `None` when no call is left.
    pub async fn propose(&mut self, guidance: &Guidance) -> Result<Option<Proposal>, AgentError> {
        let actor = self.actor.clone();
        actor.propose(self, guidance).await
    }

    /// The evaluating half: internal tests (or the episode's reward), recorded as a candidate.
    pub async fn evaluate(
        &mut self,
        proposal: Proposal,
        label: u32,
    ) -> Result<Attempt, AgentError> {
        let actor = self.actor.clone();
        let attempt = actor.evaluate(self, proposal, label).await?;
        Ok(self.record(attempt))
    }

    /// Records `proposal` with the evaluation of an earlier attempt it repeats, without
    /// running anything (the calls that made it are already counted).
    pub fn repeat(&mut self, proposal: Proposal, label: u32, earlier: &Attempt) -> Attempt {
        let attempt = Attempt {
            label,
            content: proposal.content,
            trace: proposal.trace,
            candidate: None,
            ..earlier.clone()
        };
        self.record(attempt)
    }

    fn record(&mut self, mut attempt: Attempt) -> Attempt {
        if let Some(content) = &attempt.content {
            let number = self.state.choice_by_attempt.len() as u32 + 1;
            let index = self.push_candidate(content.clone(), number, attempt.score, attempt.passed);
            attempt.candidate = Some(index);
        }
        self.state.choice_by_attempt.push(self.state.choice);
        attempt
    }

    /// Adds a candidate made by attempt `attempt` (1-based) now; its index.
    fn push_candidate(&mut self, content: String, attempt: u32, score: f64, passed: bool) -> usize {
        self.state.candidates.push(Candidate {
            content,
            attempt,
            calls_at: self.calls(),
            score,
            passed,
        });
        self.state.candidates.len() - 1
    }

    /// Records a candidate the strategy made without an attempt of the actor (a session's
    /// account, say), as of the last attempt, and returns its index, for [`Work::choose`].
    pub fn offer(&mut self, content: String, score: f64, passed: bool) -> usize {
        let last = self.state.choice_by_attempt.len() as u32;
        self.push_candidate(content, last, score, passed)
    }

    /// The candidate the strategy would submit if it stopped now (it is the submission when
    /// the strategy returns); recorded for the attempt and the call just made.
    pub fn choose(&mut self, candidate: Option<usize>) {
        self.state.choice = candidate;
        if let Some(last) = self.state.choice_by_attempt.last_mut() {
            *last = candidate;
        }
        if let Some(last) = self.state.choice_by_call.last_mut() {
            *last = candidate;
        }
    }

    /// This run's reflections on earlier attempts of this task (labels below `label`, oldest
    /// first, at most `reflections_kept`), and with cross-task memory, similar tasks' ones.
    pub async fn retrieve(&mut self, label: u32) -> Result<Vec<String>, AgentError> {
        let Some(memory) = &self.agent.memory else {
            return Ok(Vec::new());
        };
        let config = &self.agent.config;
        let text = |r: &memory::Recalled| match &r.record {
            Record::Reflection(x) => x.text.clone(),
            _ => String::new(),
        };
        let mut same = Vec::new();
        if label > 1 {
            let filter = Filter::all()
                .task(&self.task.id)
                .tags_any(vec![self.agent.run_tag()]);
            let recent = memory.recent_reflections_where(filter, usize::MAX).await?;
            same = recent
                .iter()
                .filter(|r| matches!(&r.record, Record::Reflection(x) if x.trial < label))
                .map(text)
                .take(config.reflections_kept)
                .collect();
            same.reverse(); // oldest first, as a story
        }
        let (mut other, mut sources) = (Vec::new(), Vec::new());
        if config.cross_task && label >= config.cross_task_from_trial {
            let mut filter = Filter::kind(memory::RecordKind::Reflection).not_task(&self.task.id);
            if !config.learning.library.is_empty() {
                filter = filter.tags_any(vec![memory::library_tag(&config.learning.library)]);
            }
            let similar = memory
                .search(&self.task.prompt, &filter, config.cross_task_k)
                .await?;
            let kept = similar
                .iter()
                .filter(|r| r.score >= config.cross_task_min_score);
            other = kept.clone().map(text).collect();
            sources = kept.map(source).collect();
        }
        if !same.is_empty() || !other.is_empty() {
            self.events.emit(Event::Retrieval {
                task_id: self.task.id.clone(),
                trial: label,
                same_task: same.clone(),
                other_tasks: other.clone(),
                other_sources: sources,
            });
        }
        Ok(same.into_iter().chain(other).collect())
    }

    /// Writes a reflection on a failed attempt and stores it in memory (as reflexion's are:
    /// task, label as the trial, this run's tag). `None` when no call is left.
    pub async fn reflect(&mut self, attempt: &Attempt) -> Result<Option<String>, AgentError> {
        if !self.can_call(1) {
            return Ok(None);
        }
        let messages = self.actor.reflection_messages(self, attempt)?;
        let config = &self.agent.config;
        let reply = self
            .ask(Ask {
                purpose: "reflect",
                label: attempt.label,
                messages,
                temperature: 0.0,
                max_tokens: config.reflection_max_tokens,
                seed: None,
            })
            .await?;
        let text = if config.reflection_prose_only {
            super::code::prose_only(&reply)
        } else {
            reply.trim().to_string()
        };
        self.events.emit(Event::Reflection {
            task_id: self.task.id.clone(),
            trial: attempt.label,
            text: text.clone(),
        });
        self.remember(attempt, &text).await?;
        Ok(Some(text))
    }

    async fn remember(&mut self, attempt: &Attempt, text: &str) -> Result<(), AgentError> {
        // A reply that was all code leaves no lesson to keep.
        let Some(memory) = self.agent.memory.as_ref().filter(|_| !text.is_empty()) else {
            return Ok(());
        };
        let record = Record::Reflection(Reflection {
            task_id: self.task.id.clone(),
            env: self.task.suite.clone(),
            trial: attempt.label,
            text: text.to_string(),
            outcome: self.actor.failure_outcome().into(),
            score: attempt.score,
            tags: self.record_tags(),
            created_at: memory::record::now(),
        });
        let (id, outcome) = match memory.remember(record).await? {
            Stored::New(id) => (id, "new"),
            Stored::Unchanged(id) => (id, "unchanged"),
            Stored::Merged { into, .. } => (into, "merged"),
        };
        self.events.emit(Event::MemoryWrite {
            task_id: self.task.id.clone(),
            trial: attempt.label,
            id,
            outcome: outcome.into(),
        });
        Ok(())
    }

    /// The tags of what this task stores: the run's, and the library's when the run learns.
    fn record_tags(&self) -> Vec<String> {
        let learning = &self.agent.config.learning;
        let mut tags = vec![self.agent.run_tag()];
        if learning.learn {
            tags.push(memory::library_tag(&learning.library));
        }
        tags
    }

    /// What the library shows this task's attempts: its top insights and, on a coding task,
    /// the skills most like the task as helpers. Looked up once per task (the first call
    /// emits a [`Event::Library`]); empty without memory, with both turned off, and for an
    /// attempt before `learning.from_trial`.
    pub async fn learned(&mut self, label: u32) -> Result<Learned, AgentError> {
        let learning = &self.agent.config.learning;
        if label < learning.from_trial {
            return Ok(Learned::default());
        }
        if let Some(learned) = &self.learned {
            return Ok(learned.clone());
        }
        let mut learned = Learned::default();
        let mut left_out = Vec::new();
        if let Some(memory) = &self.agent.memory {
            if learning.insights {
                learned.insights =
                    insights::for_prompt(memory, &learning.library, learning.insights_tokens)
                        .await?;
            }
            if let (true, environments::TaskKind::Code(code)) = (learning.skills, &self.task.kind) {
                let limits = (learning.skills_k, learning.skills_min_score);
                let prompt = &self.task.prompt;
                (learned.helpers, left_out) =
                    skills::helpers(memory, &learning.library, prompt, &code.entry_point, limits)
                        .await?;
            }
        }
        left_out.extend(self.fit_growth(&mut learned)?);
        if !learned.insights.is_empty() || !learned.helpers.is_empty() || !left_out.is_empty() {
            self.events.emit(Event::Library {
                task_id: self.task.id.clone(),
                trial: label,
                library: learning.library.clone(),
                insights: learned.insights.clone(),
                helpers: learned
                    .helpers
                    .iter()
                    .map(|h| format!("{} ({:.2})", h.name, h.score))
                    .collect(),
                left_out,
            });
        }
        self.learned = Some(learned.clone());
        Ok(learned)
    }

    /// Keeps what `learned` adds to a prompt within `learning.max_growth` of the task's
    /// first-attempt prompt (estimated in characters): helpers first (they were found for this
    /// task), then insights, each in its order. Returns what was left out, with the reason.
    fn fit_growth(&self, learned: &mut Learned) -> Result<Vec<String>, AgentError> {
        let growth = self.agent.config.learning.max_growth;
        if growth <= 0.0 {
            return Ok(Vec::new());
        }
        let context = serde_json::json!({
            "prompt": self.task.prompt,
            "entry_point": code_entry(self.task),
        });
        let prompts = &self.agent.prompts;
        let first = prompts.render("actor_system", &context)?.len()
            + prompts.render("actor_user", &context)?.len();
        let mut left = (first as f32 * growth) as usize;
        let mut dropped = Vec::new();
        // Each kind shown costs its header line once (as in actor_user.j2), then a line an item.
        let mut fit = |costs: Vec<(usize, String)>, header: usize| -> Vec<bool> {
            let mut header = header;
            costs
                .into_iter()
                .map(|(cost, what)| {
                    let keep = cost + header <= left;
                    if keep {
                        left -= cost + header;
                        header = 0;
                    } else {
                        dropped.push(format!("{what} left out: over max_growth"));
                    }
                    keep
                })
                .collect()
        };
        let helper_costs = learned
            .helpers
            .iter()
            .map(|h| {
                (
                    h.signature.len() + h.description.len() + 5,
                    format!("helper {}", h.name),
                )
            })
            .collect();
        let mut keep = fit(helper_costs, 95).into_iter();
        learned.helpers.retain(|_| keep.next().unwrap_or(false));
        let insight_costs = learned
            .insights
            .iter()
            .map(|r| (r.len() + 3, "insight".to_string()))
            .collect();
        let mut keep = fit(insight_costs, 40).into_iter();
        learned.insights.retain(|_| keep.next().unwrap_or(false));
        Ok(dropped)
    }

    /// Counts a use of each helper in `ids` that passed or failed the internal tests (a run
    /// that learns only; a frozen library is not changed).
    pub async fn count_helper_uses(
        &mut self,
        ids: &[String],
        passed: bool,
    ) -> Result<(), AgentError> {
        let Some(memory) = self.agent.memory.as_ref() else {
            return Ok(());
        };
        if !self.agent.config.learning.learn {
            return Ok(());
        }
        for id in ids {
            memory.record_skill_use(id, passed).await?;
        }
        Ok(())
    }

    /// With a run that learns: the submitted candidate of a coding task, when it passed its
    /// internal tests (at least one), becomes a skill of the library (a [`Event::SkillWrite`] says what
    /// happened, also when it cannot: no docstring, the function missing).
    pub(crate) async fn learn_from_submission(&mut self) -> Result<(), AgentError> {
        let learning = &self.agent.config.learning;
        let (Some(memory), true) = (self.agent.memory.as_ref(), learning.learn) else {
            return Ok(());
        };
        let environments::TaskKind::Code(code) = &self.task.kind else {
            return Ok(());
        };
        let Some(candidate) = self.state.choice.map(|i| &self.state.candidates[i]) else {
            return Ok(());
        };
        // Passed with at least one internal test run (a score above 0): code that only loaded
        // has shown nothing.
        if !candidate.passed || candidate.score <= 0.0 {
            return Ok(());
        }
        let mut tags = self.record_tags();
        tags.push(format!("task:{}", self.task.id));
        let made = skills::skill_from(
            &candidate.content,
            &code.entry_point,
            &self.task.prompt,
            &learning.library,
            tags,
        );
        let (outcome, version, description, code) = match made {
            Ok(skill) => {
                let (description, code) = (skill.description.clone(), skill.code.clone());
                let (outcome, version) = skills::store(memory, skill).await?;
                (outcome, version, description, code)
            }
            Err(why) => (format!("refused: {why}"), 0, String::new(), String::new()),
        };
        self.events.emit(Event::SkillWrite {
            task_id: self.task.id.clone(),
            iteration: candidate.attempt,
            name: code_entry(self.task),
            version,
            outcome,
            description,
            code,
        });
        Ok(())
    }

    /// Sets the task up (the environment's reset; model-written tests where configured), or,
    /// when resuming from a checkpoint, restores the environment's saved set-up.
    pub(crate) async fn begin(&mut self) -> Result<(), AgentError> {
        let actor = self.actor.clone();
        match self.state.setup.clone() {
            Some(snapshot) => {
                self.env.reset(self.task).await?;
                self.env.restore(&snapshot).await?;
            }
            None => {
                actor.begin(self).await?;
                self.state.setup = self.env.snapshot().await.ok();
            }
        }
        Ok(())
    }

    /// Writes the strategy's state and the books atomically to the checkpoint file (when the
    /// task has one), so a killed run resumes here without repeating a model call.
    pub fn save<T: Serialize>(&self, strategy: &T) -> Result<(), AgentError> {
        let Some(path) = &self.checkpoint else {
            return Ok(());
        };
        let file = CheckpointFile {
            work: self.state.clone(),
            strategy,
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| checkpoint_error(path, e))?;
        tools::fsio::write_atomic(path, &bytes).map_err(|e| checkpoint_error(path, e))
    }

    /// The strategy's state from the checkpoint file, restoring the books with it; `None` when
    /// there is none. A file that does not parse is an error naming it (it is left as it is).
    pub fn resume<T: DeserializeOwned>(&mut self) -> Result<Option<T>, AgentError> {
        let Some(path) = &self.checkpoint else {
            return Ok(None);
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(checkpoint_error(path, e)),
        };
        let file: CheckpointFile<T> = serde_json::from_slice(&bytes).map_err(|e| {
            checkpoint_error(path, format!("not a complete checkpoint (cut short?): {e}"))
        })?;
        self.state = file.work;
        Ok(Some(file.strategy))
    }

    /// Peeks at the saved set-up before [`Work::begin`], so a resumed task restores it.
    pub(crate) fn load_setup(&mut self) {
        let Some(path) = &self.checkpoint else { return };
        #[derive(Deserialize)]
        struct Head {
            work: WorkState,
        }
        if let Some(head) = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Head>(&b).ok())
        {
            self.state.setup = head.work.setup;
        }
    }

    pub(crate) fn finish(self, error: Option<String>) -> Solved {
        let state = self.state;
        Solved {
            task_id: self.task.id.clone(),
            submitted: state.choice,
            calls: state.tokens_by_call.len() as u32,
            candidates: state.candidates,
            choice_by_attempt: state.choice_by_attempt,
            choice_by_call: state.choice_by_call,
            tokens_by_call: state.tokens_by_call,
            usage: state.usage,
            wall_ms: self.started.elapsed().as_millis() as u64,
            error,
        }
    }
}

fn code_entry(task: &Task) -> String {
    match &task.kind {
        environments::TaskKind::Code(c) => c.entry_point.clone(),
        environments::TaskKind::Custom(_) => String::new(),
    }
}

fn checkpoint_error(path: &std::path::Path, e: impl std::fmt::Display) -> AgentError {
    AgentError::Checkpoint {
        path: path.to_path_buf(),
        problem: e.to_string(),
    }
}

/// Where a recalled reflection came from, for the run's events: `TASK, trial N (similarity S)`.
fn source(recalled: &memory::Recalled) -> String {
    match &recalled.record {
        Record::Reflection(r) => format!(
            "{}, trial {} (similarity {:.2})",
            r.task_id, r.trial, recalled.score
        ),
        _ => format!("{} (similarity {:.2})", recalled.id, recalled.score),
    }
}
