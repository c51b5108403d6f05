#!/usr/bin/env bash
# One command for the measurements so far: builds the release binary, installs the Python helpers into a local
# virtual environment, generates deterministic data, starts the fixture file server, a zero-latency
# OpenAI-compatible model and Tabletalk on 127.0.0.1, runs bench/datasets.py and bench/chat.py, and stops everything.
#   bench/run.sh            full run (10 M rows, 1 GB remote Parquet, 5 runs, 10,000 sockets)
#   bench/run.sh --quick    tiny data, one run (keeps the scripts from rotting)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; [[ "${1:-}" == "--quick" ]] && quick=1
work="${BENCH_DIR:-$PWD/bench-work}"
mkdir -p "$work/data" "$work/server"
venv="$work/venv"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install -q pyarrow duckdb numpy websockets polars
py="$venv/bin/python"
if (( quick )); then rows=20000; big=5e6; runs=1; turns=5; sockets=100; else rows=10000000; big=1e9; runs=5; turns=200; sockets=10000; fi
[[ -f "$work/data/trips.parquet" ]] || "$py" bench/generate.py --rows "$rows" --out "$work/data/trips.parquet"
[[ -f "$work/data/big.parquet" ]] || "$py" bench/generate.py --target-bytes "$big" --out "$work/data/big.parquet"
cargo build --release --bin tabletalk
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
"$py" bench/file_server.py --root "$work/data" --port 8765 & pids+=($!)
"$py" bench/fake_llm.py --port 8766 & pids+=($!)
key=bench-key-0123456789
rm -f "$work/server/tabletalk.db"*
(cd "$work/server" && TABLETALK__AUTH__LOCAL_ACCESS_KEY=$key TABLETALK__SERVER__PORT=8181 \
  TABLETALK__DATASETS__ALLOWED_CIDRS=127.0.0.1/32 TABLETALK__QUERY__RESULT_CACHE_ENTRIES=0 \
  TABLETALK__DATASETS__MAX_UPLOAD_BYTES=2GiB TABLETALK__STORAGE__CACHE_MAX_BYTES=4GiB \
  TABLETALK__LLM__PROVIDER=openai TABLETALK__LLM__BASE_URL=http://127.0.0.1:8766 TABLETALK__LLM__MODEL=m \
  TABLETALK__BUDGET__TOKEN_LIMIT=1000000000 TABLETALK__WEBSOCKET__MAX_CONNECTIONS_PER_USER=1000 \
  exec "$OLDPWD/target/release/tabletalk") & pids+=($!)
server_pid=${pids[-1]}
for _ in $(seq 100); do curl -sf http://127.0.0.1:8181/health >/dev/null && break; sleep 0.2; done
echo "## Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
"$py" bench/datasets.py --server http://127.0.0.1:8181 --files http://127.0.0.1:8765 --key $key \
  --data "$work/data" --runs "$runs"
(cd bench && "$py" engine.py --server http://127.0.0.1:8181 --key $key --data "$work/data" --runs "$runs")
(cd bench && "$py" chat.py --server http://127.0.0.1:8181 --key $key --pid "$server_pid" \
  --turns "$turns" --sockets "$sockets" --db "$work/server/tabletalk.db")
