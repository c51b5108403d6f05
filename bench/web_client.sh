#!/usr/bin/env bash
# The web client's budget in Debian's Chromium against the real binary (docs/benchmarks.md, "Web client"): initial
# JavaScript, opening and scrolling a 1,000-message conversation, frame gaps while an answer streams at 100
# tokens/s. Usage: bench/web_client.sh [path/to/tabletalk]   (default: the debug build; the client's frames do not
# depend on the server's optimisation level)
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-${CARGO_TARGET_DIR:-target}/debug/tabletalk}"
[[ -x $binary ]] || cargo build --bin tabletalk
(cd crates/web && [[ -d node_modules ]] || npm ci --no-audit --no-fund)
TABLETALK_BIN="$(realpath "$binary")" node crates/web/browser/bench.mjs
