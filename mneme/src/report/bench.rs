//! `mneme bench report RUN_DIR`: how big a run's report is and how fast it opens in headless
//! Chromium: the time from navigation until the page's script has built the task list (the
//! page records it as `data-ready-ms` on its body), for the page alone and with the story of
//! the task with the most events open.

use super::story::{fragment, Stories};
use anyhow::Context;
use std::path::PathBuf;
use std::process::Command;

/// The Chromium binaries tried, in order.
const CHROMIUM: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/// One view's times: ready, ms, per load.
struct Timed {
    view: String,
    ready_ms: Vec<u64>,
    wall_ms: Vec<u64>,
}

/// Writes the report of `runs` (one run directory, or the shards of one run, merged), loads it
/// `repeat` times per view and prints the measurements.
pub fn run(runs: &[PathBuf], repeat: usize) -> anyhow::Result<()> {
    let (_, html) = match runs {
        [one] => super::write(one)?,
        shards => super::write_merged(shards, None)?,
    };
    let bytes = std::fs::metadata(&html)?.len();
    let stories = Stories::read(runs);
    let events: usize = stories.by_task.values().map(Vec::len).sum();
    let biggest = stories
        .by_task
        .iter()
        .max_by_key(|(_, e)| e.len())
        .map(|(task, _)| task.clone());
    let page = std::path::absolute(&html)?;
    let mut views = vec![("page".to_string(), format!("file://{}", page.display()))];
    if let Some(task) = &biggest {
        let url = format!("file://{}#task={}", page.display(), fragment(task));
        views.push((format!("story of {task}"), url));
    }
    println!(
        "report {}: {} tasks, {events} events, {:.2} MB",
        html.display(),
        stories.by_task.len(),
        bytes as f64 / 1e6
    );
    for (view, url) in views {
        let mut timed = Timed {
            view,
            ready_ms: Vec::new(),
            wall_ms: Vec::new(),
        };
        for _ in 0..repeat {
            let started = std::time::Instant::now();
            timed.ready_ms.push(ready_ms(&url)?);
            timed.wall_ms.push(started.elapsed().as_millis() as u64);
        }
        println!(
            "{}: ready {} ms after navigation (median of {repeat}; min {}, max {}); Chromium process {} ms (median, start to exit)",
            timed.view,
            median(&mut timed.ready_ms),
            timed.ready_ms.iter().min().unwrap_or(&0),
            timed.ready_ms.iter().max().unwrap_or(&0),
            median(&mut timed.wall_ms)
        );
    }
    Ok(())
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// Loads `url` in a fresh headless Chromium and reads the page's `data-ready-ms`.
fn ready_ms(url: &str) -> anyhow::Result<u64> {
    let chromium = CHROMIUM
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .context("headless Chromium is needed (apt-get install chromium)")?;
    let profile = tempfile::tempdir()?;
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .output()?;
    let dom = String::from_utf8_lossy(&out.stdout);
    let value = dom
        .split_once("data-ready-ms=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(v, _)| v.to_string())
        .with_context(|| {
            format!(
                "the page did not say it was ready (its script did not run?): {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            )
        })?;
    Ok(value.parse()?)
}
