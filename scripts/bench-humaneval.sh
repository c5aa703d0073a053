#!/usr/bin/env bash
# Full HumanEval (164 problems) with the default local model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M):
# `simple`, `reflexion` (3 trials) and `reflexion` with cross-task memory. All three share one
# response cache, so reflexion's first trial reuses simple's answers (same prompts at temperature 0).
# Usage: scripts/bench-humaneval.sh [LIMIT]   (LIMIT defaults to all 164)
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-164}"
out="bench-runs/humaneval-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
bin="${MNEME_BIN:-target/release/mneme}"
[ -n "${MNEME_BIN:-}" ] || cargo build --release -q -p mneme
export MNEME_MEMORY__PATH="$PWD/$out/memory"
for variant in simple reflexion cross; do
  case $variant in
    simple) args=(--strategy simple) ;;
    reflexion) args=(--strategy reflexion --trials 3) ;;
    cross) args=(--strategy reflexion --trials 3 --cross-task) ;;
  esac
  "$bin" run humaneval --limit "$limit" --concurrency 2 "${args[@]}" --run-dir "$out/$variant" > "$out/$variant.json"
  "$bin" report "$out/$variant" > /dev/null
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(sys.argv[2], 'pass@1', s['pass_at_1'], 'by trial', s['pass_at_1_by_trial'], 'tokens', s['usage']['prompt_tokens']+s['usage']['completion_tokens'], 'cached calls', s['usage']['cached_calls'], 'of', s['usage']['calls'], 'wall', round(s['wall_ms']/60000,1), 'min')" "$out/$variant.json" "$variant"
done
