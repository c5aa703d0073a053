//! A Qdrant server through `qdrant-client` (gRPC), for memory that outgrows one machine.

use super::{Hit, Point, VectorStore};
use crate::{Filter, MemoryError, Result};
use async_trait::async_trait;
use qdrant_client::qdrant::{
    vectors_output::VectorsOptions, Condition, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FieldType, GetPointsBuilder,
    PointId, PointStruct, PointsIdsList, QueryPointsBuilder, Range, ScrollPointsBuilder,
    UpsertPointsBuilder, VectorParamsBuilder, VectorsOutput,
};
use qdrant_client::{Payload, Qdrant};
use serde_json::{Map, Value};

/// The collection metadata key naming the embedding model of its vectors.
const EMBEDDER_KEY: &str = "mneme_embedder";

/// A collection on a Qdrant server.
pub struct QdrantStore {
    client: Qdrant,
    collection: String,
}

fn err(e: impl std::fmt::Display) -> MemoryError {
    MemoryError::Store {
        backend: "qdrant",
        message: e.to_string(),
    }
}

impl QdrantStore {
    /// Connects to `url` (e.g. `http://127.0.0.1:6334`) and makes sure `collection`
    /// exists with `dim`-dimensional cosine vectors and keyword/integer payload indexes.
    /// The key, if any, comes from `QDRANT_API_KEY`.
    pub async fn connect(url: &str, collection: &str, dim: usize) -> Result<Self> {
        let key = std::env::var("QDRANT_API_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        let client = Qdrant::from_url(url).api_key(key).build().map_err(err)?;
        let store = Self {
            client,
            collection: collection.to_string(),
        };
        let exists = store
            .client
            .collection_exists(collection)
            .await
            .map_err(|e| {
                err(format!(
                    "no Qdrant gRPC service answers at {url} ({e}); memory.url must name a \
                     Qdrant server's gRPC port (6334 by default; 6333 is its REST port)"
                ))
            })?;
        if !exists {
            let created = store
                .client
                .create_collection(
                    CreateCollectionBuilder::new(collection)
                        .vectors_config(VectorParamsBuilder::new(dim as u64, Distance::Cosine)),
                )
                .await;
            if let Err(e) = created {
                // Shards started together race to create it: another process winning is fine.
                if !store
                    .client
                    .collection_exists(collection)
                    .await
                    .map_err(err)?
                {
                    return Err(err(e));
                }
            }
            // Creating an index that exists succeeds, so each racer may (re)create them.
            for (field, kind) in [
                ("kind", FieldType::Keyword),
                ("task_id", FieldType::Keyword),
                ("env", FieldType::Keyword),
                ("tags", FieldType::Keyword),
                ("created_at", FieldType::Integer),
            ] {
                store
                    .client
                    .create_field_index(
                        CreateFieldIndexCollectionBuilder::new(collection, field, kind).wait(true),
                    )
                    .await
                    .map_err(err)?;
            }
        }
        Ok(store)
    }

    /// Deletes the collection (tests use throw-away collections).
    pub async fn drop_collection(&self) -> Result<()> {
        self.client
            .delete_collection(&self.collection)
            .await
            .map_err(err)?;
        Ok(())
    }
}

/// Translates a [`Filter`] into Qdrant's.
fn to_filter(f: &Filter) -> Option<qdrant_client::qdrant::Filter> {
    let mut must = Vec::new();
    let mut must_not = Vec::new();
    if let Some(kind) = f.kind {
        must.push(Condition::matches("kind", kind.as_str().to_string()));
    }
    if let Some(env) = &f.env {
        must.push(Condition::matches("env", env.clone()));
    }
    if let Some(t) = &f.task_id {
        must.push(Condition::matches("task_id", t.clone()));
    }
    if let Some(t) = &f.exclude_task_id {
        must_not.push(Condition::matches("task_id", t.clone()));
    }
    if !f.tags_any.is_empty() {
        must.push(Condition::matches("tags", f.tags_any.clone()));
    }
    if f.created_from.is_some() || f.created_until.is_some() {
        must.push(Condition::range(
            "created_at",
            Range {
                gte: f.created_from.map(|v| v as f64),
                lt: f.created_until.map(|v| v as f64),
                ..Default::default()
            },
        ));
    }
    if must.is_empty() && must_not.is_empty() {
        return None;
    }
    Some(qdrant_client::qdrant::Filter {
        must,
        must_not,
        ..Default::default()
    })
}

fn id_string(id: Option<PointId>) -> String {
    use qdrant_client::qdrant::point_id::PointIdOptions;
    match id.and_then(|i| i.point_id_options) {
        Some(PointIdOptions::Uuid(u)) => u,
        Some(PointIdOptions::Num(n)) => n.to_string(),
        None => String::new(),
    }
}

fn payload_json(
    payload: std::collections::HashMap<String, qdrant_client::qdrant::Value>,
) -> Map<String, Value> {
    payload
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect()
}

/// The unnamed dense vector of a point as the server sent it.
///
/// Servers since 1.16 fill the `vector` oneof and leave the deprecated flat `data` empty;
/// older ones do the opposite. `into_vector` reads whichever is there.
fn dense(vectors: Option<VectorsOutput>) -> Vec<f32> {
    use qdrant_client::qdrant::vector_output::Vector;
    match vectors.and_then(|v| v.vectors_options) {
        Some(VectorsOptions::Vector(v)) => match v.into_vector() {
            Vector::Dense(d) => d.data,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn retrieved(p: qdrant_client::qdrant::RetrievedPoint) -> Point {
    Point {
        id: id_string(p.id),
        vector: dense(p.vectors),
        payload: payload_json(p.payload),
    }
}

#[async_trait]
impl VectorStore for QdrantStore {
    fn backend(&self) -> &'static str {
        "qdrant"
    }

    async fn bind_embedder(&self, model: &str) -> Result<()> {
        use qdrant_client::qdrant::{value::Kind, UpdateCollectionBuilder};
        let info = self
            .client
            .collection_info(&self.collection)
            .await
            .map_err(err)?;
        let stored = info
            .result
            .and_then(|i| i.config)
            .and_then(|c| c.metadata.get(EMBEDDER_KEY).cloned())
            .and_then(|v| match v.kind {
                Some(Kind::StringValue(s)) => Some(s),
                _ => None,
            });
        match stored {
            Some(stored) if stored == model => Ok(()),
            Some(stored) => Err(super::embedder_mismatch(
                &format!("collection {}", self.collection),
                &stored,
                model,
            )),
            // A new collection, or one made before collections named their model.
            None => {
                let metadata = std::collections::HashMap::from([(
                    EMBEDDER_KEY.to_string(),
                    Value::String(model.to_string()),
                )]);
                self.client
                    .update_collection(
                        UpdateCollectionBuilder::new(&self.collection).metadata(metadata),
                    )
                    .await
                    .map_err(err)?;
                Ok(())
            }
        }
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let points: Vec<PointStruct> = points
            .into_iter()
            .map(|p| PointStruct::new(p.id, p.vector, Payload::from(p.payload)))
            .collect();
        self.client
            .upsert_points(UpsertPointsBuilder::new(&self.collection, points).wait(true))
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn search(&self, vector: &[f32], k: usize, filter: &Filter) -> Result<Vec<Hit>> {
        let mut q = QueryPointsBuilder::new(&self.collection)
            .query(vector.to_vec())
            .limit(k as u64)
            .with_payload(true);
        if let Some(f) = to_filter(filter) {
            q = q.filter(f);
        }
        let response = self.client.query(q).await.map_err(err)?;
        Ok(response
            .result
            .into_iter()
            .map(|p| Hit {
                point: Point {
                    id: id_string(p.id),
                    vector: Vec::new(),
                    payload: payload_json(p.payload),
                },
                score: p.score,
            })
            .collect())
    }

    async fn get(&self, ids: &[String]) -> Result<Vec<Point>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<PointId> = ids.iter().map(|i| PointId::from(i.as_str())).collect();
        let response = self
            .client
            .get_points(
                GetPointsBuilder::new(&self.collection, ids)
                    .with_vectors(true)
                    .with_payload(true),
            )
            .await
            .map_err(err)?;
        Ok(response.result.into_iter().map(retrieved).collect())
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<PointId> = ids.iter().map(|i| PointId::from(i.as_str())).collect();
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(PointsIdsList { ids })
                    .wait(true),
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn delete_where(&self, filter: &Filter) -> Result<()> {
        let f = to_filter(filter).unwrap_or_default();
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(f)
                    .wait(true),
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn count(&self, filter: &Filter) -> Result<u64> {
        let mut c = CountPointsBuilder::new(&self.collection).exact(true);
        if let Some(f) = to_filter(filter) {
            c = c.filter(f);
        }
        Ok(self
            .client
            .count(c)
            .await
            .map_err(err)?
            .result
            .map(|r| r.count)
            .unwrap_or(0))
    }

    async fn scroll(
        &self,
        filter: &Filter,
        from: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Point>, Option<String>)> {
        let mut s = ScrollPointsBuilder::new(&self.collection)
            .limit(limit as u32)
            .with_payload(true)
            .with_vectors(true);
        if let Some(f) = to_filter(filter) {
            s = s.filter(f);
        }
        if let Some(from) = from {
            s = s.offset(PointId::from(from));
        }
        let response = self.client.scroll(s).await.map_err(err)?;
        let points = response.result.into_iter().map(retrieved).collect();
        Ok((
            points,
            response.next_page_offset.map(|id| id_string(Some(id))),
        ))
    }

    async fn optimize(&self) -> Result<()> {
        // The server optimizes in the background on its own.
        Ok(())
    }
}
