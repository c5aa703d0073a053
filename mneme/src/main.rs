//! `mneme`: agents that learn from their own experience.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use mneme::config::{Config, LogFormat};
use mneme::local::{self, catalog, DataDir};
use mneme::{commands, telemetry, wiring};
use std::io::Read;
use std::path::PathBuf;
use tracing::Instrument;

/// mneme: agents that get better with every trial, without touching model weights.
#[derive(Parser)]
#[command(name = "mneme", version, about)]
struct Cli {
    /// Configuration file (default: ./mneme.toml when present).
    #[arg(long, global = true, env = "MNEME_CONFIG")]
    config: Option<PathBuf>,
    /// Log format on stderr (overrides logging.format).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an agent on a task suite (e.g. `mneme run humaneval --limit 5`).
    Run(RunCli),
    /// Continue a run that was stopped or killed.
    Resume {
        /// The run directory.
        run_dir: PathBuf,
    },
    /// Write report.md and a self-contained report.html with charts for a run.
    Report {
        /// The run directory, or the directories of every shard of one run.
        #[arg(required = true)]
        run_dirs: Vec<PathBuf>,
        /// Where the merged report of several shards goes (default: beside the first shard,
        /// named after the run).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Rewrite the report every SECONDS while the run is in progress (the page reloads
        /// itself), until it completes or stops.
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "10")]
        watch: Option<u64>,
    },
    /// Runs side by side on the tasks they share, the first as the baseline: pass@1 with the
    /// paired flips and McNemar's p, calls, tokens, wall time, pass@1 against calls and tokens.
    /// Writes compare.md and compare.html.
    Compare {
        /// Run directories; join the shards of one arm with `+` (e.g. base-A+base-B).
        #[arg(required = true, num_args = 2..)]
        runs: Vec<String>,
        /// Where compare.md and compare.html go.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Print the search tree of one task of a `lats` run, and export it (DOT, SVG).
    Tree {
        /// The run directory.
        run_dir: PathBuf,
        /// The task, e.g. HumanEval/12.
        task_id: String,
        /// Also write the tree as Graphviz DOT here.
        #[arg(long)]
        dot: Option<PathBuf>,
        /// Also write the tree as SVG here.
        #[arg(long)]
        svg: Option<PathBuf>,
    },
    /// Ask the configured model one question (starts the local model on first use).
    Chat(ChatArgs),
    /// Set up, serve, stop and inspect the local model server.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Show the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run untrusted Python in the sandbox.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Inspect task suites (humaneval, mbpp, or a .jsonl file).
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Inspect and maintain memory (reflections, skills, insights).
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// Measure mneme's components.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Environments shipped with mneme (TextCraft, Crafter): list them, set them up.
    #[command(subcommand)]
    Env(EnvCommand),
    /// A lifelong-learning session in an environment that runs programs (Voyager-style:
    /// curriculum, skill library, critic), e.g. `mneme explore crafter --iterations 50`; or,
    /// with --evaluate K, the frozen library on K fixed evaluation seeds.
    Explore(ExploreCli),
    /// The skill library: list, show and export what sessions learned.
    #[command(subcommand)]
    Skills(SkillsCommand),
    /// Insights (ExpeL): extract general rules from runs, list them.
    #[command(subcommand)]
    Insights(InsightsCommand),
}

