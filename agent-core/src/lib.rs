//! # agent-core
//!
//! The heart of mneme. Today it holds the language-model layer ([`llm`]): one
//! [`llm::ChatModel`] trait, one module per provider, and the layers every
//! call passes through (response cache, accounting and budgets, retries driven
//! by error class, and per-provider rate limits).
//!
//! Later the strategies (simple, reflexion, LATS, Voyager) and run state live
//! here too; see `docs/architecture.md`.

pub mod agent;
pub mod llm;
pub mod run;
