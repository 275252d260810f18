#!/usr/bin/env bash
# tests/profile.sh — bad profiles and bad environment values, each its own
# case: one clear stderr line naming the file, the line, the knob and what is
# allowed; the program runs on (exit 0, its own output untouched); in strict
# mode the same line and exit status 2. Also: a clean profile is silent, the
# environment beats the profile, and hakmem-config reports the same.
#   profile.sh LIBHAKMEM_SO HAKMEM_CONFIG_BIN DEFAULT_CFG
set -u
lib=$1 cfgtool=$2 default_cfg=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

# run_case NAME FILE PATTERN: the host program must run on with one line on
# stderr matching PATTERN; strict mode must refuse with the same line.
run_case() {
  local name=$1 file=$2 pattern=$3 out err rc lines
  out=$(HAKMEM_CONFIG=$file LD_PRELOAD=$lib /bin/echo hello 2>"$tmp/err"); rc=$?
  err=$(cat "$tmp/err"); lines=$(grep -c . "$tmp/err")
  if [[ $rc -ne 0 || $out != hello ]]; then
    bad "$name" "program did not run on (exit $rc, stdout '$out')"; return
  fi
  if [[ $lines -ne 1 ]]; then bad "$name" "expected one stderr line, got $lines: $err"; return; fi
  if ! grep -Eq -- "$pattern" <<<"$err"; then bad "$name" "message '$err' does not match /$pattern/"; return; fi
  # Strict mode: the same message up to its consequence, which becomes a
  # refusal.
  HAKMEM_STRICT=1 HAKMEM_CONFIG=$file LD_PRELOAD=$lib /bin/echo hello >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [[ $rc -ne 2 || -s $tmp/out ]]; then bad "$name (strict)" "expected exit 2 and no output, got exit $rc"; return; fi
  if [[ $(cat "$tmp/err") != "${err%; *}; strict mode: refusing to start" ]]; then
    bad "$name (strict)" "message: $(cat "$tmp/err")"; return
  fi
  "$cfgtool" "$file" >/dev/null 2>&1; rc=$?
  if [[ $rc -ne 1 ]]; then bad "$name (hakmem-config)" "expected exit 1, got $rc"; return; fi
  # --strict prints no values: the library would not start on any.
  "$cfgtool" --strict "$file" >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [[ $rc -ne 1 || -s $tmp/out ]] ||
    ! grep -q '^hakmem-config: strict mode: the library would refuse to start' "$tmp/err"; then
    bad "$name (hakmem-config --strict)" "expected exit 1, no values and the refusal; got exit $rc, stdout $(head -c 200 "$tmp/out"), stderr $(cat "$tmp/err")"
    return
  fi
  ok "$name"
}

f=$tmp/missing.cfg
run_case "missing file" "$f" "^hakmem: profile $f: cannot read: no such file; running on defaults$"

run_case "a directory" "$tmp" "^hakmem: profile $tmp: cannot read: is a directory"

: >"$tmp/empty.cfg"
run_case "empty file" "$tmp/empty.cfg" "^hakmem: profile $tmp/empty.cfg: empty file"

printf 'idle_threshold_us = 100;\nalign_mode = ;\n' >"$tmp/syntax.cfg"
run_case "syntax error" "$tmp/syntax.cfg" "^hakmem: profile $tmp/syntax.cfg:2: syntax error"

printf '# comment\nidle_threshold_us = "soon";\n' >"$tmp/type.cfg"
run_case "wrong type" "$tmp/type.cfg" \
  "^hakmem: profile $tmp/type.cfg:2: idle_threshold_us = \"soon\": must be an integer from 0 to [0-9]+; keeping 1000$"

printf 'chunk_pool_pages = 999999999;\n' >"$tmp/range.cfg"
run_case "out of range" "$tmp/range.cfg" \
  "^hakmem: profile $tmp/range.cfg:1: chunk_pool_pages = 999999999: must be an integer from 0 to 65536; keeping 512$"

printf 'align_mode = "fast";\n' >"$tmp/enum.cfg"
run_case "unknown enum value" "$tmp/enum.cfg" \
  "^hakmem: profile $tmp/enum.cfg:1: align_mode = \"fast\": must be overalloc\|chunk_pool\|reserve\|relaxed; keeping \"reserve\"$"

# A message stays one line whatever the value quoted holds: a newline
# (escaped or raw) and a terminal escape come out as escapes.
printf 'align_mode = "res\\nerve\033[31m";\n' >"$tmp/newline.cfg"
run_case "control characters in a value" "$tmp/newline.cfg" \
  "^hakmem: profile $tmp/newline.cfg:1: align_mode = \"res\\\\nerve\\\\x1b\\[31m\": must be overalloc\|chunk_pool\|reserve\|relaxed; keeping \"reserve\"$"

printf '\n\nidle_treshold_us = 5;\n' >"$tmp/typo.cfg"
run_case "unknown knob" "$tmp/typo.cfg" \
  "^hakmem: profile $tmp/typo.cfg:3: unknown knob \"idle_treshold_us\" \(did you mean idle_threshold_us\?\)"

printf 'frobnicate = 1;\n' >"$tmp/unknown.cfg"
run_case "unknown knob, nothing close" "$tmp/unknown.cfg" \
  "^hakmem: profile $tmp/unknown.cfg:1: unknown knob \"frobnicate\""

