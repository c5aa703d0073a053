#!/usr/bin/env python3
"""Crafter (Hafner 2021; `pip install crafter==1.8.3 opensimplex==0.3`) over mneme's JSON-lines
environment protocol, with text observations and a program API.

A task is `{"id": …, "prompt": …, "seed": 7}` plus optional `episode` (default 0; the world is a
deterministic function of seed and episode, so a new episode after death is a new world),
`length` (episode length in steps, default 10000), `program_steps` (primitive-step budget of one
program, default 400) and `program_seconds` (wall-clock limit of one program, default 20).

Actions:
- `{"kind": "act", "content": "move_left"}`: one of crafter's 17 primitive actions.
- `{"kind": "program", "content": "<python source>", "goal": "<task>"}`: a model-written program
  that drives the game through the API documented in `API_DOC` (also sent as
  `observation.data.api` on reset); `goal` (optional) is the task it is for: a program for a
  need is stopped, until the need's check holds, only by a critical new need.

The observation is `{"text": …, "data": …}`: the text describes only what the player can fairly
see (crafter's 9x7 local view, as positions relative to the player; inventory; vitals; facing;
daylight), never the hidden map. Reward is the number of achievements newly unlocked by the
step or program; `done` when the player died or the episode length is reached.

What this adapter does about the package's quirks:
- Determinism: `Env._balance_object` picks a creature by index from a Python `set` (ordered by
  object id); the creatures are sorted by position first, so replays, snapshots and restores are
  identical across processes. Tuple hashes of ints (crafter's world seed) do not depend on
  PYTHONHASHSEED, so no re-exec is needed.
- No rendering: `step`/`reset` never draw images (rendering is slow and its night-time noise
  draws from the world's random generator); the semantic map is not computed either.
- The protocol owns a dup of the real stdout; everything printed by packages goes to stderr.
- Snapshots are the pickled world (materials, objects, player, random state), the seen-map
  memory and the counters, zlib-compressed and base64-encoded.

Programs are never run in this interpreter. Each one runs in a forked child (os.fork and pipes
only; no multiprocessing, no /dev/shm) with rlimits (CPU, address space, file size, no core
files), its output captured into a pipe and its own copy of the world wiped. The API functions
in the child are stubs that send each call to this process, which plays it on the real game and
enforces the step budget; this process also enforces the wall-clock limit and survives a child
that crashes, exits or hangs. Helpers only use cells the player has seen this episode.

Run by hand: `python3 crafter_env.py`, then type
`{"op": "reset", "task": {"id": "t", "prompt": "", "seed": 1}}`.
"""
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# The protocol owns the real stdout; anything else printed goes to stderr.
PROTOCOL = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
sys.stdout = sys.stderr

import base64  # noqa: E402
import builtins  # noqa: E402
import heapq  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import linecache  # noqa: E402
import pickle  # noqa: E402
import resource  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402

import crafter  # noqa: E402
from crafter import constants  # noqa: E402
from crafter import objects as cobjects  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Patches: deterministic creature balancing, no rendering.

_ORIGINAL_BALANCE = crafter.Env._balance_object


def _balance_object(self, chunk, objs, *args):
    objs = sorted(objs, key=lambda o: (int(o.pos[0]), int(o.pos[1])))
    return _ORIGINAL_BALANCE(self, chunk, objs, *args)


crafter.Env._balance_object = _balance_object
crafter.Env._obs = lambda self: None

# ---------------------------------------------------------------------------------------------
# Constants.

ACTIONS = list(constants.actions)
ACHIEVEMENTS = list(constants.achievements)
WARMUP = [
    "collect_wood", "place_table", "make_wood_pickaxe", "make_wood_sword", "collect_sapling",
    "place_plant", "collect_drink", "eat_cow", "collect_stone", "place_stone",
    "make_stone_pickaxe", "make_stone_sword", "collect_coal", "place_furnace", "defeat_zombie",
    "wake_up", "collect_iron", "make_iron_pickaxe", "make_iron_sword", "defeat_skeleton",
    "eat_plant", "collect_diamond",
]
assert sorted(WARMUP) == sorted(ACHIEVEMENTS)
VITALS = ["health", "food", "drink", "energy"]
# Urgent needs, reported in every observation's `data.needs` (lowest vital first): a vital at or
# below `low` asks for its task, done when the vital is back to `restored` (checked by the agent
# against `data.vitals`). The task strings stay fixed, so a skill learned for one is found again.
# Drink is restored to full: it falls by one every ~20 steps, so drinking to 7 brought the need
# back 40 steps later, and in the 1.5B evaluations a new drink need stopped 19 programs of 152.
NEEDS = [
    ("drink", 5, "restore_drink: drink water until drink is full (9)", 9),
    ("food", 5, "restore_food: eat a cow or a ripe plant until food is at least 6", 6),
    ("energy", 3, "restore_energy: sleep (sheltered if you can) until energy is at least 7", 7),
    ("health", 4, "restore_health: get safe (shelter) and rest until health is at least 7", 7),
]
# The night's need (after the vitals'): zombies come out on grass in the dark and hit a sleeper
# for 7 of 9 health. Reported while daylight is below NIGHT_BELOW (about 100 steps of every 300),
# done when it is back to MORNING.
NIGHT_BELOW = 0.35
MORNING = 0.5
# A vital at or below this is critical: the only new need that stops a program written for a
# need (its `goal`) until that need is met (at 0 a vital costs health). Finishing one
# need beats thrashing between two: in the 1.5B evaluations 25 of 51 interrupts stopped one
# need's program for another (health for drink, drink for food, ...), and of 11 health needs 1
# was met. Programs sent without a goal keep the plain rule: the hand-written baseline, which
# handles every need itself and is cheap to restart, scored 41.7 % instead of 66.7 % when every
# program started with a need was spared (10 seeds).
CRITICAL = 2
# How each need is done (sent with it, shown under the task). Health says to stay inside: told
# "wait until health >= 7 (it comes back while food, drink and energy are above 0)", the 1.5B
# model wrote a program that left the shelter to hunt cows in each of 5 evaluation episodes.
NEED_HOW = {
    "drink": "collect('drink', n) at water; done when observe()['vitals']['drink'] >= 9",
    "food": "attack('cow') (or eat_plant() at a ripe plant) until observe()['vitals']['food'] "
            ">= 6",
    "energy": "shelter(), then sleep_until_rested(); done when observe()['vitals']['energy'] "
              ">= 7",
    "health": "shelter(), then `while observe()['vitals']['health'] < 7: wait(10)`: stay inside, "
              "health comes back by itself while food, drink and energy are above 0 (leaving to "
              "hunt costs it)",
    "night": "shelter() and sleep_until_rested(); if either fails, wait(10) until "
             "observe()['daylight'] >= %s (helpers fight back zombies)" % MORNING,
}
NIGHT_TASK = ("wait_out_night: wall yourself in (shelter) and sleep, else stay awake, until "
              "daylight is at least %s" % MORNING)
HURTS_KEEP = 10             # damage lines kept per program
SHELTER_STEPS = 120         # shelter()'s default step budget (room to mine the stones it needs)
SHELTER_STONES = 6          # stones a pocket in the open needs at most (5 walls and the door)
SHELTER_TRIES = 3           # pockets shelter() tries to build in the open
# Names programs give placeable items by: a plant is placed from a sapling (`place('sapling')`
# failed all 4 rounds of an `eat_plant` task in the v5 evaluation).
ITEM_ALIASES = {"sapling": "plant"}
ZOMBIE_REACH_COST = 6       # a path's extra cost for a cell next to a zombie in view
FIGHT_HITS = 8              # most hits a helper spends fighting back one zombie
# What an achievement needs first when a tool it cannot do without is missing (the item, the
# achievement that makes it): `data.locked` maps each such achievement to the first one to do.
TOOL_NEEDS = {
    "collect_stone": "wood_pickaxe", "collect_coal": "wood_pickaxe",
    "collect_iron": "stone_pickaxe", "collect_diamond": "iron_pickaxe",
    "place_stone": "wood_pickaxe", "place_furnace": "wood_pickaxe",
    "make_stone_pickaxe": "wood_pickaxe", "make_stone_sword": "wood_pickaxe",
    "make_iron_pickaxe": "stone_pickaxe", "make_iron_sword": "stone_pickaxe",
}
ITEMS = [name for name in constants.items if name not in VITALS]
MAXIMUM = {name: info["max"] for name, info in constants.items.items()}
MATERIALS = list(constants.materials)
WALKABLE = set(constants.walkable)  # grass, sand, path
CREATURES = ["cow", "zombie", "skeleton", "plant", "ripe_plant", "arrow"]
TARGETS = MATERIALS + ["cow", "zombie", "skeleton", "plant", "ripe_plant"]
SOURCES = {"wood": "tree", "stone": "stone", "coal": "coal", "iron": "iron",
           "diamond": "diamond", "drink": "water", "sapling": "grass"}
TOOLS = list(constants.make)
PLACEABLE = list(constants.place)
ATTACKS = {"cow": "eat_cow", "zombie": "defeat_zombie", "skeleton": "defeat_skeleton"}
DIRS = {(-1, 0): "move_left", (1, 0): "move_right", (0, -1): "move_up", (0, 1): "move_down"}
DIR_LIST = [(-1, 0), (1, 0), (0, -1), (0, 1)]
MOVES = {name: d for d, name in DIRS.items()}
VIEW_X, VIEW_Y = 4, 3  # crafter's local view is 9 wide and 7 high
AREA = (64, 64)

DEFAULT_LENGTH = 10000
DEFAULT_PROGRAM_STEPS = 400
DEFAULT_PROGRAM_SECONDS = 20.0
OUTPUT_KEEP = 1500          # characters of program output kept
CHILD_OUTPUT_CAP = 32000    # characters the child writes at most (below the pipe buffer)
EVENTS_KEEP = 60            # event lines kept per program
MESSAGE_CAP = 1 << 20       # longest request line a child may send
CHILD_MEMORY = 1 << 30      # address space a program may add


def _requirements(uses):
    return ", ".join("%d %s" % (v, k) for k, v in uses.items()) or "nothing"


