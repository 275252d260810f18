#!/usr/bin/env bash
# tests/compose.sh — big blocks made of the pages of smaller freed ones
# (large.c, span_compose): compose.c checks every byte it wrote; here the
# counters show the pages were moved (large_composed) with the defaults,
# and that with thp_min 0 (no huge pages, so nothing may move) nothing
# was, with the same bytes.
#   compose.sh LIBHAKMEM_SO COMPOSE_BIN
set -u
lib=$1 prog=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
stat() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$tmp/$1.json"; }
run() {
  local name=$1; shift
  if ! env "$@" HAKMEM_STATS_FILE="$tmp/$name.json" LD_PRELOAD="$lib" "$prog" >"$tmp/$name.out" 2>&1; then
    echo "FAIL $name: $(tail -5 "$tmp/$name.out")"
    fail=1
    return 1
  fi
  echo "ok   $name: $(tail -1 "$tmp/$name.out"), large_composed $(stat "$name" large_composed)"
}
if run default HAKMEM_RETAIN_PCT=100 && [ "$(stat default large_composed)" -lt 1 ]; then
  echo "FAIL default: no block was made of freed ones (large_composed 0)"
  fail=1
fi
if run no_huge HAKMEM_THP_MIN=0 && [ "$(stat no_huge large_composed)" -ne 0 ]; then
  echo "FAIL no_huge: blocks were made of moved pages without huge pages"
  fail=1
fi
exit $fail
