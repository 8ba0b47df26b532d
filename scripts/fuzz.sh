#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer targets with clang (ASan + UBSan) and run each
# for a bounded time with its seed corpus. docs/FUZZING.md has the details.
#
#   scripts/fuzz.sh                       every target for 30 s (the short run)
#   scripts/fuzz.sh --seconds 600         the long run: 10 minutes per target
#   scripts/fuzz.sh --seconds 60 reader   only the named targets
#   targets: http config reader args;  --build-dir DIR (default build-fuzz)
#
# A crash, leak, timeout or out-of-memory input is copied into
# tests/fuzz/regress/<target>/, where the Criterion replay test
# (fuzz_regress_<target>) picks it up in every build, and the script exits 1.
# New coverage the fuzzer finds stays in <build-dir>/fuzz-corpus/<target>;
# the committed seeds are never written to.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
build_dir=build-fuzz
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    http|config|reader|args) targets+=("$1"); shift ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$seconds" in
  ''|*[!0-9]*|0) echo "fuzz.sh: --seconds wants a positive integer" >&2; exit 2 ;;
esac
[ ${#targets[@]} -gt 0 ] || targets=(http config reader args)

# target -> binary (in <build>/tests), seed directories, -max_len. The limits
# are a little above what each parser accepts, so the "too large" paths are
# reached too: http's fuzz parser allows 2 KiB of headers and 4 KiB of body;
# configs are a few hundred bytes; the reader's interesting structure is in
# the first kilobytes; a call body with a few dozen arguments is under 1 KiB.
binary_of() {
  case "$1" in
    http) echo proto_fuzz_http_request ;;
    config) echo fuzz_config ;;
    reader) echo fuzz_reader ;;
    args) echo fuzz_args ;;
  esac
}
seeds_of() {
  case "$1" in
    http) echo tests/fuzz/corpus/http ;;
    config) echo configs tests/daemon/fixtures ;;
    reader) echo tests/fuzz/corpus/reader ;;
    args) echo tests/fuzz/corpus/args ;;
  esac
}
max_len_of() {
  case "$1" in
    http) echo 8192 ;;
    config) echo 4096 ;;
    reader) echo 4096 ;;
    args) echo 1024 ;;
  esac
}

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang)" >&2; exit 2; }
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWASMPOOL_FUZZ=ON -DWASMPOOL_SANITIZE=ON >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=("$(binary_of "$t")"); done
# -j2: the machine's two cores are shared.
cmake --build "$build_dir" -j2 --target "${build_targets[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$build_dir/tests/$(binary_of "$t")"
  work="$build_dir/fuzz-corpus/$t"
  artifacts="$build_dir/fuzz-artifacts/$t"
  log="$build_dir/fuzz-$t.log"
  mkdir -p "$work" "$artifacts"
  rm -f "$artifacts"/*
  seed_dirs=$(seeds_of "$t")
  echo "== $t: $(basename "$bin") for ${seconds}s (log: $log)"
  dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
  set +e
  # libFuzzer stops by itself after -max_total_time; the outer timeout is a
  # backstop (a hang inside one input is cut at -timeout seconds already).
  # shellcheck disable=SC2086
  timeout --kill-after=10 $((seconds + 120)) "$bin" -max_total_time="$seconds" \
    -max_len="$(max_len_of "$t")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$work" $seed_dirs >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  found=$(find "$artifacts" -maxdepth 1 -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
    mkdir -p "tests/fuzz/regress/$t"
    for f in "$artifacts"/*; do
      [ -f "$f" ] || continue
      cp "$f" "tests/fuzz/regress/$t/$(basename "$f")"
      echo "   saved tests/fuzz/regress/$t/$(basename "$f")"
    done
    grep -m3 -E 'ERROR|fuzz_[a-z]*:|runtime error|Assertion' "$log" | sed 's/^/   /' || true
    failed+=("$t")
    summary+=("$t: FAILED (exit $rc) after ${execs:-?} executions, coverage ${cov:-?}")
  else
    summary+=("$t: ok, ${execs:-?} executions in ${seconds}s, coverage ${cov:-?}, corpus $(find "$work" -type f | wc -l) files")
  fi
done

echo "== summary"
printf '   %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${failed[*]} failed; inputs are in tests/fuzz/regress/ (see docs/FUZZING.md)" >&2
  exit 1
fi
