"""A/B: the same measurements against two Tabletalk binaries on this machine, in alternating rounds (A, B, A, B, …),
so the machine's drift between runs hits both alike: the eleven Parquet queries of bench/engine.py (median of
--runs each), `SELECT 1`, chat turns with the zero-latency model, `GET /conversations` under wrk, and the time and
bytes of `SELECT sum(fare)` on a 1 GB remote Parquet just added. Needs what bench/run.sh starts besides the server
(file server on --files, fake model on 127.0.0.1:8766) and the data it generates.

    python bench/ab.py --a OLD_BINARY --b NEW_BINARY --data DIR --files URL --rounds 2 --runs 5
"""
import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

from chat import turns
from common import Client
from engine import QUERIES, zones
from throughput import wrk

KEY = "bench-key-0123456789"
PORT = 8181


def start(binary, work, port=PORT, **settings):
    """The binary serving on `port` in a fresh `work` directory, with the A/B settings and any `settings` (env) more."""
    env = dict(os.environ, TABLETALK__AUTH__LOCAL_ACCESS_KEY=KEY, TABLETALK__SERVER__PORT=str(port),
               TABLETALK__DATASETS__ALLOWED_CIDRS="127.0.0.1/32", TABLETALK__QUERY__RESULT_CACHE_ENTRIES="0",
               TABLETALK__DATASETS__MAX_UPLOAD_BYTES="2GiB", TABLETALK__DATASETS__MAX_DOWNLOAD_BYTES="2GiB",
               TABLETALK__STORAGE__CACHE_MAX_BYTES="4GiB", TABLETALK__LLM__PROVIDER="openai",
               TABLETALK__LLM__BASE_URL="http://127.0.0.1:8766", TABLETALK__LLM__MODEL="m",
               TABLETALK__BUDGET__TOKEN_LIMIT="1000000000", **settings)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log = open(os.path.join(work, "server.log"), "w")
    process = subprocess.Popen([binary], cwd=work, env=env, stdout=log, stderr=log)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"ab: {binary} did not start")


def measure(binary, args):
    server = f"http://127.0.0.1:{PORT}"
    process = start(binary, os.path.join(args.work, "server"))
    try:
        client = Client(server, KEY)
        results = {}
        conversation = client.conversation()
        client.upload(conversation, os.path.join(args.data, "trips.parquet"), "trips")
        client.upload(conversation, zones(os.path.join(args.data, "zones.parquet")), "zones")
        time.sleep(2)  # the automatic profiles
        for name, sql in QUERIES:
            client.query(conversation, sql)
            times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                client.query(conversation, sql)
                times.append((time.perf_counter() - began) * 1000)
            results[name] = statistics.median(times)
        small = client.conversation()
        path = os.path.join(tempfile.mkdtemp(), "t.csv")
        with open(path, "w") as f:
            f.write("a\n1\n2\n3\n")
        client.upload(small, path, "t")
        times = []
        for _ in range(300):
            began = time.perf_counter()
            client.query(small, "SELECT 1 AS one")
            times.append((time.perf_counter() - began) * 1000)
        results["SELECT 1, HTTP p50"] = statistics.median(times[50:])
        chat = asyncio.run(turns(client, client.token, argparse.Namespace(server=server, turns=200)))
        results["chat turn p50"] = statistics.median(chat)
        results["GET /conversations req/s (wrk, 64 connections)"] = wrk(
            f"{server}/conversations", client.token, 64, 5)[0]
        big_times, big_bytes = [], []
        for n in range(3):
            remote = client.conversation()
            url = f"{args.files}/big.parquet?ab={time.time_ns()}-{n}"
            client.call("POST", f"/conversations/{remote}/datasets", {"url": url, "name": "big"})
            time.sleep(3)  # the automatic profile reads in the background
            before = int(urllib.request.urlopen(f"{args.files}/__bytes").read())
            began = time.perf_counter()
            client.query(remote, "SELECT sum(fare) FROM big")
            big_times.append((time.perf_counter() - began) * 1000)
            big_bytes.append(int(urllib.request.urlopen(f"{args.files}/__bytes").read()) - before)
        results["remote: first SELECT sum(fare) after the add, ms"] = statistics.median(big_times)
        results["remote: bytes it fetched"] = statistics.median(big_bytes)
        return results
    finally:
        process.terminate()
        process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", required=True, help="the binary before")
    parser.add_argument("--b", required=True, help="the binary after")
    parser.add_argument("--data", required=True)
    parser.add_argument("--files", required=True)
    parser.add_argument("--work", default=tempfile.mkdtemp())
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    collected = {"a": [], "b": []}
    for _ in range(args.rounds):
        for side in ("a", "b"):
            collected[side].append(measure(getattr(args, side), args))
    names = list(collected["a"][0])
    print(f"### A/B ({args.rounds} alternating rounds; each cell the median over rounds of per-round medians)\n")
    print("| Measure | before | after | after / before |\n|---|---|---|---|")
    for name in names:
        a = statistics.median(r[name] for r in collected["a"])
        b = statistics.median(r[name] for r in collected["b"])
        print(f"| {name} | {a:,.2f} | {b:,.2f} | {b / a:.2f}× |")
    print(flush=True)


if __name__ == "__main__":
    main()
