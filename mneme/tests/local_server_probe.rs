//! Finding the local model server: a busy server is waited for, never started twice, and
//! whatever else holds the port is named.

use mneme::local::server::{ensure_detached, probe, Probe, ServerKind, ServerSpec, QUICK_PROBE};
use mneme::local::{catalog, DataDir};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn spec(port: u16) -> ServerSpec {
    ServerSpec {
        kind: ServerKind::LlamaServer,
        parallel: 1,
        draft: None,
        model: catalog::find("smollm2-135m").unwrap(),
        host: "127.0.0.1".into(),
        port,
        threads: 1,
        ctx_size: 2048,
    }
}

async fn models_server(ids: &[&str], delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    let data: Vec<_> = ids.iter().map(|id| serde_json::json!({"id": id})).collect();
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({ "data": data }))
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_server_busy_generating_is_waited_for_not_started_a_second_time() {
    // llama.cpp's Python server lists its models only between generations: here it takes
    // longer than the quick probe. Starting another server would fail (the data directory has
    // no virtualenv) and would fight over the port.
    let server = models_server(&["smollm2-135m-instruct"], QUICK_PROBE * 2).await;
    let data = tempfile::tempdir().unwrap();
    let spec = spec(server.address().port());
    assert_eq!(probe(&spec.base_url(), QUICK_PROBE).await, Probe::Busy);
    ensure_detached(&DataDir::new(data.path()), &spec)
        .await
        .expect("the busy server is used");
}

#[tokio::test]
async fn a_server_with_another_model_is_refused_by_name() {
    let server = models_server(&["qwen2.5-coder-1.5b-instruct"], Duration::ZERO).await;
    let data = tempfile::tempdir().unwrap();
    let err = ensure_detached(&DataDir::new(data.path()), &spec(server.address().port()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("qwen2.5-coder-1.5b-instruct") && err.contains("smollm2-135m-instruct"),
        "{err}"
    );
}

#[tokio::test]
async fn something_else_on_the_port_is_named_and_a_free_port_is_down() {
    let server = MockServer::start().await; // answers 404 to everything
    let data = tempfile::tempdir().unwrap();
    let spec_taken = spec(server.address().port());
    assert!(matches!(
        probe(&spec_taken.base_url(), QUICK_PROBE).await,
        Probe::Unusable(why) if why.contains("404")
    ));
    let err = ensure_detached(&DataDir::new(data.path()), &spec_taken)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a model server"), "{err}");

    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    assert_eq!(
        probe(&spec(port).base_url(), QUICK_PROBE).await,
        Probe::Down
    );
}

/// A port whose next port is free too (the server for the asked model goes there).
fn port_pair() -> (std::net::TcpListener, u16) {
    loop {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return (first, port);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_mneme_started_for_another_model_is_left_alone_and_the_next_port_used() {
    // The real data directory: its virtualenv and SmolLM2 weights serve the second server.
    let config = mneme::config::Config::load(None).expect("default config");
    let data = DataDir::new(config.data_dir());
    let (held, port) = port_pair();
    drop(held);
    // Another run's server on `port`, started by mneme (a pid file), serving another model.
    let other = wiremock::MockServer::builder()
        .listener(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap())
        .start()
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"data": [{"id": "qwen2.5-coder-0.5b-instruct"}]}),
            ),
        )
        .mount(&other)
        .await;
    let pid_file = data.run().join(format!("server-{port}.json"));
    std::fs::create_dir_all(data.run()).unwrap();
    std::fs::write(
        &pid_file,
        serde_json::json!({"pid": u32::MAX, "model": "qwen2.5-coder-0.5b", "port": port})
            .to_string(),
    )
    .unwrap();

    let mut config = config;
    config.local.model = "smollm2-135m".into();
    config.local.port = port;
    config.local.threads = 1;
    config.model.base_url = format!("http://127.0.0.1:{port}/v1");
    let model = mneme::wiring::model_config(&config).await;
    let _ = std::fs::remove_file(&pid_file);
    let model = model.expect("a server for the asked model");
    assert_eq!(model.base_url, format!("http://127.0.0.1:{}/v1", port + 1));
    assert_eq!(
        probe(&model.base_url, QUICK_PROBE).await,
        Probe::Serving(vec!["smollm2-135m-instruct".into()])
    );
    assert_eq!(
        other.received_requests().await.unwrap().len(),
        1,
        "only asked what it serves"
    );
    mneme::local::server::stop(&data, port + 1).unwrap();
}
