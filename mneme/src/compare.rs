//! `mneme compare A B …`: runs of different strategies, models or settings side by side on the
//! tasks they share, the first as the baseline: pass@1 with the paired flips (tasks fixed and
//! broken against the baseline) and the exact McNemar p-value, model calls, tokens and wall
//! time, and pass@1 against the call budget and against tokens. An arm may join several run
//! directories with `+` (the shards of a split run, say: `base-A+base-B`).

use agent_core::agent::TaskResult;
use agent_core::run::RunDir;
use anyhow::Context;
use plotters::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One side of the comparison: its name and its tasks' results.
pub struct Arm {
    /// What the comparison calls it (its directories' names).
    pub name: String,
    /// The run directories it joins.
    pub dirs: Vec<PathBuf>,
    /// Results by task, in the runs' order.
    pub results: Vec<TaskResult>,
    /// For each result, the index in `dirs` of the directory it came from.
    pub origin: Vec<usize>,
    /// Wall time of its runs, summed.
    pub wall_ms: u64,
}

/// Reads an arm: `DIR` or `DIR+DIR+…`. A directory without results yet is an error naming it.
pub fn arm(spec: &str) -> anyhow::Result<Arm> {
    let dirs: Vec<PathBuf> = spec.split('+').map(PathBuf::from).collect();
    let (mut results, mut origin) = (Vec::new(), Vec::new());
    let mut wall_ms = 0;
    for (i, dir) in dirs.iter().enumerate() {
        let (run, _) = RunDir::open(dir).with_context(|| format!("opening {}", dir.display()))?;
        let found = run.results()?;
        origin.extend(std::iter::repeat_n(i, found.len()));
        results.extend(found);
        wall_ms += run.summary().map(|s| s.wall_ms).unwrap_or(0);
    }
    let name = dirs
        .iter()
        .map(|d| {
            d.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| d.display().to_string())
        })
        .collect::<Vec<_>>()
        .join("+");
    Ok(Arm {
        name,
        dirs,
        results,
        origin,
        wall_ms,
    })
}

impl Arm {
    /// The link, from the directory `out`, to the story of `task` in the report of the run
    /// directory that holds it.
    pub fn story_link(&self, out: &Path, task: &str) -> Option<String> {
        let i = self.results.iter().position(|r| r.task_id == task)?;
        let dir = &self.dirs[*self.origin.get(i)?];
        let page = relative(out, &dir.join("report.html"));
        Some(format!(
            "{}#task={}",
            page.display(),
            crate::report::story::fragment(task)
        ))
    }

    /// Writes the report of each of its directories whose report is missing or older than its
    /// results, so that the comparison's links lead to stories.
    pub fn ensure_reports(&self) -> anyhow::Result<()> {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        for dir in &self.dirs {
            let (page, results) = (dir.join("report.html"), dir.join("results.jsonl"));
            if modified(&page) < modified(&results) {
                crate::report::write(dir)?;
            }
        }
        Ok(())
    }
}

/// `to` as a path relative to the directory `from` (both made absolute first).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (from, to) = (
        std::path::absolute(from).unwrap_or_default(),
        std::path::absolute(to).unwrap_or_default(),
    );
    let (from, to): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for part in &to[common..] {
        path.push(part);
    }
    path
}

/// The exact two-sided McNemar p-value: a binomial test at ½ on the `b` + `c` discordant pairs.
pub fn mcnemar(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    let mut tail = 0.0;
    let mut choose = 1.0f64; // C(n, i), built up in floating point (n is at most a few thousand)
    for i in 0..=k {
        if i > 0 {
            choose = choose * (n - i + 1) as f64 / i as f64;
        }
        tail += choose;
    }
    (2.0 * tail / 2f64.powi(n as i32)).min(1.0)
}

/// A p-value as people read it: three decimals, or `< 0.001`.
fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// One arm against the baseline on the shared tasks.
pub struct Row {
    /// The arm.
    pub name: String,
    /// Tasks passed, of the shared ones.
    pub passed: usize,
    /// Shared tasks that pass here and failed in the baseline.
    pub fixed: Vec<String>,
    /// Shared tasks that failed here and passed in the baseline.
    pub broken: Vec<String>,
    /// Mean model calls per shared task.
    pub calls: f64,
    /// Mean tokens per shared task.
    pub tokens: f64,
    /// pass@1 over the shared tasks at each call budget k = 1, 2, …
    pub by_call: Vec<f64>,
    /// Mean tokens spent per shared task at each call budget.
    pub tokens_by_call: Vec<f64>,
}

