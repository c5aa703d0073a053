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
    /// The most attempts any task made (trials, samples, tree nodes).
    pub trials: u32,
    /// Model calls a task may make.
    #[serde(default)]
    pub budget_calls: u32,
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
    /// For k = 1..=trials: the pass@1 a run stopped after k attempts would have.
    pub pass_at_1_by_trial: Vec<f64>,
    /// For k = 1..=budget_calls: the pass@1 a run with a budget of k calls would have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_at_1_by_call: Vec<f64>,
    /// For k = 1..=budget_calls: mean tokens a task had spent by then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mean_tokens_by_call: Vec<f64>,
    /// Mean model calls per task.
    #[serde(default)]
    pub mean_calls: f64,
    /// Tasks where any candidate would have passed, submitted or not (generation, against
    /// `passed`: selection).
    #[serde(default)]
    pub any_passed: usize,
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
        for r in results {
            usage.merge(&r.usage);
            *verdicts.entry(r.verdict.clone()).or_insert(0) += 1;
        }
        let trials = results.iter().map(|r| r.passed_by_trial.len()).max();
        let budget_calls = spec.agent.budget.calls as usize;
        let done = results.len();
        let passed = results.iter().filter(|r| r.passed).count();
        let rate = |n: f64| if done == 0 { 0.0 } else { n / done as f64 };
        let by_trial = per_point(results, trials.unwrap_or(0), |r| &r.passed_by_trial);
        let by_call = per_point(results, budget_calls, |r| &r.passed_by_call);
        let tokens_by_call = (0..budget_calls)
            .map(|k| rate(results.iter().map(|r| tokens_at(r, k) as f64).sum()))
            .collect();
        let calls: u64 = results.iter().map(|r| r.calls as u64).sum();
        Self {
            run_id: spec.run_id.clone(),
            suite: spec.suite.clone(),
            strategy: spec.agent.strategy.clone()
                + if spec.agent.cross_task {
                    "+cross-task"
                } else {
                    ""
                },
            trials: trials.unwrap_or(0) as u32,
            budget_calls: budget_calls as u32,
            model: spec.model.clone(),
            status,
            tasks_total: spec.task_ids.len(),
            tasks_done: done,
            passed,
            pass_at_1: rate(passed as f64),
            pass_at_1_by_trial: by_trial.into_iter().map(|n| rate(n as f64)).collect(),
            pass_at_1_by_call: by_call.into_iter().map(|n| rate(n as f64)).collect(),
            mean_tokens_by_call: tokens_by_call,
            mean_calls: rate(calls as f64),
            any_passed: results.iter().filter(|r| r.any_passed).count(),
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

/// For k = 0..points: how many results pass at point k, a result shorter than that counting
/// as its last point (a task that stopped early would have submitted the same).
fn per_point(
    results: &[TaskResult],
    points: usize,
    of: impl Fn(&TaskResult) -> &Vec<bool>,
) -> Vec<usize> {
    (0..points)
        .map(|k| {
            let at = |v: &Vec<bool>| v.get(k).or(v.last()).copied().unwrap_or(false);
            results.iter().filter(|r| at(of(r))).count()
        })
        .collect()
}

/// Tokens `r` had spent by call k (0-based; its total after its last call).
fn tokens_at(r: &TaskResult, k: usize) -> u64 {
    let v = &r.tokens_by_call;
    v.get(k).or(v.last()).copied().unwrap_or(0)
}
