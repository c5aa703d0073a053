//! The embedded store: Qdrant's in-process engine (`qdrant-edge`) in one directory.
//!
//! `qdrant-edge` is pinned to `=0.7.0`: 0.8 and 0.9 use `assert_matches`, stable only
//! from Rust 1.96, and this project builds on the stable 1.95 toolchain.
//!
//! Durability: the engine writes a WAL but does not replay it on load, so every
//! write batch is flushed before `upsert`/`delete` return; a process killed after
//! a write returned loses nothing (see the kill test). The engine's `flush` panics
//! if another thread is writing at that moment, so writes, flushes and `optimize`
//! take one writer lock; searches and reads run alongside.

use super::{Hit, Point, VectorStore};
use crate::{Filter, MemoryError, Result};
use async_trait::async_trait;
use qdrant_edge::external::uuid::Uuid;
use qdrant_edge::{
    CountRequest, CreateIndex, Distance, EdgeConfig, EdgeOptimizersConfig, EdgeShard,
    EdgeVectorParams, FieldIndexOperations, HnswIndexConfig, NamedQuery, PayloadFieldSchema,
    PayloadSchemaType, PointId, PointInsertOperations, PointOperations, PointStruct,
    PointStructPersisted, QueryEnum, ScrollRequest, SearchParams, SearchRequest, UpdateOperation,
    VectorInternal, VectorStructInternal, WithPayloadInterface, WithVector, DEFAULT_VECTOR_NAME,
};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Tunables of the embedded store.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeOptions {
    /// HNSW graph degree.
    pub hnsw_m: usize,
    /// HNSW construction beam.
    pub hnsw_ef_construct: usize,
    /// Extra HNSW links per indexed payload value, which keep filtered searches
    /// (by kind, by task) accurate on the graph; 0 builds faster, but filtered
    /// recall@10 then fell to 0.39-0.63 at 2,000 points (`mneme bench memory`).
    pub payload_m: usize,
    /// KB of vectors in a segment before `optimize` builds its HNSW index.
    pub indexing_threshold_kb: usize,
    /// KB of vectors (of a segment, or of a filter's matches) below which search
    /// scans exactly instead of walking the graph.
    pub full_scan_threshold_kb: usize,
    /// Beam width of graph search (higher: better recall, slower).
    pub ef_search: usize,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self {
            hnsw_m: 16,
            hnsw_ef_construct: 100,
            payload_m: 16,
            indexing_threshold_kb: 1000,
            full_scan_threshold_kb: 1000,
            ef_search: 128,
        }
    }
}

/// The file in a store's directory naming the embedding model of its vectors.
const EMBEDDER_FILE: &str = "mneme-embedder.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct EmbedderMark {
    model: String,
}

/// A store in one directory, shared cheaply between tasks.
#[derive(Clone)]
pub struct EdgeStore {
    shard: Arc<EdgeShard>,
    ef_search: usize,
    writer: Arc<std::sync::Mutex<()>>,
    path: PathBuf,
}

fn err(e: impl std::fmt::Display) -> MemoryError {
    MemoryError::Store {
        backend: "edge",
        message: e.to_string(),
    }
}