#[derive(Subcommand)]
enum InsightsCommand {
    /// Learn rules from runs: the model compares each task's failed attempt with the one that
    /// then passed (and batches of first-try successes) and edits the library's rule list
    /// (ADD, EDIT, AGREE, REMOVE). Only what the agent saw is used, never hidden tests.
    Extract {
        /// Run directories of coding runs.
        #[arg(required = true)]
        run_dirs: Vec<PathBuf>,
        /// The library the rules go to.
        #[arg(long, default_value = "default")]
        library: String,
        /// Rules the list holds at most.
        #[arg(long, default_value_t = 20, value_parser = at_least_one)]
        max_rules: usize,
        /// Operations applied per reply at most.
        #[arg(long, default_value_t = 3, value_parser = at_least_one)]
        max_ops: usize,
        /// First-try successes compared in one call.
        #[arg(long, default_value_t = 4, value_parser = at_least_one)]
        batch: usize,
        /// Comparisons made at most (the rest wait for the next call).
        #[arg(long, value_parser = at_least_one)]
        limit: Option<usize>,
        /// A local model id (`mneme model list`) or a model name.
        #[arg(long)]
        model: Option<String>,
    },
    /// A library's rules, most voted first.
    List {
        /// The library.
        #[arg(long, default_value = "default")]
        library: String,
    },
    /// Remove a library's rules and its extraction log (its skills and reflections stay).
    Clear {
        /// The library.
        #[arg(long)]
        library: String,
    },
}

#[derive(Args)]
struct ExploreCli {
    /// The environment (crafter).
    env: String,
    /// Iterations of the session (one task each); with --evaluate, per episode.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    iterations: u32,
    /// The world's seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The skill library's name (skills and lessons are kept per library).
    #[arg(long, default_value = "default")]
    library: String,
    /// Evaluate the library, frozen (nothing learned), for one episode on each of the first K
    /// fixed evaluation seeds; prints the Crafter score.
    #[arg(long, value_name = "K")]
    evaluate: Option<usize>,
    /// Ablation: no skill library (every program written from scratch).
    #[arg(long)]
    no_skills: bool,
    /// Ablation: the warm-up order as a fixed task list instead of the model's curriculum.
    #[arg(long)]
    no_curriculum: bool,
    /// Ablation: no self-verification critic (a program that ran without an error counts).
    #[arg(long)]
    no_critic: bool,
    /// Ablation: no verification at all: neither the critic nor the environment's checks (an
    /// achievement, a need's check) judge a round; a program that ran without an error counts
    /// as done (Voyager's ablation without self-verification).
    #[arg(long)]
    no_verification: bool,
    /// A local model id (`mneme model list`) or a model name.
    #[arg(long)]
    model: Option<String>,
    /// The run's id (default: ENV-explore|eval-LIBRARY-TIME).
    #[arg(long)]
    run_id: Option<String>,
    /// Where the run directory goes (default: runs/RUN_ID).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Evaluation episodes at once.
    #[arg(long, value_parser = at_least_one)]
    concurrency: Option<usize>,
}

#[derive(Subcommand)]
enum SkillsCommand {
    /// Every skill of a library (latest versions): name, version, uses, description.
    List {
        /// The library.
        #[arg(long, default_value = "default")]
        library: String,
    },
    /// One skill's code and record.
    Show {
        /// Its name.
        name: String,
        /// The library.
        #[arg(long, default_value = "default")]
        library: String,
    },
    /// Write a library's skills (latest versions) as one Python file.
    Export {
        /// The file.
        file: PathBuf,
        /// The library.
        #[arg(long, default_value = "default")]
        library: String,
    },
}

#[derive(Subcommand)]
enum EnvCommand {
    /// The shipped environments and whether each is installed.
    List,
    /// Install one into the data directory (a virtualenv with its pinned package, its adapter
    /// and its task list); `mneme run NAME` does it on first use.
    Setup {
        /// Its name, e.g. textcraft.
        name: String,
    },
}

#[derive(Subcommand)]
enum MemoryCommand {
    /// Counts by kind, and where memory lives.
    Stats,
    /// Semantic search.
    Search {
        /// What to look for.
        text: String,
        /// Only this kind.
        #[arg(long)]
        kind: Option<memory::RecordKind>,
        /// How many results.
        #[arg(long, default_value_t = 5)]
        k: usize,
    },
    /// Write every record (with its vector) to a JSONL file.
    Export {
        /// Target file.
        file: PathBuf,
    },
    /// Read records from a JSONL export (validated before anything is written).
    Import {
        /// Source file.
        file: PathBuf,
    },
    /// Build search indexes and compact storage.
    Compact,
}

