"""Dataset and SQL-runner measurements against a running Tabletalk (issue 4's performance goals).

Expects: the server on --server in local mode with --key, allowed to fetch from 127.0.0.1, result cache off;
bench/file_server.py serving --data on --files. Prints a Markdown report.
"""
import argparse
import http.client
import http.cookiejar
import json
import os
import statistics
import time
import urllib.request
import uuid

import duckdb
import pyarrow.parquet as pq


class Client:
    def __init__(self, base, key):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.call("POST", "/auth/dev-login", {"referral_key": key})

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Origin", self.base)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, timeout=3600) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{method} {path}: {error.code} {error.read().decode()}")

    def upload(self, path, file_path, name):
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n{name}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{os.path.basename(file_path)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = len(head) + os.path.getsize(file_path) + len(tail)

        def body():
            yield head
            with open(file_path, "rb") as f:
                while piece := f.read(1 << 20):
                    yield piece
            yield tail

        host = self.base.split("//", 1)[1]
        connection = http.client.HTTPConnection(host, timeout=3600)
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        connection.request(
            "POST",
            path,
            body=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(size),
                "Cookie": cookie,
                "Origin": self.base,
            },
        )
        response = connection.getresponse()
        text = response.read()
        if response.status != 201:
            raise SystemExit(f"upload: {response.status} {text[:500]!r}")
        return json.loads(text)


def counter(files, path):
    with urllib.request.urlopen(files + path) as response:
        return int(response.read())


def timed(fn, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times):
    return statistics.median(times), min(times), max(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="http://127.0.0.1:8080")
    parser.add_argument("--files", default="http://127.0.0.1:8765")
    parser.add_argument("--key", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big", default="big.parquet")
    parser.add_argument("--trips", default="trips.parquet")
    parser.add_argument("--skip-fetch", action="store_true")
    args = parser.parse_args()
    client = Client(args.server, args.key)
    conversation = client.call("POST", "/conversations")["id"]
    lines = []

    # Fetch: adding the big remote Parquet, then a one-column query on it.
    if not args.skip_fetch:
        fetch(client, args, conversation)
    engine(client, args, conversation)


def fetch(client, args, conversation):
    lines = []
    big = os.path.join(args.data, args.big)
    size = os.path.getsize(big)
    counter(args.files, "/__reset")
    started = time.perf_counter()
    added = client.call("POST", f"/conversations/{conversation}/datasets", {"url": f"{args.files}/{args.big}", "name": "big"})
    add_ms = (time.perf_counter() - started) * 1000
    add_bytes = counter(args.files, "/__reset")
    meta = pq.ParquetFile(big).metadata
    fare = meta.schema.to_arrow_schema().get_field_index("fare")
    column_bytes = sum(meta.row_group(i).column(fare).total_compressed_size for i in range(meta.num_row_groups))
    client.call("POST", f"/conversations/{conversation}/query", {"sql": "SELECT sum(fare) FROM big"})
    query_bytes = counter(args.files, "/__reset")
    lines += [
        "### Fetch (remote Parquet over HTTP range requests)",
        "",
        "| Measure | Value |",
        "|---|---|",
        f"| File size | {size:,} bytes ({added['dataset']['row_count']:,} rows, {meta.num_row_groups} row groups) |",
        f"| Bytes transferred to add it | {add_bytes:,} ({100 * add_bytes / size:.4f} % of the file) |",
        f"| Time to add it | {add_ms:.0f} ms |",
        f"| Bytes for `SELECT sum(fare) FROM big` | {query_bytes:,} |",
        f"| Compressed size of the `fare` column chunks | {column_bytes:,} ({query_bytes / column_bytes:.2f}× of it read) |",
        "",
    ]

    print("\n".join(lines), flush=True)


def engine(client, args, conversation):
    lines = []
    # Engine: the same filtered aggregate through the SQL runner and in DuckDB, on the same local file.
    trips = os.path.join(args.data, args.trips)
    client.upload(f"/conversations/{conversation}/datasets/upload", trips, "trips")
    sql = "SELECT count(*) AS n, sum(fare) AS total FROM {t} WHERE fare > 20"
    ours = sql.format(t="trips")
    client.call("POST", f"/conversations/{conversation}/query", {"sql": ours})  # warm-up
    tabletalk = timed(lambda: client.call("POST", f"/conversations/{conversation}/query", {"sql": ours}), args.runs)
    con = duckdb.connect()
    theirs = sql.format(t=f"read_parquet('{trips}')")
    con.execute(theirs).fetchall()
    duck = timed(lambda: con.execute(theirs).fetchall(), args.runs)
    t_med, t_min, t_max = summary(tabletalk)
    d_med, d_min, d_max = summary(duck)
    lines += [
        f"### Engine: filtered one-column aggregate over {pq.ParquetFile(trips).metadata.num_rows:,} rows ({args.runs} runs)",
        "",
        f"`{sql.format(t='t')}`",
        "",
        "| Engine | median ms | min ms | max ms |",
        "|---|---|---|---|",
        f"| Tabletalk SQL runner (HTTP end to end, result cache off) | {t_med:.1f} | {t_min:.1f} | {t_max:.1f} |",
        f"| DuckDB {duckdb.__version__} in process | {d_med:.1f} | {d_min:.1f} | {d_max:.1f} |",
        "",
        f"Ratio Tabletalk / DuckDB (medians): **{t_med / d_med:.2f}×**",
        "",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
