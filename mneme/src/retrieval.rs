//! `mneme bench retrieval`: does memory find the right record when a later situation says the
//! same thing in other words? The paraphrase set (`memory/benches/paraphrase.jsonl`, written by
//! hand, never tuned on a model) holds reflections and coding skills, each with two queries
//! that paraphrase it, among distractors on neighbouring topics. Every record is stored through
//! the real path (a fresh embedded store, the configured embedder, skills described as the
//! coding library describes them); each query searches the records of its kind. Reports
//! recall@1, recall@5 and MRR for vector search and for hybrid search (vector + BM25).

use crate::config::Config;
use memory::{Filter, MemoryBank, Record, RecordKind, Reflection};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The paraphrase set shipped with mneme.
pub const PARAPHRASES: &str = include_str!("../../memory/benches/paraphrase.jsonl");

/// One record of the set, with the queries that should find it.
#[derive(Debug, Deserialize)]
struct Item {
    kind: String,
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
    queries: Vec<String>,
}

/// Ranks of the target (1-based; `None` past the depth searched) for each query, by kind.
#[derive(Default)]
struct Ranks {
    by_kind: Vec<(String, Vec<Option<usize>>)>,
    misses: Vec<String>,
}

impl Ranks {
    fn push(&mut self, kind: &str, rank: Option<usize>) {
        match self.by_kind.iter_mut().find(|(k, _)| k == kind) {
            Some((_, ranks)) => ranks.push(rank),
            None => self.by_kind.push((kind.to_string(), vec![rank])),
        }
    }

    fn line(label: &str, ranks: &[Option<usize>]) -> String {
        let n = ranks.len().max(1) as f64;
        let within = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count();
        let mrr: f64 = ranks.iter().flatten().map(|&r| 1.0 / r as f64).sum::<f64>() / n;
        format!(
            "| {label} | {} | {:.3} ({}) | {:.3} ({}) | {mrr:.3} |",
            ranks.len(),
            within(1) as f64 / n,
            within(1),
            within(5) as f64 / n,
            within(5)
        )
    }

    fn table(&self, method: &str) -> String {
        let mut out = vec![
            format!("{method}:"),
            "| queries | n | recall@1 | recall@5 | MRR |".into(),
            "|---|---|---|---|---|".into(),
        ];
        let mut all = Vec::new();
        for (kind, ranks) in &self.by_kind {
            out.push(Self::line(kind, ranks));
            all.extend(ranks.iter().copied());
        }
        out.push(Self::line("all", &all));
        out.join("\n")
    }
}

/// The record an item is stored as: a reflection on its own task, or a skill of library
/// `bench` described as the coding skill library describes submissions.
fn record(item: &Item) -> anyhow::Result<Record> {
    match item.kind.as_str() {
        "reflection" => Ok(Record::Reflection(Reflection {
            task_id: item.id.clone(),
            env: "bench".into(),
            trial: 1,
            text: item.text.clone(),
            outcome: "failed internal tests".into(),
            score: 0.0,
            tags: vec![],
            created_at: 0,
        })),
        "skill" => {
            let tags = vec![memory::library_tag("bench")];
            agent_core::learn::skills::skill_from(&item.code, &item.name, "", "bench", tags)
                .map(Record::Skill)
                .map_err(|why| anyhow::anyhow!("skill {}: {why}", item.id))
        }
        other => anyhow::bail!("item {}: unknown kind {other:?}", item.id),
    }
}

/// Reads the set: the shipped one, or `path`.
fn items(path: Option<&Path>) -> anyhow::Result<Vec<Item>> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p)?,
        None => PARAPHRASES.to_string(),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1)))
        .collect()
}

/// `mneme bench retrieval`.
pub async fn bench(config: &Config, data: Option<&Path>) -> anyhow::Result<()> {
    let items = items(data)?;
    let embedder = crate::wiring::embedder(config)?;
    let dir = tempfile::tempdir()?;
    let store = memory::store::edge::EdgeStore::open(
        &dir.path().join("memory"),
        embedder.dim(),
        true,
        &config.memory.edge,
    )?;
    let bank = MemoryBank::new(Arc::new(store), embedder.clone(), Default::default());
    let started = Instant::now();
    let mut ids = Vec::new();
    for item in &items {
        let record = record(item)?;
        ids.push(record.id());
        bank.remember(record).await?;
    }
    let stored_secs = started.elapsed().as_secs_f64();
    println!(
        "{} records stored with {} in {stored_secs:.1} s ({:.0} a second, one at a time)",
        items.len(),
        embedder.model_name(),
        items.len() as f64 / stored_secs
    );
    let (mut vector, mut hybrid) = (Ranks::default(), Ranks::default());
    for (item, target) in items.iter().zip(&ids) {
        let kind: RecordKind = item.kind.parse()?;
        let filter = Filter::kind(kind);
        for query in &item.queries {
            let by_vector = bank.search(query, &filter, 10).await?;
            let by_both = bank.search_hybrid(query, &filter, 10).await?;
            for (ranks, hits) in [(&mut vector, &by_vector), (&mut hybrid, &by_both)] {
                let rank = hits.iter().position(|h| &h.id == target).map(|r| r + 1);
                ranks.push(&item.kind, rank);
                if rank != Some(1) {
                    let winner = hits.first().map(|h| label(&items, &ids, &h.id));
                    ranks.misses.push(format!(
                        "{} {query:?}: rank {} (first: {})",
                        item.id,
                        rank.map_or("> 10".into(), |r| r.to_string()),
                        winner.unwrap_or_default()
                    ));
                }
            }
        }
    }
    println!(
        "\n{}\n\n{}",
        vector.table("vector"),
        hybrid.table("hybrid (vector + BM25, RRF)")
    );
    println!("\nmissed at rank 1 by vector search:");
    for miss in &vector.misses {
        println!("  {miss}");
    }
    Ok(())
}

fn label(items: &[Item], ids: &[String], id: &str) -> String {
    ids.iter()
        .position(|i| i == id)
        .map(|i| items[i].id.clone())
        .unwrap_or_else(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_set_parses_and_every_item_becomes_a_record() {
        let items = items(None).unwrap();
        let queries: usize = items.iter().map(|i| i.queries.len()).sum();
        assert_eq!((items.len(), queries), (160, 240));
        let mut ids = std::collections::HashSet::new();
        for item in &items {
            let record = record(item).unwrap();
            assert!(
                ids.insert(record.id()),
                "two items make one record: {}",
                item.id
            );
            if let Record::Skill(skill) = record {
                assert!(skill
                    .description
                    .starts_with(&format!("def {}(", item.name)));
            }
        }
    }
}
