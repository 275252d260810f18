#!/usr/bin/env bash
# tests/launcher.sh — the hakmem launcher from the build tree: what it puts
# in the environment (LD_PRELOAD first and kept, the profile found by name,
# knobs, stats, strict), that a program run through it is served by hakmem,
# that bad knobs, values and profiles stop it with a clear message and exit
# status 2, that programs LD_PRELOAD cannot reach are refused (126, 127),
# and what `hakmem profiles` and `hakmem config` say.
#   launcher.sh HAKMEM CONFIGS_DIR OTHER_LIB.so [STATIC_PROGRAM]
# Exit: 0 passed, 1 failed, 77 python3 is missing (skipped).
set -u
hakmem=$1 configs=$(realpath "$2") other=$(realpath "$3") static=${4:-}
if ! command -v python3 >/dev/null; then
  echo "SKIP: python3 is not installed (tests/deps.sh test installs it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
unset HAKMEM_CONFIG HAKMEM_PROFILE_PATH LD_PRELOAD

# expect WHAT STATUS PATTERN -- ARGS...: hakmem ARGS exits with STATUS and
# its stderr matches the extended regex PATTERN.
expect() {
  local what=$1 status=$2 pattern=$3
  shift 4
  "$hakmem" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -ne $status ]]; then
    bad "$what: exit status $rc, expected $status (stderr: $(head -c 600 "$tmp/err"))"
  elif ! grep -qE -- "$pattern" "$tmp/err"; then
    bad "$what: stderr does not match '$pattern': $(head -c 600 "$tmp/err")"
  else
    ok "$what"
  fi
}

lib=$("$hakmem" --version | sed -n 's/^library: //p')
[[ -f $lib ]] && "$hakmem" --version | grep -qE '^hakmem [0-9]+\.[0-9]+\.[0-9]+$' &&
  ok "--version names the version and the library ($lib)" || bad "--version: $("$hakmem" --version)"
"$hakmem" --help | grep -q '^usage: hakmem' && ok "--help" || bad "--help prints no usage"

# ---- a program run through it is served by hakmem ----------------------------
probe='import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.hak_is_ours.argtypes = [ctypes.c_void_p]
p = libc.malloc(100)
print("ours", libc.hak_is_ours(p))'
out=$("$hakmem" -p default --stats="$tmp/py.%p.json" -- python3 -c "$probe" 2>"$tmp/err")
if [[ $? -eq 0 && $out == "ours 1" ]]; then
  ok "python3 through hakmem -p default: its malloc is hakmem's"
else
  bad "python3 through hakmem: '$out' ($(cat "$tmp/err"))"
fi
if grep -qE '"tiny_alloc":[1-9]' "$tmp"/py.*.json 2>/dev/null; then
  ok "--stats=FILE: a stats file per process, hakmem served tiny allocations"
else
  bad "--stats=FILE wrote no stats with tiny_alloc > 0: $(ls "$tmp")"
fi
(cd "$tmp" && "$hakmem" --stats=rel.json -- python3 -c 'import os; os.chdir("/")')
grep -q '"version"' "$tmp/rel.json" 2>/dev/null && ok "--stats=FILE: a relative FILE is taken from where hakmem ran" ||
  bad "--stats=rel.json: no $tmp/rel.json"

# ---- the environment it sets -------------------------------------------------
LD_PRELOAD="$other $(dirname "$lib")/libhakmem.so" "$hakmem" -p larson-mid -s TINY_MAX=2k \
  -s hakmem_wrap_large=off --stats=json --strict -- env >"$tmp/env" 2>&1
want=("HAKMEM_CONFIG=$configs/larson-mid.cfg" "HAKMEM_TINY_MAX=2k" "HAKMEM_WRAP_LARGE=off"
  "HAKMEM_STATS=json" "HAKMEM_STRICT=1" "LD_PRELOAD=$lib:$other")
for w in "${want[@]}"; do
  grep -qxF -- "$w" "$tmp/env" && ok "sets $w" || bad "does not set $w: $(grep -E '^(HAKMEM|LD_)' "$tmp/env")"
done
"$hakmem" --stats=json -- python3 -c 'pass' 2>"$tmp/err"
grep -qE '^\{"version":.*"tiny_alloc":[1-9]' "$tmp/err" && ok "--stats=json: the counters on stderr" ||
  bad "--stats=json: $(cat "$tmp/err")"
"$hakmem" --stats -- python3 -c 'pass' 2>"$tmp/err"
grep -qE '^ +tiny_alloc +[1-9]' "$tmp/err" && ok "--stats: the report on stderr" || bad "--stats: $(cat "$tmp/err")"
"$hakmem" --verbose -- env >"$tmp/env" 2>"$tmp/err"
grep -qxF HAKMEM_VERBOSE=1 "$tmp/env" && grep -qE "^hakmem: running .*/env with .*LD_PRELOAD=$lib" "$tmp/err" &&
  ok "--verbose: HAKMEM_VERBOSE=1 and what runs with what" || bad "--verbose: $(cat "$tmp/err")"

