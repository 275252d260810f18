#!/usr/bin/env bash
# tests/verify_profiles.sh — hak-tune --verify judges each profile on its
# own workload and objective. The workloads are testload's (throughput
# a designed function of the knobs with 1% noise, memory a designed amount
# of touched pages), so which profile beats the default is known: one faster
# (relaxed pages, x1.11) and one leaner (less memory, same throughput) do;
# one slower (overalloc, x0.78) and one leaner past the throughput floor
# (x0.6 < 0.9) do not, and the exit status and the list must say exactly
# those. A header it cannot use is refused naming the file; --cross prints
# the table with its provenance.
#   verify_profiles.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
# shellcheck disable=SC2016  # backquotes in patterns are markdown's, not the shell's
set -u
tune=$1 testload=$2 lib=$3 cfgtool=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
expect() {
  local name=$1; shift
  if "$@"; then ok "$name"; else bad "$name" "'$*' is false"; fi
}

mkdir "$tmp/configs"
"$cfgtool" --defaults >"$tmp/configs/default.cfg"
# profile NAME OBJECTIVE CONSTRAINTS CMD KNOB=VALUE...: a profile with the
# header hak-tune writes (configs/README.md) and the defaults but KNOBs.
profile() {
  local name=$1 objective=$2 constraints=$3 cmd=$4 f=$tmp/configs/$1.cfg
  shift 4
  {
    echo "# hakmem profile written by hand for tests/verify_profiles.sh"
    echo "# workload:    command"
    echo "# cmd:         $cmd"
    echo "# metric:      throughput"
    echo "# objective:   $objective"
    echo "# constraints: $constraints"
    echo "# gain:        throughput x1.000 (min 1.000, max 1.000), won 0 of 0 pairs; sys fraction 0 (default 0)"
    echo "# command:     HAKMEM_CONFIG=$f LD_PRELOAD=$lib $cmd"
    echo "# tuned by:    hak-tune (not: written by the test)"
    echo "# date:        2026-01-01 00:00:00 +0000"
    echo
    grep -v '^#' "$tmp/configs/default.cfg"
  } >"$f"
  local kv
  for kv in "$@"; do sed -i "s/^${kv%%=*} = .*/${kv%%=*} = ${kv#*=};/" "$f"; done
}
speed="$testload --cpu-ms 20 --noise 0.01"
memory="$testload --cpu-ms 20 --noise 0.01 --rss-mib 64"
profile faster throughput 'sys/(user+sys) <= 0.5' "$speed" 'align_mode="relaxed"'
profile slower throughput 'sys/(user+sys) <= 0.5' "$speed" 'align_mode="overalloc"'
profile leaner rss 'throughput >= 0.9 x default' "$memory" chunk_pool_pages=0 tcache_bytes=30000
profile starved rss 'throughput >= 0.9 x default' "$memory" chunk_pool_pages=0 tcache_bytes=16384
for f in "$tmp"/configs/*.cfg; do
  "$cfgtool" --strict "$f" >/dev/null 2>&1 || bad "$f" "the test's own profile does not load"
done

"$tune" --verify --configs "$tmp/configs" --lib "$lib" --pairs 5 >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out"
expect "exit status 1: some profiles do not beat the default (got $rc)" test $rc -eq 1
expect "the faster profile beats the default on throughput" \
  grep -qE '^faster.cfg: throughput x1\.[0-9]+ \(min [0-9.]+, max [0-9.]+\), won [0-9]+ of 5 pairs; sys fraction .*: beats the default$' "$tmp/out"
expect "the leaner profile beats the default on peak RSS, with its throughput" \
  grep -qE '^leaner.cfg: peak RSS x0\.[0-9]+ \(min [0-9.]+, max [0-9.]+\), lower in 5 of 5 pairs; throughput x[0-9.]+ \(min [0-9.]+, max [0-9.]+\);.*: beats the default$' "$tmp/out"
expect "the slower profile does not" \
  grep -qE '^slower.cfg: throughput x0\.[0-9]+ .*DOES NOT BEAT THE DEFAULT \(median ratio 0\.[0-9]+ < 1\.020' "$tmp/out"
expect "the starved profile does not: under its throughput floor" \
  grep -qE '^starved.cfg: peak RSS x0\.[0-9]+ .*DOES NOT BEAT THE DEFAULT \(throughput x0\.[0-9]+ below its floor 0\.9\)$' "$tmp/out"
expect "the last line lists exactly those two" \
  grep -qx 'hak-tune: 2 of 4 profiles do not beat the default on their own workload: slower.cfg, starved.cfg' "$tmp/out"
expect "the report says what was run, when, on which commit and host" \
  grep -qE '^- date: .*; commit: ' "$tmp/out"
expect "one progress line per pair" test "$(grep -c '^  pair [0-9]/5:' "$tmp/err")" -eq 20

# Only the winners: exit 0.
"$tune" --verify --lib "$lib" --pairs 3 --quiet "$tmp/configs/faster.cfg" "$tmp/configs/leaner.cfg" \
  --default "$tmp/configs/default.cfg" >"$tmp/out2" 2>&1
expect "profiles that all beat the default: exit 0" test $? -eq 0
expect "and says so" grep -q 'all 2 profiles beat the default' "$tmp/out2"

# The cross table: every profile on both workloads, ratios to the default.
"$tune" --verify --configs "$tmp/configs" --lib "$lib" --pairs 3 --cross --no-bench-workloads --quiet \
  >"$tmp/cross" 2>&1
rc=$?
cat "$tmp/cross"
expect "--cross exits 0" test $rc -eq 0
expect "--cross: headed by its command" grep -qE '^Command: `.*hak-tune --verify .*--cross' "$tmp/cross"
expect "--cross: date, commit and host" grep -qE '^- host: .*CPUs' "$tmp/cross"
expect "--cross: a column per workload" grep -qx '| profile | objective | faster | leaner |' "$tmp/cross"
expect "--cross: a row per profile" test "$(grep -cE '^\| `[a-z]+` \| (throughput|rss) \|' "$tmp/cross")" -eq 4
expect "--cross: a profile on its own workload in bold" \
  grep -qE '^\| `faster` \| throughput \| \*\*1\.[0-9]+ \([0-9.]+–[0-9.]+\)\*\* \| ' "$tmp/cross"
expect "--cross: the starved profile's throughput on its own workload" \
  grep -qE '^\| `starved` \| rss \| [0-9.]+ \([0-9.]+–[0-9.]+\) \| \*\*0\.[0-9]+ ' "$tmp/cross"

# Headers it cannot use: refused before any run, naming the file.
mkdir "$tmp/broken"
cp "$tmp/configs/default.cfg" "$tmp/broken/"
grep -v '^# cmd:' "$tmp/configs/faster.cfg" >"$tmp/broken/noworkload.cfg"
sed 's/^# objective: .*/# objective:   speed/' "$tmp/configs/faster.cfg" >"$tmp/broken/badobjective.cfg"
"$tune" --verify --configs "$tmp/broken" --lib "$lib" >"$tmp/out3" 2>&1
expect "unusable headers: exit 1 (got $?)" test $? -eq 1
expect "names the file without a workload" \
  grep -q "noworkload.cfg: no '# bench:' or '# cmd:' line: which workload is it for?" "$tmp/out3"
expect "names the file with a bad objective" \
  grep -q "badobjective.cfg: '# objective: speed': expected one of throughput, rss, sys" "$tmp/out3"
expect "and runs nothing" bash -c "! grep -q 'pair 1' '$tmp/out3'"
"$tune" --verify --list --configs "$tmp/broken" >/dev/null 2>&1
expect "--list fails on them too" test $? -eq 1
"$tune" --verify --configs "$tmp/configs" --lib /nonexistent/libhakmem.so >"$tmp/out4" 2>&1
expect "a missing library: exit 2" test $? -eq 2
expect "naming it" grep -q 'libhakmem.so not found at /nonexistent/libhakmem.so' "$tmp/out4"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
