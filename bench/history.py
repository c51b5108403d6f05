"""Search and import over a long history: a user with 10,000 conversations and 200,000 messages, written through
`POST /conversations/import` (one conversation per request, timestamps spread over the past), so the search index
is built by the same path that keeps it in step at run time; then `GET /conversations/search` latency for texts of
every frequency, and `POST /conversations/import` of a 1,000-message conversation.

Usage: history.py --binary target/release/tabletalk --work DIR [--conversations 10000 --per 20] [--out results.md]
"""
import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import time
import urllib.parse

from common import Client

KEY = "bench-key-0123456789"
PORT = 8182


def stamp(millis):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis / 1000)) + f".{millis % 1000:03d}Z"


class Words:
    """A vocabulary with Zipf-like frequencies, so searches hit rare, middling and very common words.

    `english`: the distinct words of this repository's documentation (English prose with column, function and
    crate names), most frequent first. `syllables`: 6,000 words made of 15 syllables — a worst case for a trigram
    index, since every trigram then occurs in nearly every message."""

    def __init__(self, rng, kind):
        if kind == "english":
            root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
            counts = {}
            for name in ["README.md"] + [os.path.join("docs", f) for f in sorted(os.listdir(os.path.join(root, "docs")))]:
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    for word in re.findall(r"[A-Za-z][A-Za-z_]+", f.read()):
                        counts[word.lower()] = counts.get(word.lower(), 0) + 1
            self.words = sorted(counts, key=lambda w: (-counts[w], w))
        else:
            syllables = ["ka", "lo", "mi", "ren", "ta", "vo", "sil", "dra", "nu", "pe", "qua", "zor", "el", "bri", "ox"]
            seen = set()
            self.words = []
            while len(self.words) < 6000:
                word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
                if word not in seen:
                    seen.add(word)
                    self.words.append(word)
        self.weights = [1 / (rank + 1) ** 1.07 for rank in range(len(self.words))]
        self.rng = rng

    def sentence(self, n):
        words = self.rng.choices(self.words, self.weights, k=n)
        words[0] = words[0].capitalize()
        return " ".join(words) + "."


def start(binary, home):
    env = dict(os.environ, TABLETALK__AUTH__LOCAL_ACCESS_KEY=KEY, TABLETALK__SERVER__PORT=str(PORT),
               TABLETALK__SERVER__MAX_LARGE_JSON_BODY="64MiB")
    process = subprocess.Popen([binary], cwd=home, env=env, stdout=open(os.path.join(home, "server.log"), "a"),
                               stderr=subprocess.STDOUT)
    for _ in range(600):  # 60 s
        try:
            http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/health")
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the server did not start; see {home}/server.log")
            time.sleep(0.1)
    raise SystemExit("the server did not answer /health")


