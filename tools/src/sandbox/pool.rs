//! The pool of warm sandboxed fork servers.

use super::confine::{bwrap_options, find_executable};
use super::verdict::Reply;
use super::{Isolation, Job, Outcome, SandboxConfig, SandboxError, FORK_SERVER};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

/// Extra time the host grants a worker beyond a job's own deadline before it
/// declares the worker hung and replaces it.
const HOST_GRACE: Duration = Duration::from_secs(5);

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Host-side scratch directory (unsafe mode only), removed with the worker.
    _scratch: Option<tempfile::TempDir>,
}

struct Slot {
    index: u32,
    worker: Option<Worker>,
}

/// A pool of sandboxed Python workers. Cheap to share behind an `Arc`.
pub struct Sandbox {
    config: SandboxConfig,
    bwrap: Option<PathBuf>,
    slots: Mutex<Vec<Slot>>,
    permits: Semaphore,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.config)
            .finish()
    }
}

/// Workers started by this process so far; part of each worker's uid.
static SPAWNED: AtomicU32 = AtomicU32::new(0);

/// A uid of its own for each worker: the per-uid process limit is then the
/// worker's alone, even with several pools or several mneme processes at once.
/// 4096 processes × 16 workers each map into `[base, base + 65536)`.
fn worker_uid(base: u32, _slot: u32) -> u32 {
    let spawn = SPAWNED.fetch_add(1, Ordering::Relaxed) % 16;
    base + (std::process::id() % 4096) * 16 + spawn
}

