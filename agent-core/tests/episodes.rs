//! Strategies over episodes of a custom environment, with a scripted model: the same agent and
//! strategies as for code, one attempt being one episode.

use agent_core::agent::{grade, Agent, AgentConfig, Event, MemoryEvents, Prompts};
use agent_core::llm::ScriptedModel;
use async_trait::async_trait;
use environments::{
    Action, EnvError, Environment, Grade, Grader, Observation, Step, Task, TaskKind,
};
use memory::embed::HashingEmbedder;
use memory::store::edge::{EdgeOptions, EdgeStore};
use memory::{BankConfig, MemoryBank};
use std::sync::Arc;

/// Say the secret word within two moves.
struct Password {
    secret: String,
    moves: u32,
}

#[async_trait]
impl Environment for Password {
    async fn reset(&mut self, task: &Task) -> Result<Observation, EnvError> {
        self.secret = task.prompt.rsplit(' ').next().unwrap_or("").to_string();
        self.moves = 0;
        Ok(Observation::text("A door asks for the password."))
    }
    async fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        self.moves += 1;
        let right = action.content.trim() == self.secret;
        Ok(Step {
            observation: Observation::text(if right { "The door opens." } else { "Wrong." }),
            reward: if right { 1.0 } else { 0.0 },
            done: right || self.moves >= 2,
            info: serde_json::Value::Null,
        })
    }
    fn name(&self) -> &str {
        "password"
    }
}

/// Replays an episode's actions in a fresh `Password`.
struct Replay;

#[async_trait]
impl Grader for Replay {
    async fn grade(&self, task: &Task, candidate: &str) -> Result<Grade, EnvError> {
        let actions: Vec<Action> = serde_json::from_str(candidate).unwrap();
        let mut env = fresh();
        env.reset(task).await?;
        let mut total = 0.0;
        for a in &actions {
            total += env.step(a).await?.reward;
        }
        Ok(Grade {
            passed: total >= 1.0,
            verdict: if total >= 1.0 { "passed" } else { "failed" }.into(),
            reason: None,
        })
    }
}

fn fresh() -> Password {
    Password {
        secret: String::new(),
        moves: 0,
    }
}

fn door() -> Task {
    Task {
        id: "door".into(),
        suite: "password".into(),
        prompt: "Open the door; the password is swordfish".into(),
        kind: TaskKind::Custom(serde_json::json!({})),
    }
}

fn agent(model: Arc<ScriptedModel>, bank: Option<MemoryBank>, strategy: &str) -> Agent {
    let config = AgentConfig {
        strategy: strategy.into(),
        ..AgentConfig::default()
    };
    Agent::new(model, Prompts::builtin(), bank, config, "ep").unwrap()
}

#[tokio::test]
async fn a_failed_episode_teaches_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        EdgeStore::open(&dir.path().join("m"), 64, true, &EdgeOptions::default()).unwrap(),
    );
    let bank = MemoryBank::new(
        store,
        Arc::new(HashingEmbedder::new(64)),
        BankConfig::default(),
    );
    let model = Arc::new(ScriptedModel::answering(&[
        "open",
        "please",
        "I guessed words; the goal states the password as its last word: say swordfish.",
        "swordfish",
    ]));
    let agent = agent(model.clone(), Some(bank.clone()), "reflexion");
    let task = door();
    let events = MemoryEvents::default();
    let solved = agent
        .solve(&task, &mut fresh(), &events, None)
        .await
        .unwrap();
    let scores: Vec<f64> = solved.candidates.iter().map(|c| c.score).collect();
    assert_eq!(scores, vec![0.0, 1.0]);
    assert_eq!(solved.submitted, Some(1));
    assert_eq!(
        solved.candidates[1].content,
        r#"[{"kind":"act","content":"swordfish"}]"#
    );
    let result = grade(&task, &solved, &Replay, 8, &events).await.unwrap();
    assert!(result.passed && result.any_passed, "{result:?}");
    assert_eq!(result.passed_by_trial, vec![false, true]);
    let second_episode_prompt = &model.requests()[3].messages[1].content;
    assert!(
        second_episode_prompt.contains("say swordfish"),
        "the lesson reached episode 2: {second_episode_prompt}"
    );
    assert!(second_episode_prompt.contains("A door asks for the password."));
    assert_eq!(bank.stats().await.unwrap().reflections, 1);
    assert_eq!(
        events
            .events()
            .iter()
            .filter(|e| matches!(e, Event::Evaluation { .. }))
            .count(),
        2
    );
}

#[tokio::test]
async fn best_of_n_and_lats_play_episodes_too() {
    // best_of_n: a greedy episode that fails (two moves), then a sampled one that succeeds.
    let model = Arc::new(ScriptedModel::answering(&["open", "please", "swordfish"]));
    let solved = agent(model.clone(), None, "best_of_n")
        .solve(&door(), &mut fresh(), &MemoryEvents::default(), None)
        .await
        .unwrap();
    assert_eq!((solved.candidates.len(), solved.submitted), (2, Some(1)));
    assert_eq!(
        model.requests()[2].temperature,
        Some(0.8),
        "the sample is sampled"
    );
    assert!(model.requests()[2].seed.is_some(), "with a seed of its own");

    // lats: the root episode fails, a reflection on it, then a child episode succeeds.
    let model = Arc::new(ScriptedModel::answering(&[
        "open",
        "please",
        "Say the last word of the goal.",
        "swordfish",
    ]));
    let solved = agent(model.clone(), None, "lats")
        .solve(&door(), &mut fresh(), &MemoryEvents::default(), None)
        .await
        .unwrap();
    assert_eq!((solved.candidates.len(), solved.submitted), (2, Some(1)));
    let child_prompt = &model.requests()[3].messages[1].content;
    assert!(child_prompt.contains("Say the last word"), "{child_prompt}");
}

/// An environment that dies on its second move.
struct Crashing;

#[async_trait]
impl Environment for Crashing {
    async fn reset(&mut self, _task: &Task) -> Result<Observation, EnvError> {
        Ok(Observation::text("ready"))
    }
    async fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        if action.content == "boom" {
            return Err(EnvError::Crashed {
                env: "crashing".into(),
                op: "step".into(),
                status: "exit status: 1".into(),
                stderr: "Traceback: KeyError 'boom'".into(),
            });
        }
        Ok(Step {
            observation: Observation::text("ok"),
            reward: 0.0,
            done: true,
            info: serde_json::Value::Null,
        })
    }
    fn name(&self) -> &str {
        "crashing"
    }
}

#[tokio::test]
async fn an_environment_that_crashes_ends_its_task_with_the_error_and_keeps_what_was_made() {
    let model = Arc::new(ScriptedModel::answering(&["wait", "lesson", "boom"]));
    let events = MemoryEvents::default();
    let solved = agent(model, None, "reflexion")
        .solve(&door(), &mut Crashing, &events, None)
        .await
        .expect("the environment's fault ends the task, not the run");
    let error = solved.error.as_deref().unwrap();
    assert!(
        error.contains("crashing") && error.contains("KeyError"),
        "{error}"
    );
    assert_eq!(solved.candidates.len(), 1, "the first episode is kept");
    assert!(events
        .events()
        .iter()
        .any(|e| matches!(e, Event::TaskError { .. })));
}
