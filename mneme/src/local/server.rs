//! Starting, finding and stopping a local OpenAI-compatible model server: llama.cpp's own
//! `llama-server` (the default: continuous batching over `parallel` slots, prompt-cache reuse)
//! or the `llama-cpp-python` server (the fallback: one request at a time).
//!
//! Servers run with `OMP_WAIT_POLICY=PASSIVE` unless the environment sets it (`WAIT_POLICY`).

use super::catalog::LocalModel;
use super::setup::DataDir;
use super::{log_tail, LocalError};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which server program serves the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKind {
    /// llama.cpp's `llama-server`, built from the sdist's vendored source.
    #[default]
    LlamaServer,
    /// The `llama-cpp-python` server in its virtualenv.
    LlamaCppPython,
}

impl ServerKind {
    /// Its name in configuration and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::LlamaServer => "llama-server",
            ServerKind::LlamaCppPython => "llama-cpp-python",
        }
    }
}

/// How server threads wait between operations unless `OMP_WAIT_POLICY` is set: they sleep.
/// Spinning (`OMP_WAIT_POLICY=ACTIVE`) makes llama-server 1.4x faster on a machine that does
/// nothing else, but on 2 cores two spinning servers, or one beside a build, fall to under
/// 1 token/s (docs/benchmarks.md, "Local model servers").
const WAIT_POLICY: &str = "PASSIVE";

/// Minimum matching prefix, in tokens, that llama-server reuses from a slot's cache by
/// shifting it (a task's retries share their long prompt head).
const CACHE_REUSE_TOKENS: &str = "256";

/// How to run a server.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    /// The server program.
    pub kind: ServerKind,
    /// Requests decoded together (llama-server's slots; the fallback always serves one).
    pub parallel: usize,
    /// The model to serve.
    pub model: &'static LocalModel,
    /// A small model of the same tokenizer family drafting tokens for `model` to verify
    /// (speculative decoding; llama-server only).
    pub draft: Option<&'static LocalModel>,
    /// Address to bind (keep it on loopback).
    pub host: String,
    /// Port to bind.
    pub port: u16,
    /// Threads for generation.
    pub threads: usize,
    /// Context window in tokens, per request.
    pub ctx_size: u32,
}

impl ServerSpec {
    /// The OpenAI-compatible base URL (`http://host:port/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}:{}/v1", self.host, self.port)
    }
}

/// What a detached server's pid file records.
#[derive(Debug, Serialize, Deserialize)]
pub struct PidFile {
    /// Process id.
    pub pid: u32,
    /// Catalog id of the model served.
    pub model: String,
    /// Port.
    pub port: u16,
}

/// A running server. A foreground one is killed when this is dropped.
pub struct LocalServer {
    /// Its spec.
    pub spec: ServerSpec,
    child: Option<Child>,
    log: PathBuf,
}

impl std::fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalServer")
            .field("spec", &self.spec)
            .field("log", &self.log)
            .finish()
    }
}

fn pid_path(data: &DataDir, port: u16) -> PathBuf {
    data.run().join(format!("server-{port}.json"))
}

