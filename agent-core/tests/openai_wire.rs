//! Wire-format tests of the OpenAI-compatible provider against a mock HTTP server.

use agent_core::llm::{
    ChatModel, ChatRequest, ErrorClass, LlmError, Message, OpenAiCompatible, OpenAiEmbeddings,
    RetryPolicy, Retrying,
};
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ok_body(text: &str) -> serde_json::Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    })
}

fn client(server: &MockServer, timeout: Duration) -> OpenAiCompatible {
    OpenAiCompatible::new(format!("{}/v1", server.uri()), "test-model", None, timeout).unwrap()
}

/// A client timeout, and a server "delay" that outlasts any test: the late answer never comes
/// while the on-time one has the whole timeout to arrive, however loaded the machine.
const TIMEOUT: Duration = Duration::from_secs(2);
const NEVER: Duration = Duration::from_secs(3600);

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        multiplier: 2.0,
        jitter: 0.2,
        max_retry_after: Duration::from_secs(5),
    }
}

fn hello() -> ChatRequest {
    ChatRequest::new(vec![Message::system("be brief"), Message::user("hi")])
}

#[tokio::test]
async fn success_sends_every_field_and_parses_the_reply() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test-abcdefghijkl"))
        .and(body_partial_json(json!({
            "model": "test-model",
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            "temperature": 0.0, "top_p": 0.9, "max_tokens": 32, "stop": ["\n\n"], "seed": 7
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("hello")))
        .expect(1)
        .mount(&server)
        .await;
    let model = OpenAiCompatible::new(
        format!("{}/v1/", server.uri()),
        "test-model",
        Some(SecretString::from("sk-test-abcdefghijkl")),
        Duration::from_secs(5),
    )
    .unwrap();
    let request = hello()
        .temperature(0.0)
        .top_p(0.9)
        .max_tokens(32)
        .stop("\n\n")
        .seed(7);
    let response = model.chat(&request).await.unwrap();
    assert_eq!(response.text(), "hello");
    assert_eq!(response.usage.prompt_tokens, 12);
    assert_eq!(response.usage.completion_tokens, 3);
    assert_eq!(response.model, "test-model");
    assert!(
        !format!("{model:?}").contains("abcdefghijkl"),
        "Debug must redact the key"
    );
}

#[tokio::test]
async fn n_samples_in_one_call_when_the_server_supports_it() {
    let server = MockServer::start().await;
    let mut body = ok_body("a");
    body["choices"] = json!([
        {"index": 0, "message": {"role": "assistant", "content": "a"}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": "b"}, "finish_reason": "length"},
        {"index": 2, "message": {"role": "assistant", "content": "c"}, "finish_reason": "stop"}
    ]);
    Mock::given(body_partial_json(json!({"n": 3})))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let response = client(&server, Duration::from_secs(5))
        .chat(&hello().n(3))
        .await
        .unwrap();
    let texts: Vec<_> = response.choices.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["a", "b", "c"]);
    assert_eq!(
        response.choices[1].finish_reason,
        agent_core::llm::FinishReason::Length
    );
}

fn sent_seeds(requests: &[wiremock::Request]) -> Vec<u64> {
    let mut seeds: Vec<u64> = requests
        .iter()
        .map(|r| {
            r.body_json::<serde_json::Value>().unwrap()["seed"]
                .as_u64()
                .unwrap()
        })
        .collect();
    seeds.sort();
    seeds
}

#[tokio::test]
async fn n_samples_topped_up_when_the_server_returns_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("x")))
        .expect(6)
        .mount(&server)
        .await;
    let model = client(&server, Duration::from_secs(5));
    let response = model.chat(&hello().n(3).seed(1)).await.unwrap();
    assert_eq!(response.choices.len(), 3);
    assert_eq!(
        response.usage.prompt_tokens, 36,
        "each request's prompt is counted"
    );
    let first = server.received_requests().await.unwrap();
    assert_eq!(first[0].body_json::<serde_json::Value>().unwrap()["n"], 3);
    assert_eq!(
        sent_seeds(&first),
        [1, 2, 3],
        "extra samples use advanced seeds"
    );

    // Having learnt that the server ignores `n`, the next call sends one request per sample.
    let again = model.chat(&hello().n(3).seed(10)).await.unwrap();
    assert_eq!(again.choices.len(), 3);
    let all = server.received_requests().await.unwrap();
    assert!(
        all[3..].iter().all(|r| r
            .body_json::<serde_json::Value>()
            .unwrap()
            .get("n")
            .is_none()),
        "one sample per request"
    );
    assert_eq!(sent_seeds(&all[3..]), [10, 11, 12]);
}

