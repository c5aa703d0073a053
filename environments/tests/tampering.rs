//! Solutions that try to pass without passing, through the real sandbox and the real check
//! program. Every one must be "not passed", by the hidden tests and by the internal tests;
//! the honest solution passes and the plainly wrong one fails, so the checks can tell.

use environments::code::{score_submission, Check};
use environments::suites::parse_jsonl;
use environments::{Action, CodingEnv, Environment, Task, TaskSuite};
use std::sync::Arc;
use tools::sandbox::{Sandbox, SandboxConfig, Verdict};

const TASK: &str = r#"{"task_id": "t/add", "prompt": "def add(a, b):\n    \"\"\"Adds two numbers.\n    >>> add(1, 2)\n    3\n    \"\"\"\n", "entry_point": "add", "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n    assert isinstance(candidate(10, 5), int)\n    assert abs(candidate(10, 5) - 15) == 0\n"}"#;

/// Each tampering attempt: a name and a solution of `add`.
const TAMPERING: &[(&str, &str)] = &[
    ("SystemExit(0) in the body", "def add(a, b):\n    raise SystemExit(0)\n"),
    ("bare exit()", "def add(a, b):\n    exit()\n"),
    (
        "sys.exit(0) in a helper",
        "import sys\ndef helper():\n    sys.exit(0)\ndef add(a, b):\n    helper()\n",
    ),
    ("KeyboardInterrupt", "def add(a, b):\n    raise KeyboardInterrupt\n"),
    ("os._exit(0) in the body", "import os\ndef add(a, b):\n    os._exit(0)\n"),
    (
        "os._exit(0) in a top-level assignment",
        "def add(a, b):\n    return 0\n_ = __import__('os')._exit(0)\n",
    ),
    (
        "an int whose __eq__ always holds",
        "class Liar(int):\n    def __eq__(self, other):\n        return True\n    def __sub__(self, other):\n        return Liar(0)\n    __hash__ = int.__hash__\ndef add(a, b):\n    return Liar(0)\n",
    ),
    (
        "an object whose __eq__ always holds",
        "class Any:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return Any()\n",
    ),
    (
        "a list subclass",
        "class L(list):\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return L()\n",
    ),
    (
        "an atexit hook that exits 0",
        "import atexit, os\natexit.register(lambda: os._exit(0))\ndef add(a, b):\n    return 0\n",
    ),
    (
        "patched builtins (AssertionError, abs, isinstance)",
        "import builtins\nbuiltins.AssertionError = type('Nope', (BaseException,), {})\nbuiltins.abs = lambda x: 0\nbuiltins.isinstance = lambda *a: True\ndef add(a, b):\n    return a - b\n",
    ),
    (
        "a patched print",
        "import builtins\nbuiltins.print = lambda *a, **k: None\ndef add(a, b):\n    return a - b\n",
    ),
    (
        "a guessed token and report on stdout",
        "import sys\ndef add(a, b):\n    sys.stdout.write('\\nmneme-check-00000000000000000000000000000000 {\"mode\": \"hidden\", \"verdict\": \"passed\", \"loaded\": true, \"tests\": 1, \"passed\": 1, \"skipped\": 0, \"calls\": 1, \"failures\": [], \"reason\": null}\\n')\n    sys.stdout.flush()\n    return 0\n",
    ),
    (
        "SIGKILL to itself",
        "import os, signal\ndef add(a, b):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    ),
    (
        "SIGKILL to its parent",
        "import os, signal\ndef add(a, b):\n    os.kill(os.getppid(), signal.SIGKILL)\n",
    ),
    (
        "SIGTERM to its whole process group",
        "import os, signal\ndef add(a, b):\n    os.killpg(0, signal.SIGTERM)\n",
    ),
    (
        "SIGSTOP to its parent",
        "import os, signal\ndef add(a, b):\n    os.kill(os.getppid(), signal.SIGSTOP)\n    return 0\n",
    ),
    (
        "reading the checker's stdin and memory",
        "import os\ndef add(a, b):\n    for path in ('/proc/%d/fd/0' % os.getppid(), '/proc/%d/mem' % os.getppid(), '/dev/stdin'):\n        try:\n            data = open(path, 'rb').read()\n        except OSError:\n            continue\n        if b'candidate(2, 3)' in data:\n            return 5\n    return 0\n",
    ),
    (
        "a check() of its own",
        "def check(candidate):\n    pass\ndef add(a, b):\n    return 0\n",
    ),
    (
        "a daemon printing a forged report later",
        "import os, time\ndef add(a, b):\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(0.2)\n        print('\\nmneme-check-1 {\"verdict\": \"passed\"}', flush=True)\n        os._exit(0)\n    return 0\n",
    ),
    (
        "a generator instead of a value",
        "def add(a, b):\n    yield a + b\n",
    ),
    (
        "an exception of its own BaseException class",
        "class Stop(BaseException):\n    pass\ndef add(a, b):\n    raise Stop()\n",
    ),
];

const HONEST: &str = "def add(a, b):\n    return a + b\n";
const WRONG: &str = "def add(a, b):\n    return a - b\n";

fn task() -> Task {
    parse_jsonl(TASK, "inline", "toy").unwrap().tasks()[0].clone()
}

fn sandbox() -> Arc<Sandbox> {
    let config = SandboxConfig {
        timeout_secs: 5.0,
        ..SandboxConfig::default()
    };
    Arc::new(Sandbox::new(config).expect("bubblewrap is installed"))
}

async fn hidden(sb: &Sandbox, code: &str) -> Check {
    score_submission(sb, &task(), code).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tampering_attempt_fails_the_hidden_tests() {
    let sb = sandbox();
    let honest = hidden(&sb, HONEST).await;
    assert!(honest.passed(), "the honest solution passes: {honest:?}");
    let report = honest.report.as_ref().unwrap();
    assert_eq!((report.tests, report.calls), (1, 4), "{report:?}");
    assert_eq!(hidden(&sb, WRONG).await.verdict, Verdict::Failed);

    let mut passed = Vec::new();
    for (name, code) in TAMPERING {
        let check = hidden(&sb, code).await;
        if check.passed() || check.reason.is_none() {
            passed.push(format!("{name}: {check:?}"));
        }
    }
    assert!(passed.is_empty(), "scored as passed: {passed:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tampering_attempt_fails_the_internal_tests() {
    let mut env = CodingEnv::new(sandbox());
    let task = task();
    env.reset(&task).await.unwrap();
    env.set_internal_asserts(vec!["assert add(2, 3) == 5".into()]);
    let honest = env.step(&Action::test(HONEST)).await.unwrap();
    assert_eq!(honest.reward, 1.0, "{}", honest.observation.text);
    let mut passed = Vec::new();
    for (name, code) in TAMPERING {
        let step = env.step(&Action::test(*code)).await.unwrap();
        if step.reward >= 1.0 || step.info["verdict"] == "passed" {
            passed.push(format!("{name}: {}", step.observation.text));
        }
    }
    assert!(passed.is_empty(), "internal tests passed: {passed:#?}");
}

#[tokio::test]
async fn the_verdict_says_why() {
    let sb = sandbox();
    let reason = |c: Check| c.reason.unwrap_or_default();
    let exit = reason(hidden(&sb, TAMPERING[0].1).await);
    assert!(
        exit.contains("raised SystemExit during add(2, 3)"),
        "{exit}"
    );
    let os_exit = reason(hidden(&sb, TAMPERING[4].1).await);
    assert!(
        os_exit.contains("process ended during add(2, 3)"),
        "{os_exit}"
    );
    let liar = reason(hidden(&sb, TAMPERING[6].1).await);
    assert!(
        liar.contains("not plain data") && liar.contains("Liar"),
        "{liar}"
    );
    let parent = hidden(&sb, TAMPERING[14].1).await;
    assert_eq!(parent.verdict, Verdict::Killed, "{parent:?}");
    let wrong = reason(hidden(&sb, WRONG).await);
    assert!(
        wrong.contains("a hidden test failed at line 2: assert candidate(2, 3) == 5"),
        "{wrong}"
    );
}

#[tokio::test]
async fn task_text_that_looks_like_a_placeholder_stays_data() {
    // Task data reaches the check program on stdin, so text in the candidate is never
    // substituted into its source.
    let sb = sandbox();
    let code = "def add(a, b):\n    # __MODE__ __HIDDEN__ __CANDIDATE__ __EXAMPLES__\n    return a + b if '__ENTRY__' else 0\n";
    let check = hidden(&sb, code).await;
    assert!(check.passed(), "{check:?}");
}

#[tokio::test]
async fn plain_data_crosses_intact() {
    let test = "def check(candidate):\n    import math\n    for v in [None, True, 0, -7, 2**100, 1.5, float('inf'), 'é\\x00', b'\\x00\\xff', (1, (2,)), [1, [2, 3]], {1: 'a', (2, 3): [4]}, {1, 2}, frozenset({3}), 3+4j, {'k': {'n': [None]}}]:\n        got = candidate(v)\n        assert got == v and type(got) is type(v), (v, got)\n    assert math.isnan(candidate(float('nan')))\n    assert candidate(x=[1]) == [1]\n";
    let task_line = serde_json::json!({"task_id": "t/echo", "prompt": "def echo(x):\n    pass\n", "entry_point": "echo", "test": test}).to_string();
    let task = parse_jsonl(&task_line, "inline", "toy").unwrap().tasks()[0].clone();
    let check = score_submission(&sandbox(), &task, "def echo(x):\n    return x\n")
        .await
        .unwrap();
    assert!(check.passed(), "{check:?}");
}
