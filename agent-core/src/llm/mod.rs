//! The language-model layer.
//!
//! A call flows through a stack of layers, each one [`ChatModel`] wrapping the next:
//!
//! ```text
//! Metered (budget, tokens, cost, tracing span)
//!   └ Cached (content-addressed responses on disk; cassettes for tests)
//!       └ Retrying (transient errors: exponential backoff + jitter, Retry-After)
//!           └ Limited (max concurrency, requests/minute, tokens/minute)
//!               └ Endpoints (the endpoint with the fewest in flight; failing ones taken out)
//!                   └ provider per endpoint (OpenAI-compatible or Anthropic, over reqwest)
//! ```
//!
//! [`stack::build_chat_stack`] assembles the stack from configuration.

pub mod accounting;
pub mod cache;
pub mod config;
pub mod endpoints;
pub mod error;
pub mod limits;
pub mod providers;
pub mod retry;
pub mod scripted;
pub mod stack;
pub mod types;

pub use accounting::{Budget, Ledger, Metered, Price, PriceTable, UsageTotals};
pub use cache::{CacheMode, Cached, ResponseCache};
pub use config::{LimitsConfig, ModelConfig, ProviderKind, RetryConfig};
pub use endpoints::{EndpointConfig, EndpointReport, Endpoints};
pub use error::{ErrorClass, LlmError};
pub use limits::Limited;
pub use providers::{Anthropic, OpenAiCompatible, OpenAiEmbeddings};
pub use retry::{RetryCounters, RetryPolicy, RetryStats, Retrying};
pub use scripted::{ScriptedModel, ScriptedTurn};
pub use stack::{build_chat_stack, ChatStack};
pub use types::{ChatRequest, ChatResponse, Choice, FinishReason, Message, Role, Usage};

use async_trait::async_trait;
use std::sync::Arc;

/// A chat-completion model: messages in, one or more sampled answers out.
///
/// Every provider and every layer implements this one trait, so layers compose
/// and agent code never knows which provider it talks to.
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// Sends one request and returns all `request.n` choices.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;

    /// The model name requests are sent for (part of the response-cache key).
    fn model(&self) -> &str;

    /// A short provider label used in errors and traces (e.g. `openai`, `anthropic`).
    fn provider(&self) -> &str;
}

#[async_trait]
impl<M: ChatModel + ?Sized> ChatModel for Arc<M> {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        (**self).chat(request).await
    }
    fn model(&self) -> &str {
        (**self).model()
    }
    fn provider(&self) -> &str {
        (**self).provider()
    }
}

#[async_trait]
impl<M: ChatModel + ?Sized> ChatModel for Box<M> {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        (**self).chat(request).await
    }
    fn model(&self) -> &str {
        (**self).model()
    }
    fn provider(&self) -> &str {
        (**self).provider()
    }
}