/// A server that answers nothing until `together` requests are waiting at once, then answers
/// them all with one choice each: a provider that sent them one after another would wait forever.
async fn answers_only_in_company(together: usize) -> (String, tokio::task::JoinHandle<usize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let serve = tokio::spawn(async move {
        let mut waiting = Vec::new();
        while waiting.len() < together {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head and the body (Content-Length bytes after the blank line).
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_lowercase();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    if seen.len() >= head_end + 4 + length {
                        break;
                    }
                }
            }
            waiting.push(socket);
        }
        let body = ok_body("x").to_string();
        for mut socket in waiting {
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(reply.as_bytes()).await.unwrap();
        }
        together
    });
    (url, serve)
}

#[tokio::test]
async fn samples_a_server_ignores_n_for_are_requested_at_once() {
    let (url, serve) = answers_only_in_company(3).await;
    let model = OpenAiCompatible::new(url, "test-model", None, Duration::from_secs(30)).unwrap();
    // Teach the client that this server ignores `n` (as llama-cpp-python's does).
    model.assume_server_ignores_n();
    let response = tokio::time::timeout(Duration::from_secs(30), model.chat(&hello().n(3)))
        .await
        .expect("the three requests were in flight together")
        .unwrap();
    assert_eq!(response.choices.len(), 3);
    assert_eq!(serve.await.unwrap(), 3);
}

#[tokio::test]
async fn rate_limited_then_success_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"message": "slow down", "type": "rate_limit"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("ok")))
        .mount(&server)
        .await;
    let model = Retrying::new(client(&server, Duration::from_secs(5)), fast_retries());
    let stats = model.stats();
    let response = model.chat(&hello()).await.unwrap();
    assert_eq!(response.text(), "ok");
    let counters = stats.snapshot();
    assert_eq!(counters.retries, 1);
    assert_eq!(
        counters.waited_ms, 1000,
        "the wait is the provider's Retry-After, not the backoff"
    );
}

#[tokio::test]
async fn server_error_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("ok")))
        .mount(&server)
        .await;
    let bare = client(&server, Duration::from_secs(5))
        .chat(&hello())
        .await
        .unwrap_err();
    assert!(
        matches!(bare, LlmError::Server { status: 500, .. }),
        "{bare}"
    );
    assert_eq!(bare.class(), ErrorClass::Transient);
    assert!(bare.to_string().contains("internal error"));
    let model = Retrying::new(client(&server, Duration::from_secs(5)), fast_retries());
    assert_eq!(model.chat(&hello()).await.unwrap().text(), "ok");
    assert_eq!(model.stats().snapshot().retries, 1);
}

#[tokio::test]
async fn timeout_is_transient_and_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(ok_body("late"))
                .set_delay(NEVER),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("on time")))
        .mount(&server)
        .await;
    let model = Retrying::new(client(&server, TIMEOUT), fast_retries());
    let response = model.chat(&hello()).await.unwrap();
    assert_eq!(response.text(), "on time");
    assert_eq!(model.stats().snapshot().retries, 1);
}

#[tokio::test]
async fn timeout_error_names_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(ok_body("late"))
                .set_delay(NEVER),
        )
        .mount(&server)
        .await;
    let err = client(&server, TIMEOUT).chat(&hello()).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("2s"), "{err}");
}

#[tokio::test]
async fn malformed_json_fails_at_once_with_an_excerpt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>gateway says hi</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let model = Retrying::new(client(&server, Duration::from_secs(5)), fast_retries());
    let err = model.chat(&hello()).await.unwrap_err();
    assert!(matches!(err, LlmError::Malformed { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(err.to_string().contains("gateway says hi"), "{err}");
}

#[tokio::test]
async fn valid_json_of_the_wrong_shape_is_malformed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"choices": []})))
        .mount(&server)
        .await;
    let err = client(&server, Duration::from_secs(5))
        .chat(&hello())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no choices"), "{err}");
}

