#!/usr/bin/env bash
# snapshot.sh — interpreter snapshots (issue 13): the Lua 5.4 guest of
# examples/lua deployed with the daemon's snapshot at deploy, without it,
# and pre-initialised by Wizer 10.0.0 then deployed plainly; side by side in
# one run, interleaved, repeated, medians:
#
#   (a) per-request latency (POST /v1/modules/NAME/call/handle over one
#       keep-alive connection, client wall time) of: our snapshot deploy of
#       lua.wasm; lua_nosnap.wasm deployed plainly (the same code, the
#       initialiser under a name no host runs, so each request builds the
#       interpreter state first: lazy init); Wizer's output deployed plainly.
#       Measured once every module runs tier-1 code (tier-up done);
#   (b) whether the answers are byte-identical (the raw HTTP bodies of
#       call/handle and of a WASI run) between our snapshot deploy and
#       Wizer's output, lazy init as the reference, for a set of inputs;
#   (c) deploy time: our snapshot deploy of lua.wasm (PUT to answer) against
#       `wizer --allow-wasi` + a plain PUT of its output. Cold: a daemon on
#       an empty compile cache for each measurement; warm: the same bytes
#       deployed again under another name (compile cache hit; Wizer has no
#       cache and runs again). Tier-up is off in these daemons so a
#       background tier-1 build never overlaps a measurement.
#
#   bench/snapshot.sh [--quick] [--wizer-only] [--rounds N] [--deploy-rounds N] [--no-doc]
#
# Without the daemon's snapshot at deploy (a deploy of lua.wasm still shows
# its wizer.initialize export and no snapshot), the script stops with exit
# status 3 and says so, unless --wizer-only: then it measures what needs no
# snapshot (lazy init vs Wizer's output, their answers, Wizer's run time and
# the plain deploy of its output) and marks our columns pending.
#
# The Lua source comes from scripts/debsrc.sh (Debian 12's lua5.4 source
# package), Wizer from scripts/wizer.sh (npm @bytecodealliance/wizer 10.0.0);
# both are fetched when missing. Run as `nice bench/snapshot.sh` on a shared
# machine. --quick: few rounds, a smoke test, not figures to quote.
#
# Environment: BUILD_DIR (default <repo>/build), BENCH_DOC (default
# <repo>/docs/BENCHMARKS.md). Raw figures go to
# $BUILD_DIR/snapshot/run-<time>/results.json; the report replaces the
# section between <!-- snapshot:begin --> and <!-- snapshot:end --> of the
# doc (--no-doc: print it only).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
DOC=${BENCH_DOC:-$ROOT/docs/BENCHMARKS.md}
args=()
for arg in "$@"; do
  case "$arg" in
    -h | --help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$arg") ;;
  esac
done
log() { printf '[snapshot %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "Lua source: $("$ROOT/scripts/debsrc.sh" lua5.4)"
WIZER=$("$ROOT/scripts/wizer.sh")
log "Wizer: $WIZER ($("$WIZER" --version))"

# Configure (again) when the Lua example is not part of the build tree yet,
# e.g. the source arrived after the last configure.
if [[ ! -d $BUILD/examples/lua/CMakeFiles/wp_example_lua.dir ]]; then
  log "configuring $BUILD"
  cmake -S "$ROOT" -B "$BUILD" >/dev/null
fi
log "building (cmake --build $BUILD --target wasmpoold wp_example_lua)"
if ! cmake --build "$BUILD" -j2 --target wasmpoold wp_example_lua >/dev/null; then
  echo "snapshot.sh: build failed (is examples/lua configured? see cmake's status lines)" >&2
  exit 1
fi

doc_args=(--doc "$DOC")
for arg in "${args[@]:-}"; do [[ $arg == --no-doc ]] && doc_args=(); done
exec python3 "$ROOT/bench/snapshot/snapshot.py" --root "$ROOT" --bin "$BUILD/bin" \
  --examples "$BUILD/examples" --wizer "$WIZER" --work "$BUILD/snapshot" \
  --lua-version "$(awk '{ print $2 }' "$ROOT/.cache/debsrc/lua5.4.version")" \
  "${doc_args[@]}" ${args[@]+"${args[@]}"}
