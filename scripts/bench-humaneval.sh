#!/usr/bin/env bash
# HumanEval with the default local model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M).
# Usage: scripts/bench-humaneval.sh [LIMIT] [VARIANT...]
#   LIMIT defaults to all 164 problems; VARIANTs default to `simple reflexion cross`:
#   simple        one attempt
#   reflexion     3 trials, a reflection after each failed one; retries see the lessons only
#   cross         reflexion + other tasks' reflections (from trial 2, the default)
#   shown         reflexion whose retries also see the failed code and its test results
#   cross-shown   shown + other tasks' reflections from trial 2
#   cross-first   shown + other tasks' reflections from the first attempt on
#   warm-retries  shown, with retries sampled at temperature 0.8
#   model-tests   reflexion with docstring examples plus model-written asserts as internal tests
# Each variant sets what it measures explicitly, so a row of docs/benchmarks.md reproduces even
# after a default changes.
# All variants share one response cache and one memory store, so a variant whose first attempt
# is the same prompt at temperature 0 reuses `simple`'s answers, and cross-task variants see the
# reflections earlier variants stored. The cache lives in the output directory (BENCH_CACHE
# overrides it), so wall times are those of live model calls, not of an earlier bench's answers.
# CONCURRENCY sets --concurrency (default: mneme's, the model server's slots plus one).
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-164}"
shift || true
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(simple reflexion cross)
out="${BENCH_OUT:-bench-runs/humaneval-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
bin="${MNEME_BIN:-target/release/mneme}"
[ -n "${MNEME_BIN:-}" ] || cargo build --release -q -p mneme
export MNEME_MEMORY__PATH="$PWD/$out/memory"
export MNEME_CACHE__DIR="${BENCH_CACHE:-$PWD/$out/cache}"
concurrency=()
[ -z "${CONCURRENCY:-}" ] || concurrency=(--concurrency "$CONCURRENCY")
for variant in "${variants[@]}"; do
  env=()
  case $variant in
    simple) args=(--strategy simple) ;;
    reflexion) args=(--strategy reflexion --trials 3) env=(MNEME_AGENT__SHOW_PREVIOUS_ATTEMPT=false) ;;
    cross) args=(--strategy reflexion --trials 3 --cross-task)
      env=(MNEME_AGENT__SHOW_PREVIOUS_ATTEMPT=false MNEME_AGENT__CROSS_TASK_FROM_TRIAL=2) ;;
    shown) args=(--strategy reflexion --trials 3) env=(MNEME_AGENT__SHOW_PREVIOUS_ATTEMPT=true) ;;
    cross-shown) args=(--strategy reflexion --trials 3 --cross-task)
      env=(MNEME_AGENT__SHOW_PREVIOUS_ATTEMPT=true MNEME_AGENT__CROSS_TASK_FROM_TRIAL=2) ;;
    cross-first) args=(--strategy reflexion --trials 3 --cross-task)
      env=(MNEME_AGENT__SHOW_PREVIOUS_ATTEMPT=true MNEME_AGENT__CROSS_TASK_FROM_TRIAL=1) ;;
    warm-retries) args=(--strategy reflexion --trials 3)
      env=(MNEME_AGENT__SHOW_PREVIOUS_ATTEMPT=true MNEME_AGENT__RETRY_TEMPERATURE=0.8) ;;
    model-tests) args=(--strategy reflexion --trials 3)
      env=(MNEME_AGENT__SHOW_PREVIOUS_ATTEMPT=false MNEME_AGENT__INTERNAL_TESTS=both) ;;
    *) echo "unknown variant $variant" >&2; exit 2 ;;
  esac
  env "${env[@]}" "$bin" run humaneval --limit "$limit" "${concurrency[@]}" "${args[@]}" \
    --run-dir "$out/$variant" > "$out/$variant.json"
  "$bin" report "$out/$variant" > /dev/null
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(sys.argv[2], 'pass@1', s['pass_at_1'], 'by trial', s['pass_at_1_by_trial'], 'tokens', s['usage']['prompt_tokens'], '+', s['usage']['completion_tokens'], 'cached calls', s['usage']['cached_calls'], 'of', s['usage']['calls'], 'wall', round(s['wall_ms']/60000,1), 'min')" "$out/$variant.json" "$variant"
done
