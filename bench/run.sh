#!/usr/bin/env bash
# Every benchmark in one command (docs/benchmarks.md says what each measures and how):
#   bench/run.sh            release build, 10 M rows + its CSV + a 1 GB Parquet, 5 runs of everything; writes the
#                           results table and the machine description into docs/benchmarks.md
#   bench/run.sh --quick    debug build, tiny data, one run; writes only $BENCH_DIR/results.md (a smoke test that
#                           keeps the scripts from rotting; .ci/run calls it)
# Needs python3 (with venv), curl and wrk (installed with apt-get when missing). Python packages go into a virtual
# environment under $BENCH_DIR (default ./bench-work); data is generated there once and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick=0; [[ "${1:-}" == "--quick" ]] && quick=1
work="${BENCH_DIR:-$root/bench-work}"
mkdir -p "$work"
work=$(cd "$work" && pwd)
if (( quick )); then
  # The same targets as `cargo test --workspace`, so after the tests (as in .ci/run) nothing is compiled again.
  data="$work/quick-data"; rows=20000; big=5e6; runs=1; turns=5; sockets=100; seconds=2
  queries=50; users=5; load_seconds=5; timeout=5s; history=100; export_rows=1000
  build=(--workspace --all-targets)
else
  data="$work/data"; rows=10000000; big=1e9; runs=5; turns=200; sockets=10000; seconds=10
  queries=500; users=50; load_seconds=60; timeout=60s; history=10000; export_rows=100000
  build=(--release --bin tabletalk)
fi
mkdir -p "$data"
# Every idle WebSocket is a descriptor in the client and one in the server (both started from this shell); many
# machines default to a soft limit of 1,024.
needed=$(( sockets + 1024 ))
if (( $(ulimit -n) < needed )); then
  ulimit -n "$needed" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  (( $(ulimit -n) >= needed )) || {
    echo "bench: $sockets sockets need $needed open files, but the hard limit is $(ulimit -Hn) (raise it, e.g. in /etc/security/limits.conf)" >&2
    exit 1; }
fi

