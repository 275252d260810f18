#!/usr/bin/env bash
# tests/tuner/cli.sh — bad input gets one clear message naming the option,
# file, line or knob and what was expected, and exit status 2; --help
# explains every option; --space fixes and narrows what --print-space
# shows and what the search may touch.
#   cli.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

# usage NAME PATTERN hak-tune-arguments...: exit 2 and PATTERN on stderr.
usage() {
  local name=$1 pattern=$2
  shift 2
  "$tune" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -ne 2 ]]; then bad "$name" "exit $rc, wanted 2: $(cat "$tmp/err")"; return; fi
  if ! grep -qE -- "$pattern" "$tmp/err"; then bad "$name" "no /$pattern/ in: $(cat "$tmp/err")"; return; fi
  ok "$name"
}

usage "no workload" "give one workload: --bench NAME, --cmd 'PROGRAM ARGS' or --server with --client" --max-evals 3
usage "two workloads" 'give one workload' --bench larson --cmd true
usage "unknown option" "unknown option or stray argument '--frobnicate'" --cmd true --frobnicate
usage "missing value" '--max-evals needs a value' --cmd true --max-evals
usage "bad integer" "--max-evals 'many': expected an integer from 1 to" --cmd true --max-evals many
usage "bad fraction" "--max-sys-frac '1.5': expected a number from" --cmd true --max-sys-frac 1.5
usage "both caps" '--max-sys-frac and --max-sys both given' --cmd true --max-sys-frac 0.1 --max-sys 2
usage "bad time" "--time-budget '5x': expected a number .* suffix s, m or h" --cmd true --time-budget 5x
usage "unknown algorithm" "unknown algorithm 'LN_FOO': expected random or an NLopt" \
  --cmd true --algorithm LN_FOO
usage "gradient algorithm" "'LD_MMA' needs derivatives" --cmd true --algorithm LD_MMA
usage "unknown bench" "--bench 'nosuch': unknown workload; expected one of larson, larson-mid" \
  --bench nosuch
usage "bad regex" "--metric '\(': not a regular expression" --lib "$lib" --cmd true --metric '('
usage "unknown objective" "--objective 'memory': expected throughput, rss \(minimise peak RSS\) or sys" \
  --cmd true --objective memory
usage "floor without its objective" '--min-throughput-frac goes with --objective rss or sys' \
  --cmd true --min-throughput-frac 0.8
usage "bad floor" "--min-throughput-frac '1.5': expected a number from 0.01 to 1" \
  --cmd true --objective rss --min-throughput-frac 1.5
usage "sys cap with the sys objective" '--objective sys minimises kernel time: --max-sys-frac' \
  --cmd true --objective sys --max-sys-frac 0.1
usage "RSS cap with the rss objective" '--objective rss minimises peak RSS: --max-rss does not go' \
  --cmd true --objective rss --max-rss 100
usage "bad RSS cap" "--max-rss '0': expected a number from" --cmd true --max-rss 0
usage "unbalanced quote" "--cmd 'echo \"hi': unterminated \" quote" --cmd 'echo "hi'
usage "server without its client" '--server and --client go together' --server 'srv {port}'
usage "server without a metric" '--server needs --metric REGEX' --server 'srv {port}' --client 'cl {port}'
usage "server and --cmd" '--server/--client is the workload: --bench and --cmd do not go with it' \
  --server 'srv {port}' --client 'cl {port}' --cmd true --metric wall
usage "server without {port}" '--server and --client each need \{port\}' \
  --server 'srv 6379' --client 'cl {port}' --metric wall
usage "unknown front" "--front 'memory': expected rss \(bounds on peak RSS\) or sys" --cmd true --front memory
usage "bad front points" "--front-points '0.5,x': expected up to 16 fractions" \
  --cmd true --front rss --front-points 0.5,x
usage "front points without a front" '--front-points goes with --front rss or --front sys' \
  --cmd true --front-points 0.5
usage "a front of another objective" '--front maximises throughput under each bound: --objective rss' \
  --cmd true --front rss --objective rss
usage "a front and its own cap" '--front rss sets its own bounds on peak RSS: drop --max-rss' \
  --cmd true --front rss --max-rss 100
usage "bad capping margin" "--cap-margin '-1': expected a number from 0 to 100" --cmd true --cap-margin -1

cat >"$tmp/typo.space" <<'S'
align_mode = "reserve";
idle_treshold_us = [10, 100];
S
usage "space: unknown knob" \
  'space .*typo.space:2: unknown knob "idle_treshold_us" \(did you mean idle_threshold_us\?\)' \
  --cmd true --space "$tmp/typo.space"
