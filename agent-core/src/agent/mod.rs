//! The agent loop: an actor writes code, an evaluator runs the internal tests in
//! the sandbox, a reflector explains a failure in words, memory keeps the
//! reflection for the next trial (Reflexion, Shinn et al. 2023).
//!
//! - [`prompts`]: the template files every prompt comes from.
//! - [`code`]: code blocks out of replies.
//! - [`events`]: what a task emits as it runs (model calls, actions, observations,
//!   evaluations, reflections, memory writes, the submission).
//! - [`solver`]: the strategies for coding tasks (`simple`, `reflexion`, with or without cross-task memory).
//! - [`episodes`]: Reflexion over episodes of any [`environments::Environment`].

pub mod code;
pub mod episodes;
pub mod events;
pub mod prompts;
pub mod solver;

pub use episodes::{EpisodeAgent, EpisodeConfig, EpisodeResult};
pub use events::{Event, EventSink, MemoryEvents};
pub use prompts::Prompts;
pub use solver::{Agent, AgentConfig, AgentError, InternalTests, StrategyKind, TaskResult};
