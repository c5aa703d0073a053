#!/usr/bin/env python3
"""Scores a run's submissions again with the check program mneme used before 1a84d44, which
counted a check as passed when its process exited with status 0, and compares with the run's own
verdicts (the tamper-proof checker). Says how many passes the old rule would have given that the
new one does not, and the reverse.

Usage: scripts/rescore-exit-status.py RUN_DIR [RUN_DIR...]
Needs: git (the old program is read from commit f5bc2f3), a built mneme (MNEME_BIN, default
target/debug/mneme) for `mneme sandbox run`, and HumanEval in the data directory.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

OLD = "f5bc2f3"
ROOT = Path(__file__).resolve().parent.parent


def old_program(source, task, code):
    lit = lambda s: json.dumps(s)
    return (source.replace("__PROMPT__", lit(task["prompt"]))
            .replace("__CANDIDATE__", lit(code))
            .replace("__ENTRY__", lit(task["entry_point"]))
            .replace("__MODE__", lit("hidden"))
            .replace("__HIDDEN__", lit(task["test"]))
            .replace("__EXAMPLES__", "[]")
            .replace("__ASSERTS__", "[]"))


def main():
    source = subprocess.run(["git", "show", f"{OLD}:environments/src/code/check.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    mneme = os.environ.get("MNEME_BIN", str(ROOT / "target/debug/mneme"))
    data = Path(os.environ.get("MNEME_DATA_DIR", Path.home() / ".cache/mneme")) / "data/HumanEval.jsonl"
    tasks = {t["task_id"]: t for t in map(json.loads, data.read_text().splitlines())}
    for run in map(Path, sys.argv[1:]):
        results = [json.loads(l) for l in (run / "results.jsonl").read_text().splitlines() if l.strip()]
        old_only, new_only, both = [], [], 0
        for r in results:
            code = r.get("submitted_code")
            if not code:
                continue
            with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
                f.write(old_program(source, tasks[r["task_id"]], code))
            out = subprocess.run([mneme, "sandbox", "run", f.name], capture_output=True, text=True)
            os.unlink(f.name)
            old_pass = json.loads(out.stdout)["verdict"] == "passed"
            if old_pass and r["passed"]:
                both += 1
            elif old_pass:
                old_only.append(r["task_id"])
            elif r["passed"]:
                new_only.append(r["task_id"])
        print(f"{run}: {len(results)} tasks; passed by both rules {both}; "
              f"by the old exit-status rule only {len(old_only)} {old_only}; "
              f"by the tamper-proof checker only {len(new_only)} {new_only}")


main()
