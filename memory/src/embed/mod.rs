//! Text embeddings: the [`Embedder`] trait and a local fastembed model.
//! (The OpenAI-compatible `/v1/embeddings` implementation lives with the
//! other providers in `agent-core`.)

mod hashing;
mod local;

pub use hashing::HashingEmbedder;
pub use local::{ensure_minilm, LocalEmbedder, MiniLmFiles, MINILM_DIM};

use crate::Result;
use async_trait::async_trait;

/// Turns texts into vectors of a fixed dimension.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// The vector dimension.
    fn dim(&self) -> usize;
    /// A name for the model (stored with the collection, checked on reopen).
    fn model_name(&self) -> &str;
    /// One vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}
