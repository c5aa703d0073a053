//! The bodies of the `sandbox`, `tasks` and `bench` subcommands.

use crate::config::Config;
use anyhow::Context;
use environments::code::score_submission;
use environments::{load_suite, TaskKind, TaskSuite};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tools::sandbox::{Job, Sandbox, Verdict};

/// `mneme sandbox run FILE.py`: one JSON object on stdout.
pub async fn sandbox_run(
    config: &Config,
    file: &Path,
    timeout: Option<f64>,
    memory_mb: Option<u64>,
) -> anyhow::Result<()> {
    let code =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut sandbox_config = config.sandbox.clone();
    sandbox_config.workers = 1;
    let sandbox = Sandbox::new(sandbox_config)?;
    let mut job = Job::python(code);
    job.filename = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("main.py")
        .to_string();
    job.timeout = timeout.map(Duration::from_secs_f64);
    job.memory_mb = memory_mb;
    let outcome = sandbox.run(&job).await;
    println!("{}", serde_json::to_string(&outcome)?);
    Ok(())
}

/// `mneme tasks list SUITE`.
pub fn tasks_list(config: &Config, suite: &str, limit: Option<usize>) -> anyhow::Result<()> {
    let suite = load_suite(suite, &config.data_dir())?;
    let tasks = suite.tasks();
    println!("{}: {} tasks", suite.name(), tasks.len());
    for task in tasks.iter().take(limit.unwrap_or(usize::MAX)) {
        let (entry, examples) = match &task.kind {
            TaskKind::Code(c) => (c.entry_point.as_str(), c.examples.len()),
            TaskKind::Custom(_) => ("-", 0),
        };
        let summary = first_sentence(&task.prompt, entry);
        println!(
            "{:<14} {:<28} {:>2} examples  {}",
            task.id, entry, examples, summary
        );
    }
    Ok(())
}

