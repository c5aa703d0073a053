//! The store conformance suite on the embedded backend, and on a Qdrant server
//! when `QDRANT_URL` is set; and the record round-trips through MemoryBank.

mod common;

use common::{conformance, words};
use memory::store::edge::{EdgeOptions, EdgeStore};
use memory::store::server::QdrantStore;
use memory::{BankConfig, Insight, MemoryBank, Record, Reflection, Skill, Stored, VectorStore};
use std::sync::Arc;

fn edge(dir: &std::path::Path) -> Arc<dyn VectorStore> {
    Arc::new(
        EdgeStore::open(
            &dir.join("store"),
            common::DIM,
            true,
            &EdgeOptions::default(),
        )
        .unwrap(),
    )
}

async fn server(name: &str) -> (Arc<dyn VectorStore>, Arc<QdrantStore>) {
    let url = std::env::var("QDRANT_URL").expect("QDRANT_URL names a Qdrant server");
    let collection = format!("mneme-test-{name}-{}", std::process::id());
    let store = Arc::new(
        QdrantStore::connect(&url, &collection, common::DIM)
            .await
            .expect("Qdrant server"),
    );
    (store.clone() as Arc<dyn VectorStore>, store)
}

#[tokio::test]
async fn edge_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance(edge(dir.path())).await;
}

#[tokio::test]
#[cfg_attr(
    not(qdrant_server),
    ignore = "needs a Qdrant server: build and run the tests with QDRANT_URL set"
)]
async fn server_backend_conforms() {
    let (store, handle) = server("conformance").await;
    conformance(store).await;
    handle.drop_collection().await.unwrap();
}

fn reflection(task: &str, trial: u32, text: &str) -> Record {
    Record::Reflection(Reflection {
        task_id: task.into(),
        env: "humaneval".into(),
        trial,
        text: text.into(),
        outcome: "failed".into(),
        score: 0.25,
        tags: vec!["python".into()],
        created_at: memory::record::now(),
    })
}

async fn records_round_trip(store: Arc<dyn VectorStore>) {
    let bank = MemoryBank::new(store, Arc::new(words()), BankConfig::default());
    let r1 = reflection(
        "HumanEval/1",
        1,
        "off by one in the loop bound when slicing the list",
    );
    let r2 = reflection(
        "HumanEval/1",
        2,
        "empty input must return an empty list instead of None",
    );
    let other = reflection(
        "HumanEval/9",
        1,
        "the loop bound was off by one when slicing",
    );
    let skill = Record::Skill(Skill {
        name: "is_prime".into(),
        description: "check whether an integer is a prime number".into(),
        code: "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n".into(),
        language: "python".into(),
        version: 1,
        successes: 0,
        failures: 0,
        library: "default".into(),
        tags: vec![],
        created_at: memory::record::now(),
    });
    for r in [&r1, &r2, &other, &skill] {
        assert!(matches!(
            bank.remember(r.clone()).await.unwrap(),
            Stored::New(_)
        ));
    }
    // The same record again is not stored twice (deterministic id).
    assert_eq!(
        bank.remember(r1.clone()).await.unwrap(),
        Stored::Unchanged(r1.id())
    );
    // A near-duplicate of a reflection on the same task merges.
    let dup = reflection(
        "HumanEval/1",
        3,
        "off by one in the loop bound when slicing the list!",
    );
    assert!(matches!(
        bank.remember(dup).await.unwrap(),
        Stored::Merged { .. }
    ));
    let stats = bank.stats().await.unwrap();
    assert_eq!((stats.reflections, stats.skills, stats.insights), (3, 1, 0));

    // Reflexion: the latest reflections of this task, newest trial first.
    let recent = bank.recent_reflections("HumanEval/1", 5).await.unwrap();
    assert_eq!(
        recent.iter().map(|r| r.record.clone()).collect::<Vec<_>>(),
        vec![r2.clone(), r1.clone()]
    );
    // Cross-task: similar reflections from other tasks only.
    let similar = bank
        .similar_reflections("off by one loop bound", "HumanEval/1", 3)
        .await
        .unwrap();
    assert_eq!(similar.len(), 1);
    assert_eq!(similar[0].record, other);
    // Skills by description.
    let skills = bank.skills("is this integer prime", 5).await.unwrap();
    assert_eq!(skills[0].record, skill);
    bank.record_skill_use(&skill.id(), true).await.unwrap();
    let Record::Skill(s) = &bank.skills("prime", 1).await.unwrap()[0].record else {
        panic!()
    };
    assert_eq!(s.successes, 1);

    // Insights: add, agree (by adding again), edit, remove.
    let Stored::New(a) = bank
        .add_insight("", "write tests for empty inputs first", 1)
        .await
        .unwrap()
    else {
        panic!()
    };
    bank.add_insight("", "always handle negative numbers", 1)
        .await
        .unwrap();
    assert!(matches!(
        bank.add_insight("", "write tests for empty inputs first", 1)
            .await
            .unwrap(),
        Stored::Unchanged(_)
    ));
    assert!(matches!(
        bank.add_insight("", "Write tests for empty inputs first.", 1)
            .await
            .unwrap(),
        Stored::Merged { .. }
    ));
    assert_eq!(bank.vote_insight(&a, 1).await.unwrap(), 3);
    let top = bank.top_insights("", 1).await.unwrap();
    assert!(matches!(
        &top[0].record,
        Record::Insight(Insight { votes: 3, .. })
    ));
    let edited = bank
        .edit_insight(&a, "write tests for empty and single-element inputs first")
        .await
        .unwrap();
    assert_eq!(
        bank.vote_insight(&edited, -3).await.unwrap(),
        0,
        "removed at zero votes"
    );
    assert_eq!(bank.stats().await.unwrap().insights, 1);

    // Export and import into an empty store reproduce every record.
    let mut buf = Vec::new();
    let n = bank.export(&mut buf).await.unwrap();
    assert_eq!(n, 5);
    let dir = tempfile::tempdir().unwrap();
    let fresh = MemoryBank::new(edge(dir.path()), Arc::new(words()), BankConfig::default());
    assert_eq!(fresh.import(&mut &buf[..]).await.unwrap(), 5);
    assert_eq!(fresh.stats().await.unwrap(), bank.stats().await.unwrap());
    let bad = b"{\"id\": 1}\n";
    let err = fresh.import(&mut &bad[..]).await.unwrap_err().to_string();
    assert!(err.contains("import line 1"), "{err}");
    assert_eq!(
        fresh.stats().await.unwrap().reflections,
        3,
        "a bad import writes nothing"
    );
}

