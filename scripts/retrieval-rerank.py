#!/usr/bin/env python3
"""Does a local model, asked whether each of the embedder's top hits fits the query, put the
right record first? A study for issue 14's retrieval target, on the paraphrase set
(memory/benches/paraphrase.jsonl).

For every query the records of its kind are ranked by the all-MiniLM-L6-v2 int8 vector (as
`mneme bench retrieval` does; scripts/retrieval-expansions.py reproduces its 146 of 240), then
the top K (default 10) are judged one by one by a model served by `mneme model serve`: "does
this note / helper fit this situation? yes or no", greedy, one token. Two orders are scored:
- `yes first`: the hits judged "yes" in vector order, then the rest in vector order (what any
  provider can do: it needs only the reply's text);
- `p(yes)`: the hits by the probability of "yes" among the first token's top log-probabilities,
  ties in vector order (needs a server that returns log-probabilities).
The judgements are cached in FILE (JSON, resumed), keyed by query and record id.
MODE=list asks instead once per query, listwise: the top K lettered A, B, ... in vector order,
"which one fits? the letter only"; the hits are ranked by their letters' probabilities.

Needs `pip install onnxruntime tokenizers numpy`.
Usage: scripts/retrieval-rerank.py PORT FILE [K]
JOBS (default 1) requests at once; EVERY=N judges every Nth query only;
SCORE_ONLY=1 scores what FILE holds without judging more.
"""
import json
import math
import os
import re
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from importlib import import_module

expansions = import_module("retrieval-expansions")

ROOT = Path(__file__).resolve().parent.parent
REFLECTION_PROMPT = (
    "A programmer wrote this note after fixing a bug:\n{record}\n\n"
    "Later, in another task, someone describes this situation:\n{query}\n\n"
    "Is the note about the same kind of mistake as the situation, so that reading it would "
    "help? Answer yes or no."
)
SKILL_PROMPT = (
    "A helper function in a library:\n{record}\n\n"
    "Someone needs this:\n{query}\n\n"
    "Does the helper do what is needed? Answer yes or no."
)
LIST_PROMPTS = {
    "reflection": (
        "Someone describes this situation in a task:\n{query}\n\n"
        "Notes that programmers wrote after fixing earlier bugs:\n{records}\n\n"
        "Which note is about the same kind of mistake as the situation? "
        "Answer with its letter only."
    ),
    "skill": (
        "Someone needs this:\n{query}\n\n"
        "Helper functions in a library:\n{records}\n\n"
        "Which helper does what is needed? Answer with its letter only."
    ),
}
LETTERS = "ABCDEFGHIJKLMNOPQRST"


def first_token(port, prompt):
    """The model's one-token greedy answer and the probabilities of its first token's top 20
    alternatives (stripped)."""
    body = {"messages": [{"role": "user", "content": prompt}], "temperature": 0,
            "max_tokens": 1, "logprobs": True, "top_logprobs": 20}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                 json.dumps(body).encode(), {"Content-Type": "application/json"})
    choice = json.load(urllib.request.urlopen(req, timeout=900))["choices"][0]
    top = (choice.get("logprobs") or {}).get("content") or [{}]
    probs = {}
    for t in top[0].get("top_logprobs", []):
        token = t["token"].strip()
        probs[token] = probs.get(token, 0.0) + math.exp(t["logprob"])
    return choice["message"]["content"], probs


def judge(port, prompt):
    """The model's one-token answer and its probability of "yes"."""
    text, probs = first_token(port, prompt)
    return {"text": text, "p_yes": probs.get("yes", 0.0) + probs.get("Yes", 0.0)}


def choose(port, kind, query, records):
    """Listwise: the probability of each record's letter as the answer."""
    listed = "\n".join(f"{LETTERS[n]}. {r}" for n, r in enumerate(records))
    text, probs = first_token(port, LIST_PROMPTS[kind].format(query=query, records=listed))
    return {"text": text, "p": [probs.get(LETTERS[n], 0.0) for n in range(len(records))]}


def described(item):
    """A record's embedded text: a reflection's own, a skill as `def signature: description`."""
    if item["kind"] == "reflection":
        return item["text"]
    head = re.search(r"^def [^\n]*\)(\s*->\s*[^:\n]+)?", item["code"], re.M).group(0)
    return f"{head}: {item['description']}"


