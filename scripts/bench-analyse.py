#!/usr/bin/env python3
"""What the retries of a reflexion run did, from its run directory (results.jsonl, events.jsonl).

Usage: scripts/bench-analyse.py RUN_DIR [RUN_DIR...]

Prints, per run: tasks; passed; first attempts that failed their internal tests (so were retried);
how many of those a later trial fixed (hidden tests pass on the submission, not on trial 1);
how many a retry broke (trial 1 passed the hidden tests but was retried and the submission fails);
retries whose code is the previous trial's to the letter;
submissions that passed their internal tests but fail the hidden ones (false positives); and the
median latency of uncached model calls. Hidden-test scores are read only here, after the run.
"""
import json
import statistics
import sys
from pathlib import Path


def analyse(run: Path) -> str:
    results = [json.loads(l) for l in (run / "results.jsonl").read_text().splitlines() if l.strip()]
    internal = {}  # (task, trial) -> internal tests passed
    latencies = []
    code = {}  # (task, trial) -> the attempt's code
    for line in (run / "events.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        e = json.loads(line)
        if e["type"] == "evaluation":
            internal[(e["task_id"], e["trial"])] = e["passed"]
        elif e["type"] == "action":
            code[(e["task_id"], e["trial"])] = e.get("code")
        elif e["type"] == "model_call" and not e.get("cached"):
            latencies.append(e["latency_ms"])
    n = len(results)
    passed = sum(r["passed"] for r in results)
    retried = [r for r in results if r["trials_used"] > 1]
    fixed = sum(1 for r in retried if r["passed"] and not r["passed_by_trial"][0])
    broken = sum(1 for r in retried if not r["passed"] and r["passed_by_trial"][0])
    false_pos = sum(
        1
        for r in results
        if not r["passed"] and internal.get((r["task_id"], r["trials_used"]), False)
    )
    # Retries whose code is, to the letter, the previous trial's: the reflection changed nothing.
    repeats = sum(
        1
        for (task, trial), c in code.items()
        if trial > 1 and c is not None and c == code.get((task, trial - 1))
    )
    retries = sum(1 for (_, trial) in code if trial > 1)
    errors = sum(1 for r in results if r.get("error"))
    med = f"{statistics.median(latencies) / 1000:.1f} s" if latencies else "n/a (all cached)"
    return (
        f"{run.name}: {passed}/{n} passed; retried {len(retried)}, fixed {fixed}, broken {broken}; "
        f"retry code same as the previous trial's {repeats}/{retries}; "
        f"false positives {false_pos}; errors {errors}; "
        f"uncached calls {len(latencies)}, median latency {med}"
    )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for arg in sys.argv[1:]:
        print(analyse(Path(arg)))
