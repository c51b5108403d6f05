"""Deterministic benchmark data: a trip-like table (numeric, string, timestamp and categorical columns).

    python bench/generate.py --rows 10000000 --out data/trips.parquet [--csv data/trips.csv]
    python bench/generate.py --target-bytes 1e9 --out data/big.parquet
"""
import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

PAYMENTS = ["card", "cash", "voucher", "dispute", "unknown"]
VENDORS = ["Acme Cabs", "Blue Line", "City Rides", "Downtown Taxi"]


def batch(start: int, rows: int, seed: int) -> pa.RecordBatch:
    rng = np.random.default_rng(seed)
    ids = np.arange(start, start + rows, dtype=np.int64)
    base = np.datetime64("2024-01-01T00:00:00", "us")
    pickup = base + (ids * 3_157_000 % (366 * 86_400_000_000)).astype("timedelta64[us]")
    duration = rng.integers(60, 7200, rows).astype("timedelta64[s]")
    distance = np.round(rng.gamma(2.0, 1.8, rows), 2)
    fare = np.round(2.5 + distance * 1.75 + rng.normal(0, 1, rows).clip(-2, 5), 2)
    zone = rng.integers(1, 265, rows, dtype=np.int32)
    return pa.RecordBatch.from_pydict(
        {
            "trip_id": ids,
            "pickup_at": pa.array(pickup, pa.timestamp("us")),
            "dropoff_at": pa.array(pickup + duration.astype("timedelta64[us]"), pa.timestamp("us")),
            "passenger_count": rng.integers(1, 7, rows, dtype=np.int8),
            "distance_km": distance,
            "fare": fare,
            "tip": np.round(fare * rng.choice([0, 0.1, 0.15, 0.2], rows), 2),
            "payment_type": pa.array(rng.choice(PAYMENTS, rows)).dictionary_encode(),
            "vendor": pa.array(rng.choice(VENDORS, rows)),
            "pickup_zone": zone,
            "dropoff_zone": rng.integers(1, 265, rows, dtype=np.int32),
            "note": pa.array([f"trip {i} zone {z}" for i, z in zip(ids.tolist(), zone.tolist())]),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--target-bytes", type=float, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--csv")
    parser.add_argument("--row-group", type=int, default=1_000_000)
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    chunk = 500_000
    schema = batch(0, 1, 0).schema
    writer = pq.ParquetWriter(args.out, schema, compression="snappy")
    csv_schema = schema.set(7, pa.field("payment_type", pa.string()))
    csv_writer = pacsv.CSVWriter(args.csv, csv_schema) if args.csv else None
    written, seed = 0, 42
    while True:
        if args.rows and written >= args.rows:
            break
        if args.target_bytes and written and os.path.getsize(args.out) >= args.target_bytes:
            break
        rows = min(chunk, args.rows - written) if args.rows else chunk
        part = batch(written, rows, seed)
        writer.write_batch(part, row_group_size=args.row_group)
        if csv_writer:
            csv_writer.write_table(pa.Table.from_batches([part]).cast(csv_schema))
        written += rows
        seed += 1
    writer.close()
    if csv_writer:
        csv_writer.close()
    print(f"{args.out}: {written} rows, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
