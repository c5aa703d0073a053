//! Reflexion on your own problems, as a library: tasks from JSONL, the local
//! model, the sandbox, and an embedded memory in a temporary directory.
//!
//! ```text
//! cargo run -p mneme-examples --example reflexion_custom_tasks
//! ```

use agent_core::agent::{grade, Agent, AgentConfig, MemoryEvents, Prompts};
use environments::code::HiddenTestGrader;
use environments::suites::parse_jsonl;
use environments::{CodingEnv, TaskSuite};
use memory::store::edge::{EdgeOptions, EdgeStore};
use memory::{BankConfig, LocalEmbedder, MemoryBank};
use mneme::config::Config;
use std::sync::Arc;
use tools::sandbox::{Sandbox, SandboxConfig};

const TASKS: &str = r#"{"task_id": "mine/clamp", "prompt": "def clamp(x: int, lo: int, hi: int) -> int:\n    \"\"\"Limit x to the range [lo, hi].\n    >>> clamp(5, 0, 3)\n    3\n    >>> clamp(-2, 0, 3)\n    0\n    \"\"\"\n", "entry_point": "clamp", "test": "def check(candidate):\n    assert candidate(2, 0, 3) == 2\n    assert candidate(9, -1, 1) == 1\n"}
{"task_id": "mine/initials", "prompt": "def initials(name: str) -> str:\n    \"\"\"Upper-case initials of each word, joined by dots.\n    >>> initials('ada lovelace')\n    'A.L.'\n    \"\"\"\n", "entry_point": "initials", "test": "def check(candidate):\n    assert candidate('grace brewster hopper') == 'G.B.H.'\n"}"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(None)?;
    let tasks = parse_jsonl(TASKS, "inline", "mine")?;

    // The model stack (starts the local llama.cpp server if needed), the sandbox, memory.
    let stack = mneme::wiring::chat_stack(&config).await?;
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default())?);
    let dir = tempfile::tempdir()?;
    let store = Arc::new(EdgeStore::open(
        &dir.path().join("memory"),
        384,
        true,
        &EdgeOptions::default(),
    )?);
    let embedder = Arc::new(LocalEmbedder::from_data_dir(&config.data_dir())?);
    let memory = MemoryBank::new(store, embedder, BankConfig::default());

    let agent_config = AgentConfig {
        strategy: "reflexion".into(),
        trials: 3,
        ..AgentConfig::default()
    };
    let budget = agent_config.budget.calls;
    let agent = Agent::new(
        stack.model.clone(),
        Prompts::builtin(),
        Some(memory.clone()),
        agent_config,
        "example",
    )?;
    // The hidden tests score what the agent submits, after it is done; the agent never sees them.
    let grader = HiddenTestGrader::new(sandbox.clone());

    for task in tasks.tasks() {
        let events = MemoryEvents::default();
        let mut env = CodingEnv::new(sandbox.clone());
        let solved = agent.solve(task, &mut env, &events, None).await?;
        let result = grade(task, &solved, &grader, budget, &events).await?;
        println!(
            "{:<16} passed={:<5} trials={} by-trial={:?} tokens={}",
            task.id,
            result.passed,
            result.trials_used,
            result.passed_by_trial,
            result.usage.total_tokens()
        );
    }
    println!(
        "reflections in memory: {}",
        memory.stats().await?.reflections
    );
    Ok(())
}
