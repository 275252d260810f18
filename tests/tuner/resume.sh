#!/usr/bin/env bash
# tests/tuner/resume.sh — --resume replays the log instead of running:
# the same search again makes no run at all and writes the same profile; a
# larger budget makes only the new runs; a log of another command is
# refused. testload's counter file counts the runs really made.
#   resume.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

cmd=$(load --seed 3)
opts=(--lib "$lib" --cmd "$cmd" --max-sys-frac 0.5 --repeats 2 --calibrate 3 --confirm 2
      --log "$tmp/runs.jsonl")
knobs() { grep -E '^[a-z_]+ = ' "$1"; }

"$tune" "${opts[@]}" --max-evals 6 -o "$tmp/a.cfg" >"$tmp/out1" 2>"$tmp/err1"
expect "first run exits 0" test $? -eq 0
first=$(runs_made)
lines=$(grep -c '"kind":"run"' "$tmp/runs.jsonl")
expect "first run logged its $first runs" test "$lines" -eq "$first"

"$tune" "${opts[@]}" --max-evals 6 --resume -o "$tmp/b.cfg" >"$tmp/out2" 2>"$tmp/err2"
expect "resume exits 0" test $? -eq 0
expect "resume made no run ($(( $(runs_made) - first )) made)" test "$(runs_made)" -eq "$first"
expect "resume says every run was replayed" grep -q " 0 runs made, $first replayed" "$tmp/out2"
expect "resume wrote the same knobs" diff <(knobs "$tmp/a.cfg") <(knobs "$tmp/b.cfg")
expect "resume logged nothing new" \
  test "$(grep -c '"kind":"run"' "$tmp/runs.jsonl")" -eq "$lines"

# A log cut in the middle of its last line (hak-tune killed while writing)
# loses that run only: it is made again, and the log stays one object a line.
cutlog=$tmp/cut.jsonl
grep -v '"kind":"resume"' "$tmp/runs.jsonl" | head -c -40 >"$cutlog"
before=$(runs_made)
"$tune" "${opts[@]}" --log "$cutlog" --max-evals 6 --resume -o "$tmp/cut.cfg" >/dev/null 2>"$tmp/errcut"
expect "resuming a cut log exits 0" test $? -eq 0
expect "the cut line is reported" grep -q 'cut.jsonl: 1 unreadable line skipped' "$tmp/errcut"
expect "only the cut run is made again ($(( $(runs_made) - before )))" test "$(runs_made)" -eq $((before + 1))
expect "every other line of the cut log is whole JSON" \
  test "$(grep -vc '}$' "$cutlog")" -eq 1

before=$(runs_made)
"$tune" "${opts[@]}" --max-evals 9 --resume -o "$tmp/c.cfg" >"$tmp/out3" 2>"$tmp/err3"
expect "resume with a larger budget exits 0" test $? -eq 0
new=$(( $(runs_made) - before ))
expect "a larger budget made new runs ($new)" test "$new" -gt 0
expect "and logged exactly those" \
  test "$(grep -c '"kind":"run"' "$tmp/runs.jsonl")" -eq $((lines + new))
expect "the larger budget reached 9 evaluations" grep -q '^\[ 9/9\]' "$tmp/err3"

"$tune" --lib "$lib" --cmd "$(load --seed 4)" --log "$tmp/runs.jsonl" --resume -o "$tmp/d.cfg" \
  >/dev/null 2>"$tmp/err4"
rc=$?
expect "a log of another command is refused (exit $rc)" test $rc -eq 2
expect "the refusal names the log and both commands" \
  grep -q "runs.jsonl was written for command '.*--seed 3', not '.*--seed 4'" "$tmp/err4"

"$tune" --lib "$lib" --cmd "$cmd" --log "$tmp/none.jsonl" --resume -o "$tmp/e.cfg" \
  >/dev/null 2>"$tmp/err5"
expect "resuming a missing log is refused" test $? -eq 2
expect "and says so" grep -q "no log .*none.jsonl to resume" "$tmp/err5"
finish
