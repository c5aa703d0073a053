//! `mneme bench throughput`: a local model server's aggregate generation speed and
//! per-request latency at several levels of concurrency, on HumanEval prompts, and whether
//! temperature-0 answers stay byte-identical as the batch grows.
//!
//! Each level gets a fresh server (llama-server with as many slots as the level; the
//! llama-cpp-python server always serves one request at a time), one warm-up request, then
//! the same prompts with `level` requests in flight.

use crate::config::Config;
use crate::local::{self, catalog, DataDir, LocalServer, ServerKind, ServerSpec};
use agent_core::llm::{ChatRequest, Message};
use environments::TaskSuite;
use futures::StreamExt;
use serde::Serialize;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug)]
pub struct ThroughputArgs {
    /// The server program.
    pub server: ServerKind,
    /// Catalog id of the model.
    pub model: String,
    /// Catalog id of a draft model (speculative decoding), if any.
    pub draft: Option<String>,
    /// Requests in flight at once, one measurement each.
    pub levels: Vec<usize>,
    /// HumanEval prompts per level (the same ones at every level).
    pub prompts: usize,
    /// Tokens generated at most per request.
    pub max_tokens: u32,
    /// Generation threads.
    pub threads: usize,
}

/// One level's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Level {
    /// Requests in flight.
    pub concurrency: usize,
    /// Server slots.
    pub slots: usize,
    /// Completion tokens over all requests.
    pub completion_tokens: u64,
    /// Seconds from the first request to the last answer.
    pub wall_secs: f64,
    /// `completion_tokens / wall_secs`.
    pub tokens_per_sec: f64,
    /// Median seconds per request.
    pub latency_p50: f64,
    /// 90th percentile seconds per request.
    pub latency_p90: f64,
    /// Answers byte-identical to the first level's answer to the same prompt.
    pub identical_to_first_level: usize,
}

/// The whole measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// Server program.
    pub server: &'static str,
    /// Model.
    pub model: String,
    /// Draft model, if any.
    pub draft: Option<String>,
    /// Prompts per level.
    pub prompts: usize,
    /// Token cap per request.
    pub max_tokens: u32,
    /// Threads.
    pub threads: usize,
    /// Figures per level.
    pub levels: Vec<Level>,
}

fn requests(config: &Config, count: usize, max_tokens: u32) -> anyhow::Result<Vec<ChatRequest>> {
    let suite = environments::load_suite("humaneval", &config.data_dir())?;
    Ok(suite
        .tasks()
        .iter()
        .take(count)
        .map(|t| {
            ChatRequest::new(vec![
                Message::system("You are an expert Python programmer. Reply with code only."),
                Message::user(format!(
                    "Complete this function:\n```python\n{}```",
                    t.prompt
                )),
            ])
            .temperature(0.0)
            .max_tokens(max_tokens)
        })
        .collect())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Serves `args.model` at each level and measures it.
pub async fn measure(config: &Config, args: &ThroughputArgs) -> anyhow::Result<Throughput> {
    let data = DataDir::new(config.data_dir());
    let model = catalog::find(&args.model)?;
    let draft = args.draft.as_deref().map(catalog::find).transpose()?;
    let (d, kind) = (data.clone(), args.server);
    tokio::task::spawn_blocking(move || local::ensure_server_files(&d, kind, model, draft))
        .await??;
    let prompts = requests(config, args.prompts, args.max_tokens)?;
    let mut levels = Vec::new();
    let mut first_answers: Option<Vec<String>> = None;
    for &concurrency in &args.levels {
        let slots = match args.server {
            ServerKind::LlamaServer => concurrency,
            ServerKind::LlamaCppPython => 1,
        };
        let spec = ServerSpec {
            kind: args.server,
            parallel: slots,
            model,
            draft,
            host: "127.0.0.1".into(),
            port: free_port()?,
            threads: args.threads,
            ctx_size: config.local.ctx_size,
        };
        let server = LocalServer::start_foreground(&data, spec).await?;
        let (level, answers) = one_level(&server, &prompts, concurrency, slots).await?;
        drop(server);
        let reference = first_answers.get_or_insert_with(|| answers.clone());
        let identical = reference
            .iter()
            .zip(&answers)
            .filter(|(a, b)| a == b)
            .count();
        let level = Level {
            identical_to_first_level: identical,
            ..level
        };
        eprintln!(
            "{:>3} in flight: {:6.1} tokens/s, p50 {:5.1} s, p90 {:5.1} s, {}/{} answers identical to the first level",
            level.concurrency,
            level.tokens_per_sec,
            level.latency_p50,
            level.latency_p90,
            level.identical_to_first_level,
            prompts.len()
        );
        levels.push(level);
    }
    Ok(Throughput {
        server: args.server.as_str(),
        model: model.id.to_string(),
        draft: draft.map(|d| d.id.to_string()),
        prompts: prompts.len(),
        max_tokens: args.max_tokens,
        threads: args.threads,
        levels,
    })
}

async fn one_level(
    server: &LocalServer,
    prompts: &[ChatRequest],
    concurrency: usize,
    slots: usize,
) -> anyhow::Result<(Level, Vec<String>)> {
    let model = agent_core::llm::OpenAiCompatible::new(
        server.spec.base_url(),
        server.spec.model.alias,
        None,
        std::time::Duration::from_secs(900),
    )?;
    use agent_core::llm::ChatModel;
    model.chat(&prompts[0]).await?; // warm-up: weights paged in, first allocation done
    let started = Instant::now();
    let mut outcomes: Vec<(usize, f64, u64, String)> =
        futures::stream::iter(prompts.iter().enumerate())
            .map(|(i, request)| {
                let model = &model;
                async move {
                    let sent = Instant::now();
                    let response = model.chat(request).await?;
                    let secs = sent.elapsed().as_secs_f64();
                    anyhow::Ok((
                        i,
                        secs,
                        response.usage.completion_tokens,
                        response.text().to_string(),
                    ))
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
    let wall = started.elapsed().as_secs_f64();
    outcomes.sort_by_key(|o| o.0);
    let tokens: u64 = outcomes.iter().map(|o| o.2).sum();
    let mut latencies: Vec<f64> = outcomes.iter().map(|o| o.1).collect();
    latencies.sort_by(f64::total_cmp);
    let level = Level {
        concurrency,
        slots,
        completion_tokens: tokens,
        wall_secs: wall,
        tokens_per_sec: tokens as f64 / wall.max(1e-9),
        latency_p50: percentile(&latencies, 0.5),
        latency_p90: percentile(&latencies, 0.9),
        identical_to_first_level: 0,
    };
    Ok((level, outcomes.into_iter().map(|o| o.3).collect()))
}
