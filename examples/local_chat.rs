//! Ask the local model a question through the full model stack, as a library.
//!
//! ```text
//! cargo run -p mneme-examples --example local_chat -- "Write fizzbuzz in Python"
//! ```
//!
//! Uses `mneme.toml` (or the defaults): the local llama.cpp server is set up and
//! started on first use. Point `MNEME_MODEL__BASE_URL` elsewhere to use another server.

use agent_core::llm::{ChatRequest, Message};
use mneme::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let question = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let question = if question.is_empty() {
        "Write a haiku about memory.".to_string()
    } else {
        question
    };

    let config = Config::load(None)?;
    let stack = mneme::wiring::chat_stack(&config).await?;

    let request = ChatRequest::new(vec![
        Message::system("You are a concise assistant."),
        Message::user(question),
    ])
    .temperature(0.0)
    .max_tokens(256);
    let response = stack.model.chat(&request).await?;

    println!("{}", response.text());
    let totals = stack.ledger.totals();
    eprintln!(
        "{} tokens in {:?} from {}",
        totals.total_tokens(),
        response.latency,
        response.model
    );
    Ok(())
}
