//! Reflexion for any [`Environment`]: an episode is a sequence of actions, the
//! environment's reward is the evaluator, and after a failed episode the
//! reflector writes a lesson that the next episode sees.

use super::events::{Event, EventSink};
use super::prompts::Prompts;
use super::solver::AgentError;
use crate::llm::{ChatModel, ChatRequest, Message, UsageTotals};
use environments::{Action, Environment, Task};
use memory::{Filter, MemoryBank, Record, Reflection};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// How episodes run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpisodeConfig {
    /// Episodes (trials) per task.
    pub trials: u32,
    /// Actions per episode at most.
    pub max_steps: u32,
    /// Total reward that counts as success.
    pub success_reward: f64,
    /// Sampling temperature of actions.
    pub temperature: f32,
    /// Tokens per action.
    pub max_tokens: u32,
}

impl Default for EpisodeConfig {
    fn default() -> Self {
        Self {
            trials: 3,
            max_steps: 10,
            success_reward: 1.0,
            temperature: 0.0,
            max_tokens: 24,
        }
    }
}

/// What the episodes of one task achieved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeResult {
    /// Task.
    pub task_id: String,
    /// The last episode reached the success reward.
    pub success: bool,
    /// Total reward of each episode made.
    pub rewards: Vec<f64>,
    /// Tokens and cost.
    pub usage: UsageTotals,
}

#[derive(Serialize)]
struct Turn {
    action: String,
    observation: String,
}

/// Reflexion over episodes of an environment.
pub struct EpisodeAgent {
    model: Arc<dyn ChatModel>,
    prompts: Prompts,
    memory: Option<MemoryBank>,
    config: EpisodeConfig,
    run_id: String,
}

impl EpisodeAgent {
    /// An agent for run `run_id` (which scopes its lessons in memory).
    pub fn new(
        model: Arc<dyn ChatModel>,
        prompts: Prompts,
        memory: Option<MemoryBank>,
        config: EpisodeConfig,
        run_id: impl Into<String>,
    ) -> Self {
        Self {
            model,
            prompts,
            memory,
            config,
            run_id: run_id.into(),
        }
    }

    async fn ask(
        &self,
        task: &Task,
        trial: u32,
        purpose: &str,
        messages: Vec<Message>,
        usage: &mut UsageTotals,
        events: &dyn EventSink,
    ) -> Result<String, AgentError> {
        let request = ChatRequest::new(messages)
            .temperature(self.config.temperature)
            .max_tokens(self.config.max_tokens);
        Ok(super::events::ask(
            self.model.as_ref(),
            (&task.id, trial, purpose),
            request,
            usage,
            events,
        )
        .await?)
    }

    /// Plays up to `trials` episodes of `task` in `env`, reflecting after each failure.
    pub async fn solve(
        &self,
        env: &mut dyn Environment,
        task: &Task,
        events: &dyn EventSink,
    ) -> Result<EpisodeResult, AgentError> {
        let mut usage = UsageTotals::default();
        let mut rewards = Vec::new();
        let tag = format!("run:{}", self.run_id);
        for trial in 1..=self.config.trials.max(1) {
            let lessons: Vec<String> = match &self.memory {
                Some(m) if trial > 1 => m
                    .recent_reflections_where(
                        Filter::all().task(&task.id).tags_any(vec![tag.clone()]),
                        3,
                    )
                    .await?
                    .into_iter()
                    .rev()
                    .filter_map(|r| match r.record {
                        Record::Reflection(x) => Some(x.text),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let mut observation = env.reset(task).await?.text;
            let mut transcript: Vec<Turn> = Vec::new();
            let mut total = 0.0;
            for _ in 0..self.config.max_steps {
                let context = json!({"prompt": task.prompt, "lessons": lessons, "transcript": transcript, "observation": observation});
                let messages = vec![
                    Message::system(self.prompts.render("episode_system", &context)?),
                    Message::user(self.prompts.render("episode_user", &context)?),
                ];
                let reply = self
                    .ask(task, trial, "act", messages, &mut usage, events)
                    .await?;
                let action = reply
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("")
                    .trim_matches('`')
                    .to_string();
                events.emit(Event::Action {
                    task_id: task.id.clone(),
                    trial,
                    kind: "act".into(),
                    code: action.clone(),
                });
                let step = env.step(&Action::act(action.clone())).await?;
                total += step.reward;
                observation = step.observation.text.clone();
                transcript.push(Turn {
                    action,
                    observation: step.observation.text,
                });
                if step.done {
                    break;
                }
            }
            let success = total >= self.config.success_reward;
            rewards.push(total);
            events.emit(Event::Evaluation {
                task_id: task.id.clone(),
                trial,
                feedback: observation.clone(),
                reward: total,
                verdict: if success { "success" } else { "failure" }.into(),
                passed: success,
            });
            if success || trial == self.config.trials.max(1) {
                return Ok(EpisodeResult {
                    task_id: task.id.clone(),
                    success,
                    rewards,
                    usage,
                });
            }
            let context = json!({"prompt": task.prompt, "transcript": transcript, "reward": total});
            let messages = vec![Message::user(
                self.prompts.render("episode_reflect", &context)?,
            )];
            let text = self
                .ask(task, trial, "reflect", messages, &mut usage, events)
                .await?
                .trim()
                .to_string();
            events.emit(Event::Reflection {
                task_id: task.id.clone(),
                trial,
                text: text.clone(),
            });
            if let Some(m) = &self.memory {
                let record = Record::Reflection(Reflection {
                    task_id: task.id.clone(),
                    env: task.suite.clone(),
                    trial,
                    text,
                    outcome: "episode failed".into(),
                    score: total,
                    tags: vec![tag.clone()],
                    created_at: memory::record::now(),
                });
                m.remember(record).await?;
            }
        }
        unreachable!("the last trial returns")
    }
}
