//! Wire-format tests of the Anthropic Messages provider against a mock HTTP server.

use agent_core::llm::{
    Anthropic, ChatModel, ChatRequest, ErrorClass, FinishReason, LlmError, Message, RetryPolicy,
    Retrying,
};
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-ant-test-0123456789";

fn ok_body(text: &str) -> serde_json::Value {
    json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 20, "output_tokens": 4}
    })
}

fn client(server: &MockServer, timeout: Duration) -> Anthropic {
    Anthropic::new(
        server.uri(),
        "claude-test",
        SecretString::from(KEY),
        timeout,
    )
    .unwrap()
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        multiplier: 2.0,
        jitter: 0.1,
        max_retry_after: Duration::from_secs(5),
    }
}

fn convo() -> ChatRequest {
    ChatRequest::new(vec![
        Message::system("you are terse"),
        Message::user("hi"),
        Message::assistant("hello"),
        Message::user("bye"),
    ])
}

#[tokio::test]
async fn success_maps_system_headers_and_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .and(body_partial_json(json!({
            "model": "claude-test",
            "max_tokens": 64,
            "system": "you are terse",
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"}],
            "temperature": 0.0,
            "stop_sequences": ["END"]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("bye")))
        .expect(1)
        .mount(&server)
        .await;
    let response = client(&server, Duration::from_secs(5))
        .chat(&convo().max_tokens(64).temperature(0.0).stop("END"))
        .await
        .unwrap();
    assert_eq!(response.text(), "bye");
    assert_eq!(response.usage.prompt_tokens, 20);
    assert_eq!(response.usage.completion_tokens, 4);
    assert_eq!(response.choices[0].finish_reason, FinishReason::Stop);
    assert!(!format!("{:?}", client(&server, Duration::from_secs(1))).contains("0123456789"));
}

#[tokio::test]
async fn default_max_tokens_and_n_by_repeated_calls() {
    let server = MockServer::start().await;
    Mock::given(body_partial_json(json!({"max_tokens": 1024})))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("s")))
        .expect(2)
        .mount(&server)
        .await;
    let response = client(&server, Duration::from_secs(5))
        .chat(&convo().n(2))
        .await
        .unwrap();
    assert_eq!(response.choices.len(), 2);
    assert_eq!(response.usage.prompt_tokens, 40);
}

#[tokio::test]
async fn overloaded_529_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(529).set_body_json(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("fine")))
        .mount(&server)
        .await;
    let model = Retrying::new(client(&server, Duration::from_secs(5)), policy());
    assert_eq!(model.chat(&convo()).await.unwrap().text(), "fine");
    assert_eq!(model.stats().snapshot().retries, 1);
}

#[tokio::test]
async fn rate_limit_with_retry_after_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1")
            .set_body_json(json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("fine")))
        .mount(&server)
        .await;
    let model = Retrying::new(client(&server, Duration::from_secs(5)), policy());
    assert_eq!(model.chat(&convo()).await.unwrap().text(), "fine");
    assert_eq!(model.stats().snapshot().waited_ms, 1000);
}

#[tokio::test]
async fn prompt_too_long_is_context_length() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}})))
        .expect(1)
        .mount(&server)
        .await;
    let err = Retrying::new(client(&server, Duration::from_secs(5)), policy())
        .chat(&convo())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::ContextLength);
    assert!(err.to_string().contains("210000 tokens"));
}

#[tokio::test]
async fn auth_error_is_permanent_and_redacted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"type": "error", "error": {"type": "authentication_error", "message": format!("invalid x-api-key {KEY}")}})))
        .expect(1)
        .mount(&server)
        .await;
    let err = Retrying::new(client(&server, Duration::from_secs(5)), policy())
        .chat(&convo())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Auth { .. }), "{err}");
    assert!(!format!("{err:?}").contains("0123456789"));
    assert!(err.to_string().contains("invalid x-api-key"));
}

#[tokio::test]
async fn malformed_and_truncated_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"unexpected": true})))
        .mount(&server)
        .await;
    let err = client(&server, Duration::from_secs(5))
        .chat(&convo())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Malformed { .. }), "{err}");
    assert!(
        err.to_string().contains("content"),
        "names the missing field: {err}"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"content": [{"type": "te"#, "application/json"),
        )
        .mount(&server)
        .await;
    let err = client(&server, Duration::from_secs(5))
        .chat(&convo())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Truncated { .. }), "{err}");
}

#[tokio::test]
async fn timeout_is_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(ok_body("late"))
                .set_delay(Duration::from_secs(3600)), // never, within the test
        )
        .mount(&server)
        .await;
    let err = client(&server, Duration::from_millis(200))
        .chat(&convo())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Transient);
}