def _recipes_doc():
    lines = []
    for name, info in constants.collect.items():
        if name == "grass":
            continue
        req = _requirements(info["require"])
        lines.append("  %s from %s%s" % ("/".join(info["receive"]), name,
                                         "" if req == "nothing" else " (needs %s)" % req))
    lines.append("  sapling from grass (10% chance per do)")
    for name, info in constants.place.items():
        lines.append("  place %s: uses %s, onto %s" % (name, _requirements(info["uses"]),
                                                    "/".join(info["where"])))
    for name, info in constants.make.items():
        lines.append("  make %s: uses %s, next to %s" % (name, _requirements(info["uses"]),
                                                       " and ".join(info["nearby"])))
    return "\n".join(lines)


# Achievements not earned by the call their name spells: (the call, what it needs).
SPECIAL_ACHIEVEMENTS = {
    "eat_cow": ("attack('cow')", "a cow nearby (attack hits it until eaten)"),
    "defeat_zombie": ("attack('zombie')", "a zombie nearby (they come out on grass at night)"),
    "defeat_skeleton": ("attack('skeleton')", "a skeleton nearby (in dark tunnels)"),
    "eat_plant": ("eat_plant()", "a ripe plant: place a sapling, protect it, wait until it ripens"),
    "wake_up": ("sleep_until_rested()", "energy below 9; sleep somewhere safe"),
}


def _achievement_call(name):
    """The API call that earns achievement `name` once its needs are met."""
    if name in SPECIAL_ACHIEVEMENTS:
        return SPECIAL_ACHIEVEMENTS[name][0]
    kind, _, what = name.partition("_")
    return "%s('%s')" % (kind, what)


def _achievement_needs(name):
    """What achievement `name` needs before its call earns it, from the game's rules."""
    if name in SPECIAL_ACHIEVEMENTS:
        return SPECIAL_ACHIEVEMENTS[name][1]
    kind, _, what = name.partition("_")
    if kind == "collect" and what in constants.collect:
        return _requirements(constants.collect[what]["require"])
    if kind == "collect":
        source = [k for k, v in constants.collect.items() if what in v["receive"]]
        req = _requirements(constants.collect[source[0]]["require"]) if source else "nothing"
        return "%s (from %s)" % (req, "/".join(source) or "?")
    if kind == "place":
        info = constants.place[what]
        return "%s, onto %s" % (_requirements(info["uses"]), "/".join(info["where"]))
    if kind == "make":
        info = constants.make[what]
        return "%s, next to a %s" % (_requirements(info["uses"]), " and a ".join(info["nearby"]))
    return "nothing"


def _task_context():
    """For each achievement's task: the call that earns it and what it needs."""
    return {name: "call %s; needs %s" % (_achievement_call(name), _achievement_needs(name))
            for name in WARMUP}


# What models call some achievements instead (task words joined by `_`): "Collect water" is
# checked as collect_drink.
TASK_ALIASES = {
    "collect_water": "collect_drink", "drink_water": "collect_drink",
    "collect_ripe_plant": "eat_plant", "eat_ripe_plant": "eat_plant",
    "collect_tree": "collect_wood", "chop_tree": "collect_wood",
    "plant_sapling": "place_plant", "kill_zombie": "defeat_zombie",
    "kill_skeleton": "defeat_skeleton", "kill_cow": "eat_cow",
}


def _achievements_doc():
    return "\n".join("  %s: %s" % (name, _achievement_call(name)) for name in WARMUP)


API_DOC = """Crafter program API. Your program is Python; it runs as a module (define functions and
call them at the end). Each call below is played on the game; each primitive step counts against
the program's step budget (when it runs out, the call raises and the program stops). Positions are
(dx, dy) relative to the player: dx<0 left, dx>0 right, dy<0 up, dy>0 down. Helpers only use cells
you have seen this episode; when nothing is known, explore.

Primitive actions (one step each, return True if something changed):
  noop() move_left() move_right() move_up() move_down() do() sleep()
  place_stone() place_table() place_furnace() place_plant()
  make_wood_pickaxe() make_stone_pickaxe() make_iron_pickaxe()
  make_wood_sword() make_stone_sword() make_iron_sword()
  act(name) -> bool                 the primitive action called name
  (move_X turns to face X and steps there if the cell is free, never into lava; do()
  collects/attacks/drinks what you face; place_X and make_X act on the cell you face / need a
  table (and furnace) next to you.)
Observation (no steps):
  observe() -> dict                 inventory, vitals (health, food, drink, energy: 0-9), facing,
                                    daylight (0-1), achievements, step, steps_left (of this
                                    program), nearby: list of (name, dx, dy) in view
  inventory() -> dict               item -> count
  known(target) -> list             (dx, dy) of seen cells/creatures of target, nearest first
Helpers (each takes steps; return values say what happened):
  go_to(target, max_steps=100) -> bool    walk next to the nearest seen target and face it;
                                    target: a material (tree, water, stone, coal, iron, diamond,
                                    table, furnace, grass, sand, path, lava) or creature (cow,
                                    zombie, skeleton, plant, ripe_plant). False if none seen or
                                    unreachable. Never walks into lava.
  explore(steps=20) -> int          walk toward unseen places; returns cells newly seen
  collect(item, n=1, max_steps=200) -> int   item: wood, stone, coal, iron, diamond, sapling,
                                    drink; finds the source (exploring if needed) and collects
                                    until n more are gained; returns the number gained
  place(item) -> bool               item: stone, table, furnace, plant; onto a free cell next to you
  make(tool) -> bool                tool: wood_pickaxe, stone_pickaxe, iron_pickaxe, wood_sword,
                                    stone_sword, iron_sword; walks to a seen table (and furnace)
  attack(creature, max_steps=100) -> bool   cow, zombie, skeleton: chase and hit until defeated
                                    (defeating a cow eats it)
  eat_plant(max_steps=100) -> bool  walk to a seen ripe plant and eat it
  shelter(max_steps=120) -> bool    wall yourself in (a dead-end with the entrance closed by a
                                    stone; needs a stone, or a wood_pickaxe to dig in; in the
                                    open it builds walls: up to 6 stones, mined first when you
                                    have a wood_pickaxe and have seen stone)
  sleep_until_rested(max_steps=300) -> bool   sleep until energy is full (False if woken early;
                                    refused outside a shelter at night or with a zombie in view)
  wait(steps=1) -> int              do nothing for some steps
Every helper fights back a zombie next to you (hits it until it is gone) when it starts and
before each step, and steps aside from an arrow flying at you. A helper that fails without
taking a step waits one step, so retrying in a loop lets the game move on. Helper failures are reported as return values (and a reason in the program's
feedback); unknown names raise ValueError, arguments that do not fit a function TypeError.
print() output is shown to you (cut to %d characters).

Achievements (a task named after one is done when the game reports it), each with the call
that earns it once its needs (see Recipes) are met:
%s

Recipes:
%s
Vitals: food from eating cows/ripe plants, drink from water, energy from sleeping; health falls
when any is 0. Zombies come out on grass at night; skeletons live in dark tunnels; lava kills.
A program stops (raising Interrupted) when the most urgent need is a new one (a vital running
low, nightfall; not one reported when it started); the need is the next task. A program for a
need is stopped, until that need is met, only by a vital at %d or less.

Examples (each for a task of its own; write yours for your task):
def drink_until_full():
    '''Drinks water (at least one sip) until drink is 9.'''
    collect('drink', 1)
    while observe()['vitals']['drink'] < 9:
        if collect('drink', 1) == 0:
            explore(20)

def get_coal():
    '''Collects one coal; coal needs a wood pickaxe, made next to a table.'''
    if inventory()['wood_pickaxe'] == 0:
        collect('wood', 3)
        if not make('wood_pickaxe'):
            place('table')
            make('wood_pickaxe')
    collect('coal', 1)

get_coal()
""" % (OUTPUT_KEEP, _achievements_doc(), _recipes_doc(), CRITICAL)


