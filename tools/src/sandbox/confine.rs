//! The bubblewrap confinement shared by the sandbox's workers and by trusted processes that
//! run model-written code themselves (an environment executing the agent's programs).

use super::{Isolation, SandboxConfig, SandboxError};
use std::path::{Path, PathBuf};

/// Finds an executable by name on `PATH` (or checks a path).
pub(crate) fn find_executable(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return name.is_file().then(|| name.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// bubblewrap's options for a confined process, up to (not including) `--`: every namespace
/// (no network), no further user namespaces, dies with its parent, its own session; `/usr`
/// read-only, fresh `/proc` and `/dev`, a `tmpfs_mb` tmpfs at `/tmp` (the working directory);
/// an environment holding only `PATH`, `HOME`, `LANG` and `PYTHONDONTWRITEBYTECODE`.
pub(crate) fn bwrap_options(tmpfs_mb: u64) -> Vec<String> {
    let words: &[&str] = &[
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ];
    let mut options: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let size = (tmpfs_mb * 1024 * 1024).to_string();
    options.extend(["--size".into(), size, "--tmpfs".into(), "/tmp".into()]);
    let rest: &[&str] = &[
        "--chdir",
        "/tmp",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "PYTHONDONTWRITEBYTECODE",
        "1",
    ];
    options.extend(rest.iter().map(|w| w.to_string()));
    options
}

/// `command` wrapped to run confined as the sandbox's workers are (see [`bwrap_options`]),
/// seeing `read_only` paths (a virtualenv, the program's own directory) read-only at their own
/// paths and nothing else of the host. For a trusted process that runs model-written code
/// itself. With [`Isolation::UnsafeNone`], `command` unchanged (and a warning). The process's
/// own limits on what it runs (time, memory) are its job.
pub fn confine(
    config: &SandboxConfig,
    command: &[String],
    read_only: &[PathBuf],
) -> Result<Vec<String>, SandboxError> {
    if config.isolation == Isolation::UnsafeNone {
        tracing::warn!(
            "sandbox isolation is OFF: {} runs model-written code with this machine's files and network",
            command.join(" ")
        );
        return Ok(command.to_vec());
    }
    let bwrap = find_executable(&config.bwrap).ok_or_else(|| {
        SandboxError::Unavailable(format!(
            "bubblewrap ({}) was not found",
            config.bwrap.display()
        ))
    })?;
    let mut wrapped = vec![bwrap.display().to_string()];
    wrapped.extend(bwrap_options(config.tmpfs_mb));
    for path in read_only {
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(SandboxError::Config(format!(
                "{shown} is to be visible in the sandbox but does not exist"
            )));
        }
        wrapped.extend(["--ro-bind".into(), shown.clone(), shown]);
    }
    wrapped.push("--".into());
    wrapped.extend(command.iter().cloned());
    Ok(wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confined_command_sees_only_what_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let config = SandboxConfig {
            bwrap: PathBuf::from("/bin/sh"), // any executable: only the words are checked here
            ..SandboxConfig::default()
        };
        let cmd = vec!["python3".to_string(), "env.py".to_string()];
        let wrapped = confine(&config, &cmd, &[dir.path().to_path_buf()]).unwrap();
        let joined = wrapped.join(" ");
        assert!(joined.contains("--unshare-all") && joined.contains("--clearenv"));
        let shown = dir.path().display().to_string();
        assert!(joined.contains(&format!("--ro-bind {shown} {shown} -- python3 env.py")));
        let missing = confine(&config, &cmd, &[dir.path().join("nope")]).unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");
        let open = SandboxConfig {
            isolation: Isolation::UnsafeNone,
            ..config
        };
        assert_eq!(confine(&open, &cmd, &[]).unwrap(), cmd);
    }
}
