"""Memory: the server's resident set when idle (read by bench/run.sh right after the start and passed in), and the
peak resident set of the query workers while a query runs into `query.memory_limit`: a sort that DataFusion's pool
refuses, and a string bigger than the limit that only the workers' allocation cap stops. Queries run in worker
processes (children of the server), so the server itself should not grow at all; its peak is shown too. Peaks are
VmHWM after resetting it through /proc/<pid>/clear_refs, plus VmRSS sampled every 5 ms (a worker that the cap
stops dies with its VmHWM). bench/run.sh runs this last: allocators keep much of that memory afterwards.

    python bench/memory.py --server URL --key KEY --pid SERVER_PID --data DIR --runs 5 --idle-kib N --rows N
"""
import argparse
import os
import threading
import time

from common import ApiError, Client, cell, proc_kib

# A sort of 90 % of the rows with every column kept: far more than the limit holds, so DataFusion's pool refuses it.
SORT = "SELECT * FROM trips ORDER BY note LIMIT 10 OFFSET {offset}"
# One string of 2 GB: allocated outside DataFusion's pool, stopped by the worker's allocation cap.
STRING = "SELECT length(repeat('x', 2000000000)) AS n"


def children(pid):
    """The server's child processes: its query workers."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(name))
    return found


def kib(pid, field):
    try:
        return proc_kib(pid, field)
    except (OSError, KeyError):
        return 0


def peak_during(client, conversation, pid, sql):
    """(worker peak MiB, worker RSS before MiB, server peak MiB, answer code)."""
    workers = children(pid)
    for each in [pid, *workers]:
        with open(f"/proc/{each}/clear_refs", "w") as f:
            f.write("5")  # resets the peak resident set to the current one
    before = max(kib(w, "VmRSS") for w in workers)
    seen = {w: 0 for w in workers}
    done = threading.Event()

    def sample():
        while not done.is_set():
            for w in workers:
                seen[w] = max(seen[w], kib(w, "VmRSS"), kib(w, "VmHWM"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        client.query(conversation, sql)
        code = "ok"
    except ApiError as error:
        code = error.body.split('"code":"', 1)[-1].split('"', 1)[0]
    done.set()
    sampler.join()
    return max(seen.values()) / 1024, before / 1024, kib(pid, "VmHWM") / 1024, code


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
    time.sleep(1)  # the automatic profile of the upload runs in a worker too

    print(f"### Memory ({args.runs} runs; `query.memory_limit` = {args.limit})\n")
    print("| Measure | MiB |\n|---|---|")
    print(f"| Server RSS idle, right after start | {idle:,.1f} |")
    print(f"| Server RSS after the other measurements, before these queries | {before:,.1f} |")
    for sql in [SORT.format(offset=args.rows * 9 // 10), STRING]:
        peaks, baselines, server_peaks, codes = [], [], [], set()
        for _ in range(args.runs):
            peak, baseline, server_peak, code = peak_during(client, conversation, args.pid, sql)
            peaks.append(peak)
            baselines.append(baseline)
            server_peaks.append(server_peak)
            codes.add(code)
            time.sleep(0.5)  # a killed worker's replacement starts
        print(f"| `{sql}` (answer: {', '.join(sorted(codes))}): peak RSS of its worker | {cell(peaks)} |")
        print(f"| … that worker's RSS before the query | {cell(baselines)} |")
        print(f"| … peak RSS of the server meanwhile | {cell(server_peaks)} |")
    after = proc_kib(args.pid, "VmRSS") / 1024
    print(f"| Server RSS after those queries | {after:,.1f} |\n", flush=True)


if __name__ == "__main__":
    main()
