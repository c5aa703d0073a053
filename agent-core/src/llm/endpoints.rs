//! Several endpoints serving one model (`[[model.endpoints]]`): each request goes to the
//! endpoint with the fewest requests in flight for its weight. An endpoint that fails
//! transiently is taken out for a while (doubling with each failure in a row) and then probed
//! back in by letting one request through; the failed request itself is retried by the
//! retry layer above, which lands on another endpoint.
//!
//! Every endpoint keeps counts (requests, errors, tokens) and the time it had at least one
//! request in flight, so a run can say how busy its servers were.

use crate::llm::{ChatModel, ChatRequest, ChatResponse, ErrorClass, LlmError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// One endpoint of `[[model.endpoints]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Its base URL (for OpenAI-compatible servers, including `/v1`).
    pub base_url: String,
    /// Its share of the load relative to the others (e.g. its slots); default 1.
    #[serde(default = "default_weight")]
    pub weight: f64,
}

fn default_weight() -> f64 {
    1.0
}

/// What one endpoint did, for `summary.json` and the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointReport {
    /// Its base URL.
    pub base_url: String,
    /// Calls sent to it (each attempt counts; a call for n samples that the provider splits
    /// into n requests counts once).
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Prompt tokens it processed.
    pub prompt_tokens: u64,
    /// Completion tokens it generated.
    pub completion_tokens: u64,
    /// Seconds with at least one request in flight.
    pub busy_secs: f64,
    /// `busy_secs` over the seconds since the pool was built.
    pub busy_fraction: f64,
    /// Requests in flight on average since the pool was built (compare with its slots).
    #[serde(default)]
    pub mean_in_flight: f64,
}

/// First time an endpoint is kept out after a transient failure; doubles per failure in a row.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// Longest time an endpoint is kept out before it is probed again.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct State {
    in_flight: usize,
    busy_since: Option<Instant>,
    busy: Duration,
    /// Requests in flight integrated over time (request-seconds) up to `last_change`.
    in_flight_area: f64,
    last_change: Option<Instant>,
    failures_in_a_row: u32,
    out_until: Option<Instant>,
    probing: bool,
    report: EndpointReport,
}

impl State {
    /// Whether a request may go here now (a probe counts as one request while out).
    fn available(&self, now: Instant) -> bool {
        match self.out_until {
            None => true,
            Some(until) => until <= now && !self.probing,
        }
    }
    fn busy_until(&self, now: Instant) -> Duration {
        self.busy + self.busy_since.map_or(Duration::ZERO, |since| now - since)
    }
    fn area_until(&self, now: Instant) -> f64 {
        let since = self.last_change.map_or(0.0, |t| (now - t).as_secs_f64());
        self.in_flight_area + self.in_flight as f64 * since
    }
    /// Changes the requests in flight by `delta` at `now`, keeping the time integrals.
    fn shift(&mut self, delta: isize, now: Instant) {
        self.in_flight_area = self.area_until(now);
        self.last_change = Some(now);
        if self.in_flight == 0 && delta > 0 {
            self.busy_since = Some(now);
        }
        self.in_flight = self.in_flight.saturating_add_signed(delta);
        if self.in_flight == 0 {
            if let Some(since) = self.busy_since.take() {
                self.busy += now - since;
            }
        }
    }
}

struct Member {
    model: Box<dyn ChatModel>,
    weight: f64,
    state: Mutex<State>,
}

struct Pool {
    members: Vec<Member>,
    started: Instant,
}

/// A [`ChatModel`] spreading requests over several endpoints of one model. Cloning shares it.
#[derive(Clone)]
pub struct Endpoints {
    pool: Arc<Pool>,
}

impl Endpoints {
    /// A pool of `(base_url, weight, model)`; weights below a tiny positive value count as it.
    pub fn new(members: Vec<(String, f64, Box<dyn ChatModel>)>) -> Result<Self, LlmError> {
        if members.is_empty() {
            return Err(LlmError::Config("no model endpoints configured".into()));
        }
        let members = members
            .into_iter()
            .map(|(base_url, weight, model)| {
                let report = EndpointReport {
                    base_url,
                    ..Default::default()
                };
                Member {
                    model,
                    weight: weight.max(1e-6),
                    state: Mutex::new(State {
                        report,
                        ..Default::default()
                    }),
                }
            })
            .collect();
        Ok(Self {
            pool: Arc::new(Pool {
                members,
                started: Instant::now(),
            }),
        })
    }

