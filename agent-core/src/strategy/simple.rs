//! `simple`: one attempt at the first temperature, submitted as it is.

use super::Strategy;
use crate::agent::{AgentError, Guidance, Work};
use async_trait::async_trait;

/// One attempt, submitted as it is.
pub struct Simple;

#[async_trait]
impl Strategy for Simple {
    fn name(&self) -> &'static str {
        "simple"
    }

    async fn solve(&self, work: &mut Work<'_>) -> Result<(), AgentError> {
        let guidance = Guidance {
            label: 1,
            temperature: work.config().first_temperature,
            ..Guidance::default()
        };
        if let Some(attempt) = work.attempt(&guidance).await? {
            work.choose(attempt.candidate);
        }
        Ok(())
    }
}
