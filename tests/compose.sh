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
# want RUN COUNTER OP N WHY: RUN's counter passes test VALUE OP N, else FAIL.
want() {
  local v
  v=$(stat "$1" "$2")
  test "$v" "$3" "$4" 2>/dev/null || { echo "FAIL $1: $2 is ${v:-missing}, expected $3 $4 ($5)"; fail=1; }
}
if [ $composes -eq 1 ]; then
  some=(-ge 1) once=(-eq 1)
else
  some=(-eq 0) once=(-eq 0)
fi
run default "" -- HAKMEM_RETAIN_PCT=100 &&
  want default large_composed "${some[@]}" "blocks made of freed ones where hakmem composes, none elsewhere"
run no_huge "" -- HAKMEM_THP_MIN=0 &&
  want no_huge large_composed -eq 0 "without huge pages nothing may move"
if run refused --refuse-moves -- HAKMEM_RETAIN_PCT=100; then
  want refused large_composed -eq 0 "the kernel refused every move"
  want refused compose_refused "${once[@]}" "one refusal stops composing"
fi
exit $fail
