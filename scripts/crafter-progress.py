#!/usr/bin/env python3
"""Sums up a Crafter study (scripts/bench-crafter.sh) from its run directories, finished or not:
per variant, the iterations logged, tasks judged done, unique achievements and when each was first
unlocked, skills stored, episodes, model calls and tokens; and for a finished frozen evaluation,
achievements per episode and the Crafter score, with a bootstrap over its episodes (5,000
resamples of the episodes with replacement, seeded: the 95 % interval of the score, and how many
resamples score above SPRING's 27.3).

    scripts/crafter-progress.py bench-runs/crafter-qwen2.5-coder-0.5b [--upto N]

--upto N counts only iterations 1..N of every session (an equal budget of iterations when the
sessions are at different points), training and evaluation alike: an evaluation of 40 iterations
an episode read with --upto 20 is the evaluation of 20. --episodes also prints each finished evaluation episode (seed,
iterations, how it ended, achievements) as table rows. --paired BASE compares every other
finished evaluation with the evaluation run BASE (e.g. full-eval) seed by seed: the achievements
per episode on the seeds both finished, better/worse/level, and two-sided exact sign and
Wilcoxon signed-rank tests (zero differences dropped, tied ranks averaged).
"""
import json
import math
import random
import sys
from pathlib import Path

ACHIEVEMENTS = """collect_coal collect_diamond collect_drink collect_iron collect_sapling collect_stone
collect_wood defeat_skeleton defeat_zombie eat_cow eat_plant make_iron_pickaxe make_iron_sword
make_stone_pickaxe make_stone_sword make_wood_pickaxe make_wood_sword place_furnace place_plant
place_stone place_table wake_up""".split()


def events(run):
    path = run / "events.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line cut by a kill
    return out


def session(run, upto):
    its = [e for e in events(run) if e["type"] == "iteration" and e["iteration"] <= upto]
    its = list({e["iteration"]: e for e in its}.values())
    if not its:
        return None
    first = {}
    for e in sorted(its, key=lambda e: e["iteration"]):
        for a in e["new_achievements"]:
            first.setdefault(a, e["iteration"])
    last = max(its, key=lambda e: e["iteration"])
    calls = [e for e in events(run) if e["type"] == "model_call"]
    return {
        "iterations": last["iteration"],
        "done": sum(e["success"] for e in its),
        "unique": len(last["achievements"]),
        "skills": last["skills"],
        "episodes": last["episode"] + 1,
        "tokens": last["tokens"],
        "by_model": sum(e["proposed_by"] == "model" for e in its),
        "by_need": sum(e["proposed_by"] == "need" for e in its),
        "by_prerequisite": sum(e["proposed_by"].startswith("prerequisite") for e in its),
        "replayed": sum(bool(e.get("replayed")) for e in its),
        "first": first,
        "calls_logged": len(calls),
    }


def score(episodes):
    n = len(episodes)
    rates = [100.0 * sum(a in e for e in episodes) / n for a in ACHIEVEMENTS]
    return math.exp(sum(math.log(1 + r) for r in rates) / len(rates)) - 1


SPRING = 27.3


def bootstrap(episodes, resamples=5000, seed=0):
    """The score's 95 % bootstrap interval over `episodes` (each a set of achievements) and the
    fraction of resamples that score above SPRING's."""
    rng = random.Random(seed)
    scores = sorted(score([rng.choice(episodes) for _ in episodes]) for _ in range(resamples))
    lo, hi = scores[int(0.025 * resamples) - 1], scores[int(0.975 * resamples) - 1]
    return lo, hi, sum(s > SPRING for s in scores) / resamples


def played(run, upto=None):
    """The played episodes of `run`'s finished sessions, as (task id, episode) in file order.
    An episode of no iterations was only started (the session stopped at the death that began
    it): not played, not counted. With `upto`, each episode as it stood after its session's
    iteration `upto` (its achievements those unlocked by then, from the iteration events): the
    first iterations of a longer evaluation are exactly what a shorter one would have played."""
    path = run / "results.jsonl"
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        r = json.loads(line)
        if r.get("submitted_code"):
            account = json.loads(r["submitted_code"])
            out += [(r["task_id"], e) for e in account["episodes"] if e.get("iterations")]
    return out if upto is None else cut(run, out, upto)


def cut(run, episodes, upto):
    """`episodes` (from `played`) truncated to their sessions' first `upto` iterations."""
    its = {}
    for e in events(run):
        if e["type"] == "iteration" and e["iteration"] <= upto:
            its.setdefault((e["task_id"], e["episode"]), {})[e["iteration"]] = e
    out = []
    for task_id, episode in episodes:
        mine = its.get((task_id, episode["episode"]))
        if not mine:
            continue
        unlocked = sorted({a for e in mine.values() for a in e["new_achievements"]})
        cut_short = len(mine) < episode["iterations"]
        out.append((task_id, dict(episode, achievements=unlocked, iterations=len(mine),
                                  ended=None if cut_short else episode.get("ended"))))
    return out


def evaluation(run, upto=None):
    episodes = [set(e["achievements"]) for _, e in played(run, upto)]
    if not episodes:
        return None
    return len(episodes), sum(map(len, episodes)) / len(episodes), score(episodes), \
        bootstrap(episodes)


