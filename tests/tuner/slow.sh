#!/usr/bin/env bash
# tests/tuner/slow.sh — a slow program, tuned with --metric wall and no
# other option but the evaluation count: testload --big-ms is the
# big-buffer shape, twelve times slower while large_cache_bytes stays at
# its default, with growing large buffers that make the default's own
# counters point at the large tier and the memory it gives back.
#  - The plan is said up front; the counters' knobs go first, so
#    large_cache_bytes is reached within the first evaluations; candidates
#    that cannot win are stopped and recorded as capped, not failed; the
#    confirmation shows at least 3x (the issue's 5x is for the full-scale
#    shape, measured in tuner/README.md: x11.5; this one, 60 times smaller,
#    gave 6-8x on a quiet machine and 4.8x in a CI run beside other builds
#    and tests, its 40 ms runs inflated by the load); what mattered names
#    large_cache_bytes.
#  - --report writes one static page whose every image exists.
#  - A budget with no room for one evaluation says the search did not run,
#    and never gives a verdict about it.
#   slow.sh HAK_TUNE TESTLOAD LIBHAKMEM HAKMEM_CONFIG_BIN
set -u
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
CPU_MS=20

"$tune" --lib "$lib" --cmd "$(load --big-ms 40)" --metric wall --max-evals 12 \
  --report "$tmp/report" -o "$tmp/t.cfg" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "hak-tune exits 0" test $rc -eq 0
[[ $rc -eq 0 ]] || { cat "$tmp/err" "$tmp/out"; finish; exit; }
expect "the plan is said up front" \
  grep -qE '^budget: the 10m00s budget has room for all 12 evaluations at [0-9.]+ s each' "$tmp/err"
expect "the counters point at large_cache_bytes" \
  grep -qE '^guide: first tried: .*large_cache_bytes \(up\)' "$tmp/err"
first=$(grep -E '^\[ *[0-9]+/12\] .*large_cache_bytes=(1073741824|[3-9][0-9]{8})' "$tmp/err" | head -1 |
  sed -E 's/^\[ *([0-9]+)\/.*/\1/')
expect "large_cache_bytes >= 256 MiB reached by evaluation ${first:-none} (<= 4)" \
  test "${first:-99}" -le 4
expect "the profile keeps a span cache of at least 256 MiB" \
  awk '/^large_cache_bytes = / { gsub(/;.*/, ""); exit !($3 >= 268435456) }' "$tmp/t.cfg"
# What mattered runs the winner with each of its knobs put back: without
# the large cache, 7x slower than the best (4.5x under load), which the
# analysis stops at 3x. When the winner changes large_cache_bytes alone,
# that variant is the default, measured already, and no run here is slow
# enough to be stopped (a busy machine may have the search settle there).
slow=$(grep -E '^\[what mattered [0-9]+\]' "$tmp/err" | grep -v 'large_cache_bytes=')
if [[ -n $slow ]]; then
  expect "the variants without the large cache are stopped, capped: $(cut -c1-100 <<<"$slow" | head -3)" \
    bash -c '! grep -v "\] capped: stopped at [0-9.]* s: slower than the best so far" <<<"$1" | grep -q .' \
    _ "$slow"
  expect "capped runs are logged as capped, not failed" grep -q '"status":"capped"' "$tmp/t.runs.jsonl"
else
  echo "note: the winner changes large_cache_bytes alone; no run was slow enough to be capped"
fi
# A candidate that hands every tier to the C library is "unserved", a
# failure of its own that the search may or may not reach.
expect "the failures line counts none of them" \
  grep -qE '^broke a constraint: [0-9]+; failed: (0|([0-9]+) \(unserved \2\))$' "$tmp/out"
gain=$(sed -nE 's/^# gain: +throughput x([0-9.]+) .*/\1/p' "$tmp/t.cfg")
expect "confirmed at least 3x over the default (x${gain:-none})" \
  awk -v g="${gain:-0}" 'BEGIN { exit !(g >= 3) }'
# On a failure above, what the search saw.
[[ $fail -eq 0 ]] || grep -E '^(calibration|guide|budget|\[|confirm|verdict|hak-tune)' "$tmp/err" "$tmp/out" | cut -c1-220
expect "what mattered names large_cache_bytes" \
  grep -qE '^# mattered: +large_cache_bytes \(' "$tmp/t.cfg"
expect "the summary lists what mattered" grep -qE '^  MATTERED +large_cache_bytes' "$tmp/out"

# The report: one page, no script, nothing from the network, every image there.
expect "the report is written" test -s "$tmp/report/index.html"
python3 - "$tmp/report" >"$tmp/report.check" 2>&1 <<'PY'
import html.parser, os, sys
d = sys.argv[1]
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.scripts, self.remote, self.heads, self.tables = [], 0, [], [], 0
        self.in_h = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img": self.imgs.append(a.get("src", ""))
        if tag == "script": self.scripts += 1
        if tag == "table": self.tables += 1
        if tag in ("h2",): self.in_h = True
        for k in ("src", "href"):
            if a.get(k, "").startswith(("http:", "https:", "//")): self.remote.append(a[k])
    def handle_endtag(self, tag):
        if tag == "h2": self.in_h = False
    def handle_data(self, data):
        if self.in_h: self.heads.append(data.strip())
p = P()
p.feed(open(os.path.join(d, "index.html")).read())
bad = [s for s in p.imgs if not os.path.isfile(os.path.join(d, s))]
print("images", len(p.imgs), "missing", bad, "scripts", p.scripts, "remote", p.remote,
      "tables", p.tables, "sections", "|".join(p.heads))
sys.exit(0 if p.imgs and not bad and not p.scripts and not p.remote else 1)
PY
expect "every image the report names exists, no script, nothing remote ($(cat "$tmp/report.check"))" \
  test $? -eq 0
for section in Verdict 'What mattered' 'The search' 'Candidates, best first'; do
  expect "the report has its '$section' section" grep -q "$section" "$tmp/report.check"
done
expect "the report lists the confirmation pairs" grep -qE '<tr><td>3</td><td>[0-9.]+</td>' "$tmp/report/index.html"

# No room for one evaluation: said, and no verdict about a search that did not run.
"$tune" --lib "$lib" --cmd "$(load --big-ms 60)" --metric wall --time-budget 1s \
  -o "$tmp/none.cfg" >"$tmp/none.out" 2>"$tmp/none.err"
expect "a budget too small still exits 0" test $? -eq 0
expect "it says up front that the search will not run" \
  grep -q '^budget: not one evaluation fits: the search will not run' "$tmp/none.err"
expect "the verdict says the search did not run" \
  grep -qE '^# verdict: +the search did not run' "$tmp/none.cfg"
expect "and never that no candidate beat the default" \
  bash -c "! grep -q 'no candidate beat the default' '$tmp/none.cfg' '$tmp/none.out'"
finish
