//! Turns a [`Config`] into a ready model stack, starting the local server when it is the target.

use crate::config::Config;
use crate::local::{self, catalog, DataDir, ServerSpec};
use agent_core::llm::{build_chat_stack, ChatStack, Ledger, ResponseCache};
use std::sync::Arc;

/// The local server described by `config.local`.
pub fn local_spec(config: &Config, model: Option<&str>) -> anyhow::Result<ServerSpec> {
    Ok(ServerSpec {
        kind: config.local.server,
        parallel: config.local.parallel,
        draft: config
            .local
            .draft_model
            .as_deref()
            .map(catalog::find)
            .transpose()?,
        model: catalog::find(model.unwrap_or(&config.local.model))?,
        host: config.local.host.clone(),
        port: config.local.port,
        threads: config.local.threads.max(1),
        ctx_size: config.local.ctx_size,
    })
}

/// Ports tried above the configured one for a model that a server mneme started there does not serve.
const SPARE_PORTS: u16 = 8;

/// Sets up (once) and starts (if nothing answers) the configured local server, and returns
/// where it listens: the configured port, or, when a server mneme started there serves another
/// model (another run's, say), the next port that serves this model or is free. That server is
/// left alone.
pub async fn ensure_local_server(
    config: &Config,
    model: Option<&str>,
) -> anyhow::Result<ServerSpec> {
    use local::server::Probe;
    let mut spec = local_spec(config, model)?;
    let data = DataDir::new(config.data_dir());
    let mut probe = local::server::probe(&spec.base_url(), local::server::QUICK_PROBE).await;
    for _ in 0..SPARE_PORTS {
        let serves_other = matches!(&probe, Probe::Serving(models)
            if !models.iter().any(|m| m == spec.model.alias));
        let ours = local::server::pid_file(&data, spec.port).is_some();
        if !(serves_other && ours) {
            break;
        }
        eprintln!(
            "mneme: the local server mneme started on port {} serves another model; using port {} for {}",
            spec.port,
            spec.port + 1,
            spec.model.id
        );
        spec.port += 1;
        probe = local::server::probe(&spec.base_url(), local::server::QUICK_PROBE).await;
    }
    if probe == Probe::Down {
        let (d, m, kind, draft) = (data.clone(), spec.model, spec.kind, spec.draft);
        tokio::task::spawn_blocking(move || local::ensure_server_files(&d, kind, m, draft))
            .await??;
    }
    local::server::ensure_detached(&data, &spec).await?;
    Ok(spec)
}

/// `config.model`, pointed at the local server that serves it (see [`ensure_local_server`])
/// when the local server is the target; started if needed.
pub async fn model_config(config: &Config) -> anyhow::Result<agent_core::llm::ModelConfig> {
    let mut model = config.model.clone();
    if config.uses_local_server() && config.local.autostart {
        let spec = ensure_local_server(config, None).await?;
        model.base_url = spec.base_url();
    }
    Ok(model)
}

/// The model stack for `config`, with the local server running when it is the target.
pub async fn chat_stack(config: &Config) -> anyhow::Result<ChatStack> {
    let model = model_config(config).await?;
    let cache = (config.cache.mode != agent_core::llm::CacheMode::Off).then(|| {
        ResponseCache::new(config.cache_dir(), config.cache.mode).serving(config.serving_setup())
    });
    let ledger = Arc::new(Ledger::new(config.budget));
    Ok(build_chat_stack(
        &model,
        cache,
        config.prices.clone(),
        ledger,
    )?)
}

/// The configured embedder.
pub fn embedder(config: &Config) -> anyhow::Result<Arc<dyn memory::Embedder>> {
    use crate::config::EmbedderKind;
    Ok(match config.memory.embedder {
        EmbedderKind::Local => Arc::new(memory::LocalEmbedder::from_data_dir(&config.data_dir())?),
        EmbedderKind::Openai => Arc::new(agent_core::llm::OpenAiEmbeddings::new(
            &config.memory.embed_base_url,
            &config.memory.embed_model,
            std::env::var("OPENAI_API_KEY")
                .ok()
                .filter(|k| !k.is_empty())
                .map(secrecy::SecretString::from),
            config.model.timeout(),
            config.memory.embed_dim,
        )?),
    })
}

/// The configured memory store; `create` allows creating an embedded store that does not exist.
pub async fn memory_store(
    config: &Config,
    dim: usize,
    create: bool,
) -> anyhow::Result<Arc<dyn memory::VectorStore>> {
    use crate::config::MemoryBackend;
    Ok(match config.memory.backend {
        MemoryBackend::Edge => {
            let path = config.memory_path();
            let options = config.memory.edge.clone();
            let store = tokio::task::spawn_blocking(move || {
                memory::store::edge::EdgeStore::open(&path, dim, create, &options)
            })
            .await??;
            Arc::new(store)
        }
        MemoryBackend::Qdrant => {
            let url = config
                .memory
                .url
                .clone()
                .or_else(|| std::env::var("QDRANT_URL").ok())
                .ok_or_else(|| {
                    anyhow::anyhow!("memory.backend = \"qdrant\" needs memory.url (or QDRANT_URL)")
                })?;
            Arc::new(
                memory::store::server::QdrantStore::connect(&url, &config.memory.collection, dim)
                    .await?,
            )
        }
    })
}

/// Memory as configured: store plus embedder.
pub async fn memory_bank(config: &Config, create: bool) -> anyhow::Result<memory::MemoryBank> {
    let embedder = embedder(config)?;
    let store = memory_store(config, embedder.dim(), create).await?;
    let bank = memory::BankConfig {
        dedup_threshold: config.memory.dedup_threshold,
        recency_half_life_days: config.memory.recency_half_life_days,
    };
    Ok(memory::MemoryBank::open(store, embedder, bank).await?)
}
