//! The real local embedding model (all-MiniLM-L6-v2 int8 through fastembed and
//! ONNX Runtime, files from PyPI) with the real embedded store.

mod common;

use memory::store::edge::{EdgeOptions, EdgeStore};
use memory::{BankConfig, Embedder, LocalEmbedder, MemoryBank, Record, Reflection};
use std::sync::Arc;

fn embedder() -> LocalEmbedder {
    LocalEmbedder::from_data_dir(&tools::default_data_dir()).expect("local embedding model")
}

#[tokio::test]
async fn a_paraphrase_ranks_above_unrelated_text() {
    let e = embedder();
    let texts: Vec<String> = [
        "The function fails on an empty list because it indexes the first element.",
        "Indexing element zero crashes when the input list has no items.",
        "Paris is the capital of France and sits on the Seine.",
        "Bake the bread at two hundred degrees for forty minutes.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = e.embed(&texts).await.unwrap();
    assert_eq!(v.len(), 4);
    assert!(v.iter().all(|x| x.len() == 384));
    let para = memory::embed::cosine(&v[0], &v[1]);
    let unrelated = memory::embed::cosine(&v[0], &v[2]).max(memory::embed::cosine(&v[0], &v[3]));
    assert!(
        para > unrelated + 0.2,
        "paraphrase {para} vs unrelated {unrelated}"
    );
    let again = e.embed(&texts[..1]).await.unwrap();
    assert!(
        memory::embed::cosine(&again[0], &v[0]) > 0.9999,
        "deterministic"
    );
}

#[tokio::test]
async fn semantic_retrieval_of_reflections_across_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        EdgeStore::open(&dir.path().join("m"), 384, true, &EdgeOptions::default()).unwrap(),
    );
    let bank = MemoryBank::new(store, Arc::new(embedder()), BankConfig::default());
    let texts = [
        ("HumanEval/3", "I forgot that an empty list has no first element; check for empty input before indexing."),
        ("HumanEval/7", "The regular expression did not escape the dot, so it matched any character."),
        ("HumanEval/12", "Integer division rounded toward zero for negative numbers; use floor division semantics."),
    ];
    for (i, (task, text)) in texts.iter().enumerate() {
        let r = Record::Reflection(Reflection {
            task_id: task.to_string(),
            env: "humaneval".into(),
            trial: 1,
            text: text.to_string(),
            outcome: "failed".into(),
            score: 0.0,
            tags: vec![],
            created_at: 1_700_000_000 + i as i64,
        });
        bank.remember(r).await.unwrap();
    }
    let hits = bank
        .similar_reflections(
            "my code crashed on [] because it read items[0]",
            "HumanEval/99",
            3,
        )
        .await
        .unwrap();
    let Record::Reflection(best) = &hits[0].record else {
        panic!()
    };
    assert_eq!(best.task_id, "HumanEval/3", "{hits:#?}");
    let excluded = bank
        .similar_reflections("empty list first element", "HumanEval/3", 3)
        .await
        .unwrap();
    assert!(excluded
        .iter()
        .all(|h| !matches!(&h.record, Record::Reflection(r) if r.task_id == "HumanEval/3")));
}
