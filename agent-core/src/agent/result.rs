//! What a strategy hands back ([`Solved`]: its candidates and which one it would submit at each
//! budget point) and what the run makes of it once a [`Grader`] has scored it ([`TaskResult`]).
//! The grader is the run's, never the strategy's: hidden tests score a finished attempt only.

use super::events::{Event, EventSink};
use crate::llm::UsageTotals;
use environments::{EnvError, Grade, Grader, Task};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One candidate a strategy produced: code, or an episode's actions as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// What would be submitted.
    pub content: String,
    /// The attempt that produced it (1-based: trial, sample or tree node + 1).
    pub attempt: u32,
    /// Model calls spent on the task when it was made.
    pub calls_at: u32,
    /// Its internal score (fraction of internal tests passed, or episode reward).
    pub score: f64,
    /// Whether it passed its internal tests (or reached the episode's success reward).
    pub passed: bool,
}

/// A strategy's finished work on one task, before grading.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Solved {
    /// Task.
    pub task_id: String,
    /// Every candidate made, in order.
    pub candidates: Vec<Candidate>,
    /// The candidate submitted (an index into `candidates`); `None`: nothing to submit.
    pub submitted: Option<usize>,
    /// After attempt k (index k−1): the candidate a strategy stopped there would submit.
    pub choice_by_attempt: Vec<Option<usize>>,
    /// After model call k (index k−1): the candidate a strategy stopped there would submit.
    pub choice_by_call: Vec<Option<usize>>,
    /// Tokens (prompt + completion) spent after each model call.
    pub tokens_by_call: Vec<u64>,
    /// Model calls made.
    pub calls: u32,
    /// Tokens and cost.
    pub usage: UsageTotals,
    /// Wall time.
    pub wall_ms: u64,
    /// The agent's own failure that ended the task early (a prompt too long for the context).
    pub error: Option<String>,
}

/// The outcome of one task: one line of `results.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// Task.
    pub task_id: String,
    /// The submitted attempt passed the hidden tests.
    pub passed: bool,
    /// For k = 1..=attempts made: would a run stopped after k attempts have passed?
    pub passed_by_trial: Vec<bool>,
    /// Attempts made (trials, samples, tree nodes).
    pub trials_used: u32,
    /// Verdict of the hidden tests on the submission (or `no_code`, `error`).
    pub verdict: String,
    /// Why the submission did not pass, as the check said (never shown to the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The submitted code.
    pub submitted_code: Option<String>,
    /// Tokens and cost of this task.
    pub usage: UsageTotals,
    /// Wall time.
    pub wall_ms: u64,
    /// The error that ended the task early, if any.
    pub error: Option<String>,
    /// Model calls made.
    #[serde(default)]
    pub calls: u32,
    /// For k = 1..=the call budget: would a run stopped after k calls have passed?
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed_by_call: Vec<bool>,
    /// Tokens spent after each call made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens_by_call: Vec<u64>,
    /// Distinct candidates made.
    #[serde(default)]
    pub candidates: u32,
    /// Whether any candidate would have passed (generation), whichever was submitted (selection).
    #[serde(default)]
    pub any_passed: bool,
}

/// Grades every distinct candidate once, then reads the results off the strategy's choices.
/// `budget_calls` sets the length of `passed_by_call`.
pub async fn grade(
    task: &Task,
    solved: &Solved,
    grader: &dyn Grader,
    budget_calls: u32,
    events: &dyn EventSink,
) -> Result<TaskResult, EnvError> {
    let mut by_content: HashMap<&str, Grade> = HashMap::new();
    for c in &solved.candidates {
        if !by_content.contains_key(c.content.as_str()) {
            let grade = grader.grade(task, &c.content).await?;
            by_content.insert(&c.content, grade);
        }
    }
    let grade_of = |i: usize| &by_content[solved.candidates[i].content.as_str()];
    let passes = |choice: &Option<usize>| choice.is_some_and(|i| grade_of(i).passed);
    let passed_by_trial: Vec<bool> = solved.choice_by_attempt.iter().map(passes).collect();
    for (k, passed) in passed_by_trial.iter().enumerate() {
        events.emit(Event::TrialScore {
            task_id: task.id.clone(),
            trial: k as u32 + 1,
            passed: *passed,
        });
    }
    let passed_by_call = (0..budget_calls as usize)
        .map(|k| {
            let last = solved.choice_by_call.len().checked_sub(1);
            let at = solved.choice_by_call.get(k.min(last.unwrap_or(0)));
            at.is_some_and(passes)
        })
        .collect();
    let attempts = solved.choice_by_attempt.len() as u32;
    let (verdict, reason, passed, code, attempt) = match solved.submitted {
        _ if solved.error.is_some() => ("error".to_string(), None, false, None, attempts),
        Some(i) => {
            let g = grade_of(i);
            let code = solved.candidates[i].content.clone();
            let attempt = solved.candidates[i].attempt;
            (
                g.verdict.clone(),
                g.reason.clone(),
                g.passed,
                Some(code),
                attempt,
            )
        }
        None => ("no_code".to_string(), None, false, None, attempts),
    };
    if let Some(code) = &code {
        events.emit(Event::Action {
            task_id: task.id.clone(),
            trial: attempt,
            kind: "submit".into(),
            code: code.clone(),
        });
    }
    events.emit(Event::Submission {
        task_id: task.id.clone(),
        trial: attempt,
        verdict: verdict.clone(),
        passed,
    });
    Ok(TaskResult {
        task_id: task.id.clone(),
        passed,
        passed_by_trial,
        trials_used: attempts,
        verdict,
        reason,
        submitted_code: code,
        usage: solved.usage,
        wall_ms: solved.wall_ms,
        error: solved.error.clone(),
        calls: solved.calls,
        passed_by_call,
        tokens_by_call: solved.tokens_by_call.clone(),
        candidates: by_content.len() as u32,
        any_passed: by_content.values().any(|g| g.passed),
    })
}
