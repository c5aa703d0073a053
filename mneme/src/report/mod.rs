//! `mneme report RUN_DIR`: a markdown summary and a self-contained HTML page with
//! charts (pass@1 by trial, tokens per task, submissions by verdict), drawn as SVG
//! with `plotters`, and every task's story (see [`story`]): a list to filter and sort,
//! each task's attempts in order, the tasks a retry fixed and the reflection that did it.

use agent_core::agent::TaskResult;
use agent_core::run::{RunDir, Summary};
use anyhow::Context;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

pub mod bench;
pub mod story;
mod tasks;

/// How often a page of a run in progress reloads itself, seconds.
pub const REFRESH_SECS: u64 = 10;

/// Rewrites the report of the run in `run` every `every` seconds until the run is no longer in
/// progress (complete, interrupted or stopped by its budget), then once more. A run that was
/// killed stays "in progress": stop watching with Ctrl-C.
pub async fn watch(run: &Path, every: std::time::Duration) -> anyhow::Result<(PathBuf, PathBuf)> {
    loop {
        let done = RunDir::open(run)?
            .0
            .summary()
            .is_some_and(|s| s.status != agent_core::run::RunStatus::InProgress);
        match write(run) {
            Ok(paths) if done => return Ok(paths),
            Ok((_, html)) => eprintln!("mneme: wrote {}; watching", html.display()),
            // No task has finished yet: nothing to draw.
            Err(e) => eprintln!("mneme: {e:#}; watching"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Fonts tried for chart labels (Debian's `fonts-dejavu-core`), or `MNEME_FONT`.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers the charts' font once (see [`FONTS`]).
pub(crate) fn register_font() -> anyhow::Result<()> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let candidates: Vec<PathBuf> = std::env::var_os("MNEME_FONT")
            .map(PathBuf::from)
            .into_iter()
            .chain(FONTS.iter().map(PathBuf::from))
            .collect();
        let path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
            format!("no font for chart labels: install fonts-dejavu-core or set MNEME_FONT (tried {FONTS:?})")
        })?;
        let bytes: &'static [u8] = Box::leak(std::fs::read(path).map_err(|e| e.to_string())?.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| "invalid font file".to_string())
    })
    .clone()
    .map_err(|e| anyhow::anyhow!(e))
}

fn svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (560, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        draw(&root)?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(out)
}

fn pass_chart(by_trial: &[f64]) -> anyhow::Result<String> {
    svg(|root| {
        let k = by_trial.len().max(1);
        // Trials 1…k on the axis, half a trial of room either side, a tick at each trial.
        let mut chart = ChartBuilder::on(root)
            .caption("pass@1 by trial", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.5f64..k as f64 + 0.5, 0f64..1f64)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("trial")
            .y_desc("pass@1")
            .x_labels(2 * k + 1)
            .x_label_formatter(&|v| integer_label(*v))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let points: Vec<(f64, f64)> = by_trial
            .iter()
            .enumerate()
            .map(|(i, p)| (i as f64 + 1.0, *p))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 4, BLUE.filled())),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    })
}

/// `v` as an integer label when it is one (a tick between integers gets none).
fn integer_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// The colour of a verdict, by meaning and colour-blind safe (Okabe–Ito): passed bluish
/// green, failed vermillion, timeouts orange, memory sky blue, errors and kills reddish
/// purple, no code grey, anything else blue.
pub(crate) fn verdict_color(verdict: &str) -> RGBColor {
    match verdict {
        "passed" => RGBColor(0x00, 0x9E, 0x73),
        "failed" => RGBColor(0xD5, 0x5E, 0x00),
        "timeout" => RGBColor(0xE6, 0x9F, 0x00),
        "memory" => RGBColor(0x56, 0xB4, 0xE9),
        "error" | "killed" | "crashed" => RGBColor(0xCC, 0x79, 0xA7),
        "no_code" => RGBColor(0x99, 0x99, 0x99),
        _ => RGBColor(0x00, 0x72, 0xB2),
    }
}

