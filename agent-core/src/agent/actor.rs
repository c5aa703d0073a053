//! Actors: how one attempt is made in one kind of environment. [`CodeActor`] asks for a
//! function and runs the internal tests (one `test` action); [`EpisodeActor`] plays an episode
//! of a custom environment, one model call per action. Strategies are written against
//! attempts, so every strategy runs on every environment.

use super::code::{extract_asserts, extract_code};
use super::episode::{next_action, Sampling, Transcript, Turn};
use super::events::Event;
use super::work::{Ask, Work};
use super::{AgentError, InternalTests};
use crate::llm::Message;
use async_trait::async_trait;
use environments::{Action, Task, TaskKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// What the strategy tells the actor for one attempt.
#[derive(Clone, Debug, Default)]
pub struct Guidance {
    /// The attempt's number for events and memory (trial, sample, tree node + 1).
    pub label: u32,
    /// Lessons to show: reflections on earlier attempts.
    pub reflections: Vec<String>,
    /// An earlier attempt to show and improve on.
    pub previous: Option<Shown>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Sampling seed (distinct samples of one prompt need distinct seeds).
    pub seed: Option<u64>,
}

/// An earlier attempt shown to the actor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    /// Its code (or actions).
    pub content: String,
    /// What its evaluation said.
    pub feedback: String,
}

/// A candidate before evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The candidate; `None` when the model gave none (no code block even when asked again).
    pub content: Option<String>,
    /// An episode's transcript, or null.
    #[serde(default)]
    pub trace: serde_json::Value,
    /// An episode is evaluated as it is played: its reward, already known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub played: Option<(f64, bool, String)>,
    /// The ids of the library's skills the code calls, linked into it (their use counts
    /// follow the evaluation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helpers: Vec<String>,
}

/// An evaluated attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// Its number (trial, sample, node + 1).
    pub label: u32,
    /// Its index among the task's candidates; `None` without content.
    pub candidate: Option<usize>,
    /// The candidate.
    pub content: Option<String>,
    /// What the evaluation said (shown to the model).
    pub feedback: String,
    /// Fraction of internal tests passed (episodes: reward over the success reward, at most 1).
    pub score: f64,
    /// Internal tests run (episodes: 1).
    pub tests: usize,
    /// Passed its internal tests (with none, loaded without error); episodes: succeeded.
    pub passed: bool,
    /// An episode's transcript, or null.
    #[serde(default)]
    pub trace: serde_json::Value,
}

impl Attempt {
    /// Passed with at least one test run: a signal a search can stop on.
    pub fn solved(&self) -> bool {
        self.passed && self.tests > 0
    }
}

/// How attempts are made in one kind of environment.
#[async_trait]
pub trait Actor: Send + Sync {
    /// Sets the task up before the first attempt.
    async fn begin(&self, work: &mut Work<'_>) -> Result<(), AgentError>;
    /// Proposes a candidate; `None` when the budget allows no call.
    async fn propose(
        &self,
        work: &mut Work<'_>,
        guidance: &Guidance,
    ) -> Result<Option<Proposal>, AgentError>;
    /// Evaluates a proposal (its score is internal: the agent sees it).
    async fn evaluate(
        &self,
        work: &mut Work<'_>,
        proposal: Proposal,
        label: u32,
    ) -> Result<Attempt, AgentError>;
    /// The messages asking for a reflection on a failed attempt.
    fn reflection_messages(
        &self,
        work: &Work<'_>,
        attempt: &Attempt,
    ) -> Result<Vec<Message>, AgentError>;
    /// The outcome a stored reflection records.
    fn failure_outcome(&self) -> &'static str;
}

/// The actor for `task`'s kind.
pub fn actor_for(task: &Task) -> Arc<dyn Actor> {
    match &task.kind {
        TaskKind::Code(_) => Arc::new(CodeActor),
        TaskKind::Custom(_) => Arc::new(EpisodeActor),
    }
}

/// Writes a function and runs the internal tests on it.
pub struct CodeActor;

fn entry_point(task: &Task) -> &str {
    match &task.kind {
        TaskKind::Code(c) => &c.entry_point,
        TaskKind::Custom(_) => "",
    }
}

#[async_trait]
impl Actor for CodeActor {
    async fn begin(&self, work: &mut Work<'_>) -> Result<(), AgentError> {
        let task = work.task();
        work.env().reset(task).await?;
        let config = work.config();
        if config.internal_tests == InternalTests::Model {
            let only_asserts = Action {
                kind: "use_examples".into(),
                content: "false".into(),
                goal: None,
            };
            work.env().step(&only_asserts).await?;
        }
        if !matches!(
            config.internal_tests,
            InternalTests::Model | InternalTests::Both
        ) {
            return Ok(());
        }
        let asserts = write_asserts(work).await?;
        work.env().step(&Action::add_tests(&asserts)).await?;
        Ok(())
    }

