//! The `mneme` program's library half: configuration, logging and the local
//! model server. `main.rs` wires these to the command line; tests use them directly.

pub mod commands;
pub mod compare;
pub mod config;
pub mod envs;
pub mod explore;
pub mod explore_report;
pub mod insights;
pub mod local;
pub mod preflight;
pub mod report;
pub mod retrieval;
pub mod runner;
pub mod shards;
pub mod skills;
pub mod telemetry;
pub mod throughput;
pub mod tree;
pub mod wiring;