fn find<'a>(arm: &'a Arm, task: &str) -> Option<&'a TaskResult> {
    arm.results.iter().find(|r| r.task_id == task)
}

/// The tasks every arm finished, in the baseline's order.
pub fn shared(arms: &[Arm]) -> Vec<String> {
    let sets: Vec<BTreeSet<&str>> = arms
        .iter()
        .map(|a| a.results.iter().map(|r| r.task_id.as_str()).collect())
        .collect();
    arms.first()
        .map(|base| {
            base.results
                .iter()
                .map(|r| r.task_id.clone())
                .filter(|t| sets.iter().all(|s| s.contains(t.as_str())))
                .collect()
        })
        .unwrap_or_default()
}

/// Each arm's row against the first.
pub fn rows(arms: &[Arm], tasks: &[String]) -> Vec<Row> {
    let n = tasks.len().max(1) as f64;
    let budget = arms
        .iter()
        .flat_map(|a| a.results.iter().map(|r| r.passed_by_call.len()))
        .max()
        .unwrap_or(0);
    arms.iter()
        .map(|arm| {
            let mine: Vec<&TaskResult> = tasks.iter().filter_map(|t| find(arm, t)).collect();
            let base: Vec<&TaskResult> = tasks.iter().filter_map(|t| find(&arms[0], t)).collect();
            let flips = |want: bool| -> Vec<String> {
                let mut ids: Vec<String> = mine
                    .iter()
                    .zip(&base)
                    .filter(|(m, b)| m.passed == want && b.passed != want)
                    .map(|(m, _)| m.task_id.clone())
                    .collect();
                ids.sort_by_key(|id| crate::report::task_order(id));
                ids
            };
            let at = |r: &TaskResult, k: usize| -> (bool, u64) {
                let passed = r.passed_by_call.get(k).or(r.passed_by_call.last());
                let tokens = r.tokens_by_call.get(k).or(r.tokens_by_call.last());
                (
                    passed.copied().unwrap_or(r.passed),
                    tokens.copied().unwrap_or(0),
                )
            };
            Row {
                name: arm.name.clone(),
                passed: mine.iter().filter(|r| r.passed).count(),
                fixed: flips(true),
                broken: flips(false),
                calls: mine.iter().map(|r| r.calls as f64).sum::<f64>() / n,
                tokens: mine
                    .iter()
                    .map(|r| r.usage.total_tokens() as f64)
                    .sum::<f64>()
                    / n,
                by_call: (0..budget)
                    .map(|k| mine.iter().filter(|r| at(r, k).0).count() as f64 / n)
                    .collect(),
                tokens_by_call: (0..budget)
                    .map(|k| mine.iter().map(|r| at(r, k).1 as f64).sum::<f64>() / n)
                    .collect(),
            }
        })
        .collect()
}

/// Okabe–Ito colours for the arms' lines, the baseline black.
const LINE_COLORS: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xF0, 0xE4, 0x42),
];

