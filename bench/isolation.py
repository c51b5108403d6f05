"""Isolation: what running every query in a worker process costs a query that does nothing. `SELECT 1` through the
SQL runner (HTTP end to end) --queries times per run; the server logs, for every query its worker answered, the
round trip to the worker and the worker's own execution time (target `tabletalk::query_worker`, debug level, JSON
logs: bench/run.sh starts the server so), and the difference is what isolation adds: the job and the result
crossing the pipes, serialized both ways, and the hand-offs on each side.

    python bench/isolation.py --server URL --key KEY --log SERVER_LOG --runs 5 --queries 500
"""
import argparse
import json
import os
import statistics
import tempfile
import time

from common import Client, cell

SQL = "SELECT 1 AS one"


def worker_lines(log, start):
    """(round trip µs, execution µs) of the worker lines after byte offset `start` of the log."""
    pairs = []
    with open(log, "rb") as f:
        f.seek(start)
        for line in f:
            if b"query answered by its worker" not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            pairs.append((float(event["round_trip_us"]), float(event["execution_us"])))
    return pairs


def log_size(log):
    with open(log, "rb") as f:
        return f.seek(0, 2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log", required=True, help="the server's log file (JSON lines)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    client = Client(args.server, args.key)
    conversation = client.conversation()
    # The SQL runner needs a table in the conversation even for a query that reads none.
    path = os.path.join(tempfile.mkdtemp(), "t.csv")
    with open(path, "w") as f:
        f.write("a\n1\n")
    client.upload(conversation, path, "t")
    http_p50, added_p50, trip_p50, exec_p50 = [], [], [], []
    for _ in range(args.runs):
        for _ in range(20):
            client.query(conversation, SQL)
        start = log_size(args.log)
        times = []
        for _ in range(args.queries):
            began = time.perf_counter()
            client.query(conversation, SQL)
            times.append((time.perf_counter() - began) * 1000)
        time.sleep(0.2)
        pairs = worker_lines(args.log, start)
        if len(pairs) < args.queries:
            raise SystemExit(f"isolation: {len(pairs)} worker log lines for {args.queries} queries in {args.log}")
        http_p50.append(statistics.median(times))
        trip_p50.append(statistics.median(t for t, _ in pairs) / 1000)
        exec_p50.append(statistics.median(e for _, e in pairs) / 1000)
        added_p50.append(statistics.median(t - e for t, e in pairs) / 1000)
    print(f"### Isolation overhead (`{SQL}`, {args.runs} runs of {args.queries} queries)\n")
    print("| Measure | p50 ms |\n|---|---|")
    print(f"| HTTP end to end | {cell(http_p50, 3)} |")
    print(f"| Server: job sent to the worker → reply read | {cell(trip_p50, 3)} |")
    print(f"| Worker: the query's own execution (context, planning, run, cells) | {cell(exec_p50, 3)} |")
    print(f"| Added by isolation (round trip − execution, per query) | {cell(added_p50, 3)} |\n", flush=True)


if __name__ == "__main__":
    main()