/// Verdicts in the order a reader looks for them: passed, failed, then the rest by name.
fn verdict_rank(verdict: &str) -> (u8, String) {
    let rank = match verdict {
        "passed" => 0,
        "failed" => 1,
        _ => 2,
    };
    (rank, verdict.to_string())
}

/// Task ids in their natural order (`HumanEval/2` before `HumanEval/10`).
pub(crate) fn task_order(id: &str) -> (String, u64, String) {
    let (head, tail) = id.rsplit_once('/').unwrap_or(("", id));
    match tail.parse::<u64>() {
        Ok(n) => (head.to_string(), n, String::new()),
        Err(_) => (head.to_string(), u64::MAX, tail.to_string()),
    }
}

/// One bar of a bar chart: its label, value and colour.
struct Bar {
    label: String,
    value: f64,
    color: RGBColor,
}

/// A bar chart of counts (the value axis in integers); labels turned upright when there are many.
fn bar_chart(title: &str, y_desc: &str, bars: &[Bar]) -> anyhow::Result<String> {
    let chart = svg(|root| {
        let top = (bars.iter().map(|b| b.value).fold(1.0, f64::max) * 1.1).ceil();
        let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        let n = bars.len().max(1) as i32;
        let upright = bars.len() > 8 || labels.iter().any(|l| l.len() > 10);
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(if upright { 90 } else { 40 })
            .y_label_area_size(60)
            // 0..=last makes last+1 segments: one a bar (a lone bar keeps an empty neighbour).
            .build_cartesian_2d((0..(n - 1).max(1)).into_segmented(), 0f64..top)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let label_style = if upright {
            ("sans-serif", 11)
                .into_font()
                .transform(FontTransform::Rotate90)
        } else {
            ("sans-serif", 13).into_font()
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y_desc)
            .x_labels(bars.len().min(40))
            .x_label_style(label_style)
            .y_label_formatter(&|v| integer_label(*v))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    labels.get(*i as usize).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, bar)| {
                let i = i as i32;
                Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), bar.value),
                    ],
                    bar.color.mix(0.85).filled(),
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    })?;
    Ok(anchor_upright_labels(chart))
}

