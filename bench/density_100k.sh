#!/usr/bin/env bash
# density_100k.sh — issue 14's density figures side by side in one run:
# wasmpoold holding up to 100,000 live instances of bench/density.wat over
# its API (bench/density_api.py, configs/dense.toml), then V8 in node holding
# instances of the same bytes until it cannot make more or reaches 100,000
# (bench/compare/v8_density.cjs). Every instance has written one byte.
#
#   bench/density_100k.sh [--counts 10000,50000,100000]
#
# Raises vm.max_map_count to 1,048,576 for the run (each live instance holds
# 3 mappings; the default 65,530 stops the daemon near 21,000) and sets it
# back to what it was on exit. Needs root for that, a build in $BUILD_DIR
# (default <repo>/build) and node.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
COUNTS=10000,50000,100000
if [[ ${1:-} == --counts ]]; then COUNTS=$2; fi
old_maps=$(sysctl -n vm.max_map_count)
trap 'sysctl -q vm.max_map_count="$old_maps"' EXIT
sysctl -q vm.max_map_count=1048576
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/bench/density_api.py" --build "$BUILD_DIR" --counts "$COUNTS"
v8_counts=$(tr , ' ' <<<"$COUNTS")
node --expose-gc "$ROOT/bench/compare/v8_density.cjs" "$BUILD_DIR/bench/density.wasm" \
  1000 5000 $v8_counts
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
