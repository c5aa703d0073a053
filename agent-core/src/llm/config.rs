//! Serializable settings of the model stack (the `[model]` table of `mneme.toml`).
//!
//! API keys are never part of configuration: a provider names the environment
//! variable that holds its key (`api_key_env`), and the key is read from there.

use crate::llm::{EndpointConfig, RetryPolicy};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which wire protocol a model speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp's server).
    #[serde(alias = "openai-compatible", alias = "openai_compatible")]
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

impl ProviderKind {
    /// The environment variable a key is read from unless `api_key_env` says otherwise.
    pub fn default_key_env(self) -> &'static str {
        match self {
            ProviderKind::Openai => "OPENAI_API_KEY",
            ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
        }
    }
}

/// One model endpoint and how to talk to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Wire protocol.
    pub provider: ProviderKind,
    /// Model name sent with each request.
    pub name: String,
    /// Endpoint base URL (for OpenAI-compatible servers, including `/v1`).
    pub base_url: String,
    /// Several endpoints serving this model (`[[model.endpoints]]`); when given, requests
    /// are spread over them and `base_url` is not used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointConfig>,
    /// Environment variable holding the API key; defaults to the provider's usual one.
    /// A local server needs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Per-request timeout in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Rate and concurrency limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Retry policy for transient errors.
    #[serde(default)]
    pub retry: RetryConfig,
}

fn default_timeout() -> u64 {
    300
}

impl ModelConfig {
    /// The endpoints requests go to: `endpoints`, or `base_url` alone with weight 1.
    pub fn endpoint_list(&self) -> Vec<EndpointConfig> {
        if self.endpoints.is_empty() {
            vec![EndpointConfig {
                base_url: self.base_url.clone(),
                weight: 1.0,
            }]
        } else {
            self.endpoints.clone()
        }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// Limits applied per provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub max_concurrent: usize,
    /// Requests per minute (none: unlimited). Every attempt counts, retries included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// How many requests may go out back to back before the per-minute spacing applies.
    #[serde(default = "default_burst")]
    pub request_burst: u32,
    /// Estimated tokens (prompt plus `max_tokens`) per minute (none: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u32>,
    /// Completion tokens assumed for the token limit when a request sets no `max_tokens`.
    #[serde(default = "default_assumed_max_tokens")]
    pub assumed_max_tokens: u32,
}

fn default_concurrency() -> usize {
    4
}
fn default_burst() -> u32 {
    1
}
fn default_assumed_max_tokens() -> u32 {
    512
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_concurrent: default_concurrency(),
            requests_per_minute: None,
            request_burst: default_burst(),
            tokens_per_minute: None,
            assumed_max_tokens: default_assumed_max_tokens(),
        }
    }
}

/// Retry settings; see [`RetryPolicy`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// First delay, milliseconds.
    #[serde(default = "default_initial_ms")]
    pub initial_backoff_ms: u64,
    /// Largest computed delay, milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Delay growth factor.
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    /// Jitter fraction in `[0, 1]`.
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    /// Longest `Retry-After` that is honoured; a longer one fails the call.
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after_secs: u64,
}

fn default_retries() -> u32 {
    6
}
fn default_initial_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    30_000
}
fn default_multiplier() -> f64 {
    2.0
}
fn default_jitter() -> f64 {
    0.3
}
fn default_max_retry_after() -> u64 {
    120
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: default_retries(),
            initial_backoff_ms: default_initial_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            multiplier: default_multiplier(),
            jitter: default_jitter(),
            max_retry_after_secs: default_max_retry_after(),
        }
    }
}

impl RetryConfig {
    /// The policy these settings describe.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            initial_backoff: Duration::from_millis(self.initial_backoff_ms),
            max_backoff: Duration::from_millis(self.max_backoff_ms.max(self.initial_backoff_ms)),
            multiplier: self.multiplier,
            jitter: self.jitter,
            max_retry_after: Duration::from_secs(self.max_retry_after_secs),
        }
    }
}