def stops(run, upto=None):
    """How the run's iterations were cut short: deaths by cause, and needs that interrupted."""
    died, interrupted = {}, 0
    for e in events(run):
        if e["type"] != "iteration" or (upto is not None and e["iteration"] > upto):
            continue
        reason = e.get("reason", "")
        if "the player died" in reason:
            cause = reason.split("the player died", 1)[1].lstrip(": ").split(")")[0] or "cause not reported"
            died[cause] = died.get(cause, 0) + 1
        elif "interrupted: a new need" in reason:
            interrupted += 1
    causes = ", ".join(f"{c} {n}" for c, n in sorted(died.items(), key=lambda x: -x[1]))
    return f"deaths mid-program: {sum(died.values())} ({causes or 'none'}); " \
           f"iterations a need interrupted: {interrupted}"


def episode_rows(run, upto=None):
    """Each finished evaluation episode of `run`, as a markdown row, by seed."""
    rows = []
    for task_id, e in played(run, upto):
        names = ", ".join(sorted(e["achievements"]))
        rows.append((task_id, f"| {run.name} | {task_id.rsplit('-', 1)[-1]} | "
                     f"{e['iterations']} | {e.get('ended') or 'iterations used up'} | "
                     f"{len(e['achievements'])}: {names} |"))
    return [row for _, row in sorted(rows)]


def per_seed(run, upto=None):
    """Achievements per finished evaluation episode of `run`, by task id (one episode a seed)."""
    out = {}
    for task_id, e in played(run, upto):
        out.setdefault(task_id, len(e["achievements"]))
    return out


def sign_p(diffs):
    """Two-sided exact sign test of the non-zero differences."""
    n, k = len(diffs), sum(d > 0 for d in diffs)
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def wilcoxon_p(diffs):
    """Two-sided exact Wilcoxon signed-rank test of the non-zero differences (average ranks)."""
    order = sorted(range(len(diffs)), key=lambda i: abs(diffs[i]))
    ranks = [0.0] * len(diffs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and abs(diffs[order[j + 1]]) == abs(diffs[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    total = sum(ranks)
    observed = abs(sum(r for r, d in zip(ranks, diffs) if d > 0) - total / 2)
    extreme = 0
    for signs in range(2 ** len(diffs)):
        w = sum(r for b, r in enumerate(ranks) if signs >> b & 1)
        extreme += abs(w - total / 2) >= observed - 1e-9
    return extreme / 2 ** len(diffs)


def paired(base, run, upto=None):
    """`run` against `base`, seed by seed, as one line."""
    a, b = per_seed(base, upto), per_seed(run, upto)
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return f"{run.name} against {base.name}: no seed finished in both"
    diffs = [b[s] - a[s] for s in seeds]
    nonzero = [d for d in diffs if d]
    tests = (f"sign p = {sign_p(nonzero):.3f}, Wilcoxon p = {wilcoxon_p(nonzero):.3f}"
             if nonzero else "no difference")
    return (f"{run.name} against {base.name} on {len(seeds)} seeds: "
            f"{sum(b[s] for s in seeds) / len(seeds):.2f} against "
            f"{sum(a[s] for s in seeds) / len(seeds):.2f} achievements per episode; "
            f"per seed {', '.join(f'{d:+d}' for d in diffs)}: "
            f"{sum(d > 0 for d in diffs)} better, {sum(d < 0 for d in diffs)} worse, "
            f"{diffs.count(0)} level; {tests}")


def main():
    root = Path(sys.argv[1])
    upto = int(sys.argv[sys.argv.index("--upto") + 1]) if "--upto" in sys.argv else None
    print("| variant | iterations | tasks done | proposed by the model | needs | prerequisites | "
          "skills run again | unique achievements | skills | episodes | tokens | "
          "first unlocked (iteration) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in sorted(p for p in root.iterdir() if (p / "run.json").exists()):
        if "-eval" in run.name:
            continue
        s = session(run, upto or 10**9)
        if s is None:
            continue
        firsts = ", ".join(f"{a} {i}" for a, i in sorted(s["first"].items(), key=lambda x: x[1]))
        print(f"| {run.name} | {s['iterations']} | {s['done']} | {s['by_model']} | {s['by_need']} | "
              f"{s['by_prerequisite']} | {s['replayed']} | {s['unique']} | "
              f"{s['skills']} | {s['episodes']} | {s['tokens']:,} | {firsts} |")
    evals = sorted(p for p in root.iterdir() if "-eval" in p.name and p.is_dir())
    for run in evals:
        e = evaluation(run, upto)
        if e:
            lo, hi, above = e[3]
            print(f"{run.name}: {e[0]} episodes, {e[1]:.2f} achievements per episode, "
                  f"Crafter score {e[2]:.1f} % (bootstrap 95 % {lo:.1f}-{hi:.1f}; above SPRING's "
                  f"{SPRING} in {100 * above:.0f} % of resamples); {stops(run, upto)}")
    if "--paired" in sys.argv:
        base = root / sys.argv[sys.argv.index("--paired") + 1]
        for run in evals:
            if run != base and per_seed(run, upto):
                print(paired(base, run, upto))
    if "--episodes" in sys.argv:
        print("| run | seed | iterations | ended | achievements |\n|---|---|---|---|---|")
        for row in (row for run in evals for row in episode_rows(run, upto)):
            print(row)


if __name__ == "__main__":
    main()