class _Stop(Exception):
    """A program call that cannot go on (budget spent, episode over)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def _rel(dx, dy):
    parts = []
    if dx:
        parts.append("%d %s" % (abs(dx), "left" if dx < 0 else "right"))
    if dy:
        parts.append("%d %s" % (abs(dy), "up" if dy < 0 else "down"))
    return " ".join(parts) or "here"


def _daylight_word(daylight, step):
    progress = (step / 300) % 1 + 0.3
    if daylight >= 0.6:
        return "day"
    if daylight < 0.3:
        return "night"
    return "dusk" if progress < 1.0 else "dawn"


def _obj_name(obj):
    if isinstance(obj, cobjects.Plant):
        return "ripe_plant" if obj.ripe else "plant"
    return type(obj).__name__.lower()


def _misuse(name, fn, args, kwargs):
    """Why the call `name(*args, **kwargs)` does not fit the API function's signature, said
    with the signature (`place('stone', 1)`: "place(item) takes ..."), or None when it fits.
    Python's own message names the adapter's method and counts `self`, which misleads."""
    if name in ACTIONS:
        if args[1:] or kwargs:
            return "%s() takes no arguments; call it as %s()" % (name, name)
        return None
    signature = inspect.signature(fn)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as e:
        return "%s%s was called as %s(%s): %s" % (
            name, signature, name, _fmt_args(args, kwargs), e)
    return None


def _fmt_args(args, kwargs):
    parts = [repr(a) for a in args] + ["%s=%r" % (k, v) for k, v in kwargs.items()]
    text = ", ".join(parts)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------------------------
# The game.

_ENV = None


def _crafter_env():
    global _ENV
    if _ENV is None:
        _ENV = crafter.Env(area=AREA, seed=0)
        _ENV._sem_view = lambda: None  # the whole map is never computed nor shown
    return _ENV


class Game:
    def __init__(self, task):
        if not isinstance(task, dict):
            raise ValueError("the task must be an object")
        if "seed" not in task or task["seed"] is None:
            raise ValueError("a Crafter task needs an integer `seed` (e.g. {\"seed\": 1})")
        self.seed = int(task["seed"])
        self.episode = int(task.get("episode", 0) or 0)
        self.length = int(task.get("length", DEFAULT_LENGTH) or DEFAULT_LENGTH)
        self.program_steps = int(task.get("program_steps", DEFAULT_PROGRAM_STEPS))
        self.program_seconds = float(task.get("program_seconds", DEFAULT_PROGRAM_SECONDS))
        if self.length < 1 or self.program_steps < 1 or self.program_seconds <= 0:
            raise ValueError("length, program_steps and program_seconds must be positive")
        env = _crafter_env()
        env._seed = self.seed
        env._episode = self.episode   # reset() adds 1: world seed = hash((seed, episode + 1))
        env._length = self.length
        env.reset()
        self.env = env
        self.world_seed = hash((self.seed, self.episode + 1)) % (2 ** 31 - 1)
        self.seen = np.full(AREA, -1, np.int16)
        self.seen_objs = {}
        self.done = False
        self.died = False
        self.death_cause = None
        self.used = 0
        self.budget = None
        self.watched = None
        self.goal_need = None
        self.helping = False
        self.fighting = False
        self._reset_feedback()
        self._remember()

    # --- state ---------------------------------------------------------------------------
    @property
    def world(self):
        return self.env._world

    @property
    def player(self):
        return self.env._player

    def pos(self):
        return int(self.player.pos[0]), int(self.player.pos[1])

    def facing(self):
        f = self.player.facing
        return int(f[0]), int(f[1])

    def mat_at(self, cell):
        return self.world[cell][0]

    def _reset_feedback(self):
        self.new_achievements = []
        self.events = []
        self.events_dropped = 0
        self.hurts = []
        self.interrupted = None
        self.note = None

    def _remember(self):
        """Copies the cells in the local view into the seen-map memory."""
        px, py = self.pos()
        x0, x1 = max(0, px - VIEW_X), min(AREA[0], px + VIEW_X + 1)
        y0, y1 = max(0, py - VIEW_Y), min(AREA[1], py + VIEW_Y + 1)
        self.seen[x0:x1, y0:y1] = self.world._mat_map[x0:x1, y0:y1]
        for key in [k for k in self.seen_objs if x0 <= k[0] < x1 and y0 <= k[1] < y1]:
            del self.seen_objs[key]
        region = self.world._obj_map[x0:x1, y0:y1]
        for i, j in zip(*np.nonzero(region)):
            obj = self.world._objects[region[i, j]]
            if obj is None or obj is self.player:
                continue
            self.seen_objs[(x0 + int(i), y0 + int(j))] = _obj_name(obj)

    def view(self):
        """(name, dx, dy) of every material and creature in view, nearest first."""
        px, py = self.pos()
        out = []
        for dx in range(-VIEW_X, VIEW_X + 1):
            for dy in range(-VIEW_Y, VIEW_Y + 1):
                x, y = px + dx, py + dy
                if not (0 <= x < AREA[0] and 0 <= y < AREA[1]):
                    continue
                material, obj = self.world[(x, y)]
                if obj is not None and obj is not self.player:
                    out.append((_obj_name(obj), dx, dy))
                if (dx, dy) != (0, 0):
                    out.append((material, dx, dy))
        out.sort(key=lambda t: (abs(t[1]) + abs(t[2]), t[2], t[1], t[0]))
        return out

    def facing_name(self):
        px, py = self.pos()
        fx, fy = self.facing()
        material, obj = self.world[(px + fx, py + fy)]
        if obj is not None:
            return _obj_name(obj)
        return material or "edge"

    def inventory(self):
        return {k: int(self.player.inventory[k]) for k in ITEMS}

    def vitals(self):
        return {k: int(self.player.inventory[k]) for k in VITALS}

    def achievements(self):
        return sorted(self.env._unlocked)

    def needs(self):
        """The urgent tasks (a vital running low, then the night), most urgent first, with
        their checks."""
        if self.done:
            return []
        vitals = self.vitals()
        low = sorted((vitals[v], task, v, restored) for v, at_most, task, restored in NEEDS
                     if vitals[v] <= at_most)
        out = [{"task": task, "check": {"field": "vitals." + v, "at_least": restored},
                "how": NEED_HOW[v]} for _, task, v, restored in low]
        if self.world.daylight < NIGHT_BELOW:
            out.append({"task": NIGHT_TASK, "check": {"field": "daylight", "at_least": MORNING},
                        "how": NEED_HOW["night"]})
        return out

    def locked(self):
        """Achievements not unlocked yet that need a tool the player lacks, each mapped to the
        first achievement to do instead (the tool's, or what that one needs in turn)."""
        inventory = self.inventory()
        unlocked = set(self.env._unlocked)

        def first(achievement):
            for _ in range(len(TOOL_NEEDS)):
                tool = TOOL_NEEDS.get(achievement)
                if tool is None or inventory[tool] > 0:
                    return achievement
                achievement = "make_" + tool
            return achievement

        return {a: first(a) for a in TOOL_NEEDS
                if a not in unlocked and first(a) != a}

    def daylight(self):
        return round(float(self.world.daylight), 3)

    def data(self, extra=None):
        d = {
            "inventory": self.inventory(),
            "vitals": self.vitals(),
            "achievements": self.achievements(),
            "new_achievements": list(self.new_achievements),
            "step": int(self.env._step),
            "episode": self.episode,
            "facing": self.facing_name(),
            "daylight": self.daylight(),
            "sleeping": bool(self.player.sleeping),
            "events": list(self.events) + (
                ["... %d more calls" % self.events_dropped] if self.events_dropped else []),
            "error": None,
            "output": "",
            "steps_used": 0,
            "died": self.died,
            "death_cause": self.death_cause,
            "hurt": list(self.hurts),
            "interrupted": self.interrupted,
            "needs": self.needs(),
            "locked": self.locked(),
            "state": self.state_text(),
        }
        if extra:
            d.update(extra)
        return d

    def state_text(self):
        groups = {}
        order = []
        for name, dx, dy in self.view():
            if name not in groups:
                groups[name] = []
                order.append(name)
            groups[name].append((dx, dy))
        parts = []
        for name in order:
            cells = groups[name]
            where = ", ".join(_rel(dx, dy) for dx, dy in cells[:3])
            more = ", ..." if len(cells) > 3 else ""
            parts.append("%s x%d: %s%s" % (name, len(cells), where, more) if len(cells) > 1
                         else "%s: %s" % (name, where))
        v = self.vitals()
        inv = ", ".join("%s %d" % (k, n) for k, n in self.inventory().items() if n) or "nothing"
        ach = self.achievements()
        step = int(self.env._step)
        lines = [
            "Step %d of %d (episode %d). %s (daylight %.2f). %s." % (
                step, self.length, self.episode,
                _daylight_word(self.world.daylight, step).capitalize(), self.world.daylight,
                "Sleeping" if self.player.sleeping else "Awake"),
            "Health %d/9, food %d/9, drink %d/9, energy %d/9." % (
                v["health"], v["food"], v["drink"], v["energy"]),
            "Facing: %s (%s)." % (self.facing_name(), _rel(*self.facing())),
            "Inventory: %s." % inv,
            "In view (nearest first): %s." % "; ".join(parts),
            "Achievements (%d/22): %s." % (len(ach), ", ".join(ach) or "none"),
        ]
        if self.died:
            lines.append("You died (%s)." % (self.death_cause or "health fell to 0"))
        elif self.done:
            lines.append("The episode is over (%d steps)." % self.length)
        return "\n".join(lines)

    # --- stepping ------------------------------------------------------------------------
    def prim(self, name):
        """One primitive step (counted against the program budget when one runs)."""
        if self.done:
            raise _Stop("over", "the episode is over (%s)" % (
                "the player died: %s" % (self.death_cause or "health fell to 0") if self.died
                else "length reached"))
        if self.budget is not None and self.used >= self.budget:
            raise _Stop("budget", "the budget of %d steps ran out" % self.budget)
        if self.budget is not None and self.interrupted is not None:
            raise self._interruption()
        if self.helping and not self.fighting and not self.player.sleeping:
            self._fight_back()
            if self._dodge() or self._into_arrow(name):
                # stepped aside (the step was chosen for the old cell: a move could now lead
                # into lava), or the step would meet an arrow: wait; the helper re-plans
                name = "noop"
        before = set(self.env._unlocked)
        health = self.player.health
        self.used += 1
        _, _, done, _ = self.env.step(ACTIONS.index(name))
        self._remember()
        for a in sorted(set(self.env._unlocked) - before):
            self.new_achievements.append(a)
        if self.player.health < health:
            self._hurt(health)
        if self.player.health <= 0:
            self.died = True
        self.done = bool(done)
        self._interrupt_on_new_need()

    def _fight_back(self):
        """A helper's self-defence: hits a zombie standing next to the awake player until it is
        gone (at most FIGHT_HITS hits), and notes how that went."""
        px, py = self.pos()
        near = [(dx, dy) for dx, dy in DIR_LIST
                if isinstance(self.world[(px + dx, py + dy)][1], cobjects.Zombie)]
        if not near:
            return
        (dx, dy), cell = near[0], (px + near[0][0], py + near[0][1])
        start, hits = self.player.achievements["defeat_zombie"], 0
        self.fighting = True
        try:
            while hits < FIGHT_HITS and isinstance(self.world[cell][1], cobjects.Zombie):
                if self.facing() != (dx, dy):
                    self.prim(DIRS[(dx, dy)])   # the cell is taken: this only turns
                self.prim("do")
                hits += 1
        finally:
            self.fighting = False
        won = self.player.achievements["defeat_zombie"] > start
        if len(self.hurts) < HURTS_KEEP:
            self.hurts.append("step %d: fought back a zombie next to you (%d hits; %s)" % (
                int(self.env._step), hits, "defeated" if won else "not defeated"))

    def _arrow_flying_at(self, cell):
        """The side of `cell` an arrow next to it flies at it from (it hits what stands on
        `cell` on its next move), or None."""
        for dx, dy in DIR_LIST:
            obj = self.world[(cell[0] + dx, cell[1] + dy)][1]
            if isinstance(obj, cobjects.Arrow) and tuple(int(v) for v in obj.facing) == (-dx, -dy):
                return (dx, dy)
        return None

    def _into_arrow(self, name):
        """Whether move `name` would step next to an arrow flying at that cell (it would hit
        on this very step: 33 of the 48 arrow hits a helper took in 10 scripted episodes)."""
        move = MOVES.get(name)
        if move is None:
            return False
        px, py = self.pos()
        dest = (px + move[0], py + move[1])
        # a blocked move only turns
        return self._free_walkable(dest) and self._arrow_flying_at(dest) is not None

    def _dodge(self):
        """A helper's reflex against a skeleton's arrow: when one next to the player flies at
        it, one step aside (across its line) onto a free cell, so it flies past; whether it
        stepped. Arrows took 55 of the 130 health a scripted agent lost in 10 episodes of 40
        programs. Only with room for the step it was about to take as well."""
        line = self._arrow_flying_at(self.pos())
        if line is None or (self.budget is not None and self.used + 2 > self.budget):
            return False
        px, py = self.pos()
        for side in ((line[1], line[0]), (-line[1], -line[0])):
            cell = (px + side[0], py + side[1])
            if self._free_walkable(cell):
                self.fighting = True
                try:
                    self.prim(DIRS[side])
                finally:
                    self.fighting = False
                if len(self.hurts) < HURTS_KEEP:
                    self.hurts.append("step %d: stepped aside from an arrow" % int(self.env._step))
                return True
        return False

    def _harm(self, lost):
        """What took `lost` health this step (lava, a zombie, going without a vital, else an
        arrow: a skeleton's arrows hit and vanish)."""
        if self.mat_at(self.pos()) == "lava":
            return "walked into lava"
        px, py = self.pos()
        for obj in self.world.objects:
            if isinstance(obj, cobjects.Zombie) and abs(int(obj.pos[0]) - px) + abs(
                    int(obj.pos[1]) - py) <= 1:
                return "hit by a zombie" + (" while asleep" if lost >= 7 else "")
        empty = [v for v in ("food", "drink", "energy") if self.player.inventory[v] <= 0]
        if empty and lost == 1:
            return "no %s left" % " and no ".join(empty)
        return "hit by an arrow"

    def _hurt(self, health):
        """Notes the damage of the last step (kept per program) and, on death, its cause."""
        now = max(0, int(self.player.health))
        cause = self._harm(int(health) - now)
        if len(self.hurts) < HURTS_KEEP:
            self.hurts.append("step %d: health %d -> %d (%s)" % (
                int(self.env._step), int(health), now, cause))
        if now <= 0:
            self.death_cause = cause

    def _interrupt_on_new_need(self):
        """Stops a running program when the most urgent need is new since it started (the
        agent sees `data.interrupted` and takes the need first): a need it started with (doing
        it, or doing something else after it failed) interrupts it only once it has turned
        critical (`_known`), and a program written for a need (its goal was a need when it
        started) is stopped, until that need's check holds, only by a critical one (a vital at
        CRITICAL or below). The check, not the report: health is reported at 4 or less but met
        at 7, the night below 0.35 but met at 0.5. A program's own need turning critical stops
        it too, and the next iteration takes the need up afresh: sparing it (stop 28) meant 30
        deaths in 40 scripted episodes against 24, since a health program losing health is
        being hit where it stands."""
        if self.watched is None or self.done:
            return
        needs = self.needs()
        if not needs or self._known(needs[0]):
            return
        own = self.goal_need is not None and not self._holds(self.goal_need["check"])
        if own and not self._critical(needs[0]):
            return
        self.interrupted = needs[0]["task"]
        raise self._interruption()

    def watch(self, needs):
        """Remembers the needs a program starts with (`watched`), each with whether it was
        critical then."""
        self.watched = {n["task"]: self._critical(n) for n in needs}

    def _known(self, need):
        """Whether `need` was reported when the program started and has not turned critical
        since: a vital that was only low then (drink 4 under a health program) still stops it
        at CRITICAL. Health comes back only while food and drink are above 0: a health
        program started with both at 4 waited in its shelter until the player starved (seed
        1013 of the v4 evaluation)."""
        if need["task"] not in self.watched:
            return False
        return self.watched[need["task"]] or not self._critical(need)

    def _field(self, field):
        """The value a need's check reads: `vitals.X` or `daylight`."""
        return self.vitals()[field[7:]] if field.startswith("vitals.") else self.daylight()

    def _holds(self, check):
        """Whether a need's check (its field at least a value) holds now."""
        return self._field(check["field"]) >= check["at_least"]

    def _critical(self, need):
        """Whether `need` is a vital at CRITICAL or below (the night never is)."""
        field = need["check"]["field"]
        return field.startswith("vitals.") and self._field(field) <= CRITICAL

    def _interruption(self):
        return _Stop("interrupt", "interrupted: a new need comes first: %s" % self.interrupted)

    def act(self, name):
        self._reset_feedback()
        self.used = 0
        self.budget = None
        self.prim(name)
        return self.reply(text=self.state_text(), data=self.data({"steps_used": 1}))

    def reply(self, text, data):
        return {
            "observation": {"text": text, "data": data},
            "reward": float(len(self.new_achievements)),
            "done": self.done,
            "info": {"player_pos": list(self.pos()), "world_seed": self.world_seed,
                     "seed": self.seed, "episode": self.episode},
        }

    def first_observation(self):
        data = self.data()
        data.update({"api": API_DOC, "warmup": list(WARMUP), "achievements_all": list(ACHIEVEMENTS),
                     "task_context": _task_context(), "task_aliases": dict(TASK_ALIASES),
                     "api_names": list(ACTIONS) + list(API_FUNCTIONS)})
        return {"observation": {"text": self.state_text(), "data": data}}

    # --- snapshot ------------------------------------------------------------------------
    def snapshot(self):
        env = self.env
        state = {
            "world": env._world, "player": env._player, "step": env._step,
            "last_health": env._last_health, "unlocked": sorted(env._unlocked),
            "game": {k: getattr(self, k) for k in (
                "seed", "episode", "length", "program_steps", "program_seconds", "world_seed",
                "seen", "seen_objs", "done", "died", "death_cause")},
        }
        raw = zlib.compress(pickle.dumps(state, protocol=4), 6)
        return base64.b64encode(raw).decode("ascii")

    @classmethod
    def restore(cls, snapshot):
        if not isinstance(snapshot, str):
            raise ValueError("a Crafter snapshot is a base64 string from `snapshot`")
        state = pickle.loads(zlib.decompress(base64.b64decode(snapshot)))
        self = cls.__new__(cls)
        env = _crafter_env()
        self.death_cause = None   # snapshots before it was kept
        for k, v in state["game"].items():
            setattr(self, k, v)
        env._world = state["world"]
        env._player = state["player"]
        env._step = state["step"]
        env._last_health = state["last_health"]
        env._unlocked = set(state["unlocked"])
        env._seed = self.seed
        env._episode = self.episode + 1
        env._length = self.length
        self.env = env
        self.used = 0
        self.budget = None
        self.watched = None
        self.goal_need = None
        self.helping = False
        self.fighting = False
        self._reset_feedback()
        return self

    # --- path search (seen cells only) ---------------------------------------------------
    @staticmethod
    def _in_view(cell, at):
        """Whether `cell` is in the local view of a player at `at`."""
        return abs(cell[0] - at[0]) <= VIEW_X and abs(cell[1] - at[1]) <= VIEW_Y

    def _obstacles(self):
        """Cells blocked by creatures in view now and by remembered plants."""
        at = self.pos()
        return {cell for cell, name in self.seen_objs.items()
                if name in ("plant", "ripe_plant") or self._in_view(cell, at)}

    def _zombie_reach(self):
        """Cells next to a zombie in view (where it can hit the player)."""
        at = self.pos()
        return {(x + dx, y + dy) for (x, y), name in self.seen_objs.items()
                if name == "zombie" and self._in_view((x, y), at)
                for dx, dy in DIR_LIST}

    def _ids(self, names):
        return [self.world._mat_ids[n] for n in names if n in self.world._mat_ids]

    def plan(self, goals, mine=False):
        """Cheapest path (list of cells, start first) over seen walkable cells to any goal cell;
        with mine=True stone counts as passable (dug through). None when unreachable."""
        if not goals:
            return None
        start = self.pos()
        if start in goals:
            return [start]
        passable = np.isin(self.seen, self._ids(WALKABLE)).tolist()
        stone = (self.seen == self.world._mat_ids["stone"]).tolist() if mine else None
        blocked = self._obstacles()
        near_zombie = self._zombie_reach()
        dist = {start: 0}
        prev = {}
        heap = [(0, start)]
        while heap:
            d, cell = heapq.heappop(heap)
            if d > dist[cell]:
                continue
            if cell in goals:
                path = [cell]
                while cell in prev:
                    cell = prev[cell]
                    path.append(cell)
                return path[::-1]
            x, y = cell
            for dx, dy in DIR_LIST:
                nx, ny = x + dx, y + dy
                if not (0 <= nx < AREA[0] and 0 <= ny < AREA[1]) or (nx, ny) in blocked:
                    continue
                if passable[nx][ny]:
                    cost = 1
                elif mine and stone[nx][ny]:
                    cost = 3
                else:
                    continue
                if (nx, ny) in near_zombie:
                    cost += ZOMBIE_REACH_COST
                nd = d + cost
                if nd < dist.get((nx, ny), 1 << 30):
                    dist[(nx, ny)] = nd
                    prev[(nx, ny)] = cell
                    heapq.heappush(heap, (nd, (nx, ny)))
        return None

    def can_mine(self):
        return self.player.inventory["wood_pickaxe"] > 0

    def follow(self, path, lim, max_moves=None):
        """Walks a planned path; False when something is in the way (then re-plan)."""
        moves = 0
        for cell in path[1:]:
            if self.used >= lim or (max_moves is not None and moves >= max_moves):
                return False
            px, py = self.pos()
            d = (cell[0] - px, cell[1] - py)
            if d not in DIRS:
                return False
            material, obj = self.world[cell]
            if obj is not None or material == "lava":
                return False
            if material == "stone" and self.can_mine():
                if self.facing() != d:
                    self.prim(DIRS[d])
                if self.used >= lim:
                    return False
                self.prim("do")
                if self.mat_at(cell) not in WALKABLE or self.used >= lim:
                    return False
            elif material not in WALKABLE:
                return False
            self.prim(DIRS[d])
            moves += 1
            if self.pos() != cell:
                return False
        return True

    def target_cells(self, target):
        if target in MATERIALS:
            mid = self.world._mat_ids[target]
            return {(int(x), int(y)) for x, y in np.argwhere(self.seen == mid)}
        names = ("plant", "ripe_plant") if target == "plant" else (target,)
        return {cell for cell, name in self.seen_objs.items() if name in names}

    def adjacent_target(self, target):
        """A cell next to the player holding target (the faced one first), or None."""
        px, py = self.pos()
        fx, fy = self.facing()
        for dx, dy in [(fx, fy)] + DIR_LIST:
            cell = (px + dx, py + dy)
            material, obj = self.world[cell]
            if target in MATERIALS:
                if material == target and (obj is None or target in WALKABLE):
                    return cell
            elif obj is not None and obj is not self.player:
                name = _obj_name(obj)
                if name == target or (target == "plant" and name == "ripe_plant"):
                    return cell
        return None

    def face(self, cell, lim):
        """Turns to face an adjacent cell without stepping into lava."""
        px, py = self.pos()
        d = (cell[0] - px, cell[1] - py)
        if d not in DIRS:
            return False
        if self.facing() == d:
            return True
        material, obj = self.world[cell]
        if material == "lava" or material is None:
            return False
        if obj is not None or material not in WALKABLE:
            if self.used >= lim:
                return False
            self.prim(DIRS[d])        # blocked: only turns
            return self.facing() == d
        back = (px - d[0], py - d[1])
        bmat, bobj = self.world[back]
        if bmat in WALKABLE and bobj is None and self.used + 2 <= lim:
            self.prim(DIRS[(-d[0], -d[1])])
            if self.pos() == back:
                self.prim(DIRS[d])
            return self.facing() == d and self.pos() == (px, py)
        return False

    def go_to(self, target, lim):
        """Walks next to the nearest seen target and faces it. (ok, reason)."""
        moving = target not in MATERIALS
        for _ in range(40):
            cell = self.adjacent_target(target)
            if cell is not None:
                if target == "lava":
                    return True, None
                if self.face(cell, lim):
                    return True, None
                if target in WALKABLE:
                    return True, None
            if self.used >= lim:
                return False, "out of steps"
            cells = self.target_cells(target)
            if not cells:
                return False, "no %s seen" % target
            goals = set()
            for x, y in cells:
                for dx, dy in DIR_LIST:
                    goals.add((x + dx, y + dy))
            path = self.plan(goals) or (self.plan(goals, mine=True) if self.can_mine() else None)
            if path is None:
                return False, "no reachable %s seen" % target
            if len(path) == 1:
                # next to it but cannot face it (e.g. a walkable cell with no room to turn)
                return (True, None) if target in WALKABLE else (False, "cannot face %s" % target)
            self.follow(path, lim, max_moves=3 if moving else None)
        return False, "could not reach %s" % target

    def frontier(self):
        unseen = self.seen < 0
        near = np.zeros(AREA, bool)
        near[1:, :] |= unseen[:-1, :]
        near[:-1, :] |= unseen[1:, :]
        near[:, 1:] |= unseen[:, :-1]
        near[:, :-1] |= unseen[:, 1:]
        walk = np.isin(self.seen, self._ids(WALKABLE))
        stone = self.seen == self.world._mat_ids["stone"]
        return ({(int(x), int(y)) for x, y in np.argwhere(walk & near)},
                {(int(x), int(y)) for x, y in np.argwhere(stone & near)})

    def explore(self, lim):
        """Walks toward the nearest unseen frontier until lim; returns cells newly seen."""
        before = int((self.seen >= 0).sum())
        stuck = 0
        while self.used < lim and stuck < 6:
            walk, stone = self.frontier()
            path = self.plan(walk)
            if path is None and self.can_mine():
                path = self.plan(walk | stone, mine=True)
            if path is None or len(path) == 1:
                if path is None:
                    break
                stuck += 1
                continue
            if not self.follow(path, lim):
                stuck += 1
        return int((self.seen >= 0).sum()) - before

    # --- helpers (the API) ---------------------------------------------------------------
    def api_observe(self):
        d = self.data()
        for k in ("events", "error", "output", "steps_used", "new_achievements"):
            d.pop(k, None)
        d["steps_left"] = max(0, self.budget - self.used) if self.budget is not None else None
        d["nearby"] = [list(t) for t in self.view()]
        return d

    def api_inventory(self):
        return self.inventory()

    def api_known(self, target):
        target = self._check(target, TARGETS, "target")
        px, py = self.pos()
        cells = sorted(self.target_cells(target),
                       key=lambda c: (abs(c[0] - px) + abs(c[1] - py), c[1], c[0]))
        return [[x - px, y - py] for x, y in cells[:20]]

    def api_act(self, name):
        name = self._check(name, ACTIONS, "action")
        if name.startswith("move_") and self._lava_ahead(name):
            self.note = "refused: lava there (it kills)"
            return False
        before = (self.pos(), self.facing(), tuple(self.player.inventory.values()),
                  len(self.env._unlocked), self.facing_name())
        self.prim(name)
        after = (self.pos(), self.facing(), tuple(self.player.inventory.values()),
                 len(self.env._unlocked), self.facing_name())
        return before != after

    def _lava_ahead(self, move):
        """Whether the move `move` would step into lava."""
        (dx, dy), = [d for d, m in DIRS.items() if m == move]
        px, py = self.pos()
        return self.mat_at((px + dx, py + dy)) == "lava"

    def api_go_to(self, target, max_steps=100):
        target = self._check(target, TARGETS, "target")
        ok, why = self.go_to(target, self.used + int(max_steps))
        self.note = why
        return ok

    def api_explore(self, steps=20):
        return self.explore(self.used + int(steps))

    def api_collect(self, item, n=1, max_steps=200):
        item = self._check(item, list(SOURCES), "item")
        n, lim = int(n), self.used + int(max_steps)
        source = SOURCES[item]
        missing = [k for k, v in constants.collect[source]["require"].items()
                   if self.player.inventory[k] < v]
        if missing:
            self.note = "needs a %s" % " and a ".join(missing)
            return 0
        gained = 0
        idle = 0
        while gained < n and self.used < lim:
            if item != "drink" and self.player.inventory[item] >= MAXIMUM[item]:
                self.note = "inventory full (%d %s)" % (MAXIMUM[item], item)
                break
            if self.facing_name() == source:
                before = self.player.inventory[item]
                self.prim("do")
                if item == "drink":
                    gained += 1
                else:
                    gained += max(0, self.player.inventory[item] - before)
                continue
            if item == "sapling":
                # walk over grass until the cell ahead is grass
                moved = False
                fx, fy = self.facing()
                px, py = self.pos()
                for d in [(fx, fy)] + DIR_LIST:
                    cell = (px + d[0], py + d[1])
                    two = (px + 2 * d[0], py + 2 * d[1])
                    m, o = self.world[cell]
                    if m in WALKABLE and o is None and self.mat_at(two) == "grass" \
                            and self.world[two][1] is None:
                        self.prim(DIRS[d])
                        moved = True
                        break
                if moved:
                    continue
            ok, why = self.go_to(source, lim)
            if ok and self.facing_name() == source:
                continue
            if self.used >= lim:
                break
            new = self.explore(min(lim, self.used + 20))
            if new == 0:
                idle += 1
                if idle >= 3:
                    self.note = (why or "cannot reach %s" % source) + ", nothing left to explore"
                    break
        if gained < n and self.note is None and self.used >= lim:
            self.note = "max_steps reached"
        return gained

    def _valid_place(self, item, cell):
        material, obj = self.world[cell]
        return obj is None and material in constants.place[item]["where"]

    def api_place(self, item):
        item = self._check(ITEM_ALIASES.get(item, item) if isinstance(item, str) else item,
                           PLACEABLE, "item")
        info = constants.place[item]
        missing = {k: v for k, v in info["uses"].items() if self.player.inventory[k] < v}
        if missing:
            self.note = "needs %s (have %s)" % (_requirements(info["uses"]), ", ".join(
                "%d %s" % (self.player.inventory[k], k) for k in missing))
            return False
        for _ in range(8):
            px, py = self.pos()
            fx, fy = self.facing()
            if self._valid_place(item, (px + fx, py + fy)):
                before = self.player.achievements["place_" + item]
                self.prim("place_" + item)
                return self.player.achievements["place_" + item] > before
            done = False
            for d in DIR_LIST:   # a valid cell we can turn to without moving (water)
                cell = (px + d[0], py + d[1])
                m, o = self.world[cell]
                if self._valid_place(item, cell) and m not in WALKABLE and m != "lava":
                    self.prim(DIRS[d])
                    done = True
                    break
            if done:
                continue
            for d in DIR_LIST:   # step so that the next cell ahead is valid
                cell = (px + d[0], py + d[1])
                m, o = self.world[cell]
                if m in WALKABLE and o is None and \
                        self._valid_place(item, (px + 2 * d[0], py + 2 * d[1])):
                    self.prim(DIRS[d])
                    done = True
                    break
            if done:
                continue
            for d in DIR_LIST:
                cell = (px + d[0], py + d[1])
                m, o = self.world[cell]
                if m in WALKABLE and o is None:
                    self.prim(DIRS[d])
                    done = True
                    break
            if not done:
                break
        self.note = "no free cell to place %s on (needs %s)" % (item, "/".join(info["where"]))
        return False

    def _near_ok(self, needs):
        nearby, _ = self.world.nearby(np.array(self.pos()), 1)
        return all(n in nearby for n in needs)

    def api_make(self, tool, max_steps=100):
        tool = self._check(tool, TOOLS, "tool")
        info = constants.make[tool]
        lim = self.used + int(max_steps)
        missing = {k: v for k, v in info["uses"].items() if self.player.inventory[k] < v}
        if missing:
            self.note = "needs %s (have %s)" % (_requirements(info["uses"]), ", ".join(
                "%d %s" % (self.player.inventory[k], k) for k in missing))
            return False
        needs = list(info["nearby"])
        if not self._near_ok(needs):
            cells = [self.target_cells(n) for n in needs]
            if not all(cells):
                self.note = "no %s seen (place one first)" % " and ".join(
                    n for n, c in zip(needs, cells) if not c)
                return False
            # walkable cells whose 3x3 neighbourhood holds every needed station
            candidates = None
            for group in cells:
                around = set()
                for x, y in group:
                    for dx in (-1, 0, 1):
                        for dy in (-1, 0, 1):
                            around.add((x + dx, y + dy))
                candidates = around if candidates is None else candidates & around
            if not candidates:
                self.note = "no spot next to both %s seen (place them together)" % " and ".join(needs)
                return False
            for _ in range(5):
                path = self.plan(candidates)
                if path is None:
                    self.note = "cannot reach a spot next to %s" % " and ".join(needs)
                    return False
                if self.follow(path, lim) or self._near_ok(needs):
                    break
                if self.used >= lim:
                    break
            if not self._near_ok(needs):
                self.note = "could not get next to %s" % " and ".join(needs)
                return False
        before = self.player.inventory[tool]
        self.prim("make_" + tool)
        return self.player.inventory[tool] > before

    def api_attack(self, creature, max_steps=100):
        creature = self._check(creature, list(ATTACKS), "creature")
        lim = self.used + int(max_steps)
        key = ATTACKS[creature]
        start = self.player.achievements[key]
        idle = 0
        while self.used < lim:
            if self.player.achievements[key] > start:
                return True
            cell = self.adjacent_target(creature)
            if cell is not None:
                if self.face(cell, lim) and self.used < lim:
                    self.prim("do")
                continue
            ok, why = self.go_to(creature, lim)
            if ok or self.used >= lim:
                continue
            if self.explore(min(lim, self.used + 10)) == 0:
                idle += 1
                if idle >= 3:
                    self.note = why
                    break
        if self.player.achievements[key] > start:
            return True
        self.note = self.note or "no %s defeated within %d steps" % (creature, int(max_steps))
        return False

    def api_eat_plant(self, max_steps=100):
        lim = self.used + int(max_steps)
        start = self.player.achievements["eat_plant"]
        ok, why = self.go_to("ripe_plant", lim)
        if not ok:
            self.note = why
            return False
        if self.used < lim:
            self.prim("do")
        return self.player.achievements["eat_plant"] > start

    def _unsafe_to_sleep(self):
        """Why sleeping here now would be a gamble (a sleeper cannot wake at will, and a zombie
        hits one for 7 of 9 health), or None: outside a shelter at night or with a zombie in
        view."""
        if self.player.sleeping or self._enclosed():
            return None
        if any(name == "zombie" for name, _, _ in self.view()):
            return "a zombie is in view"
        if self.world.daylight < NIGHT_BELOW:
            return "it is night"
        return None

    def api_sleep_until_rested(self, max_steps=300):
        lim = self.used + int(max_steps)
        if self.player.inventory["energy"] >= MAXIMUM["energy"] and not self.player.sleeping:
            self.note = "energy is already full"
            return True
        unsafe = self._unsafe_to_sleep()
        if unsafe:
            self.note = ("refused: not sheltered and %s (a sleeper is hit for 7 of 9 health); "
                         "shelter() first, or wait awake" % unsafe)
            return False
        while self.used < lim:
            self.prim("sleep")
            if not self.player.sleeping:
                if self.player.inventory["energy"] >= MAXIMUM["energy"]:
                    return True
                self.note = "woken up (health %d/9)" % self.player.inventory["health"]
                return False
        self.note = "max_steps reached while asleep"
        return False

    def api_wait(self, steps=1):
        n = 0
        for _ in range(int(steps)):
            self.prim("noop")
            n += 1
        return n

    def _solid(self, cell):
        """Known to block creatures and the player (not lava, not walkable, not unseen)."""
        x, y = cell
        if not (0 <= x < AREA[0] and 0 <= y < AREA[1]):
            return True
        sid = int(self.seen[x, y])
        if sid < 0:
            return False
        name = self.world._mat_names[sid]
        return name not in WALKABLE and name != "lava"

    def _enclosed(self):
        """The player's free region (4-connected walkable cells, as visible now) is at most 4
        cells, fully walled, with no zombie or skeleton inside."""
        start = self.pos()
        todo, region = [start], {start}
        while todo:
            x, y = todo.pop()
            for dx, dy in DIR_LIST:
                cell = (x + dx, y + dy)
                if cell in region:
                    continue
                material, obj = self.world[cell]
                if material not in WALKABLE or isinstance(obj, cobjects.Plant):
                    continue
                region.add(cell)
                todo.append(cell)
                if len(region) > 4:
                    return False
        return all(not isinstance(self.world[c][1], (cobjects.Zombie, cobjects.Skeleton))
                   for c in region)

    def api_shelter(self, max_steps=SHELTER_STEPS):
        lim = self.used + int(max_steps)
        if self._enclosed():
            return True
        if self._wall_in(lim):
            return True
        if not self._gather_stones(lim):
            return False
        self.note = None
        return self._wall_in(lim)

    def _gather_stones(self, lim):
        """Mines the stones a shelter in the open needs (SHELTER_STONES), when the player can
        mine, holds fewer and has seen stone, within half the steps left; whether it got
        any. A shelter that failed for want of stones (no dead-end in reach) left 29 of 40
        programs of one scripted episode refused sleep in a row."""
        have = self.player.inventory["stone"]
        if have >= SHELTER_STONES or not self.can_mine() or not self.target_cells("stone"):
            return False
        spend = (lim - self.used) // 2
        if spend <= 0:
            return False
        note = self.note
        gained = self.api_collect("stone", SHELTER_STONES - have, max_steps=spend)
        self.note = note if gained == 0 else None
        return gained > 0

    def _wall_in(self, lim):
        """Walls the player in at the nearest seen dead-end (digging into stone when it can
        mine), else builds a pocket of stones in the open; the reason in `note` when not."""
        stones = self.player.inventory["stone"]
        mine = self.can_mine()
        # candidates: entrance A (walkable), then P = A+d and Q = A+2d (walkable, or stone to
        # dig), with every other neighbour of P and Q solid: walk A->P->Q->P and close A.
        seen_walk = np.isin(self.seen, self._ids(WALKABLE))
        stone_id = self.world._mat_ids["stone"]
        plans = {}
        for x, y in np.argwhere(seen_walk):
            a = (int(x), int(y))
            for d in DIR_LIST:
                p = (a[0] + d[0], a[1] + d[1])
                q = (a[0] + 2 * d[0], a[1] + 2 * d[1])
                ok = True
                dug = 0
                for c in (p, q):
                    if not (0 <= c[0] < AREA[0] and 0 <= c[1] < AREA[1]):
                        ok = False
                        break
                    sid = int(self.seen[c])
                    if sid >= 0 and self.world._mat_names[sid] in WALKABLE:
                        continue
                    if sid == stone_id and mine:
                        dug += 1
                        continue
                    ok = False
                    break
                if not ok or stones + dug < 1:
                    continue
                side = (d[1], d[0])
                walls = [(p[0] + side[0], p[1] + side[1]), (p[0] - side[0], p[1] - side[1]),
                         (q[0] + side[0], q[1] + side[1]), (q[0] - side[0], q[1] - side[1]),
                         (q[0] + d[0], q[1] + d[1])]
                if all(self._solid(w) for w in walls) and (p, q) not in self.seen_objs:
                    plans.setdefault(a, d)
        path = self.plan(set(plans)) if plans else None
        if path is None:
            if self._build_shelter(lim):
                return True
            self.note = self.note or ("no dead-end seen to wall in, and too few stones to "
                                      "build one (needs a stone, or a wood_pickaxe to dig)")
            return False
        if not self.follow(path, lim):
            self.note = "could not reach the spot"
            return False
        a = self.pos()
        d = plans[a]
        for _ in range(2):   # into P, then Q (digging when needed)
            nxt = (self.pos()[0] + d[0], self.pos()[1] + d[1])
            if not self.follow([self.pos(), nxt], lim):
                self.note = "could not get into the spot"
                return False
        back = (-d[0], -d[1])
        if self.used >= lim:
            return False
        self.prim(DIRS[back])          # back to P, now facing the entrance A
        if self.pos() != (a[0] + d[0], a[1] + d[1]) or self.used >= lim:
            self.note = "could not turn to the entrance"
            return False
        if self.player.inventory["stone"] < 1:
            self.note = "no stone to close the entrance"
            return False
        self.prim("place_stone")
        ok = self._enclosed()
        if not ok:
            self.note = "the spot is not closed"
        return ok

    # --- a shelter built of stones -------------------------------------------------------
    def _free_walkable(self, cell):
        """Seen, walkable and free of creatures now."""
        x, y = cell
        if not (0 <= x < AREA[0] and 0 <= y < AREA[1]) or self.seen[x, y] < 0:
            return False
        material, obj = self.world[cell]
        return material in WALKABLE and obj is None

    def _pocket(self, skip=()):
        """The cheapest seen pocket to build near the player: cells P and Q = P + d (free,
        walkable), the cells to fill with stone around them (not solid yet) and the entrance
        A = P - d; None when the stones held are too few for any within 6 steps (other than
        those at the cells P in `skip`)."""
        px, py = self.pos()
        stones = self.player.inventory["stone"]
        best = None
        for x in range(px - 6, px + 7):
            for y in range(py - 6, py + 7):
                p = (x, y)
                if abs(x - px) + abs(y - py) > 6 or p in skip or not self._free_walkable(p):
                    continue
                for d in DIR_LIST:
                    q, a = (x + d[0], y + d[1]), (x - d[0], y - d[1])
                    if not (self._free_walkable(q) and self._free_walkable(a)):
                        continue
                    side = (d[1], d[0])
                    walls = [(p[0] + side[0], p[1] + side[1]), (p[0] - side[0], p[1] - side[1]),
                             (q[0] + side[0], q[1] + side[1]), (q[0] - side[0], q[1] - side[1]),
                             (q[0] + d[0], q[1] + d[1])]
                    fill = [w for w in walls if not self._solid(w)]
                    if len(fill) + 1 > stones or any(
                            not self._valid_place("stone", w) or
                            not self._stone_stands(w, {p, q, a}) for w in fill):
                        continue
                    cost = (len(fill), abs(x - px) + abs(y - py))
                    if best is None or cost < best[0]:
                        best = (cost, p, d, fill)
        return None if best is None else best[1:]

    def _stone_stands(self, cell, keep_free):
        """Where a stone can be placed onto `cell` from: (direction d, the cell to stand on
        facing d, the cell to arrive from in line), both free and walkable, the stand not in
        `keep_free`."""
        out = []
        for d in DIR_LIST:
            n = (cell[0] - d[0], cell[1] - d[1])          # stand here, facing d
            b = (n[0] - d[0], n[1] - d[1])                # arrive from here
            if n not in keep_free and self._free_walkable(n) and self._free_walkable(b):
                out.append((d, n, b))
        return out

    def _place_stone_at(self, cell, keep_free, lim):
        """Walks to stand next to `cell` facing it (arriving in line, so it faces it) and
        places a stone there; never stands on or walks through `keep_free`'s cells last."""
        for d, n, b in self._stone_stands(cell, keep_free):
            path = self.plan({b})
            if path is None or not self.follow(path, lim) or self.used >= lim:
                continue
            self.prim(DIRS[d])
            if self.pos() != n or self.facing() != d or self.used >= lim:
                continue
            self.prim("place_stone")
            if self.mat_at(cell) == "stone":
                return True
        return False

    def _build_shelter(self, lim):
        """Builds a two-cell pocket of stones in the open and closes it behind the player (up
        to SHELTER_TRIES times: a pocket whose wall cannot be reached gives way to the next, one
        the player could not get into, with a creature in the way, is tried again)."""
        skip = set()
        for _ in range(SHELTER_TRIES):
            pocket = self._pocket(skip)
            if pocket is None or self.used >= lim:
                return False
            built, wall_failed = self._build_pocket(*pocket, lim)
            if built:
                return True
            if wall_failed:
                skip.add(pocket[0])
        return False

    def _build_pocket(self, p, d, fill, lim):
        """One try at the pocket P, Q = P + d: the walls `fill` from outside, then in through
        the entrance A = P - d, to Q and back to P, and a stone onto A (facing it after
        stepping back). (closed, whether a wall could not be placed), the reason in `note`."""
        q, a = (p[0] + d[0], p[1] + d[1]), (p[0] - d[0], p[1] - d[1])
        for wall in fill:
            if not self._place_stone_at(wall, {p, q, a}, lim):
                self.note = "could not place a stone at %s" % (_rel(wall[0] - self.pos()[0],
                                                                      wall[1] - self.pos()[1]),)
                return False, True
        path = self.plan({a})
        if path is None or not self.follow(path, lim) or \
                not self.follow([a, p, q], lim) or self.used >= lim:
            self.note = "could not get into the pocket"
            return False, False
        self.prim(DIRS[(-d[0], -d[1])])               # back to P, facing the entrance
        if self.pos() != p or self.used >= lim:
            self.note = "could not turn to the entrance"
            return False, False
        self.prim("place_stone")
        if not self._enclosed():
            self.note = "the pocket is not closed"
            return False, False
        return True, False

    def _check(self, value, allowed, what):
        if not isinstance(value, str) or value not in allowed:
            raise ValueError("unknown %s %r; valid: %s" % (what, value, ", ".join(allowed)))
        return value

    # --- programs ------------------------------------------------------------------------
    def dispatch(self, name, args, kwargs):
        """Plays one API call; returns the JSON reply for the child."""
        if name in ACTIONS:
            fn, args = self.api_act, [name] + list(args)
        elif name in API_FUNCTIONS:
            fn = getattr(self, "api_" + name)
        else:
            return {"error": "unknown API function %r" % name, "type": "NameError"}
        misuse = _misuse(name, fn, args, kwargs)
        if misuse:
            self._event(name, args, kwargs, "TypeError: " + misuse, 0)
            return {"error": misuse, "type": "TypeError"}
        self.note = None
        start = self.used
        self.helping = name in HELPERS
        try:
            if self.helping and not self.player.sleeping:
                self._fight_back()   # first, even for a helper that would take no step
            value = fn(*args, **kwargs)
            if self.helping and not value and self.used == start and name != "wait":
                self._idle_step()
        except _Stop as e:
            self._event(name, args, kwargs, "stopped: %s" % e, self.used - start)
            return {"stop": str(e), "kind": e.kind}
        except (TypeError, ValueError) as e:
            self._event(name, args, kwargs, "%s: %s" % (type(e).__name__, e), 0)
            return {"error": str(e), "type": type(e).__name__}
        finally:
            self.helping = False
        if name not in ("observe", "inventory", "known"):
            result = repr(value)
            if self.note:
                result += ": " + self.note
            self._event(name, args, kwargs, result, self.used - start)
        return {"value": value}

    def _idle_step(self):
        """A helper that failed without a step waits one (noop): the game moves on, so a
        program that retries in a loop (`while ...: attack('cow')`) sees the world change and
        ends by its step budget, not by the wall-clock limit. In a scripted episode a player
        walled in with zombies at the door looped `attack('cow')` 11,000 times in 20 s with
        the world frozen."""
        self.prim("noop")
        self.note = (self.note + "; " if self.note else "") + "waited a step"

    def _event(self, name, args, kwargs, result, steps):
        if name in ACTIONS:
            args = []
        line = "%s(%s) -> %s (%d step%s)" % (name, _fmt_args(args, kwargs), result, steps,
                                            "" if steps == 1 else "s")
        if len(self.events) < EVENTS_KEEP:
            self.events.append(line)
        else:
            self.events_dropped += 1

    def run_program(self, source, goal=None):
        needs = self.needs()
        self.goal_need = next((n for n in needs if n["task"] == goal), None)
        self._reset_feedback()
        self.used = 0
        self.budget = self.program_steps
        self.watch(needs)
        try:
            error, output = run_child(self, source)
        finally:
            self.budget = None
            self.watched = None
            self.goal_need = None
        used = self.used
        lines = ["Program %s: %d of %d steps used." % (
            "stopped" if error else "finished", used, self.program_steps)]
        if self.events or self.events_dropped:
            lines.append("Calls:")
            lines += ["  " + e for e in self.events]
            if self.events_dropped:
                lines.append("  ... %d more calls" % self.events_dropped)
        if output:
            lines.append("Output:")
            lines.append(output.rstrip("\n"))
        if self.hurts:
            lines.append("Hurt:")
            lines += ["  " + h for h in self.hurts]
        if error:
            lines.append("Error: " + error)
        if self.new_achievements:
            lines.append("New achievements: %s." % ", ".join(self.new_achievements))
        lines.append("---")
        text = "\n".join(lines) + "\n" + self.state_text()
        return self.reply(text=text, data=self.data(
            {"error": error, "output": output, "steps_used": used}))


API_FUNCTIONS = ["act", "observe", "inventory", "known", "go_to", "explore", "collect", "place",
                 "make", "attack", "eat_plant", "shelter", "sleep_until_rested", "wait"]
# The helpers that take steps: each fights back a zombie that comes next to the player.
HELPERS = [name for name in API_FUNCTIONS if name not in ("act", "observe", "inventory", "known")]


# ---------------------------------------------------------------------------------------------
# Running a program in a forked child.

class StepBudgetExhausted(BaseException):
    """Raised in a program when its step budget ran out (not caught by `except Exception`)."""


class EpisodeOver(BaseException):
    """Raised in a program when the player died or the episode length was reached."""


class Interrupted(BaseException):
    """Raised in a program when a need appeared that was not reported when it started."""


class _ChildOutput:
    def __init__(self, fd, cap):
        self.fd = fd
        self.left = cap

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str")
        if self.left > 0 and text:
            data = text[:self.left]
            self.left -= len(data)
            raw = data.encode("utf-8", "replace")
            while raw:
                try:
                    n = os.write(self.fd, raw)
                except OSError:
                    self.left = 0
                    break
                raw = raw[n:]
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


class _BlockImports:
    """Keeps the game's packages out of a program (its copy of the world is wiped anyway)."""

    BLOCKED = ("crafter", "opensimplex")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError("%s is not available to programs" % name)
        return None


def _format_error(exc, source_lines):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<program>"]
    out = []
    if frames:
        out.append("Traceback (most recent call last):")
        shown = frames if len(frames) <= 8 else frames[:3] + frames[-5:]
        for i, f in enumerate(shown):
            if len(frames) > 8 and i == 3:
                out.append("  ... %d more frames" % (len(frames) - 8))
            out.append("  line %d, in %s" % (f.lineno, f.name))
            if f.line:
                out.append("    " + f.line.strip())
    if isinstance(exc, SyntaxError):
        out.append("SyntaxError: %s (line %s)" % (exc.msg, exc.lineno))
        if exc.text:
            out.append("    " + exc.text.strip())
    else:
        out.append("".join(traceback.format_exception_only(type(exc), exc)).strip())
    text = "\n".join(out)
    return text if len(text) <= 3000 else text[:1500] + "\n...\n" + text[-1400:]


def _child(game, source, req_w, resp_r, out_w, seconds):
    """The forked child: never returns."""
    status = 0
    try:
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        cpu = int(seconds) + 1
        for limit, value in ((resource.RLIMIT_CPU, (cpu, cpu + 1)),
                             (resource.RLIMIT_FSIZE, (1 << 20, 1 << 20)),
                             (resource.RLIMIT_CORE, (0, 0))):
            try:
                resource.setrlimit(limit, value)
            except (ValueError, OSError):
                pass
        try:
            with open("/proc/self/statm") as f:
                current = int(f.read().split()[0]) * resource.getpagesize()
        except OSError:
            current = 0
        try:
            resource.setrlimit(resource.RLIMIT_AS, (current + CHILD_MEMORY, current + CHILD_MEMORY))
        except (ValueError, OSError):
            pass
        # fds: stdin from /dev/null, stdout/stderr into the output pipe, nothing else open
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
        except OSError:
            os.close(0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        keep = sorted({req_w, resp_r})
        low = 3
        for fd in keep:
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 65536)
        # wipe the hidden world from this copy of the process
        world = game.env._world
        world._mat_map = np.zeros((1, 1), np.uint8)
        world._obj_map = np.zeros((1, 1), np.uint32)
        world._objects = [None]
        world._chunks.clear()
        world.random = None
        game.env._player = None
        for name in list(sys.modules):
            if name.split(".")[0] in _BlockImports.BLOCKED:
                del sys.modules[name]
        sys.meta_path.insert(0, _BlockImports())
        writer = _ChildOutput(1, CHILD_OUTPUT_CAP)
        sys.stdout = sys.stderr = writer
        sys.stdin = open(os.devnull)
        replies = os.fdopen(resp_r, "rb", buffering=0)
        pending = bytearray()

        def send(message):
            raw = (json.dumps(message) + "\n").encode()
            while raw:
                raw = raw[os.write(req_w, raw):]

        def receive():
            while b"\n" not in pending:
                chunk = replies.read(65536)
                if not chunk:
                    os._exit(70)
                pending.extend(chunk)
            i = pending.index(b"\n")
            line = bytes(pending[:i])
            del pending[:i + 1]
            return json.loads(line)

        def call(name, *args, **kwargs):
            try:
                send({"call": name, "args": list(args), "kwargs": kwargs})
            except TypeError:
                raise TypeError("%s() arguments must be plain values (str, int, float)" % name)
            reply = receive()
            if "stop" in reply:
                if reply.get("kind") == "budget":
                    raise StepBudgetExhausted(reply["stop"])
                if reply.get("kind") == "interrupt":
                    raise Interrupted(reply["stop"])
                raise EpisodeOver(reply["stop"])
            if "error" in reply:
                exc = {"TypeError": TypeError, "NameError": NameError}.get(
                    reply.get("type"), ValueError)
                raise exc(reply["error"])
            value = reply["value"]
            if name == "observe":
                value["nearby"] = [tuple(t) for t in value["nearby"]]
            if name == "known":
                value = [tuple(t) for t in value]
            return value

        def stub(name):
            def function(*args, **kwargs):
                return call(name, *args, **kwargs)
            function.__name__ = name
            function.__qualname__ = name
            return function

        namespace = {"__name__": "__main__", "__builtins__": builtins,
                     "StepBudgetExhausted": StepBudgetExhausted, "EpisodeOver": EpisodeOver,
                     "Interrupted": Interrupted}
        for name in ACTIONS + API_FUNCTIONS:
            namespace[name] = stub(name)
        lines = source.splitlines(True)
        linecache.cache["<program>"] = (len(source), None, lines, "<program>")
        error = None
        try:
            code = compile(source, "<program>", "exec")
            exec(code, namespace)
        except SystemExit as e:
            if e.code not in (None, 0):
                error = "SystemExit: %s" % (e.code,)
        except (StepBudgetExhausted, EpisodeOver, Interrupted) as e:
            frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == "<program>"]
            error = str(e) + (" (at line %d)" % frames[-1].lineno if frames else "")
            if isinstance(e, EpisodeOver):
                error = "stopped: " + error
        except BaseException as e:  # noqa: BLE001 - anything the program raised
            error = _format_error(e, lines)
        send({"done": True, "error": error})
    except BaseException:  # noqa: BLE001
        status = 71
    finally:
        os._exit(status)


