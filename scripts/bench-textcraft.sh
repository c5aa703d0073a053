#!/usr/bin/env bash
# TextCraft (ADaPT's crafting world, 50 fixed goals of depth 2-4, episodes of at most 40 actions)
# with a local model, strategies at an equal budget of model calls per goal.
# Usage: scripts/bench-textcraft.sh [MODEL] [STRATEGY...]
#   MODEL      a local catalog id (default qwen2.5-coder-0.5b; also qwen2.5-coder-1.5b)
#   STRATEGYs  default `simple mcts reflexion`:
#   simple     one greedy episode (ReAct-style: one action per call, the transcript in the prompt)
#   reflexion  up to 3 episodes, a reflection on each failed one shown to the next
#   mcts       tree search over actions: 3 candidate actions per expanded state (greedy first,
#              then seeded samples at 0.8), UCT (c = 1), greedy rollouts to the end of the
#              episode, a reflection on each failed episode shown to later prompts
# Budget: 123 model calls per goal for every strategy (3 x 40 actions + 3 reflections); simple
# stops after its one episode. Every strategy's first episode is the same greedy prompt sequence,
# answered once and then from the shared response cache.
# SHARD=i/n runs only the goals at positions i, i+n, i+2n, ... (a spread of depths); every
# strategy with the same SHARD works on the same goals, and `mneme report DIR...` merges shards.
# A run that exists already is resumed (mneme resume), so the study survives being killed.
# Afterwards: scripts/bench-compare.py OUT/simple OUT/reflexion OUT/mcts
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-qwen2.5-coder-0.5b}"
shift || true
strategies=("$@")
[ ${#strategies[@]} -gt 0 ] || strategies=(simple mcts reflexion)
budget="${BUDGET:-123}"
out="${BENCH_OUT:-bench-runs/textcraft-$model}"
mkdir -p "$out"
bin="${MNEME_BIN:-${CARGO_TARGET_DIR:-target}/release/mneme}"
[ -n "${MNEME_BIN:-}" ] || cargo build --release -q -p mneme
export MNEME_MEMORY__PATH="$PWD/$out/memory"
export MNEME_CACHE__DIR="${BENCH_CACHE:-$PWD/$out/cache}"
for strategy in "${strategies[@]}"; do
  env=(MNEME_AGENT__FIRST_TEMPERATURE=0.0 MNEME_AGENT__RETRY_TEMPERATURE=0.0)
  case $strategy in
    simple) args=(--strategy simple) ;;
    reflexion) args=(--strategy reflexion --trials 3) ;;
    mcts) args=(--strategy mcts)
      env+=(MNEME_AGENT__MCTS__CHILDREN=3 MNEME_AGENT__MCTS__TEMPERATURE=0.8
            MNEME_AGENT__MCTS__EXPLORATION=1.0 MNEME_AGENT__MCTS__ROLLOUT=true
            MNEME_AGENT__MCTS__VALUE_WEIGHT=0.0) ;;
    *) echo "unknown strategy $strategy" >&2; exit 2 ;;
  esac
  dir="$out/$strategy"
  if [ -n "${SHARD:-}" ]; then
    args+=(--shard "$SHARD")
    dir="$out/$strategy-shard${SHARD/\//of}"
  fi
  if [ -f "$dir/run.json" ]; then
    env "${env[@]}" "$bin" resume "$dir" > "$out/$strategy.json"
  else
    env "${env[@]}" "$bin" run textcraft --model "$model" --budget "$budget" "${args[@]}" \
      --run-id "textcraft-$model-$strategy" --run-dir "$dir" > "$out/$strategy.json"
  fi
  "$bin" report "$dir" > /dev/null
  echo "$strategy: $(grep -o '"pass_at_1": [0-9.]*' "$dir/summary.json" | head -1)"
done
