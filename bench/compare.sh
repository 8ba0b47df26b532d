#!/usr/bin/env bash
# compare.sh — the side-by-side comparison suite (issue 5): one command that
# builds what it needs, measures wasmpool against what users would run
# instead, and rewrites the comparison section of docs/BENCHMARKS.md (between
# <!-- compare:begin --> and <!-- compare:end -->) with tables and SVG charts
# (docs/bench/compare-*.svg), each target marked met or not met.
#
#   bench/compare.sh [--quick] [--parts 1,2,3,4]
#
#   1. instantiate + release latency: wasmpool warm / cold slot, wasm2c's
#      stock runtime, V8; a 1 MiB-image module and a no-data module
#   2. guest speed: six C kernels on wasmpool (tier 1 with gcc, as deployed
#      after tier-up), V8, wasm-interp and native; the same kernels on
#      wasmpool's tier 0 (tcc) and on tier 1 with clang-19 instead of gcc;
#      and their auto-vectorised builds (-O3 -msimd128) on wasmpool's
#      tier 1 (gcc and clang-19) and V8
#   3. end to end over a Unix socket: wasmpool-bench against wasmpoold, a
#      node server instantiating V8 per request, and nginx's static 200
#   4. density: RSS with 1, 1,000 and 10,000 live instances
#
# --quick: small sizes and one repetition, for a smoke test (about 1-2 min);
# its figures are not the ones to quote. The full run takes about 20 min on
# 2 cores. --parts runs only the parts listed (the report then says "not
# run" for the others: use it with NO_DOC=1).
#
# Environment: BUILD_DIR (default <repo>/build), BENCH_DOC (default
# <repo>/docs/BENCHMARKS.md), NO_DOC=1 (measure, but leave the doc alone).
# Raw output of every command, with the command line, is kept in
# $BUILD_DIR/compare/run-<time>/results.tsv; the report is made from it.
set -euo pipefail

QUICK=0
PARTS=1,2,3,4
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --parts) PARTS=$2; shift ;;
    -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
want() { [[ ,$PARTS, == *,$1,* ]]; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)
DOC=${BENCH_DOC:-$ROOT/docs/BENCHMARKS.md}
BIN=$BUILD/bin
CMP=$BUILD/compare
EXAMPLES=$BUILD/examples
SRC=$ROOT/bench/compare

