//! The cache and accounting layers, driven by a scripted model.

use agent_core::llm::{
    Budget, CacheMode, Cached, ChatModel, ChatRequest, Ledger, LlmError, Message, Metered, Price,
    PriceTable, ResponseCache, ScriptedModel, ScriptedTurn, Usage,
};
use std::sync::Arc;

fn greedy(q: &str) -> ChatRequest {
    ChatRequest::new(vec![Message::user(q)]).temperature(0.0)
}

#[tokio::test]
async fn read_write_cache_answers_repeats_of_deterministic_requests() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(ScriptedModel::answering(&["one", "two", "three"]));
    let model = Cached::new(
        inner.clone(),
        ResponseCache::new(dir.path(), CacheMode::ReadWrite),
    );

    let first = model.chat(&greedy("q")).await.unwrap();
    let again = model.chat(&greedy("q")).await.unwrap();
    assert_eq!((first.text(), first.cached), ("one", false));
    assert_eq!((again.text(), again.cached), ("one", true));
    assert_eq!(inner.calls(), 1, "the repeat never reached the model");

    // Sampled requests are not cached, unless their seed fixes the sample.
    let sampled = ChatRequest::new(vec![Message::user("q")]).temperature(0.8);
    assert_eq!(model.chat(&sampled).await.unwrap().text(), "two");
    assert_eq!(model.chat(&sampled).await.unwrap().text(), "three");
    let mut seeded = sampled.clone();
    seeded.seed = Some(7);
    assert!(seeded.is_deterministic());

    // The cache survives a new process: a fresh layer over the same directory hits.
    let fresh = Cached::new(
        ScriptedModel::answering(&[]),
        ResponseCache::new(dir.path(), CacheMode::ReadWrite),
    );
    assert_eq!(fresh.chat(&greedy("q")).await.unwrap().text(), "one");
}

#[tokio::test]
async fn record_then_replay_is_a_cassette() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Cached::new(
        ScriptedModel::answering(&["a", "b"]),
        ResponseCache::new(dir.path(), CacheMode::Record),
    );
    let sampled = ChatRequest::new(vec![Message::user("x")])
        .temperature(0.7)
        .seed(3);
    recorder.chat(&sampled).await.unwrap();
    recorder.chat(&greedy("y")).await.unwrap();

    let player = Cached::new(
        ScriptedModel::answering(&[]),
        ResponseCache::new(dir.path(), CacheMode::Replay),
    );
    assert_eq!(player.chat(&sampled).await.unwrap().text(), "a");
    assert_eq!(player.chat(&greedy("y")).await.unwrap().text(), "b");
    let miss = player.chat(&greedy("never asked")).await.unwrap_err();
    assert!(matches!(miss, LlmError::Cache(_)));
    assert!(miss.to_string().contains("no recorded answer"), "{miss}");
}

#[tokio::test]
async fn corrupt_entry_is_named_in_replay_and_refetched_in_read_write() {
    let dir = tempfile::tempdir().unwrap();
    let rw = Cached::new(
        ScriptedModel::answering(&["v1", "v2"]),
        ResponseCache::new(dir.path(), CacheMode::ReadWrite),
    );
    rw.chat(&greedy("q")).await.unwrap();
    let key = ResponseCache::key("scripted", &greedy("q"));
    let file = dir.path().join(&key[..2]).join(format!("{key}.json"));
    std::fs::write(&file, b"{ not json").unwrap();

    let player = Cached::new(
        ScriptedModel::answering(&[]),
        ResponseCache::new(dir.path(), CacheMode::Replay),
    );
    let err = player.chat(&greedy("q")).await.unwrap_err();
    assert!(
        err.to_string().contains("corrupt cache entry") && err.to_string().contains(&key),
        "{err}"
    );

    let answer = rw.chat(&greedy("q")).await.unwrap();
    assert_eq!((answer.text(), answer.cached), ("v2", false));
    assert_eq!(
        player.chat(&greedy("q")).await.unwrap().text(),
        "v2",
        "the entry was rewritten"
    );
}