def populate(cookie, conversations, per, rng, kind):
    """Imports `conversations` conversations of `per` messages; returns the words, the stored texts and the time."""
    words = Words(rng, kind)
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    headers = {"Cookie": cookie, "Content-Type": "application/json"}
    begin = time.time()
    now = int(time.time() * 1000) - conversations * per * 60_000
    corpus = []
    for _ in range(conversations):
        messages = []
        for i in range(per):
            now += 60_000
            role = "user" if i % 2 == 0 else "assistant"
            text = " ".join(words.sentence(rng.randint(6, 16)) for _ in range(1 if role == "user" else 4))
            messages.append({"role": role, "content": text, "created_at": stamp(now)})
        if len(corpus) < 40 or rng.random() < 0.01:
            corpus.append(messages[1]["content"])
        body = {"title": words.sentence(rng.randint(2, 6))[:-1][:100], "messages": messages}
        connection.request("POST", "/conversations/import", body=json.dumps(body).encode(), headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 201:
            raise SystemExit(f"import failed: {response.status} {answer[:300]}")
    return words, corpus, time.time() - begin


def queries(words, rng, corpus):
    """Search texts by kind: rare, middling and very common words, two-word phrases taken from stored
    messages, texts that occur nowhere, and two-character texts (too short for the trigram index)."""
    rare = [w for w in words.words[len(words.words) // 2:] if len(w) >= 5]
    return {
        "rare word": rng.sample(rare, 40),
        "middling word": rng.sample(words.words[100:1000], 40),
        "common word": words.words[:40],
        "phrase": [" ".join(m.split()[3:5]) for m in rng.sample(corpus, 40)],
        "absent": ["".join(rng.choice("bcdfghjkmnpqrstvwxz") for _ in range(7)) for _ in range(40)],
        "2 characters": ["".join(rng.choice("aeiokl") for _ in range(2)) for _ in range(40)],
    }


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure_search(cookie, texts, rounds):
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    headers = {"Cookie": cookie}
    times, found = [], []
    for text in texts[:5]:  # warm-up
        connection.request("GET", "/conversations/search?" + urllib.parse.urlencode({"q": text}), headers=headers)
        connection.getresponse().read()
    for _ in range(rounds):
        for text in texts:
            begin = time.perf_counter()
            connection.request("GET", "/conversations/search?" + urllib.parse.urlencode({"q": text}),
                               headers=headers)
            response = connection.getresponse()
            body = response.read()
            times.append((time.perf_counter() - begin) * 1000)
            if response.status != 200:
                raise SystemExit(f"search failed: {response.status} {body[:300]}")
            found.append(json.loads(body)["total"])
    return times, found


def import_body(words, rng, n=1000):
    messages = []
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        message = {"role": role, "content": " ".join(words.sentence(12) for _ in range(1 if role == "user" else 5)),
                   "created_at": stamp(1_700_000_000_000 + i * 1000)}
        if role == "assistant" and i % 4 == 1:
            message["sql_query"] = json.dumps([{"query": "SELECT city, count(*) FROM t GROUP BY city",
                                                "columns": ["city", "n"], "rows": [["a", 1]] * 20, "total_rows": 20,
                                                "error": None, "execution_time_ms": 3.1, "limit_applied": False}])
        messages.append(message)
    return {"title": "Imported history", "messages": messages}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--per", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--words", choices=["english", "syllables"], default="english")
    parser.add_argument("--out")
    args = parser.parse_args()
    rng = random.Random(20261202)
    home = os.path.join(args.work, "history-server")
    subprocess.run(["rm", "-rf", home], check=True)
    os.makedirs(home)
    server = start(args.binary, home)
    client = Client(f"http://127.0.0.1:{PORT}", KEY)
    cookie = f"session_token={client.token}"
    words, corpus, seconds = populate(cookie, args.conversations, args.per, rng, args.words)
    total = args.conversations * args.per
    db = next(os.path.join(d, f) for d, _, fs in os.walk(home) for f in fs if f.endswith(".db"))
    size_mb = os.path.getsize(db) / 1e6
    lines = []
    try:
        kinds = queries(words, rng, corpus)
        everything = []
        rows = []
        for kind, texts in kinds.items():
            times, found = measure_search(cookie, texts, args.rounds)
            everything += times
            rows.append(f"| {kind} | {statistics.median(found):.0f} | {percentile(times, 50):.1f} | "
                        f"{percentile(times, 99):.1f} | {max(times):.1f} |")
        body = json.dumps(import_body(words, rng)).encode()
        imports = []
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        for _ in range(args.rounds + 1):
            begin = time.perf_counter()
            connection.request("POST", "/conversations/import", body=body,
                               headers={"Cookie": cookie, "Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            imports.append((time.perf_counter() - begin) * 1000)
            if response.status != 201:
                raise SystemExit(f"import failed: {response.status} {answer[:300]}")
        imports = imports[1:]
        lines += [
            "### Search and import over a long history (`bench/history.py`)",
            "",
            f"History ({args.words} words, {len(words.words):,} of them): {args.conversations:,} conversations with "
            f"{total:,} messages, imported in {seconds:.0f} s "
            f"({args.conversations / seconds:.0f} imports/s; the index is written by the same transactions), database "
            f"{size_mb:.0f} MB with its WAL. {args.rounds} rounds of 40 texts per kind, one request at a time over a "
            "kept-alive connection, default limit (20).",
            "",
            "| Search text | Results (median) | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|",
            *rows,
            f"| **all kinds** | | **{percentile(everything, 50):.1f}** | **{percentile(everything, 99):.1f}** | "
            f"{max(everything):.1f} |",
            "",
            f"Import of a 1,000-message conversation ({len(body) / 1e6:.1f} MB body, a quarter of the answers with a "
            f"20-row SQL result): median {statistics.median(imports):.0f} ms, min {min(imports):.0f}, "
            f"max {max(imports):.0f} ms over {len(imports)} runs (after one warm-up).",
        ]
    finally:
        server.terminate()
        server.wait()
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
