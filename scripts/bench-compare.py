#!/usr/bin/env python3
"""Compares runs of different strategies on the tasks they share, as markdown tables.

Usage: scripts/bench-compare.py RUN_DIR... (the first is the baseline of the paired tests; a run
named best_of_n is the second baseline when present).

For each run: tasks, pass@1, tasks where any candidate would have passed (generation) against
tasks whose submission passed (selection), mean model calls and tokens per task, wall time; then
pass@1 and mean tokens at each call budget k (a run stopped after k calls; BENCH_KS=5,10,20 picks
the budgets shown); then the paired
comparison with exact McNemar tests (two-sided binomial on the discordant tasks).
"""
import json
import math
import os
import sys
from pathlib import Path


def load(run_dir):
    run_dir = Path(run_dir)
    results = {}
    for line in (run_dir / "results.jsonl").read_text().splitlines():
        if line.strip():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a crash
            results[r["task_id"]] = r
    summary = json.loads((run_dir / "summary.json").read_text())
    return run_dir.name, results, summary


def mcnemar(b, c):
    """Exact two-sided p-value of b successes among b + c discordant pairs at p = 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def order(task_id):
    """HumanEval/9 before HumanEval/10."""
    tail = task_id.rsplit("/", 1)[-1]
    return (task_id[: -len(tail)], int(tail)) if tail.isdigit() else (task_id, 0)


def at_call(r, k):
    v = r.get("passed_by_call") or [r["passed"]]
    return v[k] if k < len(v) else v[-1]


def tokens_at(r, k):
    v = r.get("tokens_by_call") or [0]
    return v[k] if k < len(v) else v[-1]


def columns(budget):
    """The call budgets shown (0-based): every one up to 16, else eight evenly spaced and the
    last; BENCH_KS=41,82,123 picks them."""
    chosen = os.environ.get("BENCH_KS")
    if chosen:
        return [int(k) - 1 for k in chosen.split(",") if 0 < int(k) <= budget]
    if budget <= 16:
        return list(range(budget))
    step = max(1, budget // 8)
    return sorted(set(list(range(step - 1, budget, step)) + [budget - 1]))


def main(dirs):
    runs = [load(d) for d in dirs]
    shared = set.intersection(*(set(r) for _, r, _ in runs))
    n = len(shared)
    print(f"{n} tasks shared by {len(runs)} runs\n")
    print("| run | pass@1 | any candidate passed | calls/task | tokens/task | wall (min) |")
    print("|---|---|---|---|---|---|")
    for name, res, summary in runs:
        rs = [res[t] for t in shared]
        passed = sum(r["passed"] for r in rs)
        anyp = sum(r.get("any_passed", r["passed"]) for r in rs)
        calls = sum(r.get("calls", 0) for r in rs) / n
        tokens = sum(r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"] for r in rs) / n
        print(f"| {name} | {passed / n:.3f} ({passed}) | {anyp} | {calls:.2f} | {tokens:.0f} | "
              f"{summary['wall_ms'] / 60000:.1f} |")
    budget = max(len(r.get("passed_by_call") or [1]) for _, res, _ in runs for r in res.values())
    ks = columns(budget)
    print("\npass@1 (mean tokens per task) at a budget of k calls:\n")
    print("| run | " + " | ".join(f"k={k + 1}" for k in ks) + " |")
    print("|---|" + "---|" * len(ks))
    for name, res, _ in runs:
        rs = [res[t] for t in shared]
        cells = []
        for k in ks:
            p = sum(at_call(r, k) for r in rs) / n
            tok = sum(tokens_at(r, k) for r in rs) / n
            cells.append(f"{p:.3f} ({tok:.0f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    baselines = [runs[0]] + [r for r in runs[1:] if r[0] == "best_of_n"]
    print("\nPaired against each baseline (b: passes only here, c: only in the baseline):\n")
    print("| run | baseline | b | c | McNemar p | fixed here | broken here |")
    print("|---|---|---|---|---|---|---|")
    done = set()
    for base_name, base, _ in baselines:
        done.add(base_name)
        for name, res, _ in runs:
            if name in done:
                continue
            fixed = sorted((t for t in shared if res[t]["passed"] and not base[t]["passed"]), key=order)
            broken = sorted((t for t in shared if base[t]["passed"] and not res[t]["passed"]), key=order)
            p = mcnemar(len(fixed), len(broken))
            short = lambda ids: ", ".join(i.split("/")[-1] for i in ids[:12]) + (" …" if len(ids) > 12 else "")
            print(f"| {name} | {base_name} | {len(fixed)} | {len(broken)} | {p:.3g} | "
                  f"{short(fixed)} | {short(broken)} |")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1:])