#[tokio::test]
async fn metered_prices_calls_and_stops_at_the_budget() {
    let scripted = ScriptedModel::new(
        "paid-model",
        vec![
            ScriptedTurn::Answer("a".into()),
            ScriptedTurn::Answer("b".into()),
            ScriptedTurn::Answer("c".into()),
        ],
        Usage {
            prompt_tokens: 400,
            completion_tokens: 100,
        },
    );
    let mut prices = PriceTable::default();
    prices.0.insert(
        "paid-model".into(),
        Price {
            input_per_mtok: 1000.0,
            output_per_mtok: 2000.0,
        },
    );
    let ledger = Arc::new(Ledger::new(Budget {
        max_tokens: Some(1000),
        max_cost_usd: None,
    }));
    let model = Metered::new(scripted, prices, ledger.clone());

    let first = model.chat(&greedy("1")).await.unwrap();
    assert!(
        (first.cost_usd - 0.6).abs() < 1e-9,
        "400*1000/1e6 + 100*2000/1e6"
    );
    model.chat(&greedy("2")).await.unwrap();
    let refused = model.chat(&greedy("3")).await.unwrap_err();
    assert!(matches!(refused, LlmError::BudgetExhausted(_)), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("1000 tokens used of a 1000-token budget"),
        "{refused}"
    );
    let totals = ledger.totals();
    assert_eq!((totals.calls, totals.total_tokens()), (2, 1000));
    assert!((totals.cost_usd - 1.2).abs() < 1e-9);
}

#[tokio::test]
async fn cache_hits_cost_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut prices = PriceTable::default();
    prices.0.insert(
        "scripted".into(),
        Price {
            input_per_mtok: 1e6,
            output_per_mtok: 1e6,
        },
    );
    let ledger = Arc::new(Ledger::new(Budget::default()));
    let cached = Cached::new(
        ScriptedModel::answering(&["x"]),
        ResponseCache::new(dir.path(), CacheMode::ReadWrite),
    );
    let model = Metered::new(cached, prices, ledger.clone());
    let live = model.chat(&greedy("q")).await.unwrap();
    let hit = model.chat(&greedy("q")).await.unwrap();
    assert!(live.cost_usd > 0.0);
    assert_eq!(hit.cost_usd, 0.0);
    let totals = ledger.totals();
    assert_eq!((totals.calls, totals.cached_calls), (2, 1));
}

/// Refuses the first `storm` calls with 429 (wait 0) and answers the rest, noting on tokio's
/// clock when each call arrived.
struct Storm {
    storm: usize,
    arrivals: std::sync::Mutex<Vec<tokio::time::Instant>>,
}

#[async_trait::async_trait]
impl ChatModel for Storm {
    async fn chat(&self, _: &ChatRequest) -> Result<agent_core::llm::ChatResponse, LlmError> {
        let arrived = {
            let mut arrivals = self.arrivals.lock().unwrap();
            arrivals.push(tokio::time::Instant::now());
            arrivals.len()
        };
        if arrived <= self.storm {
            return Err(LlmError::RateLimited {
                provider: "storm".into(),
                message: "rate limit reached".into(),
                retry_after: Some(std::time::Duration::ZERO),
            });
        }
        ScriptedModel::answering(&["ok"]).chat(&greedy("q")).await
    }
    fn model(&self) -> &str {
        "storm"
    }
    fn provider(&self) -> &str {
        "storm"
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_storm_is_absorbed_within_the_configured_rate() {
    use agent_core::llm::{Limited, LimitsConfig, RetryPolicy, Retrying};
    use std::time::Duration;
    let storm = Arc::new(Storm {
        storm: 30,
        arrivals: Default::default(),
    });
    // 1200 requests a minute = one every 50 ms, no burst. Every attempt takes a permit,
    // retries included.
    let limits = LimitsConfig {
        max_concurrent: 8,
        requests_per_minute: Some(1200),
        ..Default::default()
    };
    let policy = RetryPolicy {
        max_retries: 40,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        multiplier: 2.0,
        jitter: 0.2,
        max_retry_after: Duration::from_secs(5),
    };
    let model = Arc::new(Retrying::new(
        Limited::new(storm.clone(), &limits).unwrap(),
        policy,
    ));
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let model = model.clone();
            tokio::spawn(async move { model.chat(&greedy("q")).await })
        })
        .collect();
    for call in calls {
        let response = call.await.unwrap().expect("every call succeeds");
        assert_eq!(response.text(), "ok");
    }
    let arrivals = storm.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 42, "30 refused attempts plus 12 successes");
    // On tokio's (paused, so exact) clock, no two attempts are closer than the rate allows.
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(50),
            "attempts {gap:?} apart at 1200/min"
        );
    }
    assert_eq!(model.stats().snapshot().retries, 30);
}
