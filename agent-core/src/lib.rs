//! # agent-core
//!
//! The heart of mneme:
//!
//! - [`llm`]: one [`llm::ChatModel`] trait, one module per provider, and the layers every call
//!   passes through (response cache, accounting and budgets, retries driven by error class,
//!   rate limits, several endpoints).
//! - [`agent`]: the agent, one task in progress ([`agent::Work`]), actors per environment kind,
//!   candidates and their grading.
//! - [`strategy`]: the [`strategy::Strategy`] trait and one module per strategy (`simple`,
//!   `reflexion`, `best_of_n`, `lats`).
//! - [`learn`]: learning across tasks — ExpeL insights, a coding skill library.
//! - [`run`]: one run loop for every strategy and environment, run directories and resume.
//!
//! See `docs/architecture.md`.

pub mod agent;
pub mod learn;
pub mod llm;
pub mod run;
pub mod strategy;