/// Upright axis labels start at their tick and read downwards. plotters centres every axis label
/// on its tick (the mesh sets the anchor), which puts half of an upright label inside the plot.
fn anchor_upright_labels(svg: String) -> String {
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg.as_str();
    while let Some(start) = rest.find("<text ") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| start + e + 1);
        let tag = &rest[start..end];
        if tag.contains("transform=\"rotate(90,") {
            out.push_str(
                &tag.replace("text-anchor=\"middle\"", "text-anchor=\"start\"")
                    .replace("dy=\"0.76em\"", "dy=\"0.35em\""),
            );
        } else {
            out.push_str(tag);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// pass@1 at each call budget, e.g. `1: 0.537, 2: 0.549, …`.
fn by_call(summary: &Summary) -> String {
    let points: Vec<String> = summary
        .pass_at_1_by_call
        .iter()
        .enumerate()
        .map(|(k, p)| format!("{}: {p:.3}", k + 1))
        .collect();
    if points.is_empty() {
        "not recorded".into()
    } else {
        points.join(", ")
    }
}

/// `s` safe as HTML text.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes `report.md`, `report.html` and the charts' SVG files into the run directory.
pub fn write(run: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (dir, spec) = RunDir::open(run)?;
    let results: Vec<TaskResult> = dir.results()?;
    // A run in progress (or killed) has results before its summary: sum them up as they are.
    let summary = match dir.summary() {
        Some(summary) => summary,
        None if results.is_empty() => {
            anyhow::bail!(
                "{}: no task has finished yet, so there is nothing to report",
                run.display()
            )
        }
        None => Summary::from_results(&spec, &results, agent_core::run::RunStatus::InProgress, 0),
    };
    render(run, &summary, &results, Vec::new(), &[run.to_path_buf()])
}

/// Merges the shard directories `shards` of one run (refusing directories of other runs or
/// configurations) and writes the merged `summary.json`, `results.jsonl` and report into
/// `out` (default: `RUN_ID-merged` beside the first shard).
pub fn write_merged(shards: &[PathBuf], out: Option<&Path>) -> anyhow::Result<(PathBuf, PathBuf)> {
    let merged = crate::shards::merge(shards)?;
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| {
        shards[0]
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("{}-merged", merged.spec.run_id))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    tools::fsio::write_atomic(
        &out.join("summary.json"),
        serde_json::to_string_pretty(&merged.summary)?.as_bytes(),
    )?;
    let mut lines = String::new();
    for r in &merged.results {
        lines.push_str(&serde_json::to_string(r)?);
        lines.push('\n');
    }
    tools::fsio::write_atomic(&out.join("results.jsonl"), lines.as_bytes())?;
    let (given, count) = &merged.shards;
    let given: Vec<String> = given.iter().map(|i| i.to_string()).collect();
    let row = (
        "shards",
        format!("{} of {count} ({})", given.len(), given.join(", ")),
    );
    render(&out, &merged.summary, &merged.results, vec![row], shards)
}

/// The search trees (beyond a root) of `results`' tasks in the run directories `dirs`, as
/// (task, SVG) pairs; each is also written to `out/trees/ID.svg`.
fn trees(
    out: &Path,
    results: &[TaskResult],
    dirs: &[PathBuf],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    for r in results {
        for dir in dirs {
            let file = agent_core::run::checkpoint_file(dir, &r.task_id);
            if let Some(t) = crate::tree::load_file(&file)? {
                // A task that stopped at its root has no search to show.
                if t.tree.len() > 1 {
                    found.push((r.task_id.clone(), t.tree.to_svg(t.submitted)));
                }
                break;
            }
        }
    }
    if !found.is_empty() {
        std::fs::create_dir_all(out.join("trees"))?;
        for (task, svg) in &found {
            let name = agent_core::run::task_file_stem(task);
            std::fs::write(out.join("trees").join(format!("{name}.svg")), svg)?;
        }
    }
    Ok(found)
}

/// Writes the report of `summary` and `results` into `out`, with `extra` rows in its table.
fn render(
    out: &Path,
    summary: &Summary,
    results: &[TaskResult],
    extra: Vec<(&str, String)>,
    run_dirs: &[PathBuf],
) -> anyhow::Result<(PathBuf, PathBuf)> {
    register_font()?;
    let trees = trees(out, results, run_dirs)?;
    let run = out;
    let pass = pass_chart(&summary.pass_at_1_by_trial)?;
    let mut ordered: Vec<&TaskResult> = results.iter().collect();
    ordered.sort_by_key(|r| task_order(&r.task_id));
    let per_task: Vec<Bar> = ordered
        .iter()
        .map(|r| Bar {
            label: r.task_id.clone(),
            value: r.usage.total_tokens() as f64,
            color: verdict_color(if r.passed { "passed" } else { "failed" }),
        })
        .collect();
    let tokens = bar_chart("tokens per task (green: passed)", "tokens", &per_task)?;
    let mut verdicts: Vec<(&String, &usize)> = summary.verdicts.iter().collect();
    verdicts.sort_by_key(|(k, _)| verdict_rank(k));
    let verdicts: Vec<Bar> = verdicts
        .into_iter()
        .map(|(k, v)| Bar {
            label: k.clone(),
            value: *v as f64,
            color: verdict_color(k),
        })
        .collect();
    let verdict_chart = bar_chart("submissions by verdict", "tasks", &verdicts)?;
    for (name, body) in [
        ("pass_by_trial.svg", &pass),
        ("tokens.svg", &tokens),
        ("verdicts.svg", &verdict_chart),
    ] {
        std::fs::write(run.join(name), body)?;
    }

    let by_trial: Vec<String> = summary
        .pass_at_1_by_trial
        .iter()
        .enumerate()
        .map(|(i, p)| format!("trial {}: {:.3}", i + 1, p))
        .collect();
    let rows = [
        ("run", summary.run_id.clone()),
        ("suite", summary.suite.clone()),
        (
            "strategy",
            format!("{} (up to {} attempts)", summary.strategy, summary.trials),
        ),
        ("model", summary.model.clone()),
        ("status", format!("{:?}", summary.status)),
        (
            "tasks",
            format!("{} of {}", summary.tasks_done, summary.tasks_total),
        ),
        (
            "pass@1",
            format!("{:.3} ({} passed)", summary.pass_at_1, summary.passed),
        ),
        ("pass@1 by attempt", by_trial.join(", ")),
        (
            "model calls",
            format!(
                "{:.2} per task (budget {})",
                summary.mean_calls, summary.budget_calls
            ),
        ),
        ("pass@1 by call budget", by_call(summary)),
        (
            "any candidate passed",
            format!(
                "{} tasks (generation; {} submissions passed: selection)",
                summary.any_passed, summary.passed
            ),
        ),
        (
            "tokens",
            format!(
                "{} prompt + {} completion ({} calls, {} cached)",
                summary.usage.prompt_tokens,
                summary.usage.completion_tokens,
                summary.usage.calls,
                summary.usage.cached_calls
            ),
        ),
        ("cost", format!("${:.4}", summary.usage.cost_usd)),
        (
            "wall time",
            format!("{:.1} min", summary.wall_ms as f64 / 60_000.0),
        ),
    ];
    let mut rows: Vec<(&str, String)> = rows.into_iter().chain(extra).collect();
    for e in &summary.endpoints {
        rows.push((
            "model endpoint",
            format!(
                "{}: {} requests, {} errors, {} completion tokens, busy {:.0}% of the session, \
                 {:.1} requests in flight on average",
                e.base_url,
                e.requests,
                e.errors,
                e.completion_tokens,
                100.0 * e.busy_fraction,
                e.mean_in_flight
            ),
        ));
    }
    let failed: Vec<&TaskResult> = results.iter().filter(|r| !r.passed).collect();

    let mut md = format!("# Run {}\n\n| | |\n|---|---|\n", summary.run_id);
    for (k, v) in &rows {
        md.push_str(&format!("| {k} | {v} |\n"));
    }
    md.push_str("\n![pass@1 by trial](pass_by_trial.svg)\n![tokens per task](tokens.svg)\n![submissions by verdict](verdicts.svg)\n\n## Not passed\n\n");
    if failed.is_empty() {
        md.push_str("None: every task passed.\n");
    } else {
        md.push_str("| task | verdict | trials |\n|---|---|---|\n");
    }
    for r in &failed {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            r.task_id,
            r.error
                .as_deref()
                .map(|e| format!("error: {e}"))
                .unwrap_or(r.verdict.clone()),
            r.trials_used
        ));
    }

    let stories = story::Stories::read(run_dirs);
    let task_rows = tasks::rows(&ordered, &stories);
    md.push_str(&tasks::markdown(&task_rows, &stories));

    let in_progress = summary.status == agent_core::run::RunStatus::InProgress;
    let refresh = if in_progress {
        format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">")
    } else {
        String::new()
    };
    let mut html = String::from("<!doctype html><html><head><meta charset=\"utf-8\">");
    html.push_str(&refresh);
    html.push_str("<title>mneme run report</title><style>body{font-family:sans-serif;max-width:1180px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}.live{background:#fff4d6;padding:6px 10px}");
    html.push_str(tasks::STYLE);
    html.push_str("</style></head><body>");
    html.push_str(&format!("<h1>Run {}</h1>", escape(&summary.run_id)));
    if in_progress {
        html.push_str(&format!(
            "<p class=\"live\">In progress (or stopped without a word): {} of {} tasks finished when this page was written; it reloads every {REFRESH_SECS} s while `mneme report --watch` rewrites it.</p>",
            summary.tasks_done, summary.tasks_total
        ));
    }
    html.push_str("<table>");
    for (k, v) in &rows {
        html.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        ));
    }
    html.push_str("</table><div class=\"charts\">");
    for chart in [&pass, &tokens, &verdict_chart] {
        html.push_str(chart);
    }
    html.push_str("</div>");
    html.push_str(&tasks::html(&task_rows, &stories)?);
    if !trees.is_empty() {
        html.push_str("<h2>Search trees</h2><p>Node = attempt (its number), colour = internal pass fraction, thick ring and edges = the submitted path, dashed = a duplicate (charged, not run).</p>");
        for (task, svg) in &trees {
            html.push_str(&format!(
                "<details><summary>{}</summary>{svg}</details>",
                escape(task)
            ));
        }
        md.push_str("\n## Search trees\n\n");
        for (task, _) in &trees {
            let name = agent_core::run::task_file_stem(task);
            md.push_str(&format!("- [{task}](trees/{name}.svg)\n"));
        }
    }
    if let Some((md_part, html_part)) = crate::explore_report::section(out, run_dirs, &stories)? {
        md.push_str(&md_part);
        html.push_str(&html_part);
    }
    html.push_str("</body></html>\n");
    let (md_path, html_path) = (run.join("report.md"), run.join("report.html"));
    std::fs::write(&md_path, md)?;
    std::fs::write(&html_path, html)?;
    Ok((md_path, html_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text labels of an SVG chart.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                Some(
                    t.split_once('>')?
                        .1
                        .split_once("</text>")?
                        .0
                        .trim()
                        .to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn the_trial_axis_runs_from_one_to_the_last_trial() {
        register_font().unwrap();
        let labels = texts(&pass_chart(&[0.5, 0.6, 0.7]).unwrap());
        for k in ["1", "2", "3"] {
            assert!(labels.iter().any(|l| l == k), "{labels:?}");
        }
        assert!(!labels.iter().any(|l| l == "0" || l == "4"), "{labels:?}");
    }

    #[test]
    fn verdicts_have_their_colours_and_counts_are_integers() {
        register_font().unwrap();
        let bars = |verdicts: &[(&str, f64)]| -> Vec<Bar> {
            verdicts
                .iter()
                .map(|(v, n)| Bar {
                    label: v.to_string(),
                    value: *n,
                    color: verdict_color(v),
                })
                .collect()
        };
        let all_passed = bar_chart("v", "tasks", &bars(&[("passed", 5.0)])).unwrap();
        assert!(all_passed.contains("#009E73") && !all_passed.contains("#D55E00"));
        let mixed = bar_chart("v", "tasks", &bars(&[("passed", 1200.0), ("failed", 3.0)])).unwrap();
        assert!(mixed.contains("#D55E00"));
        let labels = texts(&mixed);
        assert!(!labels.iter().any(|l| l.contains(".0")), "{labels:?}");
        assert_ne!(verdict_color("timeout"), verdict_color("failed"));
        assert_ne!(verdict_color("error"), verdict_color("timeout"));
    }

    #[test]
    fn upright_task_labels_start_at_their_tick() {
        register_font().unwrap();
        let bars: Vec<Bar> = (0..12)
            .map(|i| Bar {
                label: format!("HumanEval/{i}"),
                value: 100.0 + i as f64,
                color: verdict_color("passed"),
            })
            .collect();
        let chart = bar_chart("tokens per task", "tokens", &bars).unwrap();
        let upright: Vec<&str> = chart
            .split("<text ")
            .filter(|t| t.contains("rotate(90,"))
            .collect();
        assert_eq!(upright.len(), 12, "one label per task");
        assert!(upright.iter().all(|t| t.contains("text-anchor=\"start\"")));
    }

    #[test]
    fn tasks_sort_in_their_natural_order() {
        let mut ids = vec![
            "HumanEval/10",
            "HumanEval/2",
            "HumanEval/1",
            "toy/b",
            "toy/a",
        ];
        ids.sort_by_key(|id| task_order(id));
        assert_eq!(
            ids,
            [
                "HumanEval/1",
                "HumanEval/2",
                "HumanEval/10",
                "toy/a",
                "toy/b"
            ]
        );
    }
}
