//! `reflexion` (Shinn et al. 2023): attempt; if the internal tests fail, write a verbal
//! reflection, store it in memory, and retry with the reflections retrieved. The attempt that
//! passes its internal tests, or else the last one, is submitted.

use super::Strategy;
use crate::agent::{AgentError, Attempt, Guidance, Shown, Work};
use async_trait::async_trait;

/// Up to `trials` attempts with reflections between them, within the call budget.
pub struct Reflexion;

#[async_trait]
impl Strategy for Reflexion {
    fn name(&self) -> &'static str {
        "reflexion"
    }

    async fn solve(&self, work: &mut Work<'_>) -> Result<(), AgentError> {
        let config = work.config();
        let trials = config.trials.max(1);
        let mut previous: Option<Attempt> = None;
        for trial in 1..=trials {
            let guidance = Guidance {
                label: trial,
                reflections: work.retrieve(trial).await?,
                previous: previous
                    .as_ref()
                    .filter(|_| config.show_previous_attempt)
                    .and_then(shown),
                temperature: if trial == 1 {
                    config.first_temperature
                } else {
                    config.retry_temperature
                },
                seed: None,
            };
            let Some(attempt) = work.attempt(&guidance).await? else {
                break;
            };
            // A run of `trial` trials would submit this attempt.
            work.choose(attempt.candidate);
            // A reflection is only worth its call when another attempt can follow it.
            if attempt.passed || trial == trials || !work.can_call(2) {
                break;
            }
            work.reflect(&attempt).await?;
            previous = Some(attempt);
        }
        Ok(())
    }
}

/// An attempt as the actor is shown it.
pub(crate) fn shown(attempt: &Attempt) -> Option<Shown> {
    attempt.content.as_ref().map(|content| Shown {
        content: content.clone(),
        feedback: attempt.feedback.clone(),
    })
}
