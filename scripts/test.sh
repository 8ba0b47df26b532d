#!/usr/bin/env bash
# test.sh — the test command: install dependencies, build, run every test.
#
#   scripts/test.sh              normal build in build/, then a short fuzz pass
#   scripts/test.sh --sanitize   ASan + UBSan build in build-asan/ (no fuzz pass:
#                                the fuzz build is already sanitized)
#   scripts/test.sh --no-fuzz    skip the fuzz pass
#   FUZZ_SECONDS=N               seconds per fuzz target (default 10)
#
# Exits non-zero when any test fails, and when a test skipped that is not in
# tests/skips.allow (every skip is printed at the end). Long runs live elsewhere:
# scripts/fuzz.sh --seconds 600, scripts/soak.sh --minutes N.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=OFF
build_dir=build
fuzz=1
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=ON; build_dir=build-asan; fuzz=0 ;;
    --no-fuzz) fuzz=0 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

scripts/bootstrap.sh
jobs=$(nproc)
# The spec suite runs at both tiers in the normal build; the sanitizer build
# instruments the runner and the runtime, not the generated code, so one
# tier is enough there.
spec_tier1=ON
[ "$sanitize" = ON ] && spec_tier1=OFF
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWASMPOOL_SANITIZE="$sanitize" \
      -DWP_SPEC_TIER1="$spec_tier1"
cmake --build "$build_dir" -j "$jobs"

if [ "$sanitize" = ON ]; then
  # Our signal handlers own SIGSEGV/SIGBUS (guard pages are how traps work).
  export ASAN_OPTIONS="${ASAN_OPTIONS:-allow_user_segv_handler=1:detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi
# The JUnit report records which tests skipped, and (with the passed-output
# limit raised) the unittest cases that skipped inside a passing test.
junit="$PWD/$build_dir/Testing/junit.xml"
ctest_rc=0
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" \
      --output-junit "$junit" --test-output-size-passed 1048576 || ctest_rc=$?
skips_rc=0
python3 scripts/check_skips.py "$junit" tests/skips.allow || skips_rc=$?
if [ "$ctest_rc" -ne 0 ] || [ "$skips_rc" -ne 0 ]; then
  exit 1
fi

if [ "$fuzz" = 1 ]; then
  # Every libFuzzer target for a few seconds on top of its seed corpus; the
  # committed corpora and crash regressions were already replayed by ctest.
  scripts/fuzz.sh --seconds "${FUZZ_SECONDS:-10}"
fi
