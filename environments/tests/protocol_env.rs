//! The Python example environment driven through the JSON-lines protocol, and
//! environments that crash, hang or write garbage.

use environments::suites::load_custom_tasks;
use environments::{Action, EnvError, Environment, ProtocolConfig, ProtocolEnv, TaskSuite};
use std::path::PathBuf;
use std::time::Duration;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/envs")
}

fn text_game() -> ProtocolEnv {
    let script = examples_dir().join("text_game.py");
    ProtocolEnv::spawn(ProtocolConfig::new(
        "text_game",
        vec!["python3".into(), script.display().to_string()],
    ))
    .unwrap()
}

fn inline(name: &str, code: &str, timeout: Duration) -> ProtocolEnv {
    let mut config = ProtocolConfig::new(name, vec!["python3".into(), "-c".into(), code.into()]);
    config.timeout = timeout;
    ProtocolEnv::spawn(config).unwrap()
}

#[tokio::test]
async fn text_game_is_won_through_the_protocol() {
    let suite = load_custom_tasks(&examples_dir().join("text_game_tasks.jsonl")).unwrap();
    assert_eq!(suite.tasks().len(), 3);
    let task = suite.get("pillow").unwrap();
    let mut env = text_game();
    let first = env.reset(task).await.unwrap();
    assert!(
        first.text.contains("Find the gem") && first.text.contains("chest (locked)"),
        "{}",
        first.text
    );

    let miss = env.step(&Action::act("search rug")).await.unwrap();
    assert!(miss.observation.text.contains("Nothing under the rug"));
    assert_eq!((miss.reward, miss.done), (0.0, false));

    // Branch: snapshot, make a useless move, restore, and the step counter is back.
    let snap = env.snapshot().await.unwrap();
    env.step(&Action::act("dance")).await.unwrap();
    env.restore(&snap).await.unwrap();

    for cmd in ["search pillow", "take key", "open chest"] {
        let s = env.step(&Action::act(cmd)).await.unwrap();
        assert!(!s.done, "{cmd}: {}", s.observation.text);
    }
    let win = env.step(&Action::act("take gem")).await.unwrap();
    assert_eq!(
        (win.reward, win.done),
        (1.0, true),
        "{}",
        win.observation.text
    );
    assert_eq!(
        win.info["steps"], 5,
        "the restored branch's move was undone"
    );
    env.close().await.unwrap();
}

#[tokio::test]
async fn running_out_of_moves_ends_without_reward() {
    let suite = load_custom_tasks(&examples_dir().join("text_game_tasks.jsonl")).unwrap();
    let mut env = text_game();
    env.reset(suite.get("plant").unwrap()).await.unwrap();
    let mut last = None;
    for _ in 0..8 {
        last = Some(env.step(&Action::act("look")).await.unwrap());
    }
    let last = last.unwrap();
    assert!(last.done && last.reward == 0.0 && last.observation.text.contains("out of moves"));
}

#[tokio::test]
async fn an_error_reply_is_reported_and_the_env_keeps_serving() {
    let suite = load_custom_tasks(&examples_dir().join("text_game_tasks.jsonl")).unwrap();
    let mut env = text_game();
    let err = env.step(&Action::act("look")).await.unwrap_err();
    assert!(
        matches!(err, EnvError::Reported { .. }) && err.to_string().contains("step before reset"),
        "{err}"
    );
    env.reset(suite.get("rug").unwrap()).await.unwrap();
}

#[tokio::test]
async fn a_crash_is_a_clear_error_with_stderr() {
    let code = "import sys, json\nline = sys.stdin.readline()\nsys.stderr.write('boom: the env fell over\\n')\nsys.exit(3)\n";
    let mut env = inline("crasher", code, Duration::from_secs(5));
    let task = load_custom_tasks(&examples_dir().join("text_game_tasks.jsonl"))
        .unwrap()
        .tasks()[0]
        .clone();
    let err = env.reset(&task).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EnvError::Crashed { .. }), "{text}");
    assert!(
        text.contains("exit status: 3") && text.contains("boom: the env fell over"),
        "{text}"
    );
    assert!(env
        .step(&Action::act("x"))
        .await
        .unwrap_err()
        .to_string()
        .contains("closed"));
    // A reset starts the process again: it crashes again here, rather than being "closed".
    let again = env.reset(&task).await.unwrap_err();
    assert!(matches!(again, EnvError::Crashed { .. }), "{again}");
}

#[tokio::test]
async fn a_hang_times_out() {
    let code = "import sys, time\nsys.stdin.readline()\ntime.sleep(60)\n";
    let mut env = inline("sleeper", code, Duration::from_millis(500));
    let task = load_custom_tasks(&examples_dir().join("text_game_tasks.jsonl"))
        .unwrap()
        .tasks()[0]
        .clone();
    let err = env.reset(&task).await.unwrap_err();
    assert!(matches!(err, EnvError::Timeout { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("did not answer `reset` within 0.5 s"),
        "{err}"
    );
}

#[tokio::test]
async fn a_malformed_line_is_quoted() {
    let code = "import sys\nsys.stdin.readline()\nprint('observation: you are in a room', flush=True)\nsys.stdin.readline()\n";
    let mut env = inline("garbler", code, Duration::from_secs(5));
    let task = load_custom_tasks(&examples_dir().join("text_game_tasks.jsonl"))
        .unwrap()
        .tasks()[0]
        .clone();
    let err = env.reset(&task).await.unwrap_err();
    assert!(matches!(err, EnvError::Protocol { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("\"observation: you are in a room\""),
        "quotes the line: {err}"
    );

    let code = "import sys\nsys.stdin.readline()\nprint('{\"observation\": \"ok\"}', flush=True)\nsys.stdin.readline()\nprint('{\"observation\": \"x\", \"reward\": \"lots\"}', flush=True)\n";
    let mut env = inline("typo", code, Duration::from_secs(5));
    env.reset(&task).await.unwrap();
    let err = env.step(&Action::act("go")).await.unwrap_err();
    assert!(
        err.to_string().contains("`reward` must be a number"),
        "{err}"
    );
}