/// pass@1 of each arm against `x` of each budget point (calls or mean tokens).
fn line_chart(
    title: &str,
    x_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> anyhow::Result<String> {
    crate::report::register_font()?;
    let x_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold(1.0, f64::max);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (560, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..x_max * 1.05, 0f64..1f64)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("pass@1")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = LINE_COLORS[i % LINE_COLORS.len()];
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(out)
}

/// The comparison as markdown (the tables) and self-contained HTML (tables and two charts).
/// Links from the page lead (relative to `out`, where it is written) to each task's story.
pub fn render(arms: &[Arm], out: &Path) -> anyhow::Result<(String, String)> {
    let tasks = shared(arms);
    anyhow::ensure!(
        !tasks.is_empty(),
        "the runs have no finished task in common ({})",
        arms.iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = rows(arms, &tasks);
    let n = tasks.len();
    let cells = table_cells(&rows, arms, n);
    let mut md = format!(
        "# Comparison on {n} shared tasks (baseline: {})\n\n| {} |\n|{}\n",
        rows[0].name,
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for row in &cells {
        md.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    md.push_str("\n## Paired flips against the baseline\n\n");
    for row in rows.iter().skip(1) {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        md.push_str(&format!(
            "- **{}**: fixed {}; broken {}\n",
            row.name,
            list(&row.fixed),
            list(&row.broken)
        ));
    }
    let by_calls: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                r.by_call
                    .iter()
                    .enumerate()
                    .map(|(k, p)| (k as f64 + 1.0, *p))
                    .collect(),
            )
        })
        .collect();
    let by_tokens: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                r.tokens_by_call
                    .iter()
                    .copied()
                    .zip(r.by_call.iter().copied())
                    .collect(),
            )
        })
        .collect();
    let calls_chart = line_chart(
        "pass@1 against the call budget",
        "model calls per task",
        &by_calls,
    )?;
    let tokens_chart = line_chart("pass@1 against tokens", "mean tokens per task", &by_tokens)?;
    let story = |arm: usize, task: &str| arms[arm].story_link(out, task);
    let html = html_page(&cells, &rows, &[calls_chart, tokens_chart], &story);
    Ok((md, html))
}

/// The columns of the comparison's table.
const HEADERS: [&str; 8] = [
    "run",
    "pass@1",
    "fixed",
    "broken",
    "McNemar p",
    "calls / task",
    "tokens / task",
    "wall time",
];

/// The table's cells, a row per arm.
fn table_cells(rows: &[Row], arms: &[Arm], n: usize) -> Vec<Vec<String>> {
    rows.iter()
        .zip(arms)
        .enumerate()
        .map(|(i, (row, arm))| {
            vec![
                row.name.clone(),
                format!("{:.3} ({})", row.passed as f64 / n as f64, row.passed),
                row.fixed.len().to_string(),
                row.broken.len().to_string(),
                if i == 0 {
                    "–".into()
                } else {
                    p_value(mcnemar(row.fixed.len(), row.broken.len()))
                },
                format!("{:.2}", row.calls),
                format!("{:.0}", row.tokens),
                format!("{:.1} min", arm.wall_ms as f64 / 60_000.0),
            ]
        })
        .collect()
}

/// A task's id linked to its story in arm `arm` and (small) in the baseline's.
fn flip_link(story: &dyn Fn(usize, &str) -> Option<String>, arm: usize, task: &str) -> String {
    use crate::report::escape;
    let link = |i: usize, text: &str| match story(i, task) {
        Some(href) => format!("<a href=\"{}\">{}</a>", escape(&href), escape(text)),
        None => escape(text),
    };
    format!(
        "{} <small>({})</small>",
        link(arm, task),
        link(0, "baseline")
    )
}

