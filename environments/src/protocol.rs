//! Environments in any language: a process that speaks JSON lines on stdin/stdout.
//!
//! The framework sends one request per line and reads one reply per line:
//!
//! | request | reply |
//! |---|---|
//! | `{"op": "reset", "task": {"id": …, "prompt": …, …}}` | `{"observation": …}` |
//! | `{"op": "step", "action": {"kind": …, "content": …}}` | `{"observation": …, "reward": 0.0, "done": false, "info": {}}` |
//! | `{"op": "snapshot"}` (optional) | `{"snapshot": <any JSON>}` |
//! | `{"op": "restore", "snapshot": <as given>}` (optional) | `{"ok": true}` |
//! | `{"op": "close"}` | `{"ok": true}`, then exit |
//!
//! An observation is a string or `{"text": …, "data": …}`. Any reply may instead be
//! `{"error": "message"}`. Anything the process writes to stderr is kept for error
//! messages. A process that died (or hung and was killed) is started again by the next `reset`.
//! See `docs/environments.md`.

use crate::{Action, EnvError, Environment, Observation, Snapshot, Step, Task, TaskKind};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How to start and talk to an environment process.
#[derive(Clone, Debug)]
pub struct ProtocolConfig {
    /// A short name for messages.
    pub name: String,
    /// Program and arguments, e.g. `["python3", "examples/envs/text_game.py"]`.
    pub command: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// How long one reply may take.
    pub timeout: Duration,
}

impl ProtocolConfig {
    /// A config for `command` with a 30-second reply timeout.
    pub fn new(name: impl Into<String>, command: Vec<String>) -> Self {
        Self {
            name: name.into(),
            command,
            cwd: None,
            timeout: Duration::from_secs(30),
        }
    }
}

struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// A running environment process.
pub struct ProtocolEnv {
    config: ProtocolConfig,
    process: Option<Process>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

const STDERR_LINES: usize = 20;

impl ProtocolEnv {
    /// Starts the process.
    pub fn spawn(config: ProtocolConfig) -> Result<Self, EnvError> {
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let process = start(&config, &stderr_tail)?;
        Ok(Self {
            config,
            process: Some(process),
            stderr_tail,
        })
    }

    fn stderr_tail(&self) -> String {
        let t = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        t.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    fn malformed(&self, line: &str, problem: impl Into<String>) -> EnvError {
        let cut: String = line.trim_end().chars().take(500).collect();
        EnvError::Protocol {
            env: self.config.name.clone(),
            line: cut,
            problem: problem.into(),
        }
    }

    /// Sends one request and returns the reply object.
    async fn call(
        &mut self,
        op: &str,
        request: Value,
    ) -> Result<serde_json::Map<String, Value>, EnvError> {
        let name = self.config.name.clone();
        let timeout = self.config.timeout;
        let Some(process) = self.process.as_mut() else {
            return Err(EnvError::Usage(format!("environment `{name}` is closed")));
        };
        let mut line = request.to_string();
        line.push('\n');
        let exchange = async {
            process.stdin.write_all(line.as_bytes()).await?;
            process.stdin.flush().await?;
            let mut reply = String::new();
            let n = process.stdout.read_line(&mut reply).await?;
            Ok::<_, std::io::Error>((n, reply))
        };
        let reply = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                self.kill().await;
                return Err(EnvError::Timeout {
                    env: name,
                    op: op.into(),
                    secs: timeout.as_secs_f64(),
                });
            }
            Ok(Ok((n, reply))) if n > 0 => reply,
            Ok(_) => {
                let status = self.kill().await;
                // Let the stderr reader catch up with the dying process.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(EnvError::Crashed {
                    env: name,
                    op: op.into(),
                    status,
                    stderr: self.stderr_tail(),
                });
            }
        };
        let value: Value = serde_json::from_str(reply.trim())
            .map_err(|e| self.malformed(&reply, e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(self.malformed(&reply, "a reply must be a JSON object"));
        };
        if let Some(err) = map.get("error") {
            let message = err
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| err.to_string());
            return Err(EnvError::Reported { env: name, message });
        }
        Ok(map)
    }

    async fn kill(&mut self) -> String {
        match self.process.take() {
            Some(mut p) => {
                let _ = p.child.start_kill();
                match p.child.wait().await {
                    Ok(s) => s.to_string(),
                    Err(e) => e.to_string(),
                }
            }
            None => "already closed".into(),
        }
    }

    fn observation(
        &self,
        map: &serde_json::Map<String, Value>,
        raw: &Value,
    ) -> Result<Observation, EnvError> {
        match map.get("observation") {
            Some(Value::String(s)) => Ok(Observation::text(s.clone())),
            Some(Value::Object(o)) => {
                let text = o.get("text").and_then(Value::as_str).ok_or_else(|| {
                    self.malformed(&raw.to_string(), "`observation.text` must be a string")
                })?;
                Ok(Observation {
                    text: text.to_string(),
                    data: o.get("data").cloned().unwrap_or(Value::Null),
                })
            }
            Some(_) => Err(self.malformed(
                &raw.to_string(),
                "`observation` must be a string or an object",
            )),
            None => Err(self.malformed(&raw.to_string(), "missing `observation`")),
        }
    }
}

