#!/usr/bin/env bash
# tests/deps.sh — installs what building, testing or benchmarking hakmem
# needs and is missing: as root through apt-get, otherwise it prints the
# exact command to run and fails.
#   tests/deps.sh build test bench     (any of the three groups)
set -euo pipefail

declare -A group=(
  [build]="cmake make gcc pkg-config libconfig-dev libnlopt-dev libjansson-dev"
  [test]="time python3 perl sqlite3 git g++ jq tcl lua5.4 ruby mawk xz-utils pigz bc clang binutils libclang-rt-14-dev redis-server redis-tools postgresql mariadb-server-core mariadb-client-core sysbench groff-base man-db file dpkg-dev"
  [bench]="libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4"
)

want=()
for g in "$@"; do
  [[ -n "${group[$g]:-}" ]] || { echo "deps.sh: unknown group '$g' (build, test, bench)" >&2; exit 2; }
  for p in ${group[$g]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "hakmem needs these packages: ${missing[*]}" >&2
  echo "run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
