#!/usr/bin/env python3
"""The transfer study's tables (scripts/bench-transfer.sh): each arm against the baseline on
the tasks both finished, paired.

Usage: scripts/transfer-compare.py OUT

Arms: base = base-A + base-B (reflexion, no cross-task memory); cv-V = cv-V-A + cv-V-B (each
fold reads the library learned on the other fold); mbpp-V (reads the library learned on MBPP).
For each: tasks, pass@1, calls and tokens per task, the mean prompt tokens of the first
attempt (the prompt growth cross-task memory causes), the tasks fixed and broken against the
baseline, and the exact McNemar p-value (two-sided binomial on the discordant tasks).
"""
import json
import math
import sys
from pathlib import Path


def results(run_dir):
    out = {}
    path = run_dir / "results.jsonl"
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut off by a crash
        out[r["task_id"]] = r
    return out


def first_prompts(run_dir):
    """Prompt tokens of each task's first attempt (trial 1, purpose act)."""
    out = {}
    path = run_dir / "events.jsonl"
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue
        if e.get("type") == "model_call" and e.get("purpose") == "act" and e.get("trial") == 1:
            out.setdefault(e["task_id"], e["prompt_tokens"])
    return out


def arm(out, names):
    res, prompts = {}, {}
    for name in names:
        res.update(results(out / name))
        prompts.update(first_prompts(out / name))
    return res, prompts


def mcnemar(b, c):
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def tokens(r):
    u = r.get("usage", {})
    return u.get("prompt_tokens", 0) + u.get("completion_tokens", 0)


def order(task_id):
    tail = task_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else tail


def main(out):
    out = Path(out)
    base, base_prompts = arm(out, ["base-A", "base-B"])
    arms = []
    for variant in ["all", "insights", "skills", "cross", "retries"]:
        arms.append((f"cv-{variant}", [f"cv-{variant}-A", f"cv-{variant}-B"]))
        arms.append((f"mbpp-{variant}", [f"mbpp-{variant}"]))
    print("| arm | tasks | pass@1 | baseline pass@1 | calls / task | tokens / task | first prompt (tokens) | growth | fixed | broken | McNemar p |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    flips = []
    for label, names in arms:
        res, prompts = arm(out, names)
        shared = sorted(set(res) & set(base), key=order)
        if not shared:
            continue
        n = len(shared)
        passed = sum(res[t]["passed"] for t in shared)
        base_passed = sum(base[t]["passed"] for t in shared)
        fixed = [t for t in shared if res[t]["passed"] and not base[t]["passed"]]
        broken = [t for t in shared if base[t]["passed"] and not res[t]["passed"]]
        calls = sum(res[t]["calls"] for t in shared) / n
        toks = sum(tokens(res[t]) for t in shared) / n
        both = [t for t in shared if t in prompts and t in base_prompts]
        first = sum(prompts[t] for t in both) / max(len(both), 1)
        first_base = sum(base_prompts[t] for t in both) / max(len(both), 1)
        growth = (first / first_base - 1) * 100 if first_base else 0.0
        print(
            f"| {label} | {n} | {passed / n:.3f} ({passed}) | {base_passed / n:.3f} ({base_passed}) "
            f"| {calls:.2f} | {toks:,.0f} | {first:,.0f} vs {first_base:,.0f} | {growth:+.0f}% "
            f"| {len(fixed)} | {len(broken)} | {mcnemar(len(fixed), len(broken)):.2f} |"
        )
        flips.append((label, fixed, broken))
    print()
    for label, fixed, broken in flips:
        print(f"- {label}: fixed {', '.join(fixed) or 'none'}; broken {', '.join(broken) or 'none'}")
    for name in sorted(out.glob("insights-*.txt")):
        print(f"\n{name.name}:\n{name.read_text().strip()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench-runs/transfer-0.5b")