fn spawn(
    data: &DataDir,
    spec: &ServerSpec,
    detached: bool,
) -> Result<(Child, PathBuf), LocalError> {
    let weights = data.weights(spec.model);
    fs::create_dir_all(data.logs()).map_err(LocalError::io("creating the log directory"))?;
    let log = data.logs().join(format!("server-{}.log", spec.port));
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(LocalError::io(format!("opening {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(LocalError::io("cloning log handle"))?;
    let mut cmd = server_command(data, spec, &weights);
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        cmd.env("OMP_WAIT_POLICY", WAIT_POLICY);
    }
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    for secret in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"] {
        cmd.env_remove(secret);
    }
    if detached {
        // Its own process group: Ctrl-C in the terminal that started it does not stop it.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    } else {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill this
        // child when the thread that spawned it exits.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let child = cmd
        .spawn()
        .map_err(LocalError::io(format!("starting {program}")))?;
    Ok((child, log))
}

/// The command line that serves `spec` with `weights`.
fn server_command(data: &DataDir, spec: &ServerSpec, weights: &Path) -> Command {
    let (port, threads) = (spec.port.to_string(), spec.threads.to_string());
    match spec.kind {
        ServerKind::LlamaServer => {
            let slots = spec.parallel.max(1);
            // The context is split between the slots: each gets `ctx_size`.
            let ctx = (spec.ctx_size as usize * slots).to_string();
            let mut cmd = Command::new(data.llama_server());
            cmd.arg("--model")
                .arg(weights)
                .args(["--host", &spec.host, "--port", &port])
                .args(["--ctx-size", &ctx, "--threads", &threads])
                .args(["--parallel", &slots.to_string(), "--cont-batching"])
                .args(["--cache-reuse", CACHE_REUSE_TOKENS])
                .args(["--alias", spec.model.alias, "--no-webui", "--metrics"]);
            if let Some(draft) = spec.draft {
                // Without a type, a plain draft model is loaded but never asked to draft.
                cmd.arg("--model-draft")
                    .arg(data.weights(draft))
                    .args(["--spec-type", "draft-simple"]);
            }
            cmd
        }
        ServerKind::LlamaCppPython => {
            let ctx = spec.ctx_size.to_string();
            let mut cmd = Command::new(data.python());
            cmd.args(["-m", "llama_cpp.server", "--model"])
                .arg(weights)
                .args(["--host", &spec.host, "--port", &port])
                .args(["--n_ctx", &ctx, "--n_threads", &threads])
                .args(["--model_alias", spec.model.alias]);
            cmd
        }
    }
}

/// What answers at a server's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Nothing listens there.
    Down,
    /// A server listed the models it serves.
    Serving(Vec<String>),
    /// Something listens but did not list its models in time. llama.cpp's Python server
    /// answers `/models` only between generations, so a busy server looks like this.
    Busy,
    /// Something listens but is not an OpenAI-compatible server (the reason).
    Unusable(String),
}

/// How long a quick probe waits for `/models`.
pub const QUICK_PROBE: Duration = Duration::from_secs(2);
/// How long to wait for a busy server to finish its generations and list its models.
pub const BUSY_WAIT: Duration = Duration::from_secs(600);

/// Asks the server at `base_url` which models it serves, waiting up to `wait` for the answer.
pub async fn probe(base_url: &str, wait: Duration) -> Probe {
    #[derive(Deserialize)]
    struct Models {
        data: Vec<ModelEntry>,
    }
    #[derive(Deserialize)]
    struct ModelEntry {
        id: String,
    }
    let client = match reqwest::Client::builder().timeout(wait).build() {
        Ok(c) => c,
        Err(e) => return Probe::Unusable(format!("no HTTP client: {e}")),
    };
    let response = match client.get(format!("{base_url}/models")).send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Probe::Down,
        Err(e) if e.is_timeout() => return Probe::Busy,
        Err(e) => return Probe::Unusable(e.to_string()),
    };
    let status = response.status();
    if !status.is_success() {
        return Probe::Unusable(format!("GET /models answered {status}"));
    }
    match response.json::<Models>().await {
        Ok(models) => Probe::Serving(models.data.into_iter().map(|m| m.id).collect()),
        Err(e) if e.is_timeout() => Probe::Busy,
        Err(e) => Probe::Unusable(format!("GET /models did not list models: {e}")),
    }
}

/// Probes quickly and, when the server is busy generating, waits for it to list its models.
pub async fn probe_patiently(base_url: &str) -> Probe {
    match probe(base_url, QUICK_PROBE).await {
        Probe::Busy => probe(base_url, BUSY_WAIT).await,
        other => other,
    }
}

