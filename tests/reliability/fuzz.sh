#!/usr/bin/env bash
# tests/reliability/fuzz.sh — a bounded libFuzzer run, as a ctest: starts
# from the seed corpus (if any) in a scratch corpus, fuzzes for SECONDS, and
# fails on the first crash, sanitizer report or oracle failure. The input
# that failed is kept in ARTIFACTS; rerun it with `FUZZER INPUT`.
#
# Usage: fuzz.sh FUZZER SECONDS ARTIFACTS [SEED_DIR] [-- extra libFuzzer flags]
# FUZZ_CORPUS=DIR keeps the corpus in DIR across runs (long runs).
# Exit: 0 passed, 1 failed, 77 the fuzzer was not built (no clang/libFuzzer).
set -u
fuzzer=$1 seconds=$2 artifacts=$3
shift 3
seeds=
if [ $# -gt 0 ] && [ "$1" != -- ]; then
    seeds=$1
    shift
fi
[ "${1:-}" = -- ] && shift

if [ ! -x "$fuzzer" ]; then
    echo "SKIP: $fuzzer was not built: it needs clang with libFuzzer; to run this test:"
    echo "  apt-get install -y --no-install-recommends clang libclang-rt-14-dev"
    echo "then configure the build again."
    exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/hakmem-fuzz-log.XXXXXX")
if [ -n "${FUZZ_CORPUS:-}" ]; then
    corpus=$FUZZ_CORPUS
    mkdir -p "$corpus"
    trap 'rm -f "$log"' EXIT
else
    corpus=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-fuzz.XXXXXX")
    trap 'rm -rf "$corpus" "$log"' EXIT
fi
mkdir -p "$artifacts"
ulimit -c 0

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$here/lsan.supp"
"$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$@" "$corpus" ${seeds:+"$seeds"} >"$log" 2>&1
rc=$?
grep -a -E '^#[0-9]+ +(INITED|DONE)|^Done|^stat::number_of_executed_units|^stat::peak_rss_mb' "$log"
if [ $rc -ne 0 ]; then
    echo "FAIL: $(basename "$fuzzer") exited with status $rc; its report:"
    grep -a -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)' "$log" | tail -60
    echo "failing inputs kept in $artifacts:"
    # shellcheck disable=SC2012 # libFuzzer names its artifacts in hex
    ls -t "$artifacts" | head -5
    exit 1
fi
echo "$(basename "$fuzzer"): no failure in $seconds s"
