#!/usr/bin/env bash
# density_100k.sh — issue 14's density figures side by side in one run:
#   1. 100,000 live instances of bench/density.wat held by one wasmpoold,
#      created over its API (bench/density_api.py, configs/dense.toml);
#   2. V8 (the system node) instantiating the same bytes until it refuses
#      one or holds 100,000 (bench/density_v8.cjs).
# Each instance has written one byte. Prints key=value lines, the load
# average before and after, and a summary line per engine.
#
#   bench/density_100k.sh [BUILD_DIR] [COUNT]      (default: build 100000)
#
# Runs as root: density_api.py raises vm.max_map_count for the run (3
# mappings per live instance; the default 65,530 holds ~21,000) and sets it
# back to the value it found when it ends.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
COUNT=${2:-100000}
WASM=$BUILD/bench/density.wasm
[[ -f $WASM && -x $BUILD/bin/wasmpoold ]] || { echo "build $BUILD first (needs bin/wasmpoold, bench/density.wasm)" >&2; exit 2; }

echo "date=$(date -u +%FT%TZ) host_cpus=$(nproc) loadavg_before=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
echo "kernel=$(uname -r) node=$(node --version) git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
echo "vm.max_map_count=$(cat /proc/sys/vm/max_map_count) (before)"

echo "== wasmpoold over its API: $COUNT instances"
python3 "$ROOT/bench/density_api.py" --build "$BUILD" --count "$COUNT" --step $((COUNT / 10))

echo "== V8 (node): up to $COUNT instances"
node --expose-gc "$ROOT/bench/density_v8.cjs" "$WASM" "$COUNT" $((COUNT / 10))

echo "vm.max_map_count=$(cat /proc/sys/vm/max_map_count) (after)"
echo "loadavg_after=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
