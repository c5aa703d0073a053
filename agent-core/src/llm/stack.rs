//! Assembles provider and layers from configuration.

use crate::llm::{
    Anthropic, Budget, Cached, ChatModel, Endpoints, Ledger, Limited, LlmError, Metered,
    ModelConfig, OpenAiCompatible, PriceTable, ProviderKind, ResponseCache, RetryStats, Retrying,
};
use secrecy::SecretString;
use std::sync::Arc;

/// A ready model stack and handles to its shared state.
#[derive(Clone)]
pub struct ChatStack {
    /// The outermost layer: call this.
    pub model: Arc<dyn ChatModel>,
    /// Run totals and budget.
    pub ledger: Arc<Ledger>,
    /// Retry counters.
    pub retries: Arc<RetryStats>,
    /// The endpoints, with what each did.
    pub endpoints: Endpoints,
}

/// Reads the API key for `config` from the environment.
///
/// Returns `None` when the variable is unset or empty; the caller decides whether
/// that is fine (a local server) or an error (Anthropic).
pub fn api_key_from_env(config: &ModelConfig) -> Option<SecretString> {
    let var = config
        .api_key_env
        .as_deref()
        .unwrap_or(config.provider.default_key_env());
    std::env::var(var)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .map(SecretString::from)
}

/// The provider for `config` at one endpoint's `base_url`.
fn provider_at(config: &ModelConfig, base_url: &str) -> Result<Box<dyn ChatModel>, LlmError> {
    let key = api_key_from_env(config);
    Ok(match config.provider {
        ProviderKind::Openai => Box::new(OpenAiCompatible::new(
            base_url,
            &config.name,
            key,
            config.timeout(),
        )?),
        ProviderKind::Anthropic => {
            let var = config
                .api_key_env
                .as_deref()
                .unwrap_or(config.provider.default_key_env());
            let key = key.ok_or_else(|| {
                LlmError::Config(format!(
                    "the anthropic provider needs an API key in ${var}, which is not set"
                ))
            })?;
            Box::new(Anthropic::new(
                base_url,
                &config.name,
                key,
                config.timeout(),
            )?)
        }
    })
}

/// Builds `Metered(Cached(Retrying(Limited(Endpoints(provider per endpoint)))))` for `config`.
pub fn build_chat_stack(
    config: &ModelConfig,
    cache: Option<ResponseCache>,
    prices: PriceTable,
    ledger: Arc<Ledger>,
) -> Result<ChatStack, LlmError> {
    let mut members = Vec::new();
    for endpoint in config.endpoint_list() {
        let provider = provider_at(config, &endpoint.base_url)?;
        members.push((endpoint.base_url, endpoint.weight, provider));
    }
    let endpoints = Endpoints::new(members)?;
    let provider = endpoints.clone();
    let limited = Limited::new(provider, &config.limits)?;
    let retrying = Retrying::new(limited, config.retry.policy());
    let retries = retrying.stats();
    let cached: Box<dyn ChatModel> = match cache {
        Some(cache) => Box::new(Cached::new(retrying, cache)),
        None => Box::new(retrying),
    };
    let metered = Metered::new(cached, prices, ledger.clone());
    Ok(ChatStack {
        model: Arc::new(metered),
        ledger,
        retries,
        endpoints,
    })
}

/// A stack with no budget, for quick use.
pub fn build_unbudgeted(config: &ModelConfig) -> Result<ChatStack, LlmError> {
    build_chat_stack(
        config,
        None,
        PriceTable::default(),
        Arc::new(Ledger::new(Budget::default())),
    )
}
