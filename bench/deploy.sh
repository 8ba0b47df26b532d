#!/usr/bin/env bash
# deploy.sh — deploy of real programs (issue 10): builds C programs from
# Debian 12 source packages for wasm32-wasi and measures, side by side in
# one run, interleaved and repeated:
#
#   (a) deploy to first answer through wasmpoold: PUT the module, then one
#       WASI run with a fixed stdin, on one connection, against a daemon
#       started with empty cache and module directories (nothing cached);
#   (b) V8's eager optimising compile of the same bytes (node
#       --no-liftoff --no-wasm-lazy-compilation, WebAssembly.compile), and
#       V8's compile + first run both eager and with node's defaults;
#   (c) tier 1's compile of the same modules (wasmpool-compare-deploy
#       --tier 1, an empty cache each time) with gcc and with clang-19, and
#       whether each program's output at tier 1 is byte-identical to tier 0's.
#
#   bench/deploy.sh [--quick] [--programs "sqlite3 lua bzip2 minigzip"]
#
# The sources are fetched at run time, never committed: `apt-get source`
# with a private apt configuration (deb-src of this machine's own suite and
# mirror; the system's apt sources and state are not touched), then
# `dpkg-source -x`, which applies Debian's patches. Programs:
#   sqlite3   sqlite3 source: the amalgamation (configure; make sqlite3.c
#             shell.c, needs tclsh) and its shell, with an in-memory VFS
#             (bench/deploy/sqlite_vfs.c); stdin bench/deploy/sqlite3.sql
#   lua       lua5.4 source: the lua interpreter (`lua -`); stdin
#             bench/deploy/lua.lua; Lua errors abort (include/lua_wasi.h)
#   bzip2     bzip2 source: bzip2 compressing stdin to stdout
#   minigzip  zlib source: test/minigzip.c compressing stdin to stdout
# bzip2's and minigzip's stdin is sqlite3's src/where.c from the same fetch.
#
# Run it as `nice bench/deploy.sh` on a shared machine. --quick: 1 round of
# everything, tier 1 with gcc only (a smoke test, not figures to quote).
#
# Environment: BUILD_DIR (default <repo>/build), BENCH_DOC (default
# <repo>/docs/BENCHMARKS.md), NO_DOC=1 (measure, leave the doc alone),
# DEPLOY_REPS (default 5), TIER1_REPS (default 2), TIER1_CCS (default
# "cc clang-19"). Raw output of every command, with its command line, is in
# $BUILD_DIR/deploy/run-<time>/results.tsv; the report is made from it and
# replaces the section between <!-- deploy:begin --> and <!-- deploy:end -->.
set -euo pipefail

QUICK=0
PROGRAMS="sqlite3 lua bzip2 minigzip"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --programs) PROGRAMS=$2; shift ;;
    -h|--help) sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deploy.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)
DOC=${BENCH_DOC:-$ROOT/docs/BENCHMARKS.md}
BIN=$BUILD/bin
SRC=$ROOT/bench/deploy
WORK=$BUILD/deploy
if [[ $QUICK == 1 ]]; then
  DEPLOY_REPS=${DEPLOY_REPS:-1}; TIER1_REPS=${TIER1_REPS:-1}; TIER1_CCS=${TIER1_CCS:-cc}
else
  DEPLOY_REPS=${DEPLOY_REPS:-5}; TIER1_REPS=${TIER1_REPS:-2}; TIER1_CCS=${TIER1_CCS:-cc clang-19}
fi

