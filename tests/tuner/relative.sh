#!/usr/bin/env bash
# tests/tuner/relative.sh — the kernel-time constraint fits the program.
# testload --sys-share 0.5 spends half its CPU time in the kernel under
# the default (as programs that fault in fresh memory do); raising
# chunk_pool_pages takes that to nothing, and past the idle cliff it is
# 90 %.
#  - With no cap given, the constraint is the default's own median: the
#    search tunes (it is not refused for breaking a 5 % cap), names the
#    default's figure in the header, and stays off the 90 % cliff.
#  - With a cap the default breaks (0.25), hak-tune says so with the
#    measured figure and tunes toward it: the profile meets the cap and is
#    written because the default breaks it.
#   relative.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
CPU_MS=60

"$tune" --lib "$lib" --cmd "$(load --seed 5 --sys-share 0.5)" --max-evals 14 \
  -o "$tmp/rel.cfg" >"$tmp/rel.out" 2>"$tmp/rel.err"
rc=$?
expect "no cap given: hak-tune exits 0" test $rc -eq 0
[[ $rc -eq 0 ]] || { cat "$tmp/rel.err" "$tmp/rel.out"; finish; exit; }
expect "the constraint is the default's own median, with its figure" \
  grep -qE "^# constraints: +sys/\(user\+sys\) <= 0\.[0-9]+ \(the default's median 0\.[2-7][0-9]* \+ 10% \+ [0-9.]+ for its noise\)$" \
  "$tmp/rel.cfg" || grep '^# constraints:' "$tmp/rel.cfg"
expect "the profile is tuned, not refused" grep -qE '^# verdict: +tuned is better' "$tmp/rel.cfg"
read -r -a ex < <(HAKMEM_CONFIG=$tmp/rel.cfg "$testload" --explain --sys-share 0.5 --cap 0.6)
declare -A x
for ((i = 0; i + 1 < ${#ex[@]}; i += 2)); do x[${ex[i]}]=${ex[i + 1]}; done
expect "it stays off the 90% cliff (designed share ${x[sys]})" \
  awk -v s="${x[sys]}" 'BEGIN { exit !(s <= 0.5) }'
expect "no warning that nothing met a 5% cap" bash -c "! grep -q 'not even the default' '$tmp/rel.out'"

"$tune" --lib "$lib" --cmd "$(load --seed 5 --sys-share 0.5)" --max-sys-frac 0.25 --max-evals 14 \
  -o "$tmp/abs.cfg" >"$tmp/abs.out" 2>"$tmp/abs.err"
rc=$?
expect "a cap the default breaks: hak-tune exits 0" test $rc -eq 0
expect "it says the default breaks the cap, with the figure" \
  grep -qE "^hak-tune: the default breaks a constraint: sys/\(user\+sys\) 0\.[2-7][0-9]* > cap 0\.25 \(median of its [0-9]+ runs\)" \
  "$tmp/abs.err"
read -r -a ex < <(HAKMEM_CONFIG=$tmp/abs.cfg "$testload" --explain --sys-share 0.5 --cap 0.25)
for ((i = 0; i + 1 < ${#ex[@]}; i += 2)); do x[${ex[i]}]=${ex[i + 1]}; done
expect "the profile meets the cap (designed share ${x[sys]})" test "${x[feasible]}" = 1
expect "and is written because the default breaks it" \
  grep -qE '^# verdict: +the default breaks a constraint \(sys/\(user\+sys\) 0\.[0-9]+ > cap 0\.25\) and the tuned profile meets them' \
  "$tmp/abs.cfg"
finish
