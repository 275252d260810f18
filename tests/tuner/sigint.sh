#!/usr/bin/env bash
# tests/tuner/sigint.sh — Ctrl-C (SIGINT to hak-tune) stops the search in
# the middle of a run: the run in flight is killed, not logged, and the
# best profile so far, the log, the plot and the summary are still written;
# exit status 130.
#   sigint.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

"$tune" --lib "$lib" --cmd "$(load --sleep-ms 150)" --max-sys-frac 0.5 --repeats 2 \
  --calibrate 3 -o "$tmp/t.cfg" >"$tmp/out" 2>"$tmp/err" &
pid=$!
# Wait for a few evaluations, so there is a best to write.
for _ in $(seq 1 300); do
  grep -q '^\[ 3/40\]' "$tmp/err" 2>/dev/null && break
  sleep 0.1
done
sleep 0.2
kill -INT $pid
wait $pid
rc=$?
expect "exit status 130 after SIGINT (got $rc)" test $rc -eq 130
expect "says it was interrupted" grep -q 'interrupted' "$tmp/err"
expect "the profile is written and loads strictly" "$cfgtool" --strict "$tmp/t.cfg"
expect "the profile says it is not confirmed" grep -qE 'NOT CONFIRMED|defaults' "$tmp/t.cfg"
expect "the summary is printed" grep -qE '^rank +eval' "$tmp/out"
expect "the plot is written" grep -q '</svg>' "$tmp/t.svg"
expect "no interrupted run is logged" bash -c "! grep -q '\"status\":\"interrupted\"' '$tmp/t.runs.jsonl'"
expect "every logged run is complete JSON" \
  test "$(grep -c '}}$' "$tmp/t.runs.jsonl")" -eq "$(grep -c '"kind":"run"' "$tmp/t.runs.jsonl")"
sleep 0.3
left=$(pgrep -f -- "--counter $tmp/count" | wc -l)
expect "no workload process is left behind ($left)" test "$left" -eq 0
expect "the search stopped early" bash -c "! grep -q '^\[40/40\]' '$tmp/err'"
finish
