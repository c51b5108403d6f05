"""A/B of two Tabletalk binaries on the standard workloads of bench/standard.py (TPC-H SF1, H2O-style group-by) and,
with --engine, the eleven Parquet queries of bench/engine.py (trips.parquet of bench/generate.py, zones as there):
both servers run side by side on this machine with the same files uploaded, and every query alternates between
them (A, B, A, B, …) so the machine's drift hits both alike. Prints each query's median and the ratio B / A.

    python bench/ab_standard.py --a OLD_BINARY --b NEW_BINARY --tpch DIR [--h2o FILE] [--engine DIR] [--queries Q9,q8]
        [--rounds 5]
"""
import argparse
import math
import os
import shutil
import statistics
import tempfile
import time

from ab import KEY, start
from common import Client
from engine import QUERIES as ENGINE, zones
from standard import H2O, TPCH, TPCH_TABLES, h2o_wrapped

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", required=True)
    parser.add_argument("--b", required=True)
    parser.add_argument("--tpch", required=True, help="directory of <table>.parquet from tpchgen-cli")
    parser.add_argument("--h2o", help="the H2O-style table (made by bench/standard.py); omitted: TPC-H only")
    parser.add_argument("--engine", help="directory with trips.parquet of bench/generate.py (zones.parquet made if missing)")
    parser.add_argument("--queries", help="comma-separated names, e.g. Q9,Q17,q8 (default: all)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    wanted = set(args.queries.split(",")) if args.queries else None
    queries = [(f"Q{n}", "tpch", sql) for n, sql in TPCH.items()]
    if args.h2o:
        queries += [(name, "h2o", h2o_wrapped(sql, cols)) for name, (sql, cols) in H2O.items()]
    if args.engine:
        queries += [(f"e{i + 1} {name}", "engine", sql) for i, (name, sql) in enumerate(ENGINE)]
    queries = [q for q in queries if wanted is None or q[0].split(" ")[0] in wanted]
    work = tempfile.mkdtemp(prefix="ab-standard-")
    # Standard queries need more memory and time than the A/B defaults allow.
    settings = {"TABLETALK__QUERY__MEMORY_LIMIT": "8GiB", "TABLETALK__QUERY__TIMEOUT": "300s"}
    servers = [start(args.a, os.path.join(work, "a"), 8192, **settings),
               start(args.b, os.path.join(work, "b"), 8193, **settings)]
    try:
        sides = []
        for port in (8192, 8193):
            client = Client(f"http://127.0.0.1:{port}", KEY)
            conversations = {"tpch": client.conversation()}
            for table in TPCH_TABLES:
                client.upload(conversations["tpch"], os.path.join(args.tpch, f"{table}.parquet"), table)
            if args.h2o:
                conversations["h2o"] = client.conversation()
                client.upload(conversations["h2o"], args.h2o, "x")
            if args.engine:
                conversations["engine"] = client.conversation()
                client.upload(conversations["engine"], os.path.join(args.engine, "trips.parquet"), "trips")
                client.upload(conversations["engine"], zones(os.path.join(args.engine, "zones.parquet")), "zones")
            sides.append((client, conversations))
        print("| Query | A ms | B ms | B / A |\n|---|---|---|---|")
        ratios = []
        for name, data, sql in queries:
            runs = [[], []]
            for side, (client, conversations) in enumerate(sides):
                client.call("POST", f"/conversations/{conversations[data]}/query", {"sql": sql, "page_size": 1000})
            for _ in range(args.rounds):
                for side, (client, conversations) in enumerate(sides):
                    started = time.perf_counter()
                    client.call("POST", f"/conversations/{conversations[data]}/query", {"sql": sql, "page_size": 1000})
                    runs[side].append((time.perf_counter() - started) * 1000)
            a, b = (statistics.median(r) for r in runs)
            ratios.append(b / a)
            print(f"| {name} | {a:,.1f} | {b:,.1f} | {b / a:.2f} |", flush=True)
        geomean = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"\nGeometric mean of B / A: **{geomean:.3f}**")
    finally:
        for server in servers:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