def main():
    port, path = sys.argv[1], Path(sys.argv[2])
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    items = [json.loads(l) for l in open(ROOT / "memory/benches/paraphrase.jsonl") if l.strip()]
    embed = expansions.Embedder()
    texts = [described(it) for it in items]
    vectors = embed(texts)
    plans = []
    for target, it in enumerate(items):
        same = [i for i, other in enumerate(items) if other["kind"] == it["kind"]]
        for query in it["queries"]:
            q = embed([query])[0]
            order = sorted(same, key=lambda i: -float(vectors[i] @ q))[:k]
            plans.append((it["kind"], query, target, order))
    plans = plans[:: int(os.environ.get("EVERY", "1"))]
    if os.environ.get("MODE") == "list":
        return listwise(port, path, texts, plans, k)
    key = lambda query, i: f"{items[i]['id']}\t{query}"
    pairs = {key(query, i): (query, i) for _, query, _, order in plans for i in order}

    def ask(pair_key):
        query, i = pairs[pair_key]
        prompt = REFLECTION_PROMPT if items[i]["kind"] == "reflection" else SKILL_PROMPT
        return judge(port, prompt.format(record=texts[i], query=query))

    done = expansions.cached(path, [] if os.environ.get("SCORE_ONLY") else list(pairs), ask)
    score(plans, done, key, k)


def listwise(port, path, texts, plans, k):
    """One call per query: the top k listed with letters, ranked by each letter's probability
    (ties in vector order)."""
    by_query = {query: (kind, [texts[i] for i in order]) for kind, query, _, order in plans}

    def ask(query):
        kind, records = by_query[query]
        return choose(port, kind, query, records)

    done = expansions.cached(path, [] if os.environ.get("SCORE_ONLY") else list(by_query), ask)
    hits = {}
    for kind, query, target, order in plans:
        if query not in done:
            continue
        p = done[query]["p"]
        listed = sorted(range(len(order)), key=lambda n: -p[n])
        for group in (kind, "all"):
            h = hits.setdefault(group, [0, 0, 0])
            h[0] += order[0] == target
            h[1] += order[listed[0]] == target
            h[2] += 1
    print(f"rank 1, the top {k} listed for the model to choose from:")
    for group, (vector, chosen, n) in hits.items():
        print(f"  {group}: vector {vector}/{n} ({vector / n:.3f}), chosen {chosen}/{n} "
              f"({chosen / n:.3f})")


def score(plans, done, key, k):
    methods = ("vector", "yes first", "p(yes)")
    hits = {(kind, m): [0, 0] for kind in ("reflection", "skill", "all") for m in methods}
    judged_yes = [0, 0, 0, 0]  # targets judged yes, of targets judged; others yes, of others
    complete = [p for p in plans if all(key(p[1], i) in done for i in p[3])]
    if len(complete) < len(plans):
        print(f"partial: {len(complete)} of {len(plans)} queries fully judged")
    plans = complete
    for kind, query, target, order in plans:
        said = {i: done[key(query, i)] for i in order}
        yes = {i: said[i]["text"].strip().lower().startswith("yes") for i in order}
        ranked = {
            "vector": order,
            "yes first": [i for i in order if yes[i]] + [i for i in order if not yes[i]],
            "p(yes)": sorted(order, key=lambda i: -said[i]["p_yes"]),
        }
        for m, r in ranked.items():
            for group in (kind, "all"):
                hits[(group, m)][0] += r[0] == target
                hits[(group, m)][1] += 1
        judged_yes[0] += yes.get(target, False)
        judged_yes[1] += target in yes
        judged_yes[2] += sum(yes[i] for i in order if i != target)
        judged_yes[3] += sum(i != target for i in order)
    if not plans:
        return
    print(f"rank 1 after judging the top {k} (queries whose target is past {k} cannot be fixed):")
    for group in ("reflection", "skill", "all"):
        if not hits[(group, "vector")][1]:
            continue
        row = ", ".join(f"{m} {hits[(group, m)][0]}/{hits[(group, m)][1]} "
                        f"({hits[(group, m)][0] / hits[(group, m)][1]:.3f})" for m in methods)
        print(f"  {group}: {row}")
    print(f"targets judged yes: {judged_yes[0]} of {judged_yes[1]}; "
          f"other records judged yes: {judged_yes[2]} of {judged_yes[3]}")


if __name__ == "__main__":
    main()
