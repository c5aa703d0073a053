//! Helpers shared by the agent tests: scripted models, trees read from checkpoints, an embedded
//! store on disk, inline task files.
#![allow(dead_code)] // each test binary uses some of the helpers

use agent_core::llm::{ScriptedModel, ScriptedTurn, Usage};
use agent_core::strategy::lats::tree::Tree;
use environments::{suites::parse_jsonl, Task, TaskSuite};
use memory::embed::HashingEmbedder;
use memory::store::edge::{EdgeOptions, EdgeStore};
use memory::{BankConfig, MemoryBank};
use std::path::Path;
use std::sync::Arc;

/// Memory in a real embedded store under `dir` (hashing embeddings, 64 dimensions).
pub fn memory(dir: &Path) -> MemoryBank {
    let store = EdgeStore::open(&dir.join("mem"), 64, true, &EdgeOptions::default()).unwrap();
    MemoryBank::new(
        Arc::new(store),
        Arc::new(HashingEmbedder::new(64)),
        BankConfig::default(),
    )
}

/// The tasks of an inline JSON-lines task file in HumanEval's shape.
pub fn tasks_of(jsonl: &str) -> Vec<Task> {
    parse_jsonl(jsonl, "inline", "toy")
        .unwrap()
        .tasks()
        .to_vec()
}

/// A model playing `turns`, each call reporting 10 prompt and 5 completion tokens.
pub fn scripted(turns: Vec<ScriptedTurn>) -> Arc<ScriptedModel> {
    let usage = Usage {
        prompt_tokens: 10,
        completion_tokens: 5,
    };
    Arc::new(ScriptedModel::new("scripted", turns, usage))
}

/// Each text as an answer.
pub fn answers(texts: &[&str]) -> Vec<ScriptedTurn> {
    texts
        .iter()
        .map(|t| ScriptedTurn::Answer(t.to_string()))
        .collect()
}

/// The search tree a task's checkpoint holds.
pub fn tree_of(checkpoint: &Path) -> Tree {
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(checkpoint).unwrap()).unwrap();
    let bytes = serde_json::to_vec(&file["strategy"]["tree"]).unwrap();
    Tree::from_json(&bytes, "test").unwrap()
}
