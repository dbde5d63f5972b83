#!/usr/bin/env bash
# deps.sh: installs the Debian 12 packages IRISX needs to build, test and benchmark, if missing.
set -euo pipefail
PKGS=(cmake ninja-build gcc clang libclang-rt-14-dev pkg-config make
      libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3 libpq-dev postgresql
      libargon2-dev libssl-dev libcurl4-openssl-dev libnats-dev nats-server libxml2-dev
      libre-dev libspandsp-dev libsndfile1-dev sip-tester postfix kannel kannel-extras
      flite1-dev libespeak-ng-dev espeak-ng-data libspeexdsp-dev baresip-core
      nodejs npm curl jq wrk nginx-light iproute2 util-linux)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node from another source (the image's own) is fine: only install npm/node if absent.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "deps: run as root (or install the packages above yourself)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
