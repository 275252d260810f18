#!/usr/bin/env bash
# tests/reliability/redis.sh — a real server under load: Debian's
# redis-server on loopback, driven by redis-benchmark (SET, GET, LPUSH and
# LRANGE with values of 10 B, 1000 B, 16 KiB and 64 KiB, about 600,000
# requests), once on glibc's allocator and once with hakmem preloaded.
#
# Passes when, with hakmem: the server answers every request (no error
# reply, no benchmark error), stays up until told to shut down and then
# exits cleanly, ends with exactly the dataset the workload defines (key
# count, value sizes, list length) and the same DEBUG DIGEST as under
# glibc, and hakmem's stats show it served the server's allocations in
# every tier. Throughput and peak RSS are printed beside glibc's, never
# judged.
#
# Debian links redis-server against jemalloc; "glibc" here is glibc's
# allocator forced in by a preload of its own (glibc_shim.c).
#
# Usage: redis.sh LIBHAKMEM.so LIBGLIBC_SHIM.so
# Exit: 0 passed, 1 failed, 77 redis is not installed (skipped).
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 LIBHAKMEM.so LIBGLIBC_SHIM.so" >&2
    exit 2
fi
hakmem=$(realpath "$1")
shim=$(realpath "$2")

# Starting and stopping the server (redis_start, redis_stop, redis_kill).
# shellcheck source=tests/reliability/redis_server.sh
. "$(dirname "$0")/redis_server.sh"
redis_skip_unless_installed

