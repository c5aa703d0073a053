//! Model-call errors, each classified as transient, permanent or context-length.
//!
//! The class drives what happens next: transient errors are retried with
//! backoff, permanent ones fail at once with the provider's message, and a
//! context-length error tells the caller to shorten the prompt.

use std::time::Duration;

/// What kind of failure an error is, and so what to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth retrying: rate limits, server errors, timeouts, dropped connections.
    Transient,
    /// Retrying cannot help: bad credentials, a bad request, a broken reply, an exhausted budget.
    Permanent,
    /// The prompt does not fit the model's context window.
    ContextLength,
}

/// An error from a model call.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// HTTP 429.
    #[error("{provider}: rate limited (HTTP 429): {message}")]
    RateLimited {
        /// Provider label.
        provider: String,
        /// The provider's message.
        message: String,
        /// How long the provider asked us to wait.
        retry_after: Option<Duration>,
    },
    /// HTTP 5xx (or Anthropic's 529 "overloaded").
    #[error("{provider}: server error (HTTP {status}): {message}")]
    Server {
        /// Provider label.
        provider: String,
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
        /// How long the provider asked us to wait.
        retry_after: Option<Duration>,
    },
    /// No complete answer within the request timeout.
    #[error("{provider}: no response within {timeout:?}")]
    Timeout {
        /// Provider label.
        provider: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The connection could not be made or was reset.
    #[error("{provider}: connection failed: {message}")]
    Connection {
        /// Provider label.
        provider: String,
        /// What the HTTP client reported.
        message: String,
    },
    /// The response body ended before the JSON did.
    #[error("{provider}: response body was cut off: {message}")]
    Truncated {
        /// Provider label.
        provider: String,
        /// What went wrong reading it.
        message: String,
    },
    /// HTTP 401/403.
    #[error("{provider}: authentication failed (HTTP {status}): {message}")]
    Auth {
        /// Provider label.
        provider: String,
        /// HTTP status.
        status: u16,
        /// The provider's message (with any key redacted).
        message: String,
    },
    /// Other 4xx: the request itself is wrong.
    #[error("{provider}: request rejected (HTTP {status}): {message}")]
    BadRequest {
        /// Provider label.
        provider: String,
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The prompt (plus `max_tokens`) exceeds the context window.
    #[error("{provider}: prompt exceeds the model's context window: {message}")]
    ContextLength {
        /// Provider label.
        provider: String,
        /// The provider's message.
        message: String,
    },
    /// A complete response that is not what the API promises.
    #[error("{provider}: malformed response: {message}; body starts with: {body_excerpt:?}")]
    Malformed {
        /// Provider label.
        provider: String,
        /// What is wrong with it.
        message: String,
        /// The first bytes of the body, for diagnosis.
        body_excerpt: String,
    },
    /// A token or money budget is spent; no further call is started.
    #[error("budget exhausted: {0}")]
    BudgetExhausted(String),
    /// The response cache could not be read or written.
    #[error("response cache: {0}")]
    Cache(String),
    /// The model stack is misconfigured.
    #[error("configuration: {0}")]
    Config(String),
    /// A transient error persisted through every retry.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// Attempts made, the first included.
        attempts: u32,
        /// The error of the last attempt.
        last: Box<LlmError>,
    },
}

impl LlmError {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            LlmError::RateLimited { .. }
            | LlmError::Server { .. }
            | LlmError::Timeout { .. }
            | LlmError::Connection { .. }
            | LlmError::Truncated { .. } => ErrorClass::Transient,
            LlmError::ContextLength { .. } => ErrorClass::ContextLength,
            LlmError::RetriesExhausted { last, .. } => last.class(),
            LlmError::Auth { .. }
            | LlmError::BadRequest { .. }
            | LlmError::Malformed { .. }
            | LlmError::BudgetExhausted(_)
            | LlmError::Cache(_)
            | LlmError::Config(_) => ErrorClass::Permanent,
        }
    }

    /// True when a retry may succeed (and retries are not already exhausted).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, LlmError::RetriesExhausted { .. }) && self.class() == ErrorClass::Transient
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::RateLimited { retry_after, .. } | LlmError::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let p = || "p".to_string();
        assert_eq!(
            LlmError::RateLimited {
                provider: p(),
                message: p(),
                retry_after: None
            }
            .class(),
            ErrorClass::Transient
        );
        assert_eq!(
            LlmError::Auth {
                provider: p(),
                status: 401,
                message: p()
            }
            .class(),
            ErrorClass::Permanent
        );
        assert_eq!(
            LlmError::ContextLength {
                provider: p(),
                message: p()
            }
            .class(),
            ErrorClass::ContextLength
        );
        let exhausted = LlmError::RetriesExhausted {
            attempts: 3,
            last: Box::new(LlmError::Timeout {
                provider: p(),
                timeout: Duration::from_secs(1),
            }),
        };
        assert_eq!(exhausted.class(), ErrorClass::Transient);
        assert!(!exhausted.is_retryable());
    }
}
