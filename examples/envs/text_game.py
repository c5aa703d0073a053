#!/usr/bin/env python3
"""A tiny text adventure spoken over mneme's JSON-lines environment protocol.

The player must find a key, open a chest and take the gem inside, in at most
`max_steps` commands. Tasks differ in where the key hides. Run it by hand:

    $ python3 examples/envs/text_game.py
    {"op": "reset", "task": {"id": "rug", "prompt": "Find the gem.", "key_under": "rug"}}
    {"op": "step", "action": {"kind": "act", "content": "look"}}

Only the standard library is used.
"""
import json
import sys

PLACES = ("rug", "pillow", "plant")


class Game:
    def __init__(self, task):
        self.key_under = task.get("key_under", "rug")
        if self.key_under not in PLACES:
            raise ValueError("key_under must be one of %s" % ", ".join(PLACES))
        self.max_steps = int(task.get("max_steps", 10))
        self.state = {"steps": 0, "has_key": False, "chest_open": False, "has_gem": False, "searched": []}

    def look(self):
        s = self.state
        text = "A small room. There is a rug on the floor, a pillow on a chair, a potted plant, and a chest"
        text += " (open)." if s["chest_open"] else " (locked)."
        if s["has_key"]:
            text += " You hold a brass key."
        return text

    def act(self, command):
        s = self.state
        s["steps"] += 1
        words = command.lower().split()
        reward, done = 0.0, False
        if not words:
            text = "Say something: look, search <thing>, take key, open chest, take gem."
        elif words[0] == "look":
            text = self.look()
        elif words[0] in ("search", "lift", "check") and len(words) > 1:
            place = words[-1]
            if place not in PLACES:
                text = "There is no %s here." % place
            elif place == self.key_under and not s["has_key"]:
                text = "Under the %s lies a brass key." % place
                s["searched"].append(place)
            else:
                text = "Nothing under the %s." % place
                s["searched"].append(place)
        elif words[:2] == ["take", "key"]:
            if self.key_under in s["searched"] and not s["has_key"]:
                s["has_key"] = True
                text = "You take the brass key."
            else:
                text = "You see no key to take."
        elif words[:2] == ["open", "chest"]:
            if s["has_key"]:
                s["chest_open"] = True
                text = "The key turns. Inside the chest a gem glitters."
            else:
                text = "The chest is locked."
        elif words[:2] == ["take", "gem"]:
            if s["chest_open"]:
                s["has_gem"] = True
                text = "You take the gem. You win!"
                reward, done = 1.0, True
            else:
                text = "You see no gem."
        else:
            text = "Unknown command. Try: look, search <thing>, take key, open chest, take gem."
        if not done and s["steps"] >= self.max_steps:
            text += " You are out of moves."
            done = True
        return {"observation": text, "reward": reward, "done": done, "info": {"steps": s["steps"]}}


def main():
    game = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "reset":
                game = Game(req["task"])
                reply = {"observation": req["task"].get("prompt", "") + "\n" + game.look()}
            elif op == "step":
                if game is None:
                    raise RuntimeError("step before reset")
                reply = game.act(req["action"]["content"])
            elif op == "snapshot":
                reply = {"snapshot": json.loads(json.dumps(game.state))}
            elif op == "restore":
                game.state = req["snapshot"]
                reply = {"ok": True}
            elif op == "close":
                print(json.dumps({"ok": True}), flush=True)
                return
            else:
                raise ValueError("unknown op %r" % op)
        except Exception as e:  # report, keep serving
            reply = {"error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
