//! The bodies of the `sandbox`, `tasks` and `bench` subcommands.

use crate::config::Config;
use anyhow::Context;
use environments::code::score_submission;
use environments::{load_suite, TaskKind, TaskSuite};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tools::sandbox::{Job, Sandbox, Verdict};

/// `mneme sandbox run FILE.py`: one JSON object on stdout.
pub async fn sandbox_run(
    config: &Config,
    file: &Path,
    timeout: Option<f64>,
    memory_mb: Option<u64>,
) -> anyhow::Result<()> {
    let code =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut sandbox_config = config.sandbox.clone();
    sandbox_config.workers = 1;
    let sandbox = Sandbox::new(sandbox_config)?;
    let mut job = Job::python(code);
    job.filename = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("main.py")
        .to_string();
    job.timeout = timeout.map(Duration::from_secs_f64);
    job.memory_mb = memory_mb;
    let outcome = sandbox.run(&job).await;
    println!("{}", serde_json::to_string(&outcome)?);
    Ok(())
}

/// `mneme tasks list SUITE`.
pub fn tasks_list(config: &Config, suite: &str, limit: Option<usize>) -> anyhow::Result<()> {
    let suite = load_suite(suite, &config.data_dir())?;
    let tasks = suite.tasks();
    println!("{}: {} tasks", suite.name(), tasks.len());
    for task in tasks.iter().take(limit.unwrap_or(usize::MAX)) {
        let (entry, examples) = match &task.kind {
            TaskKind::Code(c) => (c.entry_point.as_str(), c.examples.len()),
            TaskKind::Custom(_) => ("-", 0),
        };
        let summary = first_sentence(&task.prompt, entry);
        println!(
            "{:<14} {:<28} {:>2} examples  {}",
            task.id, entry, examples, summary
        );
    }
    Ok(())
}

/// The first line of the docstring, or of the prompt.
fn first_sentence(prompt: &str, entry: &str) -> String {
    let after_def = prompt
        .split(&format!("def {entry}("))
        .nth(1)
        .unwrap_or(prompt);
    let line = after_def
        .lines()
        .skip(1)
        .map(|l| {
            l.trim()
                .trim_start_matches("\"\"\"")
                .trim_start_matches("'''")
                .trim()
        })
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let cut: String = line.chars().take(70).collect();
    if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// `mneme bench canonical`: every canonical solution through the sandbox.
pub async fn bench_canonical(
    config: &Config,
    suite: &str,
    workers: Option<usize>,
    repeat: usize,
) -> anyhow::Result<()> {
    let suite = load_suite(suite, &config.data_dir())?;
    let tasks: Vec<_> = suite
        .tasks()
        .iter()
        .filter_map(|t| match &t.kind {
            TaskKind::Code(c) => c
                .canonical_solution
                .as_ref()
                .map(|s| (t.clone(), format!("{}{}", t.prompt, s))),
            TaskKind::Custom(_) => None,
        })
        .collect();
    anyhow::ensure!(
        !tasks.is_empty(),
        "{} has no canonical solutions",
        suite.name()
    );
    let mut sandbox_config = config.sandbox.clone();
    if let Some(w) = workers {
        sandbox_config.workers = w;
    }
    let workers = sandbox_config.workers;
    let sandbox = Arc::new(Sandbox::new(sandbox_config)?);
    // Warm the pool so start-up is not billed to the first round.
    let warm: Vec<_> = (0..workers)
        .map(|_| {
            let sb = sandbox.clone();
            tokio::spawn(async move { sb.run(&Job::python("pass")).await })
        })
        .collect();
    for w in warm {
        w.await?;
    }
    println!(
        "{} canonical solutions of {}, {} sandbox workers",
        tasks.len(),
        suite.name(),
        workers
    );
    for round in 1..=repeat.max(1) {
        let started = Instant::now();
        let checks: Vec<_> = tasks
            .iter()
            .cloned()
            .map(|(task, code)| {
                let sb = sandbox.clone();
                tokio::spawn(async move {
                    score_submission(&sb, &task, &code)
                        .await
                        .map(|o| (task.id, o.verdict))
                })
            })
            .collect();
        let mut passed = 0;
        let mut failed = Vec::new();
        for c in checks {
            let (id, verdict) = c.await??;
            if verdict == Verdict::Passed {
                passed += 1;
            } else {
                failed.push(format!("{id}: {verdict}"));
            }
        }
        let wall = started.elapsed();
        println!(
            "round {round}: {passed}/{} passed in {:.3} s ({:.2} ms per check)",
            tasks.len(),
            wall.as_secs_f64(),
            wall.as_secs_f64() * 1000.0 / tasks.len() as f64
        );
        for f in failed {
            println!("  not passed: {f}");
        }
    }
    Ok(())
}
