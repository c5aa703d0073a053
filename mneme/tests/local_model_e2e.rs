//! End to end against the real llama.cpp server with SmolLM2-135M.
//!
//! The test sets the server up itself (reusing the cached virtualenv and
//! weights under the data directory) and starts it on a free port.

use agent_core::llm::{
    build_chat_stack, Budget, CacheMode, ChatRequest, EndpointConfig, Ledger, LimitsConfig,
    Message, ModelConfig, PriceTable, ProviderKind, ResponseCache, RetryConfig,
};
use mneme::config::Config;
use mneme::local::{self, catalog, DataDir, LocalServer, ServerKind, ServerSpec};
use std::sync::Arc;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_smollm2(kind: ServerKind, parallel: usize) -> (LocalServer, DataDir) {
    let data = DataDir::new(Config::load(None).expect("default config").data_dir());
    let model = catalog::find(catalog::TEST_MODEL).unwrap();
    let d = data.clone();
    tokio::task::spawn_blocking(move || {
        local::ensure_server_files(&d, kind, model, None)
            .expect("server program and SmolLM2 weights");
    })
    .await
    .unwrap();
    let spec = ServerSpec {
        kind,
        parallel,
        draft: None,
        model,
        host: "127.0.0.1".into(),
        port: free_port(),
        threads: 2,
        ctx_size: 2048,
    };
    let server = LocalServer::start_foreground(&data, spec)
        .await
        .expect("server starts");
    (server, data)
}

