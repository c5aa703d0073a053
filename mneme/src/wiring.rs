//! Turns a [`Config`] into a ready model stack, starting the local server when it is the target.

use crate::config::Config;
use crate::local::{self, catalog, DataDir, ServerSpec};
use agent_core::llm::{build_chat_stack, ChatStack, Ledger, ResponseCache};
use std::sync::Arc;

/// The local server described by `config.local`.
pub fn local_spec(config: &Config, model: Option<&str>) -> anyhow::Result<ServerSpec> {
    Ok(ServerSpec {
        model: catalog::find(model.unwrap_or(&config.local.model))?,
        host: config.local.host.clone(),
        port: config.local.port,
        threads: config.local.threads.max(1),
        ctx_size: config.local.ctx_size,
    })
}

/// Sets up (once) and starts (if nothing answers) the configured local server.
pub async fn ensure_local_server(
    config: &Config,
    model: Option<&str>,
) -> anyhow::Result<ServerSpec> {
    let spec = local_spec(config, model)?;
    let data = DataDir::new(config.data_dir());
    if local::server::probe(&spec.base_url()).await.is_none() {
        let (d, m) = (data.clone(), spec.model);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            local::ensure_venv(&d)?;
            local::ensure_model(&d, m)?;
            Ok(())
        })
        .await??;
    }
    local::server::ensure_detached(&data, &spec).await?;
    Ok(spec)
}

/// The model stack for `config`, with the local server running when it is the target.
pub async fn chat_stack(config: &Config) -> anyhow::Result<ChatStack> {
    if config.uses_local_server() && config.local.autostart {
        ensure_local_server(config, None).await?;
    }
    let cache = (config.cache.mode != agent_core::llm::CacheMode::Off)
        .then(|| ResponseCache::new(config.cache_dir(), config.cache.mode));
    let ledger = Arc::new(Ledger::new(config.budget));
    Ok(build_chat_stack(
        &config.model,
        cache,
        config.prices.clone(),
        ledger,
    )?)
}
