//! Extracting insights the ExpeL way: the model compares a failed attempt with the attempt
//! that then passed (or reads a batch of first-try successes) and edits the numbered rule list
//! with at most a few operations per call. Each comparison has a key, so an extraction that was
//! stopped resumes where it was without voting twice.

use super::insights::{self, Applied, Discarded, Rule};
use super::trajectory::{Step, Trajectory};
use crate::agent::{AgentError, Prompts};
use crate::llm::{ChatModel, ChatRequest, ErrorClass, Message};
use memory::MemoryBank;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How insights are extracted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtractConfig {
    /// The rule set (library) the rules go to.
    pub library: String,
    /// Rules the list holds at most (ExpeL: 20).
    pub max_rules: usize,
    /// Operations applied per reply at most.
    pub max_ops: usize,
    /// First-try successes shown together in one call.
    pub success_batch: usize,
    /// Completion tokens per call.
    pub max_tokens: u32,
    /// Characters of code, feedback or prompt shown per attempt (longer is cut).
    pub max_chars: usize,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        Self {
            library: "default".into(),
            max_rules: 20,
            max_ops: 3,
            success_batch: 4,
            max_tokens: 256,
            max_chars: 1200,
        }
    }
}

/// What one call compares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Comparison {
    /// A task failed, then passed: the failed attempt (with its reflection) and the pass.
    Fixed {
        /// The task's trajectory.
        trajectory: Trajectory,
    },
    /// Tasks that passed on the first attempt.
    Successes {
        /// Their trajectories.
        trajectories: Vec<Trajectory>,
    },
}

impl Comparison {
    /// Its key: the kind and the tasks, scoped by `source` (a run id).
    pub fn key(&self, source: &str) -> String {
        match self {
            Comparison::Fixed { trajectory } => format!("fixed:{source}:{}", trajectory.task_id),
            Comparison::Successes { trajectories } => {
                let ids: Vec<&str> = trajectories.iter().map(|t| t.task_id.as_str()).collect();
                format!("successes:{source}:{}", ids.join(","))
            }
        }
    }

    /// The compared tasks' prompts.
    pub fn task_prompts(&self) -> Vec<&str> {
        match self {
            Comparison::Fixed { trajectory } => vec![&trajectory.prompt],
            Comparison::Successes { trajectories } => {
                trajectories.iter().map(|t| t.prompt.as_str()).collect()
            }
        }
    }

    /// The names the compared tasks define (their functions): a general rule names none.
    pub fn task_names(&self) -> Vec<String> {
        self.task_prompts()
            .into_iter()
            .flat_map(crate::agent::code::top_level_defs)
            .collect()
    }

    /// The tasks it is about.
    pub fn task_ids(&self) -> Vec<String> {
        match self {
            Comparison::Fixed { trajectory } => vec![trajectory.task_id.clone()],
            Comparison::Successes { trajectories } => {
                trajectories.iter().map(|t| t.task_id.clone()).collect()
            }
        }
    }
}

/// The comparisons `trajectories` offer: every task that failed and then passed, then the
/// first-try successes in batches of `batch`. Tasks that never passed offer none.
pub fn comparisons(trajectories: &[Trajectory], batch: usize) -> Vec<Comparison> {
    let fixed = trajectories
        .iter()
        .filter(|t| t.fixed().is_some())
        .map(|t| Comparison::Fixed {
            trajectory: t.clone(),
        });
    let first_try: Vec<Trajectory> = trajectories
        .iter()
        .filter(|t| t.first_pass() == Some(0))
        .cloned()
        .collect();
    let successes = first_try
        .chunks(batch.max(1))
        .map(|chunk| Comparison::Successes {
            trajectories: chunk.to_vec(),
        });
    fixed.chain(successes).collect()
}

/// One call's record: what was compared, what the model said, what it changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtractStep {
    /// The comparison's key.
    pub key: String,
    /// The tasks compared.
    pub tasks: Vec<String>,
    /// The model's reply (empty when the call could not be made).
    pub reply: String,
    /// Operations applied and discarded.
    pub outcome: Applied,
    /// Rules in the list afterwards.
    pub rules: usize,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
}