#[derive(Subcommand)]
enum SandboxCommand {
    /// Run FILE.py in the sandbox and print one JSON object with the verdict.
    Run {
        /// The Python file.
        file: PathBuf,
        /// Wall-clock limit, seconds (default: sandbox.timeout_secs).
        #[arg(long)]
        timeout: Option<f64>,
        /// Memory limit, MiB (default: sandbox.memory_mb).
        #[arg(long)]
        memory_mb: Option<u64>,
    },
}

/// A count that must be at least 1 (zero tasks, calls or queries measures nothing).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Subcommand)]
enum TasksCommand {
    /// List the tasks of a suite.
    List {
        /// humaneval, mbpp, or a path to a .jsonl file in HumanEval's shape.
        suite: String,
        /// Show only the first N.
        #[arg(long, value_parser = at_least_one)]
        limit: Option<usize>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The framework's own time per model call (against a server that answers at once).
    Overhead {
        /// Calls to time.
        #[arg(long, default_value_t = 2000, value_parser = at_least_one)]
        calls: usize,
    },
    /// Embedding throughput; store insert, search latency, recall@10, reopen time and size.
    Memory {
        /// Real sentence embeddings to make (the larger sizes jitter copies of them).
        #[arg(long, default_value_t = 10_000, value_parser = at_least_one)]
        real: usize,
        /// Store sizes to measure.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000", value_parser = at_least_one)]
        sizes: Vec<usize>,
        /// Queries per measurement.
        #[arg(long, default_value_t = 300, value_parser = at_least_one)]
        queries: usize,
    },
    /// A local model server's aggregate tokens/s and latency at several concurrency levels.
    Throughput {
        /// Server program.
        #[arg(long, value_enum, default_value = "llama-server")]
        server: mneme::local::ServerKind,
        /// Catalog id of the model (default: local.model).
        #[arg(long)]
        model: Option<String>,
        /// Catalog id of a draft model for speculative decoding (llama-server).
        #[arg(long)]
        draft: Option<String>,
        /// Requests in flight, one measurement each.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4,8", value_parser = at_least_one)]
        levels: Vec<usize>,
        /// HumanEval prompts per level.
        #[arg(long, default_value_t = 16, value_parser = at_least_one)]
        prompts: usize,
        /// Tokens per answer at most.
        #[arg(long, default_value_t = 200)]
        max_tokens: u32,
        /// Write the figures as JSON here too.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Retrieval quality on the paraphrase set: recall@1, recall@5 and MRR of vector and hybrid
    /// search for reflections and coding skills, with the configured embedder.
    Retrieval {
        /// Another set in the same shape (default: the shipped memory/benches/paraphrase.jsonl).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// A run's report: its size, and how fast it opens in headless Chromium (the page alone and
    /// with its largest story open).
    Report {
        /// The run directory, or the directories of every shard of one run.
        #[arg(required = true)]
        run_dirs: Vec<PathBuf>,
        /// Loads per view.
        #[arg(long, default_value_t = 5, value_parser = at_least_one)]
        repeat: usize,
    },
    /// Check every canonical solution of a suite in the sandbox and time it.
    Canonical {
        /// The suite (it must have canonical solutions).
        #[arg(long, default_value = "humaneval")]
        suite: String,
        /// Sandbox workers (default: sandbox.workers).
        #[arg(long, value_parser = at_least_one)]
        workers: Option<usize>,
        /// Repetitions; the report gives each one's wall time.
        #[arg(long, default_value_t = 3, value_parser = at_least_one)]
        repeat: usize,
    },
}

#[derive(Args)]
struct RunCli {
    /// `humaneval`, `mbpp`, or a shipped environment (`textcraft`); or use --tasks.
    suite: Option<String>,
    /// With a shipped environment: its tasks from this file instead of its own list (for
    /// textcraft, one JSON object a line with `id`, `prompt` and `goal`).
    #[arg(long = "goals", value_name = "FILE")]
    env_tasks: Option<PathBuf>,
    /// Actions per episode at most (default: agent.episode.max_steps; textcraft: 40).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_steps: Option<u32>,
    /// Your own tasks: a JSONL file in HumanEval's shape, or with --env, one JSON object a
    /// line with `id`, `prompt` and your environment's own fields.
    #[arg(long)]
    tasks: Option<PathBuf>,
    /// Your own environment: a command speaking mneme's JSON-lines protocol
    /// (docs/environments.md), e.g. "python3 my_env.py"; one process per task.
    #[arg(long, requires = "tasks")]
    env: Option<String>,
    /// simple, reflexion, best_of_n, lats, mcts, or voyager (with an environment that runs
    /// programs: see `mneme explore`) (default: agent.strategy).
    #[arg(long, value_parser = agent_core::strategy::parse_name)]
    strategy: Option<String>,
    /// Trials per task (default: agent.trials).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    trials: Option<u32>,
    /// Model calls per task, every purpose counted (default: agent.budget.calls).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    budget: Option<u32>,
    /// Only the first N tasks.
    #[arg(long, value_parser = at_least_one)]
    limit: Option<usize>,
    /// Tasks worked on at once (default: the model servers' slots plus one).
    #[arg(long, value_parser = at_least_one)]
    concurrency: Option<usize>,
    /// Only this shard of the tasks, INDEX/COUNT counted from 1 (`--shard 2/3` takes tasks
    /// 2, 5, 8, …); every shard needs the same --run-id.
    #[arg(long)]
    shard: Option<agent_core::run::Shard>,
    /// The run's id (default: SUITE-STRATEGY-TIME); shards of one run share it.
    #[arg(long)]
    run_id: Option<String>,
    /// A local model id (`mneme model list`) or a model name for the configured endpoint.
    #[arg(long)]
    model: Option<String>,
    /// Also retrieve reflections from similar tasks (with --library, only the library's).
    #[arg(long)]
    cross_task: bool,
    /// The library of cross-task memory this run reads: insights, coding skills and (with
    /// --cross-task) reflections tagged with it (default: agent.learning.library).
    #[arg(long)]
    library: Option<String>,
    /// Add to the library: submitted functions that passed their internal tests become skills,
    /// reflections are tagged with it, helpers' use counts are kept.
    #[arg(long, requires = "library")]
    learn: bool,
    /// Show the library's insights (most voted first, within agent.learning.insights_tokens).
    #[arg(long)]
    insights: bool,
    /// Show the library's skills most like the task as helpers the code may call.
    #[arg(long)]
    skills: bool,
    /// Where to put the run directory (default: runs/RUN_ID).
    #[arg(long)]
    run_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ChatArgs {
    /// The question; read from stdin when absent.
    prompt: Vec<String>,
    /// A system message.
    #[arg(long)]
    system: Option<String>,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Tokens to generate at most.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Number of samples.
    #[arg(short, long, default_value_t = 1)]
    n: u32,
    /// Sampling seed.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Build the server program and assemble verified weights (idempotent).
    Setup {
        /// Catalog id (default: local.model).
        #[arg(long)]
        model: Option<String>,
        /// Server program (default: local.server).
        #[arg(long, value_enum)]
        server: Option<local::ServerKind>,
    },
    /// Set up if needed and start the server in the background (no-op if it already answers).
    Serve {
        /// Catalog id (default: local.model).
        #[arg(long)]
        model: Option<String>,
        /// Server program (default: local.server).
        #[arg(long, value_enum)]
        server: Option<local::ServerKind>,
        /// Requests decoded together, llama-server's slots (default: local.parallel).
        #[arg(long, value_parser = at_least_one)]
        parallel: Option<usize>,
    },
    /// Stop the background server on the configured port.
    Stop,
    /// Is the server up, and what does it serve?
    Status,
    /// The models that can be set up, and which are on disk.
    List,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment) as TOML.
    Show,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mneme: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(
        cli.log_format.unwrap_or(config.logging.format),
        &config.logging.filter,
    );
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(dispatch(cli.command, config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mneme: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Run(a) => {
            let args = mneme::runner::RunArgs {
                suite: a.suite,
                env_tasks: a.env_tasks,
                max_steps: a.max_steps,
                tasks: a.tasks,
                env: a.env,
                strategy: a.strategy,
                trials: a.trials,
                budget: a.budget,
                limit: a.limit,
                concurrency: a.concurrency,
                shard: a.shard,
                run_id: a.run_id,
                model: a.model,
                cross_task: a.cross_task,
                library: a.library,
                learn: a.learn,
                insights: a.insights,
                skills: a.skills,
                run_dir: a.run_dir,
            };
            mneme::runner::run(config, args).await
        }
        Command::Resume { run_dir } => {
            let (_, spec) = agent_core::run::RunDir::open(&run_dir)?;
            if spec.agent.strategy != "voyager" {
                return mneme::runner::resume(&run_dir).await;
            }
            let events = run_dir.join("events.jsonl");
            let follow = tokio::spawn(mneme::explore::follow_iterations(events));
            let outcome = mneme::runner::resume(&run_dir).await;
            follow.abort();
            outcome?;
            mneme::explore::print_outcome(&run_dir)
        }
        Command::Report {
            run_dirs,
            out,
            watch,
        } => {
            let (md, html) = match (run_dirs.as_slice(), watch) {
                ([one], Some(secs)) => {
                    let every = std::time::Duration::from_secs(secs.max(1));
                    mneme::report::watch(one, every).await?
                }
                (_, Some(_)) => anyhow::bail!("--watch follows one run directory"),
                ([one], None) => mneme::report::write(one)?,
                (shards, None) => mneme::report::write_merged(shards, out.as_deref())?,
            };
            println!("{}\n{}", md.display(), html.display());
            Ok(())
        }
        Command::Compare { runs, out } => {
            let (_, html) = mneme::compare::write(&runs, &out)?;
            eprintln!("mneme: wrote {}", html.display());
            Ok(())
        }
        Command::Tree {
            run_dir,
            task_id,
            dot,
            svg,
        } => mneme::tree::print(&run_dir, &task_id, dot.as_deref(), svg.as_deref()),
        Command::Chat(args) => chat(args, &config).await,
        Command::Model(cmd) => model(cmd, &config).await,
        Command::Sandbox(SandboxCommand::Run {
            file,
            timeout,
            memory_mb,
        }) => commands::sandbox_run(&config, &file, timeout, memory_mb).await,
        Command::Tasks(TasksCommand::List { suite, limit }) => {
            commands::tasks_list(&config, &suite, limit)
        }
        Command::Memory(cmd) => match cmd {
            MemoryCommand::Stats => commands::memory_stats(&config).await,
            MemoryCommand::Search { text, kind, k } => {
                commands::memory_search(&config, &text, kind, k).await
            }
            MemoryCommand::Export { file } => commands::memory_export(&config, &file).await,
            MemoryCommand::Import { file } => commands::memory_import(&config, &file).await,
            MemoryCommand::Compact => commands::memory_compact(&config).await,
        },
        Command::Bench(BenchCommand::Overhead { calls }) => commands::bench_overhead(calls).await,
        Command::Bench(BenchCommand::Memory {
            real,
            sizes,
            queries,
        }) => commands::bench_memory(&config, real, &sizes, queries).await,
        Command::Bench(BenchCommand::Throughput {
            server,
            model,
            draft,
            levels,
            prompts,
            max_tokens,
            out,
        }) => {
            let args = mneme::throughput::ThroughputArgs {
                server,
                model: model.unwrap_or_else(|| config.local.model.clone()),
                draft,
                levels,
                prompts,
                max_tokens,
                threads: config.local.threads.max(1),
            };
            let figures = mneme::throughput::measure(&config, &args).await?;
            let json = serde_json::to_string_pretty(&figures)?;
            if let Some(out) = out {
                std::fs::write(&out, &json)?;
            }
            println!("{json}");
            Ok(())
        }
        Command::Bench(BenchCommand::Retrieval { data }) => {
            mneme::retrieval::bench(&config, data.as_deref()).await
        }
        Command::Bench(BenchCommand::Report { run_dirs, repeat }) => {
            mneme::report::bench::run(&run_dirs, repeat)
        }
        Command::Bench(BenchCommand::Canonical {
            suite,
            workers,
            repeat,
        }) => commands::bench_canonical(&config, &suite, workers, repeat).await,
        Command::Explore(a) => {
            let args = mneme::explore::ExploreArgs {
                env: a.env,
                iterations: a.iterations,
                seed: a.seed,
                library: a.library,
                evaluate: a.evaluate,
                no_skills: a.no_skills,
                no_curriculum: a.no_curriculum,
                no_critic: a.no_critic,
                no_verification: a.no_verification,
                model: a.model,
                run_id: a.run_id,
                run_dir: a.run_dir,
                concurrency: a.concurrency,
            };
            mneme::explore::explore(config, args).await
        }
        Command::Skills(SkillsCommand::List { library }) => {
            mneme::skills::list(&config, &library).await
        }
        Command::Skills(SkillsCommand::Show { name, library }) => {
            mneme::skills::show(&config, &library, &name).await
        }
        Command::Skills(SkillsCommand::Export { file, library }) => {
            mneme::skills::export(&config, &library, &file).await
        }
        Command::Insights(InsightsCommand::Extract {
            run_dirs,
            library,
            max_rules,
            max_ops,
            batch,
            limit,
            model,
        }) => {
            let mut config = config;
            if let Some(m) = &model {
                mneme::runner::apply_model(&mut config, m);
            }
            let extract = agent_core::learn::ExtractConfig {
                library,
                max_rules,
                max_ops,
                success_batch: batch,
                ..Default::default()
            };
            let args = mneme::insights::ExtractArgs {
                run_dirs,
                extract,
                limit,
            };
            mneme::insights::extract(&config, args).await
        }
        Command::Insights(InsightsCommand::List { library }) => {
            mneme::insights::list(&config, &library).await
        }
        Command::Insights(InsightsCommand::Clear { library }) => {
            mneme::insights::clear(&config, &library).await
        }
        Command::Env(EnvCommand::List) => {
            mneme::envs::list(&config.data_dir());
            Ok(())
        }
        Command::Env(EnvCommand::Setup { name }) => {
            let env = mneme::envs::builtin(&name).with_context(|| {
                let names: Vec<&str> = mneme::envs::BUILTINS.iter().map(|b| b.name).collect();
                format!(
                    "no shipped environment is called {name:?}; there is: {}",
                    names.join(", ")
                )
            })?;
            let installed = mneme::envs::ensure(&config.data_dir(), env, &config.sandbox)?;
            println!(
                "{name}: {}\n  tasks: {}",
                installed.command(&config.sandbox)?.join(" "),
                installed.tasks.display()
            );
            Ok(())
        }
        Command::Config(ConfigCommand::Show) => {
            print!("{}", config.to_toml());
            let var = config
                .model
                .api_key_env
                .clone()
                .unwrap_or(config.model.provider.default_key_env().into());
            let state = if std::env::var(&var).map(|v| !v.is_empty()).unwrap_or(false) {
                "set"
            } else {
                "not set"
            };
            println!("# API key: ${var} is {state} (its value is never shown)");
            Ok(())
        }
    }
}

async fn chat(args: ChatArgs, config: &Config) -> anyhow::Result<()> {
    use agent_core::llm::{ChatRequest, Message};
    let prompt = if args.prompt.is_empty() {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the prompt from stdin")?;
        s
    } else {
        args.prompt.join(" ")
    };
    anyhow::ensure!(!prompt.trim().is_empty(), "empty prompt");
    let span = tracing::info_span!("run", kind = "chat");
    async {
        let stack = wiring::chat_stack(config).await?;
        let mut messages = Vec::new();
        if let Some(s) = args.system {
            messages.push(Message::system(s));
        }
        messages.push(Message::user(prompt));
        let mut request = ChatRequest::new(messages)
            .temperature(args.temperature)
            .max_tokens(args.max_tokens)
            .n(args.n);
        request.seed = args.seed;
        let response = stack.model.chat(&request).await?;
        for (i, choice) in response.choices.iter().enumerate() {
            if response.choices.len() > 1 {
                println!("--- sample {} ---", i + 1);
            }
            println!("{}", choice.text.trim_end());
        }
        let t = stack.ledger.totals();
        eprintln!(
            "[{}: {} prompt + {} completion tokens, {} ms, ${:.4}{}]",
            response.model,
            t.prompt_tokens,
            t.completion_tokens,
            response.latency.as_millis(),
            t.cost_usd,
            if response.cached { ", cached" } else { "" }
        );
        Ok(())
    }
    .instrument(span)
    .await
}

async fn model(cmd: ModelCommand, config: &Config) -> anyhow::Result<()> {
    let data = DataDir::new(config.data_dir());
    match cmd {
        ModelCommand::Setup { model, server } => {
            let spec = wiring::local_spec(config, model.as_deref())?;
            let d = data.clone();
            let kind = server.unwrap_or(spec.kind);
            let (program, weights) = tokio::task::spawn_blocking(move || {
                local::ensure_server_files(&d, kind, spec.model, spec.draft)
            })
            .await??;
            println!(
                "server: {}\nweights: {}",
                program.display(),
                weights.display()
            );
        }
        ModelCommand::Serve {
            model,
            server,
            parallel,
        } => {
            let mut config = config.clone();
            if let Some(kind) = server {
                config.local.server = kind;
            }
            if let Some(n) = parallel {
                config.local.parallel = n;
            }
            let spec = wiring::ensure_local_server(&config, model.as_deref()).await?;
            println!(
                "{} serves {} at {} ({}, {} slot(s))",
                spec.model.id,
                spec.model.alias,
                spec.base_url(),
                spec.kind.as_str(),
                spec.parallel
            );
        }
        ModelCommand::Stop => {
            let stopped = local::server::stop(&data, config.local.port)?;
            println!(
                "{}",
                if stopped {
                    "stopped"
                } else {
                    "no server started by mneme on this port"
                }
            );
        }
        ModelCommand::Status => {
            let spec = wiring::local_spec(config, None)?;
            use local::server::Probe;
            match local::server::probe_patiently(&spec.base_url()).await {
                Probe::Serving(models) => {
                    println!("up at {}, serving {}", spec.base_url(), models.join(", "))
                }
                Probe::Down => println!("nothing answers at {}", spec.base_url()),
                Probe::Busy => println!(
                    "something at {} accepts connections but does not list its models",
                    spec.base_url()
                ),
                Probe::Unusable(why) => {
                    println!(
                        "something at {} is not a model server: {why}",
                        spec.base_url()
                    )
                }
            }
            if let Some(pid) = local::server::pid_file(&data, config.local.port) {
                println!("started by mneme: pid {} ({})", pid.pid, pid.model);
            }
        }
        ModelCommand::List => {
            for m in catalog::CATALOG {
                let state = if data.weights(m).exists() {
                    "on disk"
                } else {
                    "not set up"
                };
                println!("{:<20} {:<10} {}", m.id, state, m.purpose);
            }
        }
    }
    Ok(())
}
