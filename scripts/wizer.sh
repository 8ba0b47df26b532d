#!/usr/bin/env bash
# wizer.sh — install Wizer (the Bytecode Alliance's WebAssembly
# pre-initialiser) for the benchmarks and tests that compare our
# snapshot-at-deploy with it: npm package @bytecodealliance/wizer pinned to
# exactly 10.0.0, whose Linux x86-64 binary comes as the optional dependency
# @bytecodealliance/wizer-linux-x64 10.0.0.
#
# bench/wizer/package.json and package-lock.json (committed) pin both, with
# the registry's sha512 integrity of each tarball; `npm ci` installs exactly
# that into the git-ignored <checkout>/.cache/wizer/ and checks the hashes.
# Nothing is installed system-wide, and the daemon never uses Wizer.
#
# Idempotent: when the installed binary already says "wizer 10.0.0" nothing
# is fetched (so it works offline once installed). Prints the binary's path.
#
# Usage: scripts/wizer.sh [--force]      then: $(scripts/wizer.sh) --help
set -euo pipefail

version=10.0.0
checkout="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$checkout/.cache/wizer"
bin="$dir/node_modules/@bytecodealliance/wizer-linux-x64/wizer"
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "wizer.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

installed() { [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "wizer $version" ]; }

if [ "$force" -eq 1 ] || ! installed; then
  if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
    echo "wizer.sh: only Linux x86-64 is set up (bench/wizer/package-lock.json)" >&2
    exit 1
  fi
  if ! command -v npm >/dev/null; then
    echo "wizer.sh: npm is missing (scripts/bootstrap.sh installs nodejs and npm)" >&2
    exit 1
  fi
  mkdir -p "$dir"
  cp "$checkout/bench/wizer/package.json" "$checkout/bench/wizer/package-lock.json" "$dir/"
  echo "wizer.sh: npm ci @bytecodealliance/wizer@$version into $dir" >&2
  if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$dir/npm-ci.log" 2>&1; then
    cat "$dir/npm-ci.log" >&2
    echo "wizer.sh: npm ci failed" >&2
    exit 1
  fi
  if ! installed; then
    echo "wizer.sh: $bin does not say 'wizer $version'" >&2
    exit 1
  fi
fi
echo "$bin"