def _kill(pid):
    for fn in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            fn()
        except OSError:
            pass


def _reap(pid, wait_s):
    """Waits up to wait_s for the child, then kills it; returns its wait status."""
    end = time.monotonic() + wait_s
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            _kill(pid)   # its process group, should it have left children behind
            return status
        if time.monotonic() >= end:
            _kill(pid)
            try:
                return os.waitpid(pid, 0)[1]
            except ChildProcessError:
                return None
        time.sleep(0.002)


def _describe_status(status):
    if status is None:
        return "unknown status"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        extra = " (CPU time limit)" if sig == signal.SIGXCPU else ""
        return "killed by signal %d %s%s" % (sig, name, extra)
    if os.WIFEXITED(status):
        return "exit status %d" % os.WEXITSTATUS(status)
    return "status %d" % status


def run_child(game, source):
    """Runs `source` in a forked child, serving its API calls. Returns (error, output)."""
    if not isinstance(source, str):
        return "the program must be Python source text", ""
    seconds = game.program_seconds
    req_r, req_w = os.pipe()
    resp_r, resp_w = os.pipe()
    out_r, out_w = os.pipe()
    PROTOCOL.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(req_r)
        os.close(resp_w)
        os.close(out_r)
        _child(game, source, req_w, resp_r, out_w, seconds)
        os._exit(72)   # not reached
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    os.close(req_w)
    os.close(resp_r)
    os.close(out_w)
    deadline = time.monotonic() + seconds
    output = bytearray()
    output_total = 0
    buf = bytearray()
    finished = None
    error = None
    readers = [req_r, out_r]
    status = None
    try:
        while finished is None and error is None:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(pid)
                error = "the program ran longer than %g s and was stopped" % seconds
                break
            if req_r not in readers:
                # the child closed its request pipe: it is ending
                status = _reap(pid, min(left, 1.0))
                error = "the program's process died (%s)" % _describe_status(status)
                break
            ready, _, _ = select.select(readers, [], [], left)
            if out_r in ready:
                chunk = os.read(out_r, 65536)
                if chunk:
                    output_total += len(chunk)
                    if len(output) < 4 * OUTPUT_KEEP:
                        output.extend(chunk[:4 * OUTPUT_KEEP - len(output)])
                else:
                    readers.remove(out_r)
            if req_r in ready:
                chunk = os.read(req_r, 65536)
                if not chunk:
                    readers.remove(req_r)
                    continue
                buf.extend(chunk)
                if len(buf) > MESSAGE_CAP:
                    _kill(pid)
                    error = "the program sent an over-long API request and was stopped"
                    break
                while b"\n" in buf and finished is None and error is None:
                    i = buf.index(b"\n")
                    line = bytes(buf[:i])
                    del buf[:i + 1]
                    try:
                        message = json.loads(line)
                        if not isinstance(message, dict):
                            raise ValueError("not an object")
                    except ValueError:
                        _kill(pid)
                        error = "the program's process sent a malformed request"
                        break
                    if message.get("done"):
                        finished = message
                        break
                    try:
                        name = str(message.get("call"))
                        args = message.get("args") or []
                        kwargs = message.get("kwargs") or {}
                        if not isinstance(args, list) or not isinstance(kwargs, dict):
                            raise TypeError("bad arguments")
                        answer = game.dispatch(name, args, kwargs)
                    except Exception as e:  # noqa: BLE001 - a bug in a helper must not kill us
                        traceback.print_exc()
                        answer = {"error": "internal error in %s: %s: %s" % (
                            message.get("call"), type(e).__name__, e), "type": "ValueError"}
                    try:
                        raw = (json.dumps(answer) + "\n").encode()
                        while raw:
                            raw = raw[os.write(resp_w, raw):]
                    except OSError:
                        pass   # the child is gone; its EOF will tell
        if finished is not None:
            error = finished.get("error")
            if error is not None and not isinstance(error, str):
                error = str(error)
            status = _reap(pid, 1.0)
        elif status is None:
            _reap(pid, 0.0)
        # drain what is left of the output (the child and its group are gone)
        if out_r in readers:
            end = time.monotonic() + 0.2
            while time.monotonic() < end:
                ready, _, _ = select.select([out_r], [], [], 0.05)
                if not ready:
                    break
                chunk = os.read(out_r, 65536)
                if not chunk:
                    break
                output_total += len(chunk)
                if len(output) < 4 * OUTPUT_KEEP:
                    output.extend(chunk[:4 * OUTPUT_KEEP - len(output)])
    finally:
        for fd in (req_r, resp_w, out_r):
            try:
                os.close(fd)
            except OSError:
                pass
        _kill(pid)
    text = output.decode("utf-8", "replace")
    if len(text) > OUTPUT_KEEP or output_total > len(output):
        text = text[:OUTPUT_KEEP] + "\n... (output cut; %d bytes in all)" % output_total
    return error, text


