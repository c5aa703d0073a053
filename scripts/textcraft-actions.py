#!/usr/bin/env python3
"""What the actions of TextCraft runs did: each run's submitted episodes replayed in TextCraft,
every action's outcome counted (the environment's own messages, grouped).

Usage (in the TextCraft virtualenv, which `mneme env setup textcraft` makes):
    ~/.cache/mneme/envs/textcraft/venv/bin/python scripts/textcraft-actions.py RUN_DIR...

Prints a markdown table: per run, the episodes and actions replayed, and the share of actions
that got a basic item, crafted something, asked for an item that must be crafted or does not
exist (`get`), lacked ingredients, named no valid recipe (wrong counts or ingredients), were not
an action at all, or listed the inventory; and the share that repeated the previous action.
"""
import json
import os
import sys
from collections import Counter

if os.environ.get("PYTHONHASHSEED") != "0":  # as the adapter does, keeping the arguments
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "environments", "textcraft"))
ARGS = sys.argv[1:]
sys.argv = sys.argv[:1]
import textcraft_env  # noqa: E402

KINDS = [
    ("got", "Got "),
    ("crafted", "Crafted "),
    ("missing ingredients", "Could not find enough items"),
    ("no such recipe", "Could not find a valid recipe"),
    ("malformed craft", "Could not extract recipe"),
    ("malformed craft", "Wrong item format"),
    ("cannot get that", "Could not find "),
    ("not an action", "Could not execute"),
    ("inventory", "Inventory:"),
]
COLUMNS = ["got", "crafted", "cannot get that", "missing ingredients", "no such recipe",
           "malformed craft", "not an action", "inventory", "other"]


def kind(observation):
    for name, prefix in KINDS:
        if observation.startswith(prefix):
            return name
    return "other"


def goals_of(run_dir):
    spec = json.load(open(os.path.join(run_dir, "run.json")))
    goals = {}
    for line in open(spec["suite"]):
        if line.strip():
            task = json.loads(line)
            goals[task["id"]] = task
    return goals


def replay(task, actions):
    episode = textcraft_env.Episode(task)
    outcomes, previous, repeats = Counter(), None, 0
    for action in actions:
        content = action["content"]
        repeats += content == previous
        previous = content
        reply = episode.step(content)
        outcomes[kind(reply["observation"])] += 1
        if reply["done"]:
            break
    return outcomes, repeats


def main():
    out = textcraft_env.PROTOCOL
    out.write("| run | episodes | actions | " + " | ".join(COLUMNS) + " | repeats previous |\n")
    out.write("|---|---|---|" + "---|" * (len(COLUMNS) + 1) + "\n")
    for run_dir in ARGS:
        goals = goals_of(run_dir)
        total, repeats, episodes = Counter(), 0, 0
        for line in open(os.path.join(run_dir, "results.jsonl")):
            if not line.strip():
                continue
            result = json.loads(line)
            if not result.get("submitted_code"):
                continue
            outcomes, repeated = replay(goals[result["task_id"]], json.loads(result["submitted_code"]))
            total.update(outcomes)
            repeats += repeated
            episodes += 1
        n = sum(total.values()) or 1
        cells = " | ".join("%.0f%%" % (100 * total[c] / n) for c in COLUMNS)
        name = os.path.basename(os.path.normpath(run_dir))
        out.write("| %s | %d | %d | %s | %.0f%% |\n" % (name, episodes, n, cells, 100 * repeats / n))


if __name__ == "__main__":
    main()