    /// What each endpoint did since the pool was built.
    pub fn report(&self) -> Vec<EndpointReport> {
        let now = Instant::now();
        let lifetime = (now - self.pool.started).as_secs_f64();
        self.pool
            .members
            .iter()
            .map(|m| {
                let state = m.state.lock().expect("endpoint state");
                let busy = state.busy_until(now).as_secs_f64();
                let share = |x: f64| if lifetime > 0.0 { x / lifetime } else { 0.0 };
                EndpointReport {
                    busy_secs: busy,
                    busy_fraction: share(busy),
                    mean_in_flight: share(state.area_until(now)),
                    ..state.report.clone()
                }
            })
            .collect()
    }

    /// Picks an endpoint and marks a request in flight there. When every endpoint is out,
    /// the one back soonest takes the request (and its error goes to the retry layer).
    fn checkout(&self) -> usize {
        let now = Instant::now();
        let load = |m: &Member, s: &State| (s.in_flight + 1) as f64 / m.weight;
        let mut best: Option<(usize, f64)> = None;
        let mut soonest: Option<(usize, Instant)> = None;
        for (i, m) in self.pool.members.iter().enumerate() {
            let s = m.state.lock().expect("endpoint state");
            if s.available(now) {
                let l = load(m, &s);
                if best.is_none_or(|(_, b)| l < b) {
                    best = Some((i, l));
                }
            } else {
                let until = s.out_until.unwrap_or(now);
                if soonest.is_none_or(|(_, u)| until < u) {
                    soonest = Some((i, until));
                }
            }
        }
        let index = best
            .or(soonest.map(|(i, _)| (i, 0.0)))
            .map_or(0, |(i, _)| i);
        let mut s = self.pool.members[index]
            .state
            .lock()
            .expect("endpoint state");
        if s.out_until.is_some() {
            s.probing = true;
        }
        s.shift(1, now);
        s.report.requests += 1;
        index
    }

    /// Records the outcome of a request sent to endpoint `index`.
    fn checkin(&self, index: usize, outcome: Outcome) {
        let now = Instant::now();
        let mut s = self.pool.members[index]
            .state
            .lock()
            .expect("endpoint state");
        s.shift(-1, now);
        s.probing = false;
        match outcome {
            Outcome::Answered { prompt, completion } => {
                s.report.prompt_tokens += prompt;
                s.report.completion_tokens += completion;
                s.failures_in_a_row = 0;
                s.out_until = None;
            }
            Outcome::Failed { transient, message } => {
                s.report.errors += 1;
                if transient {
                    let pause = FIRST_PAUSE
                        .saturating_mul(1 << s.failures_in_a_row.min(5))
                        .min(LONGEST_PAUSE);
                    s.failures_in_a_row += 1;
                    s.out_until = Some(now + pause);
                    tracing::warn!(
                        endpoint = %s.report.base_url,
                        "endpoint failed ({message}); taken out for {pause:?}"
                    );
                }
            }
            Outcome::Cancelled => {}
        }
    }
}

/// How a request to one endpoint ended.
enum Outcome {
    Answered { prompt: u64, completion: u64 },
    Failed { transient: bool, message: String },
    Cancelled,
}

impl Outcome {
    fn of(result: &Result<ChatResponse, LlmError>) -> Self {
        match result {
            Ok(r) => Outcome::Answered {
                prompt: r.usage.prompt_tokens,
                completion: r.usage.completion_tokens,
            },
            Err(e) => Outcome::Failed {
                transient: e.class() == ErrorClass::Transient,
                message: e.to_string(),
            },
        }
    }
}

/// Checks the request in when dropped, so a cancelled call does not stay "in flight".
struct InFlight<'a> {
    pool: &'a Endpoints,
    index: usize,
    outcome: Option<Outcome>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let outcome = self.outcome.take().unwrap_or(Outcome::Cancelled);
        self.pool.checkin(self.index, outcome);
    }
}

