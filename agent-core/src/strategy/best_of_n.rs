//! `best_of_n`: the greedy first attempt, then up to n−1 samples at a configurable temperature
//! (each with its own seed). It stops at the first candidate that passes all its internal tests
//! (at least one test) and submits it; otherwise it submits the highest internal pass fraction,
//! ties to the earliest (the greedy one). Without internal tests there is nothing to choose by:
//! the greedy attempt is submitted after one call.
//!
//! With `dual_agreement` (CodeT, Chen et al. 2022), when the greedy attempt fails the model also
//! writes asserts once, and if no candidate passes its internal tests, the one submitted comes
//! from the largest agreement: candidates are grouped by the set of those asserts they pass, a
//! group scores (candidates in it) × (asserts passed), and the earliest of the best group wins.

use super::Strategy;
use crate::agent::actor::write_asserts;
use crate::agent::{AgentError, Attempt, Guidance, Work};
use async_trait::async_trait;
use environments::Action;
use serde_json::json;
use std::collections::BTreeMap;

/// The greedy attempt plus samples; the best by internal tests is submitted.
pub struct BestOfN;

/// A seed per sample, fixed for a task and sample number (reruns and resumes ask the same).
pub(crate) fn sample_seed(task_id: &str, sample: u32) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{task_id}#{sample}").as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")) >> 1
}

#[async_trait]
impl Strategy for BestOfN {
    fn name(&self) -> &'static str {
        "best_of_n"
    }

    async fn solve(&self, work: &mut Work<'_>) -> Result<(), AgentError> {
        let config = work.config();
        let mut best: Option<Attempt> = None;
        let mut made = Vec::new();
        let mut asserts = Vec::new();
        for sample in 1..=config.best_of_n.n {
            if sample == 2 && config.best_of_n.dual_agreement && work.can_call(2) {
                asserts = write_asserts(work).await?;
            }
            let guidance = Guidance {
                label: sample,
                temperature: if sample == 1 {
                    config.first_temperature
                } else {
                    config.best_of_n.temperature
                },
                seed: (sample > 1).then(|| sample_seed(&work.task().id, sample)),
                ..Guidance::default()
            };
            let Some(attempt) = work.attempt(&guidance).await? else {
                break;
            };
            if best.as_ref().is_none_or(|b| better(&attempt, b)) {
                best = Some(attempt.clone());
            }
            work.choose(best.as_ref().and_then(|b| b.candidate));
            // Without internal tests the greedy attempt stands, unless asserts of the model's
            // own will choose among samples.
            let untested = sample == 1 && attempt.tests == 0 && attempt.passed;
            let done = attempt.solved() || (untested && !config.best_of_n.dual_agreement);
            made.push(attempt);
            if done {
                return Ok(());
            }
        }
        if !asserts.is_empty() {
            let agreed = dual_agreement(work, &made, &asserts).await?;
            work.choose(agreed.or(best.and_then(|b| b.candidate)));
        }
        Ok(())
    }
}

/// The candidate CodeT's dual agreement picks: group the candidates by the set of `asserts`
/// they pass; a group scores (candidates) × (asserts passed); the earliest of the best group.
/// `None` when no candidate passes any assert.
async fn dual_agreement(
    work: &mut Work<'_>,
    made: &[Attempt],
    asserts: &[String],
) -> Result<Option<usize>, AgentError> {
    let mut groups: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
    for attempt in made {
        let (Some(code), Some(candidate)) = (&attempt.content, attempt.candidate) else {
            continue;
        };
        let request = json!({"code": code, "asserts": asserts}).to_string();
        let action = Action {
            kind: "test_asserts".into(),
            content: request,
            goal: None,
        };
        let step = work.env().step(&action).await?;
        let failed: Vec<usize> =
            serde_json::from_value(step.info["failed"].clone()).unwrap_or_default();
        let passed: Vec<usize> = (0..asserts.len()).filter(|i| !failed.contains(i)).collect();
        groups.entry(passed).or_default().push(candidate);
    }
    let score = |(passed, members): &(&Vec<usize>, &Vec<usize>)| passed.len() * members.len();
    let best = groups
        .iter()
        .filter(|(passed, _)| !passed.is_empty())
        .max_by(|a, b| score(a).cmp(&score(b)).then(b.1[0].cmp(&a.1[0])));
    Ok(best.map(|(_, members)| members[0]))
}

/// Strictly better by internal tests (so ties stay with the earlier attempt); any code beats
/// none, and at an equal score, code that passed (loaded, when there are no tests) beats code
/// that did not.
pub(crate) fn better(new: &Attempt, old: &Attempt) -> bool {
    match (&new.content, &old.content) {
        (Some(_), None) => true,
        (None, _) => false,
        (Some(_), Some(_)) => {
            new.score > old.score || (new.score == old.score && new.passed && !old.passed)
        }
    }
}
