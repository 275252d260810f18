#!/usr/bin/env bash
# tests/medians_awk.sh — the statistics of bench's shell drivers
# (bench/medians.awk: median, ratio, paired), on figures made up so that
# each definition gives a different answer from the plausible wrong one:
# the paired ratio pairs an allocator with the other peer of best median,
# not with the best of the others in each round (which counts the best of
# several noisy figures against it), and never with hakmem.
#   medians_awk.sh MEDIANS_AWK
set -u
if [ $# -ne 1 ]; then
    echo "usage: $0 MEDIANS_AWK" >&2
    exit 2
fi
lib=$(cat "$1") || exit 2
fails=0
# check WHAT WANT GOT
check() {
    if [ "$2" = "$3" ]; then
        echo "ok   $1"
    else
        echo "FAIL $1: want '$2', got '$3'"
        fails=$((fails + 1))
    fi
}
# run AWK-STATEMENTS [CSV]: the statements in an END block after medians.awk,
# with the CSV's rows (round,allocator,value) as pv["k", allocator, round].
run() {
    printf '%s' "${2:-}" | awk -F, "$lib"'
    { pv["k", $2, $1] = $3; preps[$1] = 1; pallocs[$2] = 1 }
    END { '"$1"' }'
}

check "median of an odd count" 2 "$(run 'print median("3 1 2")')"
check "median of an even count" 2.5 "$(run 'print median("4 1 2 3")')"
check "median of nothing" "" "$(run 'print median("")')"
check "ratio" 0.50 "$(run 'print ratio(1, 2)')"
check "ratio with a figure missing" "–" "$(run 'print ratio("", 2)')"
check "ratio over zero" "–" "$(run 'print ratio(1, 0)')"

# Every round, one of mimalloc and jemalloc reads 130 where its median is
# 90; glibc reads 100 every round and is the partner of best median.
rounds='1,glibc,100
2,glibc,100
3,glibc,100
1,mimalloc,90
2,mimalloc,130
3,mimalloc,90
1,jemalloc,130
2,jemalloc,90
3,jemalloc,90
1,hakmem,100
2,hakmem,100
3,hakmem,100
'
check "paired: against the peer of best median, not each round's best" \
    "1.00 (1.00–1.00)" "$(run 'print paired("k", "hakmem", 1)' "$rounds")"
check "paired: a peer's partner is another peer, never itself or hakmem" \
    "1.11 (0.77–1.11)" "$(run 'print paired("k", "glibc", 1)' "$rounds")"
# Lower is better (wall seconds): glibc's 100 is the worst median now,
# mimalloc and jemalloc tie at 90 and pair alike.
check "paired, lower is better" "1.11 (0.77–1.11)" "$(run 'print paired("k", "hakmem", 0)' "$rounds")"
# A round the partner did not finish pairs nothing.
check "paired: a round without the partner's figure is left out" "1.00 (1.00–1.00)" \
    "$(run 'print paired("k", "hakmem", 1)' "$(grep -v '^3,glibc' <<<"$rounds")")"
check "paired: no partner at all" "–" "$(run 'print paired("k", "hakmem", 1)' '1,hakmem,100
')"

[ $fails = 0 ] || exit 1
