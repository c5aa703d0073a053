//! A content-addressed response cache on disk, which doubles as test cassettes.
//!
//! The key is the SHA-256 of the model name and the whole request, so the same
//! question to the same model finds the same file: `DIR/ab/abcdef….json`, one
//! readable JSON document holding the request and the response. Entries are
//! written to a temporary file and renamed into place, so a crash never leaves
//! a half-written entry under a real key.
//!
//! Modes:
//! - `off`: no cache.
//! - `read_write`: deterministic requests (temperature 0, or a fixed seed) are answered from
//!   disk when present and stored after a live answer. Sampled requests without a seed always
//!   go live.
//! - `record`: every request goes live and is stored (cassette recording).
//! - `replay`: every request must be on disk; a miss is an error (cassette playback,
//!   no network).

use crate::llm::{ChatModel, ChatRequest, ChatResponse, LlmError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// How the cache is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// No caching.
    #[default]
    Off,
    /// Answer deterministic requests from disk; store live deterministic answers.
    ReadWrite,
    /// Store every live answer.
    Record,
    /// Answer only from disk; a miss is an error.
    Replay,
}

/// Format version folded into every key; bump it when the entry layout changes.
const KEY_VERSION: &str = "mneme-cache-v1";

#[derive(Serialize, Deserialize)]
struct Entry {
    key: String,
    model: String,
    request: ChatRequest,
    response: ChatResponse,
}

/// The on-disk store of responses.
#[derive(Clone, Debug)]
pub struct ResponseCache {
    dir: PathBuf,
    mode: CacheMode,
    serving: String,
}

impl ResponseCache {
    /// A cache rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>, mode: CacheMode) -> Self {
        Self {
            dir: dir.into(),
            mode,
            serving: String::new(),
        }
    }

    /// Keeps this cache's answers apart from those of other serving set-ups: a batching
    /// server's temperature-0 answer can depend on what else was in the batch, so an answer
    /// recorded from one set-up (e.g. `llama-server, 4 slots`) is not replayed as another's.
    pub fn serving(mut self, setup: impl Into<String>) -> Self {
        self.serving = setup.into();
        self
    }

    /// The mode.
    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    /// The content address of `request` sent to `model`.
    pub fn key(model: &str, request: &ChatRequest) -> String {
        Self::key_for_serving(model, request, "")
    }

    /// The content address of `request` sent to `model` served by `serving` (see
    /// [`ResponseCache::serving`]; empty for the plain key).
    pub fn key_for_serving(model: &str, request: &ChatRequest, serving: &str) -> String {
        let canonical = if serving.is_empty() {
            serde_json::json!({ "v": KEY_VERSION, "model": model, "request": request })
        } else {
            serde_json::json!({ "v": KEY_VERSION, "model": model, "serving": serving, "request": request })
        };
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// Whether this request is served from / stored to disk in the current mode.
    fn applies_to(&self, request: &ChatRequest) -> bool {
        match self.mode {
            CacheMode::Off => false,
            CacheMode::ReadWrite => request.is_deterministic(),
            CacheMode::Record | CacheMode::Replay => true,
        }
    }

    /// Reads the entry for `key`; a corrupt entry is reported, never silently used.
    fn load(&self, key: &str) -> Result<Option<ChatResponse>, LlmError> {
        let path = self.path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(LlmError::Cache(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let entry: Entry = serde_json::from_slice(&bytes)
            .map_err(|e| LlmError::Cache(format!("corrupt cache entry {}: {e}", path.display())))?;
        if entry.key != key {
            return Err(LlmError::Cache(format!(
                "cache entry {} holds key {}, not {key}",
                path.display(),
                entry.key
            )));
        }
        Ok(Some(entry.response))
    }

    fn store(
        &self,
        key: &str,
        model: &str,
        request: &ChatRequest,
        response: &ChatResponse,
    ) -> Result<(), LlmError> {
        let path = self.path(key);
        let parent = path.parent().unwrap_or(Path::new("."));
        let io =
            |e: std::io::Error| LlmError::Cache(format!("cannot write {}: {e}", path.display()));
        std::fs::create_dir_all(parent).map_err(io)?;
        let entry = Entry {
            key: key.to_string(),
            model: model.to_string(),
            request: request.clone(),
            response: ChatResponse {
                cached: false,
                cost_usd: 0.0,
                ..response.clone()
            },
        };
        let json = serde_json::to_vec_pretty(&entry).map_err(|e| LlmError::Cache(e.to_string()))?;
        tools::fsio::write_atomic(&path, &json).map_err(io)
    }
}

/// Serves the wrapped model's answers from a [`ResponseCache`].
pub struct Cached<M> {
    inner: M,
    cache: ResponseCache,
}

impl<M: ChatModel> Cached<M> {
    /// Wraps `inner`.
    pub fn new(inner: M, cache: ResponseCache) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Cached<M> {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        if !self.cache.applies_to(request) {
            return self.inner.chat(request).await;
        }
        let key = ResponseCache::key_for_serving(self.inner.model(), request, &self.cache.serving);
        match self.cache.mode {
            CacheMode::ReadWrite | CacheMode::Replay => {
                let hit = match self.cache.load(&key) {
                    Ok(hit) => hit,
                    // In read-write mode a corrupt entry is replaced by a fresh answer.
                    Err(e) if self.cache.mode == CacheMode::ReadWrite => {
                        tracing::warn!(error = %e, "ignoring unreadable cache entry");
                        None
                    }
                    Err(e) => return Err(e),
                };
                if let Some(mut response) = hit {
                    response.cached = true;
                    return Ok(response);
                }
                if self.cache.mode == CacheMode::Replay {
                    return Err(LlmError::Cache(format!(
                        "replay mode: no recorded answer for request {key} to model {}",
                        self.inner.model()
                    )));
                }
            }
            CacheMode::Record | CacheMode::Off => {}
        }
        let response = self.inner.chat(request).await?;
        self.cache
            .store(&key, self.inner.model(), request, &response)?;
        Ok(response)
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    fn provider(&self) -> &str {
        self.inner.provider()
    }
}
