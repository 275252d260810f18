#!/usr/bin/env bash
# tests/compose.sh — big blocks made of the pages of smaller freed ones
# (large.c, span_compose): compose.c checks every byte it wrote; here the
# counters show the pages were moved (large_composed) with the defaults,
# that with thp_min 0 (no huge pages, so nothing may move) nothing was,
# and that when the kernel refuses the moves (compose --refuse-moves) one
# refusal stops composing (compose_refused 1), with the same bytes.
# hakmem composes only on Linux 6.17 and later (os.c, read_release) and
# with huge pages not "never": elsewhere every run must show no move.
#   compose.sh LIBHAKMEM_SO COMPOSE_BIN
set -u
lib=$1 prog=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
stat() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$tmp/$1.json"; }
# run NAME [ARG] -- [VAR=VALUE...]: compose ARG under hakmem, stats kept.
run() {
  local name=$1 arg=$2; shift 3
  env "$@" HAKMEM_STATS_FILE="$tmp/$name.json" LD_PRELOAD="$lib" "$prog" ${arg:+"$arg"} >"$tmp/$name.out" 2>&1
  local rc=$?
  if [ $rc -eq 77 ]; then
    echo "skip $name: $(tail -1 "$tmp/$name.out")"
    return 1
  elif [ $rc -ne 0 ]; then
    echo "FAIL $name: $(tail -5 "$tmp/$name.out")"
    fail=1
    return 1
  fi
  echo "ok   $name: $(tail -1 "$tmp/$name.out"), large_composed $(stat "$name" large_composed)," \
    "compose_refused $(stat "$name" compose_refused)"
}
release=$(uname -r)
major=${release%%.*} minor=${release#*.} minor=${minor%%[!0-9]*}
composes=1
if [ "$major" -lt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -lt 17 ]; }; then
  composes=0 why="Linux $release moves no range of several mappings"
elif grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
  composes=0 why="transparent huge pages are off"
fi
[ $composes -eq 1 ] || echo "note: $why: no block may be made of moved pages here"
if run default "" -- HAKMEM_RETAIN_PCT=100; then
  made=$(stat default large_composed)
  if [ $composes -eq 1 ] && [ "$made" -lt 1 ]; then
    echo "FAIL default: no block was made of freed ones (large_composed 0)"
    fail=1
  elif [ $composes -eq 0 ] && [ "$made" -ne 0 ]; then
    echo "FAIL default: $made blocks were made of moved pages, where hakmem must not move them"
    fail=1
  fi
fi
if run no_huge "" -- HAKMEM_THP_MIN=0 && [ "$(stat no_huge large_composed)" -ne 0 ]; then
  echo "FAIL no_huge: blocks were made of moved pages without huge pages"
  fail=1
fi
if run refused --refuse-moves -- HAKMEM_RETAIN_PCT=100; then
  made=$(stat refused large_composed) refusals=$(stat refused compose_refused)
  if [ "$made" -ne 0 ]; then
    echo "FAIL refused: $made blocks made of moved pages while the kernel refused every move"
    fail=1
  elif [ $composes -eq 1 ] && [ "$refusals" -ne 1 ]; then
    echo "FAIL refused: compose_refused $refusals, expected 1 (one refusal stops composing)"
    fail=1
  elif [ $composes -eq 0 ] && [ "$refusals" -ne 0 ]; then
    echo "FAIL refused: compose_refused $refusals where hakmem must not compose at all"
    fail=1
  fi
fi
exit $fail