#[tokio::test]
async fn records_round_trip_on_edge() {
    let dir = tempfile::tempdir().unwrap();
    records_round_trip(edge(dir.path())).await;
}

#[tokio::test]
#[cfg_attr(
    not(qdrant_server),
    ignore = "needs a Qdrant server: build and run the tests with QDRANT_URL set"
)]
async fn records_round_trip_on_server() {
    let (store, handle) = server("records").await;
    records_round_trip(store).await;
    handle.drop_collection().await.unwrap();
}

async fn refuses_a_second_embedding_model(
    store: Arc<dyn VectorStore>,
    reopened: impl std::future::Future<Output = Arc<dyn VectorStore>>,
) {
    store.bind_embedder("model-a").await.unwrap();
    store.bind_embedder("model-a").await.unwrap();
    let e = store
        .bind_embedder("model-b")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("model-a") && e.contains("model-b"), "{e}");
    drop(store);
    let again = reopened.await;
    let e = again
        .bind_embedder("model-b")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model-a"),
        "the model is remembered across opens: {e}"
    );
    again.bind_embedder("model-a").await.unwrap();
}

#[tokio::test]
async fn edge_refuses_a_second_embedding_model() {
    let dir = tempfile::tempdir().unwrap();
    let store = edge(dir.path());
    let path = dir.path().to_path_buf();
    refuses_a_second_embedding_model(store, async move { edge(&path) }).await;
}

#[tokio::test]
#[cfg_attr(
    not(qdrant_server),
    ignore = "needs a Qdrant server: build and run the tests with QDRANT_URL set"
)]
async fn server_refuses_a_second_embedding_model() {
    let (store, handle) = server("embedder").await;
    refuses_a_second_embedding_model(store, async { server("embedder").await.0 }).await;
    handle.drop_collection().await.unwrap();
}

#[tokio::test]
async fn a_url_that_is_not_a_qdrant_server_is_named() {
    // Something that speaks plain HTTP/1.1 and closes: not Qdrant's gRPC service.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let err = match QdrantStore::connect(&url, "mneme-not-qdrant", common::DIM).await {
        Ok(_) => panic!("connected to something that is not Qdrant"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&url), "{err}");
    assert!(err.contains("gRPC"), "{err}");
}

#[tokio::test]
#[cfg_attr(
    not(qdrant_server),
    ignore = "needs a Qdrant server: build and run the tests with QDRANT_URL set"
)]
async fn processes_starting_together_share_a_new_collection() {
    // Shards of one run start at the same moment and race to create the collection.
    let url = std::env::var("QDRANT_URL").unwrap();
    let name = format!("mneme-test-race-{}", std::process::id());
    let connects = (0..4).map(|_| QdrantStore::connect(&url, &name, common::DIM));
    let stores = futures::future::join_all(connects).await;
    for s in &stores {
        assert!(s.is_ok(), "{:?}", s.as_ref().err().map(|e| e.to_string()));
    }
    stores[0].as_ref().unwrap().drop_collection().await.unwrap();
}
