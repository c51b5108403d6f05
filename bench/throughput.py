"""HTTP: authenticated `GET /conversations` throughput and latency at 64 connections, measured by wrk (two threads)
with the session cookie of the benchmark user.

    python bench/throughput.py --server URL --key KEY --runs 5 --seconds 10
"""
import argparse
import re
import subprocess

from common import Client, cell

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def milliseconds(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * UNITS[unit]


def wrk(url, token, connections, seconds):
    """(requests per second, p50 ms, p99 ms, non-2xx answers) of one wrk run."""
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Cookie: session_token={token}", url],
        check=True, capture_output=True, text=True,
    ).stdout
    throughput = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return throughput, p50, p99, int(failed.group(1)) if failed else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    client = Client(args.server, args.key)
    listed = len(client.call("GET", "/conversations")["conversations"])
    results = [wrk(f"{args.server}/conversations", client.token, args.connections, args.seconds) for _ in range(args.runs)]
    failed = sum(r[3] for r in results)
    if failed:
        raise SystemExit(f"wrk: {failed} answers were not 2xx — the measurement is not of GET /conversations")
    print(f"### HTTP: `GET /conversations` ({listed} conversations listed), {args.connections} connections, "
          f"wrk 2 threads on the same machine, {args.runs} runs of {args.seconds} s\n")
    print("| Requests/s | p50 ms | p99 ms |\n|---|---|---|")
    print(f"| {cell([r[0] for r in results], 0)} | {cell([r[1] for r in results], 2)} | {cell([r[2] for r in results], 2)} |\n",
          flush=True)


if __name__ == "__main__":
    main()