command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null ||
  { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || {
  echo "bench: wrk is missing and could not be installed (apt-get install wrk)" >&2; exit 1; }
venv="$work/venv"
if [[ ! -x "$venv/bin/pip" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv" || { rm -rf "$venv"
    echo "bench: python3 cannot make a virtual environment (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
"$venv/bin/pip" install -q --disable-pip-version-check pyarrow duckdb numpy websockets polars
py="$venv/bin/python"

if [[ ! -f "$data/trips.parquet" || ! -f "$data/trips.csv" ]]; then
  "$py" bench/generate.py --rows "$rows" --out "$data/trips.parquet" --csv "$data/trips.csv"
fi
[[ -f "$data/big.parquet" ]] || "$py" bench/generate.py --target-bytes "$big" --out "$data/big.parquet"
# TPC-H from the Rust port of the reference generator (crates.io), installed once.
command -v tpchgen-cli >/dev/null || cargo install --locked tpchgen-cli
if (( quick )); then sf=0.01; h2o_rows=20000; else sf=1; h2o_rows=10000000; fi
tpch="$data/tpch-sf$sf"
[[ -f "$tpch/lineitem.parquet" ]] || tpchgen-cli parquet -s "$sf" --output-dir="$tpch"

binary=$(cargo build "${build[@]}" --message-format=json-render-diagnostics | "$py" -c '
import json, sys
built = [m for m in map(json.loads, sys.stdin) if m.get("reason") == "compiler-artifact"]
# With --all-targets the binary is also built as its unit-test harness (same name and kind, profile.test set),
# in no fixed order; only the server itself will do.
print(next(m["executable"] for m in built if m["target"]["name"] == "tabletalk" and m["target"]["kind"] == ["bin"]
           and not m["profile"]["test"]))')

for port in 8181 8182 8183 8765 8766; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "bench: port $port is in use" >&2; exit 1; fi
done
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
files=http://127.0.0.1:8765 server=http://127.0.0.1:8181 key=bench-key-0123456789
"$py" bench/file_server.py --root "$data" --port 8765 & pids+=($!)
"$py" bench/fake_llm.py --port 8766 & pids+=($!)
rm -rf "$work/server"; mkdir -p "$work/server"
(cd "$work/server" && TABLETALK__AUTH__LOCAL_ACCESS_KEY=$key TABLETALK__SERVER__PORT=8181 \
  TABLETALK__DATASETS__ALLOWED_CIDRS=127.0.0.1/32 TABLETALK__QUERY__RESULT_CACHE_ENTRIES=0 \
  TABLETALK__DATASETS__MAX_UPLOAD_BYTES=2GiB TABLETALK__DATASETS__MAX_DOWNLOAD_BYTES=2GiB \
  TABLETALK__STORAGE__CACHE_MAX_BYTES=4GiB \
  TABLETALK__LLM__PROVIDER=openai TABLETALK__LLM__BASE_URL=http://127.0.0.1:8766 TABLETALK__LLM__MODEL=m \
  TABLETALK__BUDGET__TOKEN_LIMIT=1000000000 TABLETALK__WEBSOCKET__MAX_CONNECTIONS_PER_USER=1000 \
  TABLETALK__QUERY__TIMEOUT=$timeout TABLETALK__OBSERVABILITY__LOG_FORMAT=json \
  TABLETALK__OBSERVABILITY__LOG_LEVEL=info,tabletalk::query_worker=debug \
  exec "$binary" >server.log 2>&1) & pids+=($!)
server_pid=${pids[-1]}
for _ in $(seq 150); do
  curl -sf "$server/health" >/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
curl -sf "$server/health" >/dev/null || {
  echo "bench: the server ($binary) did not start; the end of $work/server/server.log:" >&2
  tail -n 20 "$work/server/server.log" >&2; exit 1; }
for _ in $(seq 50); do curl -sf "$files/__bytes" >/dev/null && break; sleep 0.2; done

idle_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
results="$work/results.md"
{
  . /etc/os-release
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') at commit \`$(git rev-parse --short HEAD)\` by \`bench/run.sh$([[ $quick == 1 ]] && echo ' --quick')\`."
  echo
  echo "| Machine | |"
  echo "|---|---|"
  echo "| CPU | $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available |"
  echo "| Memory | $(free -g | awk '/Mem:/{print $2}') GiB |"
  echo "| System | $PRETTY_NAME, Linux $(uname -r) |"
  echo "| Tabletalk | $(rustc --version | cut -d' ' -f1-2), $([[ $quick == 1 ]] && echo 'debug build' || echo 'release profile (opt-level 3, no LTO, default codegen units)') |"
  echo "| Compared with | $("$py" -c 'import duckdb, polars, pyarrow; print(f"DuckDB {duckdb.__version__}, Polars {polars.__version__}, pyarrow {pyarrow.__version__}")') (in process) |"
  echo
  echo "Everything runs on this one machine over 127.0.0.1: the server, the file server, the fake model and the"
  echo "clients share its cores. Cells are median (min–max) of $runs run(s); ratios compare medians."
  echo
  cd bench
  "$py" fetch.py --server "$server" --files "$files" --key $key --data "$data" --runs "$runs"
  "$py" engine.py --server "$server" --key $key --data "$data" --runs "$runs"
  "$py" standard.py --server "$server" --key $key --tpch "$tpch" --h2o "$data/h2o-$h2o_rows.parquet" \
    --h2o-rows "$h2o_rows" --runs "$runs"
  "$py" remote_rerun.py --server "$server" --key $key --files "$files" --path "tpch-sf$sf" --tpch "$tpch" \
    --runs "$runs"
  "$py" isolation.py --server "$server" --key $key --log "$work/server/server.log" --runs "$runs" --queries "$queries"
  "$py" throughput.py --server "$server" --key $key --runs "$runs" --seconds "$seconds"
  "$py" chat.py --server "$server" --key $key --pid "$server_pid" --runs "$runs" --turns "$turns" \
    --sockets "$sockets" --db "$work/server/tabletalk.db"
  "$py" load.py --server "$server" --key $key --pid "$server_pid" --db "$work/server/tabletalk.db" --files "$files" \
    --data "$data" --users "$users" --seconds "$load_seconds"
  "$py" memory.py --server "$server" --key $key --pid "$server_pid" --data "$data" --runs "$runs" --rows "$rows" \
    --idle-kib "$idle_kib"
  "$py" history.py --binary "$binary" --work "$work" --conversations "$history" --rounds "$(( runs < 3 ? runs : 3 ))"
  "$py" export.py --binary "$binary" --work "$work" --rows "$export_rows" --runs "$runs"
} | tee "$results"
if (( ! quick )); then
  "$py" bench/publish.py --results "$results" --doc docs/benchmarks.md
  echo "bench: results written into docs/benchmarks.md"
fi
