#!/usr/bin/env bash
# tests/verbose.sh — the start-up report (HAKMEM_VERBOSE) and the profile
# named in the summary at exit: the report gives the version, the profiles
# read and every knob that differs from its default with its value and
# source, and nothing else; no report without the variable; a bad value is
# a bad setting; the text and JSON summaries name the profile, quoting
# whatever its path holds safely. The secure-execution side (a setuid
# program ignores HAKMEM_VERBOSE) is in secure.sh.
#   verbose.sh LIBHAKMEM_SO HAKMEM_LAUNCHER
# Exit: 0 passed, 1 failed, 77 python3 is missing (skipped).
set -u
lib=$1 launcher=$2
if ! command -v python3 >/dev/null; then
  echo "SKIP: python3 is not installed (tests/deps.sh test installs it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
unset HAKMEM_CONFIG HAKMEM_PROFILE_PATH HAKMEM_STATS HAKMEM_STATS_FILE HAKMEM_VERBOSE
prog=$(type -P true)

# run ENV...: /bin/true under hakmem with ENV; stderr in $tmp/err, status in rc.
run() {
  env "$@" LD_PRELOAD="$lib" "$prog" 2>"$tmp/err"
  rc=$?
}
has() { grep -qxF -- "$1" "$tmp/err"; }

run HAKMEM_VERBOSE=1
if [[ $rc -ne 0 ]]; then bad "defaults: exit $rc: $(cat "$tmp/err")"
elif ! head -1 "$tmp/err" | grep -qE '^hakmem: hakmem [0-9]+\.[0-9]+\.[0-9]+ \(pid [0-9]+\): settings at start-up$'; then
  bad "defaults: first line is not the version and pid: $(head -1 "$tmp/err")"
elif ! has "hakmem:   profile: none (HAKMEM_CONFIG is not set)" || ! has "hakmem:   every knob at its default"; then
  bad "defaults: no 'profile: none' or 'every knob at its default': $(cat "$tmp/err")"
elif ! grep -qE '^hakmem:   system profile /.*: (absent|read)$' "$tmp/err"; then
  bad "defaults: the system profile is not named: $(cat "$tmp/err")"
elif [[ $(wc -l <"$tmp/err") -ne 4 ]]; then bad "defaults: expected 4 lines, got: $(cat "$tmp/err")"
else ok "HAKMEM_VERBOSE=1: version, the profiles, every knob at its default"; fi

for v in "" 0 off; do
  if [[ -z $v ]]; then run; else run HAKMEM_VERBOSE=$v; fi
  [[ $rc -eq 0 && ! -s $tmp/err ]] && ok "HAKMEM_VERBOSE=${v:-(unset)}: no report, no unknown-variable line" ||
    bad "HAKMEM_VERBOSE=${v:-(unset)}: exit $rc, stderr: $(cat "$tmp/err")"
done

# A profile by name, a knob from the environment, a profile line that sets a
# knob to its default (not listed: only what differs is).
mkdir "$tmp/profiles"
printf 'chunk_pool_pages = 2048;\ntcache_count = 64;\nalign_mode = "chunk_pool";\n' >"$tmp/profiles/mine.cfg"
run HAKMEM_VERBOSE=true HAKMEM_CONFIG=mine HAKMEM_PROFILE_PATH="$tmp/profiles" HAKMEM_TINY_MAX=2k
want=("hakmem:   profile $tmp/profiles/mine.cfg: read"
  "hakmem:   chunk_pool_pages = 2048;  # profile (default 512)"
  'hakmem:   align_mode = "chunk_pool";  # profile (default "reserve")'
  "hakmem:   tiny_max = 2048;  # environment (default 1024)"
  "hakmem:   every other knob at its default (hakmem-config --defaults lists them)")
