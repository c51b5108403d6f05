"""Load: --users simulated users for about --seconds, each listing conversations, adding a dataset by URL, running
ten queries and two chat turns (the zero-latency model: one tool call, one query), spread over the period with
random pauses; meanwhile one more user sends a runaway query every 10 s (an endless series, which runs until
`query.timeout` kills its worker; that user's later runaways wait behind it, capped per user). Prints, per
operation: count, p50 and p99 ms, 5xx answers (goal: none) and other failures; the runaway user's answers; the
RSS of the server and of its query workers over time.

    python bench/load.py --server URL --key KEY --pid SERVER_PID --db SQLITE_FILE --files FILE_SERVER_URL \
        --data DIR --users 50 --seconds 60
"""
import argparse
import collections
import json
import os
import random
import statistics
import threading
import time
import urllib.error
import urllib.request

import pyarrow as pa
import pyarrow.parquet as pq
from websockets.sync.client import connect

from chat import extra_sessions
from common import Client
from memory import children, kib

RUNAWAY = "SELECT count(*) FROM generate_series(1, 1000000000000) WHERE value % 7 = 3"


class Session:
    """One user's REST calls with a session token written into the database by the script."""

    def __init__(self, base, token):
        self.base, self.token = base, token

    def call(self, method, path, body=None):
        """(status, decoded body)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Origin", self.base)
        request.add_header("Cookie", f"session_token={self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = collections.defaultdict(list)
        self.server_errors = collections.Counter()
        self.failures = collections.Counter()
        self.examples = {}

    def timed(self, operation, fn):
        started = time.perf_counter()
        status, body = fn()
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.times[operation].append(elapsed)
            if status >= 500:
                self.server_errors[operation] += 1
                self.examples.setdefault(operation, f"{status} {str(body)[:200]}")
            elif status >= 400:
                self.failures[operation] += 1
                self.examples.setdefault(operation, f"{status} {str(body)[:200]}")
        return status, body


def table(data):
    path = os.path.join(data, "load.parquet")
    if not os.path.exists(path):
        rows = 100_000
        pq.write_table(pa.table({"x": pa.array(range(rows), pa.int64()),
                                 "y": pa.array([(i % 997) * 0.5 for i in range(rows)], pa.float64())}), path)
    return "load.parquet"


def chat_turn(session, socket, conversation):
    status, body = session.call("POST", f"/conversations/{conversation}/messages", {"content": "How many rows?"})
    if status != 200:
        return status, body
    while True:
        event = json.loads(socket.recv(timeout=120))
        if event.get("type") == "chat_complete":
            return 200, event
        if event.get("type") == "chat_error":
            return 500, event


def user(args, token, url, recorder, deadline):
    session = Session(args.server, token)
    pause = args.seconds / 14
    time.sleep(random.uniform(0, pause))
    recorder.timed("list conversations", lambda: session.call("GET", "/conversations"))
    status, created = session.call("POST", "/conversations")
    conversation = created["id"]
    recorder.timed("add a dataset by URL", lambda: session.call(
        "POST", f"/conversations/{conversation}/datasets", {"url": url, "name": "t"}))
    steps = ["query"] * 10 + ["chat"] * 2
    random.shuffle(steps)
    base = args.server.replace("http", "ws", 1)
    with connect(f"{base}/ws?token={token}", max_size=None) as socket:
        for step in steps:
            time.sleep(max(0.0, min(random.uniform(0, 2 * pause), deadline - time.time())))
            if step == "query":
                threshold = random.randint(0, 400)
                sql = f"SELECT count(*) AS n, avg(y) AS mean FROM t WHERE y > {threshold}"
                recorder.timed("query", lambda: session.call(
                    "POST", f"/conversations/{conversation}/query", {"sql": sql}))
            else:
                recorder.timed("chat turn (to chat_complete)", lambda: chat_turn(session, socket, conversation))


def runaway_user(args, token, url, answers, stop):
    session = Session(args.server, token)
    _, created = session.call("POST", "/conversations")
    conversation = created["id"]
    session.call("POST", f"/conversations/{conversation}/datasets", {"url": url, "name": "t"})
    senders = []

    def send():
        status, body = session.call("POST", f"/conversations/{conversation}/query", {"sql": RUNAWAY})
        code = body.get("code", "ok") if isinstance(body, dict) else str(status)
        answers.append(f"{status} {code}")

    while not stop.wait(0 if not senders else 10):
        thread = threading.Thread(target=send)
        thread.start()
        senders.append(thread)
    for thread in senders:
        thread.join()


def sample_memory(pid, samples, stop, started):
    while not stop.wait(1):
        workers = children(pid)
        samples.append((time.time() - started, kib(pid, "VmRSS") / 1024,
                        sum(kib(w, "VmRSS") for w in workers) / 1024, len(workers)))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--db", required=True, help="the server's SQLite file")
    parser.add_argument("--files", required=True, help="the file server's URL")
    parser.add_argument("--data", required=True)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    random.seed(7)
    Client(args.server, args.key)  # a session exists, so extra_sessions can copy its timestamps
    url = f"{args.files}/{table(args.data)}"
    tokens = extra_sessions(args.db, args.users + 1)
    recorder, answers, samples = Recorder(), [], []
    stop_runaways, stop_sampling = threading.Event(), threading.Event()
    started = time.time()
    deadline = started + args.seconds
    sampler = threading.Thread(target=sample_memory, args=(args.pid, samples, stop_sampling, started))
    sampler.start()
    runaways = threading.Thread(target=runaway_user, args=(args, tokens[-1], url, answers, stop_runaways))
    runaways.start()
    users = [threading.Thread(target=user, args=(args, token, url, recorder, deadline)) for token in tokens[:-1]]
    for thread in users:
        thread.start()
    for thread in users:
        thread.join()
    took = time.time() - started
    stop_runaways.set()
    runaways.join()
    stop_sampling.set()
    sampler.join()

    print(f"### Load ({args.users} users over {took:.0f} s beside a user sending a runaway query every 10 s)\n")
    print("| Operation | Count | p50 ms | p99 ms | 5xx | Other failures |\n|---|---|---|---|---|---|")
    for operation, times in recorder.times.items():
        print(f"| {operation} | {len(times)} | {statistics.median(times):,.1f} | {percentile(times, 0.99):,.1f} "
              f"| {recorder.server_errors[operation]} | {recorder.failures[operation]} |")
    print(f"\nThe runaway user's answers: {', '.join(f'{n} × {a}' for a, n in collections.Counter(answers).items())}.")
    for operation, example in recorder.examples.items():
        print(f"First failure of {operation}: `{example}`.")
    print("\n| Second | Server RSS MiB | Workers' RSS MiB (workers) |\n|---|---|---|")
    for second, server, workers, count in samples[::10] + samples[-1:]:
        print(f"| {second:.0f} | {server:,.1f} | {workers:,.1f} ({count}) |")
    print(flush=True)


if __name__ == "__main__":
    main()
