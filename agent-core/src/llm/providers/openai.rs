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
        })
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
    /// Asks for `n` samples in one call; servers that return fewer (llama.cpp's
    /// returns one) are asked again for the rest, with the seed advanced so the
    /// extra samples differ.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        let wanted = request.n.max(1) as usize;
        let mut choices = Vec::with_capacity(wanted);
        let mut usage = Usage::default();
        let mut model = None;
        let mut round = 0u64;
        while choices.len() < wanted {
            let remaining = (wanted - choices.len()) as u32;
            let seed = request.seed.map(|s| s.wrapping_add(round));
            let wire = self.one_call(request, remaining, seed).await?;
            if let Some(u) = wire.usage {
                // The prompt is the same each round; count it once per round since
                // the provider processed (and bills) it each time.
                usage += Usage {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                };
            }
            model = model.or(wire.model);
            for c in wire.choices.into_iter().take(remaining as usize) {
                choices.push(Choice {
                    text: c.message.content.unwrap_or_default(),
                    finish_reason: FinishReason::from_provider(c.finish_reason.as_deref()),
                });
            }
            round += 1;
        }
        Ok(ChatResponse::live(
            choices,
            usage,
            model.unwrap_or_else(|| self.model.clone()),
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
