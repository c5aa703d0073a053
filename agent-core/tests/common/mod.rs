//! Helpers shared by the search tests: scripted models and trees read from checkpoints.
#![allow(dead_code)] // each test binary uses some of the helpers

use agent_core::llm::{ScriptedModel, ScriptedTurn, Usage};
use agent_core::strategy::lats::tree::Tree;
use std::path::Path;
use std::sync::Arc;

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
