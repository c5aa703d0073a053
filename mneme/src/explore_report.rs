//! The report's section for lifelong-learning sessions (`voyager`): unique achievements against
//! iterations (Voyager's main figure), the milestones of the tech tree and when each was first
//! reached, and the skill library the session wrote (each skill's code in `skills/`).

use crate::report::escape;
use crate::report::story::Stories;
use plotters::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// What the events of one run say about its sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    /// Per session task: (iteration, unique achievements so far), in order.
    pub curves: BTreeMap<String, Vec<(u32, usize)>>,
    /// Per session task: achievement → (iteration, episode) it was first unlocked.
    pub milestones: BTreeMap<String, BTreeMap<String, (u32, u32)>>,
    /// Skills written: (task, iteration, name, version, outcome, description, code).
    pub skills: Vec<SkillRow>,
}

/// One skill the sessions wrote.
#[derive(Debug, Clone)]
pub struct SkillRow {
    /// The session.
    pub task_id: String,
    /// The iteration that wrote it.
    pub iteration: u64,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: u64,
    /// `new`, `new_version`, `unchanged`, `refused: …`.
    pub outcome: String,
    /// Its description.
    pub description: String,
    /// Its code.
    pub code: String,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Reads the sessions from a run's events, as the report read them (by task, in task order;
/// each task's events oldest first).
pub fn read(stories: &Stories) -> Sessions {
    let mut s = Sessions::default();
    let mut tasks: Vec<&String> = stories.by_task.keys().collect();
    tasks.sort();
    for events in tasks.into_iter().map(|t| &stories.by_task[t]) {
        for e in events {
            let task = text(&e["task_id"]);
            match e["type"].as_str() {
                Some("iteration") => {
                    let it = e["iteration"].as_u64().unwrap_or(0) as u32;
                    let episode = e["episode"].as_u64().unwrap_or(0) as u32;
                    let unique = e["achievements"].as_array().map_or(0, Vec::len);
                    s.curves.entry(task.clone()).or_default().push((it, unique));
                    let firsts = s.milestones.entry(task).or_default();
                    for a in e["new_achievements"].as_array().into_iter().flatten() {
                        firsts.entry(text(a)).or_insert((it, episode));
                    }
                }
                Some("skill_write") => s.skills.push(SkillRow {
                    task_id: task,
                    iteration: e["iteration"].as_u64().unwrap_or(0),
                    name: text(&e["name"]),
                    version: e["version"].as_u64().unwrap_or(0),
                    outcome: text(&e["outcome"]),
                    description: text(&e["description"]),
                    code: text(&e["code"]),
                }),
                _ => {}
            }
        }
    }
    for curve in s.curves.values_mut() {
        curve.sort();
        curve.dedup_by_key(|p| p.0);
    }
    s
}

/// Unique achievements against iterations, one line per session.
fn curve_chart(curves: &BTreeMap<String, Vec<(u32, usize)>>) -> anyhow::Result<String> {
    let last = curves
        .values()
        .flatten()
        .map(|p| p.0)
        .max()
        .unwrap_or(1)
        .max(1);
    let top = curves
        .values()
        .flatten()
        .map(|p| p.1)
        .max()
        .unwrap_or(1)
        .max(1) as u32;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (560, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("unique achievements by iteration", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(40)
            .build_cartesian_2d(0u32..last + 1, 0u32..top + 1)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .y_desc("unique achievements")
            .x_label_formatter(&|v| v.to_string())
            .y_label_formatter(&|v| v.to_string())
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (i, (task, points)) in curves.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let line: Vec<(u32, u32)> = std::iter::once((0, 0))
                .chain(points.iter().map(|&(x, y)| (x, y as u32)))
                .collect();
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .label(task.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(out)
}

/// The section (markdown, HTML) for the sessions of `run_dirs` (whose events are `stories`), its
/// chart and each skill's code written into `out`; `None` when the run has no session.
pub fn section(
    out: &Path,
    run_dirs: &[std::path::PathBuf],
    stories: &Stories,
) -> anyhow::Result<Option<(String, String)>> {
    let s = read(stories);
    if s.curves.is_empty() {
        return Ok(None);
    }
    let chart = curve_chart(&s.curves)?;
    std::fs::write(out.join("achievements.svg"), &chart)?;
    let mut accounts = Vec::new();
    for dir in run_dirs {
        accounts.extend(crate::explore::accounts(dir).unwrap_or_default());
    }
    let score = crate::explore::score_line(&crate::explore::episodes_of(&accounts))
        .unwrap_or_else(|| "no session has finished yet".into());
    let mut md = format!("\n## Exploration\n\nFinished sessions: {score}.\n\n![unique achievements by iteration](achievements.svg)\n\n### Milestones (first unlocked)\n\n| session | achievement | iteration | episode |\n|---|---|---|---|\n");
    let mut html = format!("<h2>Exploration</h2><p>Finished sessions: {}.</p>{chart}<h3>Milestones (first unlocked)</h3><table><tr><th>session</th><th>achievement</th><th>iteration</th><th>episode</th></tr>", escape(&score));
    for (task, firsts) in &s.milestones {
        let mut ordered: Vec<_> = firsts.iter().collect();
        ordered.sort_by_key(|(_, at)| **at);
        for (name, (it, ep)) in ordered {
            md.push_str(&format!("| {task} | {name} | {it} | {ep} |\n"));
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{it}</td><td>{ep}</td></tr>",
                escape(task),
                escape(name)
            ));
        }
    }
    html.push_str("</table>");
    let stored: Vec<&SkillRow> = s
        .skills
        .iter()
        .filter(|k| k.outcome == "new" || k.outcome == "new_version")
        .collect();
    md.push_str("\n### Skill library\n\n");
    html.push_str("<h3>Skill library</h3>");
    if stored.is_empty() {
        md.push_str("none stored\n");
        html.push_str("<p>none stored</p>");
        return Ok(Some((md, html)));
    }
    std::fs::create_dir_all(out.join("skills"))?;
    md.push_str("| skill | version | iteration | description |\n|---|---|---|---|\n");
    html.push_str(
        "<table><tr><th>skill</th><th>version</th><th>iteration</th><th>description</th></tr>",
    );
    for k in stored {
        let file = format!("skills/{}-v{}.py", k.name, k.version);
        std::fs::write(
            out.join(&file),
            format!("# {}\n{}\n", k.description, k.code),
        )?;
        md.push_str(&format!(
            "| [{}]({file}) | {} | {} | {} |\n",
            k.name,
            k.version,
            k.iteration,
            k.description.replace('|', "\\|")
        ));
        html.push_str(&format!(
            "<tr><td><a href=\"{file}\">{}</a></td><td>{}</td><td>{}</td><td><details><summary>{}</summary><pre>{}</pre></details></td></tr>",
            escape(&k.name),
            k.version,
            k.iteration,
            escape(&k.description),
            escape(&k.code)
        ));
    }
    html.push_str("</table>");
    Ok(Some((md, html)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_gives_its_curve_milestones_and_skills() {
        let dir = tempfile::tempdir().unwrap();
        let events = [
            r#"{"session":1,"type":"iteration","task_id":"s","iteration":1,"episode":0,"goal":"collect_wood","success":true,"rounds":1,"reason":"","new_achievements":["collect_wood"],"achievements":["collect_wood"],"skills":1,"tokens":5}"#,
            r#"{"session":1,"type":"skill_write","task_id":"s","iteration":1,"name":"get_wood","version":1,"outcome":"new","description":"Gets wood.","code":"def get_wood():\n    collect('wood')"}"#,
            r#"{"session":1,"type":"iteration","task_id":"s","iteration":2,"episode":1,"goal":"place_table","success":true,"rounds":2,"reason":"","new_achievements":["collect_wood","place_table"],"achievements":["collect_wood","place_table"],"skills":1,"tokens":9}"#,
            r#"{"session":1,"type":"iter"#,
        ];
        std::fs::write(dir.path().join("events.jsonl"), events.join("\n")).unwrap();
        let stories = Stories::read(&[dir.path().to_path_buf()]);
        let s = read(&stories);
        assert_eq!(s.curves["s"], vec![(1, 1), (2, 2)]);
        assert_eq!(
            s.milestones["s"]["collect_wood"],
            (1, 0),
            "the first time counts"
        );
        assert_eq!(s.milestones["s"]["place_table"], (2, 1));
        crate::report::register_font().unwrap();
        let (md, html) = section(dir.path(), &[dir.path().to_path_buf()], &stories)
            .unwrap()
            .unwrap();
        assert!(md.contains("[get_wood](skills/get_wood-v1.py)"), "{md}");
        assert!(
            html.contains("<svg") && html.contains("collect('wood')"),
            "{html}"
        );
        let code = std::fs::read_to_string(dir.path().join("skills/get_wood-v1.py")).unwrap();
        assert!(code.starts_with("# Gets wood.\ndef get_wood"));
        let empty = tempfile::tempdir().unwrap();
        let none = [empty.path().to_path_buf()];
        assert!(section(empty.path(), &none, &Stories::read(&none))
            .unwrap()
            .is_none());
    }
}
