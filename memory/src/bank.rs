//! [`MemoryBank`]: records in, experience out. The retrieval policies the agent
//! loop calls live here, on top of any [`VectorStore`] and [`Embedder`].

use crate::embed::Embedder;
use crate::record::{now, Insight, Record, RecordKind};
use crate::store::{scroll_all, Hit, Point, VectorStore};
use crate::{Filter, MemoryError, Result};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::sync::Arc;

/// Tunables of a [`MemoryBank`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BankConfig {
    /// Cosine similarity above which a new reflection or insight merges into an old one.
    pub dedup_threshold: f32,
    /// Half-life of recency in the mixed score, days.
    pub recency_half_life_days: f64,
}

impl Default for BankConfig {
    fn default() -> Self {
        Self {
            dedup_threshold: 0.95,
            recency_half_life_days: 7.0,
        }
    }
}

/// What [`MemoryBank::remember`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// A new record under this id.
    New(String),
    /// The same record (same deterministic id) was already stored; nothing changed.
    Unchanged(String),
    /// A near-duplicate existed; it absorbed this one (a repeat count or a vote).
    Merged {
        /// The id of the record that absorbed it.
        into: String,
        /// Their similarity.
        score: f32,
    },
}

/// A record found by a retrieval policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Recalled {
    /// Its id.
    pub id: String,
    /// The record.
    pub record: Record,
    /// Similarity (or the mixed score where one was asked for).
    pub score: f32,
}

/// Weights of the mixed retrieval score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreWeights {
    /// Weight of cosine similarity.
    pub similarity: f32,
    /// Weight of recency (1 now, halving every half-life).
    pub recency: f32,
    /// Weight of importance (reflections: 1 − score; insights: votes / max votes; skills: success rate).
    pub importance: f32,
}

/// Counts by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Reflections.
    pub reflections: u64,
    /// Skills.
    pub skills: u64,
    /// Insights.
    pub insights: u64,
}

/// One line of an export file.
#[derive(Serialize, Deserialize)]
struct ExportLine {
    id: String,
    record: Record,
    vector: Vec<f32>,
}

/// Memory over a store and an embedder.
#[derive(Clone)]
pub struct MemoryBank {
    store: Arc<dyn VectorStore>,
    embedder: Arc<dyn Embedder>,
    config: BankConfig,
}

fn recalled(hit: Hit) -> Result<Recalled> {
    Ok(Recalled {
        record: Record::from_payload(&hit.point.id, &hit.point.payload)?,
        id: hit.point.id,
        score: hit.score,
    })
}

fn recalled_point(point: Point) -> Result<Recalled> {
    Ok(Recalled {
        record: Record::from_payload(&point.id, &point.payload)?,
        id: point.id,
        score: 0.0,
    })
}

impl MemoryBank {
    /// Memory over `store`, embedding with `embedder`, after checking that the store holds
    /// this embedder's vectors (a store records its model the first time).
    pub async fn open(
        store: Arc<dyn VectorStore>,
        embedder: Arc<dyn Embedder>,
        config: BankConfig,
    ) -> Result<Self> {
        store.bind_embedder(embedder.model_name()).await?;
        Ok(Self::new(store, embedder, config))
    }

