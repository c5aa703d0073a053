#!/usr/bin/env bash
# Two shards against one Qdrant server versus one process: the merged report's pass@1 must equal
# the single process's, and the shards' memory must hold the same records, none lost or doubled.
# Needs a Qdrant server (QDRANT_URL, its gRPC port, e.g. http://127.0.0.1:6334).
# Usage: QDRANT_URL=... scripts/bench-shards.sh [LIMIT]   (default 40 HumanEval tasks, reflexion)
# The single run goes first with a fresh response cache; the shards then run at the same time,
# both against the local server, and get the same answers from that cache.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${QDRANT_URL:?set QDRANT_URL to the gRPC URL of a Qdrant server}"
limit="${1:-40}"
out="${BENCH_OUT:-bench-runs/shards-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
bin="${MNEME_BIN:-target/release/mneme}"
[ -n "${MNEME_BIN:-}" ] || cargo build --release -q -p mneme
tag="$(date +%s)"
export MNEME_MEMORY__BACKEND=qdrant MNEME_MEMORY__URL="$QDRANT_URL" MNEME_CACHE__DIR="$PWD/$out/cache"
args=(run humaneval --limit "$limit" --strategy reflexion --trials 3)
MNEME_MEMORY__COLLECTION="mneme-single-$tag" "$bin" "${args[@]}" --run-dir "$out/single" > /dev/null
for i in 1 2; do
  MNEME_MEMORY__COLLECTION="mneme-shards-$tag" "$bin" "${args[@]}" --shard "$i/2" \
    --run-id "shards-$tag" --run-dir "$out/shard$i" > /dev/null &
done
wait
"$bin" report "$out/shard1" "$out/shard2" --out "$out/merged" > /dev/null
"$bin" report "$out/single" > /dev/null
for c in single shards; do
  MNEME_MEMORY__COLLECTION="mneme-$c-$tag" "$bin" memory export "$out/memory-$c.jsonl" > /dev/null
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
single = json.load(open(f"{out}/single/summary.json"))
merged = json.load(open(f"{out}/merged/summary.json"))
for name, s in (("single", single), ("merged", merged)):
    print(f"{name:7} pass@1 {s['pass_at_1']:.3f} ({s['passed']}/{s['tasks_done']}) by trial {s['pass_at_1_by_trial']} "
          f"calls {s['usage']['calls']} (cached {s['usage']['cached_calls']}) wall {s['wall_ms']/60000:.1f} min")
ids = {}
for c in ("single", "shards"):
    rows = [json.loads(l) for l in open(f"{out}/memory-{c}.jsonl")]
    # Ids include the run's tag, which differs between the two runs: compare the content.
    ids[c] = [json.dumps([r["record"].get(k) for k in ("kind", "task_id", "trial", "text")]) for r in rows]
    print(f"memory {c:7} {len(rows)} records, {len(set(ids[c]))} distinct")
print("same records:", sorted(ids["single"]) == sorted(ids["shards"]))
print("same pass@1:", single["pass_at_1"] == merged["pass_at_1"] and single["passed"] == merged["passed"])
PY