fn html_page(
    cells: &[Vec<String>],
    rows: &[Row],
    charts: &[String],
    story: &dyn Fn(usize, &str) -> Option<String>,
) -> String {
    use crate::report::escape;
    let mut html = String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>mneme comparison</title><style>body{font-family:sans-serif;max-width:1180px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}.fixed{color:#009E73}.broken{color:#D55E00}</style></head><body>");
    html.push_str(&format!(
        "<h1>Comparison (baseline: {})</h1><table id=\"arms\"><tr>",
        escape(&rows[0].name)
    ));
    for header in HEADERS {
        html.push_str(&format!("<th>{}</th>", escape(header)));
    }
    html.push_str("</tr>");
    for row in cells {
        html.push_str("<tr>");
        for cell in row {
            html.push_str(&format!("<td>{}</td>", escape(cell)));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table><h2>Paired flips against the baseline</h2>");
    for (i, row) in rows.iter().enumerate().skip(1) {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                let links: Vec<String> = v.iter().map(|t| flip_link(story, i, t)).collect();
                links.join(", ")
            }
        };
        html.push_str(&format!(
            "<p class=\"flips\"><b>{}</b>: <span class=\"fixed\">fixed {}</span>; <span class=\"broken\">broken {}</span></p>",
            escape(&row.name),
            list(&row.fixed),
            list(&row.broken)
        ));
    }
    html.push_str("<div class=\"charts\">");
    for chart in charts {
        html.push_str(chart);
    }
    html.push_str("</div></body></html>\n");
    html
}

/// `mneme compare ARM…`: writes `compare.md` and `compare.html` into `out` and prints the table.
pub fn write(arm_specs: &[String], out: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    anyhow::ensure!(arm_specs.len() >= 2, "compare needs two runs or more");
    let arms = arm_specs
        .iter()
        .map(|s| arm(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for arm in &arms {
        arm.ensure_reports()?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let (md, html) = render(&arms, out)?;
    let (md_path, html_path) = (out.join("compare.md"), out.join("compare.html"));
    std::fs::write(&md_path, &md)?;
    std::fs::write(&html_path, html)?;
    print!("{md}");
    Ok((md_path, html_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, passed: bool, calls: u32) -> TaskResult {
        let mut r: TaskResult = serde_json::from_value(serde_json::json!({
            "task_id": id, "passed": passed, "passed_by_trial": [passed], "trials_used": 1,
            "verdict": if passed { "passed" } else { "failed" }, "usage": agent_core::llm::UsageTotals::default(), "wall_ms": 0,
            "calls": 0, "passed_by_call": [], "tokens_by_call": [], "candidates": 1,
            "any_passed": passed,
        }))
        .unwrap();
        r.calls = calls;
        r.passed_by_call = vec![passed; calls as usize];
        r.tokens_by_call = (1..=calls as u64).map(|k| 100 * k).collect();
        r
    }

    fn arm_of(name: &str, results: Vec<TaskResult>) -> Arm {
        Arm {
            name: name.into(),
            dirs: vec![PathBuf::from("/runs").join(name)],
            origin: vec![0; results.len()],
            results,
            wall_ms: 60_000,
        }
    }

    #[test]
    fn mcnemar_matches_the_binomial_tail() {
        assert_eq!(mcnemar(0, 0), 1.0);
        assert!((mcnemar(0, 5) - 0.0625).abs() < 1e-12);
        assert!((mcnemar(3, 9) - 0.146_0).abs() < 1e-3);
        assert_eq!(mcnemar(4, 4), 1.0);
    }

    #[test]
    fn flips_are_paired_on_the_shared_tasks_only() {
        let base = arm_of(
            "base",
            vec![
                result("t/1", true, 1),
                result("t/2", false, 4),
                result("t/3", true, 1),
            ],
        );
        let other = arm_of(
            "other",
            vec![
                result("t/2", true, 2),
                result("t/3", false, 3),
                result("t/4", true, 1),
            ],
        );
        let arms = [base, other];
        let tasks = shared(&arms);
        assert_eq!(tasks, ["t/2", "t/3"]);
        let rows = rows(&arms, &tasks);
        assert_eq!(
            (rows[1].fixed.clone(), rows[1].broken.clone()),
            (vec!["t/2".to_string()], vec!["t/3".to_string()])
        );
        assert_eq!(rows[1].by_call.len(), 4, "up to the largest budget spent");
        let out = Path::new("/runs/cmp");
        let (md, html) = render(&arms, out).unwrap();
        assert!(md.contains("| other | 0.500 (1) | 1 | 1 | 1.000 |"), "{md}");
        assert!(
            html.contains("fixed <a href=\"../other/report.html#task=t%2F2\">t/2</a> <small>(<a href=\"../base/report.html#task=t%2F2\">baseline</a>)</small>")
                && html.contains("broken <a href=\"../other/report.html#task=t%2F3\">t/3</a>")
                && html.matches("<svg").count() == 2,
            "{html}"
        );
        let none = arm_of("none", vec![result("x/1", true, 1)]);
        assert!(render(&[arms[0].clone_for_test(), none], out)
            .unwrap_err()
            .to_string()
            .contains("no finished task in common"));
    }

    impl Arm {
        fn clone_for_test(&self) -> Arm {
            Arm {
                name: self.name.clone(),
                dirs: self.dirs.clone(),
                results: self.results.clone(),
                origin: self.origin.clone(),
                wall_ms: self.wall_ms,
            }
        }
    }
}
