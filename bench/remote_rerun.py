"""Remote re-reads on a standard workload: the TPC-H tables added by URL (served by bench/file_server.py, which counts
the bytes it sends) against the same tables uploaded, in one server.

1. Cold: each of the 22 queries runs once on the remote tables, in order; the bytes fetched by the pass are compared
   with the compressed size of the column chunks the queries reference (every row group of every column named in
   them: an upper bound of what they need, as row-group pruning only lowers it). Goal: at most 1.2× that. The
   automatic profile that follows each add has read (and kept) a sample of every column by then: the bytes of the
   adds and profiles are reported too, and the ratio with them.
2. Warm: each query then alternates between the uploaded and the remote tables for --runs rounds; the bytes fetched
   meanwhile (goal: 0) and the ratio of the medians remote / uploaded (goal: at most 1.1×).

    python bench/remote_rerun.py --server URL --key KEY --files http://127.0.0.1:8765 --path tpch-sf1 --tpch DIR

--path is where the file server serves the TPC-H directory. The server must allow fetching from 127.0.0.1.
"""
import argparse
import math
import os
import re
import statistics
import time

import pyarrow.parquet as pq

from common import Client
from fetch import served_bytes
from standard import TPCH, TPCH_TABLES


def settled(files, quiet_seconds=3.0, timeout=600):
    """Waits until the file server has sent nothing for quiet_seconds (the automatic profiles after the adds)."""
    deadline = time.time() + timeout
    last = served_bytes(files, reset=False)
    quiet_since = time.time()
    while time.time() < deadline:
        time.sleep(0.5)
        now = served_bytes(files, reset=False)
        if now != last:
            last, quiet_since = now, time.time()
        elif time.time() - quiet_since >= quiet_seconds:
            return
    raise SystemExit("the file server never went quiet")


def referenced_chunk_bytes(tpch, sqls):
    """Compressed bytes of every column chunk of every column the queries name."""
    total = 0
    for table in TPCH_TABLES:
        meta = pq.ParquetFile(os.path.join(tpch, f"{table}.parquet")).metadata
        names = meta.schema.to_arrow_schema().names
        for index, name in enumerate(names):
            if any(re.search(rf"\b{name}\b", sql) for sql in sqls):
                total += sum(meta.row_group(g).column(index).total_compressed_size for g in range(meta.num_row_groups))
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--files", required=True)
    parser.add_argument("--path", default="", help="the TPC-H directory's path on the file server")
    parser.add_argument("--tpch", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    client = Client(args.server, args.key)
    uploaded, remote = client.conversation(), client.conversation()
    served_bytes(args.files)
    base = f"{args.files}/{args.path}" if args.path else args.files
    for table in TPCH_TABLES:
        client.upload(uploaded, os.path.join(args.tpch, f"{table}.parquet"), table)
        client.call("POST", f"/conversations/{remote}/datasets",
                    {"url": f"{base}/{table}.parquet?run={time.time_ns()}", "name": table})
    settled(args.files)
    # Footers read by the adds, and the automatic profiles' samples (every column of each table's first rows).
    added = served_bytes(args.files)
    run = lambda conversation, sql: client.call(
        "POST", f"/conversations/{conversation}/query", {"sql": sql, "page_size": 1000})

    served_bytes(args.files)
    for sql in TPCH.values():
        run(remote, sql)
    cold = served_bytes(args.files)
    needed = referenced_chunk_bytes(args.tpch, list(TPCH.values()))

    print("| Query | Uploaded ms | Remote, warm ms | Remote / uploaded | Bytes fetched while warm |")
    print("|---|---|---|---|---|")
    ratios, warm_bytes = [], 0
    for n, sql in TPCH.items():
        times = {uploaded: [], remote: []}
        served_bytes(args.files)
        for _ in range(args.runs):
            for conversation in (uploaded, remote):
                started = time.perf_counter()
                run(conversation, sql)
                times[conversation].append((time.perf_counter() - started) * 1000)
        fetched = served_bytes(args.files)
        warm_bytes += fetched
        a, b = statistics.median(times[uploaded]), statistics.median(times[remote])
        ratios.append(b / a)
        print(f"| Q{n} | {a:,.1f} | {b:,.1f} | {b / a:.2f}× | {fetched:,} |", flush=True)
    geomean = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print(f"\nWarm: geometric mean remote / uploaded **{geomean:.2f}×** (worst {max(ratios):.2f}×), "
          f"{warm_bytes:,} bytes fetched in {args.runs} rounds of 22 queries.")
    print(f"Cold: the first pass of the 22 queries fetched {cold:,} bytes = {cold / needed:.2f}× the {needed:,} "
          f"bytes of the column chunks they reference; with the {added:,} bytes the adds and their automatic profiles "
          f"fetched before it, {(added + cold) / needed:.2f}×.\n")


if __name__ == "__main__":
    main()
