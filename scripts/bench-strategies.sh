#!/usr/bin/env bash
# Strategies compared at an equal budget: HumanEval with the default local model
# (Qwen2.5-Coder-0.5B-Instruct Q4_K_M), every strategy allowed BUDGET model calls per task
# (default 8, every purpose counted: attempts, re-asks, reflections).
# Usage: scripts/bench-strategies.sh [LIMIT] [STRATEGY...]
#   LIMIT defaults to all 164 problems; STRATEGYs default to `simple best_of_n reflexion lats`:
#   simple      one greedy attempt
#   best_of_n   the greedy attempt, then samples at temperature 0.8 (own seed each); the first
#               to pass its internal tests, else the best internal pass fraction
#   best_of_n-codet  best_of_n with CodeT's dual agreement on asserts the model writes (one call)
#   reflexion   attempt, reflect, retry with the lessons (trials up to the budget: 4)
#   lats        tree search: 3 children per expansion at temperature 0.8, UCT (c = 1); children
#               see the parent's code, its test results and the reflections on their path
#   lats-fresh  lats whose children see the reflections only, not the parent's code
# Every strategy's first attempt is the same temperature-0 prompt, answered once and then from
# the shared response cache, so tasks whose greedy attempt passes its internal tests cost one
# call everywhere and the comparison is paired. Seeded samples are cached too: a rerun or a
# resume asks nothing twice.
# A run that exists already is resumed (mneme resume), so the study survives being killed.
# Afterwards: scripts/bench-compare.py OUT/simple OUT/best_of_n OUT/reflexion OUT/lats
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-164}"
shift || true
strategies=("$@")
[ ${#strategies[@]} -gt 0 ] || strategies=(simple best_of_n reflexion lats)
budget="${BUDGET:-8}"
out="${BENCH_OUT:-bench-runs/strategies-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
bin="${MNEME_BIN:-${CARGO_TARGET_DIR:-target}/release/mneme}"
[ -n "${MNEME_BIN:-}" ] || cargo build --release -q -p mneme
export MNEME_MEMORY__PATH="$PWD/$out/memory"
export MNEME_CACHE__DIR="${BENCH_CACHE:-$PWD/$out/cache}"
for strategy in "${strategies[@]}"; do
  env=(MNEME_AGENT__SHOW_PREVIOUS_ATTEMPT=false MNEME_AGENT__FIRST_TEMPERATURE=0.0)
  case $strategy in
    simple) args=(--strategy simple) ;;
    best_of_n) args=(--strategy best_of_n)
      env+=(MNEME_AGENT__BEST_OF_N__N="$budget" MNEME_AGENT__BEST_OF_N__TEMPERATURE=0.8
            MNEME_AGENT__BEST_OF_N__DUAL_AGREEMENT=false) ;;
    best_of_n-codet) args=(--strategy best_of_n)
      env+=(MNEME_AGENT__BEST_OF_N__N="$budget" MNEME_AGENT__BEST_OF_N__TEMPERATURE=0.8
            MNEME_AGENT__BEST_OF_N__DUAL_AGREEMENT=true) ;;
    reflexion) args=(--strategy reflexion --trials "$(( (budget + 1) / 2 ))")
      env+=(MNEME_AGENT__RETRY_TEMPERATURE=0.0) ;;
    lats) args=(--strategy lats)
      env+=(MNEME_AGENT__LATS__CHILDREN=3 MNEME_AGENT__LATS__TEMPERATURE=0.8
            MNEME_AGENT__LATS__EXPLORATION=1.0 MNEME_AGENT__LATS__SELF_EVAL_WEIGHT=0.0
            MNEME_AGENT__LATS__SHOW_PARENT_CODE=true) ;;
    lats-fresh) args=(--strategy lats)
      env+=(MNEME_AGENT__LATS__CHILDREN=3 MNEME_AGENT__LATS__TEMPERATURE=0.8
            MNEME_AGENT__LATS__EXPLORATION=1.0 MNEME_AGENT__LATS__SELF_EVAL_WEIGHT=0.0
            MNEME_AGENT__LATS__SHOW_PARENT_CODE=false) ;;
    *) echo "unknown strategy $strategy" >&2; exit 2 ;;
  esac
  dir="$out/$strategy"
  if [ -f "$dir/run.json" ]; then
    env "${env[@]}" "$bin" resume "$dir" > "$out/$strategy.json"
  else
    env "${env[@]}" "$bin" run humaneval --limit "$limit" --budget "$budget" "${args[@]}" \
      --run-dir "$dir" > "$out/$strategy.json"
  fi
  "$bin" report "$dir" > /dev/null
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(sys.argv[2], 'pass@1', round(s['pass_at_1'],3), 'any', s['any_passed'], 'calls/task', round(s['mean_calls'],2), 'tokens', s['usage']['prompt_tokens'] + s['usage']['completion_tokens'], 'wall', round(s['wall_ms']/60000,1), 'min')" "$out/$strategy.json" "$strategy"
done
