#!/usr/bin/env bash
# tests/bench_redis.sh — a smoke test of bench/redis, not a measurement:
# one round of tiny cases under glibc (the shim) and hakmem. Passes when it
# ends with status 0, its CSV has every default case (LRANGE_100 with 64
# KiB values left out) for both with status ok and a rate, and both server
# runs with their CPU seconds and peak RSS; the table has a row for each;
# a preload that does not load (a file that is no library, as the shim) is
# caught and counted, with exit status 1; and it leaves no temporary files.
#   bench_redis.sh BENCH_REDIS BUILD_DIR GLIBC_SHIM.so
# Exit: 0 passed, 1 failed, 77 redis is not installed (skipped).
set -u
if [ $# -ne 3 ]; then
    echo "usage: $0 BENCH_REDIS BUILD_DIR GLIBC_SHIM.so" >&2
    exit 2
fi
bench=$1 build=$2 shim=$3
# shellcheck source=tests/reliability/redis_server.sh
. "$(dirname "$0")/reliability/redis_server.sh"
redis_skip_unless_installed

out=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-bench-redis-test.XXXXXX")
trap 'rm -rf "$out"' EXIT
mkdir "$out/tmp"
fails=0
fail() {
    echo "FAIL $*"
    fails=$((fails + 1))
}

"$bench" --help >"$out/help" || fail "--help exited with status $?"
grep -q -- '--requests N' "$out/help" || fail "--help does not describe --requests"
"$bench" --no-such-option >/dev/null 2>&1
rc=$?
[ $rc = 2 ] || fail "an unknown option exited with status $rc, want 2"

# Small enough to finish in seconds: 14 cases of 300 requests, 10 clients.
TMPDIR=$out/tmp "$bench" --build "$build" --shim "$shim" --repeats 1 --requests 300 \
    --clients 10 --pipelines 1,4 --csv "$out/runs.csv" >"$out/table.md" 2>"$out/progress"
rc=$?
[ $rc = 0 ] || fail "bench/redis exited with status $rc: $(tail -n 5 "$out/progress")"
for a in glibc hakmem; do
    for size in 1024 65536; do
        for pipe in 1 4; do
            for t in set get lpush lrange_100; do
                [ $t = lrange_100 ] && [ $size = 65536 ] && continue
                row=$(awk -F, -v a=$a -v t=$t -v s=$size -v p=$pipe \
                    '$2 == a && $3 == t && $4 == s && $5 == p' "$out/runs.csv")
                if ! awk -F, '$7 == 300 && $8 > 0 && $11 > 0 && $12 == "ok" { ok = 1 } END { exit !ok }' <<<"$row"; then
                    fail "$a $t -d $size -P $pipe: CSV row '$row', want 300 requests, a rate, a peak RSS, ok"
                fi
                grep -qF "| ${t^^} | $size | $pipe | 300 | $a | 1/1 |" "$out/table.md" ||
                    fail "$a $t -d $size -P $pipe: no row in the table"
            done
        done
    done
    row=$(awk -F, -v a=$a '$2 == a && $3 == "server"' "$out/runs.csv")
    awk -F, '$9 + $10 > 0 && $11 > 0 && $12 == "ok" { ok = 1 } END { exit !ok }' <<<"$row" ||
        fail "$a: server run '$row', want CPU seconds, a peak RSS, ok"
done
n=$(awk -F, 'NR > 1 && $3 == "lrange_100" && $4 == 65536' "$out/runs.csv" | wc -l)
[ "$n" = 0 ] || fail "LRANGE_100 with 64 KiB values ran $n times; it is left out by default"

# A shim that ld.so cannot load: redis runs on its own allocator, which
# bench/redis must see and report instead of measuring.
echo "not a library" >"$out/bogus.so"
TMPDIR=$out/tmp "$bench" --build "$build" --shim "$out/bogus.so" --repeats 1 --requests 100 \
    --clients 5 --tests set --sizes 1024 --pipelines 1 --csv "$out/bogus.csv" >"$out/bogus.md" 2>"$out/bogus.progress"
rc=$?
[ $rc = 1 ] || fail "with a shim that does not load, bench/redis exited with status $rc, want 1"
grep -q '^1,glibc,server,.*,preload-failed$' "$out/bogus.csv" ||
    fail "with a shim that does not load, no preload-failed run: $(cat "$out/bogus.csv")"
grep -q '^1,hakmem,set,.*,ok$' "$out/bogus.csv" || fail "hakmem's run beside the bogus shim did not pass"
grep -qF '| glibc | 0/1 |' "$out/bogus.md" || fail "the table does not count glibc's failed run"

left=$(find "$out/tmp" -mindepth 1 | head -n 3)
[ -z "$left" ] || fail "bench/redis left temporary files: $left"

if [ $fails -gt 0 ]; then
    echo "--- table"; cat "$out/table.md"
    echo "--- progress"; tail -n 20 "$out/progress"
    echo "bench_redis: $fails failures"
    exit 1
fi
echo "ok   bench/redis: $(grep -c '| 1/1 |' "$out/table.md") rows of 1/1 runs, a bogus preload caught"
cat "$out/table.md"
