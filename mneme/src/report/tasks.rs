//! The report's task list and stories: a table of every task to filter and sort, the story of
//! the task chosen (rendered on demand from its events, kept as inert JSON until then, so a
//! page of thousands of calls stays light), and the tasks a retry fixed or broke, with the
//! reflection that preceded the fix.

use super::escape;
use super::story::{fixing_reflection, fragment, script_json, Flip, Stories, TaskRow};
use agent_core::agent::TaskResult;

/// The page's script: filtering, sorting, and rendering a story when its task is chosen.
const SCRIPT: &str = include_str!("page.js");
/// The page's styles for the task list and stories.
pub const STYLE: &str = include_str!("page.css");

/// The columns of the task list after the task id: header, and whether it sorts as a number.
const COLUMNS: [(&str, bool); 7] = [
    ("verdict", false),
    ("retry", false),
    ("attempts", true),
    ("calls", true),
    ("tokens", true),
    ("model s", true),
    ("wall s", true),
];

/// The rows of `results` (in the order given) with their stories' facts.
pub fn rows<'a>(results: &[&'a TaskResult], stories: &Stories) -> Vec<TaskRow<'a>> {
    results
        .iter()
        .map(|r| TaskRow::new(r, stories.of(&r.task_id)))
        .collect()
}

/// The HTML of the task list, the story panel, the fixed and broken lists and the stories' data.
pub fn html(rows: &[TaskRow], stories: &Stories) -> anyhow::Result<String> {
    let mut html = String::from("<h2 id=\"task-list\">Tasks</h2>");
    if !stories.unreadable.is_empty() {
        html.push_str(&format!(
            "<p class=\"notice\">{} line(s) of the event log could not be read and are left out of the stories (first: {}).</p>",
            stories.unreadable.len(),
            escape(&stories.unreadable[0])
        ));
    }
    html.push_str(CONTROLS);
    html.push_str("<div class=\"tasks-view\"><div class=\"list\"><table id=\"tasks\"><thead><tr><th data-kind=\"num\">task</th>");
    let extra_columns: Vec<&str> = rows
        .iter()
        .find(|r| !r.extra.is_empty())
        .map(|r| r.extra.iter().map(|(name, _)| *name).collect())
        .unwrap_or_default();
    for (name, numeric) in COLUMNS
        .iter()
        .copied()
        .chain(extra_columns.iter().map(|n| (*n, true)))
    {
        let kind = if numeric { "num" } else { "text" };
        html.push_str(&format!("<th data-kind=\"{kind}\">{name}</th>"));
    }
    html.push_str("</tr></thead><tbody>");
    for (position, row) in rows.iter().enumerate() {
        html.push_str(&row_html(position, row, &extra_columns));
    }
    html.push_str("</tbody></table></div><div id=\"story\" class=\"story\"><p class=\"hint\">Choose a task to read its story: every attempt's prompt, reply, code, test feedback and reflection, in order.</p></div></div>");
    html.push_str(&flips_html(rows, stories, Flip::Fixed));
    html.push_str(&flips_html(rows, stories, Flip::Broken));
    html.push_str("<div id=\"stories\" hidden>");
    for row in rows {
        let id = &row.result.task_id;
        html.push_str(&format!(
            "<script type=\"application/json\" data-task=\"{}\">{}</script>",
            attr(id),
            script_json(stories.of(id))?
        ));
    }
    html.push_str(&format!("</div><script>{SCRIPT}</script>"));
    Ok(html)
}

/// The filter controls above the task list.
const CONTROLS: &str = "<div class=\"controls\"><input id=\"q\" type=\"search\" placeholder=\"task id contains…\"> <select id=\"show\"><option value=\"all\">all tasks</option><option value=\"passed\">passed</option><option value=\"failed\">not passed</option><option value=\"fixed\">fixed by a retry</option><option value=\"broken\">broken by a retry</option><option value=\"retried\">retried</option><option value=\"error\">ended by an error</option></select> <span id=\"shown\"></span> <span class=\"hint\">click a column to sort</span></div>";

