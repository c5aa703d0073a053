//! # environments
//!
//! Where tasks come from and where actions are scored: the `Environment` and
//! `TaskSuite` traits, HumanEval, MBPP, and custom environments in any language
//! over a JSON-lines protocol. Not built yet (issue 3); the crate exists so the
//! workspace has its agreed shape. Nothing here is exported.
