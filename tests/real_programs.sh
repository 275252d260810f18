#!/usr/bin/env bash
# real_programs.sh — real allocation-heavy programs (the workloads of
# tests/real_workloads.sh, listed there in real_workloads) run once under
# glibc and once with libhakmem preloaded: same stdout, exit status 0 both
# times, and the stats files must show that hakmem served allocations, so a
# preload that silently did nothing fails.
#
# Usage: real_programs.sh LIBHAKMEM.so [workload...]   (default: all of them)
# Exit: 0 all passed, 1 a failure, 77 a program is not installed (skipped).
# HAKTEST_NO_STATS=1 drops the stats check, to try the script itself with
# another preloaded allocator.

# The workload functions are called by name through bash -c.
# shellcheck disable=SC2317
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 LIBHAKMEM.so [workload...] (see real_workloads in tests/real_workloads.sh)" >&2
    exit 2
fi
lib=$(realpath "$1")
shift
if [ ! -f "$lib" ]; then
    echo "FAIL: library $lib not found" >&2
    exit 1
fi
progs=("$@")

work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-real.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The workloads (workload_python3, ...), shared with bench/programs.
# shellcheck source=tests/real_workloads.sh
. "$(dirname "$0")/real_workloads.sh"
[ ${#progs[@]} -eq 0 ] && progs=("${real_workloads[@]}")

# run_one PROG MODE: runs the workload in $work/PROG/MODE, output to files
# there. MODE hakmem preloads the library and asks for a stats file per
# process (git and gcc start many). A hang is killed after 120 s.
run_one() {
    local prog=$1 mode=$2 dir="$work/$1/$2"
    local env=()
    mkdir -p "$dir/run" "$dir/stats"
    if [ "$mode" = hakmem ]; then
        env=(LD_PRELOAD="$lib" HAKMEM_STATS_FILE="$dir/stats/%p.json")
    fi
    (cd "$dir/run" && env "${env[@]}" timeout -s KILL 120 bash -c "workload_${prog//-/_}") \
        >"$dir/stdout" 2>"$dir/stderr"
    echo $? >"$dir/status"
}
export_workloads

fails=0
skips=0
for prog in "${progs[@]}"; do
    if ! is_workload "$prog"; then
        echo "FAIL: unknown workload $prog (${real_workloads[*]})"
        fails=$((fails + 1))
        continue
    fi
    cmd=$(workload_command "$prog")
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "SKIP $prog: $cmd is not installed; install it with: apt-get install -y $(package_of "$cmd")"
        skips=$((skips + 1))
        continue
    fi
    run_one "$prog" glibc
    run_one "$prog" hakmem
    g="$work/$prog/glibc"
    h="$work/$prog/hakmem"
    ok=1
    for mode in glibc hakmem; do
        rc=$(cat "$work/$prog/$mode/status")
        if [ "$rc" != 0 ]; then
            [ "$rc" = 137 ] && rc="137 (killed after 120 s: hung?)"
            echo "FAIL $prog: exit status $rc under $mode; stderr:"
            tail -n 20 "$work/$prog/$mode/stderr" | sed 's/^/    /'
            ok=0
        fi
    done
    if ! cmp -s "$g/stdout" "$h/stdout"; then
        echo "FAIL $prog: stdout differs between glibc and hakmem (first lines of the diff):"
        diff "$g/stdout" "$h/stdout" | head -n 20 | sed 's/^/    /'
        ok=0
    fi
    if [ ! -s "$g/stdout" ]; then
        echo "FAIL $prog: the workload printed nothing under glibc"
        ok=0
    fi
    nfiles=$(find "$h/stats" -name '*.json' | wc -l)
    best=$(cat "$h/stats"/*.json 2>/dev/null | grep -o '"tiny_alloc": *[0-9]*' |
        grep -o '[0-9]*$' | sort -n | tail -n 1)
    best=${best:-0}
    if [ "${HAKTEST_NO_STATS:-0}" != 1 ] && [ "$best" -le 0 ]; then
        echo "FAIL $prog: hakmem served nothing: $nfiles stats files, none with tiny_alloc > 0"
        ok=0
    fi
    if grep -q 'hakmem:' "$h/stderr"; then
        echo "note $prog: hakmem wrote to stderr:"
        grep 'hakmem:' "$h/stderr" | head -n 5 | sed 's/^/    /'
    fi
    if [ $ok = 1 ]; then
        echo "ok   $prog: same output under glibc and hakmem ($(wc -l <"$g/stdout") lines;" \
            "$nfiles stats files, largest tiny_alloc $best)"
    else
        fails=$((fails + 1))
    fi
done

[ $fails -gt 0 ] && exit 1
[ $skips -gt 0 ] && exit 77
exit 0
