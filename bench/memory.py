"""Memory: the server's resident set when idle (read by bench/run.sh right after the start and passed in), and its
peak while a query runs into `query.memory_limit`. The peak is VmHWM after resetting it through
/proc/<pid>/clear_refs, so each run measures only its own query. bench/run.sh runs this last: the allocator keeps
much of that memory afterwards, which would slow the other measurements.

    python bench/memory.py --server URL --key KEY --pid SERVER_PID --data DIR --runs 5 --idle-kib N --rows N
"""
import argparse
import os

from common import ApiError, Client, cell, proc_kib

# A sort of 90 % of the rows with every column kept: far more than the limit holds, so the query must fail with
# `query_memory_exceeded` instead of taking the machine's memory.
QUERY = "SELECT * FROM trips ORDER BY note LIMIT 10 OFFSET {offset}"


def peak_during(client, conversation, pid, sql):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # resets the peak resident set to the current one
    try:
        client.query(conversation, sql)
        code = "ok"
    except ApiError as error:
        code = error.body.split('"code":"', 1)[-1].split('"', 1)[0]
    return proc_kib(pid, "VmHWM") / 1024, code


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit", default="1GiB", help="the server's query.memory_limit, for the report")
    parser.add_argument("--rows", type=int, required=True, help="rows of trips.parquet")
    parser.add_argument("--idle-kib", type=int, required=True, help="VmRSS right after the server started")
    args = parser.parse_args()
    idle = args.idle_kib / 1024
    before = proc_kib(args.pid, "VmRSS") / 1024
    client = Client(args.server, args.key)
    conversation = client.conversation()
    client.upload(conversation, os.path.join(args.data, "trips.parquet"), "trips")

    sql = QUERY.format(offset=args.rows * 9 // 10)
    peaks, codes = [], set()
    for _ in range(args.runs):
        peak, code = peak_during(client, conversation, args.pid, sql)
        peaks.append(peak)
        codes.add(code)
    after = proc_kib(args.pid, "VmRSS") / 1024
    print(f"### Memory ({args.runs} runs; `query.memory_limit` = {args.limit})\n")
    print("| Measure | MiB |\n|---|---|")
    print(f"| RSS idle, right after start | {idle:,.1f} |")
    print(f"| RSS after the other measurements, before these queries | {before:,.1f} |")
    print(f"| Peak RSS during `{QUERY.format(offset=args.rows * 9 // 10)}` (answer: {', '.join(sorted(codes))}) "
          f"| {cell(peaks)} |")
    print(f"| RSS after those queries | {after:,.1f} |\n", flush=True)


if __name__ == "__main__":
    main()
