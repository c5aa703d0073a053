//! OpenAI-compatible chat completions and embeddings.
//!
//! Speaks `POST {base_url}/chat/completions` and `POST {base_url}/embeddings`,
//! which OpenAI, vLLM, Ollama and llama.cpp's server all serve. `base_url`
//! includes the version prefix, e.g. `http://127.0.0.1:8080/v1`.

use super::http::send_json;
use crate::llm::{ChatModel, ChatRequest, ChatResponse, Choice, FinishReason, LlmError, Usage};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROVIDER: &str = "openai";

/// A chat model behind an OpenAI-compatible endpoint.
#[derive(Clone)]
pub struct OpenAiCompatible {
    base_url: String,
    model: String,
    api_key: Option<SecretString>,
    timeout: Duration,
    http: reqwest::Client,
    /// Set once the server answered a request for several samples with fewer, or refused it.
    ignores_n: Arc<AtomicBool>,
}

impl std::fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OpenAiCompatible {
    /// A client for `model` at `base_url`, with an optional bearer key and a per-request timeout.
    pub fn new(
        base_url: impl Into<String>,
        model: impl Into<String>,
        api_key: Option<SecretString>,
        timeout: Duration,
    ) -> Result<Self, LlmError> {
        let http = super::http::client(timeout)?;
        Ok(Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            model: model.into(),
            api_key,
            timeout,
            http,
            ignores_n: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Treats the server as one that ignores `n` from the start (instead of learning it from
    /// the first answer with too few choices): each sample is its own request.
    pub fn assume_server_ignores_n(&self) {
        self.ignores_n.store(true, Ordering::Relaxed);
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.post(format!("{}{}", self.base_url, path));
        match &self.api_key {
            Some(k) => req.bearer_auth(k.expose_secret()),
            None => req,
        }
    }

    async fn one_call(
        &self,
        request: &ChatRequest,
        n: u32,
        seed: Option<u64>,
    ) -> Result<WireResponse, LlmError> {
        let body = WireRequest {
            model: &self.model,
            messages: &request.messages,
            temperature: request.temperature,
            top_p: request.top_p,
            max_tokens: request.max_tokens,
            stop: (!request.stop.is_empty()).then_some(&request.stop),
            seed,
            n: (n > 1).then_some(n),
        };
        let wire: WireResponse = send_json(
            PROVIDER,
            self.post("/chat/completions").json(&body),
            self.timeout,
            self.api_key.as_ref(),
        )
        .await?;
        if wire.choices.is_empty() {
            return Err(LlmError::Malformed {
                provider: PROVIDER.into(),
                message: "response has no choices".into(),
                body_excerpt: String::new(),
            });
        }
        Ok(wire)
    }
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [crate::llm::Message],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u32>,
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: Option<String>,
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: WireMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[async_trait]
impl ChatModel for OpenAiCompatible {
    /// Asks for `n` samples in one call. A server that returns fewer, or refuses that many
    /// (llama-server allows at most its slot count), gets the rest as that many requests sent
    /// at once, which a batching server decodes together, each with its own seed; later calls
    /// fan out straight away. Usage is summed over the requests, since the server processed
    /// (and bills) the prompt for each.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        let wanted = request.n.max(1);
        let mut replies = Vec::new();
        if wanted == 1 || !self.ignores_n.load(Ordering::Relaxed) {
            match self.one_call(request, wanted, request.seed).await {
                Ok(reply) => replies.push(reply),
                // llama-server refuses an `n` above its slot count with a 400: ask for the
                // samples one per request instead (from now on), as for a server that ignores `n`.
                Err(LlmError::BadRequest { message, .. })
                    if wanted > 1 && message.contains("'n'") =>
                {
                    tracing::debug!(
                        "the server refused n = {wanted} ({message}); one request per sample"
                    );
                    self.ignores_n.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        let got: usize = replies.iter().map(|r| r.choices.len()).sum();
        let missing = (wanted as usize).saturating_sub(got);
        if missing > 0 {
            self.ignores_n.store(true, Ordering::Relaxed);
            let first_seed = replies.len() as u64;
            let calls = (0..missing as u64).map(|i| {
                let seed = request.seed.map(|s| s.wrapping_add(first_seed + i));
                self.one_call(request, 1, seed)
            });
            replies.extend(futures::future::try_join_all(calls).await?);
        }
        Ok(merge(
            replies,
            wanted as usize,
            &self.model,
            started.elapsed(),
        ))
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn provider(&self) -> &str {
        PROVIDER
    }
}

/// One response holding the first `wanted` choices of `replies`, with their usage summed.
fn merge(
    replies: Vec<WireResponse>,
    wanted: usize,
    asked: &str,
    latency: Duration,
) -> ChatResponse {
    let mut usage = Usage::default();
    let mut model = None;
    let mut choices = Vec::with_capacity(wanted);
    for wire in replies {
        if let Some(u) = wire.usage {
            usage += Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            };
        }
        model = model.or(wire.model);
        choices.extend(wire.choices.into_iter().map(|c| Choice {
            text: c.message.content.unwrap_or_default(),
            finish_reason: FinishReason::from_provider(c.finish_reason.as_deref()),
        }));
    }
    choices.truncate(wanted);
    ChatResponse::live(
        choices,
        usage,
        model.unwrap_or_else(|| asked.to_string()),
        latency,
    )
}

/// Text embeddings from an OpenAI-compatible `/embeddings` endpoint.
#[derive(Clone, Debug)]
pub struct OpenAiEmbeddings {
    client: OpenAiCompatible,
    dim: usize,
}

#[derive(Deserialize)]
struct WireEmbeddings {
    data: Vec<WireEmbedding>,
}

#[derive(Deserialize)]
struct WireEmbedding {
    #[serde(default)]
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbeddings {
    /// An embedding client for `model` at `base_url`, whose vectors have `dim` dimensions.
    pub fn new(
        base_url: impl Into<String>,
        model: impl Into<String>,
        api_key: Option<SecretString>,
        timeout: Duration,
        dim: usize,
    ) -> Result<Self, LlmError> {
        Ok(Self {
            client: OpenAiCompatible::new(base_url, model, api_key, timeout)?,
            dim,
        })
    }

    /// Embeds each text; the result has one vector per input, in input order.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let body = serde_json::json!({ "model": self.client.model, "input": texts });
        let wire: WireEmbeddings = send_json(
            PROVIDER,
            self.client.post("/embeddings").json(&body),
            self.client.timeout,
            self.client.api_key.as_ref(),
        )
        .await?;
        if wire.data.len() != texts.len() {
            return Err(LlmError::Malformed {
                provider: PROVIDER.into(),
                message: format!(
                    "asked for {} embeddings, got {}",
                    texts.len(),
                    wire.data.len()
                ),
                body_excerpt: String::new(),
            });
        }
        let mut data = wire.data;
        data.sort_by_key(|d| d.index);
        Ok(data.into_iter().map(|d| d.embedding).collect())
    }
}

#[async_trait]
impl memory::Embedder for OpenAiEmbeddings {
    fn dim(&self) -> usize {
        self.dim
    }

    fn model_name(&self) -> &str {
        &self.client.model
    }

    async fn embed(&self, texts: &[String]) -> memory::Result<Vec<Vec<f32>>> {
        let vectors = OpenAiEmbeddings::embed(self, texts)
            .await
            .map_err(|e| memory::MemoryError::Embed(e.to_string()))?;
        if let Some(bad) = vectors.iter().find(|v| v.len() != self.dim) {
            return Err(memory::MemoryError::Embed(format!(
                "{} returned {}-dimensional vectors, configured for {}",
                self.client.model,
                bad.len(),
                self.dim
            )));
        }
        Ok(vectors)
    }
}
