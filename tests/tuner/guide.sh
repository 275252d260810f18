#!/usr/bin/env bash
# tests/tuner/guide.sh — the counters guide the search. On one workload of
# each kind (bench/'s programs, one second each), hak-tune --print-guide
# runs the default once and must name the rules its counters fire and put
# first the knobs of what that workload does: the large tier and what is
# kept for reuse for big buffers, the page owners' hand-off for
# cross-thread frees and thread churn, the thread caches for a
# single-thread small-object churn (and none of the cross-thread rules).
# What the allocator does with each workload changes from one version to
# the next, so the checks are on the kind of rule, not on figures.
# --print-rules writes the table tuner/README.md shows.
#   guide.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN BENCH_DIR
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
bench=$5

# guide NAME COMMAND...: the default's guide for COMMAND in $tmp/NAME.
guide() {
  local name=$1
  shift
  "$tune" --lib "$lib" --print-guide --cmd "$*" >"$tmp/$name" 2>"$tmp/$name.err"
  local rc=$?
  expect "$name: --print-guide exits 0" test $rc -eq 0
  [[ $rc -eq 0 ]] || cat "$tmp/$name.err"
}
fired() { grep -qE "^guide: ($2): " "$tmp/$1"; }
first() { sed -nE 's/^guide: first tried: ([a-z_]+) .*/\1/p' "$tmp/$1"; }
among() { # NAME N PATTERN: one of the first N knobs tried matches PATTERN
  sed -nE 's/^guide: first tried: //p' "$tmp/$1" | tr ',' '\n' | sed -E 's/^ +//; s/ .*//' |
    head -"$2" | grep -qE "^($3)$"
}

large='large_cache_bytes|large_cache_spans|thp_min|retain_pct|release_delay_ms|chunk_pool_pages|wrap_large'
guide bigbuffers "$bench/bigbuffers" 1
expect "bigbuffers: a large-tier or retention rule fires" fired bigbuffers 'churn|large-fresh|large-busy'
expect "bigbuffers: a large-tier or retention knob goes first ($(first bigbuffers))" \
  grep -qE "^($large)$" <<<"$(first bigbuffers)"
guide largeblocks "$bench/largeblocks" 1 4242
expect "largeblocks: the large tier's rule fires" fired largeblocks 'large-busy|large-fresh|churn'
expect "largeblocks: a large-tier knob goes first ($(first largeblocks))" \
  grep -qE "^($large)$" <<<"$(first largeblocks)"

handoff='remote|drain|pending|thread-churn'
guide larson "$bench/larson" 1 2048 32768 10000 1 12345 4
expect "larson-mid: a hand-off or thread-churn rule fires" fired larson "$handoff"
# Where they rank among the guided knobs depends on which rule fires
# strongest, and that varies with the load (the thread caches' rule fires
# as strongly on larson-mid): ahead of the unguided knobs is what matters.
expect "larson-mid: idle_threshold_us or drain_scan among the knobs tried first" \
  among larson 99 'idle_threshold_us|drain_scan'
guide prodcons "$bench/prodcons" 1 4242
expect "prodcons: cross-thread frees fire the remote rule" fired prodcons remote
expect "prodcons: drain_scan or idle_threshold_us among the knobs tried first" \
  among prodcons 99 'drain_scan|idle_threshold_us'
guide threadchain "$bench/threadchain" 1
expect "threadchain: the thread-churn rule fires" fired threadchain thread-churn

guide churn "$bench/churn" 1 4242
expect "churn (one thread): no cross-thread rule fires" bash -c "! grep -qE '^guide: ($handoff): ' '$tmp/churn'"
expect "churn: the large tier's rule does not fire" bash -c "! grep -qE '^guide: large-busy: ' '$tmp/churn'"
if grep -q '^guide: first tried:' "$tmp/churn"; then
  expect "churn: a thread-cache knob goes first ($(first churn))" \
    grep -qE '^tcache_' <<<"$(first churn)"
fi

"$tune" --print-rules >"$tmp/rules"
expect "--print-rules writes a markdown table" grep -qE '^\| rule \| measure [^|]*\| fires at \|' "$tmp/rules"
expect "with one row per rule (at least 12)" test "$(grep -cE '^\| [a-z-]+ \| `' "$tmp/rules")" -ge 12
# A fixture of its own kind: testload's big-buffer shape.
guide testload "$(load --big-ms 1)"
expect "testload --big-ms: large_cache_bytes among the first three" among testload 3 large_cache_bytes
finish
