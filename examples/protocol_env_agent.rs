//! A language model plays the Python text game in `examples/envs/` over mneme's
//! JSON-lines environment protocol.
//!
//! ```text
//! cargo run -p mneme-examples --example protocol_env_agent
//! ```

use agent_core::llm::{ChatRequest, Message};
use environments::suites::load_custom_tasks;
use environments::{Action, Environment, ProtocolConfig, ProtocolEnv, TaskSuite};
use mneme::config::Config;

const SYSTEM: &str = "You play a text adventure. Reply with exactly one command and nothing else. \
Commands: look, search <thing>, take key, open chest, take gem.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("envs");
    let tasks = load_custom_tasks(&here.join("text_game_tasks.jsonl"))?;
    let stack = mneme::wiring::chat_stack(&Config::load(None)?).await?;

    for task in tasks.tasks() {
        let script = here.join("text_game.py").display().to_string();
        let mut env = ProtocolEnv::spawn(ProtocolConfig::new(
            "text_game",
            vec!["python3".into(), script],
        ))?;
        let mut messages = vec![
            Message::system(SYSTEM),
            Message::user(env.reset(task).await?.text),
        ];
        let mut total = 0.0;
        for _ in 0..10 {
            let reply = stack
                .model
                .chat(
                    &ChatRequest::new(messages.clone())
                        .temperature(0.0)
                        .max_tokens(12),
                )
                .await?;
            let command = reply
                .text()
                .lines()
                .next()
                .unwrap_or("look")
                .trim()
                .trim_matches('`')
                .to_lowercase();
            let step = env.step(&Action::act(&command)).await?;
            println!("[{}] > {command}\n{}", task.id, step.observation.text);
            total += step.reward;
            messages.push(Message::assistant(command));
            messages.push(Message::user(step.observation.text));
            if step.done {
                break;
            }
        }
        env.close().await?;
        println!("[{}] reward {total}\n", task.id);
    }
    Ok(())
}