    async fn propose(
        &self,
        work: &mut Work<'_>,
        g: &Guidance,
    ) -> Result<Option<Proposal>, AgentError> {
        if !work.can_call(1) {
            return Ok(None);
        }
        let learned = work.learned(g.label).await?;
        let task = work.task();
        let context = json!({
            "prompt": task.prompt,
            "entry_point": entry_point(task),
            "reflections": g.reflections,
            "insights": learned.insights,
            "helpers": learned.helpers,
            "previous_code": g.previous.as_ref().map(|p| &p.content),
            "feedback": g.previous.as_ref().map(|p| &p.feedback),
        });
        let prompts = work.prompts();
        let mut messages = vec![
            Message::system(prompts.render("actor_system", &context)?),
            Message::user(prompts.render("actor_user", &context)?),
        ];
        let max_tokens = work.config().max_tokens;
        let ask = |purpose, messages| Ask {
            purpose,
            label: g.label,
            messages,
            temperature: g.temperature,
            max_tokens,
            seed: g.seed,
        };
        let reply = work.ask(ask("act", messages.clone())).await?;
        let mut code = extract_code(&reply);
        if code.is_none() && work.can_call(1) {
            messages.push(Message::assistant(reply));
            messages.push(Message::user(prompts.render("reask", &context)?));
            code = extract_code(&work.ask(ask("reask", messages)).await?);
        }
        let (content, helpers) = match code {
            Some(code) => {
                let (linked, used) = crate::learn::skills::link(&code, &learned.helpers);
                (Some(linked), used)
            }
            None => (None, Vec::new()),
        };
        Ok(Some(Proposal {
            content,
            trace: serde_json::Value::Null,
            played: None,
            helpers,
        }))
    }

    async fn evaluate(
        &self,
        work: &mut Work<'_>,
        proposal: Proposal,
        label: u32,
    ) -> Result<Attempt, AgentError> {
        let task_id = work.task().id.clone();
        let helpers = proposal.helpers;
        let Some(code) = proposal.content else {
            let feedback = "The reply contained no Python code block, even when asked again.";
            work.events().emit(Event::Evaluation {
                task_id,
                trial: label,
                feedback: feedback.into(),
                reward: 0.0,
                verdict: "no_code".into(),
                passed: false,
            });
            return Ok(no_code_attempt(label, feedback));
        };
        work.events().emit(Event::Action {
            task_id: task_id.clone(),
            trial: label,
            kind: "test".into(),
            code: code.clone(),
        });
        let step = work.env().step(&Action::test(code.clone())).await?;
        let tests = step.info["internal_tests"].as_u64().unwrap_or(0) as usize;
        let verdict = step.info["verdict"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        // With no internal test to run (none in the docstring, none written), the code
        // only has to run: its definitions must load without error.
        let passed = if tests == 0 {
            verdict == "passed"
        } else {
            step.reward >= 1.0
        };
        work.events().emit(Event::Evaluation {
            task_id,
            trial: label,
            feedback: step.observation.text.clone(),
            reward: step.reward,
            verdict,
            passed,
        });
        work.count_helper_uses(&helpers, passed).await?;
        Ok(Attempt {
            label,
            candidate: None,
            content: Some(code),
            feedback: step.observation.text,
            score: step.reward,
            tests,
            passed,
            trace: serde_json::Value::Null,
        })
    }

    fn reflection_messages(
        &self,
        work: &Work<'_>,
        attempt: &Attempt,
    ) -> Result<Vec<Message>, AgentError> {
        let context = json!({
            "prompt": work.task().prompt,
            "code": attempt.content.as_deref().unwrap_or("(no code)"),
            "feedback": attempt.feedback,
        });
        let prompts = work.prompts();
        Ok(vec![
            Message::system(prompts.render("reflect_system", &context)?),
            Message::user(prompts.render("reflect_user", &context)?),
        ])
    }

    fn failure_outcome(&self) -> &'static str {
        "failed internal tests"
    }
}

/// Asks the model (greedy, one call) for `model_tests` asserts on the task's function; none for
/// a task that is not a coding task.
pub(crate) async fn write_asserts(work: &mut Work<'_>) -> Result<Vec<String>, AgentError> {
    let task = work.task();
    let TaskKind::Code(code) = &task.kind else {
        return Ok(Vec::new());
    };
    let config = work.config();
    let context = json!({"entry_point": code.entry_point, "prompt": task.prompt, "count": config.model_tests});
    let messages = vec![Message::user(work.prompts().render("tests_user", context)?)];
    let reply = work
        .ask(Ask {
            purpose: "tests",
            label: 0,
            messages,
            temperature: 0.0,
            max_tokens: config.max_tokens,
            seed: None,
        })
        .await?;
    Ok(extract_asserts(&reply, &code.entry_point))
}

fn no_code_attempt(label: u32, feedback: &str) -> Attempt {
    Attempt {
        label,
        candidate: None,
        content: None,
        feedback: feedback.into(),
        score: 0.0,
        tests: 0,
        passed: false,
        trace: serde_json::Value::Null,
    }
}

/// Plays an episode of a custom environment: one model call per action.
pub struct EpisodeActor;

#[async_trait]
impl Actor for EpisodeActor {
    async fn begin(&self, _work: &mut Work<'_>) -> Result<(), AgentError> {
        Ok(()) // every episode resets the environment itself
    }

