//! `mneme.toml` plus environment overrides.
//!
//! Precedence, lowest first: built-in defaults, the config file, then
//! `MNEME_*` environment variables with `__` between levels
//! (`MNEME_MODEL__BASE_URL`, `MNEME_LOCAL__PORT`, `MNEME_CACHE__MODE`, ...).
//! API keys are never configuration: they come only from the environment
//! variable the model names (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY` by default).

use crate::local::{catalog, ServerKind};
use agent_core::llm::{
    Budget, CacheMode, LimitsConfig, ModelConfig, PriceTable, ProviderKind, RetryConfig,
};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file looked for in the working directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "mneme.toml";

/// Everything `mneme.toml` can say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the virtualenv, weights, caches and logs live (default `~/.cache/mneme`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// The model agents talk to.
    pub model: ModelConfig,
    /// The local llama.cpp server.
    pub local: LocalConfig,
    /// The response cache.
    pub cache: CacheConfig,
    /// Spending limits of a run.
    pub budget: Budget,
    /// Prices per model name, dollars per million tokens (models not listed cost 0).
    pub prices: PriceTable,
    /// Log output.
    pub logging: LoggingConfig,
    /// The sandbox that runs model-written code.
    pub sandbox: tools::SandboxConfig,
    /// Memory: store and embeddings.
    pub memory: MemoryConfig,
    /// The agent: strategy, trials, internal tests, temperatures, prompts.
    pub agent: agent_core::agent::AgentConfig,
}

/// Which vector store holds memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryBackend {
    /// Embedded Qdrant in one directory (no server).
    #[default]
    Edge,
    /// A Qdrant server (`memory.url`).
    Qdrant,
}

/// Which model embeds memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderKind {
    /// all-MiniLM-L6-v2 on this machine (fastembed), 384 dimensions.
    #[default]
    Local,
    /// An OpenAI-compatible `/v1/embeddings` endpoint (`memory.embed_*`).
    Openai,
}

/// Memory: where it is stored and how it is embedded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// `edge` (default) or `qdrant`.
    pub backend: MemoryBackend,
    /// Directory of the embedded store (default `<data_dir>/memory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Qdrant server URL (gRPC, e.g. `http://127.0.0.1:6334`); the key comes from `QDRANT_API_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Collection on the server.
    pub collection: String,
    /// `local` (default) or `openai`.
    pub embedder: EmbedderKind,
    /// Embedding model name (openai embedder).
    pub embed_model: String,
    /// Embedding endpoint (openai embedder), including `/v1`.
    pub embed_base_url: String,
    /// Embedding dimension (openai embedder).
    pub embed_dim: usize,
    /// Similarity above which a new reflection or insight merges into an old one.
    pub dedup_threshold: f32,
    /// Half-life of recency in mixed scores, days.
    pub recency_half_life_days: f64,
    /// Embedded-store tuning.
    pub edge: memory::store::edge::EdgeOptions,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        let bank = memory::BankConfig::default();
        Self {
            backend: MemoryBackend::Edge,
            path: None,
            url: None,
            collection: "mneme".into(),
            embedder: EmbedderKind::Local,
            embed_model: "text-embedding-3-small".into(),
            embed_base_url: "https://api.openai.com/v1".into(),
            embed_dim: 1536,
            dedup_threshold: bank.dedup_threshold,
            recency_half_life_days: bank.recency_half_life_days,
            edge: Default::default(),
        }
    }
}

/// The local model server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// The server program: `llama-server` (default) or `llama-cpp-python` (fallback).
    pub server: ServerKind,
    /// Requests llama-server decodes together (its slots); the fallback serves one at a time.
    pub parallel: usize,
    /// Catalog id of the model to serve (`mneme model list`).
    pub model: String,
    /// Catalog id of a draft model for speculative decoding (llama-server only; none by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_model: Option<String>,
    /// Bind address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Generation threads.
    pub threads: usize,
    /// Context window, tokens.
    pub ctx_size: u32,
    /// Start the server (setting it up first if needed) when `model.base_url` points at it and nothing answers.
    pub autostart: bool,
}

/// The response cache.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// `off`, `read_write`, `record` or `replay`.
    pub mode: CacheMode,
    /// Directory (default `<data_dir>/cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per event.
    Json,
}

/// Logging.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Text or JSON.
    pub format: LogFormat,
    /// A tracing filter, used when `RUST_LOG` is unset.
    pub filter: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            // qdrant-edge warns about server-only feature flags it does not use.
            filter: "warn,qdrant_edge=error".into(),
        }
    }
}

