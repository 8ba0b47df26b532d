#!/usr/bin/env bash
# debsrc.sh — fetch and unpack Debian 12 source packages into the git-ignored
# cache <checkout>/.cache/debsrc/, for guests built from real programs
# (examples/lua/ needs lua5.4). Never vendored into the repository: only our
# own glue and scripts are committed.
#
# `apt-get source --download-only` runs with a private apt configuration (its
# own deb-src entry for this machine's suite and mirror, lists, cache; no dpkg
# status), the way bench/deploy.sh fetches sqlite3 and scripts/toolroot.sh
# fetches the tool root: the system's apt sources and state are never
# touched. apt checks the suite's Release signature (debian-archive-keyring)
# and every file's hash against the signed Sources index; `dpkg-source -x`
# then checks the .dsc's checksums again and applies Debian's patches.
#
# Idempotent: a package already unpacked (its .cache/debsrc/PKG.version
# stamp names the directory and that directory exists) is not fetched again,
# so the script runs offline once the cache is filled. --force refetches.
#
# Prints, per package, the unpacked directory. Usage:
#   scripts/debsrc.sh [--force] PACKAGE...          e.g. scripts/debsrc.sh lua5.4
#   scripts/debsrc.sh --dir PACKAGE                 only print the directory (exit 1 if absent)
set -euo pipefail

checkout="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
top="$checkout/.cache/debsrc"
apt_dir="$top/apt"
force=0
dir_only=0
packages=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --dir) dir_only=1 ;;
    -h | --help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "debsrc: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    *) packages+=("$arg") ;;
  esac
done
if [ ${#packages[@]} -eq 0 ]; then
  echo "debsrc: name at least one source package (try --help)" >&2
  exit 2
fi

# The unpacked directory of PKG, from its stamp ("PKG VERSION DIR").
unpacked_dir() {
  local stamp="$top/$1.version" dir
  [ -s "$stamp" ] || return 1
  dir="$top/$(awk '{ print $3 }' "$stamp")"
  [ -d "$dir" ] || return 1
  echo "$dir"
}

if [ "$dir_only" -eq 1 ]; then
  unpacked_dir "${packages[0]}"
  exit
fi

need=()
for p in "${packages[@]}"; do
  if [ "$force" -eq 1 ] || ! unpacked_dir "$p" >/dev/null; then
    need+=("$p")
  fi
done

if [ ${#need[@]} -gt 0 ]; then
  for tool in apt-get dpkg-source; do
    if ! command -v "$tool" >/dev/null; then
      echo "debsrc: $tool is missing (scripts/bootstrap.sh installs dpkg-dev)" >&2
      exit 1
    fi
  done
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  if [ ! -r "$keyring" ]; then
    echo "debsrc: $keyring is missing; install debian-archive-keyring" >&2
    exit 1
  fi
  suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
  # The machine's own main-archive mirror (deb822 or one-line sources).
  uri="$(awk 'tolower($1) == "uris:" && $2 !~ /security/ { print $2; exit }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri="$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list)"
  fi
  uri="${uri:-http://deb.debian.org/debian}"

  mkdir -p "$apt_dir/etc/sources.list.d" "$apt_dir/etc/preferences.d" "$apt_dir/lists/partial" \
    "$apt_dir/cache/archives/partial" "$top/dl"
  # apt fetches as the unprivileged _apt user when run as root; let it write.
  if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
    chown _apt "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$top/dl" 2>/dev/null || true
  fi
  cat >"$apt_dir/etc/sources.list.d/$suite-src.sources" <<EOF
Types: deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: $keyring
EOF
  apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
    -o Dir::State::status=/dev/null -o Debug::NoLocking=1)
  echo "debsrc: fetching ${need[*]} from $uri $suite (deb-src, private apt configuration)" >&2
  if ! apt-get "${apt_opts[@]}" -q update >"$top/apt-update.log" 2>&1; then
    cat "$top/apt-update.log" >&2
    echo "debsrc: apt-get update of $suite deb-src from $uri failed" >&2
    exit 1
  fi
  for p in "${need[@]}"; do
    rm -rf "$top/dl/$p"
    mkdir -p "$top/dl/$p"
    if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$top/dl/$p"; fi
    if ! (cd "$top/dl/$p" && apt-get "${apt_opts[@]}" -q source --download-only "$p") \
      >"$top/apt-source-$p.log" 2>&1; then
      cat "$top/apt-source-$p.log" >&2
      echo "debsrc: apt-get source $p failed" >&2
      exit 1
    fi
    dsc="$(ls "$top/dl/$p"/*.dsc | head -n 1)"
    version="$(awk '$1 == "Version:" { print $2; exit }' "$dsc")"
    upstream="${version#*:}"
    upstream="${upstream%-*}"
    dir="$p-$upstream"
    rm -rf "${top:?}/$dir"
    if ! (cd "$top" && dpkg-source -x "$dsc" "$dir") >"$top/dpkg-source-$p.log" 2>&1; then
      cat "$top/dpkg-source-$p.log" >&2
      echo "debsrc: dpkg-source -x $(basename "$dsc") failed" >&2
      exit 1
    fi
    echo "$p $version $dir" >"$top/$p.version"
    echo "debsrc: $p $version unpacked in $top/$dir" >&2
  done
fi

for p in "${packages[@]}"; do unpacked_dir "$p"; done