fn model_config(server: &LocalServer) -> ModelConfig {
    ModelConfig {
        provider: ProviderKind::Openai,
        name: server.spec.model.alias.into(),
        base_url: server.spec.base_url(),
        endpoints: Vec::new(),
        api_key_env: Some("MNEME_TEST_NO_KEY".into()),
        timeout_secs: 120,
        limits: LimitsConfig {
            max_concurrent: 1,
            ..Default::default()
        },
        retry: RetryConfig::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_local_model_chat_samples_usage_and_cache() {
    let (server, _data) = start_smollm2(ServerKind::LlamaServer, 2).await;
    let cache_dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::new(Budget::default()));
    let stack = build_chat_stack(
        &model_config(&server),
        Some(ResponseCache::new(cache_dir.path(), CacheMode::ReadWrite)),
        PriceTable::default(),
        ledger.clone(),
    )
    .unwrap();

    // A plain completion at temperature 0.
    let question = ChatRequest::new(vec![
        Message::system("You are a helpful assistant."),
        Message::user("What is the capital of France? Answer in one word."),
    ])
    .temperature(0.0)
    .max_tokens(16);
    let first = stack.model.chat(&question).await.expect("chat completion");
    assert!(!first.text().trim().is_empty(), "the model answered");
    assert!(!first.cached);
    assert!(
        first.usage.prompt_tokens > 10,
        "prompt tokens counted: {:?}",
        first.usage
    );
    assert!(
        first.usage.completion_tokens > 0,
        "completion tokens counted: {:?}",
        first.usage
    );
    assert_eq!(first.cost_usd, 0.0, "local models cost nothing");

    // The same deterministic request is answered from disk.
    let again = stack.model.chat(&question).await.unwrap();
    assert!(again.cached, "repeat served from the cache");
    assert_eq!(again.text(), first.text());

    // Greedy decoding is byte-identical on a second live call (no cache).
    let live = build_chat_stack(
        &model_config(&server),
        None,
        PriceTable::default(),
        Arc::new(Ledger::default()),
    )
    .unwrap();
    let live_again = live.model.chat(&question).await.unwrap();
    assert_eq!(
        live_again.text(),
        first.text(),
        "temperature 0 is reproducible"
    );

    // Several samples in one call.
    let sampled = three_colours();
    // Two slots: llama-server refuses n = 3 (n may not exceed its slots), so the three samples
    // come as three requests sent at once.
    let samples = stack.model.chat(&sampled).await.unwrap();
    assert_eq!(samples.choices.len(), 3);
    assert!(samples.choices.iter().all(|c| !c.text.is_empty()));
    let one = stack.model.chat(&sampled.clone().n(1)).await.unwrap();
    assert_eq!(
        samples.usage.prompt_tokens,
        3 * one.usage.prompt_tokens,
        "three requests, each processing the prompt"
    );
    assert_eq!(
        stack.endpoints.report()[0].requests,
        3,
        "calls that reached the server: the question (its repeat came from the cache), the \
         three samples, the single sample"
    );

    // Over-long prompts are classified, not retried forever.
    let huge = ChatRequest::new(vec![Message::user("word ".repeat(6000))]).max_tokens(4);
    let err = stack.model.chat(&huge).await.unwrap_err();
    assert_eq!(
        err.class(),
        agent_core::llm::ErrorClass::ContextLength,
        "{err}"
    );

    let totals = ledger.totals();
    assert_eq!(totals.calls, 4);
    assert_eq!(totals.cached_calls, 1);
    assert!(totals.completion_tokens >= first.usage.completion_tokens * 2);

    // The command-line program talks to the same server through config overrides.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mneme"))
        .args(["chat", "--max-tokens", "16", "Say hello."])
        .env("MNEME_MODEL__BASE_URL", server.spec.base_url())
        .env("MNEME_MODEL__NAME", server.spec.model.alias)
        .env("MNEME_LOCAL__AUTOSTART", "false")
        .env("OPENAI_API_KEY", "sk-should-never-appear-0123456789")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mneme chat failed: {stderr}");
    assert!(!stdout.trim().is_empty());
    assert!(stderr.contains("completion tokens"), "usage line: {stderr}");
    assert!(
        stderr.contains("model_call"),
        "model-call span logged: {stderr}"
    );
    assert!(
        !stderr.contains("0123456789") && !stdout.contains("0123456789"),
        "key leaked into logs"
    );
}

/// Three sampled answers to one question.
fn three_colours() -> ChatRequest {
    ChatRequest::new(vec![Message::user("Name a colour.")])
        .temperature(0.9)
        .max_tokens(8)
        .n(3)
        .seed(5)
}

fn question(text: &str) -> ChatRequest {
    ChatRequest::new(vec![Message::user(text)])
        .temperature(0.0)
        .max_tokens(24)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llama_server_batches_requests_and_serves_n_samples_in_one_request() {
    let (server, _data) = start_smollm2(ServerKind::LlamaServer, 4).await;
    let mut config = model_config(&server);
    config.limits.max_concurrent = 4;
    let stack = agent_core::llm::stack::build_unbudgeted(&config).unwrap();
    // Four questions at once: all answered, each with its own usage.
    let questions = [
        "Name a fruit.",
        "Name a city.",
        "Name a river.",
        "Name a tree.",
    ];
    let requests: Vec<ChatRequest> = questions.iter().map(|q| question(q)).collect();
    let answers = futures::future::join_all(requests.iter().map(|r| stack.model.chat(r))).await;
    for a in &answers {
        let a = a.as_ref().expect("answered");
        assert!(!a.text().is_empty() && a.usage.completion_tokens > 0);
    }
    // llama-server honours `n`: three samples come back from one request.
    let sampled = three_colours();
    let samples = stack.model.chat(&sampled).await.unwrap();
    assert_eq!(samples.choices.len(), 3);
    let report = stack.endpoints.report();
    assert_eq!(report.len(), 1);
    assert_eq!(
        report[0].requests, 5,
        "four questions and one request for three samples"
    );
    assert_eq!(report[0].errors, 0);
    assert!(report[0].busy_secs > 0.0 && report[0].busy_fraction <= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_is_taken_out_and_the_live_one_answers() {
    let (server, _data) = start_smollm2(ServerKind::LlamaServer, 2).await;
    let mut config = model_config(&server);
    config.endpoints = vec![
        EndpointConfig {
            base_url: format!("http://127.0.0.1:{}/v1", free_port()),
            weight: 1.0,
        },
        EndpointConfig {
            base_url: server.spec.base_url(),
            weight: 1.0,
        },
    ];
    config.retry.initial_backoff_ms = 10;
    let stack = agent_core::llm::stack::build_unbudgeted(&config).unwrap();
    for q in ["Name a fruit.", "Name a city.", "Name a river."] {
        stack
            .model
            .chat(&question(q))
            .await
            .expect("the live endpoint answers");
    }
    let report = stack.endpoints.report();
    assert_eq!(
        report[0].errors, report[0].requests,
        "the dead one only failed"
    );
    assert!(report[0].requests >= 1);
    assert!(
        report[1].requests >= 3 && report[1].errors == 0,
        "{report:?}"
    );
    assert!(report[1].completion_tokens > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llama_cpp_python_fallback_serves_chat_and_samples() {
    let (server, _data) = start_smollm2(ServerKind::LlamaCppPython, 1).await;
    let stack = agent_core::llm::stack::build_unbudgeted(&model_config(&server)).unwrap();
    let first = stack.model.chat(&question("Name a fruit.")).await.unwrap();
    let again = stack.model.chat(&question("Name a fruit.")).await.unwrap();
    assert_eq!(first.text(), again.text(), "temperature 0 is reproducible");
    let sampled = three_colours();
    let samples = stack.model.chat(&sampled).await.unwrap();
    assert_eq!(samples.choices.len(), 3);
    assert_eq!(
        stack.endpoints.report()[0].requests,
        3,
        "two questions and one request for three samples (this server honours n)"
    );
}