/// The first line of the docstring, or of the prompt.
fn first_sentence(prompt: &str, entry: &str) -> String {
    let after_def = prompt
        .split(&format!("def {entry}("))
        .nth(1)
        .unwrap_or(prompt);
    let line = after_def
        .lines()
        .skip(1)
        .map(|l| {
            l.trim()
                .trim_start_matches("\"\"\"")
                .trim_start_matches("'''")
                .trim()
        })
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let cut: String = line.chars().take(70).collect();
    if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// `mneme bench canonical`: every canonical solution through the sandbox.
pub async fn bench_canonical(
    config: &Config,
    suite: &str,
    workers: Option<usize>,
    repeat: usize,
) -> anyhow::Result<()> {
    let suite = load_suite(suite, &config.data_dir())?;
    let tasks: Vec<_> = suite
        .tasks()
        .iter()
        .filter_map(|t| match &t.kind {
            TaskKind::Code(c) => c
                .canonical_solution
                .as_ref()
                .map(|s| (t.clone(), format!("{}{}", t.prompt, s))),
            TaskKind::Custom(_) => None,
        })
        .collect();
    anyhow::ensure!(
        !tasks.is_empty(),
        "{} has no canonical solutions",
        suite.name()
    );
    let mut sandbox_config = config.sandbox.clone();
    if let Some(w) = workers {
        sandbox_config.workers = w;
    }
    let workers = sandbox_config.workers;
    let sandbox = Arc::new(Sandbox::new(sandbox_config)?);
    // Warm the pool so start-up is not billed to the first round.
    let warm: Vec<_> = (0..workers)
        .map(|_| {
            let sb = sandbox.clone();
            tokio::spawn(async move { sb.run(&Job::python("pass")).await })
        })
        .collect();
    for w in warm {
        w.await?;
    }
    println!(
        "{} canonical solutions of {}, {} sandbox workers",
        tasks.len(),
        suite.name(),
        workers
    );
    for round in 1..=repeat.max(1) {
        let started = Instant::now();
        let checks: Vec<_> = tasks
            .iter()
            .cloned()
            .map(|(task, code)| {
                let sb = sandbox.clone();
                tokio::spawn(async move {
                    score_submission(&sb, &task, &code)
                        .await
                        .map(|o| (task.id, o.verdict))
                })
            })
            .collect();
        let mut passed = 0;
        let mut failed = Vec::new();
        for c in checks {
            let (id, verdict) = c.await??;
            if verdict == Verdict::Passed {
                passed += 1;
            } else {
                failed.push(format!("{id}: {verdict}"));
            }
        }
        let wall = started.elapsed();
        println!(
            "round {round}: {passed}/{} passed in {:.3} s ({:.2} ms per check)",
            tasks.len(),
            wall.as_secs_f64(),
            wall.as_secs_f64() * 1000.0 / tasks.len() as f64
        );
        for f in failed {
            println!("  not passed: {f}");
        }
    }
    Ok(())
}

/// `mneme memory stats`.
pub async fn memory_stats(config: &Config) -> anyhow::Result<()> {
    let bank = crate::wiring::memory_bank(config, false).await?;
    let stats = bank.stats().await?;
    println!("backend: {}", bank.store().backend());
    if bank.store().backend() == "edge" {
        let path = config.memory_path();
        println!(
            "path: {} ({:.1} MiB on disk)",
            path.display(),
            disk_bytes(&path) as f64 / (1 << 20) as f64
        );
    }
    println!(
        "reflections: {}\nskills: {}\ninsights: {}",
        stats.reflections, stats.skills, stats.insights
    );
    Ok(())
}

/// `mneme memory search TEXT`.
pub async fn memory_search(
    config: &Config,
    text: &str,
    kind: Option<memory::RecordKind>,
    k: usize,
) -> anyhow::Result<()> {
    let bank = crate::wiring::memory_bank(config, false).await?;
    let filter = memory::Filter {
        kind,
        ..Default::default()
    };
    for hit in bank.search(text, &filter, k).await? {
        let (kind, what) = match &hit.record {
            memory::Record::Reflection(r) => (
                "reflection",
                format!("[{} trial {}] {}", r.task_id, r.trial, r.text),
            ),
            memory::Record::Skill(s) => (
                "skill",
                format!("{} v{}: {}", s.name, s.version, s.description),
            ),
            memory::Record::Insight(i) => ("insight", format!("({} votes) {}", i.votes, i.text)),
        };
        println!("{:.3}  {kind:<10} {}  {what}", hit.score, hit.id);
    }
    Ok(())
}

/// `mneme memory export FILE`.
pub async fn memory_export(config: &Config, file: &Path) -> anyhow::Result<()> {
    let bank = crate::wiring::memory_bank(config, false).await?;
    let mut out = std::io::BufWriter::new(
        tools::fsio::AtomicFile::create(file)
            .with_context(|| format!("creating {}", file.display()))?,
    );
    let n = bank.export(&mut out).await?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(tools::fsio::AtomicFile::commit)
        .with_context(|| format!("writing {}", file.display()))?;
    println!("exported {n} records to {}", file.display());
    Ok(())
}

/// `mneme memory import FILE`.
pub async fn memory_import(config: &Config, file: &Path) -> anyhow::Result<()> {
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let bank = crate::wiring::memory_bank(config, true).await?;
    let n = bank.import(&mut std::io::BufReader::new(input)).await?;
    println!("imported {n} records from {}", file.display());
    Ok(())
}

/// `mneme memory compact`.
pub async fn memory_compact(config: &Config) -> anyhow::Result<()> {
    let bank = crate::wiring::memory_bank(config, false).await?;
    let started = Instant::now();
    bank.store().optimize().await?;
    println!("compacted in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Bytes a directory takes on disk (allocated blocks, so sparse files count as they are).
pub fn disk_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// Generated, varied sentences in the register of reflections (for benchmarks).
fn sentences(n: usize, offset: usize) -> Vec<String> {
    const WHAT: &[&str] = &[
        "indexed past the end of the list",
        "ignored negative numbers",
        "compared floats with ==",
        "mutated the input while iterating",
        "forgot the empty string case",
        "returned None instead of a list",
        "used integer division",
        "sorted in the wrong order",
        "missed duplicate values",
        "overflowed the recursion limit",
        "confused rows and columns",
        "treated uppercase and lowercase alike",
        "skipped the last element",
        "counted spaces as characters",
        "returned a string instead of an int",
        "did not strip whitespace",
        "looped one time too many",
        "assumed the input was sorted",
        "shadowed a builtin name",
        "rounded half down",
    ];
    const WHERE: &[&str] = &[
        "a palindrome check",
        "a prime sieve",
        "a matrix transpose",
        "a date parser",
        "a run-length encoder",
        "a binary search",
        "a vowel counter",
        "a bracket matcher",
        "a Fibonacci variant",
        "a digit sum",
        "an anagram test",
        "a histogram builder",
        "a word splitter",
        "a roman numeral converter",
        "a GCD helper",
    ];
    const FIX: &[&str] = &[
        "check the bounds first",
        "add a test for empty input",
        "use math.isclose",
        "copy the list before editing",
        "handle the sign separately",
        "return an empty list",
        "use true division",
        "reverse the sort key",
        "deduplicate with a set",
        "rewrite it iteratively",
        "swap the loop order",
        "call lower() first",
        "iterate to len(xs)",
        "filter out spaces",
        "cast the result with int()",
        "strip the input",
        "stop one step earlier",
        "sort before searching",
        "rename the variable",
        "use the decimal module",
    ];
    (offset..offset + n)
        .map(|i| {
            let (a, b, c, d) = (
                i % WHAT.len(),
                (i / WHAT.len()) % WHERE.len(),
                (i / 300) % FIX.len(),
                i / 6000,
            );
            format!(
                "In {} the code {} (case {d}); next time {}.",
                WHERE[b], WHAT[a], FIX[c]
            )
        })
        .collect()
}

/// A deterministic normal sample (xorshift + Box–Muller).
struct Noise(u64);

impl Noise {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.next_f64().max(1e-12), self.next_f64());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// `mneme bench memory`: embedding throughput, then for each size: insert throughput,
/// index build, search latency with and without a filter, recall@10 against exact
/// search, reopen time and disk size.
pub async fn bench_memory(
    config: &Config,
    real: usize,
    sizes: &[usize],
    queries: usize,
) -> anyhow::Result<()> {
    use memory::store::edge::EdgeStore;
    use memory::store::Point;
    use memory::{Filter, LocalEmbedder, RecordKind, VectorStore};

    const KINDS: [&str; 3] = ["reflection", "skill", "insight"];
    let embedder = LocalEmbedder::from_data_dir(&config.data_dir())?;
    let texts = sentences(real + queries, 0);
    let started = Instant::now();
    let mut vectors = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        vectors.extend(embedder.embed_blocking(chunk)?);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "embedding: {} sentences in {secs:.1} s = {:.0} per second (batches of 64)",
        texts.len(),
        texts.len() as f64 / secs
    );
    let query_vectors: Vec<Vec<f32>> = vectors.split_off(real);

    for &size in sizes {
        // Real embeddings first; beyond them, jittered copies (σ = 0.02 per dimension,
        // cosine ≈ 0.93 to their source), so the set stays clustered like real text.
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15 ^ size as u64);
        let data: Vec<Vec<f32>> = (0..size)
            .map(|i| {
                let base = &vectors[i % vectors.len()];
                if i < vectors.len() {
                    base.clone()
                } else {
                    normalized(base.iter().map(|x| x + 0.02 * noise.normal()).collect())
                }
            })
            .collect();
        let dir = tempfile::tempdir_in(config.data_dir()).or_else(|_| tempfile::tempdir())?;
        let path = dir.path().join("store");
        let store = EdgeStore::open(&path, memory::embed::MINILM_DIM, true, &config.memory.edge)?;
        let points: Vec<Point> = data
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                id: memory::record::content_id(&["bench", &i.to_string()]),
                vector: v.clone(),
                payload: serde_json::json!({
                    "kind": KINDS[i % 3],
                    "task_id": format!("task-{}", i % 100),
                    "created_at": i as i64,
                })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            })
            .collect();
        let started = Instant::now();
        for chunk in points.chunks(1000) {
            store.upsert(chunk.to_vec()).await?;
        }
        let insert = started.elapsed().as_secs_f64();
        let started = Instant::now();
        store.optimize().await?;
        let optimize = started.elapsed().as_secs_f64();

        let filters = [
            ("no filter", Filter::all()),
            (
                "kind = reflection (1/3)",
                Filter::kind(RecordKind::Reflection),
            ),
            ("task_id = task-7 (1/100)", Filter::all().task("task-7")),
        ];
        println!("\n{size} points: insert {:.0} points/s (batches of 1000, each flushed), index build {optimize:.1} s", size as f64 / insert);
        for (name, filter) in &filters {
            let matching: Vec<usize> = (0..size)
                .filter(|i| filter.matches(&points[*i].payload))
                .collect();
            let mut latencies = Vec::with_capacity(queries);
            let mut recall_sum = 0.0;
            for q in &query_vectors[..queries] {
                let t = Instant::now();
                let hits = store.search(q, 10, filter).await?;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                let mut exact: Vec<(f32, usize)> = matching
                    .iter()
                    .map(|&i| (data[i].iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), i))
                    .collect();
                exact.sort_by(|a, b| b.0.total_cmp(&a.0));
                let truth: std::collections::HashSet<&str> = exact
                    .iter()
                    .take(10)
                    .map(|(_, i)| points[*i].id.as_str())
                    .collect();
                let found = hits
                    .iter()
                    .filter(|h| truth.contains(h.point.id.as_str()))
                    .count();
                recall_sum += found as f64 / truth.len().max(1) as f64;
            }
            latencies.sort_by(f64::total_cmp);
            println!(
                "  search top-10, {name:<26} p50 {:.2} ms  p99 {:.2} ms  recall@10 {:.3}",
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                recall_sum / queries as f64
            );
        }
        drop(store);
        let started = Instant::now();
        let reopened =
            EdgeStore::open(&path, memory::embed::MINILM_DIM, false, &config.memory.edge)?;
        let reopen = started.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(
            reopened.count(&Filter::all()).await? == size as u64,
            "reopened store lost points"
        );
        println!(
            "  reopen {reopen:.0} ms, {:.1} MiB on disk",
            disk_bytes(&path) as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}