#[tokio::test]
async fn truncated_body_is_retried() {
    let server = MockServer::start().await;
    let full = ok_body("whole").to_string();
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(full[..full.len() / 2].to_string(), "application/json"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(full.clone(), "application/json"))
        .mount(&server)
        .await;
    let bare = client(&server, Duration::from_secs(5));
    let model = Retrying::new(bare, fast_retries());
    assert_eq!(model.chat(&hello()).await.unwrap().text(), "whole");
    assert_eq!(model.stats().snapshot().retries, 1);

    let server2 = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(full[..20].to_string(), "application/json"),
        )
        .mount(&server2)
        .await;
    let err = client(&server2, Duration::from_secs(5))
        .chat(&hello())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Truncated { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn context_length_error_is_classified_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "This model's maximum context length is 2048 tokens. However, you requested 5000 tokens.",
            "type": "invalid_request_error", "code": "context_length_exceeded"}})))
        .expect(1)
        .mount(&server)
        .await;
    let model = Retrying::new(client(&server, Duration::from_secs(5)), fast_retries());
    let err = model.chat(&hello()).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::ContextLength);
    assert!(err.to_string().contains("2048 tokens"), "{err}");
}

#[tokio::test]
async fn auth_error_fails_at_once_without_leaking_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Incorrect API key provided: sk-secret-0123456789. You can find your API key at ...",
            "type": "invalid_request_error", "code": "invalid_api_key"}})))
        .expect(1)
        .mount(&server)
        .await;
    let inner = OpenAiCompatible::new(
        format!("{}/v1", server.uri()),
        "test-model",
        Some(SecretString::from("sk-secret-0123456789")),
        Duration::from_secs(5),
    )
    .unwrap();
    let model = Retrying::new(inner, fast_retries());
    let err = model.chat(&hello()).await.unwrap_err();
    assert!(matches!(err, LlmError::Auth { status: 401, .. }), "{err}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("Incorrect API key provided"), "{shown}");
    assert!(!shown.contains("0123456789"), "key leaked: {shown}");
}

#[tokio::test]
async fn bad_request_keeps_the_provider_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": {"message": "model 'nope' not found"}})),
        )
        .mount(&server)
        .await;
    let err = client(&server, Duration::from_secs(5))
        .chat(&hello())
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::BadRequest { status: 404, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("model 'nope' not found"));
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let model = OpenAiCompatible::new(
        format!("http://127.0.0.1:{port}/v1"),
        "m",
        None,
        Duration::from_secs(2),
    )
    .unwrap();
    let err = model.chat(&hello()).await.unwrap_err();
    assert!(matches!(err, LlmError::Connection { .. }), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn retries_give_up_after_the_configured_count() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("overloaded"))
        .expect(3)
        .mount(&server)
        .await;
    let policy = RetryPolicy {
        max_retries: 2,
        ..fast_retries()
    };
    let model = Retrying::new(client(&server, Duration::from_secs(5)), policy);
    let err = model.chat(&hello()).await.unwrap_err();
    assert!(
        matches!(err, LlmError::RetriesExhausted { attempts: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("overloaded"));
    assert_eq!(model.stats().snapshot().gave_up, 1);
}

#[tokio::test]
async fn embeddings_round_trip_in_input_order() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/embeddings"))
        .and(body_partial_json(
            json!({"model": "emb", "input": ["a", "b"]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}],
            "model": "emb"})))
        .mount(&server)
        .await;
    let url = format!("{}/v1", server.uri());
    let texts = ["a".to_string(), "b".to_string()];
    let emb = OpenAiEmbeddings::new(&url, "emb", None, Duration::from_secs(5), 2).unwrap();
    let v = emb.embed(&texts).await.unwrap();
    assert_eq!(v, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
    // Through the memory crate's Embedder trait, dimensions are checked.
    let as_trait: &dyn memory::Embedder = &emb;
    assert_eq!(as_trait.embed(&texts).await.unwrap().len(), 2);
    let wrong = OpenAiEmbeddings::new(&url, "emb", None, Duration::from_secs(5), 3).unwrap();
    let err = memory::Embedder::embed(&wrong, &texts).await.unwrap_err();
    assert!(err.to_string().contains("2-dimensional"), "{err}");
}
