//! `mneme sandbox run` and `mneme tasks list` from outside, as a user runs them.

use std::process::Command;

fn mneme(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mneme"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sandbox_run(code: &str, extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("job.py");
    std::fs::write(&file, code).unwrap();
    let mut args = vec!["sandbox", "run", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = mneme(&args);
    assert!(ok, "mneme sandbox run failed: {stderr}");
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("one JSON object expected ({e}): {stdout}"))
}

#[test]
fn verdicts_from_the_command_line() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("print('ok')", &[], "passed"),
        ("assert 1 == 2, 'nope'", &[], "failed"),
        ("while True: pass", &["--timeout", "1"], "timeout"),
        (
            "x = bytearray(2 * 1024 ** 3)",
            &["--memory-mb", "256"],
            "memory",
        ),
        (
            "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass",
            &["--timeout", "2"],
            "timeout",
        ),
        (
            "import sys\nwhile True: sys.stdout.write('y' * 65536)",
            &[],
            "output_limit",
        ),
        ("import ctypes; ctypes.string_at(0)", &[], "killed"),
        (
            "import socket; socket.create_connection(('127.0.0.1', 22), timeout=1)",
            &[],
            "failed",
        ),
        ("print(open('/root/.bashrc').read())", &[], "failed"),
    ];
    for (code, extra, want) in cases {
        let v = sandbox_run(code, extra);
        assert_eq!(v["verdict"], *want, "{code}: {v}");
        for field in ["exit_code", "stdout", "stderr", "duration_ms"] {
            assert!(v.get(field).is_some(), "{field} missing from {v}");
        }
    }
    let v = sandbox_run(
        "import sys; print('out'); print('err', file=sys.stderr); sys.exit(4)",
        &[],
    );
    assert_eq!(
        (
            v["stdout"].as_str(),
            v["stderr"].as_str(),
            v["exit_code"].as_i64()
        ),
        (Some("out\n"), Some("err\n"), Some(4))
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let (ok, _, stderr) = mneme(&["sandbox", "run", "/nonexistent/job.py"]);
    assert!(!ok);
    assert!(stderr.contains("reading /nonexistent/job.py"), "{stderr}");
}

#[test]
fn tasks_list_shows_humaneval() {
    let (ok, stdout, stderr) = mneme(&["tasks", "list", "humaneval", "--limit", "3"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("humaneval: 164 tasks"), "{stdout}");
    assert!(
        stdout.contains("HumanEval/0") && stdout.contains("has_close_elements"),
        "{stdout}"
    );
    let (ok, _, stderr) = mneme(&["tasks", "list", "nonsense"]);
    assert!(!ok && stderr.contains("unknown suite"), "{stderr}");
}

#[test]
fn a_run_that_cannot_sandbox_stops_at_once_naming_the_fix_and_leaves_no_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mneme"))
        .args(["run", "humaneval", "--limit", "1"])
        .current_dir(dir.path())
        .env("MNEME_SANDBOX__BWRAP", "/nonexistent/bwrap")
        // A port nothing listens on: were the check made after the server's set-up, this
        // run would try to start one.
        .env("MNEME_LOCAL__PORT", "9")
        .env("MNEME_MODEL__BASE_URL", "http://127.0.0.1:9/v1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("/nonexistent/bwrap") && stderr.contains("apt-get install -y bubblewrap"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("starting the local model server"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("runs").exists(),
        "no run directory for a run that never started"
    );
}

#[test]
fn counts_of_zero_are_refused_with_a_clear_error() {
    let cases: &[&[&str]] = &[
        &["bench", "overhead", "--calls", "0"],
        &["bench", "memory", "--queries", "0"],
        &["bench", "memory", "--real", "0"],
        &["bench", "memory", "--sizes", "10,0"],
        &["run", "humaneval", "--limit", "0"],
        &["run", "humaneval", "--trials", "0"],
        &["tasks", "list", "humaneval", "--limit", "0"],
    ];
    for args in cases {
        let (ok, _, err) = mneme(args);
        assert!(!ok, "{args:?} was accepted");
        assert!(
            err.contains("invalid value '0'") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}
