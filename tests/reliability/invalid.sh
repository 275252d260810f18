#!/usr/bin/env bash
# tests/reliability/invalid.sh — misuse of the allocator beyond double
# frees (tests/invalid_free.sh has those): free(), realloc() and
# malloc_usable_size() of addresses hakmem never handed out, of pointers
# into the middle of a block, and of a freed large block, with the
# large-span cache on (the default: the freed span is still mapped) and
# off (it is unmapped at free, and remembered as gone: large.c), and in
# hardened mode.
#
# Each row says how the run must end:
#   abort      exit by abort() (134) with the row's message, alone on the
#              first line of stderr
#   unnoticed  the call returned and the program went on: accepted only
#              where the check is the hardened knob's (tests/RELIABILITY.md
#              says why and what it costs)
# Anything else (a crash without a message, another message, a misuse
# gone unnoticed where a check exists) fails the row.
#
# Usage: invalid.sh LIBHAKMEM.so INVALID_BIN
set -u
lib=$1 prog=$2

hex='0x[0-9a-f]+'
# case              settings   want       message (an extended regex)
table=(
    "wild               -          abort      ^hakmem: free\(\): invalid pointer $hex: not allocated by hakmem nor the C library \(no memory is mapped there\)$"
    "realloc-wild       -          abort      ^hakmem: realloc\(\): invalid pointer $hex: not allocated by hakmem nor the C library \(no memory is mapped there\)$"
    "stack              -          abort      ^hakmem: free\(\): invalid pointer $hex: on the stack of this thread, not allocated by anyone$"
    "interior-large     -          abort      ^hakmem: free\(\): invalid pointer $hex: 4096 bytes into the 204800-byte block at $hex$"
    "usable-interior    -          abort      ^hakmem: malloc_usable_size\(\): invalid pointer $hex: 4096 bytes into the 204800-byte block at $hex$"
    "realloc-interior   -          abort      ^hakmem: realloc\(\): invalid pointer $hex: 16 bytes into the 64-byte block at $hex$"
    "misaligned         -          abort      ^hakmem: free\(\): invalid pointer $hex: 1 byte into the 64-byte block at $hex$"
    "interior-tiny      -          abort      ^hakmem: free\(\): invalid pointer $hex: 16 bytes into the 64-byte block at $hex$"
    "interior-mid       -          abort      ^hakmem: free\(\): invalid pointer $hex: 16 bytes into the 5040-byte block at $hex$"
    "interior-deferred  -          abort      ^hakmem: free\(\): invalid pointer $hex: 16 bytes into the 12288-byte block at $hex$"
    "interior-deferred  open       abort      ^hakmem: free\(\): invalid pointer $hex: 16 bytes into the 13104-byte block at $hex$"
    "misaligned         hardened   abort      ^hakmem: free\(\): invalid pointer $hex: 1 byte into the 64-byte block at $hex$"
    "interior-tiny      hardened   abort      ^hakmem: free\(\): invalid pointer $hex: 16 bytes into the 64-byte block at $hex$"
    "interior-mid       hardened   abort      ^hakmem: free\(\): invalid pointer $hex: 16 bytes into the 5040-byte block at $hex$"
    "realloc-freed      -          abort      ^hakmem: realloc\(\): pointer $hex was already freed$"
    "realloc-freed      nocache    abort      ^hakmem: realloc\(\): pointer $hex was already freed$"
    "usable-freed       -          abort      ^hakmem: malloc_usable_size\(\): pointer $hex was already freed$"
    "usable-freed       nocache    abort      ^hakmem: malloc_usable_size\(\): pointer $hex was already freed$"
)

ulimit -c 0 # the aborts are expected: no core files
errfile=$(mktemp "${TMPDIR:-/tmp}/hakmem-invalid.XXXXXX")
trap 'rm -f "$errfile"' EXIT

pass=0 fail=0
for row in "${table[@]}"; do
    read -r name settings want msg <<<"$row"
    env=(LD_PRELOAD="$lib")
    case $settings in
    hardened) env+=(HAKMEM_HARDENED=1) ;;
    nocache) env+=(HAKMEM_LARGE_CACHE_SPANS=0) ;;
    open) env+=(HAKMEM_MID_OPEN_AFTER=0) ;;
    esac
    out=$(env "${env[@]}" "$prog" "$name" 2>"$errfile")
    rc=$?
    first=$(head -n 1 "$errfile")
    if [ $rc -eq 134 ]; then
        got=abort
    elif [ $rc -gt 128 ]; then
        got="killed by signal $((rc - 128))"
    elif [ $rc -eq 0 ] && grep -q '^returned$' <<<"$out"; then
        got=unnoticed
    else
        got="exit $rc"
    fi
    what="$name ($settings): $got"
    [ -s "$errfile" ] && what="$what, stderr: $(head -c 300 "$errfile" | tr '\n' ' ')"
    [ "$got" = unnoticed ] && what="$what, stdout: $(grep -v '^returned$' <<<"$out" | tr '\n' ' ')"
    if [ "$got" != "$want" ]; then
        echo "FAIL $what; expected $want"
        fail=$((fail + 1))
    elif [ "$want" = abort ] && ! grep -Eq -- "$msg" <<<"$first"; then
        echo "FAIL $what; expected the message /$msg/"
        fail=$((fail + 1))
    else
        echo "ok   $what"
        pass=$((pass + 1))
    fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
