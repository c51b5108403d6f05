"""Engine: ten analytic queries through Tabletalk's SQL runner (HTTP end to end, uploaded files, result cache off)
versus DuckDB and Polars in process on the same local files — the Parquet file, then the CSV of the same data.
Prints Markdown tables: median (min–max) ms of --runs runs after one warm-up, ratios of medians.

    python bench/engine.py --server http://127.0.0.1:8181 --key KEY --data DIR --runs 5
"""
import argparse
import os

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from common import Client, cell, ratio, timed

QUERIES = [
    ("filtered aggregate (issue #4's goal: ≤ 1.5× DuckDB)", "SELECT count(*) AS n, sum(fare) AS total FROM trips WHERE fare > 20"),
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


# The CSV is read whole by every query in every engine; three queries show the parsing cost.
CSV_QUERIES = ["filter", "group-by, low cardinality", "string predicate"]


def zones(path):
    if not os.path.exists(path):
        ids = list(range(1, 265))
        boroughs = ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island", "EWR"]
        pq.write_table(pa.table({"zone_id": pa.array(ids, pa.int32()), "borough": [boroughs[i % 6] for i in ids]}), path)
    return path


def compare(title, queries, tabletalk, duck, polars, runs):
    print(f"### {title}\n")
    print("| Query | Tabletalk ms | DuckDB ms | Polars ms | Tabletalk / DuckDB | Tabletalk / Polars |")
    print("|---|---|---|---|---|---|")
    for name, sql in queries:
        ours = timed(lambda: tabletalk(sql), runs)
        theirs = timed(lambda: duck.execute(sql).fetchall(), runs)
        try:
            fast = timed(lambda: polars.execute(sql).collect(), runs)
            polars_cell, polars_ratio = cell(fast), ratio(ours, fast)
        except Exception as error:  # a query Polars' SQL does not support
            polars_cell, polars_ratio = f"n/a ({type(error).__name__})", "—"
        print(f"| {name} | {cell(ours)} | {cell(theirs)} | {polars_cell} | {ratio(ours, theirs)} | {polars_ratio} |", flush=True)
    print()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="http://127.0.0.1:8181")
    parser.add_argument("--key", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trips = os.path.join(args.data, "trips.parquet")
    trips_csv = os.path.join(args.data, "trips.csv")
    zone_file = zones(os.path.join(args.data, "zones.parquet"))
    client = Client(args.server, args.key)
    rows = pq.ParquetFile(trips).metadata.num_rows

    conversation = client.conversation()
    client.upload(conversation, trips, "trips")
    client.upload(conversation, zone_file, "zones")
    duck = duckdb.connect()
    duck.execute(f"CREATE VIEW trips AS SELECT * FROM read_parquet('{trips}')")
    duck.execute(f"CREATE VIEW zones AS SELECT * FROM read_parquet('{zone_file}')")
    polars = pl.SQLContext(trips=pl.scan_parquet(trips), zones=pl.scan_parquet(zone_file))
    compare(f"Engine: Parquet, {rows:,} rows ({os.path.getsize(trips):,} bytes)", QUERIES,
            lambda sql: client.query(conversation, sql), duck, polars, args.runs)

    conversation = client.conversation()
    client.upload(conversation, trips_csv, "trips")
    duck = duckdb.connect()
    duck.execute(f"CREATE VIEW trips AS SELECT * FROM read_csv('{trips_csv}')")
    polars = pl.SQLContext(trips=pl.scan_csv(trips_csv))
    compare(f"Engine: CSV of the same rows ({os.path.getsize(trips_csv):,} bytes)",
            [(name, sql) for name, sql in QUERIES if name in CSV_QUERIES],
            lambda sql: client.query(conversation, sql), duck, polars, args.runs)


if __name__ == "__main__":
    main()