#[async_trait]
impl ChatModel for Endpoints {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let index = self.checkout();
        let mut guard = InFlight {
            pool: self,
            index,
            outcome: None,
        };
        let result = self.pool.members[index].model.chat(request).await;
        guard.outcome = Some(Outcome::of(&result));
        result
    }

    fn model(&self) -> &str {
        self.pool.members[0].model.model()
    }

    fn provider(&self) -> &str {
        self.pool.members[0].model.provider()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Message, ScriptedModel, ScriptedTurn, Usage};

    fn down() -> ScriptedTurn {
        ScriptedTurn::Fail(LlmError::Server {
            provider: "test".into(),
            status: 503,
            message: "loading".into(),
            retry_after: None,
        })
    }

    fn answers(n: usize) -> Vec<ScriptedTurn> {
        (0..n).map(|_| ScriptedTurn::Answer("ok".into())).collect()
    }

    fn pool(a: Vec<ScriptedTurn>, b: Vec<ScriptedTurn>) -> Endpoints {
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
        };
        Endpoints::new(vec![
            (
                "http://a/v1".into(),
                1.0,
                Box::new(ScriptedModel::new("m", a, usage)) as _,
            ),
            (
                "http://b/v1".into(),
                1.0,
                Box::new(ScriptedModel::new("m", b, usage)) as _,
            ),
        ])
        .unwrap()
    }

    fn hi() -> ChatRequest {
        ChatRequest::new(vec![Message::user("hi")])
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_endpoint_is_taken_out_then_probed_back_in() {
        // `a` fails once, then answers; `b` always answers.
        let mut a = vec![down()];
        a.extend(answers(10));
        let endpoints = pool(a, answers(10));
        assert!(
            endpoints.chat(&hi()).await.is_err(),
            "a's failure reaches the caller"
        );
        // While `a` is out, every request goes to `b`.
        for _ in 0..3 {
            endpoints.chat(&hi()).await.unwrap();
        }
        let report = endpoints.report();
        assert_eq!((report[0].requests, report[0].errors), (1, 1));
        assert_eq!((report[1].requests, report[1].errors), (3, 0));
        // After its pause, `a` gets a probe; it answers and is back for good.
        tokio::time::advance(FIRST_PAUSE).await;
        endpoints.chat(&hi()).await.unwrap();
        let report = endpoints.report();
        assert_eq!(report[0].requests, 2, "the probe went to a");
        endpoints.chat(&hi()).await.unwrap();
        endpoints.chat(&hi()).await.unwrap();
        let report = endpoints.report();
        assert_eq!(report[0].requests + report[1].requests, 7);
        assert_eq!(report[0].completion_tokens, 5 * (report[0].requests - 1));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_go_to_the_endpoint_with_the_fewest_in_flight() {
        let endpoints = pool(answers(4), answers(4));
        let first = endpoints.checkout();
        let second = endpoints.checkout();
        assert_ne!(
            first, second,
            "the second request goes to the idle endpoint"
        );
        let third = endpoints.checkout();
        endpoints.checkin(first, Outcome::Cancelled);
        endpoints.checkin(second, Outcome::Cancelled);
        endpoints.checkin(third, Outcome::Cancelled);
        let report = endpoints.report();
        assert_eq!(report[0].requests + report[1].requests, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn busy_time_counts_only_time_with_a_request_in_flight() {
        let endpoints = pool(answers(1), answers(1));
        tokio::time::advance(Duration::from_secs(3)).await;
        let index = endpoints.checkout();
        tokio::time::advance(Duration::from_secs(1)).await;
        endpoints.checkin(
            index,
            Outcome::Answered {
                prompt: 1,
                completion: 1,
            },
        );
        let second = endpoints.checkout();
        let third = endpoints.checkout();
        tokio::time::advance(Duration::from_secs(1)).await;
        endpoints.checkin(second, Outcome::Cancelled);
        endpoints.checkin(third, Outcome::Cancelled);
        // 5 s in all: 1 s with one request at `index`, then 1 s with two requests spread.
        let report = endpoints.report();
        assert_eq!(report[index].busy_secs, 2.0);
        assert_eq!(report[index].busy_fraction, 0.4);
        let total: f64 = report.iter().map(|r| r.mean_in_flight).sum();
        assert!((total - 3.0 / 5.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn an_empty_endpoint_list_is_an_error() {
        assert!(Endpoints::new(Vec::new()).is_err());
    }
}
