//! Events a task emits while it runs. The run writes them to `events.jsonl`.

use crate::llm::{ChatModel, ChatRequest, ChatResponse, LlmError, Message, UsageTotals};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use tracing::Instrument;

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A call to the model and its answer.
    ModelCall {
        /// Task.
        task_id: String,
        /// Trial (1-based; 0 before the first trial).
        trial: u32,
        /// Why: `act`, `reask`, `reflect`, `tests`.
        purpose: String,
        /// The messages sent.
        messages: Vec<Message>,
        /// The first choice's text.
        reply: String,
        /// Prompt tokens.
        prompt_tokens: u64,
        /// Completion tokens.
        completion_tokens: u64,
        /// Latency in ms.
        latency_ms: u64,
        /// Cost in dollars.
        cost_usd: f64,
        /// Answered from the cache.
        cached: bool,
    },
    /// Memory retrieved before acting.
    Retrieval {
        /// Task.
        task_id: String,
        /// Trial.
        trial: u32,
        /// Reflections of earlier trials of this task.
        same_task: Vec<String>,
        /// Reflections of other tasks (cross-task memory).
        other_tasks: Vec<String>,
        /// Where each of `other_tasks` came from: `TASK, trial N (similarity S)`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        other_sources: Vec<String>,
    },
    /// What the library of cross-task memory gave an attempt (shown on every attempt of a task;
    /// emitted once per task).
    Library {
        /// Task.
        task_id: String,
        /// Trial.
        trial: u32,
        /// The library's name.
        library: String,
        /// The insights shown.
        insights: Vec<String>,
        /// The helpers shown: `name (similarity)`.
        helpers: Vec<String>,
        /// Skills found but left out, with the reason.
        left_out: Vec<String>,
    },
    /// An action sent to the environment.
    Action {
        /// Task.
        task_id: String,
        /// Trial.
        trial: u32,
        /// `test` or `submit`.
        kind: String,
        /// The code.
        code: String,
    },
    /// What the internal tests said (the agent sees this).
    Evaluation {
        /// Task.
        task_id: String,
        /// Trial.
        trial: u32,
        /// The feedback text.
        feedback: String,
        /// Fraction of internal tests passed.
        reward: f64,
        /// The sandbox verdict.
        verdict: String,
        /// Whether the internal tests all passed.
        passed: bool,
    },
    /// A verbal reflection on a failed trial.
    Reflection {
        /// Task.
        task_id: String,
        /// Trial.
        trial: u32,
        /// The reflection.
        text: String,
    },
    /// A record written to memory.
    MemoryWrite {
        /// Task.
        task_id: String,
        /// Trial.
        trial: u32,
        /// Record id.
        id: String,
        /// `new`, `unchanged` or `merged`.
        outcome: String,
    },
    /// The hidden-test score of the attempt a run with this many trials would submit
    /// (for pass@1-by-trial; never shown to the agent).
    TrialScore {
        /// Task.
        task_id: String,
        /// Trial.
        trial: u32,
        /// Passed the hidden tests.
        passed: bool,
    },
    /// The final submission and its hidden-test verdict.
    Submission {
        /// Task.
        task_id: String,
        /// The trial whose attempt was submitted.
        trial: u32,
        /// Sandbox verdict of the hidden tests.
        verdict: String,
        /// Passed.
        passed: bool,
    },
    /// One iteration of a lifelong-learning session (`voyager`) ended.
    Iteration {
        /// Task (the session).
        task_id: String,
        /// The iteration (1-based).
        iteration: u32,
        /// The episode it played in (0-based; a death starts the next).
        episode: u32,
        /// The task the curriculum proposed.
        goal: String,
        /// Where the goal came from: `model`, `fixed`, `need` (an urgent need the environment
        /// reported) or `fallback` (with the reason).
        proposed_by: String,
        /// Whether it was judged done.
        success: bool,
        /// Rounds of code writing it took.
        rounds: u32,
        /// The library's skill run as the first round without asking the model (`name vN`),
        /// if one was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replayed: Option<String>,
        /// Why it was judged so (the critic's reason, a programmatic check, an error).
        reason: String,
        /// What the environment answered the last round's program (for Crafter: its calls and
        /// their results, the damage taken, the state after), to read a session afterwards;
        /// empty when no program ran.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        feedback: String,
        /// Achievements the environment reported new in this iteration.
        new_achievements: Vec<String>,
        /// Unique achievements of the session so far.
        achievements: Vec<String>,
        /// Skills learned by the session so far.
        skills: u32,
        /// Tokens spent by the session so far.
        tokens: u64,
    },
    /// A skill written to (or found already in) the skill library.
    SkillWrite {
        /// Task (the session).
        task_id: String,
        /// The iteration.
        iteration: u32,
        /// The skill's name.
        name: String,
        /// Its version.
        version: u32,
        /// `new`, `new_version`, `unchanged`, or `refused: why`.
        outcome: String,
        /// Its description.
        #[serde(default)]
        description: String,
        /// Its code.
        #[serde(default)]
        code: String,
    },
    /// The task ended with an error.
    TaskError {
        /// Task.
        task_id: String,
        /// The error.
        message: String,
    },
}

impl Event {
    /// A model-call event from a request's messages and its response.
    pub fn model_call(
        task_id: &str,
        trial: u32,
        purpose: &str,
        messages: &[Message],
        r: &ChatResponse,
    ) -> Self {
        Event::ModelCall {
            task_id: task_id.to_string(),
            trial,
            purpose: purpose.to_string(),
            messages: messages.to_vec(),
            reply: r.text().to_string(),
            prompt_tokens: r.usage.prompt_tokens,
            completion_tokens: r.usage.completion_tokens,
            latency_ms: r.latency.as_millis() as u64,
            cost_usd: r.cost_usd,
            cached: r.cached,
        }
    }
}

/// Where events go.
pub trait EventSink: Send + Sync {
    /// Records one event.
    fn emit(&self, event: Event);
}

/// Keeps events in memory (tests, library users who want them).
#[derive(Default)]
pub struct MemoryEvents(Mutex<Vec<Event>>);

impl MemoryEvents {
    /// All events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl EventSink for MemoryEvents {
    fn emit(&self, event: Event) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }
}

/// Sends `request` for `task_id`'s trial, adds its usage and records a model-call event;
/// returns the first choice's text. Every agent's model call goes through here.
pub(crate) async fn ask(
    model: &dyn ChatModel,
    (task_id, trial, purpose): (&str, u32, &str),
    request: ChatRequest,
    usage: &mut UsageTotals,
    events: &dyn EventSink,
) -> Result<String, LlmError> {
    let span = tracing::info_span!("trial", task = %task_id, trial, purpose);
    let response = model.chat(&request).instrument(span).await?;
    usage.add(&response);
    events.emit(Event::model_call(
        task_id,
        trial,
        purpose,
        &request.messages,
        &response,
    ));
    Ok(response.text().to_string())
}
