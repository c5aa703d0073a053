#!/usr/bin/env python3
"""A hand-written skill set for crafter_env.py: the no-model baseline, and an example of good
programs.

`POLICY` is one program that is sent again and again (each run gets the task's step budget,
400 by default) until the episode ends. Each run looks at the state and does the most useful
next thing: survive first (drink, eat, sleep in a walled-in spot at night, fight zombies that
come close), then climb the tech tree (wood, table, wood tools, sapling, stone, stone tools,
coal, furnace, iron, iron tools, diamond), exploring when nothing useful is in sight.

    /root/.cache/mneme/envs/crafter/venv/bin/python baseline_skills.py [SEED ...]

runs one episode per seed (default 1-5) and prints the achievements unlocked.
"""
import contextlib
import json
import os
import subprocess
import sys

POLICY = r'''
def have(item, n=1):
    return inventory()[item] >= n

def tools_at_table(tools):
    """Makes what the materials allow, reusing a seen table (or placing a new one)."""
    for tool in tools:
        if not have(tool):
            if not make(tool):
                inv = inventory()
                if inv['wood'] >= 2 and not make(tool):
                    if place('table'):
                        make(tool)

def hide_and_rest():
    """Walls itself in (a dead-end closed by a stone) and sleeps, or waits if rested."""
    if not shelter():
        return False
    if observe()['vitals']['energy'] < 9:
        sleep_until_rested(250)
    else:
        wait(20)
    return True

def survive():
    o = observe()
    v = o['vitals']
    zombies = [abs(dx) + abs(dy) for name, dx, dy in o['nearby'] if name == 'zombie']
    if zombies and min(zombies) <= 2 and v['health'] >= 5:
        attack('zombie', 20)
        return True
    if v['drink'] <= 5:
        collect('drink', 9 - v['drink'], max_steps=100)
        return True
    if v['food'] <= 5:
        if known('ripe_plant') and eat_plant():
            return True
        attack('cow', 100)
        return True
    night = o['daylight'] < 0.4
    if night or v['energy'] <= 2 or v['health'] <= 4:
        if hide_and_rest():
            return True
        if inventory()['stone'] < 2 and inventory()['wood_pickaxe']:
            collect('stone', 2, max_steps=40)
            if hide_and_rest():
                return True
        if v['energy'] <= 1:
            sleep_until_rested(100)
            return True
    return False

def progress():
    """Does the next step up the tech tree (one sub-goal per call)."""
    inv = inventory()
    done = set(observe()['achievements'])
    if 'collect_sapling' not in done:
        return collect('sapling', 1, max_steps=40)
    if have('sapling') and 'place_plant' not in done:
        return place('plant')
    if 'collect_drink' not in done:
        return collect('drink', 1, max_steps=80)
    if not have('wood_pickaxe') or not have('wood_sword'):
        if inv['wood'] < 4:
            return collect('wood', 4 - inv['wood'])
        return tools_at_table(['wood_pickaxe', 'wood_sword'])
    if not have('stone_pickaxe') or not have('stone_sword'):
        if inv['wood'] < 3:
            return collect('wood', 3 - inv['wood'])
        if inv['stone'] < 3:
            return collect('stone', 3 - inv['stone'])
        return tools_at_table(['stone_pickaxe', 'stone_sword'])
    if 'place_stone' not in done and have('stone'):
        return place('stone')
    if 'eat_cow' not in done and known('cow'):
        return attack('cow', 60)
    if inv['coal'] < 2:
        return collect('coal', 2 - inv['coal'])
    if 'place_furnace' not in done and inv['stone'] >= 1:
        if inv['stone'] < 4:
            return collect('stone', 4 - inv['stone'])
        if not known('table') and inv['wood'] >= 2:
            return place('table')
        go_to('table', 60)
        return place('furnace')
    if not have('iron_pickaxe') or not have('iron_sword'):
        if inv['wood'] < 3:
            return collect('wood', 3 - inv['wood'])
        if inv['iron'] < 1:
            return collect('iron', 1, max_steps=300)
        for tool in ('iron_pickaxe', 'iron_sword'):
            if not have(tool):
                if make(tool, 150):
                    return True
                # no table and furnace together within reach: place both here
                if inventory()['stone'] < 1:
                    return collect('stone', 2)
                if inventory()['wood'] < 3:
                    return collect('wood', 3)
                place('table')
                place('furnace')
                return make(tool)
    if 'defeat_skeleton' not in done and known('skeleton'):
        return attack('skeleton', 80)
    if 'collect_diamond' not in done and known('diamond'):
        return collect('diamond', 1, max_steps=200)
    if 'eat_plant' not in done and known('ripe_plant'):
        return eat_plant()
    if inv['stone'] < 5:
        return collect('stone', 5 - inv['stone'])
    return explore(40)

def main():
    while True:
        if survive():
            continue
        progress()

main()
'''


