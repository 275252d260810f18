#!/usr/bin/env bash
# tests/tuner/failures.sh — candidates that crash, hang, exit non-zero or
# print no throughput are recorded infeasible with their reason, and the
# search goes on to its full budget and writes a profile that has none of
# them. testload fails on purpose in four regions of the space.
#   failures.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

cmd=$(load --fail crash:align_mode:=:overalloc --fail hang:align_mode:=:chunk_pool \
  --fail exit:wrap_mid:=:false --fail garbage:wrap_large:=:false)
"$tune" --lib "$lib" --cmd "$cmd" --max-sys-frac 0.5 --max-evals 10 --repeats 2 --calibrate 3 \
  --confirm 2 --timeout 1 -o "$tmp/t.cfg" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "hak-tune exits 0" test $rc -eq 0
log=$tmp/t.runs.jsonl
for want in 'crash:killed by SIGSEGV' 'timeout:still running after 1.0 s' \
            'exit:exit status 3: testload: told to fail here' 'no-metric:no match for'; do
  st=${want%%:*} reason=${want#*:}
  expect "a run recorded as $st ($reason)" \
    grep -q "\"status\":\"$st\",\"reason\":\"$reason" "$log"
  expect "a progress line names the $st" grep -q "^\[[ 0-9]*/10\] $st: $reason" "$tmp/err"
done
# A failed candidate costs one run, not its repeats: a crash is not averaged away.
expect "a crashing candidate was run once" \
  test "$(grep -c '"status":"crash"' "$log")" -eq 1
expect "the search went on to all 10 evaluations" grep -q '^\[10/10\]' "$tmp/err"
expect "the summary counts the failures" \
  grep -qE '^broke a constraint: [0-9]+; failed: 4 \(crash 1\) \(exit 1\) \(timeout 1\) \(no-metric 1\)$' "$tmp/out"
expect "the profile is written and loads strictly" "$cfgtool" --strict "$tmp/t.cfg"
for bad_setting in 'align_mode = "overalloc"' 'align_mode = "chunk_pool"' 'wrap_mid = false' \
                   'wrap_large = false'; do
  expect "the profile avoids $bad_setting" bash -c "! grep -q '^$bad_setting;' '$tmp/t.cfg'"
done
finish
