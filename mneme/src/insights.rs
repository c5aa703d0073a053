//! `mneme insights extract|list`: ExpeL-style rules learned from runs' trajectories (what the
//! agent tried and what its internal tests said; never the hidden tests), kept in memory per
//! library with their votes. Every call is logged to `DATA_DIR/insights/LIBRARY.jsonl`; an
//! extraction run again skips the comparisons that log already holds.

use crate::config::Config;
use agent_core::learn::{self, expel, insights, Comparison, ExtractConfig, ExtractStep};
use agent_core::run::{read_jsonl, LoggedEvent, RunDir};
use anyhow::Context;
use environments::TaskSuite;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `mneme insights extract` was asked.
pub struct ExtractArgs {
    /// The runs to learn from.
    pub run_dirs: Vec<PathBuf>,
    /// How to extract (library, caps).
    pub extract: ExtractConfig,
    /// Comparisons made at most in this call.
    pub limit: Option<usize>,
}

/// The comparisons one run offers, with its id.
fn run_comparisons(
    config: &Config,
    path: &Path,
    batch: usize,
) -> anyhow::Result<(String, Vec<Comparison>)> {
    let (dir, spec) = RunDir::open(path)?;
    if spec.env_command.is_some() {
        anyhow::bail!(
            "{}: insights are learned from coding runs; this run played a custom environment",
            path.display()
        );
    }
    let suite = environments::load_suite(&spec.suite, &config.data_dir())
        .with_context(|| format!("loading the tasks of {}", path.display()))?;
    let prompts: HashMap<String, String> = suite
        .tasks()
        .iter()
        .map(|t| (t.id.clone(), t.prompt.clone()))
        .collect();
    let events: Vec<LoggedEvent> = read_jsonl(&dir.path().join("events.jsonl"))?;
    let trajectories = learn::from_events(events.iter().map(|e| &e.event), |id| {
        prompts.get(id).cloned()
    });
    Ok((spec.run_id, expel::comparisons(&trajectories, batch)))
}

/// The extraction log of `library`, beside the memory store it changed.
fn log_path(config: &Config, library: &str) -> PathBuf {
    let memory = config.memory_path();
    let beside = memory.parent().map(Path::to_path_buf).unwrap_or_default();
    beside.join("insights").join(format!("{library}.jsonl"))
}

/// `mneme insights extract RUN_DIR…`.
pub async fn extract(config: &Config, args: ExtractArgs) -> anyhow::Result<()> {
    let library = args.extract.library.clone();
    let mut todo = Vec::new();
    for path in &args.run_dirs {
        let (run_id, comparisons) = run_comparisons(config, path, args.extract.success_batch)?;
        todo.extend(comparisons.into_iter().map(|c| (run_id.clone(), c)));
    }
    let log = log_path(config, &library);
    let done: HashSet<String> = read_jsonl::<ExtractStep>(&log)
        .with_context(|| format!("reading {}", log.display()))?
        .into_iter()
        .map(|s| s.key)
        .collect();
    todo.retain(|(run, c)| !done.contains(&c.key(run)));
    let total = todo.len().min(args.limit.unwrap_or(usize::MAX));
    eprintln!(
        "mneme: {total} comparisons to make for library {library:?} ({} already in {})",
        done.len(),
        log.display()
    );
    if total == 0 {
        return list(config, &library).await;
    }
    let bank = crate::wiring::memory_bank(config, true).await?;
    let stack = crate::wiring::chat_stack(config).await?;
    let prompts = agent_core::agent::Prompts::load(config.agent.prompts_dir.as_deref())?;
    std::fs::create_dir_all(log.parent().expect("the log is in a directory"))?;
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    for (i, (run, comparison)) in todo.iter().take(total).enumerate() {
        let step = expel::extract_one(
            stack.model.as_ref(),
            &prompts,
            &bank,
            &args.extract,
            comparison,
            run,
        )
        .await?;
        writeln!(out, "{}", serde_json::to_string(&step)?)?;
        out.sync_data()?;
        eprintln!(
            "[{}/{total}] {}: {} applied, {} discarded, {} rules",
            i + 1,
            step.key,
            step.outcome.applied.len(),
            step.outcome.discarded.len(),
            step.rules
        );
    }
    print_rules(&bank, &library).await
}

/// `mneme insights list`.
pub async fn list(config: &Config, library: &str) -> anyhow::Result<()> {
    let bank = crate::wiring::memory_bank(config, false).await?;
    print_rules(&bank, library).await
}

/// `mneme insights clear`: removes the library's rules and its extraction log, so the next
/// extraction starts over (its skills and reflections stay).
pub async fn clear(config: &Config, library: &str) -> anyhow::Result<()> {
    let bank = crate::wiring::memory_bank(config, false).await?;
    let filter = memory::Filter::kind(memory::RecordKind::Insight)
        .tags_any(vec![memory::library_tag(library)]);
    let n = bank.records(&filter).await?.len();
    bank.store().delete_where(&filter).await?;
    let log = log_path(config, library);
    match std::fs::remove_file(&log) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", log.display())),
    }
    println!("removed {n} insights of library {library:?} and its extraction log");
    Ok(())
}

async fn print_rules(bank: &memory::MemoryBank, library: &str) -> anyhow::Result<()> {
    let rules = insights::rules(bank, library).await?;
    if rules.is_empty() {
        println!("library {library:?} has no insights yet (mneme insights extract RUN_DIR --library {library})");
        return Ok(());
    }
    for (i, rule) in rules.iter().enumerate() {
        println!("{:>2}. [{} votes] {}", i + 1, rule.votes, rule.text);
    }
    println!("{} insights in library {library:?}", rules.len());
    Ok(())
}