impl Sandbox {
    /// A pool for `config`. Fails when bubblewrap is required and missing.
    /// Workers start lazily, on first use.
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        if config.workers == 0 {
            return Err(SandboxError::Config(
                "sandbox.workers must be at least 1".into(),
            ));
        }
        if config.max_processes < 2 {
            return Err(SandboxError::Config(
                "sandbox.max_processes must be at least 2".into(),
            ));
        }
        let bwrap = match config.isolation {
            Isolation::Bubblewrap => {
                let found = find_executable(&config.bwrap).ok_or_else(|| {
                    SandboxError::Unavailable(format!(
                        "bubblewrap ({}) was not found",
                        config.bwrap.display()
                    ))
                })?;
                if !config.python.starts_with("/usr") {
                    return Err(SandboxError::Config(format!(
                        "sandbox.python must live under /usr to be visible in the sandbox, got {}",
                        config.python.display()
                    )));
                }
                Some(found)
            }
            Isolation::UnsafeNone => {
                tracing::warn!("sandbox isolation is OFF: model-written code can see this machine's files and network");
                None
            }
        };
        if !config.python.is_file() {
            return Err(SandboxError::Config(format!(
                "no Python interpreter at {}",
                config.python.display()
            )));
        }
        let slots = (0..config.workers as u32)
            .map(|index| Slot {
                index,
                worker: None,
            })
            .collect();
        Ok(Self {
            permits: Semaphore::new(config.workers),
            slots: Mutex::new(slots),
            bwrap,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Runs one job and returns its outcome. Never panics on a misbehaving job:
    /// a worker that dies or hangs is replaced and the job gets `sandbox_error` or `timeout`.
    pub async fn run(&self, job: &Job) -> Outcome {
        let Ok(_permit) = self.permits.acquire().await else {
            return Outcome::sandbox_error("sandbox pool is closed");
        };
        let mut slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            match slots.pop() {
                Some(s) => s,
                None => return Outcome::sandbox_error("no free sandbox slot (internal error)"),
            }
        };
        let outcome = self.run_in(&mut slot, job).await;
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(slot);
        outcome
    }

    async fn run_in(&self, slot: &mut Slot, job: &Job) -> Outcome {
        if slot.worker.is_none() {
            match self.spawn(slot.index).await {
                Ok(w) => slot.worker = Some(w),
                Err(message) => return Outcome::sandbox_error(message),
            }
        }
        let Some(worker) = slot.worker.as_mut() else {
            return Outcome::sandbox_error("worker missing after start (internal error)");
        };
        let timeout = job.timeout.unwrap_or_else(|| self.config.timeout());
        let request = serde_json::json!({
            "code": job.code,
            "filename": if job.filename.is_empty() { "main.py" } else { &job.filename },
            "timeout_s": timeout.as_secs_f64(),
            "cpu_s": self.config.cpu_secs.min(timeout.as_secs() + 1).max(1),
            "memory_mb": job.memory_mb.unwrap_or(self.config.memory_mb),
            "max_output": self.config.max_output_bytes,
            "file_size_mb": self.config.file_size_mb,
            "stdin": job.stdin,
            "trusted": job.trusted,
        });
        let mut line = request.to_string();
        line.push('\n');
        let exchange = async {
            worker.stdin.write_all(line.as_bytes()).await?;
            worker.stdin.flush().await?;
            let mut reply = String::new();
            let n = worker.stdout.read_line(&mut reply).await?;
            Ok::<_, std::io::Error>((n, reply))
        };
        let result = tokio::time::timeout(timeout + HOST_GRACE, exchange).await;
        let reply = match result {
            Ok(Ok((n, reply))) if n > 0 => reply,
            Ok(Ok(_)) | Ok(Err(_)) => {
                // The worker answered the job before and dies only during it: the job killed
                // it (it runs as the worker's uid). The job's fault; the worker is replaced.
                let status = self.retire(slot).await;
                return Outcome {
                    verdict: super::Verdict::Killed,
                    exit_code: None,
                    signal: None,
                    stdout: String::new(),
                    stderr: format!("the job killed its sandbox worker ({status})"),
                    duration_ms: 0.0,
                };
            }
            Err(_) => {
                self.retire(slot).await;
                let mut o = Outcome::sandbox_error(
                    "the job ran past its deadline and the worker did not stop it",
                );
                o.verdict = super::Verdict::Timeout;
                return o;
            }
        };
        #[derive(serde::Deserialize)]
        struct ErrorReply {
            error: String,
        }
        if let Ok(e) = serde_json::from_str::<ErrorReply>(&reply) {
            return Outcome::sandbox_error(format!("fork server: {}", e.error));
        }
        match serde_json::from_str::<Reply>(&reply) {
            Ok(r) => r.into_outcome(self.config.max_output_bytes),
            Err(e) => {
                self.retire(slot).await;
                Outcome::sandbox_error(format!("unreadable reply from the fork server: {e}"))
            }
        }
    }

    async fn retire(&self, slot: &mut Slot) -> String {
        match slot.worker.take() {
            Some(mut w) => {
                let _ = w.child.start_kill();
                match w.child.wait().await {
                    Ok(s) => s.to_string(),
                    Err(e) => e.to_string(),
                }
            }
            None => "no worker".into(),
        }
    }

    /// Starts one worker and waits for its ready line.
    async fn spawn(&self, index: u32) -> Result<Worker, String> {
        let c = &self.config;
        let as_root = unsafe { libc::geteuid() } == 0;
        let uid = worker_uid(c.uid_base, index);
        let (mut cmd, scratch) = match &self.bwrap {
            Some(bwrap) => {
                let mut cmd = Command::new(bwrap);
                cmd.args(bwrap_options(c.tmpfs_mb))
                    .arg("--")
                    .arg(&c.python)
                    .args(["-I", "-c", FORK_SERVER, "/tmp", "1"]);
                (cmd, None)
            }
            None => {
                let scratch = tempfile::Builder::new()
                    .prefix("mneme-sandbox-")
                    .tempdir()
                    .map_err(|e| format!("cannot create a scratch directory: {e}"))?;
                if as_root {
                    let path =
                        std::ffi::CString::new(scratch.path().as_os_str().as_encoded_bytes())
                            .map_err(|e| e.to_string())?;
                    // SAFETY: chown on a path we just created.
                    unsafe { libc::chown(path.as_ptr(), uid, uid) };
                }
                let mut cmd = Command::new(&c.python);
                cmd.args(["-I", "-c", FORK_SERVER])
                    .arg(scratch.path())
                    .arg("0")
                    .current_dir(scratch.path());
                (cmd, Some(scratch))
            }
        };
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if as_root {
            cmd.uid(uid).gid(uid);
        }
        // The fork server, bubblewrap's own processes and every process of the job
        // count against this uid's limit; root would ignore it, hence the own uid.
        let nproc = (c.max_processes + 3) as libc::rlim_t;
        // SAFETY: setrlimit is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: nproc,
                    rlim_max: nproc,
                };
                if libc::setrlimit(libc::RLIMIT_NPROC, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the sandbox: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout pipe")?);
        let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let mut ready = String::new();
        let started =
            tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut ready)).await;
        if !matches!(started, Ok(Ok(n)) if n > 0 && ready.contains("ready")) {
            let _ = child.start_kill();
            let mut err = String::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(2), stderr.read_to_string(&mut err)).await;
            return Err(format!("the sandbox did not start: {}", err.trim()));
        }
        Ok(Worker {
            child,
            stdin,
            stdout,
            _scratch: scratch,
        })
    }
}