fn cut(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{} …(cut)", &text[..i]),
        None => text.to_string(),
    }
}

fn shown_step(step: &Step, max_chars: usize) -> serde_json::Value {
    json!({
        "code": cut(step.code.as_deref().unwrap_or(""), max_chars),
        "feedback": cut(&step.feedback, max_chars),
        "reflection": step.reflection.as_deref().map(|r| cut(r, max_chars)),
    })
}

/// The messages of one comparison, given the rules as they are now.
pub fn messages(
    prompts: &Prompts,
    comparison: &Comparison,
    rules: &[Rule],
    config: &ExtractConfig,
) -> Result<Vec<Message>, AgentError> {
    let n = config.max_chars;
    let tasks: Vec<serde_json::Value> = match comparison {
        Comparison::Fixed { trajectory } => {
            let (failed, passed) = trajectory.fixed().expect("a fixed comparison has both");
            vec![json!({
                "prompt": cut(&trajectory.prompt, n),
                "failed": shown_step(failed, n),
                "passed": shown_step(passed, n),
            })]
        }
        Comparison::Successes { trajectories } => trajectories
            .iter()
            .filter_map(|t| {
                let pass = &t.steps[t.first_pass()?];
                Some(json!({"prompt": cut(&t.prompt, n), "passed": shown_step(pass, n)}))
            })
            .collect(),
    };
    let context = json!({
        "kind": match comparison { Comparison::Fixed { .. } => "fixed", _ => "successes" },
        "tasks": tasks,
        "rules": rules.iter().map(|r| &r.text).collect::<Vec<_>>(),
        "max_rules": config.max_rules,
        "full": rules.len() >= config.max_rules,
        "max_ops": config.max_ops,
    });
    Ok(vec![
        Message::system(prompts.render("insights_system", &context)?),
        Message::user(prompts.render("insights_user", &context)?),
    ])
}

/// One comparison: asks the model (greedy) and applies its operations to the rules of
/// `config.library`. A prompt too long for the model's context is recorded as a discarded
/// comparison, not an error; other model errors are returned.
pub async fn extract_one(
    model: &dyn ChatModel,
    prompts: &Prompts,
    memory: &MemoryBank,
    config: &ExtractConfig,
    comparison: &Comparison,
    source: &str,
) -> Result<ExtractStep, AgentError> {
    let shown = insights::rules(memory, &config.library).await?;
    let request = ChatRequest::new(messages(prompts, comparison, &shown, config)?)
        .temperature(0.0)
        .max_tokens(config.max_tokens);
    let mut step = ExtractStep {
        key: comparison.key(source),
        tasks: comparison.task_ids(),
        reply: String::new(),
        outcome: Applied::default(),
        rules: shown.len(),
        prompt_tokens: 0,
        completion_tokens: 0,
    };
    let response = match model.chat(&request).await {
        Ok(r) => r,
        Err(e) if e.class() == ErrorClass::ContextLength => {
            step.outcome.discarded.push(Discarded {
                line: String::new(),
                reason: format!("the comparison does not fit the model's context: {e}"),
            });
            return Ok(step);
        }
        Err(e) => return Err(e.into()),
    };
    step.reply = response.text().to_string();
    step.prompt_tokens = response.usage.prompt_tokens;
    step.completion_tokens = response.usage.completion_tokens;
    let (ops, mut discarded) = insights::parse_operations(&step.reply, config.max_ops);
    let (ops, mut specific) =
        insights::general_only(ops, &comparison.task_names(), &comparison.task_prompts());
    discarded.append(&mut specific);
    let mut outcome =
        insights::apply(memory, &config.library, &shown, ops, config.max_rules).await?;
    discarded.append(&mut outcome.discarded);
    outcome.discarded = discarded;
    for d in &outcome.discarded {
        tracing::info!(key = %step.key, line = %d.line, reason = %d.reason, "insight operation discarded");
    }
    step.outcome = outcome;
    step.rules = insights::rules(memory, &config.library).await?.len();
    Ok(step)
}