log() { printf '[deploy %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---- build ---------------------------------------------------------------------
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  log "configuring $BUILD"
  cmake -S "$ROOT" -B "$BUILD" >/dev/null
fi
log "building (cmake --build $BUILD --target wasmpoold wasmpool-compare-deploy)"
cmake --build "$BUILD" -j2 --target wasmpoold wasmpool-compare-deploy >/dev/null

# ---- sources: apt-get source through a private apt configuration ----------------
APT=$WORK/apt
SOURCES=$WORK/src
fetch_sources() {
  local suite uri opts
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  # The machine's own main-archive mirror (deb822 or one-line sources).
  uri=$(awk 'tolower($1) == "uris:" && $2 !~ /security/ { print $2; exit }' \
          /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [[ -z $uri && -r /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  uri=${uri:-http://deb.debian.org/debian}
  mkdir -p "$APT/etc/sources.list.d" "$APT/etc/preferences.d" "$APT/lists/partial" \
    "$APT/cache/archives/partial" "$SOURCES"
  # apt fetches as the unprivileged _apt user when run as root; let it write.
  if [[ $(id -u) == 0 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$APT/lists/partial" "$APT/cache/archives/partial" "$SOURCES" 2>/dev/null || true
  fi
  cat >"$APT/etc/sources.list.d/$suite-src.sources" <<EOF
Types: deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$APT/etc/sources.list.d"
        -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
        -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$APT/etc/preferences.d"
        -o Dir::State::status=/dev/null -o Debug::NoLocking=1)
  log "fetching sources from $uri $suite (deb-src, private apt configuration)"
  apt-get "${opts[@]}" -q update >"$WORK/apt-update.log" 2>&1 ||
    { cat "$WORK/apt-update.log" >&2; echo "deploy.sh: apt-get update failed" >&2; exit 1; }
  # apt checks every file's hash against the signed Sources index.
  (cd "$SOURCES" && apt-get "${opts[@]}" -q source --download-only "$@" >"$WORK/apt-source.log" 2>&1) ||
    { cat "$WORK/apt-source.log" >&2; echo "deploy.sh: apt-get source failed" >&2; exit 1; }
  local dsc
  for dsc in "$SOURCES"/*.dsc; do
    (cd "$SOURCES" && dpkg-source -x "$(basename "$dsc")" >>"$WORK/dpkg-source.log" 2>&1) || true
  done
}
src_dir() { ls -d "$SOURCES/$1"-[0-9]*/ 2>/dev/null | head -1 | sed 's#/$##'; }

mkdir -p "$WORK/wasm"
need=()
for p in $PROGRAMS; do
  case "$p" in
    sqlite3) pkg=sqlite3 ;; lua) pkg=lua5.4 ;; bzip2) pkg=bzip2 ;; minigzip) pkg=zlib ;;
    *) echo "deploy.sh: unknown program '$p'" >&2; exit 2 ;;
  esac
  [[ -n $(src_dir "$pkg") ]] || need+=("$pkg")
done
# bzip2 and minigzip compress a file of the sqlite3 source.
[[ -n $(src_dir sqlite3) ]] || [[ " ${need[*]:-} " == *" sqlite3 "* ]] || need+=(sqlite3)
if [[ ${#need[@]} -gt 0 ]]; then fetch_sources "${need[@]}"; fi

# ---- wasm32-wasi builds -----------------------------------------------------------
WASI_CC=(clang --target=wasm32-wasi -O2 -Wl,--strip-debug -I"$SRC/include")
EMUL=(-D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS -D_WASI_EMULATED_MMAN
      -D_WASI_EMULATED_GETPID)
EMUL_LIBS=(-lwasi-emulated-signal -lwasi-emulated-process-clocks -lwasi-emulated-mman
           -lwasi-emulated-getpid)
build_program() { # NAME -> $WORK/wasm/NAME.wasm
  local name=$1 out=$WORK/wasm/$1.wasm dir
  if [[ -s $out && $out -nt $SRC/wasi_stubs.c && $out -nt $0 ]]; then return 0; fi
  log "building $name.wasm"
  case "$name" in
    sqlite3)
      dir=$(src_dir sqlite3)
      if [[ ! -s $dir/bld/sqlite3.c ]]; then
        mkdir -p "$dir/bld"
        (cd "$dir/bld" && ../configure --disable-tcl >"$WORK/sqlite3-configure.log" 2>&1 &&
           make -j2 sqlite3.c shell.c >"$WORK/sqlite3-make.log" 2>&1)
      fi
      "${WASI_CC[@]}" "${EMUL[@]}" -I"$dir/bld" -DSQLITE_OS_OTHER=1 -DSQLITE_TEMP_STORE=3 \
        -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_NOHAVE_SYSTEM \
        -DSQLITE_OMIT_POPEN -w "$dir/bld/sqlite3.c" "$dir/bld/shell.c" "$SRC/sqlite_vfs.c" \
        "$SRC/wasi_stubs.c" "${EMUL_LIBS[@]}" -o "$out"
      ;;
    lua)
      dir=$(src_dir lua5.4)/src
      "${WASI_CC[@]}" "${EMUL[@]}" -include lua_wasi.h -DLUA_COMPAT_5_3 -w \
        $(cd "$dir" && ls *.c | grep -v '^luac\.c$' | sed "s#^#$dir/#") \
        "$SRC/wasi_stubs.c" "${EMUL_LIBS[@]}" -o "$out"
      ;;
    bzip2)
      dir=$(src_dir bzip2)
      "${WASI_CC[@]}" "${EMUL[@]}" -w "$dir"/{blocksort,huffman,crctable,randtable,compress,decompress,bzlib,bzip2}.c \
        "$SRC/wasi_stubs.c" "${EMUL_LIBS[@]}" -o "$out"
      ;;
    minigzip)
      dir=$(src_dir zlib)
      "${WASI_CC[@]}" "${EMUL[@]}" -I"$dir" -w "$dir"/{adler32,crc32,deflate,infback,inffast,inflate,inftrees,trees,zutil,compress,uncompr,gzclose,gzlib,gzread,gzwrite}.c \
        "$dir/test/minigzip.c" "$SRC/wasi_stubs.c" "${EMUL_LIBS[@]}" -o "$out"
      ;;
  esac
}
for p in $PROGRAMS; do build_program "$p"; done

