//! `mneme run` / `mneme resume` end to end: the real local model (SmolLM2-135M),
//! the real sandbox, the real embedded memory; and a run killed with SIGKILL.

mod common;

use common::{lines, lines_count, wait_for, Env};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path.join("summary.json")).unwrap()).unwrap()
}

fn outcome(s: &serde_json::Value) -> serde_json::Value {
    serde_json::json!([
        s["tasks_done"],
        s["passed"],
        s["pass_at_1_by_trial"],
        s["usage"]["prompt_tokens"],
        s["usage"]["completion_tokens"],
        s["verdicts"]
    ])
}

#[test]
fn three_humaneval_tasks_with_the_real_local_model() {
    let env = Env::new();
    let out = env.run(&[
        "run",
        "humaneval",
        "--limit",
        "3",
        "--model",
        "smollm2-135m",
        "--run-dir",
        "r1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let dir = env.path("r1");
    for f in [
        "run.json",
        "config.toml",
        "events.jsonl",
        "results.jsonl",
        "summary.json",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let results = lines(&dir.join("results.jsonl"));
    assert_eq!(results.len(), 3);
    let s = summary(&dir);
    assert_eq!(s["status"], "complete");
    assert_eq!(s["tasks_done"], 3);
    assert_eq!(s["pass_at_1_by_trial"].as_array().unwrap().len(), 2);
    assert!(s["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    let events = lines(&dir.join("events.jsonl"));
    for kind in ["model_call", "evaluation", "submission", "trial_score"] {
        assert!(events.iter().any(|e| e["type"] == kind), "no {kind} event");
    }
    // Every result matches the submission event of its task: same trial, verdict and outcome.
    for r in &results {
        let submissions: Vec<_> = events
            .iter()
            .filter(|e| e["type"] == "submission" && e["task_id"] == r["task_id"])
            .collect();
        assert_eq!(submissions.len(), 1, "one submission of {}", r["task_id"]);
        let e = submissions[0];
        assert_eq!(
            (&e["trial"], &e["verdict"], &e["passed"]),
            (&r["trials_used"], &r["verdict"], &r["passed"]),
            "{e} vs {r}"
        );
    }
    // Nothing of the hidden tests reached a prompt.
    for e in events.iter().filter(|e| e["type"] == "model_call") {
        let text = e["messages"].to_string();
        assert!(
            !text.contains("def check(candidate)"),
            "hidden tests in a prompt"
        );
    }
    assert!(std::fs::read_to_string(dir.join("config.toml"))
        .unwrap()
        .contains("smollm2-135m"));

    // The report: markdown, a self-contained HTML page with three SVG charts, and how it looks.
    let out = env.run(&["report", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("| pass@1 |") && md.contains("pass_by_trial.svg"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3, "three inline charts");
    assert!(html.contains("pass@1 by trial") && html.contains("submissions by verdict"));
    assert!(!html.contains("src=\"http"), "self-contained");

    // The run compared with itself: every task shared, nothing flipped.
    let out = env.run(&[
        "compare",
        dir.to_str().unwrap(),
        dir.to_str().unwrap(),
        "--out",
        "cmp",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(env.path("cmp/compare.md")).unwrap();
    assert!(md.contains("Comparison on 3 shared tasks"), "{md}");
    assert!(md.contains("fixed none; broken none"), "{md}");
    assert!(env.path("cmp/compare.html").is_file());
}

#[test]
#[cfg_attr(
    not(chromium),
    ignore = "needs headless Chromium (apt-get install chromium; scripts/setup --tests installs it)"
)]
fn the_report_renders_in_headless_chromium() {
    let env = Env::new();
    let args = [
        "run",
        "humaneval",
        "--limit",
        "2",
        "--model",
        "smollm2-135m",
    ];
    let out = env.run(&[&args[..], &["--run-dir", "r"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = env.path("r");
    let out = env.run(&["report", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    screenshot(&dir.join("report.html"), &dir.join("report.png"));
}

/// Renders the page in headless Chromium and checks the picture has content.
fn screenshot(html: &Path, png: &Path) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(common::chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,1000")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::assert_png_has_content(&std::fs::read(png).unwrap(), "the screenshot");
}

fn wait_for_results(path: &Path, n: usize, child: &mut Child, limit: Duration) {
    wait_for(|| lines_count(path) >= n, child, limit);
}

#[test]
fn a_run_killed_with_sigkill_resumes_without_loss_or_duplication() {
    let env = Env::new();
    let args = [
        "run",
        "humaneval",
        "--limit",
        "4",
        "--concurrency",
        "1",
        "--model",
        "smollm2-135m",
    ];
    let mut child = env
        .command(&[&args[..], &["--run-dir", "killed"]].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = env.path("killed");
    wait_for_results(
        &dir.join("results.jsonl"),
        1,
        &mut child,
        Duration::from_secs(600),
    );
    // Pull the plug once it is working on a task that has no result yet.
    wait_for(
        || {
            let finished: Vec<_> = lines(&dir.join("results.jsonl"))
                .iter()
                .map(|r| r["task_id"].clone())
                .collect();
            lines(&dir.join("events.jsonl"))
                .iter()
                .any(|e| e["type"] == "model_call" && !finished.contains(&e["task_id"]))
        },
        &mut child,
        Duration::from_secs(600),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let before = lines_count(&dir.join("results.jsonl"));
    assert!(before < 4, "the run had not finished when it was killed");

    // The report of the killed run says it is in progress and reloads itself; before any task
    // has finished there is nothing to draw, and it says so.
    let report = env.run(&["report", dir.to_str().unwrap()]);
    if before > 0 {
        assert!(
            report.status.success(),
            "{}",
            String::from_utf8_lossy(&report.stderr)
        );
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(html.contains("http-equiv=\"refresh\"") && html.contains("In progress"));
    } else {
        assert!(String::from_utf8_lossy(&report.stderr).contains("no task has finished yet"));
    }

    let out = env.run(&["resume", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = lines(&dir.join("results.jsonl"));
    let ids: std::collections::HashSet<&str> = results
        .iter()
        .map(|r| r["task_id"].as_str().unwrap())
        .collect();
    assert_eq!((results.len(), ids.len()), (4, 4), "every task once");
    // Watching a finished run writes its report once and returns; the page no longer reloads.
    let watched = env.run(&["report", dir.to_str().unwrap(), "--watch", "1"]);
    assert!(
        watched.status.success(),
        "{}",
        String::from_utf8_lossy(&watched.stderr)
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("http-equiv=\"refresh\"") && !html.contains("In progress"));
    let events = lines(&dir.join("events.jsonl"));
    assert!(
        events.iter().any(|e| e["session"] == 2),
        "resumed events are in session 2"
    );
    assert!(events.iter().filter(|e| e["type"] == "submission").count() >= 4);

    // Memory: one reflection per (task, trial) of this run, however often it was written.
    let reflections: std::collections::HashSet<(String, u64)> = events
        .iter()
        .filter(|e| e["type"] == "reflection")
        .map(|e| {
            (
                e["task_id"].as_str().unwrap().to_string(),
                e["trial"].as_u64().unwrap(),
            )
        })
        .collect();
    let stats = env.run(&["memory", "stats"]);
    let stats = String::from_utf8_lossy(&stats.stdout);
    let stored = stats.lines().find_map(|l| {
        l.strip_prefix("reflections: ")?
            .trim()
            .parse::<usize>()
            .ok()
    });
    assert_eq!(stored, Some(reflections.len()), "{stats}");

    // The same run uninterrupted (answers from the response cache) reports the same outcome.
    let out = env.run(&[&args[..], &["--run-dir", "whole"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        outcome(&summary(&dir)),
        outcome(&summary(&env.path("whole")))
    );
}

#[test]
fn shards_of_a_run_merge_into_the_single_process_result() {
    let env = Env::new();
    let base = [
        "run",
        "humaneval",
        "--limit",
        "4",
        "--model",
        "smollm2-135m",
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = env.run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // One process, then the same run in two shards (its answers come from the same cache).
    run(&["--run-dir", "whole"]);
    run(&["--shard", "1/2", "--run-id", "he", "--run-dir", "s1"]);
    run(&["--shard", "2/2", "--run-id", "he", "--run-dir", "s2"]);
    let ids = |dir: &str| -> Vec<String> {
        let mut ids: Vec<String> = lines(&env.path(dir).join("results.jsonl"))
            .iter()
            .map(|r| r["task_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort(); // results are written in the order tasks finish
        ids
    };
    assert_eq!(ids("s1"), ["HumanEval/0", "HumanEval/2"]);
    assert_eq!(ids("s2"), ["HumanEval/1", "HumanEval/3"]);
    let (s1, s2) = (env.path("s1"), env.path("s2"));
    let out = env.run(&[
        "report",
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
        "--out",
        "merged",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = summary(&env.path("merged"));
    let whole = summary(&env.path("whole"));
    assert_eq!(outcome(&merged), outcome(&whole), "{merged}\n{whole}");
    assert_eq!(merged["status"], "complete");
    assert_eq!(lines(&env.path("merged").join("results.jsonl")).len(), 4);
    let md = std::fs::read_to_string(env.path("merged").join("report.md")).unwrap();
    assert!(md.contains("| shards | 2 of 2 (1, 2) |"), "{md}");

    // What a report refuses, each named.
    let refuse = |args: &[&str], says: &str| {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    let whole_dir = env.path("whole");
    refuse(
        &["report", s1.to_str().unwrap(), s1.to_str().unwrap()],
        "pass each shard once",
    );
    refuse(
        &["report", whole_dir.to_str().unwrap(), s2.to_str().unwrap()],
        "is a whole run, not a shard",
    );
    let other = env
        .command(&[
            "run",
            "humaneval",
            "--limit",
            "4",
            "--model",
            "smollm2-135m",
            "--shard",
            "2/2",
            "--run-id",
            "he",
            "--run-dir",
            "s2-other",
        ])
        .env("MNEME_AGENT__MAX_TOKENS", "150")
        .output()
        .unwrap();
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let s2_other = env.path("s2-other");
    refuse(
        &["report", s1.to_str().unwrap(), s2_other.to_str().unwrap()],
        "different",
    );
    // Bad shard specs and a shard without a run id stop before anything is written.
    refuse(
        &[
            "run",
            "humaneval",
            "--shard",
            "3/2",
            "--run-id",
            "x",
            "--run-dir",
            "bad",
        ],
        "between 1 and 2",
    );
    refuse(
        &[
            "run",
            "humaneval",
            "--shard",
            "0/0",
            "--run-id",
            "x",
            "--run-dir",
            "bad",
        ],
        "COUNT must be at least 1",
    );
    refuse(
        &["run", "humaneval", "--shard", "1/2", "--run-dir", "bad"],
        "needs --run-id",
    );
    assert!(
        !env.path("bad").exists(),
        "nothing written for a refused run"
    );
    // The merged directory of the good pair is still intact.
    assert_eq!(outcome(&summary(&env.path("merged"))), outcome(&whole));
}

/// The search trees in a run directory, by file name: each tree's nodes (a run may be writing).
fn trees(dir: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    std::fs::read_dir(dir.join("tasks"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                // Not the temporary files of a checkpoint being written (`.ID.json.XXXX.partial`).
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .map(|p| {
                    let file: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                    let name = p.file_name().unwrap().to_string_lossy().to_string();
                    (name, file["strategy"]["tree"]["nodes"].clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A task whose tree has grown past its root and which has no result yet.
fn mid_tree(dir: &Path) -> bool {
    let finished: Vec<String> = lines(&dir.join("results.jsonl"))
        .iter()
        .map(|r| r["task_id"].as_str().unwrap().replace('/', "_") + ".json")
        .collect();
    trees(dir).iter().any(|(file, nodes)| {
        !finished.contains(file) && nodes.as_array().is_some_and(|n| n.len() >= 2)
    })
}

/// Starts `mneme ARGS --run-dir killed`, kills it with SIGKILL once a task is mid-tree, checks
/// that fewer than `tasks` results were written, resumes it, and checks that every task finished
/// once. The run directory.
fn killed_mid_tree_then_resumed(env: &Env, args: &[&str], tasks: usize) -> PathBuf {
    let mut child = env
        .command(&[args, &["--run-dir", "killed"]].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = env.path("killed");
    wait_for(|| mid_tree(&dir), &mut child, Duration::from_secs(900));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        lines_count(&dir.join("results.jsonl")) < tasks,
        "killed mid-run"
    );
    let out = env.run(&["resume", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        lines(&dir.join("results.jsonl")).len(),
        tasks,
        "every task once"
    );
    dir
}

/// `mneme ARGS --run-dir whole`, which must succeed. The run directory.
fn uninterrupted(env: &Env, args: &[&str]) -> PathBuf {
    let out = env.run(&[args, &["--run-dir", "whole"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.path("whole")
}

#[test]
fn lats_killed_mid_tree_with_sigkill_resumes_with_the_same_tree() {
    let env = Env::new();
    let args = [
        "run",
        "humaneval",
        "--limit",
        "3",
        "--concurrency",
        "1",
        "--strategy",
        "lats",
        "--budget",
        "8",
        "--model",
        "smollm2-135m",
    ];
    let dir = killed_mid_tree_then_resumed(&env, &args, 3);
    // The same run uninterrupted (answers, seeded samples included, from the response cache)
    // grows the same trees and reports the same outcome.
    let whole = uninterrupted(&env, &args);
    let shape = |d: &Path| -> Vec<(String, Vec<serde_json::Value>)> {
        trees(d)
            .into_iter()
            .map(|(file, nodes)| {
                let nodes = nodes.as_array().unwrap().iter().map(|n| {
                    serde_json::json!([
                        n["parent"],
                        n["reward"],
                        n["duplicate_of"],
                        n["calls_at"],
                        n["code"].as_str().map(str::len)
                    ])
                });
                (file, nodes.collect())
            })
            .collect()
    };
    assert_eq!(shape(&dir), shape(&whole), "the trees' shapes");
    assert_eq!(trees(&dir), trees(&whole));
    assert!(trees(&dir)
        .values()
        .any(|n| n.as_array().unwrap().len() >= 2));
    assert_eq!(outcome(&summary(&dir)), outcome(&summary(&whole)));
    let calls = |d: &Path| summary(d)["mean_calls"].as_f64().unwrap();
    assert_eq!(calls(&dir), calls(&whole));

    // `mneme tree` prints a tree and exports it; the report draws every tree.
    let (file, _) = trees(&dir)
        .into_iter()
        .find(|(_, n)| n.as_array().unwrap().len() >= 2)
        .unwrap();
    let task = file.trim_end_matches(".json").replace('_', "/");
    let dot = env.path("tree.dot");
    let out = env.run(&[
        "tree",
        dir.to_str().unwrap(),
        &task,
        "--dot",
        dot.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outline = String::from_utf8_lossy(&out.stdout);
    assert!(
        outline.contains("#0") && outline.contains("#1"),
        "{outline}"
    );
    assert!(std::fs::read_to_string(&dot)
        .unwrap()
        .starts_with("digraph"));
    let out = env.run(&["report", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Search trees"), "no tree section");
    let out = env.run(&["tree", dir.to_str().unwrap(), "HumanEval/99"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no search tree"));
}

#[test]
fn a_custom_environment_runs_from_the_command_line_with_any_strategy() {
    let env = Env::new();
    let envs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/envs");
    let game = format!("python3 {}", envs.join("text_game.py").display());
    let tasks = envs.join("text_game_tasks.jsonl");
    // mcts: the example implements snapshot/restore, so its states are restored, not replayed.
    for strategy in ["reflexion", "best_of_n", "mcts"] {
        let out = env.run(&[
            "run",
            "--env",
            &game,
            "--tasks",
            tasks.to_str().unwrap(),
            "--strategy",
            strategy,
            "--budget",
            "6",
            "--model",
            "smollm2-135m",
            "--run-dir",
            strategy,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = env.path(strategy);
        let results = lines(&dir.join("results.jsonl"));
        assert_eq!(results.len(), 3, "{strategy}");
        for r in &results {
            assert!(r["calls"].as_u64().unwrap() <= 6, "{r}");
            // The submission is the episode's actions, replayed by the grader.
            let actions: Vec<serde_json::Value> =
                serde_json::from_str(r["submitted_code"].as_str().unwrap()).unwrap();
            assert!(!actions.is_empty() && actions.len() <= 10, "{r}");
        }
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
        assert_eq!(spec["env_command"][0], "python3");
        let events = lines(&dir.join("events.jsonl"));
        assert!(events
            .iter()
            .any(|e| e["type"] == "action" && e["kind"] == "act"));
        let out = env.run(&["report", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Resuming a finished run asks nothing and changes nothing.
        let before = summary(&dir);
        let out = env.run(&["resume", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(outcome(&summary(&dir)), outcome(&before));
    }
}

#[test]
fn an_unknown_strategy_or_a_zero_budget_is_refused_before_anything_is_written() {
    let env = Env::new();
    let refused = |args: &[&str], extra_env: Option<(&str, &str)>, says: &str| {
        let mut command = env.command(args);
        if let Some((k, v)) = extra_env {
            command.env(k, v);
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    let run = ["run", "humaneval", "--run-dir", "bad"];
    refused(
        &[&run[..], &["--strategy", "mcts-magic"]].concat(),
        None,
        "mcts-magic",
    );
    refused(
        &[&run[..], &["--strategy", "nope"]].concat(),
        None,
        "best_of_n",
    );
    refused(&[&run[..], &["--budget", "0"]].concat(), None, "--budget");
    refused(
        &run,
        Some(("MNEME_AGENT__BUDGET__CALLS", "0")),
        "agent.budget.calls",
    );
    refused(
        &[
            "run",
            "--env",
            "python3 'unclosed",
            "--tasks",
            "t.jsonl",
            "--run-dir",
            "bad",
        ],
        None,
        "unclosed quote",
    );
    assert!(!env.path("bad").exists(), "nothing written");
}

/// Two TextCraft goals from the shipped list, for a short run.
fn two_goals(env: &Env) -> PathBuf {
    let goals = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments/textcraft/goals.jsonl");
    let text = std::fs::read_to_string(goals).unwrap();
    let file = env.path("goals.jsonl");
    let two: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&file, two.join("\n") + "\n").unwrap();
    file
}

#[test]
fn textcraft_mcts_killed_with_sigkill_resumes_with_the_same_tree() {
    let env = Env::new();
    let goals = two_goals(&env);
    let args = [
        "run",
        "textcraft",
        "--goals",
        goals.to_str().unwrap(),
        "--concurrency",
        "1",
        "--strategy",
        "mcts",
        "--budget",
        "24",
        "--max-steps",
        "8",
        "--model",
        "smollm2-135m",
    ];
    let dir = killed_mid_tree_then_resumed(&env, &args, 2);
    let whole = uninterrupted(&env, &args);
    assert_eq!(trees(&dir), trees(&whole), "the same trees");
    assert_eq!(outcome(&summary(&dir)), outcome(&summary(&whole)));
    for r in lines(&dir.join("results.jsonl")) {
        assert!(r["calls"].as_u64().unwrap() <= 24, "{r}");
        // Every node is a state of the real TextCraft: the root shows the goal's recipes.
        let file = dir
            .join("tasks")
            .join(r["task_id"].as_str().unwrap().replace('/', "_") + ".json");
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let root = &saved["strategy"]["tree"]["nodes"][0]["feedback"];
        assert!(
            root.as_str().unwrap().contains("Crafting commands:"),
            "{root}"
        );
    }
    let out = env.run(&["report", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Search trees"), "no tree section");
}

#[test]
fn a_goals_file_without_goals_is_refused_naming_the_line() {
    let env = Env::new();
    let goals = env.path("goals.jsonl");
    std::fs::write(
        &goals,
        "{\"id\": \"a\", \"prompt\": \"Craft 1 stick.\", \"goal\": \"stick\"}\n{\"id\": \"b\", \"prompt\": \"Craft a boat.\"}\n",
    )
    .unwrap();
    let out = env.run(&[
        "run",
        "textcraft",
        "--goals",
        goals.to_str().unwrap(),
        "--run-dir",
        "no",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("goals.jsonl:2: a textcraft task needs `goal`"),
        "{stderr}"
    );
    assert!(!env.path("no").exists());
}

#[test]
fn mcts_on_a_coding_suite_is_refused_before_anything_is_written() {
    let env = Env::new();
    let out = env.run(&["run", "humaneval", "--strategy", "mcts", "--run-dir", "no"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("for code, use lats"), "{stderr}");
    assert!(!env.path("no").exists());
}
