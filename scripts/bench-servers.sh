#!/usr/bin/env bash
# The local model servers side by side on this machine, one measurement after the other:
# aggregate completion tokens/s, per-request latency and temperature-0 determinism at several
# levels of concurrency (`mneme bench throughput`), for the 0.5B and 1.5B models, llama-server
# and the llama-cpp-python fallback, and speculative decoding of the 1.5B model with the 0.5B
# one as its draft. Figures go to $BENCH_OUT/*.json (default bench-runs/servers-TIME).
# Usage: scripts/bench-servers.sh [PROMPTS_05B] [PROMPTS_15B]
# SKIP="0.5b-llama-cpp-python ..." leaves out measurements already made.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${BENCH_OUT:-bench-runs/servers-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
bin="${MNEME_BIN:-target/release/mneme}"
[ -n "${MNEME_BIN:-}" ] || cargo build --release -q -p mneme
small="${1:-16}"
big="${2:-8}"
bench() {
  local name=$1; shift
  case " ${SKIP:-} " in *" $name "*) return ;; esac
  echo "== $name" >&2
  "$bin" bench throughput --out "$out/$name.json" "$@" > /dev/null
}
bench 0.5b-llama-server --server llama-server --model qwen2.5-coder-0.5b --levels 1,2,4,8 --prompts "$small"
# The fallback answers one request at a time, so fewer prompts show its (flat) curve as well.
bench 0.5b-llama-cpp-python --server llama-cpp-python --model qwen2.5-coder-0.5b --levels 1,2,4,8 --prompts "$big"
bench 1.5b-llama-server --server llama-server --model qwen2.5-coder-1.5b --levels 1,4,8 --prompts "$big"
bench 1.5b-draft-0.5b --server llama-server --model qwen2.5-coder-1.5b --draft qwen2.5-coder-0.5b --levels 1,4 --prompts "$big"
bench 1.5b-llama-cpp-python --server llama-cpp-python --model qwen2.5-coder-1.5b --levels 1 --prompts 4
python3 - "$out" <<'PY'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    d = json.loads(f.read_text())
    for l in d["levels"]:
        print(f"{f.stem:26} {l['concurrency']:>2} in flight  {l['tokens_per_sec']:6.1f} tok/s  "
              f"p50 {l['latency_p50']:5.1f} s  p90 {l['latency_p90']:5.1f} s  "
              f"identical {l['identical_to_first_level']}/{d['prompts']}")
PY