    /// Memory over `store`, embedding with `embedder` (unchecked: see [`MemoryBank::open`]).
    pub fn new(
        store: Arc<dyn VectorStore>,
        embedder: Arc<dyn Embedder>,
        config: BankConfig,
    ) -> Self {
        Self {
            store,
            embedder,
            config,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn VectorStore> {
        &self.store
    }

    async fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        self.embedder
            .embed(&[text.to_string()])
            .await?
            .pop()
            .ok_or_else(|| MemoryError::Embed("the embedder returned no vector".into()))
    }

    /// Stores `record`, unless it (same id) or a near-duplicate is already there.
    pub async fn remember(&self, record: Record) -> Result<Stored> {
        let id = record.id();
        if !self.store.get(std::slice::from_ref(&id)).await?.is_empty() {
            return Ok(Stored::Unchanged(id));
        }
        let vector = self.embed_one(record.embed_text()).await?;
        let near = match &record {
            Record::Reflection(r) => Some(
                Filter::kind(RecordKind::Reflection)
                    .task(&r.task_id)
                    .tags_any(r.tags.clone()),
            ),
            Record::Insight(i) => Some(Filter::kind(RecordKind::Insight).tags_any(i.tags.clone())),
            Record::Skill(_) => None,
        };
        if let Some(filter) = near {
            if let Some(hit) = self
                .store
                .search(&vector, 1, &filter)
                .await?
                .into_iter()
                .next()
            {
                if hit.score >= self.config.dedup_threshold {
                    self.absorb(&hit.point.id).await?;
                    return Ok(Stored::Merged {
                        into: hit.point.id,
                        score: hit.score,
                    });
                }
            }
        }
        self.store
            .upsert(vec![Point {
                id: id.clone(),
                vector,
                payload: record.to_payload(),
            }])
            .await?;
        Ok(Stored::New(id))
    }

    /// A near-duplicate arrived: count a repeat (reflection) or a vote (insight).
    async fn absorb(&self, id: &str) -> Result<()> {
        let Some(mut point) = self.store.get(&[id.to_string()]).await?.pop() else {
            return Ok(());
        };
        let field = if point.payload.get("kind").and_then(|k| k.as_str()) == Some("insight") {
            "votes"
        } else {
            "repeats"
        };
        let n = point
            .payload
            .get(field)
            .and_then(|v| v.as_i64())
            .unwrap_or(1);
        point.payload.insert(field.into(), (n + 1).into());
        self.store.upsert(vec![point]).await
    }

    /// The latest `n` reflections on `task_id` (Reflexion's episodic memory), newest first.
    pub async fn recent_reflections(&self, task_id: &str, n: usize) -> Result<Vec<Recalled>> {
        self.recent_reflections_where(Filter::kind(RecordKind::Reflection).task(task_id), n)
            .await
    }

    /// The latest `n` reflections satisfying `filter` (e.g. one task within one run), newest first.
    pub async fn recent_reflections_where(
        &self,
        filter: Filter,
        n: usize,
    ) -> Result<Vec<Recalled>> {
        let filter = Filter {
            kind: Some(RecordKind::Reflection),
            ..filter
        };
        let points = scroll_all(self.store.as_ref(), &filter).await?;
        let mut out: Vec<Recalled> = points
            .into_iter()
            .map(recalled_point)
            .collect::<Result<_>>()?;
        out.sort_by_key(|r| match &r.record {
            Record::Reflection(x) => std::cmp::Reverse((x.trial, x.created_at)),
            _ => std::cmp::Reverse((0, 0)),
        });
        out.truncate(n);
        Ok(out)
    }

    /// Reflections from *other* tasks that resemble `text` (cross-task learning).
    pub async fn similar_reflections(
        &self,
        text: &str,
        exclude_task: &str,
        k: usize,
    ) -> Result<Vec<Recalled>> {
        self.search(
            text,
            &Filter::kind(RecordKind::Reflection).not_task(exclude_task),
            k,
        )
        .await
    }

    /// Skills whose description resembles `text` (Voyager retrieves the top 5).
    pub async fn skills(&self, text: &str, k: usize) -> Result<Vec<Recalled>> {
        self.search(text, &Filter::kind(RecordKind::Skill), k).await
    }

    /// The latest version of every skill of skill library `library`, by name.
    pub async fn library_skills(&self, library: &str) -> Result<Vec<Recalled>> {
        let hits = self.records(&Filter::library_skills(library)).await?;
        let mut latest = latest_skill_versions(hits);
        latest.sort_by(|a, b| skill_name(a).cmp(skill_name(b)));
        Ok(latest)
    }

    /// Every record satisfying `filter`, in the store's order (a library listing, say).
    pub async fn records(&self, filter: &Filter) -> Result<Vec<Recalled>> {
        scroll_all(self.store.as_ref(), filter)
            .await?
            .into_iter()
            .map(recalled_point)
            .collect()
    }

    /// The `n` insights of rule set `library` (every insight when empty) with the most votes;
    /// ties go to the older rule.
    pub async fn top_insights(&self, library: &str, n: usize) -> Result<Vec<Recalled>> {
        let mut filter = Filter::kind(RecordKind::Insight);
        if !library.is_empty() {
            filter = filter.tags_any(vec![crate::library_tag(library)]);
        }
        let mut out = self.records(&filter).await?;
        out.sort_by_key(|r| match &r.record {
            Record::Insight(i) => (std::cmp::Reverse(i.votes), i.created_at),
            _ => (std::cmp::Reverse(0), 0),
        });
        out.truncate(n);
        Ok(out)
    }

    /// The `k` skills of skill library `library` most similar to `query`, latest versions
    /// only, ranked by similarity less `failure_penalty` per failure beyond the skill's
    /// successes (a skill that keeps failing loses rank); the score is that rank.
    pub async fn ranked_skills(
        &self,
        query: &str,
        library: &str,
        k: usize,
        failure_penalty: f32,
    ) -> Result<Vec<Recalled>> {
        let hits = self
            .search(query, &Filter::library_skills(library), k * 4)
            .await?;
        let mut ranked = rank_skills(hits, failure_penalty);
        ranked.truncate(k);
        Ok(ranked)
    }

    /// Semantic search for `text` among records satisfying `filter`.
    pub async fn search(&self, text: &str, filter: &Filter, k: usize) -> Result<Vec<Recalled>> {
        let vector = self.embed_one(text).await?;
        self.store
            .search(&vector, k, filter)
            .await?
            .into_iter()
            .map(recalled)
            .collect()
    }

    /// Hybrid search: the vector ranking and a BM25 keyword ranking over the records satisfying
    /// `filter` fused by reciprocal rank (k = 60); the score is the cosine similarity (0 for a
    /// record only the keywords found). The keyword side reads every record the filter admits,
    /// so it suits libraries of thousands, not millions.
    pub async fn search_hybrid(
        &self,
        text: &str,
        filter: &Filter,
        k: usize,
    ) -> Result<Vec<Recalled>> {
        let depth = (k * 4).max(20);
        let by_vector = self.search(text, filter, depth).await?;
        let all = self.records(filter).await?;
        let texts: Vec<&str> = all.iter().map(|r| r.record.embed_text()).collect();
        let by_keyword: Vec<String> = crate::keyword::Bm25::new(&texts)
            .top(text, depth)
            .into_iter()
            .map(|i| all[i].id.clone())
            .collect();
        let by_vector_ids: Vec<String> = by_vector.iter().map(|r| r.id.clone()).collect();
        let fused = crate::keyword::fuse(&[by_vector_ids, by_keyword], 60.0);
        Ok(fused
            .into_iter()
            .take(k)
            .filter_map(|id| {
                by_vector
                    .iter()
                    .find(|r| r.id == id)
                    .cloned()
                    .or_else(|| all.iter().find(|r| r.id == id).cloned())
            })
            .collect())
    }

    /// Semantic search re-ranked by a mix of similarity, recency and importance.
    pub async fn search_scored(
        &self,
        text: &str,
        filter: &Filter,
        k: usize,
        w: ScoreWeights,
    ) -> Result<Vec<Recalled>> {
        let vector = self.embed_one(text).await?;
        let hits = self.store.search(&vector, (k * 4).max(k), filter).await?;
        let max_votes = hits
            .iter()
            .filter_map(|h| h.point.payload.get("votes").and_then(|v| v.as_i64()))
            .max()
            .unwrap_or(1)
            .max(1) as f32;
        let now = now();
        let half_life = self.config.recency_half_life_days * 86_400.0;
        let mut out: Vec<Recalled> = hits
            .into_iter()
            .map(|h| {
                let sim = h.score;
                let r = recalled(h)?;
                let age = (now - r.record.created_at()).max(0) as f64;
                let recency = 0.5f64.powf(age / half_life.max(1.0)) as f32;
                let importance = match &r.record {
                    Record::Reflection(x) => (1.0 - x.score) as f32,
                    Record::Insight(x) => x.votes.max(0) as f32 / max_votes,
                    Record::Skill(x) => {
                        (x.successes as f32 + 1.0) / (x.successes as f32 + x.failures as f32 + 2.0)
                    }
                };
                Ok(Recalled {
                    score: w.similarity * sim + w.recency * recency + w.importance * importance,
                    ..r
                })
            })
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.truncate(k);
        Ok(out)
    }

    /// ExpeL's *add*: a new rule in rule set `library` (tagged `library:NAME`; none when
    /// empty) with `votes` votes, or, when a near-duplicate of that set exists, a vote for it.
    pub async fn add_insight(&self, library: &str, text: &str, votes: i32) -> Result<Stored> {
        let tags = if library.is_empty() {
            Vec::new()
        } else {
            vec![crate::library_tag(library)]
        };
        self.remember(Record::Insight(Insight {
            text: text.to_string(),
            votes,
            library: library.to_string(),
            tags,
            created_at: now(),
        }))
        .await
    }

    /// ExpeL's *agree* (+1) and *remove* (−1, deleted at 0). Returns the new vote count.
    pub async fn vote_insight(&self, id: &str, delta: i32) -> Result<i32> {
        let Some(mut point) = self.store.get(&[id.to_string()]).await?.pop() else {
            return Err(MemoryError::Invalid(format!("no insight {id}")));
        };
        let votes = point
            .payload
            .get("votes")
            .and_then(|v| v.as_i64())
            .unwrap_or(0) as i32
            + delta;
        if votes <= 0 {
            self.store.delete(&[id.to_string()]).await?;
        } else {
            point.payload.insert("votes".into(), votes.into());
            self.store.upsert(vec![point]).await?;
        }
        Ok(votes.max(0))
    }

    /// ExpeL's *edit*: replaces an insight's text, keeping its votes. Returns the new id.
    pub async fn edit_insight(&self, id: &str, text: &str) -> Result<String> {
        let Some(point) = self.store.get(&[id.to_string()]).await?.pop() else {
            return Err(MemoryError::Invalid(format!("no insight {id}")));
        };
        let Record::Insight(mut insight) = Record::from_payload(id, &point.payload)? else {
            return Err(MemoryError::Invalid(format!("{id} is not an insight")));
        };
        insight.text = text.to_string();
        let record = Record::Insight(insight);
        let new_id = record.id();
        let vector = self.embed_one(text).await?;
        self.store
            .upsert(vec![Point {
                id: new_id.clone(),
                vector,
                payload: record.to_payload(),
            }])
            .await?;
        if new_id != id {
            self.store.delete(&[id.to_string()]).await?;
        }
        Ok(new_id)
    }

    /// Counts a use of skill `id` that worked or failed.
    pub async fn record_skill_use(&self, id: &str, success: bool) -> Result<()> {
        let Some(mut point) = self.store.get(&[id.to_string()]).await?.pop() else {
            return Err(MemoryError::Invalid(format!("no skill {id}")));
        };
        let field = if success { "successes" } else { "failures" };
        let n = point
            .payload
            .get(field)
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        point.payload.insert(field.into(), (n + 1).into());
        self.store.upsert(vec![point]).await
    }

    /// Counts by kind.
    pub async fn stats(&self) -> Result<Stats> {
        Ok(Stats {
            reflections: self
                .store
                .count(&Filter::kind(RecordKind::Reflection))
                .await?,
            skills: self.store.count(&Filter::kind(RecordKind::Skill)).await?,
            insights: self.store.count(&Filter::kind(RecordKind::Insight)).await?,
        })
    }

    /// Writes every record (with its vector) as JSON lines; returns how many.
    pub async fn export(&self, out: &mut dyn Write) -> Result<usize> {
        let points = scroll_all(self.store.as_ref(), &Filter::all()).await?;
        let io = |e| MemoryError::Io {
            context: "writing the export".into(),
            source: e,
        };
        for p in &points {
            let line = ExportLine {
                id: p.id.clone(),
                record: Record::from_payload(&p.id, &p.payload)?,
                vector: p.vector.clone(),
            };
            serde_json::to_writer(&mut *out, &line)
                .map_err(|e| MemoryError::Invalid(e.to_string()))?;
            out.write_all(b"\n").map_err(io)?;
        }
        Ok(points.len())
    }

    /// Reads an export. Every line is validated before anything is written; vectors of
    /// the wrong dimension are recomputed. Returns how many records were stored.
    pub async fn import(&self, input: &mut dyn BufRead) -> Result<usize> {
        let mut lines = Vec::new();
        for (i, line) in input.lines().enumerate() {
            let line = line.map_err(|e| MemoryError::Io {
                context: "reading the import".into(),
                source: e,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let parsed: ExportLine = serde_json::from_str(&line)
                .map_err(|e| MemoryError::Invalid(format!("import line {}: {e}", i + 1)))?;
            lines.push(parsed);
        }
        let mut points = Vec::with_capacity(lines.len());
        for l in lines {
            let vector = if l.vector.len() == self.embedder.dim() {
                l.vector
            } else {
                self.embed_one(l.record.embed_text()).await?
            };
            points.push(Point {
                id: l.record.id(),
                vector,
                payload: l.record.to_payload(),
            });
        }
        let n = points.len();
        for chunk in points.chunks(256) {
            self.store.upsert(chunk.to_vec()).await?;
        }
        Ok(n)
    }
}

fn skill_name(r: &Recalled) -> &str {
    match &r.record {
        Record::Skill(s) => &s.name,
        _ => "",
    }
}

/// Of the skills among `hits`, the latest version of each name, in the order of the hits
/// (other records are dropped). Skills are versioned under one name; older versions stay stored.
pub fn latest_skill_versions(hits: Vec<Recalled>) -> Vec<Recalled> {
    let mut latest: Vec<Recalled> = Vec::new();
    for hit in hits {
        let Record::Skill(skill) = &hit.record else {
            continue;
        };
        match latest.iter_mut().find(|l| skill_name(l) == skill.name) {
            Some(kept) => {
                if matches!(&kept.record, Record::Skill(k) if k.version < skill.version) {
                    *kept = hit;
                }
            }
            None => latest.push(hit),
        }
    }
    latest
}

/// The latest version of each skill among `hits`, best first by similarity less
/// `failure_penalty` per failure beyond its successes (the score becomes that rank).
pub fn rank_skills(hits: Vec<Recalled>, failure_penalty: f32) -> Vec<Recalled> {
    let mut ranked: Vec<Recalled> = latest_skill_versions(hits)
        .into_iter()
        .map(|mut hit| {
            if let Record::Skill(s) = &hit.record {
                let excess = s.failures.saturating_sub(s.successes) as f32;
                hit.score -= failure_penalty * excess;
            }
            hit
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Skill;

    fn hit(name: &str, version: u32, score: f32, successes: u32, failures: u32) -> Recalled {
        Recalled {
            id: format!("{name}-{version}"),
            score,
            record: Record::Skill(Skill {
                name: name.into(),
                description: String::new(),
                code: String::new(),
                language: "python".into(),
                version,
                successes,
                failures,
                library: "l".into(),
                tags: vec![],
                created_at: 0,
            }),
        }
    }

    #[test]
    fn the_latest_version_counts_and_a_failing_skill_loses_rank() {
        let ranked = rank_skills(
            vec![
                hit("wood", 1, 0.90, 1, 0),
                hit("wood", 2, 0.80, 1, 0),
                hit("table", 1, 0.85, 1, 0),
                hit("sword", 1, 0.95, 1, 5),
            ],
            0.05,
        );
        let order: Vec<(&str, u32)> = ranked
            .iter()
            .map(|r| match &r.record {
                Record::Skill(s) => (s.name.as_str(), s.version),
                _ => ("", 0),
            })
            .collect();
        // sword: 0.95 - 4 x 0.05 = 0.75, below table (0.85) and wood v2 (0.80).
        assert_eq!(order, [("table", 1), ("wood", 2), ("sword", 1)]);
    }
}
