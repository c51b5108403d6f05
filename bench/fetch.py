"""Fetch: what adding remote datasets costs. Against a running Tabletalk allowed to fetch from 127.0.0.1 and
bench/file_server.py serving --data on --files (it counts the bytes it sends).

Every run uses a new conversation and a URL with its own query string, so no cache of the server (footers, files)
helps a later run: each run is a first add. The automatic profile that follows an add reads the file in the
background; its bytes are counted apart (until `dataset_profiled` arrives on the WebSocket) so they inflate neither
the add nor the query.

    python bench/fetch.py --server URL --files URL --key KEY --data DIR --runs 5
"""
import argparse
import json
import os
import time
import urllib.request

import pyarrow.parquet as pq
from websockets.sync.client import connect

from common import Client, cell


def served_bytes(files, reset=True):
    """Bytes the file server sent since the last reset (and reset the counter)."""
    with urllib.request.urlopen(files + ("/__reset" if reset else "/__bytes")) as response:
        return int(response.read())


def wait_for_profile(socket, dataset_id, timeout=600):
    """Reads events until this dataset's `dataset_profiled`; False when none came (profiling failed)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            break
        if event.get("type") == "dataset_profiled" and event.get("dataset_id") == dataset_id:
            return True
    return False


def column_chunk_bytes(path, column):
    meta = pq.ParquetFile(path).metadata
    index = meta.schema.to_arrow_schema().get_field_index(column)
    return sum(meta.row_group(i).column(index).total_compressed_size for i in range(meta.num_row_groups))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--files", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    client = Client(args.server, args.key)

    big = os.path.join(args.data, "big.parquet")
    size = os.path.getsize(big)
    meta = pq.ParquetFile(big).metadata
    with connect(args.server.replace("http", "ws", 1) + f"/ws?token={client.token}", max_size=None) as socket:
        add_ms, add_bytes, profile_bytes, query_ms, query_bytes = [], [], [], [], []
        for run in range(args.runs):
            conversation = client.conversation()
            url = f"{args.files}/big.parquet?run={run}-{time.time_ns()}"
            served_bytes(args.files)
            started = time.perf_counter()
            added = client.call("POST", f"/conversations/{conversation}/datasets", {"url": url, "name": "big"})
            add_ms.append((time.perf_counter() - started) * 1000)
            add_bytes.append(served_bytes(args.files))
            if not wait_for_profile(socket, added["dataset"]["id"]):
                raise SystemExit("fetch: no dataset_profiled event for the remote Parquet")
            profile_bytes.append(served_bytes(args.files))
            started = time.perf_counter()
            client.query(conversation, "SELECT sum(fare) AS total FROM big")
            query_ms.append((time.perf_counter() - started) * 1000)
            query_bytes.append(served_bytes(args.files))
        fare_bytes = column_chunk_bytes(big, "fare")

        csv = os.path.join(args.data, "trips.csv")
        csv_ms = []
        for run in range(args.runs):
            conversation = client.conversation()
            url = f"{args.files}/trips.csv?run={run}-{time.time_ns()}"
            started = time.perf_counter()
            added = client.call("POST", f"/conversations/{conversation}/datasets", {"url": url, "name": "trips"})
            csv_ms.append((time.perf_counter() - started) * 1000)
            wait_for_profile(socket, added["dataset"]["id"])  # so the next run does not share the machine with it
    csv_rows = pq.ParquetFile(os.path.join(args.data, "trips.parquet")).metadata.num_rows

    print(f"### Fetch ({args.runs} runs, each a first add; median (min–max))\n")
    print("| Measure | Value |\n|---|---|")
    print(f"| Remote Parquet | {size:,} bytes, {meta.num_rows:,} rows, {meta.num_row_groups} row groups |")
    print(f"| Bytes sent to add it | {cell(add_bytes, 0)} = {100 * min(add_bytes) / size:.4f} % of the file |")
    print(f"| Time to add it | {cell(add_ms)} ms |")
    print(f"| Bytes read by the automatic profile after the add (in the background) | {cell(profile_bytes, 0)} |")
    print(f"| Bytes sent for `SELECT sum(fare) FROM big` | {cell(query_bytes, 0)} |")
    print(f"| Compressed size of the `fare` column chunks | {fare_bytes:,} (read {min(query_bytes) / fare_bytes:.2f}× of it) |")
    print(f"| Time of that query | {cell(query_ms)} ms |")
    print(f"| Time to add the CSV by URL ({os.path.getsize(csv):,} bytes, {csv_rows:,} rows: download, "
          f"verification, one statistics pass) | {cell(csv_ms)} ms |\n", flush=True)


if __name__ == "__main__":
    main()
