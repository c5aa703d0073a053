//! The conformance suite every [`VectorStore`] backend must pass, and a small
//! deterministic embedder for exercising [`MemoryBank`] logic without a model.

#![allow(dead_code)]

use memory::record::content_id;
use memory::store::{scroll_all, Point, VectorStore};
use memory::{Filter, RecordKind};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

pub const DIM: usize = 384;

/// A unit vector pointing mostly along axis `i`, with a little of axis `j`.
pub fn vector(i: usize, j: usize, mix: f32) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[i % DIM] = 1.0;
    v[j % DIM] += mix;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn payload(kind: &str, task: &str, created: i64, tags: &[&str]) -> Map<String, Value> {
    match json!({"kind": kind, "task_id": task, "env": "test", "created_at": created, "tags": tags})
    {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

pub fn id(n: usize) -> String {
    content_id(&["conformance", &n.to_string()])
}

/// 60 points: kinds cycle reflection/skill/insight, tasks T0..T4, times 1000+n, tags by parity.
pub fn dataset() -> Vec<Point> {
    (0..60)
        .map(|n| {
            let kind = ["reflection", "skill", "insight"][n % 3];
            let tags: &[&str] = if n % 2 == 0 { &["even"] } else { &["odd", "x"] };
            Point {
                id: id(n),
                vector: vector(n, n + 1, 0.3),
                payload: payload(kind, &format!("T{}", n % 5), 1000 + n as i64, tags),
            }
        })
        .collect()
}

pub async fn conformance(store: Arc<dyn VectorStore>) {
    let data = dataset();
    assert_eq!(
        store.count(&Filter::all()).await.unwrap(),
        0,
        "starts empty"
    );
    store.upsert(data[..30].to_vec()).await.unwrap();
    store.upsert(data[30..].to_vec()).await.unwrap();
    store.upsert(vec![]).await.unwrap();
    assert_eq!(store.count(&Filter::all()).await.unwrap(), 60);

    // get: vectors and payloads come back; missing ids are skipped.
    let got = store
        .get(&[id(7), "00000000-0000-4000-8000-000000000000".into(), id(8)])
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    let seven = got.iter().find(|p| p.id == id(7)).expect("point 7");
    assert_eq!(seven.payload, data[7].payload);
    let dot: f32 = seven
        .vector
        .iter()
        .zip(&data[7].vector)
        .map(|(a, b)| a * b)
        .sum();
    assert!(
        (dot - 1.0).abs() < 1e-4,
        "vector round-trips (cosine {dot})"
    );

    // search: the exact vector is the best hit with score ~1; results sorted.
    let hits = store
        .search(&data[12].vector, 5, &Filter::all())
        .await
        .unwrap();
    assert_eq!(hits[0].point.id, id(12));
    assert!((hits[0].score - 1.0).abs() < 1e-4);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));

    // Every filter agrees with the reference semantics (Filter::matches).
    let filters = vec![
        Filter::kind(RecordKind::Reflection),
        Filter::kind(RecordKind::Skill).task("T1"),
        Filter::kind(RecordKind::Insight).not_task("T2"),
        Filter::all().tags_any(vec!["x".into(), "nope".into()]),
        Filter::all().created_between(Some(1010), Some(1020)),
        Filter::kind(RecordKind::Reflection)
            .env("test")
            .created_between(Some(1030), None),
        Filter::all().env("other"),
    ];
    for f in &filters {
        let expected: HashSet<String> = data
            .iter()
            .filter(|p| f.matches(&p.payload))
            .map(|p| p.id.clone())
            .collect();
        assert_eq!(
            store.count(f).await.unwrap() as usize,
            expected.len(),
            "count {f:?}"
        );
        let hits = store.search(&data[3].vector, 100, f).await.unwrap();
        let found: HashSet<String> = hits.iter().map(|h| h.point.id.clone()).collect();
        assert_eq!(found, expected, "search {f:?}");
        let all = scroll_all(store.as_ref(), f).await.unwrap();
        let scrolled: HashSet<String> = all.iter().map(|p| p.id.clone()).collect();
        assert_eq!(scrolled, expected, "scroll {f:?}");
        assert_eq!(all.len(), expected.len(), "scroll returns each point once");
    }

    // Pagination covers everything exactly once.
    let mut seen = Vec::new();
    let mut from = None;
    loop {
        let (page, next) = store.scroll(&Filter::all(), from, 7).await.unwrap();
        assert!(page.len() <= 7);
        seen.extend(page.into_iter().map(|p| p.id));
        match next {
            Some(n) => from = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 60);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 60);

    // Upsert with an existing id replaces the point.
    let mut replaced = data[5].clone();
    replaced.payload.insert("note".into(), "changed".into());
    store.upsert(vec![replaced.clone()]).await.unwrap();
    assert_eq!(store.count(&Filter::all()).await.unwrap(), 60);
    assert_eq!(
        store.get(&[id(5)]).await.unwrap()[0].payload["note"],
        "changed"
    );

    // Delete by id and by filter.
    store
        .delete(&[id(0), id(1), "00000000-0000-4000-8000-000000000000".into()])
        .await
        .unwrap();
    assert_eq!(store.count(&Filter::all()).await.unwrap(), 58);
    let t3 = Filter::all().task("T3");
    let n_t3 = store.count(&t3).await.unwrap();
    assert!(n_t3 > 0);
    store.delete_where(&t3).await.unwrap();
    assert_eq!(store.count(&t3).await.unwrap(), 0);
    assert_eq!(store.count(&Filter::all()).await.unwrap(), 58 - n_t3);

    // Optimize keeps everything findable.
    store.optimize().await.unwrap();
    assert_eq!(store.count(&Filter::all()).await.unwrap(), 58 - n_t3);
    assert_eq!(
        store
            .search(&data[12].vector, 1, &Filter::all())
            .await
            .unwrap()[0]
            .point
            .id,
        id(12)
    );
}

/// The deterministic bag-of-words embedder at the test dimension.
pub fn words() -> memory::embed::HashingEmbedder {
    memory::embed::HashingEmbedder::new(DIM)
}
