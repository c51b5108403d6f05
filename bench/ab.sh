#!/usr/bin/env bash
# A/B of two Tabletalk binaries (bench/ab.py says what it measures), with the data and virtual environment of a
# previous `bench/run.sh` (same BENCH_DIR):
#   bench/ab.sh BEFORE_BINARY AFTER_BINARY [ROUNDS]
# To build a "before" binary of an earlier commit without rebuilding DataFusion, check the commit out in a git
# worktree and build it with this clone's CARGO_TARGET_DIR, keeping each binary under a name of its own.
set -euo pipefail
cd "$(dirname "$0")"
work="${BENCH_DIR:-$PWD/../bench-work}"
py="$work/venv/bin/python"
[[ -x "$py" && -f "$work/data/big.parquet" ]] || { echo "ab: run bench/run.sh first (BENCH_DIR=$work)" >&2; exit 1; }
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$py" file_server.py --root "$work/data" --port 8765 & pids+=($!)
"$py" fake_llm.py --port 8766 & pids+=($!)
for _ in $(seq 50); do curl -sf http://127.0.0.1:8765/__bytes >/dev/null && break; sleep 0.2; done
"$py" ab.py --a "$1" --b "$2" --data "$work/data" --files http://127.0.0.1:8765 --rounds "${3:-2}" \
  --work "$work/ab"
