#!/bin/bash
# Fetches restic and restic-rest-server from Debian 13 (trixie) into a project cache without
# touching the system's apt sources: a temporary sources list is derived from the machine's
# own Debian entries (same mirrors, suite names bookworm -> trixie), apt-get download fetches
# the .debs (signature-checked against the machine's keyrings) and dpkg-deb -x unpacks them.
# Usage: scripts/debian-trixie.sh CACHE_DIR   (prints nothing when the cache is complete)
set -euo pipefail

cache=${1:?usage: $0 CACHE_DIR}
want_restic=0.18
want_rest_server=0.13
restic_bin=$cache/root/usr/bin/restic
rest_server_bin=$cache/root/usr/bin/restic-rest-server

# The output is read whole first: `grep -q` quits at its match, and under pipefail the version
# command's SIGPIPE would then fail the check now and then.
have() {
  local out
  [ -x "$1" ] && out=$("$1" "$2" 2>&1) && grep -q " $3\\." <<<"$out"
}
if have "$restic_bin" version "$want_restic" && have "$rest_server_bin" --version "$want_rest_server"; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial" "$cache"

# Only the machine's Debian entries (deb822 *.sources and one-line *.list), never the
# security suite (trixie-security is not needed for two static binaries).
sources=$work/sources.list
shopt -s nullglob
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  grep -E '^\s*deb\s' "$f" | grep -E '\sbookworm(-updates)?\s' | grep -v security |
    sed -E 's/\sbookworm(-updates)?\s/ trixie\1 /' >>"$sources" || true
done
for f in /etc/apt/sources.list.d/*.sources; do
  awk -v RS= '/Suites:[^\n]*bookworm/ && !/security/' "$f" |
    sed -E '/^Suites:/ s/bookworm/trixie/g' >>"$work/trixie.sources" || true
  printf '\n' >>"$work/trixie.sources"
done
mkdir -p "$work/sources.list.d"
[ -s "$work/trixie.sources" ] && mv "$work/trixie.sources" "$work/sources.list.d/"
touch "$sources"
if [ ! -s "$sources" ] && [ ! -e "$work/sources.list.d/trixie.sources" ]; then
  echo "no Debian bookworm entry found in /etc/apt/sources.list{,.d}: cannot derive trixie sources" >&2
  exit 1
fi

apt_opts=(
  -o "Dir::Etc::SourceList=$sources"
  -o "Dir::Etc::SourceParts=$work/sources.list.d"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache::Archives=$work/archives"
  -o "Dir::Cache::pkgcache="
  -o "Dir::Cache::srcpkgcache="
  -o "APT::Architecture=$(dpkg --print-architecture)"
  -o "Debug::NoLocking=1"
)
echo "fetching restic and restic-rest-server from Debian trixie into $cache"
apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root update -qq
(cd "$work/archives" && apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root download -qq restic restic-rest-server)
rm -rf "$cache/root"
for deb in "$work"/archives/*.deb; do dpkg-deb -x "$deb" "$cache/root"; done

if ! have "$restic_bin" version "$want_restic"; then
  echo "$restic_bin is not restic $want_restic: $("$restic_bin" version 2>&1 || true)" >&2
  exit 1
fi
if ! have "$rest_server_bin" --version "$want_rest_server"; then
  echo "$rest_server_bin is not rest-server $want_rest_server: $("$rest_server_bin" --version 2>&1 || true)" >&2
  exit 1
fi
"$restic_bin" version
"$rest_server_bin" --version
