//! Tracing set-up: `RUST_LOG` (or `logging.filter`), text or JSON, on stderr.
//!
//! Spans nest run → task → trial → `model_call`; the model-call span carries
//! model, tokens, latency and cost. Keys never reach a span: providers redact
//! their Debug output and error messages.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, early.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}
