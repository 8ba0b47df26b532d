#!/usr/bin/env bash
# bounds_check.sh — the price of explicit bounds checks (issue 14): the six
# C kernels of bench/kernels at tier 1 (cc -O2, what a module runs after
# tier-up), once in a guard-page slot (wasm2c relies on the guard region)
# and once in a small slot (no guard; wasm2c's WASM_RT_MEMCHECK_BOUNDS_CHECK
# code), in the same process type, interleaved, REPS processes each;
# median of each process's median, ratio small / guarded per kernel and the
# geometric mean.
#
#   bench/bounds_check.sh [REPS]      (default 5)
#
# Needs the kernels bench/compare.sh part 2 builds into $BUILD_DIR/compare
# (run `bench/compare.sh --parts 2 --quick` once if they are missing).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
REPS=${1:-5}
KBIN=$BUILD_DIR/bin/wasmpool-compare-kernel
CMP=$BUILD_DIR/compare
CACHE=$BUILD_DIR/bounds-cache
SMALL_MIB=256 # fits every kernel's memory
# The same kernels and N as bench/compare.sh part 2 (KERNELS there).
KERNELS="fib:1200 matmul:2000 sha256:2500 sort:70 nbody:1200 strsearch:90"
TIMED=5
WARM=1
mkdir -p "$CACHE"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$REPS"); do
  for entry in $KERNELS; do
    k=${entry%%:*}
    n=${entry##*:}
    [[ -f $CMP/$k.wasm ]] || { echo "missing $CMP/$k.wasm: run bench/compare.sh --parts 2 --quick" >&2; exit 1; }
    for class in guarded small; do
      extra=()
      [[ $class == small ]] && extra=(--small-slot-mib "$SMALL_MIB")
      line=$("$KBIN" --tier 1 "${extra[@]}" "$CMP/$k.wasm" "$CACHE" "$n" "$TIMED" "$WARM" | grep '^checksum=')
      echo "$k $class $rep $line" >>"$out"
    done
  done
done
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" "$REPS" <<'PY'
import collections, math, statistics, sys
rows = collections.defaultdict(list)
sums = collections.defaultdict(set)
for line in open(sys.argv[1]):
    k, cls, _rep, *fields = line.split()
    kv = dict(f.split("=", 1) for f in fields)
    rows[(k, cls)].append(int(kv["median_ns"]))
    sums[k].add(kv["checksum"])
print("| kernel | guard pages, ms | explicit checks, ms | checks / guard |")
print("|---|---:|---:|---:|")
ratios = []
for k in dict.fromkeys(k for k, _ in rows):
    g = statistics.median(rows[(k, "guarded")]) / 1e6
    s = statistics.median(rows[(k, "small")]) / 1e6
    ratios.append(s / g)
    same = "" if len(sums[k]) == 1 else " (checksums differ!)"
    print("| %s | %.2f | %.2f | %.2f%s |" % (k, g, s, s / g, same))
geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
print("| **geometric mean** | | | **%.2f** |" % geo)
print("(%s processes per cell, medians of each process's median)" % sys.argv[2])
PY
