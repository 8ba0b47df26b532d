#!/usr/bin/env bash
# run.sh — the main job: install dependencies, build, start wasmpoold on
# configs/default.toml, deploy the examples, invoke them, and stop.
#
#   scripts/run.sh           run the demo and stop the daemon
#   scripts/run.sh --keep    leave the daemon running afterwards (prints how to stop it)
#
# The daemon listens on $WASMPOOL_SOCKET (default: a socket in a fresh temp dir)
# so the demo never collides with a daemon you already run.
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "run.sh: built build/bin/{wasmpoold,wasmpool,wasmpool-bench}"

demo_dir=$(mktemp -d /tmp/wasmpool-demo.XXXXXX)
export WASMPOOL_SOCKET=${WASMPOOL_SOCKET:-$demo_dir/wasmpool.sock}
# The default config keeps its cache and registry under $XDG_STATE_HOME.
export XDG_STATE_HOME=${XDG_STATE_HOME:-$HOME/.local/state}
mkdir -p "$XDG_STATE_HOME"

build/bin/wasmpoold --config configs/default.toml --socket "$WASMPOOL_SOCKET" \
  2>"$demo_dir/wasmpoold.log" &
daemon=$!
stop_daemon() {
  kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
}
[ "$keep" = 1 ] || trap stop_daemon EXIT

for _ in $(seq 100); do
  build/bin/wasmpool health >/dev/null 2>&1 && break
  kill -0 "$daemon" 2>/dev/null || { cat "$demo_dir/wasmpoold.log" >&2; exit 1; }
  sleep 0.1
done
echo "run.sh: wasmpoold is up on $WASMPOOL_SOCKET (log: $demo_dir/wasmpoold.log)"

set -x
build/bin/wasmpool deploy hello build/examples/hello.wasm
build/bin/wasmpool run hello </dev/null
build/bin/wasmpool deploy add build/examples/add.wasm
build/bin/wasmpool call add add 40 2
build/bin/wasmpool deploy upper build/examples/upper.wasm
echo 'shout this' | build/bin/wasmpool run upper
curl -sS --unix-socket "$WASMPOOL_SOCKET" -X POST -d '{"args":[20,22]}' \
  http://localhost/v1/modules/add/call/add
echo
curl -sS --unix-socket "$WASMPOOL_SOCKET" http://localhost/v1/health
echo
set +x

if [ "$keep" = 1 ]; then
  echo "run.sh: daemon left running (pid $daemon); stop it with: kill $daemon"
fi
