#!/usr/bin/env python3
"""Writes the fixed list of TextCraft goals mneme's study uses (environments/textcraft/goals.jsonl).

Run in the TextCraft virtualenv (`mneme env setup textcraft` makes it):
    ~/.cache/mneme/envs/textcraft/venv/bin/python scripts/textcraft-goals.py > environments/textcraft/goals.jsonl

Goals are items whose shortest recipe tree has depth 2, 3 or 4 (the package's own measure),
taken evenly spaced from each depth's list sorted by name: 25 of depth 2, 17 of depth 3, 8 of
depth 4. The crafting table is left out: the instructions use it as their example.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "environments", "textcraft"))
sys.argv = sys.argv[:1]
import textcraft_env  # noqa: E402  (re-executes with PYTHONHASHSEED=0)

PER_DEPTH = {2: 25, 3: 17, 4: 8}
EXCLUDED = {"minecraft:crafting_table"}


def evenly(items, count):
    return [items[i * len(items) // count] for i in range(count)]


def main():
    env = textcraft_env.fresh_textcraft()
    by_depth = {}
    for item, depth in env.crafting_tree.item_recipes_min_depth(2):
        if item not in EXCLUDED:
            by_depth.setdefault(depth, []).append(item)
    for depth, count in PER_DEPTH.items():
        for item in evenly(sorted(by_depth[depth]), count):
            name = item.replace("minecraft:", "").replace("_", " ")
            line = {"id": "textcraft/" + name.replace(" ", "_"), "prompt": "Craft 1 %s." % name,
                    "goal": name, "depth": depth}
            textcraft_env.PROTOCOL.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
