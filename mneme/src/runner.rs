//! `mneme run` and `mneme resume`: wiring configuration, model, sandbox, memory and
//! a task suite into an agent run, with a progress bar and Ctrl-C handling.

use crate::config::Config;
use crate::local::catalog;
use agent_core::agent::{Agent, Prompts, StrategyKind};
use agent_core::llm::{build_chat_stack, CacheMode, Ledger, ResponseCache, UsageTotals};
use agent_core::run::{execute, RunDir, RunSpec, Shard, Summary};
use anyhow::Context;
use environments::{load_suite, TaskSuite};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What `mneme run` was asked.
#[derive(Clone, Debug)]
pub struct RunArgs {
    /// `humaneval`, `mbpp` (or a task file via `tasks`).
    pub suite: Option<String>,
    /// A task file in HumanEval's JSONL shape.
    pub tasks: Option<PathBuf>,
    /// Strategy override.
    pub strategy: Option<StrategyKind>,
    /// Trials override.
    pub trials: Option<u32>,
    /// Only the first N tasks.
    pub limit: Option<usize>,
    /// Tasks at once (default: [`default_concurrency`]).
    pub concurrency: Option<usize>,
    /// Only this shard of the tasks.
    pub shard: Option<Shard>,
    /// The run id (required with a shard, so every shard has the same).
    pub run_id: Option<String>,
    /// A local catalog id (served locally) or a model name.
    pub model: Option<String>,
    /// Cross-task memory.
    pub cross_task: bool,
    /// Where the run directory goes.
    pub run_dir: Option<PathBuf>,
}

/// Applies `--model`: a catalog id selects the local model; anything else is a model name.
pub fn apply_model(config: &mut Config, model: &str) {
    match catalog::find(model) {
        Ok(m) => {
            config.local.model = m.id.to_string();
            if config.uses_local_server() {
                config.model.name = m.alias.to_string();
            }
        }
        Err(_) => config.model.name = model.to_string(),
    }
}

fn now() -> i64 {
    memory::record::now()
}

/// `mneme run`.
pub async fn run(mut config: Config, args: RunArgs) -> anyhow::Result<()> {
    if let Some(m) = &args.model {
        apply_model(&mut config, m);
    }
    // Runs are reproducible by default: temperature-0 answers come from the cache on a rerun or resume.
    if config.cache.mode == CacheMode::Off {
        config.cache.mode = CacheMode::ReadWrite;
    }
    let mut agent = config.agent.clone();
    if let Some(s) = args.strategy {
        agent.strategy = s;
    }
    if let Some(t) = args.trials {
        agent.trials = t;
    }
    agent.cross_task |= args.cross_task;
    let suite_name = match (&args.tasks, &args.suite) {
        (Some(file), _) => file.display().to_string(),
        (None, Some(s)) => s.clone(),
        (None, None) => anyhow::bail!("name a suite (humaneval, mbpp) or give --tasks FILE.jsonl"),
    };
    // Validate every task up front.
    let suite = load_suite(&suite_name, &config.data_dir())?;
    let suite = match args.limit {
        Some(n) => suite.truncate(n),
        None => suite,
    };
    let label = Path::new(&suite_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("tasks")
        .to_string();
    let strategy = format!("{:?}", agent.strategy).to_lowercase();
    let run_id = match (&args.run_id, args.shard) {
        (Some(id), _) => id.clone(),
        (None, None) => format!("{label}-{strategy}-{}", now()),
        (None, Some(shard)) => anyhow::bail!(
            "--shard {shard} needs --run-id NAME, the same for every shard of the run \
             (it scopes the run's memory and lets `mneme report` merge the shards)"
        ),
    };
    let all_ids: Vec<String> = suite.tasks().iter().map(|t| t.id.clone()).collect();
    let spec = RunSpec {
        run_id: run_id.clone(),
        suite: suite_name,
        task_ids: match args.shard {
            Some(shard) => shard.select(&all_ids),
            None => all_ids,
        },
        agent,
        model: config.model.name.clone(),
        concurrency: args
            .concurrency
            .unwrap_or_else(|| default_concurrency(&config)),
        created_at: now(),
        shard: args.shard,
    };
    let dir_name = match args.shard {
        Some(s) => format!("{run_id}-shard{}of{}", s.index, s.count),
        None => run_id.clone(),
    };
    let path = args
        .run_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(dir_name));
    // Everything that can fail before the first task (a missing sandbox, the server's build,
    // the memory store) happens before the run directory exists: a run that could not start
    // leaves nothing behind.
    let prepared = prepare(&config, &spec, UsageTotals::default()).await?;
    let dir = RunDir::create(&path, &spec, &config.to_toml())?;
    eprintln!("mneme: run {} in {}", spec.run_id, dir.path().display());
    execute_prepared(&dir, &spec, prepared, 0).await
}