# Each program's stdin and arguments.
TEXT_INPUT=$(src_dir sqlite3)/src/where.c
input_of() {
  case "$1" in
    sqlite3) echo "$SRC/sqlite3.sql" ;; lua) echo "$SRC/lua.lua" ;; *) echo "$TEXT_INPUT" ;;
  esac
}
args_of() { [[ $1 == lua ]] && echo "-" || true; }

# ---- results ------------------------------------------------------------------------
RUN=$WORK/run-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN"
RESULTS=$RUN/results.tsv
: >"$RESULTS"
SOCKDIR=$(mktemp -d /tmp/wasmpool-deploy.XXXXXX)
DAEMON_PID=""
stop_daemon() {
  if [[ -n $DAEMON_PID ]]; then
    kill "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=""
  fi
}
cleanup() { stop_daemon; rm -rf "$SOCKDIR"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

record() { # PART LABEL CMD... (as in compare.sh)
  local part=$1 label=$2 status=0 out
  shift 2
  out=$("$@" 2>>"$RUN/stderr.log") || status=$?
  out=$(printf '%s' "$out" | tr '\t' ' ' | awk 'BEGIN{ORS=""} NR>1{print " | "} {print}')
  printf '%s\t%s\t%s\t%s\t%s\n' "$part" "$label" "$status" "$*" "$out" >>"$RESULTS"
  if [[ $status -ne 0 ]]; then log "FAILED ($status): $*"; fi
  return 0
}
meta() { printf 'meta\t%s\t0\t%s\t%s\n' "$1" "${3:-}" "$2" >>"$RESULTS"; }
# with_sha FILE CMD...: runs CMD, then prints FILE's size and sha256.
with_sha() {
  local file=$1
  shift
  rm -f "$file"
  "$@" || return
  printf 'out_bytes=%s out_sha256=%s\n' "$(stat -c %s "$file")" "$(sha256sum <"$file" | cut -c1-16)"
}

meta cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs" "lscpu; nproc"
meta kernel "$(uname -sr)" "uname -sr"
meta os "$(. /etc/os-release && echo "$PRETTY_NAME")" "/etc/os-release"
meta node "$(node --version) (V8 $(node -p process.versions.v8))" "node --version"
meta tcc "$(tcc -v 2>&1 | head -1)" "tcc -v"
meta gcc "$(cc --version | head -1)" "cc --version"
meta clang19 "$( (clang-19 --version 2>/dev/null || echo 'not installed') | head -1)" "clang-19 --version"
meta wasi_clang "$(clang --version | head -1)" "clang --version"
meta wasm2c "$(awk '$1 == "wabt" { print "wabt " $2 }' "$ROOT/.toolroot/VERSIONS" 2>/dev/null)" ".toolroot/VERSIONS"
for p in $PROGRAMS; do
  meta "size_$p" "$(stat -c %s "$WORK/wasm/$p.wasm")" "stat -c %s $WORK/wasm/$p.wasm"
  meta "source_$p" "$(basename "$(src_dir "$(case $p in lua) echo lua5.4;; minigzip) echo zlib;; *) echo "$p";; esac)")")" "apt-get source"
done
meta input_text "$(basename "$TEXT_INPUT") ($(stat -c %s "$TEXT_INPUT") bytes)" "$TEXT_INPUT"
meta load_start "$(cut -d' ' -f1-3 /proc/loadavg)" "/proc/loadavg"
meta mode "$([[ $QUICK == 1 ]] && echo quick || echo full)" "bench/deploy.sh"
meta started "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "date -u"

# ---- (a) + (b): deploy to first answer against V8 ------------------------------------
wait_socket() {
  local i
  for i in $(seq 100); do [[ -S $1 ]] && return 0; sleep 0.1; done
  return 1
}
start_daemon() { # DIR: a daemon on empty cache and module directories
  local dir=$1
  rm -rf "$dir"
  mkdir -p "$dir"
  cat >"$dir/wasmpoold.toml" <<TOML
# Written by bench/deploy.sh: defaults, with empty directories of its own.
[pool]
total_instances = 16
[server]
socket_path = "$dir/wp.sock"
[runtime]
cache_dir = "$dir/cache"
module_dir = "$dir/modules"
[log]
level = "info"
TOML
  "$BIN/wasmpoold" --config "$dir/wasmpoold.toml" >"$dir/wasmpoold.log" 2>&1 &
  DAEMON_PID=$!
  wait_socket "$dir/wp.sock"
}
V8_EAGER=(node --no-warnings --no-liftoff --no-wasm-lazy-compilation "$SRC/v8_compile.cjs")
V8_LAZY=(node --no-warnings "$SRC/v8_compile.cjs")
log "deploy to first answer: $DEPLOY_REPS rounds of ($PROGRAMS), wasmpool and V8 interleaved"
for rep in $(seq "$DEPLOY_REPS"); do
  dir=$SOCKDIR/d$rep
  if ! start_daemon "$dir"; then
    log "wasmpoold did not start (see $dir/wasmpoold.log)"
    cp "$dir/wasmpoold.log" "$RUN/wasmpoold-$rep.log" 2>/dev/null || true
    stop_daemon
    continue
  fi
  order=$PROGRAMS
  (( rep % 2 == 0 )) && order=$(echo "$PROGRAMS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for p in $order; do
    wasm=$WORK/wasm/$p.wasm
    in=$(input_of "$p")
    args=$(args_of "$p")
    wp() { record deploy "$p/wasmpool" with_sha "$RUN/out-$p-wasmpool" python3 "$SRC/deploy_client.py" \
             "$dir/wp.sock" "$p" "$wasm" "$in" "$RUN/out-$p-wasmpool" $args; }
    v8e() { record deploy "$p/v8-eager" with_sha "$RUN/out-$p-v8" "${V8_EAGER[@]}" "$wasm" "$in" \
              "$RUN/out-$p-v8" $args; }
    v8c() { record deploy "$p/v8-eager-compile" "${V8_EAGER[@]}" "$wasm"; }
    v8l() { record deploy "$p/v8-default" "${V8_LAZY[@]}" "$wasm" "$in" "$RUN/out-$p-v8lazy" $args; }
    if (( rep % 2 == 1 )); then wp; v8c; v8e; v8l; else v8l; v8e; v8c; wp; fi
  done
  stop_daemon
  cp "$dir/wasmpoold.log" "$RUN/wasmpoold-$rep.log"
done

# ---- (c) tier 1 compile time and tier 0 / tier 1 output identity ----------------------
log "tier 1 compiles: $TIER1_REPS rounds of ($PROGRAMS) with ($TIER1_CCS), empty cache each"
for rep in $(seq "$TIER1_REPS"); do
  for p in $PROGRAMS; do
    wasm=$WORK/wasm/$p.wasm
    in=$(input_of "$p")
    args=$(args_of "$p")
    cache=$SOCKDIR/t0-$rep-$p
    rm -rf "$cache"
    record tier "$p/tier0" with_sha "$RUN/t0-$p" \
      "$BIN/wasmpool-compare-deploy" --tier 0 "$wasm" "$cache" "$in" "$RUN/t0-$p" $args
    rm -rf "$cache"
    ccs=$TIER1_CCS
    (( rep % 2 == 0 )) && ccs=$(echo "$TIER1_CCS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for cc in $ccs; do
      cache=$SOCKDIR/t1-$rep-$p-$cc
      rm -rf "$cache"
      record tier "$p/tier1-$cc" with_sha "$RUN/t1-$p-$cc" \
        "$BIN/wasmpool-compare-deploy" --tier 1 --cc "$cc" "$wasm" "$cache" "$in" "$RUN/t1-$p-$cc" $args
      rm -rf "$cache"
      if cmp -s "$RUN/t0-$p" "$RUN/t1-$p-$cc"; then same=1; else same=0; fi
      meta "identical_${p}_${cc}_$rep" "$same" "cmp $RUN/t0-$p $RUN/t1-$p-$cc"
    done
  done
done

meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)" "/proc/loadavg"
meta finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "date -u"
log "results: $RESULTS"

if [[ ${NO_DOC:-0} == 1 ]]; then
  python3 "$SRC/report.py" --root "$ROOT" --results "$RESULTS" --print
else
  python3 "$SRC/report.py" --root "$ROOT" --results "$RESULTS" --doc "$DOC"
  log "wrote the deploy section of $DOC"
fi
