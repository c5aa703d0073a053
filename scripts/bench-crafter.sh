#!/usr/bin/env bash
# Voyager in Crafter with a local model: a learning session per variant on one world seed, at an
# equal budget (the same iterations, each at most 1 curriculum + 4 x (program + critic) + 1
# reflection calls), then each variant's library frozen and evaluated on the fixed evaluation
# seeds (one episode each, the same iterations per episode).
# Usage: scripts/bench-crafter.sh [MODEL] [VARIANT...]
#   MODEL     a local catalog id (default qwen2.5-coder-0.5b)
#   VARIANTs  default `full no-skills no-curriculum no-critic`:
#   full           curriculum, skill library, critic
#   no-skills      every program written from scratch, nothing stored or retrieved
#   no-curriculum  Crafter's warm-up order as a fixed task list
#   no-critic      no model critic: a program that ran without an error counts as done (unless
#                  the task names an achievement or is a need: Crafter's report judges those)
#   no-verification  nothing judges a round: a program that ran without an error counts as done,
#                  whatever Crafter reports (Voyager's ablation without self-verification)
# ITERATIONS (default 100) per session; EVAL_SEEDS (default 10) and EVAL_ITERATIONS (default 30)
# for the frozen evaluation (EVAL=0 skips it); SEED (default 1) is the training world.
# TRAIN=0 skips the learning session (evaluates the library as it is); EVAL_NAME (default `eval`)
# names the evaluation's run directory (VARIANT-EVAL_NAME), so one library can be evaluated again
# by another binary; MEMORY (default OUT/memory-VARIANT) is the variant's embedded store;
# EVAL_CONCURRENCY (default 2) evaluation episodes run at once.
# Sessions run one after another unless PARALLEL=1 (then all at once: the model server batches
# their calls). A run that exists already is resumed (mneme resume): the study survives being
# killed at any iteration.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-qwen2.5-coder-0.5b}"
shift || true
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(full no-skills no-curriculum no-critic)
iterations="${ITERATIONS:-100}"
out="${BENCH_OUT:-bench-runs/crafter-$model}"
mkdir -p "$out"
bin="${MNEME_BIN:-${CARGO_TARGET_DIR:-target}/release/mneme}"
[ -n "${MNEME_BIN:-}" ] || cargo build --release -q -p mneme
export MNEME_CACHE__DIR="${BENCH_CACHE:-$PWD/$out/cache}"

flags() {
  case $1 in
    full) ;;
    no-skills) echo --no-skills ;;
    no-curriculum) echo --no-curriculum ;;
    no-critic) echo --no-critic ;;
    no-verification) echo --no-verification ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}

# run_or_resume DIR ARGS...: resumes DIR if it exists, else starts `mneme explore ARGS`.
run_or_resume() {
  local dir=$1; shift
  if [ -f "$dir/run.json" ]; then
    "$bin" resume "$dir"
  else
    "$bin" explore crafter --model "$model" --run-dir "$dir" "$@"
  fi
}

study() {
  local v=$1 library="study-$1"
  # Each variant its own embedded store (one process holds a store at a time).
  export MNEME_MEMORY__PATH="${MEMORY:-$PWD/$out/memory-$v}"
  if [ "${TRAIN:-1}" != 0 ]; then
    run_or_resume "$out/$v" --iterations "$iterations" --seed "${SEED:-1}" --library "$library" \
      --run-id "crafter-$model-$v" $(flags "$v") > "$out/$v.txt" 2> "$out/$v.log"
  fi
  if [ "${EVAL:-1}" != 0 ]; then
    local e="$v-${EVAL_NAME:-eval}"
    run_or_resume "$out/$e" --evaluate "${EVAL_SEEDS:-10}" --iterations "${EVAL_ITERATIONS:-30}" \
      --library "$library" --run-id "crafter-$model-$e" --concurrency "${EVAL_CONCURRENCY:-2}" $(flags "$v") \
      > "$out/$e.txt" 2> "$out/$e.log"
  fi
  echo "$v: $(tail -1 "$out/$v.txt")"
}

if [ "${PARALLEL:-0}" = 1 ]; then
  for v in "${variants[@]}"; do study "$v" & done
  wait
else
  for v in "${variants[@]}"; do study "$v"; done
fi