/// llama-server slots by default. On 2 cores aggregate throughput with the 0.5B model grows to
/// 55 tokens/s at 4 slots and 60 at 8, where it levels off (docs/benchmarks.md, "Local model
/// servers"); runs are judged by throughput, not by one request's latency.
pub const DEFAULT_PARALLEL: usize = 8;

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            server: ServerKind::default(),
            parallel: DEFAULT_PARALLEL,
            model: catalog::DEFAULT_MODEL.into(),
            draft_model: None,
            host: "127.0.0.1".into(),
            port: 8080,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            ctx_size: 4096,
            autostart: true,
        }
    }
}

impl LocalConfig {
    /// The OpenAI-compatible address of the server this section describes.
    pub fn base_url(&self) -> String {
        format!("http://{}:{}/v1", self.host, self.port)
    }
}

impl Default for Config {
    fn default() -> Self {
        let local = LocalConfig::default();
        let alias = catalog::find(&local.model)
            .map(|m| m.alias)
            .unwrap_or("local");
        Self {
            data_dir: None,
            model: ModelConfig {
                provider: ProviderKind::Openai,
                name: alias.into(),
                base_url: local.base_url(),
                endpoints: Vec::new(),
                api_key_env: None,
                timeout_secs: 600,
                // llama-server decodes `parallel` requests together and queues the rest;
                // a few more in flight than slots keep every slot busy.
                limits: LimitsConfig {
                    max_concurrent: 2 * DEFAULT_PARALLEL,
                    ..LimitsConfig::default()
                },
                retry: RetryConfig::default(),
            },
            local,
            cache: CacheConfig::default(),
            budget: Budget::default(),
            prices: PriceTable::default(),
            logging: LoggingConfig::default(),
            sandbox: tools::SandboxConfig::default(),
            memory: MemoryConfig::default(),
            agent: agent_core::agent::AgentConfig::default(),
        }
    }
}

/// A configuration that cannot be used, with what is wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` does not exist.
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    /// Parsing or type errors (figment names the key and the source).
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// Someone put a key in the file.
    #[error(
        "{0} in the config file: API keys are read only from the environment \
         (OPENAI_API_KEY, ANTHROPIC_API_KEY, or the variable named by model.api_key_env)"
    )]
    KeyInFile(String),
}

impl Config {
    /// Loads defaults, then the TOML `text` (a run's stored configuration), then `MNEME_*` variables.
    pub fn load_str(text: &str) -> Result<Self, ConfigError> {
        Self::finish(Figment::from(Toml::string(text)))
    }

