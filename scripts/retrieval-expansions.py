#!/usr/bin/env python3
"""Do model-written texts help the local embedder find reflections? Two ways are measured.

`expand` (doc2query): for each reflection of the paraphrase set (memory/benches/paraphrase.jsonl) a local model
(mneme model serve) writes three short descriptions of what one would notice in a later task
where the lesson applies; they are cached in EXPANSIONS (a JSON file, resumed). Then the
reflections expanded so far are ranked against each other for their queries, scored four ways:
the text alone (what mneme does), the text with its expansions appended (one vector), the best
of the text's and the expansions' vectors, and the mean of the two. Embeddings: the
all-MiniLM-L6-v2 int8 model mneme's set-up put in ~/.cache/mneme/embed/minilm, with mean pooling
and L2 normalisation as fastembed does (this reproduces `mneme bench retrieval`'s 146 of 240).

`hyde` (hypothetical document embeddings): for each reflection query the model writes the lesson
one would have noted (cached in the same way); all 80 reflections are ranked for each query by
the query's vector (what mneme does), the lesson's, and the two vectors' normalised sum.

Needs `pip install onnxruntime tokenizers numpy`.
Usage: scripts/retrieval-expansions.py expand PORT FILE [LIMIT]
       scripts/retrieval-expansions.py hyde PORT FILE
JOBS (default 1) requests at once.
"""
import concurrent.futures as cf
import json
import os
import re
import sys
import urllib.request
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
MODEL = Path.home() / ".cache/mneme/embed/minilm"
PROMPT = (
    "A programmer wrote this lesson after a failed attempt:\n\n{text}\n\n"
    "Write 3 short descriptions of what someone would notice in a later, different task where "
    "this lesson applies: the symptom, a failing input or an error message, in plain words. "
    "Use other words than the lesson. One per line, no numbering."
)
HYDE_PROMPT = (
    "A programmer describes a problem with their code: \"{text}\"\n"
    "Write the one-sentence lesson they would note afterwards, in the first person (\"I ...\"), "
    "naming the mistake in the code that caused it and its effect. Only the sentence."
)


class Embedder:
    def __init__(self):
        self.tok = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
        self.tok.enable_truncation(256)
        self.tok.enable_padding()
        self.session = ort.InferenceSession(str(MODEL / "model.onnx"))
        self.inputs = {i.name for i in self.session.get_inputs()}

    def __call__(self, texts):
        enc = self.tok.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc])
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]
        v = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def ask(port, prompt, text, max_tokens):
    body = {"messages": [{"role": "user", "content": prompt.format(text=text)}],
            "temperature": 0, "max_tokens": max_tokens}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                 json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=900))["choices"][0]["message"]["content"]


def cached(path, keys, write):
    """`write(key)`'s answer for each of `keys`, from `path` (a JSON object), asking for the
    missing ones (JOBS at once) and saving after each."""
    done = json.loads(path.read_text()) if path.exists() else {}
    todo = [k for k in keys if k not in done]
    with cf.ThreadPoolExecutor(int(os.environ.get("JOBS", "1"))) as pool:
        for key, reply in zip(todo, pool.map(write, todo)):
            done[key] = reply
            path.write_text(json.dumps(done, indent=1))
    return done


def lines(reply):
    out = []
    for line in reply.splitlines():
        line = re.sub(r"^\s*([-*•]|\d+[.)])\s*", "", line).strip()
        line = re.sub(r"^\*\*[^*]+\*\*:?\s*", "", line).strip()
        if len(line) > 8:
            out.append(line)
    return out[:5]


def reflections():
    items = [json.loads(l) for l in open(ROOT / "memory/benches/paraphrase.jsonl") if l.strip()]
    return [it for it in items if it["kind"] == "reflection"]


def report(hits, queries, what):
    print(f"{queries} queries, rank 1 {what}:")
    for name, n in hits.items():
        print(f"  {name}: {n} ({n / queries:.3f})")


def expand_study(port, path, limit):
    chosen = reflections()[:limit]
    texts = {it["id"]: it["text"] for it in chosen}
    done = cached(path, list(texts), lambda key: ask(port, PROMPT, texts[key], 150).strip())
    kept = [it for it in chosen if lines(done.get(it["id"], ""))]
    embed = Embedder()
    text = embed([it["text"] for it in kept])
    joined = embed([it["text"] + " " + " ".join(lines(done[it["id"]])) for it in kept])
    extra = [embed(lines(done[it["id"]])) for it in kept]
    hits = {"text": 0, "text + expansions": 0, "best vector": 0, "mean": 0}
    queries = 0
    for target, it in enumerate(kept):
        for query in it["queries"]:
            q = embed([query])[0]
            own, best = text @ q, np.array([e.max() for e in (x @ q for x in extra)])
            scores = {"text": own, "text + expansions": joined @ q,
                      "best vector": np.maximum(own, best), "mean": (own + best) / 2}
            for name, s in scores.items():
                hits[name] += int(np.argmax(s)) == target
            queries += 1
    report(hits, queries, f"among the {len(kept)} reflections expanded")


def hyde_study(port, path):
    chosen = reflections()
    queries = [q for it in chosen for q in it["queries"]]
    done = cached(path, queries, lambda q: ask(port, HYDE_PROMPT, q, 80).strip())
    embed = Embedder()
    records = embed([it["text"] for it in chosen])
    hits = {"query": 0, "lesson": 0, "query + lesson": 0}
    for target, it in enumerate(chosen):
        for query in it["queries"]:
            q, lesson = embed([query, done[query]])
            both = (q + lesson) / np.linalg.norm(q + lesson)
            for name, v in (("query", q), ("lesson", lesson), ("query + lesson", both)):
                hits[name] += int(np.argmax(records @ v)) == target
    report(hits, len(queries), f"among all {len(chosen)} reflections")


def main():
    mode, port, path = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if mode == "expand":
        expand_study(port, path, int(sys.argv[4]) if len(sys.argv) > 4 else None)
    elif mode == "hyde":
        hyde_study(port, path)
    else:
        sys.exit(f"unknown study {mode!r}: expand or hyde")


if __name__ == "__main__":
    main()
