#!/usr/bin/env bash
# Learning across tasks, measured honestly: insights, coding skills and cross-task reflections
# learned on one set of tasks and scored on another, at the budget of the reflexion baseline
# (HumanEval, 4 trials, 8 model calls a task, every purpose counted).
#   1. base-A, base-B: reflexion on HumanEval's even-numbered and odd-numbered tasks (shards 1/2
#      and 2/2), learning into libraries he-A and he-B (a run that learns behaves as the baseline:
#      it only stores skills and tags its reflections). Together they are the baseline.
#   2. mbpp-learn: reflexion on the first MBPP_LIMIT (default 100) MBPP tasks with model-written
#      internal tests (MBPP's prompts have no examples), learning into library mbpp.
#   3. mneme insights extract on each learning run, into its library.
#   4. Scored runs, the library frozen: cv-VARIANT-A reads he-B on the even tasks, cv-VARIANT-B
#      reads he-A on the odd tasks (2-fold cross-validation); mbpp-VARIANT reads mbpp on all 164.
# VARIANTs (default `all`): all (insights + skills + cross-task reflections), insights, skills,
# cross (cross-task reflections only), retries (all of them shown to retries only:
# agent.learning.from_trial = 2, cross-task reflections start at trial 2 anyway, so a first attempt
# is the baseline's own).
# The 2-fold arm runs first; MBPP=0 stops after it; FOLDS=0 skips it (MBPP → HumanEval only);
# EXTRACT=0 skips the extractions (for variants without insights).
# STRATEGY=best_of_n scores best_of_n instead (the greedy attempt, then samples at temperature
# 0.8, BUDGET calls a task, default 8; with `retries`, the samples see the library, the greedy
# attempt does not); reflexion's reflections do not exist there, so `cross` shows nothing.
# Usage: scripts/bench-transfer.sh [VARIANT...]; OUT (default bench-runs/transfer-0.5b),
# BENCH_CACHE (default: the 2026-11-29 strategy study's cache, so the baseline replays its
# answers), MNEME_BIN. Runs that exist are resumed; an extraction skips comparisons it made.
# Afterwards: scripts/transfer-compare.py OUT
set -euo pipefail
cd "$(dirname "$0")/.."
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(all)
out="${OUT:-bench-runs/transfer-0.5b}"
mkdir -p "$out"
bin="${MNEME_BIN:-${CARGO_TARGET_DIR:-target}/release/mneme}"
[ -n "${MNEME_BIN:-}" ] || cargo build --release -q -p mneme
model=qwen2.5-coder-0.5b
export MNEME_MEMORY__PATH="$PWD/$out/memory"
export MNEME_CACHE__DIR="${BENCH_CACHE:-$PWD/bench-runs/strategies-20261129/cache}"
export MNEME_AGENT__SHOW_PREVIOUS_ATTEMPT=false MNEME_AGENT__FIRST_TEMPERATURE=0.0 \
  MNEME_AGENT__RETRY_TEMPERATURE=0.0
common=(--model "$model" --strategy reflexion --trials 4 --budget 8)
if [ "${STRATEGY:-reflexion}" = best_of_n ]; then
  common=(--model "$model" --strategy best_of_n --budget "${BUDGET:-8}")
  export MNEME_AGENT__BEST_OF_N__N="${BUDGET:-8}" MNEME_AGENT__BEST_OF_N__TEMPERATURE=0.8 \
    MNEME_AGENT__BEST_OF_N__DUAL_AGREEMENT=false
fi

# run NAME ARGS...: resumes OUT/NAME if it exists, else starts `mneme run ARGS`.
run() {
  local name=$1; shift
  if [ -f "$out/$name/run.json" ]; then
    "$bin" resume "$out/$name" > "$out/$name.json"
  else
    "$bin" run "$@" "${common[@]}" --run-id "transfer-$name" --run-dir "$out/$name" \
      > "$out/$name.json"
  fi
  echo "$name: $(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['passed'], '/', s['tasks_done'])" "$out/$name.json")"
}

flags() {
  case $1 in
    all | retries) echo --insights --skills --cross-task ;;
    insights) echo --insights ;;
    skills) echo --skills ;;
    cross) echo --cross-task ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}
# with_variant VARIANT: sets the first trial shown insights and helpers (retries: 2), and
# otherwise leaves the setting out (binaries older than 0fab091 do not know it).
with_variant() {
  if [ "$1" = retries ]; then
    export MNEME_AGENT__LEARNING__FROM_TRIAL=2
  else
    unset MNEME_AGENT__LEARNING__FROM_TRIAL
  fi
}
# extract LEARNING_RUN LIBRARY
extract() {
  "$bin" insights extract "$out/$1" --library "$2" --model "$model" \
    > "$out/insights-$2.txt" 2> "$out/insights-$2.log"
}

two_fold() {
  run base-A humaneval --shard 1/2 --library he-A --learn
  run base-B humaneval --shard 2/2 --library he-B --learn
  if [ "${EXTRACT:-1}" = 1 ]; then
    extract base-A he-A
    extract base-B he-B
  fi
  for v in "${variants[@]}"; do
    with_variant "$v"
    run "cv-$v-A" humaneval --shard 1/2 --library he-B $(flags "$v")
    run "cv-$v-B" humaneval --shard 2/2 --library he-A $(flags "$v")
  done
}
[ "${FOLDS:-1}" = 0 ] || two_fold
[ "${MBPP:-1}" = 1 ] || exit 0
MNEME_AGENT__INTERNAL_TESTS=model run mbpp-learn mbpp --limit "${MBPP_LIMIT:-100}" --library mbpp --learn
[ "${EXTRACT:-1}" = 1 ] && extract mbpp-learn mbpp
for v in "${variants[@]}"; do
  with_variant "$v"
  run "mbpp-$v" humaneval --library mbpp $(flags "$v")
done