@contextlib.contextmanager
def adapter_session(python, adapter):
    """The adapter as a process: yields `send(message) -> reply` over its JSON-lines protocol;
    closes it at the end."""
    proc = subprocess.Popen([python, str(adapter)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            bufsize=1)

    def send(message):
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    try:
        yield send
        send({"op": "close"})
    finally:
        proc.stdin.close()
        proc.wait()


def evaluate(seeds=range(1, 6), python=sys.executable, adapter=None, program_steps=400,
             length=10000, verbose=False):
    """Runs one episode per seed with POLICY; returns per-seed results."""
    adapter = adapter or os.path.join(os.path.dirname(os.path.abspath(__file__)), "crafter_env.py")
    results = []
    for seed in seeds:
        with adapter_session(python, adapter) as send:
            results.append(_episode(send, seed, program_steps, length, verbose))
    return results


def _episode(send, seed, program_steps, length, verbose):
    """One episode of POLICY on `seed`, over `send`; its result."""
    send({"op": "reset", "task": {"id": "baseline", "prompt": "", "seed": seed,
                                  "length": length, "program_steps": program_steps}})
    programs, data, errors, interrupts = 0, None, 0, 0
    while True:
        r = send({"op": "step", "action": {"kind": "program", "content": POLICY}})
        if "error" in r:
            break
        programs += 1
        data = r["observation"]["data"]
        if data.get("interrupted"):
            interrupts += 1
        elif data["error"] and "budget" not in data["error"] and "stopped:" not in data["error"]:
            errors += 1
            if verbose:
                print(data["error"], file=sys.stderr)
        if verbose:
            print(r["observation"]["text"], file=sys.stderr)
        if r["done"] or data["steps_used"] == 0:
            break
    return {"seed": seed, "achievements": data["achievements"] if data else [],
            "steps": data["step"] if data else 0, "programs": programs,
            "died": data["died"] if data else None, "errors": errors,
            "interrupts": interrupts,
            "death_cause": data.get("death_cause") if data else None}


def score(results):
    """The Crafter score: exp(mean over the 22 achievements of ln(1 + success rate in %)) - 1."""
    import math
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from crafter_env import ACHIEVEMENTS
    rates = [100.0 * sum(a in r["achievements"] for r in results) / len(results)
             for a in ACHIEVEMENTS]
    return math.exp(sum(math.log(1 + x) for x in rates) / len(rates)) - 1


if __name__ == "__main__":
    seeds = [int(a) for a in sys.argv[1:] if a.lstrip("-").isdigit()] or list(range(1, 6))
    res = evaluate(seeds, verbose="-v" in sys.argv)
    for r in res:
        print("seed %d: %2d achievements, %5d steps, %3d programs (%d interrupted by a need), "
              "errors %d, %s: %s" % (
                  r["seed"], len(r["achievements"]), r["steps"], r["programs"], r["interrupts"],
                  r["errors"], "died (%s)" % r["death_cause"] if r["died"] else "alive",
                  ", ".join(r["achievements"])))
    print("mean %.2f achievements per episode, Crafter score %.1f %%" % (
        sum(len(r["achievements"]) for r in res) / len(res), score(res)))

