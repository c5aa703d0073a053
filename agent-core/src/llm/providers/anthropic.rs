//! Anthropic's Messages API (`POST {base_url}/v1/messages`).
//!
//! System messages are joined into the top-level `system` field. The API has
//! no `n` and no `seed`: `n` samples are made with `n` calls, and the seed is
//! ignored.

use super::http::send_json;
use crate::llm::{
    ChatModel, ChatRequest, ChatResponse, Choice, FinishReason, LlmError, Role, Usage,
};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

const PROVIDER: &str = "anthropic";
/// The API version this module speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` is mandatory for Anthropic; this is used when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// A chat model behind Anthropic's Messages API.
#[derive(Clone)]
pub struct Anthropic {
    base_url: String,
    model: String,
    api_key: SecretString,
    timeout: Duration,
    http: reqwest::Client,
}

impl std::fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anthropic")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Anthropic {
    /// A client for `model` at `base_url` (e.g. `https://api.anthropic.com`).
    pub fn new(
        base_url: impl Into<String>,
        model: impl Into<String>,
        api_key: SecretString,
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
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: Option<String>,
    content: Vec<WireBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

#[async_trait]
impl ChatModel for Anthropic {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let messages = request
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| WireMessage {
                role: if m.role == Role::User {
                    "user"
                } else {
                    "assistant"
                },
                content: &m.content,
            })
            .collect();
        let body = WireRequest {
            model: &self.model,
            max_tokens: request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            system: (!system.is_empty()).then(|| system.join("\n\n")),
            messages,
            temperature: request.temperature,
            top_p: request.top_p,
            stop_sequences: &request.stop,
        };
        let mut choices = Vec::new();
        let mut usage = Usage::default();
        let mut model = None;
        for _ in 0..request.n.max(1) {
            let http = self
                .http
                .post(format!("{}/v1/messages", self.base_url))
                .header("x-api-key", self.api_key.expose_secret())
                .header("anthropic-version", ANTHROPIC_VERSION)
                .json(&body);
            let wire: WireResponse =
                send_json(PROVIDER, http, self.timeout, Some(&self.api_key)).await?;
            let text: String = wire
                .content
                .iter()
                .filter(|b| b.kind == "text")
                .filter_map(|b| b.text.as_deref())
                .collect();
            if let Some(u) = wire.usage {
                usage += Usage {
                    prompt_tokens: u.input_tokens,
                    completion_tokens: u.output_tokens,
                };
            }
            model = model.or(wire.model);
            choices.push(Choice {
                text,
                finish_reason: FinishReason::from_provider(wire.stop_reason.as_deref()),
            });
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