/// Starts `config`'s process; its stderr lines go to `stderr_tail`.
fn start(
    config: &ProtocolConfig,
    stderr_tail: &Arc<Mutex<VecDeque<String>>>,
) -> Result<Process, EnvError> {
    let (program, args) = config.command.split_first().ok_or_else(|| {
        EnvError::Usage(format!(
            "environment `{}` has an empty command",
            config.name
        ))
    })?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = &config.cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().map_err(|e| EnvError::Io {
        context: format!(
            "starting environment `{}` ({})",
            config.name,
            config.command.join(" ")
        ),
        source: e,
    })?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| EnvError::Usage("no stdin pipe".into()))?;
    let stdout = BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| EnvError::Usage("no stdout pipe".into()))?,
    );
    if let Some(stderr) = child.stderr.take() {
        let tail = stderr_tail.clone();
        let name = config.name.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(env = %name, "{line}");
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() == STDERR_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
    }
    Ok(Process {
        child,
        stdin,
        stdout,
    })
}

fn task_json(task: &Task) -> Value {
    let mut v = match &task.kind {
        TaskKind::Custom(Value::Object(extra)) => Value::Object(extra.clone()),
        _ => json!({}),
    };
    v["id"] = json!(task.id);
    v["prompt"] = json!(task.prompt);
    v
}

#[async_trait]
impl Environment for ProtocolEnv {
    async fn reset(&mut self, task: &Task) -> Result<Observation, EnvError> {
        if self.process.is_none() {
            // It died (or hung and was killed) earlier: a reset starts a fresh process.
            self.process = Some(start(&self.config, &self.stderr_tail)?);
        }
        let map = self
            .call("reset", json!({"op": "reset", "task": task_json(task)}))
            .await?;
        self.observation(&map, &Value::Object(map.clone()))
    }

    async fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        let map = self
            .call("step", json!({"op": "step", "action": action}))
            .await?;
        let raw = Value::Object(map.clone());
        let observation = self.observation(&map, &raw)?;
        let reward = match map.get("reward") {
            None | Some(Value::Null) => 0.0,
            Some(v) => v
                .as_f64()
                .ok_or_else(|| self.malformed(&raw.to_string(), "`reward` must be a number"))?,
        };
        let done = match map.get("done") {
            None | Some(Value::Null) => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.malformed(&raw.to_string(), "`done` must be true or false"))?,
        };
        Ok(Step {
            observation,
            reward,
            done,
            info: map.get("info").cloned().unwrap_or(Value::Null),
        })
    }

    async fn snapshot(&mut self) -> Result<Snapshot, EnvError> {
        let map = self.call("snapshot", json!({"op": "snapshot"})).await?;
        map.get("snapshot").cloned().map(Snapshot).ok_or_else(|| {
            self.malformed(
                &Value::Object(map.clone()).to_string(),
                "missing `snapshot`",
            )
        })
    }

    async fn restore(&mut self, snapshot: &Snapshot) -> Result<(), EnvError> {
        self.call("restore", json!({"op": "restore", "snapshot": snapshot.0}))
            .await
            .map(|_| ())
    }

    async fn close(&mut self) -> Result<(), EnvError> {
        if self.process.is_none() {
            return Ok(());
        }
        let result = self.call("close", json!({"op": "close"})).await.map(|_| ());
        if let Some(mut p) = self.process.take() {
            drop(p.stdin);
            if tokio::time::timeout(Duration::from_secs(2), p.child.wait())
                .await
                .is_err()
            {
                let _ = p.child.start_kill();
            }
        }
        result
    }

    fn name(&self) -> &str {
        &self.config.name
    }
}

/// Grades an episode by replaying its actions (a JSON array of [`Action`]s, the candidate an
/// episode strategy submits) in a fresh process of the environment: it passes when the total
/// reward reaches `success_reward`. The agent's own account of its episode is never trusted.
pub struct ReplayGrader {
    config: ProtocolConfig,
    success_reward: f64,
}

impl ReplayGrader {
    /// A grader starting `config`'s process for every replay.
    pub fn new(config: ProtocolConfig, success_reward: f64) -> Self {
        Self {
            config,
            success_reward,
        }
    }

    async fn replay(
        &self,
        env: &mut ProtocolEnv,
        task: &Task,
        actions: &[Action],
    ) -> Result<f64, EnvError> {
        env.reset(task).await?;
        let mut total = 0.0;
        for action in actions {
            let step = env.step(action).await?;
            total += step.reward;
            if step.done {
                break;
            }
        }
        Ok(total)
    }
}

#[async_trait]
impl crate::Grader for ReplayGrader {
    async fn grade(&self, task: &Task, candidate: &str) -> Result<crate::Grade, EnvError> {
        let actions: Vec<Action> = serde_json::from_str(candidate).map_err(|e| {
            EnvError::Usage(format!(
                "an episode to replay must be a JSON array of actions: {e}"
            ))
        })?;
        let mut env = ProtocolEnv::spawn(self.config.clone())?;
        let total = self.replay(&mut env, task, &actions).await;
        let closed = env.close().await;
        let total = total?;
        closed?;
        let passed = total >= self.success_reward;
        Ok(crate::Grade {
            passed,
            verdict: if passed { "passed" } else { "failed" }.into(),
            reason: (!passed).then(|| {
                format!(
                    "the replayed episode's total reward {total} is below {}",
                    self.success_reward
                )
            }),
        })
    }
}
