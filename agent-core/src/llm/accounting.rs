//! Tokens and cost of every call, totals, and budgets.
//!
//! [`Metered`] prices each response from a [`PriceTable`], adds it to a shared
//! [`Ledger`] (the run's totals), emits a `model_call` tracing span, and refuses
//! to *start* a call once the [`Budget`] is spent, so a run stops at a call
//! boundary and never in the middle of writing anything.
//! Trial and task totals are kept by the agent loop with [`UsageTotals::add`].

use crate::llm::{ChatModel, ChatRequest, ChatResponse, LlmError, Usage};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tracing::Instrument;

/// Price of one model, US dollars per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt tokens.
    pub input_per_mtok: f64,
    /// Per million completion tokens.
    pub output_per_mtok: f64,
}

/// Prices by model name. Models not listed (local ones) cost nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriceTable(pub BTreeMap<String, Price>);

impl PriceTable {
    /// Cost in dollars of `usage` on `model`.
    pub fn cost(&self, model: &str, usage: Usage) -> f64 {
        self.0
            .get(model)
            .map(|p| {
                (usage.prompt_tokens as f64 * p.input_per_mtok
                    + usage.completion_tokens as f64 * p.output_per_mtok)
                    / 1_000_000.0
            })
            .unwrap_or(0.0)
    }
}

/// Limits on what a run may spend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Total tokens (prompt plus completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Total cost in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
}

impl Budget {
    /// Why `totals` exhaust this budget, if they do.
    pub fn exhausted_by(&self, totals: &UsageTotals) -> Option<String> {
        if let Some(max) = self.max_tokens {
            if totals.total_tokens() >= max {
                return Some(format!(
                    "{} tokens used of a {max}-token budget",
                    totals.total_tokens()
                ));
            }
        }
        if let Some(max) = self.max_cost_usd {
            if totals.cost_usd >= max {
                return Some(format!(
                    "${:.4} spent of a ${max:.4} budget",
                    totals.cost_usd
                ));
            }
        }
        None
    }
}

/// Summed usage of some scope: a trial, a task, a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Calls answered (cache hits included).
    pub calls: u64,
    /// Calls answered from the response cache.
    pub cached_calls: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Dollars.
    pub cost_usd: f64,
}

impl UsageTotals {
    /// Adds one response.
    pub fn add(&mut self, response: &ChatResponse) {
        self.calls += 1;
        self.cached_calls += response.cached as u64;
        self.prompt_tokens += response.usage.prompt_tokens;
        self.completion_tokens += response.usage.completion_tokens;
        self.cost_usd += response.cost_usd;
    }

    /// Adds another scope's totals.
    pub fn merge(&mut self, other: &UsageTotals) {
        self.calls += other.calls;
        self.cached_calls += other.cached_calls;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cost_usd += other.cost_usd;
    }

    /// Prompt plus completion tokens.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// The run-wide totals and the budget they are checked against.
#[derive(Debug, Default)]
pub struct Ledger {
    totals: Mutex<UsageTotals>,
    budget: Budget,
}

impl Ledger {
    /// An empty ledger with `budget`.
    pub fn new(budget: Budget) -> Self {
        Self {
            totals: Mutex::default(),
            budget,
        }
    }

    /// A ledger that continues from earlier totals (a resumed run).
    pub fn resume(budget: Budget, totals: UsageTotals) -> Self {
        Self {
            totals: Mutex::new(totals),
            budget,
        }
    }

    /// The totals so far.
    pub fn totals(&self) -> UsageTotals {
        *self.totals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The budget.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// `Err(BudgetExhausted)` once the budget is spent.
    pub fn check(&self) -> Result<(), LlmError> {
        match self.budget.exhausted_by(&self.totals()) {
            Some(why) => Err(LlmError::BudgetExhausted(why)),
            None => Ok(()),
        }
    }

    fn record(&self, response: &ChatResponse) {
        self.totals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(response);
    }
}

/// Prices, records and traces every call of the wrapped model, and enforces the budget.
pub struct Metered<M> {
    inner: M,
    prices: PriceTable,
    ledger: Arc<Ledger>,
}

impl<M: ChatModel> Metered<M> {
    /// Wraps `inner`.
    pub fn new(inner: M, prices: PriceTable, ledger: Arc<Ledger>) -> Self {
        Self {
            inner,
            prices,
            ledger,
        }
    }

    /// The shared ledger.
    pub fn ledger(&self) -> Arc<Ledger> {
        self.ledger.clone()
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Metered<M> {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.ledger.check()?;
        let span = tracing::info_span!(
            "model_call",
            provider = self.inner.provider(),
            model = self.inner.model(),
            n = request.n,
            prompt_tokens = tracing::field::Empty,
            completion_tokens = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            cost_usd = tracing::field::Empty,
            cached = tracing::field::Empty,
        );
        let result = self.inner.chat(request).instrument(span.clone()).await;
        let mut response = match result {
            Ok(r) => r,
            Err(e) => {
                span.in_scope(
                    || tracing::warn!(error = %e, class = ?e.class(), "model call failed"),
                );
                return Err(e);
            }
        };
        response.cost_usd = if response.cached {
            0.0
        } else {
            self.prices.cost(self.inner.model(), response.usage)
        };
        self.ledger.record(&response);
        span.record("prompt_tokens", response.usage.prompt_tokens);
        span.record("completion_tokens", response.usage.completion_tokens);
        span.record("latency_ms", response.latency.as_millis() as u64);
        span.record("cost_usd", response.cost_usd);
        span.record("cached", response.cached);
        span.in_scope(|| {
            tracing::info!(
                prompt_tokens = response.usage.prompt_tokens,
                completion_tokens = response.usage.completion_tokens,
                latency_ms = response.latency.as_millis() as u64,
                cost_usd = response.cost_usd,
                cached = response.cached,
                "model call"
            )
        });
        Ok(response)
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    fn provider(&self) -> &str {
        self.inner.provider()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_budget() {
        let mut table = PriceTable::default();
        table.0.insert(
            "m".into(),
            Price {
                input_per_mtok: 2.0,
                output_per_mtok: 10.0,
            },
        );
        let cost = table.cost(
            "m",
            Usage {
                prompt_tokens: 1_000_000,
                completion_tokens: 100_000,
            },
        );
        assert!((cost - 3.0).abs() < 1e-9);
        assert_eq!(
            table.cost(
                "local",
                Usage {
                    prompt_tokens: 5,
                    completion_tokens: 5
                }
            ),
            0.0
        );

        let budget = Budget {
            max_tokens: Some(100),
            max_cost_usd: None,
        };
        let mut t = UsageTotals {
            prompt_tokens: 60,
            completion_tokens: 39,
            ..Default::default()
        };
        assert!(budget.exhausted_by(&t).is_none());
        t.completion_tokens += 1;
        assert!(budget
            .exhausted_by(&t)
            .unwrap()
            .contains("100-token budget"));
    }
}
