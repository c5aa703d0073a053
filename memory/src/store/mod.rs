//! The vector store: one trait, two backends.
//!
//! - [`edge::EdgeStore`] (default): Qdrant's in-process engine in one directory.
//! - [`server::QdrantStore`]: a Qdrant server through `qdrant-client`.
//!
//! The store is the single source of truth: records live only here, with their
//! vectors, and every lookup asks it.

pub mod edge;
pub mod server;

use crate::{Filter, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A stored point: id (a UUID string), vector, payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// UUID string.
    pub id: String,
    /// The embedding.
    pub vector: Vec<f32>,
    /// The record's fields.
    pub payload: Map<String, Value>,
}

/// A search hit.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The point (its vector may be empty: searches do not return vectors).
    pub point: Point,
    /// Cosine similarity to the query.
    pub score: f32,
}

/// Where points live.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// A short backend name (`edge`, `qdrant`).
    fn backend(&self) -> &'static str;
    /// Inserts or replaces points (same id: replaced). Durable when it returns.
    async fn upsert(&self, points: Vec<Point>) -> Result<()>;
    /// The `k` nearest points to `vector` that satisfy `filter`, best first.
    async fn search(&self, vector: &[f32], k: usize, filter: &Filter) -> Result<Vec<Hit>>;
    /// Points by id (missing ids are skipped), with vectors.
    async fn get(&self, ids: &[String]) -> Result<Vec<Point>>;
    /// Deletes points by id.
    async fn delete(&self, ids: &[String]) -> Result<()>;
    /// Deletes every point satisfying `filter`.
    async fn delete_where(&self, filter: &Filter) -> Result<()>;
    /// How many points satisfy `filter`.
    async fn count(&self, filter: &Filter) -> Result<u64>;
    /// A page of points satisfying `filter`, in id order, starting at `from` (the
    /// token the previous page returned; `None` for the first page); returns the page
    /// and the token of the next page, if there is one.
    async fn scroll(
        &self,
        filter: &Filter,
        from: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Point>, Option<String>)>;
    /// Builds search indexes and compacts storage.
    async fn optimize(&self) -> Result<()>;
    /// Ties the store to the embedding model `model`: recorded on first use, and from then
    /// on any other model is refused ([`crate::MemoryError::Invalid`]), since vectors of two
    /// models cannot be compared, even at the same dimension.
    async fn bind_embedder(&self, model: &str) -> Result<()>;
}

/// The error for a store written with another embedding model than the configured one.
pub fn embedder_mismatch(store: &str, stored: &str, configured: &str) -> crate::MemoryError {
    crate::MemoryError::Invalid(format!(
        "memory store {store} holds embeddings of {stored:?}, but the configured embedder is \
         {configured:?}; vectors of two models cannot be compared. Use another memory.path (or \
         collection), or configure {stored:?} again"
    ))
}

/// Every point satisfying `filter`, by scrolling.
pub async fn scroll_all(store: &dyn VectorStore, filter: &Filter) -> Result<Vec<Point>> {
    let mut out = Vec::new();
    let mut from = None;
    loop {
        let (page, next) = store.scroll(filter, from, 256).await?;
        out.extend(page);
        match next {
            Some(n) => from = Some(n),
            None => return Ok(out),
        }
    }
}
