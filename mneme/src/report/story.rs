//! Every task's story, for the report: the task's events in the order they happened (prompts as
//! sent, replies, code run, internal-test feedback, reflections, memory retrieved, verdicts),
//! and the facts the task list filters and sorts by (fixed or broken by a retry, calls, tokens,
//! latency, a strategy's own counts).
//!
//! Events are read leniently: a line of an older format is kept as it was written (the page
//! shows it as JSON), and a line that is not JSON at all is counted and named, never fatal.

use agent_core::agent::TaskResult;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The events of a run's tasks, by task, in the order they were written.
#[derive(Default)]
pub struct Stories {
    /// Each task's events (JSON objects as written), oldest first.
    pub by_task: HashMap<String, Vec<Value>>,
    /// Lines that could not be read, each as `FILE: line N: why`.
    pub unreadable: Vec<String>,
}

impl Stories {
    /// Reads `events.jsonl` of each run directory in `dirs` (the shards of one run, say).
    pub fn read(dirs: &[PathBuf]) -> Self {
        let mut stories = Stories::default();
        for dir in dirs {
            stories.read_file(&dir.join("events.jsonl"));
        }
        stories
    }

    fn read_file(&mut self, path: &Path) {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                self.unreadable.push(format!("{}: {e}", path.display()));
                return;
            }
        };
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let event: Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    let why = format!("{}: line {}: {e}", path.display(), i + 1);
                    self.unreadable.push(why);
                    continue;
                }
            };
            match event.get("task_id").and_then(Value::as_str) {
                Some(task) => self
                    .by_task
                    .entry(task.to_string())
                    .or_default()
                    .push(event),
                None => self.unreadable.push(format!(
                    "{}: line {}: an event without a task_id",
                    path.display(),
                    i + 1
                )),
            }
        }
    }

    /// The events of `task` (none when the log has no line of it).
    pub fn of(&self, task: &str) -> &[Value] {
        self.by_task.get(task).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// How retrying changed a task's outcome by the hidden tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flip {
    /// The first attempt failed and the submission passed.
    Fixed,
    /// The first attempt passed and the submission failed.
    Broken,
    /// Retrying changed nothing (or there was no retry).
    Same,
}

impl Flip {
    /// The flip of `r`, from its pass-by-trial record.
    pub fn of(r: &TaskResult) -> Self {
        match r.passed_by_trial.first() {
            Some(false) if r.passed => Flip::Fixed,
            Some(true) if !r.passed => Flip::Broken,
            _ => Flip::Same,
        }
    }
    /// The name the page filters by.
    pub fn name(self) -> &'static str {
        match self {
            Flip::Fixed => "fixed",
            Flip::Broken => "broken",
            Flip::Same => "",
        }
    }
}

/// One row of the task list.
pub struct TaskRow<'a> {
    /// The result.
    pub result: &'a TaskResult,
    /// How retrying changed it.
    pub flip: Flip,
    /// Model latency summed over its calls, ms.
    pub latency_ms: u64,
    /// A strategy's own counts (`iterations`, `achievements`, `skills`), by column name.
    pub extra: Vec<(&'static str, u64)>,
}

impl<'a> TaskRow<'a> {
    /// The row of `result`, from its events.
    pub fn new(result: &'a TaskResult, events: &[Value]) -> Self {
        let of_type = |t: &'static str| {
            events
                .iter()
                .filter(move |e| e.get("type").and_then(Value::as_str) == Some(t))
        };
        let latency_ms = of_type("model_call")
            .filter_map(|e| e.get("latency_ms").and_then(Value::as_u64))
            .sum();
        let mut extra = Vec::new();
        let iterations: Vec<&Value> = of_type("iteration").collect();
        if let Some(last) = iterations.last() {
            let count = |key: &str| {
                last.get(key)
                    .and_then(|v| v.as_array().map(|a| a.len() as u64).or(v.as_u64()))
                    .unwrap_or(0)
            };
            extra.push(("iterations", iterations.len() as u64));
            extra.push(("achievements", count("achievements")));
            extra.push(("skills", count("skills")));
        }
        TaskRow {
            result,
            flip: Flip::of(result),
            latency_ms,
            extra,
        }
    }
}

