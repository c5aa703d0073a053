//! `mneme explore crafter` end to end: the real Crafter (installed from PyPI into the data
//! directory, its adapter confined by bubblewrap), the real local model (SmolLM2-135M), the real
//! embedded memory; a session killed with SIGKILL and resumed; the skill library's commands.

mod common;

use common::{lines, wait_for, Env};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The adapter's own checks (determinism, snapshot/restore, programs that loop, raise, die or
/// overrun their budget), run confined by bubblewrap as `mneme explore` runs it.
#[test]
fn the_crafter_adapter_passes_its_checks_in_the_sandbox() {
    let env = Env::new();
    let out = env.run(&["env", "setup", "crafter"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::env::var("MNEME_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dirs_home().join(".cache/mneme"));
    let python = data.join("envs/crafter/venv/bin/python");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments/crafter/test_crafter_env.py");
    let out = Command::new(python)
        .arg(&script)
        .args(["--quick", "--bwrap"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !text.contains("FAIL"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.matches("PASS").count() >= 10, "{text}");
}

fn dirs_home() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("HOME").unwrap())
}

/// The iteration events of a run.
fn iterations(dir: &Path) -> Vec<serde_json::Value> {
    lines(&dir.join("events.jsonl"))
        .into_iter()
        .filter(|e| e["type"] == "iteration")
        .map(|mut e| {
            // Tokens differ where an answer came from the cache after the resume; the rest
            // must not.
            e.as_object_mut().unwrap().remove("time_ms");
            e.as_object_mut().unwrap().remove("session");
            e
        })
        .collect()
}

/// Crafter's prompts (the API, the state, the skills) need more than the 2,048 tokens the
/// other tests give SmolLM2.
const CTX: &str = "8192";

fn with_ctx(env: &Env, args: &[&str]) -> std::process::Output {
    env.command(args)
        .env("MNEME_LOCAL__CTX_SIZE", CTX)
        .output()
        .unwrap()
}

#[test]
fn an_explore_session_killed_with_sigkill_resumes_at_the_same_iteration() {
    let env = Env::new();
    let args = [
        "explore",
        "crafter",
        "--iterations",
        "3",
        "--library",
        "killed",
        "--model",
        "smollm2-135m",
        "--run-dir",
        "killed",
    ];
    let mut child = env
        .command(&args)
        .env("MNEME_LOCAL__CTX_SIZE", CTX)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = env.path("killed");
    wait_for(
        || iterations(&dir).len() == 1,
        &mut child,
        Duration::from_secs(900),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(iterations(&dir).len() < 3, "killed mid-session");
    let out = with_ctx(&env, &["resume", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("session 1: 3 iterations"), "{stdout}");
    let resumed = iterations(&dir);
    assert_eq!(
        resumed
            .iter()
            .map(|e| e["iteration"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3],
        "every iteration once"
    );
    // The same session uninterrupted (its own library, the same cached answers): the same
    // iterations in the same worlds.
    let whole_args = [
        &args[..4],
        &[
            "--library",
            "whole",
            "--model",
            "smollm2-135m",
            "--run-dir",
            "whole",
        ],
    ]
    .concat();
    let out = with_ctx(&env, &whole_args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let strip = |its: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        its.into_iter()
            .map(|mut e| {
                for k in ["tokens", "task_id"] {
                    e.as_object_mut().unwrap().remove(k);
                }
                e
            })
            .collect()
    };
    assert_eq!(strip(resumed), strip(iterations(&env.path("whole"))));
    // The report draws the session: achievements by iteration, milestones, the library.
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("unique achievements by iteration") && html.contains("Skill library"),
        "no exploration section"
    );
    // Every program ran in the real Crafter: each iteration's events name its achievements or
    // its failure, and the library lists what the session stored.
    let out = env.run(&["skills", "list", "--library", "whole"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    let exported = env.path("whole-skills.py");
    let out = env.run(&[
        "skills",
        "export",
        exported.to_str().unwrap(),
        "--library",
        "whole",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::read_to_string(&exported).unwrap();
    assert!(file.starts_with("# Skill library \"whole\""), "{file}");
    // Every skill the session stored is in the export, by name.
    for line in listed
        .lines()
        .skip(1)
        .filter(|l| !l.contains("skills in library"))
    {
        let name = line.split_whitespace().next().unwrap_or_default();
        assert!(
            file.contains(&format!("def {name}(")),
            "{name} missing from the export"
        );
    }
    let out = env.run(&["skills", "show", "no_such_skill", "--library", "whole"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no skill \"no_such_skill\""));
    assert!(
        listed.contains("skills in library") || listed.contains("has no skills yet"),
        "{listed}"
    );
}

#[test]
fn explore_refuses_an_environment_that_runs_no_programs() {
    let env = Env::new();
    let out = env.run(&["explore", "textcraft", "--iterations", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("textcraft does not run programs"), "{err}");
    let out = env.run(&["run", "humaneval", "--strategy", "voyager", "--limit", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mneme explore crafter"), "{err}");
    assert!(!env.path("runs").exists(), "nothing was written");
}
