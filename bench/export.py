"""Result export of 100,000 rows × 10 columns as CSV, XLSX and Parquet (issue: the SQL workspace): time of
`POST /export/<format>` end to end (the client sends the rows as JSON and reads the whole file), the file size, and
the server's peak RSS during each export (`VmHWM`, reset through /proc/<pid>/clear_refs before each run).

Usage: export.py --binary target/release/tabletalk --work DIR [--rows 100000 --runs 5]
"""
import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import time

from common import Client, cell, proc_kib

KEY = "bench-key-0123456789"
PORT = 8183


def rows(n, rng):
    cities = ["Zürich", "Lyon", "Nice", "Paris", "Kraków", "Oslo", "Porto", "Graz"]
    return [
        [
            i,
            round(rng.random() * 1000, 3),
            rng.choice(cities),
            rng.random() < 0.5,
            None if i % 17 == 0 else rng.randint(-10**6, 10**6),
            f"note {i}: " + "x" * rng.randint(0, 40),
            f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
            rng.random(),
            "=SUM(A1:A2)" if i % 1000 == 0 else "plain",
            [i, "nested"] if i % 100 == 0 else i * 2,
        ]
        for i in range(n)
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    home = os.path.join(args.work, "export-server")
    subprocess.run(["rm", "-rf", home], check=True)
    os.makedirs(home)
    env = dict(os.environ, TABLETALK__AUTH__LOCAL_ACCESS_KEY=KEY, TABLETALK__SERVER__PORT=str(PORT),
               TABLETALK__SERVER__MAX_LARGE_JSON_BODY="256MiB")
    server = subprocess.Popen([args.binary], cwd=home, env=env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(home, "server.log"), "w"))
    try:
        for _ in range(600):
            try:
                http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/health")
                break
            except OSError:
                time.sleep(0.1)
        client = Client(f"http://127.0.0.1:{PORT}", KEY)
        columns = ["id", "amount", "city", "flag", "maybe", "note", "at", "ratio", "formula", "mixed"]
        body = json.dumps({"columns": columns, "rows": rows(args.rows, random.Random(7)),
                           "filename": "bench export"}).encode()
        headers = {"Cookie": f"session_token={client.token}", "Content-Type": "application/json"}
        idle = proc_kib(server.pid, "VmRSS")
        lines = [
            "### Result export (`bench/export.py`)",
            "",
            f"{args.rows:,} rows × {len(columns)} columns (integers, floats, text, booleans, nulls, dates as text, "
            f"formula-looking text, nested arrays); request body {len(body) / 1e6:.1f} MB of JSON; {args.runs} runs "
            f"after a warm-up; idle server {idle / 1024:.0f} MiB.",
            "",
            "| Format | Time ms | File MB | Server peak RSS during the export, MiB |",
            "|---|---|---|---|",
        ]
        for fmt in ["csv", "xlsx", "parquet"]:
            times, peaks, size = [], [], 0
            for run in range(args.runs + 1):
                with open(f"/proc/{server.pid}/clear_refs", "w") as f:
                    f.write("5")
                connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
                started = time.perf_counter()
                connection.request("POST", f"/export/{fmt}", body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 200:
                    raise SystemExit(f"{fmt}: {response.status} {data[:300]}")
                if run > 0:
                    times.append(elapsed)
                    peaks.append(proc_kib(server.pid, "VmHWM") / 1024)
                size = len(data)
            lines.append(f"| {fmt.upper()} | {cell(times, 0)} | {size / 1e6:.1f} | {cell(peaks, 0)} |")
        print("\n".join(lines))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