work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-redis.XXXXXX")
server_pid=
cleanup() {
    redis_kill
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() {
    echo "FAIL redis: $*"
    failures=$((failures + 1))
}

# Starts redis-server on a free loopback port with the given preload;
# sets server_pid and port.
start_server() {
    local name=$1 preload=$2 dir=$work/$1
    redis_env=(LD_PRELOAD="$preload" HAKMEM_STATS_FILE="$dir/hakmem.%p.json")
    redis_args=(--enable-debug-command local)
    if ! redis_start "$dir"; then
        fail "$name: $redis_error"
        return 1
    fi
    server_pid=$redis_pid port=$redis_port
}

cli() {
    redis_cli "$@"
}

# The workload. redis-benchmark sends the same payload for every request
# of one value size, so whichever client's SET lands last, a key ends with
# the value of the last invocation that wrote it; each keyspace gets 30 times as many SETs as it has keys,
# so every key is written (a key missed has a chance of e^-30). The final
# dataset is therefore fixed: keys 0..99 hold 64 KiB, 100..499 16 KiB,
# 500..1999 1000 B, 2000..3999 10 B, and mylist 200 values of 64 KiB.
bench_steps=(
    "-d 10 -r 4000 -n 120000 -c 16 -P 8 -t set,get"
    "-d 10 -n 60000 -c 16 -P 8 -t lpush,lrange_100"
    "DEL mylist"
    "-d 1000 -r 2000 -n 60000 -c 16 -P 8 -t set,get"
    "-d 1000 -n 8000 -c 16 -P 2 -t lpush,lrange_100"
    "DEL mylist"
    "-d 16384 -r 500 -n 15000 -c 16 -P 2 -t set,get"
    "-d 16384 -n 400 -c 8 -t lpush,lrange_100"
    "DEL mylist"
    "-d 65536 -r 100 -n 3000 -c 8 -t set,get"
    "-d 65536 -n 100 -c 8 -t lpush,lrange_100"
)

# Runs the workload against the server of `name`; fills result_* for the
# report.
run_workload() {
    local name=$1 dir=$work/$1 requests=0 start end
    start=$(date +%s.%N)
    for step in "${bench_steps[@]}"; do
        if [[ $step == DEL* ]]; then
            # shellcheck disable=SC2086 # a command and its arguments
            cli $step >/dev/null
            continue
        fi
        # shellcheck disable=SC2086
        if ! redis-benchmark -p "$port" $step --csv >"$dir/bench.csv" 2>"$dir/bench.err"; then
            fail "$name: redis-benchmark $step exited with status $?"
        fi
        if [ -s "$dir/bench.err" ]; then
            fail "$name: redis-benchmark $step reported: $(head -c 500 "$dir/bench.err")"
        fi
        local n tests
        n=$(sed -E 's/.*-n ([0-9]+).*/\1/' <<<"$step")
        tests=$(($(wc -l <"$dir/bench.csv") - 1))
        if [ "$tests" -lt 2 ]; then
            fail "$name: redis-benchmark $step produced no results"
        fi
        requests=$((requests + n * tests))
        tail -n +2 "$dir/bench.csv" | sed "s/^/    $name $(cut -d' ' -f1-2 <<<"$step") /" >>"$dir/detail"
    done
    end=$(date +%s.%N)
    result_requests=$requests
    result_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    result_rate=$(awk -v n="$requests" -v s="$result_seconds" 'BEGIN { printf "%.0f", n / s }')
    result_rss=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status")
    result_dbsize=$(cli dbsize)
    result_digest=$(cli debug digest)
    local errors
    errors=$(cli info stats | tr -d '\r' | awk -F: '$1 == "total_error_replies" { print $2 }')
    [ "$errors" = 0 ] || fail "$name: the server sent $errors error replies"

    # The dataset the workload defines, checked value by value at the
    # edges of each keyspace.
    local want key got
    for want in "0 65536" "99 65536" "100 16384" "499 16384" "500 1000" "1999 1000" \
        "2000 10" "3999 10"; do
        key=$(printf 'key:%012d' "${want% *}")
        got=$(cli strlen "$key")
        [ "$got" = "${want#* }" ] || fail "$name: STRLEN $key is $got, want ${want#* }"
    done
    [ "$(cli get key:000000000050 | md5sum)" = "$(cli get key:000000000000 | md5sum)" ] ||
        fail "$name: key:000000000050 and key:000000000000 hold different values"
    got=$(cli llen mylist)
    [ "$got" = 200 ] || fail "$name: LLEN mylist is $got, want 200"
    [ "$result_dbsize" = 4001 ] || fail "$name: DBSIZE is $result_dbsize, want 4001"
}

stop_server() {
    local name=$1 dir=$work/$1 status
    redis_stop
    status=$?
    server_pid=
    [ "$status" = 0 ] || fail "$name: redis-server exited with status $status"
    if grep -Eq 'BUG REPORT|crashed|Guru Meditation' "$dir/redis.log"; then
        fail "$name: redis-server crashed:"
        tail -40 "$dir/redis.log"
    fi
    if [ -s "$dir/stderr" ]; then
        fail "$name: redis-server wrote on stderr: $(head -c 500 "$dir/stderr")"
    fi
}

declare -A rate rss seconds requests dbsize digest
for name in glibc hakmem; do
    if [ "$name" = glibc ]; then preload=$shim; else preload=$hakmem; fi
    start_server "$name" "$preload" || exit 1
    run_workload "$name"
    stop_server "$name"
    rate[$name]=$result_rate
    rss[$name]=$result_rss
    seconds[$name]=$result_seconds
    requests[$name]=$result_requests
    dbsize[$name]=$result_dbsize
    digest[$name]=$result_digest
done

[ "${digest[hakmem]}" = "${digest[glibc]}" ] ||
    fail "DEBUG DIGEST differs: glibc ${digest[glibc]}, hakmem ${digest[hakmem]}"
[ "${dbsize[hakmem]}" = "${dbsize[glibc]}" ] ||
    fail "DBSIZE differs: glibc ${dbsize[glibc]}, hakmem ${dbsize[hakmem]}"

# hakmem served the server, in every tier (64 KiB values are large blocks).
stats=$(cat "$work"/hakmem/hakmem.*.json 2>/dev/null)
if [ -z "$stats" ]; then
    fail "hakmem wrote no stats file: was it loaded?"
else
    for counter in tiny_alloc mid_alloc large_alloc; do
        value=$(grep -o "\"$counter\":[0-9]*" <<<"$stats" | head -1 | cut -d: -f2)
        [ "${value:-0}" -gt 0 ] || fail "hakmem served no $counter allocations"
    done
fi

echo "redis-server $(redis-server --version | grep -o 'v=[0-9.]*'), workload of ${requests[glibc]} requests:"
printf '  %-8s %9s %8s %10s %14s  %s\n' allocator requests seconds 'req/s' 'peak RSS MiB' 'DBSIZE  DEBUG DIGEST'
for name in glibc hakmem; do
    printf '  %-8s %9s %8s %10s %14s  %s  %s\n' "$name" "${requests[$name]}" "${seconds[$name]}" \
        "${rate[$name]}" "${rss[$name]}" "${dbsize[$name]}" "${digest[$name]}"
done
echo "  per step (test, rps, latencies in ms):"
cat "$work"/glibc/detail "$work"/hakmem/detail
echo "throughput and RSS are reported, not judged: one run on a shared machine proves nothing."
if [ "$failures" -ne 0 ]; then
    echo "redis: $failures failures"
    exit 1
fi
echo "redis: ok"
