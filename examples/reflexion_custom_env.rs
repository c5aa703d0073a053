//! Plug your own environment into Reflexion: implement `Environment`, hand it to an `Agent`
//! with the local model and an embedded memory; a `Grader` of your own replays what it
//! submits in a fresh environment. (From the command line, an environment in any language:
//! `mneme run --env "python3 my_env.py" --tasks my_tasks.jsonl`.)
//!
//! ```text
//! cargo run -p mneme-examples --example reflexion_custom_env
//! ```

use agent_core::agent::{grade, Agent, AgentConfig, EpisodeConfig, MemoryEvents, Prompts};
use async_trait::async_trait;
use environments::{
    Action, EnvError, Environment, Grade, Grader, Observation, Step, Task, TaskKind,
};
use memory::store::edge::{EdgeOptions, EdgeStore};
use memory::{BankConfig, LocalEmbedder, MemoryBank};
use mneme::config::Config;
use std::sync::Arc;

/// Guess a number between 1 and 100; the environment says "higher" or "lower".
struct GuessNumber {
    secret: i64,
}

#[async_trait]
impl Environment for GuessNumber {
    async fn reset(&mut self, task: &Task) -> Result<Observation, EnvError> {
        self.secret = match &task.kind {
            TaskKind::Custom(v) => v["secret"].as_i64().unwrap_or(42),
            _ => 42,
        };
        Ok(Observation::text(
            "I am thinking of a number from 1 to 100. Reply with one number.",
        ))
    }

    async fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        let guess: Option<i64> = action
            .content
            .split(|c: char| !c.is_ascii_digit())
            .find_map(|w| w.parse().ok());
        let (text, reward) = match guess {
            None => ("That is not a number.".to_string(), 0.0),
            Some(g) if g < self.secret => (format!("{g} is too low: higher."), 0.0),
            Some(g) if g > self.secret => (format!("{g} is too high: lower."), 0.0),
            Some(g) => (format!("{g} is right!"), 1.0),
        };
        Ok(Step {
            observation: Observation::text(text),
            reward,
            done: reward > 0.0,
            info: serde_json::Value::Null,
        })
    }

    fn name(&self) -> &str {
        "guess-number"
    }
}

/// Replays a submitted episode (its actions as JSON) in a fresh game.
struct Replay;

#[async_trait]
impl Grader for Replay {
    async fn grade(&self, task: &Task, candidate: &str) -> Result<Grade, EnvError> {
        let actions: Vec<Action> =
            serde_json::from_str(candidate).map_err(|e| EnvError::Usage(e.to_string()))?;
        let mut game = GuessNumber { secret: 0 };
        game.reset(task).await?;
        let mut total = 0.0;
        for action in &actions {
            total += game.step(action).await?.reward;
        }
        let passed = total >= 1.0;
        Ok(Grade {
            passed,
            verdict: if passed { "passed" } else { "failed" }.into(),
            reason: None,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(None)?;
    let stack = mneme::wiring::chat_stack(&config).await?;
    let dir = tempfile::tempdir()?;
    let store = Arc::new(EdgeStore::open(
        &dir.path().join("memory"),
        384,
        true,
        &EdgeOptions::default(),
    )?);
    let memory = MemoryBank::new(
        store,
        Arc::new(LocalEmbedder::from_data_dir(&config.data_dir())?),
        BankConfig::default(),
    );
    let config = AgentConfig {
        strategy: "reflexion".into(),
        trials: 3,
        episode: EpisodeConfig {
            max_steps: 8,
            ..EpisodeConfig::default()
        },
        ..AgentConfig::default()
    };
    let budget = config.budget.calls;
    let agent = Agent::new(
        stack.model.clone(),
        Prompts::builtin(),
        Some(memory),
        config,
        "guess-example",
    )?;

    let task = Task {
        id: "guess/73".into(),
        suite: "guess".into(),
        prompt:
            "Find the secret number in as few guesses as possible (use the higher/lower hints)."
                .into(),
        kind: TaskKind::Custom(serde_json::json!({"secret": 73})),
    };
    let events = MemoryEvents::default();
    let mut game = GuessNumber { secret: 0 };
    let solved = agent.solve(&task, &mut game, &events, None).await?;
    let result = grade(&task, &solved, &Replay, budget, &events).await?;
    println!(
        "passed: {}, by episode: {:?}, calls: {}, tokens: {}",
        result.passed,
        result.passed_by_trial,
        result.calls,
        result.usage.total_tokens()
    );
    Ok(())
}
