# tests/tuner/common.sh — what every tuner test script shares: its
# arguments, a scratch directory, and pass/fail bookkeeping.
# shellcheck shell=bash disable=SC2034  # the variables are the sourcing script's
#   source common.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
tune=$1 testload=$2 lib=$3 cfgtool=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
finish() {
  echo "$pass passed, $fail failed"
  [[ $fail -eq 0 ]]
}

# expect NAME CONDITION-COMMAND... : passes when the command succeeds.
expect() {
  local name=$1; shift
  if "$@"; then ok "$name"; else bad "$name" "'$*' is false"; fi
}

# The testload command line: a counter file counts the runs really made.
# shellcheck disable=SC2120  # arguments are optional
load() { echo "$testload --cpu-ms ${CPU_MS:-40} --counter $tmp/count $*"; }
runs_made() { cat "$tmp/count" 2>/dev/null || echo 0; }
