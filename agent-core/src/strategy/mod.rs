//! Strategies: how an agent spends its budget on one task. Each is one module against the
//! [`Strategy`] trait, written in terms of attempts ([`Work::attempt`]), reflections
//! ([`Work::reflect`]), memory ([`Work::retrieve`]) and the choice of what it would submit
//! ([`Work::choose`]), so every strategy runs on every environment. The run loop
//! (`crate::run`) is the same for all of them.
//!
//! | name | module | what it does |
//! |---|---|---|
//! | `simple` | [`simple`] | one attempt, submitted as it is |
//! | `reflexion` | [`reflexion`] | attempt, reflect on a failure, store the reflection, retry with it |
//! | `best_of_n` | [`best_of_n`] | the greedy attempt plus samples; the best by internal tests |
//! | `lats` | [`lats`] | Monte Carlo tree search over attempts, the tree in `petgraph`, resumable |
//! | `mcts` | [`mcts`] | Monte Carlo tree search over an environment's actions, same tree, resumable |
//! | `voyager` | [`voyager`] | lifelong learning: curriculum, skill library, programs, critic; sessions |
//!
//! A new strategy: a module with a type implementing [`Strategy`], and a line in [`by_name`].

pub mod best_of_n;
pub mod lats;
pub mod mcts;
pub mod reflexion;
pub mod simple;
pub mod voyager;

use crate::agent::{AgentError, Work};
use async_trait::async_trait;
use std::sync::Arc;

/// How an agent works on one task.
#[async_trait]
pub trait Strategy: Send + Sync {
    /// The name `agent.strategy` and `--strategy` use.
    fn name(&self) -> &'static str;
    /// Works on `work`'s task until it is satisfied or the budget is spent. What it would
    /// submit is what it last passed to [`Work::choose`].
    async fn solve(&self, work: &mut Work<'_>) -> Result<(), AgentError>;
}

/// Refuses a coding task for a strategy that acts in an environment (`mcts`, `voyager`):
/// [`AgentError::Unsuited`] with `reason`.
pub(crate) fn refuse_code(work: &Work<'_>, strategy: &str, reason: &str) -> Result<(), AgentError> {
    if matches!(work.task().kind, environments::TaskKind::Code(_)) {
        return Err(AgentError::Unsuited {
            strategy: strategy.into(),
            task: work.task().id.clone(),
            reason: reason.into(),
        });
    }
    Ok(())
}

/// The built-in strategies' names.
pub const NAMES: &[&str] = &[
    "simple",
    "reflexion",
    "best_of_n",
    "lats",
    "mcts",
    "voyager",
];

/// No strategy has this name.
#[derive(Debug, thiserror::Error)]
#[error("unknown strategy {name:?}; the strategies are: {}", NAMES.join(", "))]
pub struct UnknownStrategy {
    /// The name asked for.
    pub name: String,
}

/// The built-in strategy called `name`.
pub fn by_name(name: &str) -> Result<Arc<dyn Strategy>, UnknownStrategy> {
    Ok(match name {
        "simple" => Arc::new(simple::Simple),
        "reflexion" => Arc::new(reflexion::Reflexion),
        "best_of_n" | "best-of-n" => Arc::new(best_of_n::BestOfN),
        "lats" => Arc::new(lats::Lats),
        "mcts" => Arc::new(mcts::Mcts),
        "voyager" => Arc::new(voyager::Voyager),
        other => {
            return Err(UnknownStrategy {
                name: other.to_string(),
            })
        }
    })
}

/// Checks a strategy name (for command-line parsing).
pub fn parse_name(name: &str) -> Result<String, UnknownStrategy> {
    by_name(name).map(|s| s.name().to_string())
}
