"""Ten analytic queries through Tabletalk's SQL runner (HTTP end to end) versus DuckDB and Polars in process, on the
same local Parquet files. Prints a Markdown table of medians (ms) and ratios.

    python bench/engine.py --server http://127.0.0.1:8181 --key KEY --data DIR --runs 5
"""
import argparse
import os
import statistics
import time

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from datasets import Client

QUERIES = [
    ("filter", "SELECT count(*) AS n FROM trips WHERE fare > 20 AND passenger_count >= 2"),
    ("group-by, low cardinality", "SELECT payment_type, count(*) AS n, avg(fare) AS fare FROM trips GROUP BY payment_type ORDER BY payment_type"),
    ("group-by, high cardinality", "SELECT pickup_zone, dropoff_zone, count(*) AS n FROM trips GROUP BY pickup_zone, dropoff_zone ORDER BY n DESC, pickup_zone, dropoff_zone LIMIT 10"),
    ("top-N", "SELECT trip_id, fare FROM trips ORDER BY fare DESC, trip_id LIMIT 10"),
    ("window", "SELECT vendor, trip_id, fare FROM (SELECT vendor, trip_id, fare, row_number() OVER (PARTITION BY vendor ORDER BY fare DESC, trip_id) AS rn FROM trips) AS ranked WHERE rn <= 3 ORDER BY vendor, rn"),
    ("join of two datasets", "SELECT z.borough, count(*) AS n FROM trips AS t JOIN zones AS z ON t.pickup_zone = z.zone_id GROUP BY z.borough ORDER BY z.borough"),
    ("date bucketing", "SELECT date_trunc('month', pickup_at) AS month, count(*) AS n FROM trips GROUP BY 1 ORDER BY 1"),
    ("distinct count", "SELECT count(DISTINCT pickup_zone * 1000 + dropoff_zone) AS pairs FROM trips"),
    ("string predicate", "SELECT count(*) AS n FROM trips WHERE note LIKE '%zone 42%'"),
    ("wide projection", "SELECT * FROM trips WHERE trip_id % 100000 = 0 ORDER BY trip_id"),
]


def zones(path):
    if not os.path.exists(path):
        ids = list(range(1, 265))
        boroughs = ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island", "EWR"]
        pq.write_table(pa.table({"zone_id": pa.array(ids, pa.int32()), "borough": [boroughs[i % 6] for i in ids]}), path)
    return path


def timed(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), max(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="http://127.0.0.1:8181")
    parser.add_argument("--key", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trips = os.path.join(args.data, "trips.parquet")
    zone_file = zones(os.path.join(args.data, "zones.parquet"))
    client = Client(args.server, args.key)
    conversation = client.call("POST", "/conversations")["id"]
    client.upload(f"/conversations/{conversation}/datasets/upload", trips, "trips")
    client.upload(f"/conversations/{conversation}/datasets/upload", zone_file, "zones")
    duck = duckdb.connect()
    duck.execute(f"CREATE VIEW trips AS SELECT * FROM read_parquet('{trips}')")
    duck.execute(f"CREATE VIEW zones AS SELECT * FROM read_parquet('{zone_file}')")
    ctx = pl.SQLContext(trips=pl.scan_parquet(trips), zones=pl.scan_parquet(zone_file))
    rows = pq.ParquetFile(trips).metadata.num_rows
    print(f"### Engine: 10 queries over {rows:,} rows ({args.runs} runs each after a warm-up; medians in ms)\n")
    print("| Query | Tabletalk | DuckDB | Polars | Tabletalk / DuckDB | Tabletalk / Polars |")
    print("|---|---|---|---|---|---|")
    for name, sql in QUERIES:
        ours = timed(lambda: client.call("POST", f"/conversations/{conversation}/query", {"sql": sql}), args.runs)[0]
        theirs = timed(lambda: duck.execute(sql).fetchall(), args.runs)[0]
        try:
            polars = timed(lambda: ctx.execute(sql).collect(), args.runs)[0]
            polars_text, ratio_polars = f"{polars:.1f}", f"{ours / polars:.2f}×"
        except Exception as error:  # a query Polars' SQL does not support
            polars_text, ratio_polars = f"n/a ({type(error).__name__})", "—"
        print(f"| {name} | {ours:.1f} | {theirs:.1f} | {polars_text} | {ours / theirs:.2f}× | {ratio_polars} |", flush=True)


if __name__ == "__main__":
    main()