fn has_entries(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

impl EdgeStore {
    /// Opens the store at `path`, creating it (with `dim`-dimensional cosine vectors)
    /// only when `create` is set and the directory is missing or empty.
    ///
    /// A directory with content that is not a readable store is an error that names
    /// it; it is never replaced by an empty store.
    pub fn open(path: &Path, dim: usize, create: bool, options: &EdgeOptions) -> Result<Self> {
        let shard = if has_entries(path) {
            let shard = EdgeShard::load(path, None).map_err(|e| MemoryError::Corrupt {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            let stored = shard
                .config()
                .vectors
                .get(DEFAULT_VECTOR_NAME)
                .map(|v| v.size);
            if stored != Some(dim) {
                return Err(MemoryError::Invalid(format!(
                    "memory store {} holds {}-dimensional vectors, the embedder makes {dim}",
                    path.display(),
                    stored
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "no default".into())
                )));
            }
            shard
        } else if create {
            std::fs::create_dir_all(path).map_err(|e| MemoryError::Io {
                context: format!("creating {}", path.display()),
                source: e,
            })?;
            let shard = EdgeShard::new(path, config(dim, options)).map_err(err)?;
            for (field, ty) in [
                ("kind", PayloadSchemaType::Keyword),
                ("task_id", PayloadSchemaType::Keyword),
                ("env", PayloadSchemaType::Keyword),
                ("tags", PayloadSchemaType::Keyword),
                ("created_at", PayloadSchemaType::Integer),
            ] {
                shard
                    .update(UpdateOperation::FieldIndexOperation(
                        FieldIndexOperations::CreateIndex(CreateIndex {
                            field_name: field
                                .parse()
                                .map_err(|_| err(format!("bad field name {field}")))?,
                            field_schema: Some(PayloadFieldSchema::FieldType(ty)),
                        }),
                    ))
                    .map_err(err)?;
            }
            shard.flush();
            shard
        } else {
            return Err(MemoryError::Missing {
                path: path.to_path_buf(),
            });
        };
        Ok(Self {
            shard: Arc::new(shard),
            ef_search: options.ef_search,
            writer: Arc::default(),
            path: path.to_path_buf(),
        })
    }

    /// Its directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes everything to disk (also done when the last handle is dropped).
    pub fn flush(&self) {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.shard.flush();
    }

    /// Runs a read on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EdgeShard) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shard = self.shard.clone();
        tokio::task::spawn_blocking(move || f(&shard))
            .await
            .map_err(|e| err(format!("store task failed: {e}")))?
    }

    /// Runs a write under the writer lock on a blocking thread and flushes it to disk.
    async fn write(&self, f: impl FnOnce(&EdgeShard) -> Result<()> + Send + 'static) -> Result<()> {
        let shard = self.shard.clone();
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let _w = writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&shard)?;
            shard.flush();
            Ok(())
        })
        .await
        .map_err(|e| err(format!("store task failed: {e}")))?
    }
}

fn config(dim: usize, o: &EdgeOptions) -> EdgeConfig {
    EdgeConfig::builder()
        .vector(
            DEFAULT_VECTOR_NAME,
            EdgeVectorParams::builder(dim, Distance::Cosine).build(),
        )
        .on_disk_payload(false)
        .hnsw_config(HnswIndexConfig {
            m: o.hnsw_m,
            ef_construct: o.hnsw_ef_construct,
            full_scan_threshold: o.full_scan_threshold_kb,
            payload_m: Some(o.payload_m),
            ..Default::default()
        })
        .optimizers(EdgeOptimizersConfig {
            indexing_threshold: Some(o.indexing_threshold_kb),
            ..Default::default()
        })
        .build()
}

/// Translates a [`Filter`] into Qdrant's (through its JSON form).
pub(crate) fn filter_json(f: &Filter) -> Option<Value> {
    let mut must = Vec::new();
    let mut must_not = Vec::new();
    if let Some(kind) = f.kind {
        must.push(json!({"key": "kind", "match": {"value": kind.as_str()}}));
    }
    if let Some(env) = &f.env {
        must.push(json!({"key": "env", "match": {"value": env}}));
    }
    if let Some(t) = &f.task_id {
        must.push(json!({"key": "task_id", "match": {"value": t}}));
    }
    if let Some(t) = &f.exclude_task_id {
        must_not.push(json!({"key": "task_id", "match": {"value": t}}));
    }
    if !f.tags_any.is_empty() {
        must.push(json!({"key": "tags", "match": {"any": f.tags_any}}));
    }
    if f.created_from.is_some() || f.created_until.is_some() {
        must.push(
            json!({"key": "created_at", "range": {"gte": f.created_from, "lt": f.created_until}}),
        );
    }
    if must.is_empty() && must_not.is_empty() {
        return None;
    }
    Some(json!({"must": must, "must_not": must_not}))
}

fn to_filter(f: &Filter) -> Result<Option<qdrant_edge::Filter>> {
    filter_json(f)
        .map(|v| serde_json::from_value(v).map_err(err))
        .transpose()
}

fn point_id(id: &str) -> Result<PointId> {
    Uuid::parse_str(id)
        .map(PointId::Uuid)
        .map_err(|e| MemoryError::Invalid(format!("point id {id:?} is not a UUID: {e}")))
}

fn id_string(id: &PointId) -> String {
    match id {
        PointId::Uuid(u) => u.to_string(),
        PointId::NumId(n) => n.to_string(),
    }
}

fn payload_map(p: Option<qdrant_edge::Payload>) -> Map<String, Value> {
    p.map(|p| p.0.into_iter().collect()).unwrap_or_default()
}

