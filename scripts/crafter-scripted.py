#!/usr/bin/env python3
"""A scripted Crafter agent that checks the environment's helpers without a model: each task
program is one step of the hand-written baseline's `progress()`, and each need (a vital running
low, the night) gets the program the 1.5B model wrote for it (quoted from the v4 library's
frozen evaluation), sent with the need as its goal, the way the Voyager loop sends it.

    CRAFTER_PY=~/.cache/mneme/envs/crafter/venv/bin/python
    $CRAFTER_PY scripts/crafter-scripted.py [--programs 40] [--seeds 1001-1040]
        [--adapter PATH] [--against PATH]

Prints, per adapter, the achievements per episode, the Crafter score, the deaths and the health
lost by cause; with --against (an older crafter_env.py, e.g. from `git show`), both adapters
play the same seeds and the achievements are compared seed by seed (exact sign test).
"""
import argparse
import collections
import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRAFTER = ROOT / "environments" / "crafter"
sys.path.insert(0, str(CRAFTER))
import baseline_skills  # noqa: E402


def _sign_p():
    spec = importlib.util.spec_from_file_location("crafter_progress",
                                                  Path(__file__).with_name("crafter-progress.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sign_p


# One step up the tech tree per program (the baseline's own functions, without its loop).
PROGRESS = baseline_skills.POLICY.split("def main():")[0] + "\nprogress()\n"
# What the 1.5B model wrote for each need (v4 library, frozen evaluation at aaeea2e).
NEED_PROGRAMS = {
    "restore_health": """def restore_health():
    shelter()
    while observe()['vitals']['health'] < 7:
        wait(10)
restore_health()
""",
    "restore_food": """def restore_food():
    while observe()['vitals']['food'] < 6:
        if attack('cow') == 0:
            eat_plant()
restore_food()
""",
    "restore_drink": """def restore_drink():
    collect('drink', 1)
    while observe()['vitals']['drink'] < 9:
        if collect('drink', 1) == 0:
            explore(20)
restore_drink()
""",
    "restore_energy": """def restore_energy():
    shelter()
    sleep_until_rested()
restore_energy()
""",
    "wait_out_night": """def wait_out_night():
    shelter()
    sleep_until_rested()
    while observe()['daylight'] < 0.5:
        wait(10)
wait_out_night()
""",
}
HURT = re.compile(r"step \d+: health (\d+) -> (\d+) \((.*)\)")


def episode(python, adapter, seed, programs):
    """Plays one episode of at most `programs` programs; its achievements, end and damage."""
    with baseline_skills.adapter_session(python, adapter) as send:
        data = send({"op": "reset", "task": {"id": "scripted", "prompt": "", "seed": seed,
                                             "length": 10000, "program_steps": 400}}
                    )["observation"]["data"]
        lost = collections.Counter()
        for _ in range(programs):
            needs = data["needs"]
            action = {"kind": "program", "content": PROGRESS}
            if needs:
                action = {"kind": "program", "goal": needs[0]["task"],
                          "content": NEED_PROGRAMS[needs[0]["task"].split(":")[0]]}
            reply = send({"op": "step", "action": action})
            if "error" in reply:
                raise RuntimeError("seed %d: %s" % (seed, reply["error"]))
            data = reply["observation"]["data"]
            for line in data["hurt"]:
                match = HURT.match(line)
                if match:
                    lost[match.group(3)] += int(match.group(1)) - int(match.group(2))
            if reply["done"]:
                break
    return {"seed": seed, "achievements": data["achievements"], "step": data["step"],
            "died": data["died"], "death_cause": data["death_cause"], "lost": lost}


def play(python, adapter, seeds, programs):
    results = [episode(python, adapter, seed, programs) for seed in seeds]
    lost = sum((r["lost"] for r in results), collections.Counter())
    print("%s: %d episodes of at most %d programs: %.2f achievements per episode, Crafter score "
          "%.1f %%, %d died; health lost: %s" % (
              adapter, len(results), programs,
              sum(len(r["achievements"]) for r in results) / len(results),
              baseline_skills.score(results), sum(bool(r["died"]) for r in results),
              ", ".join("%s %d" % kv for kv in lost.most_common())))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=40)
    parser.add_argument("--seeds", default="1001-1040", help="FIRST-LAST")
    parser.add_argument("--adapter", default=str(CRAFTER / "crafter_env.py"))
    parser.add_argument("--against", help="another crafter_env.py to compare with")
    args = parser.parse_args()
    first, last = (int(v) for v in args.seeds.split("-"))
    seeds = range(first, last + 1)
    results = play(sys.executable, args.adapter, seeds, args.programs)
    if args.against:
        base = play(sys.executable, args.against, seeds, args.programs)
        diffs = [len(r["achievements"]) - len(b["achievements"]) for r, b in zip(results, base)]
        nonzero = [d for d in diffs if d]
        print("per seed against %s: %d better, %d worse, %d level; sign p = %.3f" % (
            args.against, sum(d > 0 for d in diffs), sum(d < 0 for d in diffs),
            diffs.count(0), _sign_p()(nonzero)))


if __name__ == "__main__":
    main()
