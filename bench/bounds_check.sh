#!/usr/bin/env bash
# bounds_check.sh — the price of explicit bounds checks (issue 14): the six
# bench/kernels guests (compare.sh part 2) run in a guard-page slot (wasm2c's
# guard-page code) and in a small slot (built with
# -DWASM_RT_MEMCHECK_BOUNDS_CHECK=1, every access compared with the memory's
# size), both at tier 1 (cc -O2, what a module runs after tier-up).
#
#   bench/bounds_check.sh [--rounds R] [--div D] [BUILD_DIR]
#
# R rounds (default 3); in each, every kernel runs once per class, the two
# classes alternating who goes first, 7 timed bench(N) calls after 2 warm-up
# calls in one process (the guest's own median, bench/kernels/main.c). N is
# compare.sh's full size divided by D (default 1). Prints, per kernel, the
# median over rounds of each class's median, the fastest call of each class,
# and small / guarded of both; a ratio above 1 is the checks' cost. The checksums of both classes must agree.
# The kernels' .wasm come from compare.sh's build (target
# wasmpool-compare-deps, built here if missing).
set -euo pipefail
ROUNDS=3
DIV=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift ;;
    --div) DIV=$2; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) BUILD=$1 ;;
  esac
  shift
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${BUILD:-$ROOT/build}" && pwd)
CMP=$BUILD/compare
KBIN=$BUILD/bin/wasmpool-compare-kernel
KERNELS="fib:1200 matmul:2000 sha256:2500 sort:70 nbody:1200 strsearch:90"
if [[ ! -x $KBIN || ! -f $CMP/strsearch.wasm ]]; then
  echo "building wasmpool-compare-kernel and wasmpool-compare-deps in $BUILD" >&2
  nice cmake --build "$BUILD" -j2 --target wasmpool-compare-kernel wasmpool-compare-deps >/dev/null
fi
CACHE=$(mktemp -d /tmp/wasmpool-bounds.XXXXXX)
trap 'rm -rf "$CACHE"' EXIT
OUT=$CACHE/results.txt

echo "date=$(date -u +%FT%TZ) cpu=\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\" cpus=$(nproc)"
echo "loadavg_before=\"$(cut -d' ' -f1-3 /proc/loadavg)\" rounds=$ROUNDS div=$DIV cc=\"$(cc --version | head -1)\""
run() { # CLASS KERNEL N ROUND
  local line
  line=$("$KBIN" --tier 1 --slots "$1" "$CMP/$2.wasm" "$CACHE" "$3" 7 2 | tr '\n' ' ')
  [[ $line == *"bounds_checked=$([[ $1 == small ]] && echo 1 || echo 0)"* ]] ||
    { echo "$2 in $1 slots did not run the expected build: $line" >&2; exit 1; }
  echo "class=$1 kernel=$2 round=$4 $line" | tee -a "$OUT"
}
for round in $(seq "$ROUNDS"); do
  for entry in $KERNELS; do
    k=${entry%%:*}
    n=$(( ${entry##*:} / DIV ))
    if (( round % 2 == 1 )); then run guarded "$k" "$n" "$round"; run small "$k" "$n" "$round";
    else run small "$k" "$n" "$round"; run guarded "$k" "$n" "$round"; fi
  done
done
echo "loadavg_after=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
python3 - "$OUT" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    rows.setdefault(kv["kernel"], {}).setdefault(kv["class"], []).append(
        (int(kv["median_ns"]), int(kv["min_ns"]), kv["checksum"]))
# Medians of the per-process medians, and the fastest call seen (less
# disturbed by other load on a shared machine).
print(f"{'kernel':<10} {'guarded ms':>11} {'small ms':>9} {'ratio':>6}"
      f" {'guarded min':>12} {'small min':>10} {'ratio':>6}")
for kernel, by in rows.items():
    sums = {c for runs in by.values() for _, _, c in runs}
    if len(sums) != 1:
        sys.exit(f"{kernel}: checksums differ between classes: {sums}")
    g = statistics.median(t for t, _, _ in by["guarded"]) / 1e6
    s = statistics.median(t for t, _, _ in by["small"]) / 1e6
    gm = min(m for _, m, _ in by["guarded"]) / 1e6
    sm = min(m for _, m, _ in by["small"]) / 1e6
    print(f"{kernel:<10} {g:>11.2f} {s:>9.2f} {s / g:>6.3f} {gm:>12.2f} {sm:>10.2f} {sm / gm:>6.3f}")
PY