    /// Loads defaults, then `path` (or `./mneme.toml` if present), then `MNEME_*` variables.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        match path {
            Some(p) if !p.exists() => return Err(ConfigError::Missing(p.to_path_buf())),
            Some(p) => figment = figment.merge(Toml::file_exact(p)),
            None if Path::new(DEFAULT_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_FILE))
            }
            None => {}
        }
        Self::finish(figment)
    }

    /// Environment overrides over what a file gave (`given`), the key check, the defaults,
    /// extraction and validation. A `model.base_url` nobody gave follows `local.host` and
    /// `local.port`, so a second local server on another port is the one its runs talk to.
    fn finish(given: Figment) -> Result<Self, ConfigError> {
        let given = given.merge(Env::prefixed("MNEME_").split("__").ignore(&[
            "config",
            "python",
            "bin",
            "shared_data",
            "test_kill_writer_dir",
        ]));
        for key in ["model.api_key", "model.key", "api_key"] {
            if given.find_value(key).is_ok() {
                return Err(ConfigError::KeyInFile(key.to_string()));
            }
        }
        let base_url_given = given.find_value("model.base_url").is_ok();
        let figment = Figment::from(Serialized::defaults(Config::default())).merge(given);
        let mut config: Config = figment.extract().map_err(|e| {
            let all: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            ConfigError::Invalid(all.join("; "))
        })?;
        if !base_url_given {
            config.model.base_url = config.local.base_url();
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        catalog::find(&self.local.model)
            .map_err(|e| ConfigError::Invalid(format!("local.model: {e}")))?;
        if let Some(draft) = &self.local.draft_model {
            catalog::find(draft)
                .map_err(|e| ConfigError::Invalid(format!("local.draft_model: {e}")))?;
        }
        if !(self.model.base_url.starts_with("http://")
            || self.model.base_url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "model.base_url must start with http:// or https://, got {:?}",
                self.model.base_url
            )));
        }
        if self.local.parallel == 0 {
            return Err(ConfigError::Invalid(
                "local.parallel must be at least 1 (llama-server's slots)".into(),
            ));
        }
        if self.model.limits.max_concurrent == 0 {
            return Err(ConfigError::Invalid(
                "model.limits.max_concurrent must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// What serves the model, as far as it changes temperature-0 answers, for the response
    /// cache's key: llama-server's slot count when the local llama-server is the target (a
    /// batch's make-up can change its answers), else nothing (one request at a time).
    pub fn serving_setup(&self) -> String {
        match self.local.server {
            ServerKind::LlamaServer if self.uses_local_server() => {
                format!("llama-server, {} slots", self.local.parallel)
            }
            _ => String::new(),
        }
    }

    /// The data directory: `data_dir`, else `$HOME/.cache/mneme`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            home.join(".cache").join("mneme")
        })
    }

    /// The embedded memory store's directory.
    pub fn memory_path(&self) -> PathBuf {
        self.memory
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir().join("memory"))
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir().join("cache"))
    }

    /// True when `model.base_url` points at the configured local server.
    pub fn uses_local_server(&self) -> bool {
        let local = [
            format!("http://{}:{}/", self.local.host, self.local.port),
            format!("http://localhost:{}/", self.local.port),
            format!("http://127.0.0.1:{}/", self.local.port),
        ];
        let url = format!("{}/", self.model.base_url.trim_end_matches('/'));
        local.iter().any(|l| url.starts_with(l.as_str()))
    }

    /// The effective configuration as TOML (it never holds a key).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn defaults_point_at_the_local_server() {
        let c = Config::default();
        assert!(c.uses_local_server());
        assert_eq!(c.model.name, "qwen2.5-coder-0.5b-instruct");
        assert_eq!(c.cache.mode, CacheMode::Off);
    }

    #[test]
    fn file_values_override_defaults() {
        let f = file("[model]\nname = \"gpt-x\"\nbase_url = \"https://api.example.com/v1\"\n[model.limits]\nrequests_per_minute = 60\n[prices.gpt-x]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n[cache]\nmode = \"read_write\"\n");
        let c = Config::load(Some(f.path())).unwrap();
        assert_eq!(c.model.name, "gpt-x");
        assert_eq!(c.model.limits.requests_per_minute, Some(60));
        assert_eq!(
            c.model.limits.max_concurrent,
            2 * DEFAULT_PARALLEL,
            "unspecified keys keep their defaults"
        );
        assert_eq!(c.cache.mode, CacheMode::ReadWrite);
        assert!(!c.uses_local_server());
        assert_eq!(c.prices.0["gpt-x"].output_per_mtok, 2.0);
    }

    #[test]
    fn a_base_url_nobody_gave_follows_the_local_port_and_a_given_one_stays() {
        let c = Config::load_str("[local]\nport = 8081\n").unwrap();
        assert_eq!(c.model.base_url, "http://127.0.0.1:8081/v1");
        assert!(c.uses_local_server());
        let c = Config::load_str(
            "[local]\nport = 8081\n[model]\nbase_url = \"http://127.0.0.1:8080/v1\"\n",
        )
        .unwrap();
        assert_eq!(c.model.base_url, "http://127.0.0.1:8080/v1");
        assert!(!c.uses_local_server());
    }

    #[test]
    fn endpoints_servers_and_slots_are_read_and_checked() {
        let f = file("[local]\nserver = \"llama-cpp-python\"\nparallel = 2\n[[model.endpoints]]\nbase_url = \"http://a:1/v1\"\nweight = 4\n[[model.endpoints]]\nbase_url = \"http://b:1/v1\"\n");
        let c = Config::load(Some(f.path())).unwrap();
        assert_eq!(c.local.server, ServerKind::LlamaCppPython);
        assert_eq!(c.local.parallel, 2);
        let weights: Vec<f64> = c.model.endpoints.iter().map(|e| e.weight).collect();
        assert_eq!(weights, [4.0, 1.0]);
        for (text, says) in [
            ("[local]\nparallel = 0\n", "local.parallel"),
            ("[local]\ndraft_model = \"gpt-9\"\n", "local.draft_model"),
            ("[local]\nserver = \"vllm\"\n", "server"),
            ("[[model.endpoints]]\nweight = 2\n", "base_url"),
        ] {
            let e = Config::load(Some(file(text).path()))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn malformed_files_name_the_problem() {
        let f = file("[local]\nport = \"eighty\"\n");
        let e = Config::load(Some(f.path())).unwrap_err().to_string();
        assert!(e.contains("local.port"), "{e}");
        let f = file("[model\nname = 1");
        let e = Config::load(Some(f.path())).unwrap_err().to_string();
        assert!(e.contains("invalid configuration"), "{e}");
        let f = file("[modle]\nname = \"x\"\n");
        let e = Config::load(Some(f.path())).unwrap_err().to_string();
        assert!(e.contains("modle"), "{e}");
        let f = file("[model]\napi_key = \"sk-abc\"\n");
        let e = Config::load(Some(f.path())).unwrap_err().to_string();
        assert!(
            e.contains("read only from the environment") && !e.contains("sk-abc"),
            "{e}"
        );
        let e = Config::load(Some(Path::new("/nonexistent/mneme.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        let f = file("[local]\nmodel = \"gpt-5\"\n");
        let e = Config::load(Some(f.path())).unwrap_err().to_string();
        assert!(e.contains("gpt-5") && e.contains("smollm2-135m"), "{e}");
    }
}
