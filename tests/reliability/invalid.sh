#!/usr/bin/env bash
# tests/reliability/invalid.sh — misuse of the allocator beyond double
# frees (tests/invalid_free.sh has those): free() of addresses hakmem never
# handed out, interior pointers, and realloc() and malloc_usable_size() of a
# freed large block, with the large-span cache on (the default: the freed
# span is still mapped) and off (it is unmapped at free).
#
# Each case ends one of three ways, best first:
#   abort     a message on stderr and abort() (exit 134)
#   crash     killed by a signal without a message (a segfault, typically)
#   unnoticed the call returned and the program went on
# The table below records what hakmem does today. A case that does worse
# fails the test; one that does better passes and asks for the table to be
# updated. The "known" column names the gaps reported to the allocator's
# authors (tests/RELIABILITY.md).
#
# Usage: invalid.sh LIBHAKMEM.so INVALID_BIN
set -u
lib=$1 prog=$2

# case             cache  today      known issue?
table=(
    "wild            on     crash      known"
    "stack           on     abort      -"
    "interior-tiny   on     unnoticed  known"
    "interior-large  on     crash      known"
    "realloc-freed   on     abort      -"
    "realloc-freed   off    crash      known"
    "usable-freed    on     abort      -"
    "usable-freed    off    crash      known"
)

rank() {
    case $1 in abort) echo 2 ;; crash) echo 1 ;; *) echo 0 ;; esac
}

ulimit -c 0 # the crashes are expected: no core files
errfile=$(mktemp "${TMPDIR:-/tmp}/hakmem-invalid.XXXXXX")
trap 'rm -f "$errfile"' EXIT

pass=0 fail=0
for row in "${table[@]}"; do
    read -r name cache want known <<<"$row"
    spans=16
    [ "$cache" = off ] && spans=0
    out=$(LD_PRELOAD=$lib HAKMEM_LARGE_CACHE_SPANS=$spans "$prog" "$name" 2>"$errfile")
    rc=$?
    err=$(head -c 300 "$errfile")
    if [ $rc -eq 134 ] && [ -n "$err" ]; then
        got=abort
    elif [ $rc -gt 128 ]; then
        got=crash
    elif [ $rc -eq 0 ] && grep -q '^returned$' <<<"$out"; then
        got=unnoticed
    else
        got="exit-$rc"
    fi
    what="$name (cache $cache): $got"
    [ -n "$err" ] && what="$what, stderr: $(tr '\n' ' ' <<<"$err")"
    [ "$got" = unnoticed ] && what="$what, stdout: $(grep -v '^returned$' <<<"$out" | tr '\n' ' ')"
    if [[ $got == exit-* ]]; then
        echo "FAIL $what (the program did not run as intended)"
        fail=$((fail + 1))
    elif [ "$(rank "$got")" -lt "$(rank "$want")" ]; then
        echo "FAIL $what; it was $want before"
        fail=$((fail + 1))
    elif [ "$got" != "$want" ]; then
        echo "ok   $what; better than the recorded $want: update the table in $0"
        pass=$((pass + 1))
    else
        [ "$known" = known ] && what="$what [known issue]"
        echo "ok   $what"
        pass=$((pass + 1))
    fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
