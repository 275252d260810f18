#!/usr/bin/env bash
# tests/invalid_free.sh — in hardened mode, a second free of a block ends the program with one
# clear message and abort(), for tiny, mid and large blocks, whether the
# block still sits in the thread's cache or has gone back to its page.
#   invalid_free.sh LIBHAKMEM_SO DOUBLEFREE_BIN
set -u
lib=$1 prog=$2
pass=0 fail=0
for size in 16 100 1000 5000 30000 200000 4000000; do
  for churn in "" churn; do
    err=$(HAKMEM_HARDENED=1 LD_PRELOAD=$lib "$prog" "$size" $churn 2>&1 >/dev/null)
    rc=$?
    if [[ $rc -eq 134 ]] && grep -Eq '^hakmem: double free of 0x[0-9a-f]+$' <<<"$err"; then
      pass=$((pass + 1)); echo "ok   double free of $size bytes ${churn:+(after churn)}"
    else
      fail=$((fail + 1)); echo "FAIL double free of $size bytes ${churn:+(after churn)}: exit $rc, stderr: $err"
    fi
  done
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
