//! Building llama.cpp's own `llama-server` from the source the `llama-cpp-python` sdist on
//! PyPI vendors (`vendor/llama.cpp`), with cmake and ninja from PyPI wheels. Nothing else is
//! downloaded: the web UI is left out and HTTPS/curl support is off.
//!
//! The binary is compiled for this machine's CPU and cached under the data directory
//! (`llama-server/<sdist>/llama-server`), built once per machine like the virtualenv.

use super::setup::DataDir;
use super::LocalError;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tools::pypi::{host_python, log_tail, run_logged, PypiError};

/// The sdist whose vendored llama.cpp is built.
pub const LLAMA_CPP_SDIST: (&str, &str) = ("llama-cpp-python", "0.3.36");

/// cmake options: a static server binary, nothing fetched during the build.
const CMAKE_OPTIONS: &[&str] = &[
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
];

impl DataDir {
    /// The cached `llama-server` binary built from [`LLAMA_CPP_SDIST`].
    pub fn llama_server(&self) -> PathBuf {
        let (name, version) = LLAMA_CPP_SDIST;
        self.root()
            .join("llama-server")
            .join(format!("{name}-{version}"))
            .join("llama-server")
    }
    /// The virtualenv holding cmake and ninja for the build.
    pub fn build_tools(&self) -> PathBuf {
        self.root().join("build-tools")
    }
}

/// Whether `binary --version` runs (a binary built on a machine with other CPU features
/// dies with SIGILL here).
fn runs(binary: &Path) -> Result<(), String> {
    let out = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or("").to_string();
        Err(format!("`--version` ended with {} {last}", out.status))
    }
}

/// Makes sure `llama-server` is built and runs here; builds it once (about 6 minutes on
/// 2 cores). A cached binary that does not run is an error naming it, never rebuilt silently.
pub fn ensure_llama_server(data: &DataDir) -> Result<PathBuf, LocalError> {
    let _lock = data.lock("llama-server")?;
    let binary = data.llama_server();
    if binary.exists() {
        return match runs(&binary) {
            Ok(()) => Ok(binary),
            Err(problem) => Err(LocalError::Unusable {
                problem: format!(
                    "{problem}; it was built on another machine or is damaged: delete {} and \
                     it is built again on next use",
                    binary.parent().unwrap_or(&binary).display()
                ),
                path: binary,
            }),
        };
    }
    let log = data.logs().join("setup-llama-server.log");
    let (name, version) = LLAMA_CPP_SDIST;
    eprintln!(
        "mneme: building llama.cpp's server from the {name} {version} sdist (first time only, \
         about 6 minutes on 2 cores); log: {}",
        log.display()
    );
    let work = binary.with_file_name("build-tree");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(LocalError::io(format!("creating {}", work.display())))?;
    let (cmake, ninja) = ensure_build_tools(data, &log)?;
    let source = unpack_sdist(&work, &log)?;
    let build = work.join("build");
    let mut configure = Command::new(&cmake);
    configure
        .arg("-S")
        .arg(&source)
        .arg("-B")
        .arg(&build)
        .args(["-G", "Ninja"])
        .arg(format!("-DCMAKE_MAKE_PROGRAM={}", ninja.display()))
        .args(CMAKE_OPTIONS);
    run_logged(configure, "configuring llama.cpp with cmake", &log)?;
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut compile = Command::new(&cmake);
    compile
        .arg("--build")
        .arg(&build)
        .args(["--target", "llama-server", "-j", &jobs.to_string()]);
    run_logged(compile, "compiling llama-server", &log)?;
    let built = build.join("bin").join("llama-server");
    let staged = binary.with_extension("partial");
    fs::copy(&built, &staged).map_err(LocalError::io(format!(
        "copying {} (see {})",
        built.display(),
        log.display()
    )))?;
    fs::rename(&staged, &binary)
        .map_err(LocalError::io(format!("placing {}", binary.display())))?;
    let _ = fs::remove_dir_all(&work);
    runs(&binary).map_err(|problem| LocalError::Unusable {
        path: binary.clone(),
        problem: format!("freshly built but {problem}; build log: {}", log.display()),
    })?;
    Ok(binary)
}

/// cmake and ninja from PyPI wheels in a small virtualenv of their own.
fn ensure_build_tools(data: &DataDir, log: &Path) -> Result<(PathBuf, PathBuf), LocalError> {
    let bin = data.build_tools().join("bin");
    let (cmake, ninja) = (bin.join("cmake"), bin.join("ninja"));
    if cmake.exists() && ninja.exists() {
        return Ok((cmake, ninja));
    }
    if !bin.join("python").exists() {
        let mut venv = Command::new(host_python());
        venv.args(["-m", "venv"]).arg(data.build_tools());
        run_logged(venv, "creating the build-tools virtualenv", log)?;
    }
    let mut pip = Command::new(bin.join("python"));
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "cmake",
        "ninja",
    ]);
    run_logged(pip, "installing cmake and ninja", log)?;
    Ok((cmake, ninja))
}

/// Downloads the sdist into `work` and unpacks it; returns the vendored llama.cpp tree.
fn unpack_sdist(work: &Path, log: &Path) -> Result<PathBuf, LocalError> {
    let (name, version) = LLAMA_CPP_SDIST;
    let mut download = Command::new(host_python());
    download
        .args(["-m", "pip", "download", "--no-deps", "--no-binary", name])
        .args(["--disable-pip-version-check", "-d"])
        .arg(work)
        .arg(format!("{name}=={version}"));
    run_logged(download, &format!("pip download {name}=={version}"), log)?;
    let stem = format!("{}-{version}", name.replace('-', "_"));
    let archive = work.join(format!("{stem}.tar.gz"));
    let mut untar = Command::new("tar");
    untar.arg("-xzf").arg(&archive).arg("-C").arg(work);
    run_logged(untar, &format!("unpacking {}", archive.display()), log)?;
    let source = work.join(&stem).join("vendor").join("llama.cpp");
    if !source.join("tools").join("server").is_dir() {
        return Err(PypiError::Command {
            what: format!("finding llama.cpp's server source in {name} {version}"),
            status: format!("{} has no tools/server", source.display()),
            log: log.to_path_buf(),
            tail: log_tail(log, 5),
        }
        .into());
    }
    Ok(source)
}