head -c 10000000 /dev/urandom >"$tmp/junk.cfg"
run_case "10 MB of junk" "$tmp/junk.cfg" "^hakmem: profile $tmp/junk.cfg: 10000000 bytes, but a profile is at most"

head -c 50000 /dev/urandom | tr -d '\0' >"$tmp/junk-small.cfg"
run_case "50 KB of junk" "$tmp/junk-small.cfg" "^hakmem: profile $tmp/junk-small.cfg:[0-9]+: "

# Unreadable: root reads everything, so drop to nobody where we can.
printf 'idle_threshold_us = 1;\n' >"$tmp/secret.cfg"
chmod 000 "$tmp/secret.cfg"
chmod 755 "$tmp"
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  err=$(HAKMEM_CONFIG=$tmp/secret.cfg LD_PRELOAD=$lib setpriv --reuid=65534 --regid=65534 --clear-groups /bin/echo hello 2>&1 >/dev/null)
  if grep -Eq "^hakmem: profile $tmp/secret.cfg: cannot read: permission denied; running on defaults$" <<<"$err"; then
    ok "unreadable file"
  else
    bad "unreadable file" "message: $err"
  fi
elif [[ $(id -u) -ne 0 ]]; then
  run_case "unreadable file" "$tmp/secret.cfg" "^hakmem: profile $tmp/secret.cfg: cannot read: permission denied"
else
  echo "skip unreadable file (root without setpriv)"
fi

# A bad environment value: the variable, the knob, what is allowed.
err=$(HAKMEM_ALIGN_MODE=fast LD_PRELOAD=$lib /bin/echo hello 2>&1 >/dev/null)
if grep -Eq '^hakmem: environment HAKMEM_ALIGN_MODE="fast": align_mode must be overalloc\|chunk_pool\|reserve\|relaxed; keeping "reserve"$' <<<"$err"; then
  ok "bad environment value"
else
  bad "bad environment value" "message: $err"
fi
HAKMEM_STRICT=1 HAKMEM_TCACHE_COUNT=0 LD_PRELOAD=$lib /bin/echo hello >/dev/null 2>&1
rc=$?
[[ $rc -eq 2 ]] && ok "bad environment value (strict)" || bad "bad environment value (strict)" "exit $rc"

# An unknown HAKMEM_ variable is a typo until proven otherwise.
err=$(HAKMEM_IDLE_TRESHOLD_US=5 LD_PRELOAD=$lib /bin/echo hello 2>&1 >/dev/null)
if [[ $err == 'hakmem: environment HAKMEM_IDLE_TRESHOLD_US: unknown variable (did you mean HAKMEM_IDLE_THRESHOLD_US?); ignored' ]]; then
  ok "unknown environment variable"
else
  bad "unknown environment variable" "message: $err"
fi
HAKMEM_STRICT=1 HAKMEM_BOGUS=1 LD_PRELOAD=$lib /bin/echo hello >/dev/null 2>&1
rc=$?
[[ $rc -eq 2 ]] && ok "unknown environment variable (strict)" || bad "unknown environment variable (strict)" "exit $rc"

# The shipped default profile is clean: silent, even in strict mode.
err=$(HAKMEM_STRICT=1 HAKMEM_CONFIG=$default_cfg LD_PRELOAD=$lib /bin/echo hello 2>&1 >/dev/null)
rc=$?
[[ $rc -eq 0 && -z $err ]] && ok "default profile is clean" || bad "default profile is clean" "exit $rc, stderr '$err'"

# A shipped profile by name, found along HAKMEM_PROFILE_PATH.
dump=$(HAKMEM_PROFILE_PATH=/nonexistent:$(dirname "$default_cfg") "$cfgtool" default 2>&1)
rc=$?
if [[ $rc -eq 0 ]] && grep -q '^align_mode = "reserve";  # profile$' <<<"$dump"; then
  ok "profile by name"
else
  bad "profile by name" "exit $rc: $dump"
fi
err=$(HAKMEM_CONFIG=no-such-profile LD_PRELOAD=$lib /bin/echo hello 2>&1 >/dev/null)
if grep -q '^hakmem: profile no-such-profile: no such file, nor a shipped profile of that name' <<<"$err"; then
  ok "unknown profile name"
else
  bad "unknown profile name" "message: $err"
fi

# Environment beats profile beats default, and hakmem-config says which.
printf 'chunk_pool_pages = 5;\nidle_threshold_us = 77;\n' >"$tmp/good.cfg"
dump=$(HAKMEM_CHUNK_POOL_PAGES=7 "$cfgtool" "$tmp/good.cfg" 2>&1)
rc=$?
if [[ $rc -eq 0 ]] && grep -q '^chunk_pool_pages = 7;  # environment$' <<<"$dump" &&
  grep -q '^idle_threshold_us = 77;  # profile$' <<<"$dump" &&
  grep -q '^align_mode = "reserve";  # default$' <<<"$dump"; then
  ok "environment beats profile beats default"
else
  bad "environment beats profile beats default" "exit $rc: $dump"
fi

# strict in the profile itself.
printf 'strict = true;\nwrap_mid = 7;\n' >"$tmp/strict.cfg"
HAKMEM_CONFIG=$tmp/strict.cfg LD_PRELOAD=$lib /bin/echo hello >/dev/null 2>"$tmp/err"
rc=$?
[[ $rc -eq 2 ]] && grep -q 'strict mode: refusing to start' "$tmp/err" && ok "strict set in the profile" ||
  bad "strict set in the profile" "exit $rc: $(cat "$tmp/err")"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