/// `mneme bench overhead`: the framework's own time per model call, against a server
/// that answers instantly, compared with a bare HTTP request of the same body.
pub async fn bench_overhead(calls: usize) -> anyhow::Result<()> {
    use agent_core::llm::{
        build_chat_stack, Budget, ChatRequest, Ledger, Message, ModelConfig, PriceTable,
        ProviderKind,
    };
    // A server that answers every chat request at once with one canned completion.
    let server = wiremock::MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    let body = r#"{"id":"x","object":"chat.completion","model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"def f():\n    return 1\n"},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":10,"total_tokens":60}}"#;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let config = ModelConfig {
        provider: ProviderKind::Openai,
        name: "bench".into(),
        base_url: base.clone(),
        endpoints: Vec::new(),
        api_key_env: Some("MNEME_BENCH_NO_KEY".into()),
        timeout_secs: 30,
        limits: Default::default(),
        retry: Default::default(),
    };
    let stack = build_chat_stack(
        &config,
        None,
        PriceTable::default(),
        std::sync::Arc::new(Ledger::new(Budget::default())),
    )?;
    let prompt = "Complete the function.\n".repeat(40);
    let request = ChatRequest::new(vec![
        Message::system("You write Python."),
        Message::user(prompt.clone()),
    ])
    .temperature(0.0)
    .max_tokens(256);
    let body = serde_json::json!({"model": "bench", "messages": request.messages, "temperature": 0.0, "max_tokens": 256});
    let raw = reqwest::Client::new();
    let mut stack_ms = Vec::with_capacity(calls);
    let mut raw_ms = Vec::with_capacity(calls);
    for i in 0..calls + 50 {
        let t = Instant::now();
        stack.model.chat(&request).await?;
        let a = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let r = raw
            .post(format!("{base}/chat/completions"))
            .json(&body)
            .send()
            .await?;
        let _: serde_json::Value = r.json().await?;
        let b = t.elapsed().as_secs_f64() * 1000.0;
        if i >= 50 {
            stack_ms.push(a);
            raw_ms.push(b);
        }
    }
    stack_ms.sort_by(f64::total_cmp);
    raw_ms.sort_by(f64::total_cmp);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!("{calls} calls against a server that answers at once (after 50 warm-up calls)");
    println!(
        "  mneme stack (metering, retry, limits, provider): mean {:.3} ms  p50 {:.3} ms  p99 {:.3} ms",
        mean(&stack_ms),
        percentile(&stack_ms, 0.5),
        percentile(&stack_ms, 0.99)
    );
    println!(
        "  bare reqwest POST of the same body:               mean {:.3} ms  p50 {:.3} ms  p99 {:.3} ms",
        mean(&raw_ms),
        percentile(&raw_ms, 0.5),
        percentile(&raw_ms, 0.99)
    );
    println!(
        "  framework's own share: {:.3} ms per call (stack mean − bare mean)",
        mean(&stack_ms) - mean(&raw_ms)
    );
    Ok(())
}
