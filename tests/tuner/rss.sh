#!/usr/bin/env bash
# tests/tuner/rss.sh — the memory-lean objective. testload --rss-mib maps
# and touches memory in proportion to chunk_pool_pages (for free) and
# tcache_bytes (whose throughput falls to 0.6 of itself past a cliff 0.20
# below its default); the throughput knobs are fixed with --space, so a
# floor of 0.9 of the default's throughput is met exactly when
# tcache_bytes stays above the cliff. --objective rss must write a profile
# whose designed memory is clearly below the default's (<= 0.8) and whose designed
# throughput meets the floor, with a header that says so; and a log of
# this objective must not be resumed for another one.
#   rss.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

# The throughput knobs, fixed at their defaults (testload's optimum lies
# where the knob table's defaults are, offset per knob).
"$cfgtool" --defaults | grep -E '^(idle_threshold_us|tcache_count|drain_scan|large_cache_spans|align_mode|wrap_mid) = ' |
  sed 's/;.*/;/' >"$tmp/fixed.space"
[[ $(grep -c . "$tmp/fixed.space") -eq 6 ]] || { echo "FAIL cannot read the defaults from $cfgtool --defaults"; exit 1; }
"$tune" --lib "$lib" --cmd "$(load --seed 7 --rss-mib 64)" --objective rss --space "$tmp/fixed.space" \
  -o "$tmp/t.cfg" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "hak-tune --objective rss exits 0" test $rc -eq 0
[[ $rc -eq 0 ]] || { cat "$tmp/err" "$tmp/out"; finish; exit; }

# The answer, judged by testload's own model of the written profile.
read -r -a ex < <(HAKMEM_CONFIG=$tmp/t.cfg "$testload" --explain --rss-mib 64 --floor 0.9)
declare -A x
for ((i = 0; i + 1 < ${#ex[@]}; i += 2)); do x[${ex[i]}]=${ex[i + 1]}; done
echo "designed extra memory ${x[rss]} MiB (default ${x[default_rss]}, least possible ${x[min_rss]});" \
  "throughput x${x[throughput_ratio]} of the default"
expect "the throughput floor is met (designed x${x[throughput_ratio]} >= 0.9)" test "${x[floor_ok]}" = 1
# Taking tcache_bytes to the cliff alone gives 0.57 of the default's,
# chunk_pool_pages to 0 alone 0.48, both 0.05 (tcache_bytes default 64 KiB).
expect "clearly less memory than the default (${x[rss]} <= 0.8 x ${x[default_rss]} MiB)" \
  awk -v r="${x[rss]}" -v d="${x[default_rss]}" 'BEGIN { exit !(r <= 0.8 * d) }'

expect "hakmem-config --strict accepts the profile" "$cfgtool" --strict "$tmp/t.cfg"
expect "header: objective rss" grep -qE '^# objective: +rss$' "$tmp/t.cfg"
expect "header: the floor" grep -qE '^# constraints: +throughput >= 0\.9 x default$' "$tmp/t.cfg"
expect "header: the measured RSS gain, with the throughput ratio" \
  grep -qE '^# gain: +peak RSS x0\.[0-9]+ \(min [0-9.]+, max [0-9.]+\), lower in [0-9]+ of [0-9]+ pairs; throughput x[0-9.]+ \(min [0-9.]+, max [0-9.]+\);' \
  "$tmp/t.cfg"
expect "the verdict says the profile is better" grep -qE '^# verdict: +tuned is better: peak RSS' "$tmp/t.cfg"
expect "the summary is ranked by RSS and names the floor" \
  grep -q '^objective: rss, minimise median peak RSS, subject to throughput >= 0.9 x default' "$tmp/out"
expect "the summary has the RSS ratio column" grep -qE '^rank +eval +metric +ratio +RSS ratio' "$tmp/out"
expect "candidates under the floor are flagged" grep -q 'BELOW FLOOR' "$tmp/err"
expect "the log records the objective" grep -q '"kind":"header".*"objective":"rss"' "$tmp/t.runs.jsonl"
expect "the plot names the objective" grep -q 'convergence: peak RSS (lower is better)' "$tmp/t.svg"
expect "the plot draws the floor" grep -q '>floor</text>' "$tmp/t.svg"

# The same log, another objective: refused, naming both.
"$tune" --lib "$lib" --cmd "$(load --seed 7 --rss-mib 64)" --objective sys --space "$tmp/fixed.space" \
  --log "$tmp/t.runs.jsonl" --resume -o "$tmp/u.cfg" >/dev/null 2>"$tmp/err2"
rc=$?
expect "resuming an rss log for --objective sys is refused (exit $rc)" test $rc -eq 2
expect "the refusal names the log and both objectives" \
  grep -q "t.runs.jsonl was written for --objective rss, not sys" "$tmp/err2"
expect "no profile is written" test ! -e "$tmp/u.cfg"
finish
