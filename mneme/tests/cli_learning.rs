//! Learning across tasks end to end with the real local model (SmolLM2-135M), the real sandbox
//! and the embedded store on disk: a run that learns into a library, `mneme insights extract`
//! on it (resumed without voting twice), `mneme insights list`, `mneme skills list`, and a run
//! that reads the library.

mod common;

use common::{lines, Env};

const TASKS: &str = r#"{"task_id": "toy/add", "prompt": "def add(a: int, b: int) -> int:\n    \"\"\"Return the sum of a and b.\n    >>> add(1, 2)\n    3\n    \"\"\"\n", "entry_point": "add", "test": "def check(candidate):\n    assert candidate(2, 5) == 7\n"}
{"task_id": "toy/double", "prompt": "def double(x: int) -> int:\n    \"\"\"Return x times two.\n    >>> double(4)\n    8\n    \"\"\"\n", "entry_point": "double", "test": "def check(candidate):\n    assert candidate(5) == 10\n"}
{"task_id": "toy/neg", "prompt": "def neg(x: int) -> int:\n    \"\"\"Return minus x.\n    >>> neg(3)\n    -3\n    \"\"\"\n", "entry_point": "neg", "test": "def check(candidate):\n    assert candidate(5) == -5\n"}"#;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_run_learns_into_a_library_insights_are_extracted_once_and_a_later_run_reads_them() {
    let env = Env::new();
    std::fs::write(env.path("toy.jsonl"), TASKS).unwrap();
    let run = |id: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--tasks",
            "toy.jsonl",
            "--model",
            "smollm2-135m",
            "--strategy",
            "reflexion",
            "--run-id",
            id,
            "--library",
            "toy",
        ];
        args.extend_from_slice(extra);
        let out = env.run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    run("learn", &["--learn"]);

    // Every skill the run stored is listed, with a description from the task's docstring.
    let events = lines(&env.path("runs/learn/events.jsonl"));
    let stored: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "skill_write" && e["outcome"] == "new")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    let listed = stdout(&env.run(&["skills", "list", "--library", "toy"]));
    for name in &stored {
        assert!(listed.contains(name), "{name} missing from:\n{listed}");
    }
    assert!(
        listed.contains(&format!("{} skills in library \"toy\"", stored.len()))
            || stored.is_empty(),
        "{listed}"
    );

    // Extraction: one logged call per comparison; a second extraction makes none.
    let extract = || {
        env.run(&[
            "insights",
            "extract",
            "runs/learn",
            "--library",
            "toy",
            "--model",
            "smollm2-135m",
        ])
    };
    let first = extract();
    assert!(first.status.success(), "{}", stderr(&first));
    let made = stderr(&first)
        .lines()
        .find_map(|l| {
            l.strip_prefix("mneme: ")?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .expect("the number of comparisons is said");
    let log = lines(&env.path("insights/toy.jsonl"));
    assert_eq!(log.len(), made);
    let again = extract();
    assert!(
        stderr(&again).contains(&format!(
            "0 comparisons to make for library \"toy\" ({made} already in"
        )),
        "{}",
        stderr(&again)
    );
    // The list holds what the log's last call left.
    let list = stdout(&env.run(&["insights", "list", "--library", "toy"]));
    let rules = log
        .last()
        .map(|s| s["rules"].as_u64().unwrap())
        .unwrap_or(0);
    if rules > 0 {
        assert!(
            list.contains(&format!("{rules} insights in library \"toy\"")),
            "{list}"
        );
    } else {
        assert!(list.contains("has no insights yet"), "{list}");
    }

    // A run reading the library is shown its rules (on every task) and records what it got.
    run("read", &["--insights", "--skills"]);
    let events = lines(&env.path("runs/read/events.jsonl"));
    let shown = events.iter().filter(|e| e["type"] == "library").count();
    if rules > 0 {
        assert_eq!(shown, 3, "one library event per task");
    }
    assert!(
        !events.iter().any(|e| e["type"] == "skill_write"),
        "a run that does not learn stores no skill"
    );

    // Clearing the rules removes them and the log; the skills stay.
    let cleared = env.run(&["insights", "clear", "--library", "toy"]);
    assert!(
        stdout(&cleared).contains(&format!("removed {rules} insights")),
        "{}",
        stdout(&cleared)
    );
    assert!(!env.path("insights/toy.jsonl").exists());
    let list = stdout(&env.run(&["insights", "list", "--library", "toy"]));
    assert!(list.contains("has no insights yet"), "{list}");
    let skills = stdout(&env.run(&["skills", "list", "--library", "toy"]));
    assert_eq!(skills, listed, "the skills stay");
}