# ---- bad settings: exit 2 before anything runs --------------------------------
expect "unknown knob: did you mean" 2 "unknown knob 'tiny_mx' \(did you mean tiny_max\?\)" -- -s tiny_mx=1 true
expect "bad value: what is allowed" 2 "tiny_max must be a size from 128 to 4096 bytes" -- -s tiny_max=1 true
expect "bad choice: the choices" 2 "align_mode must be overalloc\|chunk_pool\|reserve\|relaxed" -- -s align_mode=fast true
expect "-s without =" 2 "expected KNOB=VALUE" -- -s tiny_max true
expect "unknown profile name: the ones there are" 2 "no profile named 'nosuch'.*|$configs \(.*default" -- -p nosuch true
expect "profile.cfg that is not there: the shipped name" 2 "the shipped profile of that name is -p larson-mid" -- -p larson-mid.cfg true
expect "missing profile file" 2 "profile $tmp/none.cfg: No such file" -- -p "$tmp/none.cfg" true
expect "unknown option" 2 "unknown option '--bogus'" -- --bogus true
expect "no program" 2 "no program to run" --
expect "--lib that is not there" 126 "--lib $tmp/no.so: no such file" -- --lib "$tmp/no.so" true

# ---- programs LD_PRELOAD cannot reach -----------------------------------------
expect "missing program" 127 "nosuch-program-xyz: command not found" -- nosuch-program-xyz
printf 'not a program\n' >"$tmp/text"
expect "not executable" 126 "$tmp/text is not executable" -- "$tmp/text"
chmod +x "$tmp/text"
expect "neither ELF nor #!" 126 "neither an ELF program nor a #! script" -- "$tmp/text"
expect "a directory" 126 "$tmp is a directory" -- "$tmp"
if [[ -n $static ]]; then
  expect "static program" 126 "$static has no program interpreter \(it is statically linked\)" -- "$static"
  printf '#!%s\n' "$static" >"$tmp/script"
  chmod +x "$tmp/script"
  expect "#! script with a static interpreter" 126 "statically linked.*|is the interpreter of $tmp/script" -- "$tmp/script"
else
  bad "no static program given to test the refusal with"
fi
printf '#!/usr/bin/env nosuch-interp-xyz\n' >"$tmp/envscript"
chmod +x "$tmp/envscript"
expect "#!/usr/bin/env NAME: NAME is looked for" 127 "nosuch-interp-xyz: command not found" -- "$tmp/envscript"
if [[ $(id -u) -eq 0 ]]; then
  cp "$(type -P true)" "$tmp/suid"
  chown 65534 "$tmp/suid" && chmod 4755 "$tmp/suid"
  expect "set-user-ID to another user" 126 "set-user-ID.*ignores LD_PRELOAD" -- "$tmp/suid"
else
  echo "skip set-user-ID: making one needs root (the refusal is still checked for static programs)"
fi

# ---- hakmem profiles ------------------------------------------------------------
"$hakmem" profiles >"$tmp/profiles" 2>&1
for f in "$configs"/*.cfg; do
  n=$(basename "$f" .cfg)
  grep -qE "^  $n +[^ ]" "$tmp/profiles" && ok "profiles lists $n" || bad "profiles does not list $n"
done
grep -A1 -E '^  larson-mid ' "$tmp/profiles" | grep -q 'the most throughput' &&
  grep -A1 -E '^  larson-mid ' "$tmp/profiles" | grep -qE 'tuned on: larson [0-9]' &&
  ok "profiles: larson-mid's purpose and workload from its header" ||
  bad "profiles: larson-mid: $(grep -A1 -E '^  larson-mid ' "$tmp/profiles")"
mkdir "$tmp/mine"
printf '# quiet batch jobs\nwrap_tiny = false;\n' >"$tmp/mine/batch.cfg"
printf '# my default\n' >"$tmp/mine/default.cfg"
HAKMEM_PROFILE_PATH=$tmp/mine "$hakmem" profiles >"$tmp/profiles" 2>&1
grep -qE '^  batch +quiet batch jobs$' "$tmp/profiles" && ok "profiles: HAKMEM_PROFILE_PATH's, purpose from the first comment" ||
  bad "profiles with HAKMEM_PROFILE_PATH: $(cat "$tmp/profiles")"
grep -qF "hidden: -p default finds $tmp/mine/default.cfg" "$tmp/profiles" &&
  ok "profiles: a shipped profile hidden by HAKMEM_PROFILE_PATH says so" || bad "profiles: no 'hidden' line: $(cat "$tmp/profiles")"
HAKMEM_PROFILE_PATH=$tmp/mine "$hakmem" -p batch -- env >"$tmp/env" 2>&1
grep -qxF "HAKMEM_CONFIG=$tmp/mine/batch.cfg" "$tmp/env" && ok "-p NAME looks in HAKMEM_PROFILE_PATH first" ||
  bad "-p batch: $(grep HAKMEM_CONFIG "$tmp/env")"

# ---- hakmem config ----------------------------------------------------------------
"$hakmem" config "$configs/default.cfg" >"$tmp/out" 2>&1 && grep -q '^tiny_max = ' "$tmp/out" &&
  ok "config FILE: hakmem-config's dump" || bad "config default.cfg: $(cat "$tmp/out")"
printf 'tiny_mx = 1;\n' >"$tmp/bad.cfg"
expect "config FILE with a typo: exit 1, did you mean" 1 'did you mean tiny_max' -- config "$tmp/bad.cfg"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
