//! `best_of_n`: the greedy first attempt, then up to n−1 samples at a configurable temperature
//! (each with its own seed). It stops at the first candidate that passes all its internal tests
//! (at least one test) and submits it; otherwise it submits the highest internal pass fraction,
//! ties to the earliest (the greedy one). Without internal tests there is nothing to choose by:
//! the greedy attempt is submitted after one call.

use super::Strategy;
use crate::agent::{AgentError, Attempt, Guidance, Work};
use async_trait::async_trait;

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
        for sample in 1..=config.best_of_n.n {
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
            if attempt.solved() || (sample == 1 && attempt.tests == 0 && attempt.passed) {
                break;
            }
        }
        Ok(())
    }
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
