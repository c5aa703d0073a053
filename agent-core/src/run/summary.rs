//! `summary.json`: what a run achieved, computed from its results alone.

use super::{RunSpec, RunStatus};
use crate::agent::TaskResult;
use crate::llm::UsageTotals;
use serde::{Deserialize, Serialize};

/// The numbers of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Run id.
    pub run_id: String,
    /// Suite.
    pub suite: String,
    /// Strategy name.
    pub strategy: String,
    /// Configured trials.
    pub trials: u32,
    /// Model.
    pub model: String,
    /// Why the run ended.
    pub status: RunStatus,
    /// Tasks in the run.
    pub tasks_total: usize,
    /// Tasks finished.
    pub tasks_done: usize,
    /// Finished tasks whose submission passed.
    pub passed: usize,
    /// passed / tasks_done.
    pub pass_at_1: f64,
    /// For k = 1..=trials: the pass@1 a k-trial run would have.
    pub pass_at_1_by_trial: Vec<f64>,
    /// Submissions by hidden-test verdict.
    pub verdicts: std::collections::BTreeMap<String, usize>,
    /// Tasks that ended with an error.
    pub errors: usize,
    /// Tokens and cost.
    pub usage: UsageTotals,
    /// Wall time over all sessions of the run.
    pub wall_ms: u64,
    /// What each model endpoint did in the run's last session (requests, tokens, errors,
    /// busy fraction); empty when not recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<crate::llm::EndpointReport>,
}

impl Summary {
    /// The summary of `results` (in any order).
    pub fn from_results(
        spec: &RunSpec,
        results: &[TaskResult],
        status: RunStatus,
        wall_ms: u64,
    ) -> Self {
        let mut usage = UsageTotals::default();
        let mut verdicts = std::collections::BTreeMap::new();
        let trials = results
            .iter()
            .map(|r| r.passed_by_trial.len())
            .max()
            .unwrap_or(0);
        let mut by_trial = vec![0usize; trials];
        for r in results {
            usage.merge(&r.usage);
            *verdicts.entry(r.verdict.clone()).or_insert(0) += 1;
            for (k, passed) in r.passed_by_trial.iter().enumerate() {
                by_trial[k] += *passed as usize;
            }
        }
        let done = results.len();
        let passed = results.iter().filter(|r| r.passed).count();
        let rate = |n: usize| {
            if done == 0 {
                0.0
            } else {
                n as f64 / done as f64
            }
        };
        Self {
            run_id: spec.run_id.clone(),
            suite: spec.suite.clone(),
            strategy: format!("{:?}", spec.agent.strategy).to_lowercase()
                + if spec.agent.cross_task {
                    "+cross-task"
                } else {
                    ""
                },
            trials: match spec.agent.strategy {
                crate::agent::StrategyKind::Simple => 1,
                crate::agent::StrategyKind::Reflexion => spec.agent.trials,
            },
            model: spec.model.clone(),
            status,
            tasks_total: spec.task_ids.len(),
            tasks_done: done,
            passed,
            pass_at_1: rate(passed),
            pass_at_1_by_trial: by_trial.into_iter().map(rate).collect(),
            verdicts,
            errors: results.iter().filter(|r| r.error.is_some()).count(),
            usage,
            wall_ms,
            endpoints: Vec::new(),
        }
    }

    /// The parts that must not depend on interruptions: everything but wall time and status.
    pub fn outcome(&self) -> (usize, usize, Vec<f64>, u64, u64) {
        (
            self.tasks_done,
            self.passed,
            self.pass_at_1_by_trial.clone(),
            self.usage.prompt_tokens,
            self.usage.completion_tokens,
        )
    }
}
