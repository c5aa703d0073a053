//! Learning across tasks: what one task's experience leaves for the next.
//!
//! - [`trajectory`]: a run's attempts per task, as the agent saw them (never hidden tests).
//! - [`insights`]: ExpeL's numbered rule list — operations, votes, the rules a prompt shows.
//! - [`expel`]: extracting insights from trajectories with the model.
//! - [`skills`]: a coding skill library — submitted functions become helpers for later tasks.
//!
//! A run reads (and with `learning.learn`, writes) one library of this memory
//! ([`crate::agent::LearningConfig`]); [`crate::agent::Work::learned`] gathers what an attempt
//! is shown.

pub mod expel;
pub mod insights;
pub mod skills;
pub mod trajectory;

pub use expel::{comparisons, extract_one, Comparison, ExtractConfig, ExtractStep};
pub use insights::{Operation, Rule};
pub use skills::Helper;
pub use trajectory::{from_events, Step, Trajectory};
