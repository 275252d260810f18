#!/usr/bin/env bash
# tests/tuner/front.sh — the trade-off front. testload --rss-mib maps
# memory in proportion to chunk_pool_pages and tcache_bytes, whose
# throughput falls to 0.6 of itself past a cliff; the throughput knobs are
# fixed. --front rss with three bounds must search each, confirm each
# bound's winner, write one strict-loadable profile per point whose header
# names its bound, a table and a plot with glibc and every installed peer
# measured on the same workload, and a report whose images exist.
#   front.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

"$cfgtool" --defaults | grep -E '^(idle_threshold_us|tcache_count|drain_scan|large_cache_spans|align_mode|wrap_mid) = ' |
  sed 's/;.*/;/' >"$tmp/fixed.space"
"$tune" --lib "$lib" --cmd "$(load --seed 7 --rss-mib 64)" --front rss --front-points 1,0.75,0.5 \
  --space "$tmp/fixed.space" --max-evals 24 --confirm 3 --report "$tmp/report" -o "$tmp/f.cfg" \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "hak-tune --front rss exits 0" test $rc -eq 0
[[ $rc -eq 0 ]] || { cat "$tmp/err" "$tmp/out"; finish; exit; }
mapfile -t points < <(ls "$tmp"/f-rss-*m.cfg 2>/dev/null)
expect "one profile per point (${#points[@]})" test "${#points[@]}" -eq 3
for p in "${points[@]}"; do
  name=$(basename "$p")
  bound=$(sed -nE 's/^# constraints: +peak RSS <= ([0-9.]+) MiB$/\1/p' "$p")
  expect "$name: loads strictly" "$cfgtool" --strict "$p"
  expect "$name: its header names its point and bound ($bound MiB)" \
    grep -qE "^# front: +rss, point [1-3] of 3: peak RSS <= $bound MiB \(" "$p"
  expect "$name: its confirmation is in the header" grep -qE '^# verdict: +point (NOT )?confirmed: throughput x' "$p"
  row=$(grep -F "| $name |" "$tmp/f.front.md")
  rss=$(awk -F'|' '{ gsub(/ /, "", $6); print $6 }' <<<"$row")
  conf=$(awk -F'|' '{ gsub(/^ +| +$/, "", $8); print $8 }' <<<"$row")
  if [[ $conf == yes ]]; then
    expect "$name: confirmed within its bound ($rss <= $bound MiB)" \
      awk -v r="$rss" -v b="$bound" 'BEGIN { exit !(r <= b) }'
  fi
done
loosest=$(grep -lE '^# front: +rss, point 1 of 3' "${points[@]}")
read -r -a ex < <(HAKMEM_CONFIG=$loosest "$testload" --explain --rss-mib 64 --floor 0.9)
declare -A x
for ((i = 0; i + 1 < ${#ex[@]}; i += 2)); do x[${ex[i]}]=${ex[i + 1]}; done
expect "the loosest point keeps the throughput (designed x${x[throughput_ratio]})" test "${x[floor_ok]}" = 1
expect "the table has the three points" test "$(grep -cE '^\| (1|0\.75|0\.5) x default \|' "$tmp/f.front.md")" -eq 3
expect "the table has glibc measured" grep -qE '^\| glibc \| - \| - \| x[0-9.]+ \(median of [0-9] rounds\)' "$tmp/f.front.md"
for peer in mimalloc jemalloc tcmalloc; do
  expect "the table has $peer, measured or said not installed" \
    grep -qE "^\| $peer \| - \| - \| (x[0-9.]+ \(median|not installed)" "$tmp/f.front.md"
  if grep -qE "^\| $peer \| - \| - \| x" "$tmp/f.front.md"; then
    expect "the plot marks $peer" grep -q ">$peer</text>" "$tmp/f.front.svg"
  fi
done
expect "the plot marks glibc and the default" \
  bash -c "grep -q '>glibc</text>' '$tmp/f.front.svg' && grep -q '>hakmem default</text>' '$tmp/f.front.svg'"
expect "the plot is a whole SVG" grep -q '</svg>' "$tmp/f.front.svg"
expect "the report shows the front" grep -q "<img src='front.svg'" "$tmp/report/index.html"
expect "and the image is there" test -s "$tmp/report/front.svg"
expect "peer runs are logged" grep -q '"kind":"peer".*"peer":"glibc"' "$tmp/f.runs.jsonl"
finish