    async fn propose(
        &self,
        work: &mut Work<'_>,
        g: &Guidance,
    ) -> Result<Option<Proposal>, AgentError> {
        if !work.can_call(1) {
            return Ok(None);
        }
        let task = work.task();
        let settings = work.config().episode.clone();
        let mut transcript = Transcript {
            start: work.env().reset(task).await?.text,
            turns: Vec::new(),
        };
        let sampling = Sampling {
            label: g.label,
            temperature: g.temperature,
            seed: g.seed,
        };
        let mut total = 0.0;
        for _ in 0..settings.max_steps {
            if !work.can_call(1) {
                break;
            }
            let action = next_action(work, &transcript, &g.reflections, sampling).await?;
            work.events().emit(Event::Action {
                task_id: task.id.clone(),
                trial: g.label,
                kind: action.kind.clone(),
                code: action.content.clone(),
            });
            let step = work.env().step(&action).await?;
            total += step.reward;
            transcript.turns.push(Turn {
                action: action.content,
                observation: step.observation.text,
            });
            if step.done {
                break;
            }
        }
        Ok(Some(played(&transcript, total, settings.success_reward)))
    }

    async fn evaluate(
        &self,
        work: &mut Work<'_>,
        proposal: Proposal,
        label: u32,
    ) -> Result<Attempt, AgentError> {
        let (total, success, last) = proposal.played.clone().unwrap_or_default();
        work.events().emit(Event::Evaluation {
            task_id: work.task().id.clone(),
            trial: label,
            feedback: last.clone(),
            reward: total,
            verdict: if success { "success" } else { "failure" }.into(),
            passed: success,
        });
        let target = work.config().episode.success_reward;
        let score = if target > 0.0 {
            (total / target).clamp(0.0, 1.0)
        } else {
            success as u8 as f64
        };
        Ok(Attempt {
            label,
            candidate: None,
            content: proposal.content,
            feedback: format!("total reward {total}; last observation: {last}"),
            score,
            tests: 1,
            passed: success,
            trace: proposal.trace,
        })
    }

    fn reflection_messages(
        &self,
        work: &Work<'_>,
        attempt: &Attempt,
    ) -> Result<Vec<Message>, AgentError> {
        let target = work.config().episode.success_reward;
        let transcript: Transcript =
            serde_json::from_value(attempt.trace.clone()).unwrap_or_default();
        let context = json!({"prompt": work.task().prompt, "start": transcript.start, "transcript": transcript.turns, "reward": attempt.score * target});
        Ok(vec![Message::user(
            work.prompts().render("episode_reflect", &context)?,
        )])
    }

    fn failure_outcome(&self) -> &'static str {
        "episode failed"
    }
}

/// An episode played to its end (or its step limit) as a proposal: its actions, its
/// transcript, and whether its total reward reached `success_reward`.
pub(crate) fn played(transcript: &Transcript, total: f64, success_reward: f64) -> Proposal {
    let actions = transcript.actions();
    Proposal {
        helpers: Vec::new(),
        content: Some(serde_json::to_string(&actions).expect("actions serialize")),
        trace: json!(transcript),
        played: Some((
            total,
            total >= success_reward,
            transcript.last_observation().to_string(),
        )),
    }
}
