#!/usr/bin/env bash
# test.sh — the test command: install dependencies, build, run every test.
#
#   scripts/test.sh              normal build in build/
#   scripts/test.sh --sanitize   ASan + UBSan build in build-asan/
#
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=OFF
build_dir=build
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=ON; build_dir=build-asan ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

scripts/bootstrap.sh
jobs=$(nproc)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWASMPOOL_SANITIZE="$sanitize"
cmake --build "$build_dir" -j "$jobs"

if [ "$sanitize" = ON ]; then
  # Our signal handlers own SIGSEGV/SIGBUS (guard pages are how traps work).
  export ASAN_OPTIONS="${ASAN_OPTIONS:-allow_user_segv_handler=1:detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