missing=()
for w in "${want[@]}"; do has "$w" || missing+=("$w"); done
if [[ $rc -ne 0 || ${#missing[@]} -gt 0 ]]; then
  bad "profile and environment: exit $rc, missing: ${missing[*]}; got: $(cat "$tmp/err")"
elif grep -q 'tcache_count' "$tmp/err"; then bad "a knob at its default is listed: $(cat "$tmp/err")"
elif [[ $(wc -l <"$tmp/err") -ne 7 ]]; then bad "profile and environment: expected 7 lines: $(cat "$tmp/err")"
else ok "each knob that differs, with its value, source and default; the profile as resolved"; fi

run HAKMEM_VERBOSE=1 HAKMEM_CONFIG="$tmp/none.cfg"
grep -q "^hakmem: profile $tmp/none.cfg: cannot read" "$tmp/err" && has "hakmem:   profile $tmp/none.cfg: not read (said why above)" &&
  ok "a profile that is not there: said, and reported as not read" || bad "missing profile: $(cat "$tmp/err")"

# A newline in the path cannot split the block or forge a line.
run HAKMEM_VERBOSE=1 HAKMEM_CONFIG="$tmp/a
hakmem:   tiny_max = 4096;  # environment (default 1024).cfg"
if grep -q '^hakmem:   tiny_max' "$tmp/err" || ! grep -qF 'a\nhakmem:   tiny_max' "$tmp/err"; then
  bad "a newline in the profile's path is not escaped: $(cat "$tmp/err")"
else ok "control characters in the profile's path are escaped"; fi

run HAKMEM_VERBOSE=maybe
[[ $rc -eq 0 ]] && has 'hakmem: environment HAKMEM_VERBOSE="maybe": must be true or false (1 or 0); ignored' &&
  [[ $(wc -l <"$tmp/err") -eq 1 ]] && ok "HAKMEM_VERBOSE=maybe: one line, ignored" ||
  bad "HAKMEM_VERBOSE=maybe: exit $rc: $(cat "$tmp/err")"
run HAKMEM_VERBOSE=maybe HAKMEM_STRICT=1
[[ $rc -eq 2 ]] && grep -q 'HAKMEM_VERBOSE="maybe".*strict mode: refusing to start' "$tmp/err" &&
  ok "HAKMEM_VERBOSE=maybe with HAKMEM_STRICT=1: refuses to start" || bad "strict: exit $rc: $(cat "$tmp/err")"

# The launcher's --verbose reaches the library.
"$launcher" --verbose -p "$tmp/profiles/mine.cfg" -- "$prog" 2>"$tmp/err"
has "hakmem:   profile $tmp/profiles/mine.cfg: read" && has "hakmem:   chunk_pool_pages = 2048;  # profile (default 512)" &&
  ok "hakmem --verbose: the library's report follows the launcher's line" || bad "hakmem --verbose: $(cat "$tmp/err")"

# ---- the summary at exit names the profile ------------------------------------
run HAKMEM_STATS=1 HAKMEM_CONFIG="$tmp/profiles/mine.cfg"
sed -n 2p "$tmp/err" | grep -qxF "  profile $tmp/profiles/mine.cfg" && ok "HAKMEM_STATS=1: the report names the profile" ||
  bad "HAKMEM_STATS=1: second line is not the profile: $(head -3 "$tmp/err")"
run HAKMEM_STATS=1
sed -n 2p "$tmp/err" | grep -qE '^  profile: none, the built-in defaults' && ok "HAKMEM_STATS=1 without a profile says so" ||
  bad "HAKMEM_STATS=1 without a profile: $(head -3 "$tmp/err")"
# JSON: the path as a JSON string, whatever it holds.
odd="$tmp/profiles/q\"uo\\te	tab.cfg"
cp "$tmp/profiles/mine.cfg" "$odd"
run HAKMEM_STATS=json HAKMEM_CONFIG="$odd"
got=$(python3 -c 'import json, sys; d = json.loads(open(sys.argv[1]).read()); print(d["profile"]); print(d["system_profile"])' "$tmp/err" 2>&1)
[[ $got == "$odd"$'\n'None || $got == "$odd"$'\n'/* ]] && ok "HAKMEM_STATS=json: \"profile\" holds the path, quotes and tabs escaped" ||
  bad "HAKMEM_STATS=json: $got ($(cat "$tmp/err"))"
run HAKMEM_STATS=json
python3 -c 'import json, sys; d = json.loads(open(sys.argv[1]).read()); sys.exit(d["profile"] is not None)' "$tmp/err" &&
  ok "HAKMEM_STATS=json without a profile: \"profile\": null" || bad "JSON without a profile: $(cat "$tmp/err")"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
