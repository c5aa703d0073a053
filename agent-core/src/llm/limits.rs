//! Per-provider limits: concurrent requests, requests per minute, tokens per minute.
//!
//! Rates are enforced with `governor`'s GCRA limiters. Each *attempt* takes a
//! permit, retries included, so a storm of 429s never pushes the request rate
//! past the configured one.

use crate::llm::{ChatModel, ChatRequest, ChatResponse, LimitsConfig, LlmError};
use async_trait::async_trait;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// `governor`'s clock on tokio's: limiters wait with `tokio::time`, so they follow the
/// runtime's clock (and its paused time in tests) like every other wait in the stack.
#[derive(Clone, Debug)]
struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Applies [`LimitsConfig`] to the wrapped model.
pub struct Limited<M> {
    inner: M,
    concurrency: Arc<Semaphore>,
    clock: TokioClock,
    requests: Option<Limiter>,
    tokens: Option<(Limiter, NonZeroU32)>,
    default_max_tokens: u32,
}

fn per_minute(rate: NonZeroU32, burst: NonZeroU32, clock: &TokioClock) -> Limiter {
    RateLimiter::direct_with_clock(Quota::per_minute(rate).allow_burst(burst), clock.clone())
}

/// Waits until `limiter` grants `n` cells (`n` never exceeds its burst).
async fn until_ready(limiter: &Limiter, n: NonZeroU32, clock: &TokioClock) {
    while let Ok(Err(not_until)) = limiter.check_n(n) {
        tokio::time::sleep(not_until.wait_time_from(clock.now())).await;
    }
}

impl<M: ChatModel> Limited<M> {
    /// Wraps `inner` with `limits`.
    pub fn new(inner: M, limits: &LimitsConfig) -> Result<Self, LlmError> {
        if limits.max_concurrent == 0 {
            return Err(LlmError::Config(
                "limits.max_concurrent must be at least 1".into(),
            ));
        }
        let clock = TokioClock {
            start: tokio::time::Instant::now(),
        };
        let requests = limits
            .requests_per_minute
            .and_then(NonZeroU32::new)
            .map(|rpm| {
                let burst = NonZeroU32::new(limits.request_burst.clamp(1, rpm.get()))
                    .unwrap_or(NonZeroU32::MIN);
                per_minute(rpm, burst, &clock)
            });
        let tokens = limits
            .tokens_per_minute
            .and_then(NonZeroU32::new)
            .map(|tpm| {
                // Allow up to a sixth of a minute's tokens at once, so one large prompt is never refused.
                let burst = NonZeroU32::new((tpm.get() / 6).max(1)).unwrap_or(NonZeroU32::MIN);
                (per_minute(tpm, burst, &clock), burst)
            });
        Ok(Self {
            inner,
            concurrency: Arc::new(Semaphore::new(limits.max_concurrent)),
            clock,
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
            until_ready(rpm, NonZeroU32::MIN, &self.clock).await;
        }
        if let Some((tpm, burst)) = &self.tokens {
            let completion =
                request.max_tokens.unwrap_or(self.default_max_tokens) * request.n.max(1);
            let estimate = request.estimated_prompt_tokens().saturating_add(completion);
            let cost = NonZeroU32::new(estimate.clamp(1, burst.get())).unwrap_or(NonZeroU32::MIN);
            // `cost` never exceeds the burst, so it is always granted in the end.
            until_ready(tpm, cost, &self.clock).await;
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
