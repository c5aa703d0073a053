//! What every provider shares: sending a JSON request, reading the reply, and
//! turning HTTP failures into classified [`LlmError`]s.

use crate::llm::LlmError;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::time::{Duration, SystemTime};

/// Substrings by which providers say "your prompt is too long".
const CONTEXT_LENGTH_MARKERS: &[&str] = &[
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "context length",
    "prompt is too long",
    "too many tokens",
    "exceeds the context",
    // llama-server: "request (6031 tokens) exceeds the available context size (2048 tokens)"
    "exceeds the available context size",
    "exceed_context_size_error",
];

/// The HTTP client of a provider, with its per-request timeout.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build HTTP client: {e}")))
}

/// Sends `request` and decodes a JSON body of type `T`, classifying every failure.
pub(crate) async fn send_json<T: DeserializeOwned>(
    provider: &str,
    request: reqwest::RequestBuilder,
    timeout: Duration,
    key: Option<&SecretString>,
) -> Result<T, LlmError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, e, timeout))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await;
    if !status.is_success() {
        let text = body
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        return Err(status_error(provider, status, &headers, &text, key));
    }
    let body = body.map_err(|e| {
        if e.is_timeout() {
            LlmError::Timeout {
                provider: provider.to_string(),
                timeout,
            }
        } else {
            LlmError::Truncated {
                provider: provider.to_string(),
                message: e.to_string(),
            }
        }
    })?;
    serde_json::from_slice::<T>(&body).map_err(|e| {
        if e.is_eof() {
            LlmError::Truncated {
                provider: provider.to_string(),
                message: format!("JSON ended early ({e})"),
            }
        } else {
            LlmError::Malformed {
                provider: provider.to_string(),
                message: e.to_string(),
                body_excerpt: excerpt(&String::from_utf8_lossy(&body), 200),
            }
        }
    })
}

/// Maps a failure to send or receive at the transport level.
fn transport_error(provider: &str, e: reqwest::Error, timeout: Duration) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout {
            provider: provider.to_string(),
            timeout,
        }
    } else {
        // Connect errors, resets and broken bodies all deserve another try.
        LlmError::Connection {
            provider: provider.to_string(),
            message: error_chain(&e),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Maps a non-success HTTP status to a classified error.
pub(crate) fn status_error(
    provider: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    key: Option<&SecretString>,
) -> LlmError {
    let provider = provider.to_string();
    let message = redact(&provider_message(body), key);
    let code = status.as_u16();
    let lower = message.to_lowercase();
    let mentions_context = CONTEXT_LENGTH_MARKERS.iter().any(|m| lower.contains(m));
    match code {
        429 => LlmError::RateLimited {
            provider,
            message,
            retry_after: retry_after(headers),
        },
        401 | 403 => LlmError::Auth {
            provider,
            status: code,
            message,
        },
        408 => LlmError::Timeout {
            provider,
            timeout: Duration::ZERO,
        },
        413 => LlmError::ContextLength { provider, message },
        400..=499 if mentions_context => LlmError::ContextLength { provider, message },
        // llama.cpp's server answers an over-long prompt with a 500 that says so.
        500..=599 if mentions_context => LlmError::ContextLength { provider, message },
        500..=599 => LlmError::Server {
            provider,
            status: code,
            message,
            retry_after: retry_after(headers),
        },
        _ => LlmError::BadRequest {
            provider,
            status: code,
            message,
        },
    }
}

/// Pulls `error.message` (OpenAI, Anthropic) or `detail`/`message` out of an error body.
fn provider_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        let candidates = [
            v.pointer("/error/message"),
            v.pointer("/error").filter(|e| e.is_string()),
            v.pointer("/message"),
            v.pointer("/detail"),
        ];
        for c in candidates.into_iter().flatten() {
            match c {
                serde_json::Value::String(s) => return excerpt(s, 1000),
                other if !other.is_null() => return excerpt(&other.to_string(), 1000),
                _ => {}
            }
        }
    }
    if body.trim().is_empty() {
        "(empty body)".to_string()
    } else {
        excerpt(body.trim(), 1000)
    }
}

/// Reads `retry-after-ms`, then `Retry-After` (seconds or an HTTP date).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers.get("retry-after-ms").and_then(|v| v.to_str().ok()) {
        if let Ok(ms) = ms.trim().parse::<f64>() {
            return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
        }
    }
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Removes the API key, and anything shaped like one, from a provider message.
pub(crate) fn redact(message: &str, key: Option<&SecretString>) -> String {
    let mut out = message.to_string();
    if let Some(key) = key {
        let k = key.expose_secret();
        if !k.is_empty() {
            out = out.replace(k, "[REDACTED]");
        }
    }
    out.split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_start_matches(['"', '\'', '(']);
            if trimmed.starts_with("sk-") && trimmed.trim_end().len() > 8 {
                let trailing: String = word.chars().filter(|c| c.is_whitespace()).collect();
                format!("[REDACTED]{trailing}")
            } else {
                word.to_string()
            }
        })
        .collect()
}

/// The first `max` characters of `s`, with an ellipsis when cut.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_ms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn redacts_keys() {
        let key = SecretString::from("sk-live-1234567890abcdef");
        let msg =
            "Incorrect API key provided: sk-live-1234567890abcdef. Also sk-proj-abcdefghijk here";
        let red = redact(msg, Some(&key));
        assert!(!red.contains("1234567890"), "{red}");
        assert!(!red.contains("sk-proj-abcdefghijk"), "{red}");
        assert!(red.contains("Incorrect API key provided"));
    }

    #[test]
    fn context_length_is_recognised() {
        let body = r#"{"error":{"message":"This model's maximum context length is 4096 tokens","code":"context_length_exceeded"}}"#;
        let e = status_error(
            "openai",
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            body,
            None,
        );
        assert!(matches!(e, LlmError::ContextLength { .. }), "{e}");
    }
}
