//! Checks that take a second, made before any step that takes minutes.
//!
//! A fresh machine should learn that bubblewrap is missing before it builds llama.cpp for a
//! quarter of an hour, not after. Each problem comes with the command that fixes it.

use crate::config::Config;
use crate::local::{catalog, DataDir, ServerKind};
use std::path::Path;
use std::process::{Command, Stdio};

/// Free space the first set-up of the local model server needs (build tree, virtualenv, weights).
const SETUP_SPACE: u64 = 3 << 30;

/// One thing that would stop a run, and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// What is wrong.
    pub what: String,
    /// The command (or setting) that fixes it.
    pub fix: String,
}

/// Everything the checks found, as one error naming each problem and its fix.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(.0))]
pub struct PreflightError(pub Vec<Problem>);

fn describe(problems: &[Problem]) -> String {
    let mut text = String::from("this machine is not ready for the run:");
    for p in problems {
        text.push_str(&format!("\n  - {}\n    fix: {}", p.what, p.fix));
    }
    text
}

/// `apt-get install` of `packages`, with `sudo` unless this process is root.
fn apt(packages: &str) -> String {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let sudo = if root { "" } else { "sudo " };
    format!("{sudo}apt-get update && {sudo}apt-get install -y {packages}")
}

/// Checks what a run with `config` needs (model `model_id` served locally, when that applies).
pub fn check_run(config: &Config, model_id: Option<&str>) -> Result<(), PreflightError> {
    let mut problems = sandbox_problems(config);
    if config.uses_local_server() && config.local.autostart {
        problems.extend(local_server_problems(config, model_id));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PreflightError(problems))
    }
}

/// The sandbox for model-written code: bubblewrap and an interpreter under `/usr`.
pub fn sandbox_problems(config: &Config) -> Vec<Problem> {
    match tools::Sandbox::new(config.sandbox.clone()) {
        Ok(_) => Vec::new(),
        Err(tools::sandbox::SandboxError::Unavailable(why)) => vec![Problem {
            what: format!("cannot sandbox model-written code: {why}"),
            fix: apt("bubblewrap"),
        }],
        Err(e) => {
            let python = &config.sandbox.python;
            let fix = if python == Path::new("/usr/bin/python3") && !python.exists() {
                apt("python3")
            } else {
                "set sandbox.python to an interpreter under /usr (mneme.toml or MNEME_SANDBOX__PYTHON)"
                    .into()
            };
            vec![Problem {
                what: e.to_string(),
                fix,
            }]
        }
    }
}

/// What building the local model server for the first time needs: Python with `venv` and
/// `ensurepip` (the server's or the build tools' virtualenv), a C++ compiler, and room on
/// disk. Nothing is checked once the server is built.
fn local_server_problems(config: &Config, model_id: Option<&str>) -> Vec<Problem> {
    let data = DataDir::new(config.data_dir());
    let mut problems = Vec::new();
    let model = catalog::find(model_id.unwrap_or(&config.local.model));
    let weights_missing = model.as_ref().is_ok_and(|m| !data.weights(m).exists());
    let program_missing = match config.local.server {
        ServerKind::LlamaServer => !data.llama_server().exists(),
        ServerKind::LlamaCppPython => !data.python().exists(),
    };
    if program_missing && !runs_ok(Command::new("c++").arg("--version")) {
        problems.push(Problem {
            what: "no C++ compiler (`c++`) to build llama.cpp's server with".into(),
            fix: apt("g++"),
        });
    }
    let venv_missing = program_missing;
    if venv_missing {
        let python = tools::pypi::host_python();
        if !tools::pypi::imports(&python, "venv, ensurepip") {
            problems.push(Problem {
                what: format!(
                    "`{python}` cannot create a virtualenv (the local model server is built into one)"
                ),
                fix: apt("python3 python3-venv"),
            });
        }
    }
    if venv_missing || weights_missing {
        let root = existing_ancestor(data.root());
        if let Some(free) = free_bytes(&root).filter(|free| *free < SETUP_SPACE) {
            problems.push(Problem {
                what: format!(
                    "{} has {:.1} GiB free; setting up the local model server needs about {} GiB",
                    root.display(),
                    free as f64 / (1u64 << 30) as f64,
                    SETUP_SPACE >> 30
                ),
                fix: "free disk space, or point MNEME_DATA_DIR at a disk with room".into(),
            });
        }
    }
    problems
}

/// Whether `cmd` starts and exits 0 (its output discarded).
fn runs_ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `path` or its nearest ancestor that exists (the data directory may not exist yet).
fn existing_ancestor(path: &Path) -> std::path::PathBuf {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

/// Bytes available to this user on the file system holding `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs writes into the struct we own; the path is NUL-terminated.
    let status = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    (status == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bubblewrap_is_named_with_the_install_command() {
        let mut config = Config::default();
        config.sandbox.bwrap = "/nonexistent/bwrap".into();
        let problems = sandbox_problems(&config);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].what.contains("/nonexistent/bwrap"),
            "{problems:?}"
        );
        assert!(
            problems[0].fix.contains("apt-get install -y bubblewrap"),
            "{problems:?}"
        );
    }

    #[test]
    fn an_interpreter_outside_usr_is_named() {
        let mut config = Config::default();
        config.sandbox.python = "/opt/python3".into();
        let problems = sandbox_problems(&config);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].what.contains("/opt/python3"), "{problems:?}");
        assert!(problems[0].fix.contains("sandbox.python"), "{problems:?}");
    }

    #[test]
    fn free_space_is_read_from_the_nearest_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not/yet/there");
        assert_eq!(existing_ancestor(&missing), dir.path());
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
    }

    #[test]
    fn every_problem_is_in_the_error_with_its_fix() {
        let error = PreflightError(vec![
            Problem {
                what: "a".into(),
                fix: "fix a".into(),
            },
            Problem {
                what: "b".into(),
                fix: "fix b".into(),
            },
        ]);
        let text = error.to_string();
        assert!(text.contains("- a\n    fix: fix a") && text.contains("- b\n    fix: fix b"));
    }
}
