//! Retries driven by error class.
//!
//! Transient errors (429, 5xx, timeouts, resets, cut-off bodies) are retried
//! with exponential backoff and jitter (the exponential schedule comes from the
//! `backon` crate); a `Retry-After` from the provider replaces the computed delay.
//! Permanent and context-length errors return at once.

use crate::llm::{ChatModel, ChatRequest, ChatResponse, LlmError, RetryConfig};
use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How transient errors are retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// First backoff delay.
    pub initial_backoff: Duration,
    /// Ceiling of any computed delay.
    pub max_backoff: Duration,
    /// Growth factor between delays.
    pub multiplier: f64,
    /// Jitter: each delay is drawn from `delay * [1 - j, 1 + j]`.
    pub jitter: f64,
    /// A provider asking for a longer wait than this is not waited for: the call fails.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryConfig::default().policy()
    }
}

impl RetryPolicy {
    /// The delays between attempts: exponential, capped, each scaled by a random factor
    /// in `[1 - jitter, 1 + jitter]`.
    fn schedule(&self) -> impl Iterator<Item = Duration> {
        let exponential = ExponentialBuilder::new()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_factor(self.multiplier.max(1.0) as f32)
            .without_max_times()
            .build();
        let jitter = self.jitter.clamp(0.0, 1.0);
        exponential.map(move |delay| delay.mul_f64(1.0 + jitter * (2.0 * fastrand::f64() - 1.0)))
    }
}

/// Counters of retry activity, shared with whoever wants to report them.
#[derive(Debug, Default)]
pub struct RetryStats {
    retries: AtomicU64,
    waited_ms: AtomicU64,
    gave_up: AtomicU64,
}

/// A serializable snapshot of [`RetryStats`], for run state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryCounters {
    /// Retries made (attempts after the first).
    pub retries: u64,
    /// Milliseconds spent waiting between attempts.
    pub waited_ms: u64,
    /// Calls that failed after exhausting their retries.
    pub gave_up: u64,
}

impl RetryStats {
    /// Current values.
    pub fn snapshot(&self) -> RetryCounters {
        RetryCounters {
            retries: self.retries.load(Ordering::Relaxed),
            waited_ms: self.waited_ms.load(Ordering::Relaxed),
            gave_up: self.gave_up.load(Ordering::Relaxed),
        }
    }
}

/// Retries the wrapped model's transient failures.
pub struct Retrying<M> {
    inner: M,
    policy: RetryPolicy,
    stats: Arc<RetryStats>,
}

impl<M: ChatModel> Retrying<M> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: M, policy: RetryPolicy) -> Self {
        Self {
            inner,
            policy,
            stats: Arc::default(),
        }
    }

    /// The shared retry counters.
    pub fn stats(&self) -> Arc<RetryStats> {
        self.stats.clone()
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Retrying<M> {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut schedule = self.policy.schedule();
        let mut attempt = 1u32;
        loop {
            let err = match self.inner.chat(request).await {
                Ok(response) => return Ok(response),
                Err(e) if !e.is_retryable() => return Err(e),
                Err(e) => e,
            };
            let computed = schedule.next().unwrap_or(self.policy.max_backoff);
            let wait = err.retry_after().unwrap_or(computed);
            if attempt > self.policy.max_retries || wait > self.policy.max_retry_after {
                self.stats.gave_up.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(provider = self.inner.provider(), attempts = attempt, error = %err, "giving up");
                return Err(LlmError::RetriesExhausted {
                    attempts: attempt,
                    last: Box::new(err),
                });
            }
            tracing::info!(
                provider = self.inner.provider(),
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %err,
                "transient model error, retrying"
            );
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            self.stats
                .waited_ms
                .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    fn provider(&self) -> &str {
        self.inner.provider()
    }
}
