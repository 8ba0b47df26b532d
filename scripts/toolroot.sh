#!/usr/bin/env bash
# toolroot.sh — the private Debian 13 ("trixie") tool root: wabt 1.0.36
# (wasm2c, wast2json, wat2wasm, ...) and libsimde-dev, with the glibc they
# need, unpacked into <checkout>/.toolroot/root.
#
# Debian 13's binaries need glibc >= 2.38, which Debian 12 does not have, so
# they are not installed: apt-get downloads the .debs with a private
# configuration (its own sources, lists, cache; no dpkg status), and
# dpkg-deb -x unpacks them. The system's apt sources and dpkg state are never
# touched. apt checks the suite's Release signature (debian-archive-keyring,
# which on Debian 12 already carries the trixie keys) and every package's hash
# against it, as for any download; nothing here weakens that.
#
# The tools run through the root's own loader, never a wrapper script:
#   R=.toolroot/root
#   $R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 \
#     --library-path $R/usr/lib/x86_64-linux-gnu $R/usr/bin/wasm2c ...
#
# Idempotent: when .toolroot/VERSIONS already names the versions apt would
# fetch and the root is intact, nothing is downloaded or unpacked. --force
# fetches and unpacks again. Without network, an intact root is kept.
#
# Usage: scripts/toolroot.sh [--force]
set -euo pipefail

suite=trixie # pinned codename, never "stable"
packages=(wabt libc6 libstdc++6 libgcc-s1 libssl3t64 libsimde-dev)
tools=(wasm2c wast2json wat2wasm wasm-validate)

checkout="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
top="$checkout/.toolroot"
root="$top/root"
versions_file="$top/VERSIONS"
manifest_file="$top/MANIFEST"
apt_dir="$top/apt"
deb_dir="$top/debs"
loader="$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
libpath="$root/usr/lib/x86_64-linux-gnu"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help)
      sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "toolroot: unknown argument '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

if [ "$(dpkg --print-architecture)" != amd64 ]; then
  echo "toolroot: only amd64 is supported (the loader path is x86_64)" >&2
  exit 1
fi

# The Debian mirror this machine already uses: the URI of the first apt
# source (deb822 or one-line) that serves the main archive, not security.
mirror_uri() {
  local uri=""
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri="$(awk '
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { if (uris != "" && types ~ /(^| )deb( |$)/) { print uris; exit } uris = ""; types = ""; next }
      tolower($1) == "types:" { $1 = ""; types = $0 }
      tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if ($i !~ /security/) { uris = $i; break } }
      END { if (uris != "" && types ~ /(^| )deb( |$)/) print uris }
    ' "$f" | head -n 1)"
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    # "deb [options] URI suite components"
    uri="$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                  if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

apt_opts=(
  -o Dir::Etc::SourceList=/dev/null
  -o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o Dir::Etc::Preferences=/dev/null
  -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
  -o Dir::State::status=/dev/null
  -o Debug::NoLocking=1
)

# The root is intact when every file the packages unpacked is still there and
# wasm2c runs through the root's loader.
root_intact() {
  [ -s "$versions_file" ] && [ -s "$manifest_file" ] && [ -x "$loader" ] || return 1
  local path
  while IFS= read -r path; do
    [ -e "$root/$path" ] || [ -L "$root/$path" ] || return 1
  done <"$manifest_file"
  "$loader" --library-path "$libpath" "$root/usr/bin/wasm2c" --version >/dev/null 2>&1
}

mkdir -p "$apt_dir/etc/sources.list.d" "$apt_dir/etc/preferences.d" \
  "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$deb_dir"
# apt fetches as the unprivileged _apt user when run as root; let it write.
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
  chown _apt "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$deb_dir" 2>/dev/null || true
fi

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ ! -r "$keyring" ]; then
  echo "toolroot: $keyring is missing; install debian-archive-keyring (scripts/bootstrap.sh does)" >&2
  exit 1
fi
uri="$(mirror_uri)"
cat >"$apt_dir/etc/sources.list.d/$suite.sources" <<EOF
Types: deb
URIs: $uri
Suites: $suite
Components: main
Signed-By: $keyring
EOF

if ! apt-get "${apt_opts[@]}" -q update >"$top/update.log" 2>&1; then
  if [ "$force" -eq 0 ] && root_intact; then
    echo "toolroot: apt-get update failed (see $top/update.log); keeping the intact root"
    exit 0
  fi
  cat "$top/update.log" >&2
  echo "toolroot: apt-get update of $suite from $uri failed" >&2
  exit 1
fi

# "package version" lines of what apt would fetch now.
wanted=""
for p in "${packages[@]}"; do
  v="$(apt-cache "${apt_opts[@]}" show --no-all-versions "$p" 2>/dev/null | awk '/^Version:/ { print $2; exit }')"
  if [ -z "$v" ]; then
    echo "toolroot: $p is not in $suite at $uri" >&2
    exit 1
  fi
  wanted+="$p $v"$'\n'
done

if [ "$force" -eq 0 ] && [ -f "$versions_file" ] && [ "$(cat "$versions_file")"$'\n' = "$wanted" ] && root_intact; then
  echo "toolroot: $root is up to date ($(awk '$1 == "wabt" { print "wabt " $2 }' "$versions_file"))"
  exit 0
fi

echo "toolroot: fetching ${packages[*]} from $uri $suite"
rm -f "$deb_dir"/*.deb
(cd "$deb_dir" && apt-get "${apt_opts[@]}" -q download "${packages[@]}")

# Unpack into a fresh directory and swap it in, so that an interrupted run
# never leaves a half-written root that looks complete.
staging="$top/root.new"
rm -rf "$staging" "$top/root.old"
mkdir -p "$staging"
: >"$top/VERSIONS.new"
: >"$top/MANIFEST.new"
for p in "${packages[@]}"; do
  deb="$(ls "$deb_dir/${p}_"*.deb)"
  dpkg-deb -x "$deb" "$staging"
  echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" >>"$top/VERSIONS.new"
  # Regular files and links only: "./usr/bin/wasm2c" -> "usr/bin/wasm2c".
  dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./||; /[^/]$/p' >>"$top/MANIFEST.new"
done

for t in "${tools[@]}"; do
  if ! "$staging/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
    --library-path "$staging/usr/lib/x86_64-linux-gnu" "$staging/usr/bin/$t" --version >/dev/null; then
    echo "toolroot: $t does not run through the root's loader" >&2
    exit 1
  fi
done

[ -d "$root" ] && mv "$root" "$top/root.old"
mv "$staging" "$root"
rm -rf "$top/root.old"
mv "$top/MANIFEST.new" "$manifest_file"
mv "$top/VERSIONS.new" "$versions_file"
echo "toolroot: $root ready:"
sed 's/^/  /' "$versions_file"
