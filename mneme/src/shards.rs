//! Merging the run directories of a sharded run (`mneme run --shard i/n --run-id ID`) into
//! one set of results, after checking that they really are shards of one run.

use agent_core::agent::TaskResult;
use agent_core::run::{RunDir, RunSpec, RunStatus, Summary};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Shards merged into one run.
#[derive(Debug)]
pub struct Merged {
    /// The run as a whole (every shard's tasks, no shard).
    pub spec: RunSpec,
    /// Its summary, computed from every shard's results.
    pub summary: Summary,
    /// Every shard's results.
    pub results: Vec<TaskResult>,
    /// Which shards were given, in order, e.g. `[1, 2]`, and how many the run has.
    pub shards: (Vec<usize>, usize),
}

/// One shard's directory, read.
struct Part {
    path: PathBuf,
    spec: RunSpec,
    config: String,
    summary: Summary,
    results: Vec<TaskResult>,
}

fn read(path: &Path) -> anyhow::Result<Part> {
    let (dir, spec) = RunDir::open(path)?;
    let summary = dir.summary().ok_or_else(|| {
        anyhow::anyhow!(
            "{}: no summary.json yet (the shard never ran)",
            path.display()
        )
    })?;
    Ok(Part {
        path: path.to_path_buf(),
        config: dir.config_toml()?,
        results: dir.results()?,
        spec,
        summary,
    })
}

/// The first line where `a` and `b` differ, for error messages.
fn first_difference(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .find(|(x, y)| x != y)
        .map(|(x, y)| format!("{x:?} vs {y:?}"))
        .unwrap_or_else(|| "one has more lines".into())
}

/// Checks that `other` is another shard of `first`'s run.
fn same_run(first: &Part, other: &Part) -> anyhow::Result<()> {
    let (a, b) = (&first.spec, &other.spec);
    let names = format!("{} and {}", first.path.display(), other.path.display());
    let (sa, sb) = (a.shard.expect("checked"), b.shard.expect("checked"));
    anyhow::ensure!(
        a.run_id == b.run_id,
        "{names} are not shards of one run: run ids {:?} and {:?}",
        a.run_id,
        b.run_id
    );
    anyhow::ensure!(
        sa.count == sb.count,
        "{names} split the run differently: shard {sa} and shard {sb}"
    );
    anyhow::ensure!(
        sa.index != sb.index,
        "{names} are both shard {sa}: pass each shard once"
    );
    anyhow::ensure!(
        a.suite == b.suite && a.model == b.model,
        "{names} ran different suites or models: {}/{} and {}/{}",
        a.suite,
        a.model,
        b.suite,
        b.model
    );
    anyhow::ensure!(
        serde_json::to_value(&a.agent)? == serde_json::to_value(&b.agent)?,
        "{names} ran with different agent settings (strategy, trials, …)"
    );
    anyhow::ensure!(
        first.config == other.config,
        "{names} ran with different configurations; first difference: {}",
        first_difference(&first.config, &other.config)
    );
    Ok(())
}

/// Reads and checks the shard directories `paths` and merges them.
pub fn merge(paths: &[PathBuf]) -> anyhow::Result<Merged> {
    let parts = paths
        .iter()
        .map(|p| read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for part in &parts {
        anyhow::ensure!(
            part.spec.shard.is_some(),
            "{} is a whole run, not a shard; report it alone",
            part.path.display()
        );
    }
    let first = &parts[0];
    for other in &parts[1..] {
        same_run(first, other)?;
    }
    let count = first.spec.shard.expect("checked").count;
    let mut by_index: BTreeMap<usize, &Part> = BTreeMap::new();
    for part in &parts {
        by_index.insert(part.spec.shard.expect("checked").index, part);
    }
    let mut spec = first.spec.clone();
    spec.shard = None;
    spec.task_ids = by_index
        .values()
        .flat_map(|p| p.spec.task_ids.clone())
        .collect();
    let results: Vec<TaskResult> = by_index.values().flat_map(|p| p.results.clone()).collect();
    let status = if by_index.len() < count {
        RunStatus::InProgress
    } else {
        by_index
            .values()
            .map(|p| p.summary.status.clone())
            .find(|s| *s != RunStatus::Complete)
            .unwrap_or(RunStatus::Complete)
    };
    let wall = by_index
        .values()
        .map(|p| p.summary.wall_ms)
        .max()
        .unwrap_or(0);
    let mut summary = Summary::from_results(&spec, &results, status, wall);
    summary.endpoints = by_index
        .values()
        .flat_map(|p| p.summary.endpoints.clone())
        .collect();
    Ok(Merged {
        spec,
        summary,
        results,
        shards: (by_index.keys().copied().collect(), count),
    })
}
