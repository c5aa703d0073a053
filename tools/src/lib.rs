//! # tools
//!
//! What agents act with: the sandbox that runs model-written code (bubblewrap
//! plus resource limits, a warm pool) and, later, a tool registry. Not built
//! yet (issue 3); the crate exists so the workspace has its agreed shape.
//! Nothing here is exported.