/// The reflection written before the attempt that fixed `r` (the last one of an earlier trial),
/// when the task was fixed by a retry and reflected.
pub fn fixing_reflection<'e>(r: &TaskResult, events: &'e [Value]) -> Option<&'e str> {
    let fixed_at = r.passed_by_trial.iter().position(|p| *p)? as u64 + 1;
    events
        .iter()
        .filter(|e| e.get("type").and_then(Value::as_str) == Some("reflection"))
        .filter(|e| e.get("trial").and_then(Value::as_u64).unwrap_or(0) < fixed_at)
        .filter_map(|e| e.get("text").and_then(Value::as_str))
        .next_back()
}

/// `events` as JSON text safe inside an HTML `<script>` element (no `<` left to end it).
pub fn script_json(events: &[Value]) -> anyhow::Result<String> {
    Ok(serde_json::to_string(events)?.replace('<', "\\u003c"))
}

/// `s` for a URL fragment (`#task=…`): everything but letters, digits and `-_.~` escaped.
pub fn fragment(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(s, KEEP).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(passed_by_trial: &[bool]) -> TaskResult {
        serde_json::from_value(serde_json::json!({
            "task_id": "t/1", "passed": *passed_by_trial.last().unwrap(),
            "passed_by_trial": passed_by_trial, "trials_used": passed_by_trial.len(),
            "verdict": "passed", "submitted_code": null, "usage": agent_core::llm::UsageTotals::default(), "wall_ms": 0, "error": null
        }))
        .unwrap()
    }

    #[test]
    fn a_cut_line_and_an_older_format_are_kept_apart_from_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            r#"{"session":1,"time_ms":1,"type":"reflection","task_id":"t/1","trial":1,"text":"a"}"#,
            r#"{"type":"some_old_event","task_id":"t/1","what":"kept as written"}"#,
            r#"{"type":"model_call","trial":1}"#,
            r#"{"session":1,"time_ms":2,"type":"submis"#,
        ];
        std::fs::write(dir.path().join("events.jsonl"), lines.join("\n")).unwrap();
        let stories = Stories::read(&[dir.path().to_path_buf()]);
        assert_eq!(stories.of("t/1").len(), 2);
        assert_eq!(stories.of("t/1")[1]["what"], "kept as written");
        assert_eq!(stories.unreadable.len(), 2, "{:?}", stories.unreadable);
        assert!(stories.unreadable[0].contains("line 3: an event without a task_id"));
        assert!(stories.unreadable[1].contains("line 4"));
        assert!(Stories::read(&[dir.path().join("missing")])
            .by_task
            .is_empty());
    }

    #[test]
    fn flips_and_the_reflection_that_fixed_a_task() {
        assert_eq!(Flip::of(&result(&[false, true])), Flip::Fixed);
        assert_eq!(Flip::of(&result(&[true, false])), Flip::Broken);
        assert_eq!(Flip::of(&result(&[true])), Flip::Same);
        let events: Vec<Value> = [(1, "first"), (2, "second"), (3, "after the fix")]
            .iter()
            .map(|(trial, text)| {
                serde_json::json!({"type": "reflection", "task_id": "t/1", "trial": trial, "text": text})
            })
            .collect();
        let fixed_at_3 = result(&[false, false, true, true]);
        assert_eq!(fixing_reflection(&fixed_at_3, &events), Some("second"));
        assert_eq!(fixing_reflection(&result(&[true]), &events), None);
    }

    #[test]
    fn script_text_cannot_close_its_element() {
        let events = vec![serde_json::json!({"reply": "</script><b>"})];
        let text = script_json(&events).unwrap();
        assert!(!text.contains('<'));
        let back: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, events);
        assert_eq!(fragment("HumanEval/12"), "HumanEval%2F12");
    }
}