async fn wait_ready(
    spec: &ServerSpec,
    child: &mut Child,
    log: &Path,
    limit: Duration,
) -> Result<(), LocalError> {
    let started = Instant::now();
    let fail = |problem: String| LocalError::Server {
        port: spec.port,
        problem,
        log: log.to_path_buf(),
        tail: log_tail(log, 20),
    };
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(LocalError::io("polling the server"))?
        {
            return Err(fail(format!("exited during start-up ({status})")));
        }
        if let Probe::Serving(_) = probe(&spec.base_url(), QUICK_PROBE).await {
            return Ok(());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            return Err(fail(format!("did not answer within {limit:?}")));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl LocalServer {
    /// Starts a server owned by this process (killed on drop or when this process dies).
    /// Used by tests.
    pub async fn start_foreground(data: &DataDir, spec: ServerSpec) -> Result<Self, LocalError> {
        let (mut child, log) = spawn(data, &spec, false)?;
        wait_ready(&spec, &mut child, &log, Duration::from_secs(180)).await?;
        Ok(Self {
            spec,
            child: Some(child),
            log,
        })
    }

    /// The server's log file.
    pub fn log(&self) -> &PathBuf {
        &self.log
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Makes sure a server for `spec` answers, starting a detached one if none does.
///
/// A server already on the port that serves a different model, or something on the port that
/// is not a model server, is an error, never silently used. A server busy with another run's
/// generations is waited for, not started twice.
pub async fn ensure_detached(data: &DataDir, spec: &ServerSpec) -> Result<(), LocalError> {
    let refuse = |problem: String| LocalError::Server {
        port: spec.port,
        problem,
        log: data.logs().join(format!("server-{}.log", spec.port)),
        tail: String::new(),
    };
    match probe_patiently(&spec.base_url()).await {
        Probe::Down => {}
        Probe::Serving(models) if models.iter().any(|m| m == spec.model.alias) => return Ok(()),
        Probe::Serving(models) => {
            return Err(refuse(format!(
                "is already serving {models:?}, not {}; stop it (`mneme model stop` if mneme \
                 started it) or set local.port to another port",
                spec.model.alias
            )))
        }
        Probe::Busy => {
            return Err(refuse(format!(
                "accepts connections but did not list its models within {BUSY_WAIT:?}"
            )))
        }
        Probe::Unusable(why) => {
            return Err(refuse(format!(
                "is taken by something that is not a model server ({why})"
            )))
        }
    }
    let (mut child, log) = spawn(data, spec, true)?;
    eprintln!(
        "mneme: starting the local model server ({}) on {}; log: {}",
        spec.model.id,
        spec.base_url(),
        log.display()
    );
    wait_ready(spec, &mut child, &log, Duration::from_secs(180)).await?;
    fs::create_dir_all(data.run()).map_err(LocalError::io("creating the run directory"))?;
    let pid = PidFile {
        pid: child.id(),
        model: spec.model.id.to_string(),
        port: spec.port,
    };
    fs::write(
        pid_path(data, spec.port),
        serde_json::to_vec(&pid).unwrap_or_default(),
    )
    .map_err(LocalError::io("writing the pid file"))?;
    Ok(())
}

/// Stops the detached server on `port`. Returns whether one was stopped.
pub fn stop(data: &DataDir, port: u16) -> Result<bool, LocalError> {
    let path = pid_path(data, port);
    let Ok(bytes) = fs::read(&path) else {
        return Ok(false);
    };
    let Ok(pid) = serde_json::from_slice::<PidFile>(&bytes) else {
        let _ = fs::remove_file(&path);
        return Ok(false);
    };
    // SAFETY: kill(2) with a pid we started; a stale pid at worst gets ESRCH.
    let alive = unsafe { libc::kill(pid.pid as i32, libc::SIGTERM) } == 0;
    let _ = fs::remove_file(&path);
    Ok(alive)
}

/// The pid file of the detached server on `port`, if any.
pub fn pid_file(data: &DataDir, port: u16) -> Option<PidFile> {
    serde_json::from_slice(&fs::read(pid_path(data, port)).ok()?).ok()
}