fn dense(v: Option<VectorStructInternal>) -> Vec<f32> {
    match v {
        Some(VectorStructInternal::Single(d)) => d,
        Some(VectorStructInternal::Named(mut m)) => match m.remove(DEFAULT_VECTOR_NAME) {
            Some(VectorInternal::Dense(d)) => d,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn record_point(r: qdrant_edge::Record) -> Point {
    Point {
        id: id_string(&r.id),
        vector: dense(r.vector),
        payload: payload_map(r.payload),
    }
}

#[async_trait]
impl VectorStore for EdgeStore {
    async fn bind_embedder(&self, model: &str) -> Result<()> {
        let file = self.path.join(EMBEDDER_FILE);
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let stored: EmbedderMark =
                    serde_json::from_str(&text).map_err(|e| MemoryError::Corrupt {
                        path: file.clone(),
                        message: e.to_string(),
                    })?;
                if stored.model != model {
                    return Err(super::embedder_mismatch(
                        &self.path.display().to_string(),
                        &stored.model,
                        model,
                    ));
                }
                Ok(())
            }
            // A new store, or one written before stores named their model: this one is it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mark = serde_json::to_vec(&EmbedderMark {
                    model: model.to_string(),
                })
                .map_err(err)?;
                tools::fsio::write_atomic(&file, &mark).map_err(|e| MemoryError::Io {
                    context: format!("writing {}", file.display()),
                    source: e,
                })
            }
            Err(e) => Err(MemoryError::Io {
                context: format!("reading {}", file.display()),
                source: e,
            }),
        }
    }

    fn backend(&self) -> &'static str {
        "edge"
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut persisted: Vec<PointStructPersisted> = Vec::with_capacity(points.len());
        for p in points {
            persisted.push(
                PointStruct::new(point_id(&p.id)?, p.vector, Value::Object(p.payload)).into(),
            );
        }
        self.write(move |shard| {
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(persisted)),
                ))
                .map_err(err)
        })
        .await
    }

    async fn search(&self, vector: &[f32], k: usize, filter: &Filter) -> Result<Vec<Hit>> {
        let request = SearchRequest {
            query: QueryEnum::Nearest(NamedQuery::default_dense(vector.to_vec())),
            filter: to_filter(filter)?,
            params: Some(SearchParams {
                hnsw_ef: Some(self.ef_search),
                ..SearchParams::default()
            }),
            limit: k,
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: Some(WithVector::Bool(false)),
            score_threshold: None,
        };
        let hits = self
            .blocking(move |shard| shard.search(request).map_err(err))
            .await?;
        Ok(hits
            .into_iter()
            .map(|h| Hit {
                point: Point {
                    id: id_string(&h.id),
                    vector: Vec::new(),
                    payload: payload_map(h.payload),
                },
                score: h.score,
            })
            .collect())
    }

    async fn get(&self, ids: &[String]) -> Result<Vec<Point>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<PointId> = ids.iter().map(|i| point_id(i)).collect::<Result<_>>()?;
        let records = self
            .blocking(move |shard| {
                shard
                    .retrieve(
                        &ids,
                        Some(WithPayloadInterface::Bool(true)),
                        Some(WithVector::Bool(true)),
                    )
                    .map_err(err)
            })
            .await?;
        Ok(records.into_iter().map(record_point).collect())
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<PointId> = ids.iter().map(|i| point_id(i)).collect::<Result<_>>()?;
        self.write(move |shard| {
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePoints { ids },
                ))
                .map_err(err)
        })
        .await
    }

    async fn delete_where(&self, filter: &Filter) -> Result<()> {
        let Some(f) = to_filter(filter)? else {
            // An empty filter means everything.
            let all = super::scroll_all(self, filter).await?;
            return self
                .delete(&all.into_iter().map(|p| p.id).collect::<Vec<_>>())
                .await;
        };
        self.write(move |shard| {
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(f),
                ))
                .map_err(err)
        })
        .await
    }

    async fn count(&self, filter: &Filter) -> Result<u64> {
        let filter = to_filter(filter)?;
        self.blocking(move |shard| {
            shard
                .count(CountRequest {
                    filter,
                    exact: true,
                })
                .map(|n| n as u64)
                .map_err(err)
        })
        .await
    }

    async fn scroll(
        &self,
        filter: &Filter,
        from: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Point>, Option<String>)> {
        let request = ScrollRequest {
            offset: from.as_deref().map(point_id).transpose()?,
            limit: Some(limit.max(1)),
            filter: to_filter(filter)?,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: WithVector::Bool(true),
            order_by: None,
        };
        let (records, next) = self
            .blocking(move |shard| shard.scroll(request).map_err(err))
            .await?;
        let points = records.into_iter().map(record_point).collect();
        Ok((points, next.as_ref().map(id_string)))
    }

    async fn optimize(&self) -> Result<()> {
        self.write(|shard| shard.optimize().map(|_| ()).map_err(err))
            .await
    }
}