fn row_html(position: usize, row: &TaskRow, extra_columns: &[&str]) -> String {
    let r = row.result;
    let verdict = r
        .error
        .as_ref()
        .map(|_| "error".to_string())
        .unwrap_or(r.verdict.clone());
    let retry = match row.flip {
        Flip::Fixed => "<span title=\"fixed by a retry\">fixed</span>",
        Flip::Broken => "<span title=\"broken by a retry\">broken</span>",
        Flip::Same => "",
    };
    let mut cells = vec![
        cell(
            &position.to_string(),
            &format!(
                "<a href=\"#task={}\">{}</a>",
                fragment(&r.task_id),
                escape(&r.task_id)
            ),
        ),
        cell(
            &verdict,
            &format!("<span class=\"v v-{0}\">{0}</span>", escape(&verdict)),
        ),
        cell(row.flip.name(), retry),
        number(r.trials_used as u64),
        number(r.calls as u64),
        number(r.usage.total_tokens()),
        seconds(row.latency_ms),
        seconds(r.wall_ms),
    ];
    for name in extra_columns {
        let value = row.extra.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        cells.push(number(value.unwrap_or(0)));
    }
    let why = r.error.as_deref().or(r.reason.as_deref()).unwrap_or("");
    format!(
        "<tr data-task=\"{}\" data-passed=\"{}\" data-flip=\"{}\" data-retried=\"{}\" data-error=\"{}\" data-why=\"{}\">{}</tr>",
        attr(&r.task_id),
        u8::from(r.passed),
        row.flip.name(),
        u8::from(r.trials_used > 1),
        u8::from(r.error.is_some()),
        attr(why),
        cells.concat()
    )
}

/// A cell that sorts by `key` and shows `inner` (HTML).
fn cell(key: &str, inner: &str) -> String {
    format!("<td data-v=\"{}\">{inner}</td>", attr(key))
}

fn number(n: u64) -> String {
    cell(&n.to_string(), &n.to_string())
}

fn seconds(ms: u64) -> String {
    cell(&ms.to_string(), &format!("{:.1}", ms as f64 / 1000.0))
}

/// `s` safe inside a double-quoted HTML attribute.
fn attr(s: &str) -> String {
    escape(s).replace('"', "&quot;")
}

/// The tasks a retry fixed (with the reflection written before the fix) or broke.
fn flips_html(rows: &[TaskRow], stories: &Stories, flip: Flip) -> String {
    let (title, id) = match flip {
        Flip::Fixed => ("Fixed by a retry", "fixed"),
        _ => ("Broken by a retry", "broken"),
    };
    let mut html = format!("<h2 id=\"{id}\">{title}</h2>");
    let flipped: Vec<&TaskRow> = rows.iter().filter(|r| r.flip == flip).collect();
    if flipped.is_empty() {
        html.push_str("<p>None.</p>");
        return html;
    }
    html.push_str("<ul class=\"flips\">");
    for row in flipped {
        let r = row.result;
        let link = format!(
            "<a href=\"#task={}\">{}</a>",
            fragment(&r.task_id),
            escape(&r.task_id)
        );
        let said = match (flip, fixing_reflection(r, stories.of(&r.task_id))) {
            (Flip::Fixed, Some(text)) => format!(
                ": the reflection before the fix said <q>{}</q>",
                escape(text)
            ),
            (Flip::Fixed, None) => ": no reflection was written before the fix".into(),
            _ => format!(": submitted {}", escape(&r.verdict)),
        };
        html.push_str(&format!("<li>{link}{said}</li>"));
    }
    html.push_str("</ul>");
    html
}

/// The markdown lists of tasks a retry fixed (with the reflection before the fix) or broke.
pub fn markdown(rows: &[TaskRow], stories: &Stories) -> String {
    let mut md = String::new();
    for (flip, title) in [
        (Flip::Fixed, "Fixed by a retry"),
        (Flip::Broken, "Broken by a retry"),
    ] {
        md.push_str(&format!("\n## {title}\n\n"));
        let flipped: Vec<&TaskRow> = rows.iter().filter(|r| r.flip == flip).collect();
        if flipped.is_empty() {
            md.push_str("None.\n");
        }
        for row in flipped {
            let r = row.result;
            match (flip, fixing_reflection(r, stories.of(&r.task_id))) {
                (Flip::Fixed, Some(text)) => md.push_str(&format!(
                    "- {}: the reflection before the fix said \"{}\"\n",
                    r.task_id,
                    text.replace('\n', " ")
                )),
                _ => md.push_str(&format!("- {} ({})\n", r.task_id, r.verdict)),
            }
        }
    }
    if !stories.unreadable.is_empty() {
        md.push_str(&format!(
            "\n{} line(s) of the event log could not be read (first: {}).\n",
            stories.unreadable.len(),
            stories.unreadable[0]
        ));
    }
    md
}
