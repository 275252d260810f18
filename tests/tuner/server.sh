#!/usr/bin/env bash
# tests/tuner/server.sh — a server tuned through its client. tiny_server
# answers each request after a pause that is long until chunk_pool_pages
# reaches 4096 and short from there; tiny_client sends 100 requests and
# prints requests/s. hak-tune --server/--client must start the server
# afresh on a free port for every run, preload only the server, read the
# metric from the client, stop the server with SIGTERM and take its
# figures and hakmem's stats, and find the pool's fix. A client that fails
# fails the candidate; a server that dies crashes it; a server that never
# listens, exits early or loses its stats to SIGTERM's default action is
# named as such.
#   server.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN TINY_SERVER TINY_CLIENT
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
server=$5 client=$6

# Every knob but three fixed at its default: the test is of the server
# mode, not of the search's breadth.
"$cfgtool" --defaults | grep -E '^[a-z_]+ = ' |
  grep -vE '^(chunk_pool_pages|idle_threshold_us|tcache_count|strict|hardened|purge_thread) = ' |
  sed 's/;.*/;/' >"$tmp/three.space"
# Only the choices, for the failure checks: each is one evaluation.
grep -vE '^(align_mode|wrap_mid) = ' "$tmp/three.space" >"$tmp/race.space"
printf 'chunk_pool_pages = 512;\nidle_threshold_us = 1000;\ntcache_count = 64;\n' >>"$tmp/race.space"
srv=(--server "$server {port}" --client "$client {port} 100" --metric 'requests/s: ([0-9.]+)')

"$tune" --lib "$lib" "${srv[@]}" --space "$tmp/three.space" --max-evals 8 -o "$tmp/s.cfg" \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "hak-tune --server exits 0" test $rc -eq 0
[[ $rc -eq 0 ]] || { cat "$tmp/err" "$tmp/out"; finish; exit; }
expect "the profile has the pool's fix (chunk_pool_pages >= 4096)" \
  awk '/^chunk_pool_pages = / { gsub(/;.*/, ""); exit !($3 >= 4096) }' "$tmp/s.cfg"
expect "the gain is confirmed" grep -qE '^# verdict: +tuned is better' "$tmp/s.cfg"
expect "the header names the server and the client" \
  bash -c "grep -qE '^# server: +.*tiny_server .\{port\}.' '$tmp/s.cfg' && grep -qE '^# client: +.*tiny_client .\{port\}. 100' '$tmp/s.cfg'"
expect "the header's workload is a server" grep -qE '^# workload: +server$' "$tmp/s.cfg"
expect "what mattered names chunk_pool_pages" grep -qE '^# mattered: +chunk_pool_pages \(' "$tmp/s.cfg"
expect "the profile loads strictly" "$cfgtool" --strict "$tmp/s.cfg"
# Every run: the server's stats (served > 0), its CPU times and peak RSS.
expect "every logged run served (the server's stats)" \
  bash -c "! grep '\"kind\":\"run\"' '$tmp/s.runs.jsonl' | grep -q '\"served\":0'"
expect "every logged run has the server's peak RSS" \
  bash -c "! grep '\"kind\":\"run\"' '$tmp/s.runs.jsonl' | grep -qE '\"maxrss_kb\":(0|null)'"
sleep 0.3
left=$(pgrep -f -- "$server [0-9]" | wc -l)
expect "no server is left running ($left)" test "$left" -eq 0

# check NAME EXIT PATTERN SERVER-ARGS -- extra hak-tune arguments: the
# default profile's run fails as PATTERN says.
check() {
  local name=$1 want=$2 pattern=$3 sargs=$4
  shift 5
  "$tune" --lib "$lib" --server "$server {port} $sargs" --client "$client {port} 20" \
    --metric 'requests/s: ([0-9.]+)' --calibrate 2 "$@" -o "$tmp/x.cfg" >"$tmp/xo" 2>"$tmp/xe"
  local rc=$?
  if [[ $rc -ne $want ]]; then bad "$name" "exit $rc, wanted $want: $(tail -3 "$tmp/xe")"; return; fi
  if ! grep -qE -- "$pattern" "$tmp/xe" "$tmp/xo" "$tmp/x.runs.jsonl"; then
    bad "$name" "no /$pattern/ in: $(cat "$tmp/xe")"
    return
  fi
  ok "$name"
}
check "a server that exits before listening crashes the run" 1 \
  'does not run: crash: the server exited \(status 1\) before accepting|the server died before accepting connections on port [0-9]+: exit status 1' \
  '--exit-if chunk_pool_pages=512' --
check "a server that never listens times out, named" 1 \
  'does not run: timeout: the server did not accept connections on port [0-9]+ within 2 s' \
  '--no-listen' -- --timeout 2
check "a server without a SIGTERM handler loses its stats, and is told why" 1 \
  "does not run: no-stats: the server ended by SIGTERM's default action" '--no-term' --
# In a search: a candidate whose server dies mid-run is a crash, one whose
# client fails is a failure, and the search goes on.
check "a server that dies during the run: crash" 0 \
  '"status":"crash","reason":"the server died during the run: killed by SIGABRT' \
  '--crash-if align_mode=overalloc' -- --space "$tmp/race.space" --max-evals 4
check "a client that fails: the candidate fails" 0 \
  '"status":"exit","reason":"the client failed: exit status 1: tiny_client: request 1: the server answered an error' \
  '--err-if wrap_mid=false' -- --space "$tmp/race.space" --max-evals 4
finish
