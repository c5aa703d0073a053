//! `mneme report RUN_DIR`: a markdown summary and a self-contained HTML page with
//! charts (pass@1 by trial, tokens per task, submissions by verdict), drawn as SVG
//! with `plotters`.

use agent_core::agent::TaskResult;
use agent_core::run::{RunDir, Summary};
use anyhow::Context;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

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

fn pass_chart(s: &Summary) -> anyhow::Result<String> {
    svg(|root| {
        let n = s.pass_at_1_by_trial.len().max(1) as i32;
        let mut chart = ChartBuilder::on(root)
            .caption("pass@1 by trial", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0i32..n + 1, 0f64..1f64)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("trial")
            .y_desc("pass@1")
            .x_labels(n as usize + 2)
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let points: Vec<(i32, f64)> = s
            .pass_at_1_by_trial
            .iter()
            .enumerate()
            .map(|(i, p)| (i as i32 + 1, *p))
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

fn bar_chart(
    title: &str,
    y_desc: &str,
    bars: &[(String, f64)],
    color: RGBColor,
) -> anyhow::Result<String> {
    svg(|root| {
        let top = bars.iter().map(|b| b.1).fold(1.0, f64::max) * 1.1;
        let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        let n = bars.len().max(1) as i32;
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n).into_segmented(), 0f64..top)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y_desc)
            .x_labels(bars.len().min(20))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    labels.get(*i as usize).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                let i = i as i32;
                Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), *v),
                    ],
                    color.mix(0.8).filled(),
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    })
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
    let (dir, _spec) = RunDir::open(run)?;
    let summary = dir
        .summary()
        .with_context(|| format!("{} has no summary.json yet", run.display()))?;
    let results: Vec<TaskResult> = dir.results()?;
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
    let pass = pass_chart(summary)?;
    let per_task: Vec<(String, f64)> = results
        .iter()
        .map(|r| {
            (
                r.task_id
                    .rsplit('/')
                    .next()
                    .unwrap_or(&r.task_id)
                    .to_string(),
                r.usage.total_tokens() as f64,
            )
        })
        .collect();
    let tokens = bar_chart("tokens per task", "tokens", &per_task, GREEN)?;
    let verdicts: Vec<(String, f64)> = summary
        .verdicts
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64))
        .collect();
    let verdict_chart = bar_chart("submissions by verdict", "tasks", &verdicts, RED)?;
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
    md.push_str("\n![pass@1 by trial](pass_by_trial.svg)\n![tokens per task](tokens.svg)\n![submissions by verdict](verdicts.svg)\n\n## Not passed\n\n| task | verdict | trials |\n|---|---|---|\n");
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

    let mut html = String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>mneme run report</title><style>body{font-family:sans-serif;max-width:1180px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>");
    html.push_str(&format!("<h1>Run {}</h1><table>", escape(&summary.run_id)));
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
    html.push_str(
        "</div><h2>Not passed</h2><table><tr><th>task</th><th>verdict</th><th>trials</th></tr>",
    );
    for r in &failed {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.task_id),
            escape(&r.verdict),
            r.trials_used
        ));
    }
    html.push_str("</table>");
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
    if let Some((md_part, html_part)) = crate::explore_report::section(out, run_dirs)? {
        md.push_str(&md_part);
        html.push_str(&html_part);
    }
    html.push_str("</body></html>\n");
    let (md_path, html_path) = (run.join("report.md"), run.join("report.html"));
    std::fs::write(&md_path, md)?;
    std::fs::write(&html_path, html)?;
    Ok((md_path, html_path))
}