printf 'tcache_count = [1, 5000];\n' >"$tmp/range.space"
usage "space: out of range" 'range.space:1: tcache_count: 1 \(item 1 of the list\) must be an integer from 2 to 1024' \
  --cmd true --space "$tmp/range.space"
printf 'tcache_count = [500, 100];\n' >"$tmp/order.space"
usage "space: low above high" 'order.space:1: tcache_count: a numeric knob takes \[LOW, HIGH\]' \
  --cmd true --space "$tmp/order.space"
printf 'align_mode = "sideways";\n' >"$tmp/enum.space"
usage "space: bad choice" 'enum.space:1: align_mode = "sideways": must be overalloc\|chunk_pool\|reserve\|relaxed' \
  --cmd true --space "$tmp/enum.space"
printf 'strict = [true, false];\n' >"$tmp/strict.space"
usage "space: untunable knob" 'strict is not a tunable knob' --cmd true --space "$tmp/strict.space"
printf 'align_mode = ;\n' >"$tmp/syntax.space"
usage "space: syntax" 'syntax.space:1: syntax error' --cmd true --space "$tmp/syntax.space"
usage "space: missing file" '--space .*/none.space: cannot read: No such file' \
  --cmd true --space "$tmp/none.space"

# --help explains every option it accepts.
"$tune" --help >"$tmp/help"
for opt in --bench --bench-args --larson-args --cmd --metric --max-evals --time-budget --repeats \
           --max-sys-frac --max-sys --algorithm --seed --space --log --resume --quiet --output \
           --lib --timeout --confirm --calibrate --svg --print-space --objective \
           --min-throughput-frac --max-rss --min-gain --recheck --server --client --front \
           --front-points --report --cap-margin --no-guide --print-guide --print-rules; do
  expect "--help explains $opt" grep -q -- "$opt" "$tmp/help"
done

# --space: fixed, narrowed and restricted knobs, as the search sees them.
cat >"$tmp/ok.space" <<'S'
align_mode = ["reserve", "relaxed"];
wrap_tiny = true;
tcache_count = [100, 200];
tcache_bytes = ["64k", "1m"];
S
"$tune" --space "$tmp/ok.space" --print-space >"$tmp/space"
expect "print-space: restricted choice" grep -qE '^align_mode +raced +"reserve" \| "relaxed"$' "$tmp/space"
expect "print-space: fixed knob" grep -qE '^wrap_tiny +fixed +true$' "$tmp/space"
expect "print-space: narrowed range" grep -qE '^tcache_count +numeric +100 \.\. 200, log scale$' "$tmp/space"
expect "print-space: sizes with suffixes" grep -qE '^tcache_bytes +numeric +65536 \.\. 1048576' "$tmp/space"
expect "print-space: untunable knob fixed" grep -qE '^strict +fixed +false \(not tunable\)$' "$tmp/space"

# ... and the search stays inside it.
"$tune" --lib "$lib" --cmd "$(load)" --space "$tmp/ok.space" --max-sys-frac 0.5 --max-evals 8 \
  --repeats 1 --calibrate 2 --confirm 1 -o "$tmp/s.cfg" >/dev/null 2>&1
expect "a search in a narrowed space exits 0" test $? -eq 0
outside=$(grep '"phase":"search"' "$tmp/s.runs.jsonl" | grep -vc '"wrap_tiny":true')
outside=$((outside + $(grep '"phase":"search"' "$tmp/s.runs.jsonl" |
  grep -Evc '"align_mode":"(reserve|relaxed)"')))
outside=$((outside + $(grep '"phase":"search"' "$tmp/s.runs.jsonl" |
  grep -oE '"tcache_count":[0-9]+' | awk -F: '$2 < 100 || $2 > 200' | wc -l)))
expect "every searched candidate is inside the space ($outside outside)" test "$outside" -eq 0

# --time-budget ends the search early: 1000 evaluations of a 40 ms run
# take minutes, so a 6 s budget must stop the search short of them and
# still confirm and write a profile. (What is asserted is the stop, not a
# duration: the machine may be slow.)
"$tune" --lib "$lib" --cmd "$(load)" --max-sys-frac 0.5 --max-evals 1000 --time-budget 6s \
  -o "$tmp/b.cfg" >"$tmp/b.out" 2>&1
expect "a search with --time-budget 6s exits 0" test $? -eq 0
expect "it stopped short of 1000 evaluations" grep -qE '^hak-tune: [0-9]{1,3} evaluations' "$tmp/b.out"
expect "and wrote a profile" test -s "$tmp/b.cfg"
finish