log() { printf '[compare %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---- build -----------------------------------------------------------------
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  log "configuring $BUILD"
  cmake -S "$ROOT" -B "$BUILD" >/dev/null
fi
log "building (cmake --build $BUILD --target wasmpool-compare-deps wasmpoold wasmpool-bench)"
cmake --build "$BUILD" -j2 --target wasmpool-compare-deps wasmpoold wasmpool-bench >/dev/null

RUN=$CMP/run-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN"
RESULTS=$RUN/results.tsv
: >"$RESULTS"
# Sockets live under /tmp: sun_path is 108 bytes, a build path may be longer.
SOCKDIR=$(mktemp -d /tmp/wasmpool-compare.XXXXXX)
CACHE=$CMP/cache
mkdir -p "$CACHE"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  done
  if [[ -s $SOCKDIR/nginx/nginx.pid ]]; then kill "$(cat "$SOCKDIR/nginx/nginx.pid")" 2>/dev/null || true; fi
  sleep 0.3
  rm -rf "$SOCKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record PART LABEL CMD... — runs CMD, appends "part label status cmd output"
# (tab-separated; output lines joined with " | ") to results.tsv.
record() {
  local part=$1 label=$2 status=0 out
  shift 2
  out=$("$@" 2>>"$RUN/stderr.log") || status=$?
  out=$(printf '%s' "$out" | tr '\t' ' ' | awk 'BEGIN{ORS=""} NR>1{print " | "} {print}')
  printf '%s\t%s\t%s\t%s\t%s\n' "$part" "$label" "$status" "$*" "$out" >>"$RESULTS"
  if [[ $status -ne 0 ]]; then log "FAILED ($status): $*"; fi
  return 0
}
meta() { printf 'meta\t%s\t0\t%s\t%s\n' "$1" "${3:-}" "$2" >>"$RESULTS"; }

# ---- the machine -------------------------------------------------------------
meta cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs" "lscpu; nproc"
meta memory "$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)" "/proc/meminfo"
meta kernel "$(uname -sr)" "uname -sr"
meta os "$(. /etc/os-release && echo "$PRETTY_NAME")" "/etc/os-release"
meta node "$(node --version) (V8 $(node -p process.versions.v8))" "node --version"
meta cc "$(cc --version | head -1)" "cc --version"
meta clang "$(clang --version | head -1)" "clang --version"
meta clang19 "$( (clang-19 --version 2>/dev/null || echo 'not installed') | head -1)" "clang-19 --version"
meta tcc "$(tcc -v 2>&1 | head -1)" "tcc -v"
meta wabt_toolroot "$(awk '$1 == "wabt" { print $2 }' "$ROOT/.toolroot/VERSIONS" 2>/dev/null)" ".toolroot/VERSIONS"
meta wabt "$(wasm2c --version)" "wasm2c --version"
meta nginx "$( (nginx -v 2>&1 || echo 'not installed') | head -1)" "nginx -v"
meta load_start "$(cut -d' ' -f1-3 /proc/loadavg)" "/proc/loadavg"
meta mode "$([[ $QUICK == 1 ]] && echo quick || echo full)" "bench/compare.sh"
meta started "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "date -u"

# ---- 1. instantiate + release ---------------------------------------------------
if [[ $QUICK == 1 ]]; then
  REPS=1; WARM_N=2000; COLD_N=1000; STOCK_N=300; V8_N=300
else
  REPS=5; WARM_N=20000; COLD_N=5000; STOCK_N=2000; V8_N=2000
fi
want 1 && log "part 1: instantiate + release ($REPS runs of each)"
want 1 && for rep in $(seq "$REPS"); do
  for module in bigdata nodata; do
    wasm=$EXAMPLES/bigdata.wasm
    [[ $module == nodata ]] && wasm=$CMP/nodata.wasm
    record p1 "$module/wasmpool-warm" "$BIN/wasmpool-compare-instantiate" "$wasm" warm "$WARM_N" "$CACHE"
    record p1 "$module/wasmpool-cold" "$BIN/wasmpool-compare-instantiate" "$wasm" cold "$COLD_N" "$CACHE"
    record p1 "$module/wasm2c-stock" "$BIN/wasmpool-compare-stock-$module" "$STOCK_N"
    record p1 "$module/v8" node "$SRC/v8_instantiate.cjs" "$wasm" "$V8_N"
  done
done

# ---- 2. guest speed -------------------------------------------------------------
# name:N at full size (about 0.1-0.3 s natively per bench(N) call).
KERNELS="fib:1200 matmul:2000 sha256:2500 sort:70 nbody:1200 strsearch:90"
if [[ $QUICK == 1 ]]; then
  KREPS=1; KTIMED=3; KWARM=1; KDIV=10
else
  KREPS=3; KTIMED=7; KWARM=2; KDIV=1
fi
interp_kernel() { # FILE: wasm-interp's CPU time (user+sys) and checksum
  local out real user sys
  out=$( { TIMEFORMAT='%R %U %S'; time wasm-interp --run-all-exports "$1" 2>&1; } 2>"$RUN/time.tmp" )
  read -r real user sys <"$RUN/time.tmp"
  awk -v c="${out##*i32:}" -v r="$real" -v u="$user" -v s="$sys" \
    'BEGIN{printf "checksum=%u wall_ns=%.0f cpu_ns=%.0f\n", c, r*1e9, (u+s)*1e9}'
}
# Tier 1's second compiler, measured against cc (gcc) in the same run.
CC2=clang-19
command -v "$CC2" >/dev/null 2>&1 || CC2=""
meta p2_cc2 "${CC2:-none}" "command -v clang-19"
# How many SIMD instructions each -msimd128 build holds (0: nothing vectorised).
OBJDUMP=("$ROOT/.toolroot/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path
         "$ROOT/.toolroot/root/usr/lib/x86_64-linux-gnu" "$ROOT/.toolroot/root/usr/bin/wasm-objdump")
if want 2; then
  for entry in $KERNELS; do
    k=${entry%%:*}
    ops=$("${OBJDUMP[@]}" -d "$CMP/$k-simd.wasm" 2>/dev/null |
            grep -cE 'v128|i8x16|i16x8|i32x4|i64x2|f32x4|f64x2' || true)
    meta "simd_ops_$k" "${ops:-0}" "wasm-objdump -d $k-simd.wasm | grep -c <SIMD opcodes>"
  done
fi
KBIN=$BIN/wasmpool-compare-kernel
want 2 && log "part 2: guest speed ($KREPS processes x $KTIMED timed runs per engine and kernel)"
want 2 && for rep in $(seq "$KREPS"); do
  for entry in $KERNELS; do
    k=${entry%%:*}
    n=$(( ${entry##*:} / KDIV ))
    record p2 "$k/native" "$CMP/native-$k" "$n" "$KTIMED" "$KWARM"
    # wasmpool = tier 1 with cc (gcc), what a module runs after tier-up.
    record p2 "$k/wasmpool" "$KBIN" --tier 1 "$CMP/$k.wasm" "$CACHE" "$n" "$KTIMED" "$KWARM"
    record p2 "$k/v8" node --no-warnings "$SRC/v8_kernel.cjs" "$CMP/$k.wasm" "$n" "$KTIMED" "$KWARM"
    # Tier 0 runs 1/10 of N (tcc's code is up to ~20x slower), 3 timed
    # calls after 1 warm-up; the report scales its time to N (work is linear
    # in N, kernel.h) and marks it so.
    n0=$(( n / 10 > 0 ? n / 10 : 1 ))
    record p2 "$k/wasmpool-t0" "$KBIN" --tier 0 "$CMP/$k.wasm" "$CACHE" "$n0" 3 1
    [[ $rep == 1 ]] && record p2 "$k/native@$n0" "$CMP/native-$k" "$n0" 1 0
    [[ -n $CC2 ]] && record p2 "$k/wasmpool-$CC2" "$KBIN" --tier 1 --cc "$CC2" "$CMP/$k.wasm" \
      "$CACHE" "$n" "$KTIMED" "$KWARM"
    # The -msimd128 build: V8 and wasmpool alternate who goes first.
    simd_wp() { record p2 "$k/simd-wasmpool" "$KBIN" --tier 1 "$CMP/$k-simd.wasm" "$CACHE" "$n" "$KTIMED" "$KWARM"; }
    simd_v8() { record p2 "$k/simd-v8" node --no-warnings "$SRC/v8_kernel.cjs" "$CMP/$k-simd.wasm" "$n" "$KTIMED" "$KWARM"; }
    if (( rep % 2 == 1 )); then simd_wp; simd_v8; else simd_v8; simd_wp; fi
    [[ -n $CC2 ]] && record p2 "$k/simd-wasmpool-$CC2" "$KBIN" --tier 1 --cc "$CC2" \
      "$CMP/$k-simd.wasm" "$CACHE" "$n" "$KTIMED" "$KWARM"
    interp=$(ls -t "$CMP/$k"-interp-*.wasm | head -1)
    interp_n=${interp##*-interp-}; interp_n=${interp_n%.wasm}
    record p2 "$k/interp@$interp_n" interp_kernel "$interp"
    [[ $rep == 1 ]] && record p2 "$k/native@$interp_n" "$CMP/native-$k" "$interp_n" 1 0
  done
done

# ---- 3. end to end over the socket -----------------------------------------------
if [[ $QUICK == 1 ]]; then
  E2E_REPS=1; E2E_DUR=1s; E2E_WARM=200ms
else
  E2E_REPS=3; E2E_DUR=3s; E2E_WARM=500ms
fi
DENSITY_MAX=10000
[[ $QUICK == 1 ]] && DENSITY_MAX=1000
# daemon_config NAME WORKERS: the config of one wasmpoold of part 3 (WORKERS
# 0: one loop per CPU, the default). Each has its own socket (wasmpoold-w1:
# wasmpool-w1.sock) and module dir.
daemon_config() {
  cat >"$SOCKDIR/$1.toml" <<TOML
# Written by bench/compare.sh: defaults, except room for the density part.
[pool]
total_instances = $((DENSITY_MAX + 100))
[server]
socket_path = "$SOCKDIR/${1/wasmpoold/wasmpool}.sock"
instance_idle_timeout = "0s"
workers = $2
[runtime]
cache_dir = "$CMP/daemon-cache"
module_dir = "$SOCKDIR/modules-$1"
[log]
level = "warn"
TOML
}
daemon_config wasmpoold 0
# Scaling (issue 11): the same daemon with 1 and 4 loop threads. OLD_BIN
# (a directory holding an earlier wasmpoold) adds that daemon as
# "wasmpool-old", measured interleaved with the others.
daemon_config wasmpoold-w1 1
daemon_config wasmpoold-w4 4
OLD_BIN=${OLD_BIN:-}
[[ -n $OLD_BIN ]] && daemon_config wasmpoold-old 0
wait_socket() { # PATH: up to 10 s for a server to listen
  local i
  for i in $(seq 100); do [[ -S $1 ]] && return 0; sleep 0.1; done
  return 1
}
DAEMON_OK=0
HAVE_NGINX=0
if want 3 || want 4; then
log "part 3: starting wasmpoold, the node server and nginx"
"$BIN/wasmpoold" --config "$SOCKDIR/wasmpoold.toml" >"$RUN/wasmpoold.log" 2>&1 &
DAEMON_PID=$!
PIDS+=("$DAEMON_PID")
"$BIN/wasmpoold" --config "$SOCKDIR/wasmpoold-w1.toml" >"$RUN/wasmpoold-w1.log" 2>&1 &
PIDS+=("$!")
"$BIN/wasmpoold" --config "$SOCKDIR/wasmpoold-w4.toml" >"$RUN/wasmpoold-w4.log" 2>&1 &
PIDS+=("$!")
OLD_PID=
if [[ -n $OLD_BIN ]]; then
  "$OLD_BIN/wasmpoold" --config "$SOCKDIR/wasmpoold-old.toml" >"$RUN/wasmpoold-old.log" 2>&1 &
  OLD_PID=$!
  PIDS+=("$OLD_PID")
fi
meta old_bin "${OLD_BIN:-none}" "OLD_BIN"
node "$SRC/node_server.cjs" "$SOCKDIR/node.sock" "$EXAMPLES/hello.wasm" "$EXAMPLES/add.wasm" \
  >"$RUN/node.log" 2>&1 &
PIDS+=("$!")
HAVE_NGINX=0
if command -v nginx >/dev/null 2>&1; then
  mkdir -p "$SOCKDIR/nginx"
  sed "s#@DIR@#$SOCKDIR/nginx#g" "$SRC/nginx.conf.in" >"$SOCKDIR/nginx/nginx.conf"
  if nginx -p "$SOCKDIR/nginx" -c "$SOCKDIR/nginx/nginx.conf" 2>>"$RUN/stderr.log"; then
    wait_socket "$SOCKDIR/nginx/nginx.sock" && HAVE_NGINX=1
  fi
else
  log "nginx is not installed (Debian package nginx-light or nginx): its rows are not run"
fi
meta nginx_run "$HAVE_NGINX" ""
DAEMON_OK=0
# deploy SOCKET: once per daemon (compiles, or hits daemon-cache); the load
# runs do not redeploy.
deploy() {
  "$BIN/wasmpool-bench" --socket "$1" \
    --deploy hello="$EXAMPLES/hello.wasm" --deploy add="$EXAMPLES/add.wasm" \
    --deploy bigdata="$EXAMPLES/bigdata.wasm" --call add add 1 2 -n 10 --json \
    >/dev/null 2>>"$RUN/stderr.log"
}
if wait_socket "$SOCKDIR/wasmpool.sock" && wait_socket "$SOCKDIR/node.sock" &&
   deploy "$SOCKDIR/wasmpool.sock"; then
  DAEMON_OK=1
fi
EXTRA_TARGETS=""
for name in w1 w4 old; do
  sock=$SOCKDIR/wasmpool-$name.sock
  [[ $name == old && -z $OLD_BIN ]] && continue
  if wait_socket "$sock" && deploy "$sock"; then
    EXTRA_TARGETS="$EXTRA_TARGETS wasmpool-$name:$sock"
  else
    log "part 3: wasmpoold-$name did not come up: its rows are not run"
  fi
done
meta daemon_run "$DAEMON_OK" ""
fi
if [[ $DAEMON_OK == 1 ]] && want 3; then
  targets="wasmpool:$SOCKDIR/wasmpool.sock$EXTRA_TARGETS node:$SOCKDIR/node.sock"
  [[ $HAVE_NGINX == 1 ]] && targets="$targets nginx:$SOCKDIR/nginx/nginx.sock"
  log "part 3: end to end ($E2E_REPS x $E2E_DUR per target, workload and concurrency)"
  for rep in $(seq "$E2E_REPS"); do
    for workload in run call; do
      if [[ $workload == run ]]; then wl=(--run hello); else wl=(--call add add 1 2); fi
      for conns in 1 16; do
        for target in $targets; do
          name=${target%%:*}
          record p3 "$workload/c$conns/$name" "$BIN/wasmpool-bench" --socket "${target#*:}" \
            "${wl[@]}" -c "$conns" -d "$E2E_DUR" --warmup "$E2E_WARM" --no-progress --json
        done
      done
    done
  done
  # System calls per request (issue 11: no futex or eventfd on the common
  # path): 2,000 sequential hello runs on one connection under strace -c -f,
  # attached after a warm-up.
  if command -v strace >/dev/null 2>&1; then
    for target in "wasmpool:$DAEMON_PID:$SOCKDIR/wasmpool.sock" \
                  ${OLD_PID:+"wasmpool-old:$OLD_PID:$SOCKDIR/wasmpool-old.sock"}; do
      IFS=: read -r name pid sock <<<"$target"
      "$BIN/wasmpool-bench" --socket "$sock" --run hello -n 200 --no-progress >/dev/null 2>&1 || true
      strace -c -f -p "$pid" -o "$RUN/strace-$name.txt" 2>>"$RUN/stderr.log" &
      spid=$!
      sleep 1
      "$BIN/wasmpool-bench" --socket "$sock" --run hello -n 2000 --no-progress >/dev/null 2>&1 || true
      kill -INT "$spid" 2>/dev/null || true
      wait "$spid" 2>/dev/null || true
      record p3 "strace/$name" awk '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ {printf "%s=%.2f ", $NF, $4 / 2000}' \
        "$RUN/strace-$name.txt"
    done
  fi
elif want 3; then
  log "part 3: wasmpoold did not come up (see $RUN/wasmpoold.log): end-to-end rows not run"
fi

# ---- 4. density ----------------------------------------------------------------
if want 4; then
log "part 4: density"
COUNTS="1 1000 10000"
[[ $QUICK == 1 ]] && COUNTS="1 100 1000"
if [[ $DAEMON_OK == 1 ]]; then
  record p4 wasmpoold python3 "$SRC/daemon_density.py" "$SOCKDIR/wasmpool.sock" "$DAEMON_PID" bigdata $COUNTS
fi
record p4 harness "$BIN/wasmpool-compare-density" "$EXAMPLES/bigdata.wasm" "$CACHE" $COUNTS
# V8 copies the 1 MiB image into every instance (about 1.05 MiB RSS each):
# hold only as many as leave 6 GiB of this shared machine's memory free.
avail_kib=$(awk '/MemAvailable/{print $2}' /proc/meminfo)
v8_fit=$(( (avail_kib - 6 * 1048576) / 1100 ))
v8_counts=""
for c in $COUNTS; do
  if (( c <= v8_fit )); then v8_counts="$v8_counts $c"; fi
done
meta v8_density_cap "$v8_fit" "MemAvailable - 6 GiB over 1.1 MiB per instance"
if [[ -n $v8_counts ]]; then
  record p4 v8 node --expose-gc "$SRC/v8_density.cjs" "$EXAMPLES/bigdata.wasm" $v8_counts
fi
fi

meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)" "/proc/loadavg"
meta finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "date -u"
log "results: $RESULTS"

# ---- report ------------------------------------------------------------------------
if [[ ${NO_DOC:-0} == 1 ]]; then
  python3 "$SRC/report.py" --root "$ROOT" --results "$RESULTS" --print
else
  python3 "$SRC/report.py" --root "$ROOT" --results "$RESULTS" --doc "$DOC" \
    --charts "$ROOT/docs/bench"
  log "wrote the comparison section of $DOC and charts in docs/bench/"
fi
