//! `mneme run` and `mneme resume`: wiring configuration, model, sandbox, memory and
//! a task suite into an agent run, with a progress bar and Ctrl-C handling.

use crate::config::Config;
use crate::local::catalog;
use agent_core::agent::{Agent, Prompts};
use agent_core::llm::{build_chat_stack, CacheMode, Ledger, ResponseCache, UsageTotals};
use agent_core::run::{execute, EnvFactory, RunDir, RunSpec, Runner, Shard, Summary};
use anyhow::Context;
use environments::{load_suite, Environment, Grader, ProtocolConfig, TaskSuite};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What `mneme run` was asked.
#[derive(Clone, Debug, Default)]
pub struct RunArgs {
    /// `humaneval`, `mbpp`, a shipped environment (`textcraft`), or a task file via `tasks`.
    pub suite: Option<String>,
    /// A shipped environment's tasks from this file instead of its own list.
    pub env_tasks: Option<PathBuf>,
    /// Actions per episode override.
    pub max_steps: Option<u32>,
    /// A task file: HumanEval's JSONL shape, or with `env`, the environment's tasks.
    pub tasks: Option<PathBuf>,
    /// A custom environment's command (JSON lines on stdin/stdout), e.g. `python3 my_env.py`.
    pub env: Option<String>,
    /// Strategy override (a name from `agent_core::strategy::NAMES`).
    pub strategy: Option<String>,
    /// Trials override.
    pub trials: Option<u32>,
    /// Model calls per task override.
    pub budget: Option<u32>,
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
    /// The library of cross-task memory (insights, skills, reflections) to read.
    pub library: Option<String>,
    /// Add this run's skills and reflections to the library.
    pub learn: bool,
    /// Show the library's insights.
    pub insights: bool,
    /// Show the library's skills as helpers.
    pub skills: bool,
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
    if let Some(s) = args.strategy.clone() {
        agent.strategy = s;
    }
    if let Some(t) = args.trials {
        agent.trials = t;
    }
    if let Some(b) = args.budget {
        agent.budget.calls = b;
    }
    agent.cross_task |= args.cross_task;
    if let Some(library) = &args.library {
        agent.learning.library = library.clone();
    }
    agent.learning.learn |= args.learn;
    agent.learning.insights |= args.insights;
    agent.learning.skills |= args.skills;
    let shipped = shipped_environment(&config, &args, &mut agent)?;
    if let Some(steps) = args.max_steps {
        agent.episode.max_steps = steps;
    }
    agent.validate()?;
    agent_core::strategy::by_name(&agent.strategy)?;
    // A shipped environment's runs are named after it, not after its goals file.
    let shipped_label = shipped.as_ref().and(args.suite.clone());
    let (suite_name, env_command) = match shipped {
        Some((tasks, command)) => (tasks.display().to_string(), Some(command)),
        None => {
            let suite_name = match (&args.tasks, &args.suite) {
                (Some(file), _) => file.display().to_string(),
                (None, Some(s)) => s.clone(),
                (None, None) => anyhow::bail!(
                    "name a suite (humaneval, mbpp), a shipped environment (textcraft), or give --tasks FILE.jsonl"
                ),
            };
            (
                suite_name,
                args.env.as_deref().map(split_command).transpose()?,
            )
        }
    };
    if agent.strategy == "voyager" && env_command.is_none() {
        anyhow::bail!(
            "voyager explores an environment that runs programs: `mneme explore crafter`"
        );
    }
    if agent.strategy == "mcts" && env_command.is_none() {
        anyhow::bail!(
            "mcts searches over the actions of an environment (--env CMD, or textcraft); for code, use lats"
        );
    }
    // Validate every task up front.
    let suite = load_tasks(&suite_name, env_command.is_some(), &config.data_dir())?;
    let suite = match args.limit {
        Some(n) => suite.truncate(n),
        None => suite,
    };
    let label = shipped_label.unwrap_or_else(|| {
        Path::new(&suite_name)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("tasks")
            .to_string()
    });
    let strategy = agent.strategy.clone();
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
        env_command,
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

/// For a shipped environment (`mneme run textcraft`): installs it if needed and returns its task
/// file (or `--goals`) and command; sets its episode length and, without `--budget`, a budget of
/// `trials` full episodes plus a reflection after each. `None` for anything else.
fn shipped_environment(
    config: &Config,
    args: &RunArgs,
    agent: &mut agent_core::agent::AgentConfig,
) -> anyhow::Result<Option<(PathBuf, Vec<String>)>> {
    let Some(env) = args.suite.as_deref().and_then(crate::envs::builtin) else {
        anyhow::ensure!(
            args.env_tasks.is_none(),
            "--goals goes with a shipped environment (textcraft)"
        );
        return Ok(None);
    };
    anyhow::ensure!(
        args.tasks.is_none() && args.env.is_none(),
        "{} brings its own environment and tasks: use --goals FILE for other tasks, not --tasks/--env",
        env.name
    );
    let installed = crate::envs::ensure(&config.data_dir(), env, &config.sandbox)?;
    agent.episode.max_steps = env.max_steps;
    if args.budget.is_none() {
        agent.budget.calls = (env.max_steps + 1) * agent.trials;
        eprintln!(
            "mneme: {}: a budget of {} model calls per task ({} trials of up to {} actions and a reflection); --budget changes it",
            env.name, agent.budget.calls, agent.trials, env.max_steps
        );
    }
    let tasks = match &args.env_tasks {
        Some(file) => file.clone(),
        None => installed.tasks.clone(),
    };
    crate::envs::check_tasks(env, &tasks)?;
    Ok(Some((tasks, installed.command(&config.sandbox)?)))
}

/// `--env "python3 my_env.py"` as a program and its arguments (shell quoting rules).
fn split_command(command: &str) -> anyhow::Result<Vec<String>> {
    match shlex::split(command) {
        Some(words) if !words.is_empty() => Ok(words),
        _ => anyhow::bail!("--env {command:?} is not a command (empty, or an unclosed quote)"),
    }
}

/// The run's tasks: a custom environment's task file (`id`, `prompt` and its own fields), or a
/// coding suite or task file.
fn load_tasks(
    suite: &str,
    custom_env: bool,
    data_dir: &Path,
) -> anyhow::Result<environments::Suite> {
    Ok(if custom_env {
        environments::suites::load_custom_tasks(Path::new(suite))?
    } else {
        load_suite(suite, data_dir)?
    })
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

/// What a run needs to start its tasks: the runner (agent, environments, grader) and the suite.
struct Prepared {
    runner: Runner,
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
    let suite = load_tasks(&spec.suite, spec.env_command.is_some(), &config.data_dir())?;
    let prompts = Prompts::load(spec.agent.prompts_dir.as_deref())?;
    let agent = Arc::new(Agent::new(
        stack.model.clone(),
        prompts,
        Some(memory),
        spec.agent.clone(),
        &spec.run_id,
    )?);
    let (envs, grader) = environments_for(spec, sandbox);
    Ok(Prepared {
        runner: Runner {
            agent,
            envs,
            grader,
        },
        suite,
        endpoints: stack.endpoints,
    })
}

/// Where a run's environments come from and how its submissions are graded: the coding
/// environment and the hidden tests, or the custom environment's process and a replay.
fn environments_for(spec: &RunSpec, sandbox: Arc<tools::Sandbox>) -> (EnvFactory, Arc<dyn Grader>) {
    let Some(command) = &spec.env_command else {
        let grader = Arc::new(environments::code::HiddenTestGrader::new(sandbox.clone()));
        let envs: EnvFactory = Arc::new(move |_| {
            let env = environments::CodingEnv::new(sandbox.clone());
            Ok(Box::new(env) as Box<dyn Environment>)
        });
        return (envs, grader);
    };
    let name = env_name(command);
    let mut protocol = ProtocolConfig::new(name, command.clone());
    let success = spec.agent.episode.success_reward;
    let grader: Arc<dyn Grader> = if spec.agent.strategy == "voyager" {
        // A program may take its whole time limit, and the adapter its own time to stop it.
        protocol.timeout = std::time::Duration::from_secs(120);
        Arc::new(environments::Ungraded {
            reason: "a session is measured by the achievements its environment reported (its account), not graded".into(),
        })
    } else {
        Arc::new(environments::protocol::ReplayGrader::new(
            protocol.clone(),
            success,
        ))
    };
    let envs: EnvFactory = Arc::new(move |_| {
        Ok(Box::new(environments::ProtocolEnv::spawn(protocol.clone())?) as Box<dyn Environment>)
    });
    (envs, grader)
}

/// A name for an environment's messages: its script's stem (`python3 my_env.py` → `my_env`),
/// else its program's file name.
fn env_name(command: &[String]) -> &str {
    let script = command.iter().skip(1).find(|w| w.ends_with(".py"));
    let word = script.unwrap_or(&command[0]);
    let path = Path::new(word);
    let name = if script.is_some() {
        path.file_stem()
    } else {
        path.file_name()
    };
    name.and_then(|n| n.to_str()).unwrap_or("env")
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
        runner,
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
        execute(dir, spec, runner, suite.tasks().to_vec(), stop, progress),
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
