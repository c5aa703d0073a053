//! # memory
//!
//! Episodic and semantic memory: reflections, skills and insights in a vector
//! store (embedded Qdrant by default, a Qdrant server at scale) with local
//! embeddings. Not built yet (issue 4); the crate exists so the workspace has
//! its agreed shape. Nothing here is exported.
