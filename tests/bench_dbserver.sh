#!/usr/bin/env bash
# tests/bench_dbserver.sh — a smoke test of a database server's driver
# (bench/postgres, bench/mariadb), not a measurement: one round of a tiny
# database under glibc and hakmem, a second a case. Passes when it ends
# with status 0, its CSV has every case for both with status ok and a
# figure, and both server runs with their CPU seconds and peak RSS; the
# table has a row for each; a preload that does not load is caught and
# counted, with exit status 1; bad usage exits with status 2 and a message;
# and it leaves no temporary files or server behind.
#   bench_dbserver.sh BENCH BUILD_DIR
# Exit: 0 passed, 1 failed, 77 the server or its clients are not installed,
# or the server has no user to run as who can read the library (skipped).
set -u
if [ $# -ne 2 ]; then
    echo "usage: $0 BENCH BUILD_DIR" >&2
    exit 2
fi
bench=$1 build=$2
name=$(basename "$bench")
case $name in
postgres) tiny=(--scale 1) extra=--scale cases=(select tpcb analytic) sockdir=hakpg ;;
mariadb) tiny=(--rows 2000) extra=--rows cases=(point readonly readwrite analytic) sockdir=hakmy ;;
*) echo "$0: no cases known for $bench" >&2; exit 2 ;;
esac

out=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-bench-$name-test.XXXXXX")
trap 'rm -rf "$out"' EXIT
mkdir "$out/tmp"
chmod 755 "$out" "$out/tmp" # the server's user makes its files in there
fails=0
fail() {
    echo "FAIL $*"
    fails=$((fails + 1))
}

# Socket directories made since now and not removed were ours (a run of
# the same driver beside this test could make one too).
touch "$out/start"
TMPDIR=$out/tmp "$bench" --build "$build" --repeats 1 "${tiny[@]}" --seconds 1 --clients 2 \
    --csv "$out/runs.csv" >"$out/table.md" 2>"$out/progress"
rc=$?
# What the driver cannot run without, it names with status 2.
if [ $rc = 2 ] && grep -qE "not found.*apt-get install|there is no (user|way for user)" "$out/progress"; then
    echo "skip: $(cat "$out/progress")"
    exit 77
fi
[ $rc = 0 ] || fail "$bench exited with status $rc: $(tail -n 5 "$out/progress")"

"$bench" --help >"$out/help" || fail "--help exited with status $?"
grep -q -- "$extra N" "$out/help" || fail "--help does not describe $extra"
"$bench" --no-such-option >/dev/null 2>"$out/err"
rc=$?
[ $rc = 2 ] || fail "an unknown option exited with status $rc, want 2"
grep -q -- '--no-such-option' "$out/err" || fail "an unknown option is not named: $(cat "$out/err")"
"$bench" --seconds 0 >/dev/null 2>"$out/err"
rc=$?
if [ $rc != 2 ] || ! grep -q -- "--seconds must be a positive integer, not '0'" "$out/err"; then
    fail "--seconds 0: status $rc, $(cat "$out/err")"
fi

for a in glibc hakmem; do
    for c in "${cases[@]}"; do
        awk -F, -v a=$a -v c="$c" '$2 == a && $3 == c && $9 == "ok" && $4 + 0 > 0 { found = 1 } END { exit !found }' \
            "$out/runs.csv" 2>/dev/null || fail "no successful $c case for $a in the CSV"
        grep -q "^| $c | $a | 1/1 |" "$out/table.md" || fail "no table row for $c under $a"
    done
    awk -F, -v a=$a '$2 == a && $3 == "server" && $9 == "ok" && $6 != "" && $7 != "" && $8 + 0 > 0 { found = 1 }
        END { exit !found }' "$out/runs.csv" 2>/dev/null || fail "no server run with CPU and peak RSS for $a"
    grep -q "^| $a | 1/1 |" "$out/table.md" || fail "no server row for $a"
done

# A preload that does not load (a file that is no library) is caught and
# counted against every case, with exit status 1.
mkdir -p "$out/fake/libhakmem"
echo "not a library" >"$out/fake/libhakmem/libhakmem.so"
chmod -R a+rX "$out/fake"
TMPDIR=$out/tmp "$bench" --build "$out/fake" --repeats 1 "${tiny[@]}" --seconds 1 --clients 2 \
    --csv "$out/fake.csv" >"$out/fake.md" 2>"$out/fake.progress"
rc=$?
[ $rc = 1 ] || fail "a preload that does not load: exit status $rc, want 1"
[ "$(grep -c '^1,hakmem,.*,preload-failed$' "$out/fake.csv" 2>/dev/null)" = $((${#cases[@]} + 1)) ] ||
    fail "a preload that does not load: want $((${#cases[@]} + 1)) preload-failed rows for hakmem, got: $(grep hakmem "$out/fake.csv")"
grep -q "^| ${cases[0]} | hakmem | 0/1 |" "$out/fake.md" || fail "a preload that does not load: no 0/1 row in the table"

left=$(find "$out/tmp" -mindepth 1 | head -n 3)
socks=$(find /tmp -maxdepth 1 -name "$sockdir.*" -newer "$out/start" 2>/dev/null)
[ -z "$socks" ] || left="$left the socket directory $socks"
[ -z "$left" ] || fail "temporary files left behind: $left"
if pgrep -f -- "$out/tmp" >/dev/null; then
    fail "a server is still running: $(pgrep -af -- "$out/tmp" | head -n 3)"
    pkill -KILL -f -- "$out/tmp"
fi

if [ $fails = 0 ]; then
    echo "bench_$name: ok"
    exit 0
fi
echo "--- table"; cat "$out/table.md"
echo "--- progress"; tail -n 20 "$out/progress"
exit 1