/// Tasks in flight by default: one per request the model servers decode at once, plus one so a
/// slot never waits while a task runs its tests. The slots are `local.parallel` for the local
/// server, the endpoints' weights summed for an endpoint list, else `model.limits.max_concurrent`.
pub fn default_concurrency(config: &Config) -> usize {
    let slots = if !config.model.endpoints.is_empty() {
        let weights: f64 = config.model.endpoints.iter().map(|e| e.weight).sum();
        weights.round().max(1.0) as usize
    } else if config.uses_local_server() {
        config.local.parallel
    } else {
        config.model.limits.max_concurrent
    };
    slots.max(1) + 1
}

/// `mneme resume RUN_DIR`: the stored configuration (plus `MNEME_*` overrides, e.g. a larger budget).
pub async fn resume(path: &Path) -> anyhow::Result<()> {
    let (dir, spec) = RunDir::open(path)?;
    let config = Config::load_str(&dir.config_toml()?)
        .with_context(|| format!("{}/config.toml", path.display()))?;
    let done = dir.results()?.len();
    eprintln!(
        "mneme: resuming run {} ({done} of {} tasks finished)",
        spec.run_id,
        spec.task_ids.len()
    );
    execute_run(&dir, &spec, &config).await
}

/// What a run needs to start its tasks: the agent (model stack, sandbox, memory) and the suite.
struct Prepared {
    agent: Arc<Agent>,
    suite: environments::Suite,
    endpoints: agent_core::llm::Endpoints,
}

/// Checks the machine, starts the local server (building it the first time), and opens the
/// sandbox, memory and suite. `spent` is what earlier sessions of the run used of the budget.
async fn prepare(config: &Config, spec: &RunSpec, spent: UsageTotals) -> anyhow::Result<Prepared> {
    crate::preflight::check_run(config, None)?;
    let model = crate::wiring::model_config(config).await?;
    let cache = (config.cache.mode != CacheMode::Off).then(|| {
        ResponseCache::new(config.cache_dir(), config.cache.mode).serving(config.serving_setup())
    });
    let ledger = Arc::new(Ledger::resume(config.budget, spent));
    let stack = build_chat_stack(&model, cache, config.prices.clone(), ledger)?;
    let mut sandbox_config = config.sandbox.clone();
    sandbox_config.workers = sandbox_config.workers.max(spec.concurrency);
    let sandbox = Arc::new(tools::Sandbox::new(sandbox_config)?);
    let memory = crate::wiring::memory_bank(config, true).await?;
    let suite = load_suite(&spec.suite, &config.data_dir())?;
    let prompts = Prompts::load(spec.agent.prompts_dir.as_deref())?;
    let agent = Arc::new(Agent::new(
        stack.model.clone(),
        prompts,
        sandbox,
        Some(memory),
        spec.agent.clone(),
        &spec.run_id,
    ));
    Ok(Prepared {
        agent,
        suite,
        endpoints: stack.endpoints,
    })
}

async fn execute_run(dir: &RunDir, spec: &RunSpec, config: &Config) -> anyhow::Result<()> {
    let previous = dir.results()?;
    let mut spent = UsageTotals::default();
    for r in &previous {
        spent.merge(&r.usage);
    }
    let prepared = prepare(config, spec, spent).await?;
    execute_prepared(dir, spec, prepared, previous.len()).await
}

/// Runs the unfinished tasks with a progress bar; Ctrl-C stops after the tasks in flight.
async fn execute_prepared(
    dir: &RunDir,
    spec: &RunSpec,
    prepared: Prepared,
    finished_before: usize,
) -> anyhow::Result<()> {
    let Prepared {
        agent,
        suite,
        endpoints,
    } = prepared;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nmneme: stopping after the tasks in flight (Ctrl-C again to kill)");
                stop.store(true, Ordering::SeqCst);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    let bar = indicatif::ProgressBar::new(spec.task_ids.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} tasks  {msg}  [{elapsed_precise}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(finished_before as u64);
    let started = std::time::Instant::now();
    let run_span = tracing::info_span!("run", run = %spec.run_id);
    let progress = |_: &_, all: &[agent_core::agent::TaskResult]| {
        let passed = all.iter().filter(|r| r.passed).count();
        let mut usage = agent_core::llm::UsageTotals::default();
        all.iter().for_each(|r| usage.merge(&r.usage));
        bar.set_position(all.len() as u64);
        bar.set_message(format!(
            "pass {passed}/{} ({:.1}%)  {} tokens  ${:.4}",
            all.len(),
            100.0 * passed as f64 / all.len().max(1) as f64,
            usage.total_tokens(),
            usage.cost_usd
        ));
    };
    let mut summary: Summary = tracing::Instrument::instrument(
        execute(dir, spec, agent, suite.tasks().to_vec(), stop, progress),
        run_span,
    )
    .await?;
    summary.endpoints = endpoints.report();
    dir.write_summary(&summary)?;
    bar.finish_and_clear();
    println!("{}", serde_json::to_string_pretty(&summary)?);
    eprintln!(
        "mneme: {:?}: pass@1 {:.3} over {} tasks ({} s this session); {}",
        summary.status,
        summary.pass_at_1,
        summary.tasks_done,
        started.elapsed().as_secs(),
        dir.path().display()
    );
    Ok(())
}
