//! # memory
//!
//! What makes a mneme agent better on its next trial: reflections, skills and
//! insights in a vector store, found again by meaning.
//!
//! - [`embed`]: the [`Embedder`] trait and a local all-MiniLM-L6-v2 through fastembed.
//! - [`store`]: the [`VectorStore`] trait; embedded Qdrant (default) and a Qdrant server.
//! - [`record`]: [`Reflection`], [`Skill`], [`Insight`] with deterministic ids.
//! - [`bank`]: [`MemoryBank`], the retrieval policies the agent loop calls.
//! - [`keyword`]: BM25 and reciprocal rank fusion, for hybrid search.

pub mod bank;
pub mod embed;
mod error;
pub mod filter;
pub mod keyword;
pub mod record;
pub mod store;

pub use bank::{
    latest_skill_versions, rank_skills, BankConfig, MemoryBank, Recalled, ScoreWeights, Stats,
    Stored,
};
pub use embed::{Embedder, LocalEmbedder};
pub use error::{MemoryError, Result};
pub use filter::{library_tag, Filter};
pub use record::{Insight, Record, RecordKind, Reflection, Skill};
pub use store::{Hit, Point, VectorStore};
