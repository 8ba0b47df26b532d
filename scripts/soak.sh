#!/usr/bin/env bash
# soak.sh — the long variants of the reliability tests (tests/reliability,
# docs/RELIABILITY.md) against an already built tree.
#
#   scripts/soak.sh --minutes N [--build DIR] [--isolation-rounds R] [--crash-cycles C]
#
#   --minutes N           fault soak for N minutes instead of 300,000 requests
#   --build DIR           build tree with bin/ and examples/ (default build)
#   --isolation-rounds R  plant/scan rounds per isolation config (default: skip)
#   --crash-cycles C      kill -9 / restart cycles (default: skip)
#
# The same checks as the default run apply (per-kind accounting, no slot in
# use, VmRSS within 10% of the warm-up figure). Exits non-zero on a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=""
build=build
rounds=""
cycles=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --isolation-rounds) rounds="$2"; shift 2 ;;
    --crash-cycles) cycles="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
case "$minutes" in
  ''|*[!0-9]*|0) echo "soak.sh: --minutes N (a positive whole number) is required" >&2; exit 2 ;;
esac
for bin in wasmpoold wasmpool-bench; do
  if [ ! -x "$build/bin/$bin" ]; then
    echo "soak.sh: $build/bin/$bin not found; build first (cmake --build $build)" >&2
    exit 2
  fi
done

build=$(cd "$build" && pwd)
cache="$build/tests/integration-cache"
mkdir -p "$cache"
export ASAN_OPTIONS="${ASAN_OPTIONS:-allow_user_segv_handler=1:detect_leaks=1}"
export PYTHONDONTWRITEBYTECODE=1
common=(--bin-dir "$build/bin" --examples "$build/examples" --cache-dir "$cache")

cd tests/reliability
python3 test_soak.py "${common[@]}" --soak-seconds $((minutes * 60)) Soak.test_soak_bench
if [ -n "$rounds" ]; then
  python3 test_isolation.py "${common[@]}" --isolation-rounds "$rounds"
fi
if [ -n "$cycles" ]; then
  python3 test_crash.py "${common[@]}" --crash-cycles "$cycles"
fi
