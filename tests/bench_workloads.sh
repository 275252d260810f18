#!/usr/bin/env bash
# tests/bench_workloads.sh — every workload of bench/'s table runs under
# hakmem through compare, ends ok (no crash, a throughput line, hakmem's
# stats prove it served the run) and is reported; a smoke test of the
# programs and the harness, not a measurement (0.3 s runs, one repeat).
#   bench_workloads.sh COMPARE_BIN
set -u
compare=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! "$compare" --repeats 1 --seconds 0.3 --timeout 60 --out "$out" all >"$out/table.md" 2>"$out/progress"; then
  echo "FAIL compare exited non-zero: $(tail -5 "$out/progress")"
  exit 1
fi
pass=0 fail=0
workloads=$("$compare" --help | awk '/^Workloads/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}')
for w in $workloads; do
  row=$(awk -F, -v w="$w" '$1 == w && $2 == "hakmem" {print $4; exit}' "$out/runs.csv")
  if [[ $row == ok ]]; then
    pass=$((pass + 1)); echo "ok   $w under hakmem"
  else
    fail=$((fail + 1)); echo "FAIL $w under hakmem: status '${row:-missing}' (log: $(awk -F, -v w="$w" '$1 == w && $2 == "hakmem" {print $NF}' "$out/runs.csv"))"
  fi
done
[[ $pass -ge 11 ]] || { fail=$((fail + 1)); echo "FAIL only $pass workloads found in compare --help"; }
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
