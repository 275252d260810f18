#!/usr/bin/env bash
# reentry.sh — the re-entry guard: an allocation path that calls a wrapped
# entry point (malloc, posix_memalign) re-enters hakmem. Under the
# deliberately broken build (its page pool calls the wrapped posix_memalign)
# a program that needs mid-tier pages must abort with "hakmem: re-entered",
# not hang, recurse until the stack runs out or corrupt memory; under the real library the same program must pass.
#
# Usage: reentry.sh LIBHAKMEM.so LIBHAKMEM-REENTRY-BUG.so PROGRAM [ARGS...]
set -u

if [ $# -lt 3 ]; then
    echo "usage: $0 LIBHAKMEM.so LIBHAKMEM-REENTRY-BUG.so PROGRAM [ARGS...]" >&2
    exit 2
fi
good=$(realpath "$1")
bad=$(realpath "$2")
shift 2
for f in "$good" "$bad" "$1"; do
    if [ ! -e "$f" ]; then
        echo "FAIL: $f not found"
        exit 1
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-reentry-bug.XXXXXX")
trap 'rm -rf "$work"' EXIT
ulimit -c 0 # the abort is expected; no core files

fail=0
# timeout reports a child killed by signal N as 128+N: SIGABRT is 134,
# SIGSEGV (stack exhausted by recursion) 139, our own SIGKILL 137.
# The shell's own stderr is parked meanwhile: bash would print "Aborted" for
# the expected abort, which reads like a failure in the ctest log.
exec 3>&2 2>/dev/null
LD_PRELOAD="$bad" timeout -s KILL 30 "$@" >"$work/bad.out" 2>"$work/bad.err"
rc=$?
exec 2>&3 3>&-
if [ $rc = 0 ]; then
    echo "FAIL: under $(basename "$bad") the program succeeded: the re-entry went unnoticed"
    fail=1
elif [ $rc = 137 ]; then
    echo "FAIL: under $(basename "$bad") the program hung (killed after 30 s)"
    fail=1
elif ! grep -q 'hakmem: re-entered' "$work/bad.err"; then
    echo "FAIL: under $(basename "$bad") the program failed (status $rc) without" \
        "'hakmem: re-entered' on stderr"
    fail=1
elif [ $rc != 134 ]; then
    echo "FAIL: under $(basename "$bad") the re-entry was reported but the program ended with" \
        "status $rc, not an abort (134)"
    fail=1
else
    echo "ok   $(basename "$bad"): aborted with: $(grep -m1 'hakmem: re-entered' "$work/bad.err")"
fi
if [ $fail = 1 ]; then
    echo "    stderr:"
    tail -n 10 "$work/bad.err" | sed 's/^/    /'
fi

LD_PRELOAD="$good" timeout -s KILL 30 "$@" >"$work/good.out" 2>"$work/good.err"
rc=$?
if [ $rc != 0 ] || grep -q 're-entered' "$work/good.err"; then
    echo "FAIL: under $(basename "$good") the program failed (status $rc); stderr:"
    tail -n 10 "$work/good.err" | sed 's/^/    /'
    fail=1
else
    echo "ok   $(basename "$good"): the same program passes"
fi
exit $fail
