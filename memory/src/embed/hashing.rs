//! A deterministic bag-of-words embedder: no model, no files.
//!
//! Each word hashes (FNV-1a) to one axis; texts that share words are similar,
//! identical texts have cosine 1. Meant for tests and for trying memory
//! without the real model; it knows nothing of meaning.

use super::Embedder;
use crate::Result;
use async_trait::async_trait;

/// Hashes words onto `dim` axes.
#[derive(Clone, Copy, Debug)]
pub struct HashingEmbedder {
    dim: usize,
}

impl HashingEmbedder {
    /// An embedder of `dim` dimensions.
    pub fn new(dim: usize) -> Self {
        Self { dim: dim.max(1) }
    }

    /// The vector of one text (unit length; the zero text gets a fixed unit vector).
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dim];
        for w in text
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let h = w.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
            });
            v[(h % self.dim as u64) as usize] += 1.0;
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n == 0.0 {
            v[0] = 1.0;
            return v;
        }
        v.iter().map(|x| x / n).collect()
    }
}

#[async_trait]
impl Embedder for HashingEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }
    fn model_name(&self) -> &str {
        "hashing-bag-of-words"
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }
}
