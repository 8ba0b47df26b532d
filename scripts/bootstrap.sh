#!/usr/bin/env bash
# bootstrap.sh — install every Debian package wasmpool needs to build, test and
# run its examples. Idempotent: installs only what is missing. Run as root on
# Debian 12 (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates curl python3
  clang lld libclang-rt-14-dev libclang-rt-14-dev-wasm32 wasi-libc  # guests, fuzzers, sanitizers
  wabt                      # Debian 12's 1.0.32: bench/compare's stock-runtime baseline only
  tcc                       # the fast compile tier at deploy
  clang-19                  # measured against gcc for the generated C
  tcl dpkg-dev              # bench/deploy.sh: sqlite3's amalgamation (tclsh), dpkg-source
  nodejs                    # V8, the baseline of bench/compare.sh and bench/deploy.sh
  debian-archive-keyring    # carries the trixie keys the tool root is verified with
  libuv1-dev libjemalloc-dev libcriterion-dev libjansson-dev
  libhttp-parser-dev libtomlplusplus-dev
  clang-format
  nginx-light               # the nginx proxy test and the comparison ceiling
  strace                    # the systemd unit's syscall-filter test
  systemd                   # systemd-analyze: the unit and syscall-filter tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#packages[@]} packages present"
else
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
  fi
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm for scripts/wizer.sh. Debian 12's nodejs does not carry it (package
# npm); a nodejs that does (NodeSource's) conflicts with Debian's npm, so
# install it only when there is no npm at all.
if ! command -v npm >/dev/null; then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
  fi
  echo "bootstrap: installing npm"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends npm
fi

scripts="$(dirname "${BASH_SOURCE[0]}")"
# wabt 1.0.36 and SIMDe from Debian 13, unpacked into .toolroot/ (private
# apt configuration; the system's sources and dpkg state stay as they are).
"$scripts/toolroot.sh"
# Debian 12's lua5.4 source for examples/lua (deb-src through a private apt
# configuration, into the git-ignored .cache/debsrc/; nothing when cached).
"$scripts/debsrc.sh" lua5.4 >/dev/null
# Wizer 10.0.0 from npm into .cache/wizer/, for the Lua example's test and
# bench/snapshot.sh only (nothing when installed).
"$scripts/wizer.sh" >/dev/null