# ---------------------------------------------------------------------------------------------
# The protocol.

def reply(message):
    PROTOCOL.write(json.dumps(message) + "\n")
    PROTOCOL.flush()


def serve():
    game = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            try:
                request = json.loads(line)
            except ValueError as e:
                raise ValueError("malformed JSON request: %s" % e)
            if not isinstance(request, dict):
                raise ValueError("a request must be a JSON object")
            op = request.get("op")
            if op == "reset":
                game = Game(request.get("task"))
                reply(game.first_observation())
            elif op == "close":
                reply({"ok": True})
                return
            elif game is None:
                raise RuntimeError("%s before reset" % op)
            elif op == "step":
                action = request.get("action")
                if not isinstance(action, dict):
                    raise ValueError("step needs an action {\"kind\": ..., \"content\": ...}")
                kind, content = action.get("kind"), action.get("content")
                if game.done:
                    raise RuntimeError("the episode is over; reset")
                if kind == "act":
                    name = str(content).strip() if content is not None else ""
                    if name not in ACTIONS:
                        raise ValueError("unknown action %r; valid: %s" % (name, ", ".join(ACTIONS)))
                    reply(game.act(name))
                elif kind == "program":
                    goal = action.get("goal")
                    reply(game.run_program(content, goal if isinstance(goal, str) else None))
                else:
                    raise ValueError("unknown action kind %r; valid: act, program" % (kind,))
            elif op == "snapshot":
                reply({"snapshot": game.snapshot()})
            elif op == "restore":
                game = Game.restore(request.get("snapshot"))
                reply({"ok": True})
            else:
                raise ValueError("unknown op %r" % op)
        except Exception as e:  # report it and keep serving
            if not isinstance(e, (ValueError, RuntimeError, TypeError, KeyError)):
                traceback.print_exc()
            message = str(e) if isinstance(e, (ValueError, RuntimeError)) else \
                "%s: %s" % (type(e).__name__, e)
            reply({"error": message})


if __name__ == "__main__":
    serve()
