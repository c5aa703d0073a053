//! `mneme memory` against a real embedded store and the real local embedder.

use std::process::Command;

fn mneme(store: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mneme"))
        .args(args)
        .env("MNEME_MEMORY__PATH", store)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const RECORDS: &str = r#"{"id": "x", "vector": [], "record": {"kind": "reflection", "task_id": "HumanEval/3", "env": "humaneval", "trial": 1, "text": "The loop crashed on an empty list because it read the first element without checking.", "outcome": "failed", "score": 0.0, "created_at": 1700000000}}
{"id": "y", "vector": [], "record": {"kind": "skill", "name": "is_prime", "description": "Decide whether an integer is a prime number.", "code": "def is_prime(n): ...", "language": "python", "version": 1, "successes": 2, "failures": 0, "created_at": 1700000001}}
{"id": "z", "vector": [], "record": {"kind": "insight", "text": "Write a test for the empty input before anything else.", "votes": 2, "created_at": 1700000002}}
"#;

#[test]
fn import_stats_search_export_compact() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("memory");

    let (ok, _, err) = mneme(&store, &["memory", "stats"]);
    assert!(
        !ok && err.contains("does not exist yet"),
        "a missing store is named, not created: {err}"
    );
    assert!(!store.exists());

    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, RECORDS).unwrap();
    let (ok, out, err) = mneme(&store, &["memory", "import", input.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        format!("imported 3 records from {}", input.display()),
        "{out}"
    );

    let (ok, out, err) = mneme(&store, &["memory", "stats"]);
    assert!(ok, "{err}");
    assert_eq!(counts(&out), [1, 1, 1], "{out}");

    let (ok, out, err) = mneme(
        &store,
        &["memory", "search", "my code failed on []", "--k", "3"],
    );
    assert!(ok, "{err}");
    assert!(
        out.lines().next().unwrap_or("").contains("reflection"),
        "the reflection ranks first: {out}"
    );
    let (ok, out, _) = mneme(
        &store,
        &["memory", "search", "primality", "--kind", "skill"],
    );
    assert!(
        ok && out.lines().count() == 1 && out.contains("is_prime"),
        "{out}"
    );

    let export = dir.path().join("out.jsonl");
    let (ok, out, err) = mneme(&store, &["memory", "export", export.to_str().unwrap()]);
    assert!(ok && out.contains("exported 3 records"), "{out}{err}");
    let lines = std::fs::read_to_string(&export).unwrap();
    assert_eq!(lines.lines().count(), 3);
    assert!(lines.lines().all(
        |l| serde_json::from_str::<serde_json::Value>(l).unwrap()["vector"]
            .as_array()
            .unwrap()
            .len()
            == 384
    ));

    // Importing the export again changes nothing: ids are deterministic.
    let (ok, _, err) = mneme(&store, &["memory", "import", export.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (_, out, _) = mneme(&store, &["memory", "stats"]);
    assert_eq!(counts(&out), [1, 1, 1], "{out}");

    let (ok, out, err) = mneme(&store, &["memory", "compact"]);
    assert!(ok && out.contains("compacted"), "{out}{err}");

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"record\": {\"kind\": \"nonsense\"}}\n").unwrap();
    let (ok, _, err) = mneme(&store, &["memory", "import", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("import line 1"), "{err}");
}

/// The record counts `mneme memory stats` prints: reflections, skills, insights (whole values).
fn counts(stats: &str) -> [u64; 3] {
    ["reflections", "skills", "insights"].map(|kind| {
        stats
            .lines()
            .find_map(|l| {
                l.strip_prefix(kind)?
                    .strip_prefix(": ")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no `{kind}: N` line in {stats}"))
    })
}
