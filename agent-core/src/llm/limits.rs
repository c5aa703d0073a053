//! Per-provider limits: concurrent requests, requests per minute, tokens per minute.
//!
//! Rates are enforced with `governor`'s GCRA limiters. Each *attempt* takes a
//! permit, retries included, so a storm of 429s never pushes the request rate
//! past the configured one.

use crate::llm::{ChatModel, ChatRequest, ChatResponse, LimitsConfig, LlmError};
use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Applies [`LimitsConfig`] to the wrapped model.
pub struct Limited<M> {
    inner: M,
    concurrency: Arc<Semaphore>,
    requests: Option<DefaultDirectRateLimiter>,
    tokens: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
    default_max_tokens: u32,
}

fn per_minute(rate: NonZeroU32, burst: NonZeroU32) -> DefaultDirectRateLimiter {
    RateLimiter::direct(Quota::per_minute(rate).allow_burst(burst))
}

impl<M: ChatModel> Limited<M> {
    /// Wraps `inner` with `limits`.
    pub fn new(inner: M, limits: &LimitsConfig) -> Result<Self, LlmError> {
        if limits.max_concurrent == 0 {
            return Err(LlmError::Config(
                "limits.max_concurrent must be at least 1".into(),
            ));
        }
        let requests = limits
            .requests_per_minute
            .and_then(NonZeroU32::new)
            .map(|rpm| {
                let burst = NonZeroU32::new(limits.request_burst.clamp(1, rpm.get()))
                    .unwrap_or(NonZeroU32::MIN);
                per_minute(rpm, burst)
            });
        let tokens = limits
            .tokens_per_minute
            .and_then(NonZeroU32::new)
            .map(|tpm| {
                // Allow up to a sixth of a minute's tokens at once, so one large prompt is never refused.
                let burst = NonZeroU32::new((tpm.get() / 6).max(1)).unwrap_or(NonZeroU32::MIN);
                (per_minute(tpm, burst), burst)
            });
        Ok(Self {
            inner,
            concurrency: Arc::new(Semaphore::new(limits.max_concurrent)),
            requests,
            tokens,
            default_max_tokens: limits.assumed_max_tokens,
        })
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Limited<M> {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let _permit = self
            .concurrency
            .acquire()
            .await
            .map_err(|_| LlmError::Config("concurrency limiter closed".into()))?;
        if let Some(rpm) = &self.requests {
            rpm.until_ready().await;
        }
        if let Some((tpm, burst)) = &self.tokens {
            let completion =
                request.max_tokens.unwrap_or(self.default_max_tokens) * request.n.max(1);
            let estimate = request.estimated_prompt_tokens().saturating_add(completion);
            let cost = NonZeroU32::new(estimate.clamp(1, burst.get())).unwrap_or(NonZeroU32::MIN);
            // `cost` never exceeds the burst, so this cannot fail.
            let _ = tpm.until_n_ready(cost).await;
        }
        self.inner.chat(request).await
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    fn provider(&self) -> &str {
        self.inner.provider()
    }
}
