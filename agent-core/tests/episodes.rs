//! Reflexion over episodes of a custom environment, with a scripted model.

use agent_core::agent::{EpisodeAgent, EpisodeConfig, Event, MemoryEvents, Prompts};
use agent_core::llm::ScriptedModel;
use async_trait::async_trait;
use environments::{Action, EnvError, Environment, Observation, Step, Task, TaskKind};
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
    let agent = EpisodeAgent::new(
        model.clone(),
        Prompts::builtin(),
        Some(bank.clone()),
        EpisodeConfig::default(),
        "ep",
    );
    let task = Task {
        id: "door".into(),
        suite: "password".into(),
        prompt: "Open the door; the password is swordfish".into(),
        kind: TaskKind::Custom(serde_json::json!({})),
    };
    let mut env = Password {
        secret: String::new(),
        moves: 0,
    };
    let events = MemoryEvents::default();
    let result = agent.solve(&mut env, &task, &events).await.unwrap();
    assert!(result.success);
    assert_eq!(result.rewards, vec![0.0, 1.0]);
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
