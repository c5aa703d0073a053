//! Hostile programs through the real sandbox (bubblewrap + the fork server).
//! Each is contained, gets the right verdict, and leaves the host as it was.

use std::sync::Arc;
use std::time::Duration;
use tools::sandbox::{Job, Sandbox, SandboxConfig, Verdict};

fn sandbox() -> Arc<Sandbox> {
    let config = SandboxConfig {
        timeout_secs: 3.0,
        cpu_secs: 3,
        memory_mb: 256,
        max_processes: 16,
        max_output_bytes: 64 * 1024,
        workers: 1,
        ..SandboxConfig::default()
    };
    Arc::new(Sandbox::new(config).expect("bubblewrap is installed (.ci/run installs it)"))
}

async fn run(sb: &Sandbox, code: &str) -> tools::sandbox::Outcome {
    sb.run(&Job::python(code)).await
}

#[tokio::test]
async fn passing_and_failing_programs() {
    let sb = sandbox();
    let ok = run(&sb, "print('hello')").await;
    assert_eq!(ok.verdict, Verdict::Passed, "{ok:?}");
    assert_eq!(ok.stdout, "hello\n");
    assert_eq!(ok.exit_code, Some(0));

    let bad = run(
        &sb,
        "def f(x):\n    return x + 1\nassert f(1) == 3, 'f(1) should be 3'\n",
    )
    .await;
    assert_eq!(bad.verdict, Verdict::Failed);
    assert!(
        bad.stderr.contains("AssertionError: f(1) should be 3"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("line 3"),
        "traceback names the line: {}",
        bad.stderr
    );

    let exit = run(&sb, "import sys; sys.exit(3)").await;
    assert_eq!((exit.verdict, exit.exit_code), (Verdict::Failed, Some(3)));

    let syntax = run(&sb, "def broken(:\n").await;
    assert_eq!(syntax.verdict, Verdict::Failed);
    assert!(syntax.stderr.contains("SyntaxError"));
}

#[tokio::test]
async fn every_job_starts_from_a_fresh_state() {
    let sb = sandbox();
    run(
        &sb,
        "import json\njson.dumps = None\nopen('left.txt','w').write('x')\nGLOBAL = 1",
    )
    .await;
    let second = run(&sb, "import json, os\nprint(json.dumps([1]))\nprint(os.listdir('.'))\nprint('GLOBAL' in globals())").await;
    assert_eq!(second.verdict, Verdict::Passed, "{second:?}");
    assert_eq!(second.stdout, "[1]\n[]\nFalse\n");
}

#[tokio::test]
async fn infinite_loop_times_out() {
    let sb = sandbox();
    let o = sb
        .run(&Job::python("while True:\n    pass\n").timeout(Duration::from_secs(1)))
        .await;
    assert_eq!(o.verdict, Verdict::Timeout, "{o:?}");
    let after = run(&sb, "print(1)").await;
    assert_eq!(
        after.verdict,
        Verdict::Passed,
        "the worker survives a timeout"
    );
}

#[tokio::test]
async fn sleeping_forever_times_out() {
    let sb = sandbox();
    let o = sb
        .run(&Job::python("import time\ntime.sleep(60)").timeout(Duration::from_millis(500)))
        .await;
    assert_eq!(o.verdict, Verdict::Timeout, "{o:?}");
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let sb = sandbox();
    let o = run(
        &sb,
        "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))\n",
    )
    .await;
    assert_eq!(o.verdict, Verdict::Memory, "{o:?}");
    let o = run(&sb, "x = 'a' * (10 ** 10)").await;
    assert_eq!(o.verdict, Verdict::Memory, "{o:?}");
}

#[tokio::test]
async fn fork_bomb_is_contained() {
    let sb = sandbox();
    let code =
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
    let o = sb
        .run(&Job::python(code).timeout(Duration::from_secs(2)))
        .await;
    assert!(
        matches!(
            o.verdict,
            Verdict::Timeout | Verdict::Failed | Verdict::Killed
        ),
        "{o:?}"
    );
    // The worker still serves, and nothing of the bomb is left.
    let after = run(
        &sb,
        "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))",
    )
    .await;
    assert_eq!(after.verdict, Verdict::Passed, "{after:?}");
    let pids: Vec<i32> = serde_json::from_str(after.stdout.trim()).unwrap();
    assert!(
        pids.len() <= 3,
        "only init, the fork server and this job remain: {pids:?}"
    );
}

#[tokio::test]
async fn network_is_unreachable() {
    let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = host.local_addr().unwrap().port();
    let sb = sandbox();
    let code = format!(
        "import socket\ns = socket.socket()\ns.settimeout(1)\ns.connect(('127.0.0.1', {port}))\nprint('connected')"
    );
    let o = run(&sb, &code).await;
    assert_eq!(o.verdict, Verdict::Failed, "{o:?}");
    assert!(!o.stdout.contains("connected"));
    assert!(o.stderr.contains("Error"), "{}", o.stderr);
    host.set_nonblocking(true).unwrap();
    assert!(host.accept().is_err(), "no connection reached the host");
}

#[tokio::test]
async fn host_files_are_invisible_and_read_only() {
    let sb = sandbox();
    let marker = tempfile::NamedTempFile::new_in(std::env::current_dir().unwrap()).unwrap();
    let visible = marker.path().display().to_string();
    let code = format!(
        "import os\n\
         print(sorted(os.listdir('/')))\n\
         for p in ['/root', '/home', '/etc/passwd', {visible:?}]:\n    print(p, os.path.exists(p))\n\
         try:\n    open('/usr/evil', 'w')\nexcept OSError as e:\n    print('usr', type(e).__name__)\n"
    );
    let o = run(&sb, &code).await;
    assert_eq!(o.verdict, Verdict::Passed, "{o:?}");
    assert!(
        o.stdout
            .starts_with("['bin', 'dev', 'lib', 'lib64', 'proc', 'sbin', 'tmp', 'usr']"),
        "{}",
        o.stdout
    );
    for p in [
        "/root False",
        "/home False",
        "/etc/passwd False",
        &format!("{visible} False"),
    ] {
        assert!(o.stdout.contains(p), "{p} in {}", o.stdout);
    }
    assert!(
        o.stdout.contains("usr OSError") || o.stdout.contains("usr PermissionError"),
        "{}",
        o.stdout
    );
    assert!(!std::path::Path::new("/usr/evil").exists());
}

#[tokio::test]
async fn environment_is_scrubbed() {
    // SAFETY (test): set before the sandbox starts; the worker is spawned with a cleared env.
    unsafe { std::env::set_var("MNEME_TEST_SECRET_KEY", "sk-must-not-leak-123456") };
    let sb = sandbox();
    let code = "import os\nprint(dict(os.environ))\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n        try:\n            print(open(f'/proc/{pid}/environ','rb').read())\n        except OSError as e:\n            print(pid, type(e).__name__)\n";
    let o = run(&sb, code).await;
    assert_eq!(o.verdict, Verdict::Passed, "{o:?}");
    assert!(!o.stdout.contains("sk-must-not-leak"), "{}", o.stdout);
    assert!(!o.stdout.contains("MNEME_TEST_SECRET_KEY"));
}

#[tokio::test]
async fn huge_output_is_capped_with_a_marker() {
    let sb = sandbox();
    let o = run(&sb, "import sys\nchunk = 'x' * 1024 * 1024\nfor _ in range(100):\n    sys.stdout.write(chunk)\n").await;
    assert_eq!(o.verdict, Verdict::OutputLimit, "{:?}", o.verdict);
    assert!(o.stdout.len() < 64 * 1024 + 200);
    assert!(o
        .stdout
        .ends_with("[mneme sandbox: output truncated at 65536 bytes]"));
}

#[tokio::test]
async fn detached_daemon_does_not_outlive_the_job() {
    let sb = sandbox();
    let daemon = "import os, time\n\
        if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)\n    os._exit(0)\n\
        time.sleep(0.2)\nprint('parent done')\n";
    let o = run(&sb, daemon).await;
    assert_eq!(o.verdict, Verdict::Passed, "{o:?}");
    let after = run(
        &sb,
        "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))",
    )
    .await;
    let pids: Vec<i32> = serde_json::from_str(after.stdout.trim()).unwrap();
    assert!(pids.len() <= 3, "the daemon is gone: {pids:?}");
}

#[tokio::test]
async fn segfault_is_killed_by_signal() {
    let sb = sandbox();
    let o = run(&sb, "import ctypes\nctypes.string_at(0)\n").await;
    assert_eq!(o.verdict, Verdict::Killed, "{o:?}");
    assert_eq!(o.signal, Some(11));
}

#[tokio::test]
async fn a_job_that_kills_its_fork_server_is_killed_and_the_pool_recovers() {
    let sb = sandbox();
    let o = run(
        &sb,
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    )
    .await;
    assert_eq!(
        o.verdict,
        Verdict::Killed,
        "the job's fault, not the sandbox's: {o:?}"
    );
    assert!(o.stderr.contains("killed its sandbox worker"), "{o:?}");
    assert_eq!(run(&sb, "print(2)").await.stdout, "2\n");
}

#[tokio::test]
async fn concurrent_jobs_on_several_workers() {
    let sb = Arc::new(
        Sandbox::new(SandboxConfig {
            workers: 2,
            ..SandboxConfig::default()
        })
        .unwrap(),
    );
    let jobs: Vec<_> = (0..20)
        .map(|i| {
            let sb = sb.clone();
            tokio::spawn(async move { sb.run(&Job::python(format!("print({i} * {i})"))).await })
        })
        .collect();
    for (i, j) in jobs.into_iter().enumerate() {
        let o = j.await.unwrap();
        assert_eq!(o.stdout.trim(), (i * i).to_string());
    }
}

#[tokio::test]
async fn stdin_reaches_the_job_from_no_file_another_process_could_open() {
    let sb = sandbox();
    let reads = "import os, sys\nprint(sys.stdin.read().upper())\nprint(os.readlink('/proc/self/fd/0'))\nprint(os.listdir('.'))\n";
    let o = sb.run(&Job::python(reads).stdin("task data")).await;
    assert_eq!(o.verdict, Verdict::Passed, "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "TASK DATA");
    assert!(lines[1].starts_with("/memfd:"), "an anonymous file: {o:?}");
    assert_eq!(lines[2], "[]", "nothing in the job's directory");
    let without = run(&sb, "import sys\nprint(repr(sys.stdin.read()))").await;
    assert_eq!(without.stdout, "''\n", "no stdin given: /dev/null");
}

#[tokio::test]
async fn a_trusted_program_is_compiled_once_and_runs_fresh_each_time() {
    let sb = sandbox();
    let program = "import sys\nseen = globals().setdefault('runs', 0) + 1\nglobals()['runs'] = seen\nprint(sys.stdin.read(), seen)\n";
    for input in ["first", "second"] {
        let o = sb.run(&Job::python(program).stdin(input).trusted()).await;
        assert_eq!(o.verdict, Verdict::Passed, "{o:?}");
        assert_eq!(o.stdout, format!("{input} 1\n"), "fresh globals every run");
    }
    let broken = sb.run(&Job::python("def broken(:\n").trusted()).await;
    assert_eq!(broken.verdict, Verdict::SandboxError, "{broken:?}");
    assert_eq!(
        run(&sb, "print(3)").await.stdout,
        "3\n",
        "the worker still serves"
    );
}
