#!/usr/bin/env bash
# tests/tuner/refuse.sh — runs that did not measure hakmem are refused, not
# scored: a program in which hakmem served no allocation, a program that
# cannot be run, a libhakmem.so that does not exist. Each gets a message
# naming what is wrong, and no profile is written from it.
#   refuse.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN STATIC_LOAD
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
static_load=$5

# check NAME EXIT-STATUS PATTERN -- hak-tune arguments...
check() {
  local name=$1 want=$2 pattern=$3
  shift 4
  "$tune" "$@" -o "$tmp/x.cfg" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -ne $want ]]; then bad "$name" "exit $rc, wanted $want: $(tail -3 "$tmp/err")"; return; fi
  if ! grep -qE -- "$pattern" "$tmp/err"; then bad "$name" "no /$pattern/ in: $(cat "$tmp/err")"; return; fi
  if [[ -e $tmp/x.cfg ]]; then bad "$name" "a profile was written"; rm -f "$tmp/x.cfg"; return; fi
  ok "$name"
}

check "hakmem served nothing" 1 'default profile does not run: unserved: hakmem served no allocation' -- \
  --lib "$lib" --cmd "$testload --no-malloc" --calibrate 2
check "the preload did not take (static program)" 1 'does not run: no-stats: hakmem wrote no stats' -- \
  --lib "$lib" --cmd "$static_load" --calibrate 2
check "no throughput in the output" 1 'does not run: no-metric: no match for /Throughput' -- \
  --lib "$lib" --cmd "/bin/echo hello" --calibrate 2
check "program not found" 1 'does not run: exec-failed: cannot run /nonexistent/prog: No such file' -- \
  --lib "$lib" --cmd "/nonexistent/prog" --calibrate 2
check "library not found" 1 'libhakmem.so not found: tried /nonexistent/libhakmem.so' -- \
  --lib /nonexistent/libhakmem.so --cmd "$testload"
finish
