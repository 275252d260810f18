#!/usr/bin/env bash
# tests/secure.sh — secure execution and the system profile (issue: a
# setuid program must not obey its caller's HAKMEM_* variables).
#
# A setuid-root copy of secure_probe (hakmem linked in statically) runs as
# nobody with every variable an attacker would set: it must read no file
# they name, write none, print nothing, and run on the defaults. The same
# program without the setuid bit must honour every one of them. The system
# profile (compiled into this build as SYSPROFILE) must be honoured when
# root owns it and no one else can write it, and refused otherwise: with a
# message in an ordinary process, in silence in a secure one.
#   secure.sh PROBE HAKMEM_CONFIG_SYSTEST SYSPROFILE
# Needs root (to make a setuid program and to run as nobody); exits 77 with
# the reason when it cannot test, never passes without testing.
set -u
probe=$1 cfgtool=$2 sys=$3
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
skip() { echo "SKIP: $1"; exit 77; }

[[ $(id -u) -eq 0 ]] || skip "needs root: a setuid-root program and a run as nobody (run the suite as root, as CI does)"
command -v setpriv >/dev/null || skip "setpriv not found (apt-get install util-linux)"
nobody=65534

work=$(mktemp -d /tmp/hakmem-secure.XXXXXX)
chmod 755 "$work"
mkdir -p "$(dirname "$sys")"
cleanup() { rm -rf "$work"; rm -f "$sys"; }
trap cleanup EXIT
rm -f "$sys"

install -m 4755 -o root -g root "$probe" "$work/suid"
install -m 0755 -o root -g root "$probe" "$work/plain"
mkdir -m 700 "$work/rootonly"
mkdir -m 1777 "$work/shared"
# A root-only profile whose lines must never reach another user.
printf 'tiny_max = 5000;\nsecret_key_abc = 1;\n' >"$work/rootonly/secret.cfg"
chmod 600 "$work/rootonly/secret.cfg"
printf 'tiny_max = 2048;\ntcache_count = 150;\n' >"$work/public.cfg"
chmod 644 "$work/public.cfg"

# as_nobody CMD...: the caller is nobody, with exactly the variables given.
as_nobody() { setpriv --reuid=$nobody --regid=$nobody --clear-groups env -i PATH=/usr/bin:/bin "$@"; }
attack=(HAKMEM_STATS_FILE="$work/rootonly/pwned.json" HAKMEM_CONFIG="$work/rootonly/secret.cfg"
  HAKMEM_STATS=1 HAKMEM_TINY_MAX=256 HAKMEM_NOT_A_KNOB=1 HAKMEM_STRICT=1
  HAKMEM_PROFILE_PATH="$work/rootonly" HAKMEM_VERBOSE=1)

# knob OUT NAME: "value source" of knob NAME in the probe's output.
knob() { sed -n "s/^$2=//p" "$1"; }

# ---- the probe is secure when setuid and run by another user ------------------
as_nobody "$work/suid" >"$work/out" 2>"$work/err"
grep -q '^secure=1 ours=1 uid=65534 euid=0' "$work/out" ||
  skip "the setuid probe did not run secure with hakmem serving it (nosuid mount?): $(head -1 "$work/out")"

# ---- secure: nothing the caller sets is obeyed --------------------------------
as_nobody "${attack[@]}" "$work/suid" >"$work/out" 2>"$work/err"; rc=$?
if [[ $rc -ne 0 ]]; then bad "secure run" "exit $rc (strict from the caller must not apply), stderr $(cat "$work/err")"
elif [[ -s $work/err ]]; then bad "secure run" "stderr must stay empty, got: $(head -c 300 "$work/err")"
elif [[ -e $work/rootonly/pwned.json ]]; then bad "secure run" "HAKMEM_STATS_FILE was written as root"
elif [[ $(knob "$work/out" tiny_max) != "1024 default" ]]; then
  bad "secure run" "tiny_max is '$(knob "$work/out" tiny_max)', expected the default"
elif tail -n +2 "$work/out" | grep -vq ' default$'; then
  bad "secure run" "a knob did not stay at its default: $(tail -n +2 "$work/out" | grep -v ' default$' | head -1)"
else ok "setuid run as nobody ignores HAKMEM_CONFIG, HAKMEM_STATS(_FILE), knobs and strict"; fi

# A stats file in a directory anyone may write: not created either.
as_nobody HAKMEM_STATS_FILE="$work/shared/stats.json" HAKMEM_STATS=json "$work/suid" >/dev/null 2>"$work/err"
if [[ -e $work/shared/stats.json || -s $work/err ]]; then
  bad "secure stats" "a stats file or report appeared: $(ls "$work/shared") $(head -c 200 "$work/err")"
else ok "setuid run writes no stats file and prints no stats"; fi

# ---- the same program without the setuid bit obeys every variable ------------
env HAKMEM_STATS_FILE="$work/shared/plain.json" HAKMEM_CONFIG="$work/public.cfg" HAKMEM_STATS=1 \
  HAKMEM_TINY_MAX=256 HAKMEM_NOT_A_KNOB=1 HAKMEM_TCACHE_COUNT=200 \
  "$work/plain" >"$work/out" 2>"$work/err"; rc=$?
if [[ $rc -ne 0 ]]; then bad "ordinary run" "exit $rc: $(cat "$work/err")"
elif ! grep -q '^secure=0' "$work/out"; then bad "ordinary run" "probe says $(head -1 "$work/out")"
elif [[ $(knob "$work/out" tiny_max) != "256 environment" ]]; then
  bad "ordinary run" "HAKMEM_TINY_MAX not honoured: tiny_max $(knob "$work/out" tiny_max)"
elif [[ $(knob "$work/out" tcache_count) != "200 environment" ]]; then
  bad "ordinary run" "HAKMEM_TCACHE_COUNT not honoured: $(knob "$work/out" tcache_count)"
elif ! grep -q 'unknown variable' "$work/err"; then bad "ordinary run" "HAKMEM_NOT_A_KNOB went unreported"
elif ! grep -q 'stats (pid' "$work/err"; then bad "ordinary run" "HAKMEM_STATS=1 printed no report"
elif [[ ! -f $work/shared/plain.json ]] || ! grep -q '"tiny_alloc"' "$work/shared/plain.json"; then
  bad "ordinary run" "HAKMEM_STATS_FILE not written"
elif [[ $(stat -c %a "$work/shared/plain.json") != 600 ]]; then
  bad "ordinary run" "stats file created with mode $(stat -c %a "$work/shared/plain.json"), expected 600"
else ok "the same program without the setuid bit honours every variable"; fi

env HAKMEM_CONFIG="$work/public.cfg" "$work/plain" >"$work/out" 2>"$work/err"
if [[ $(knob "$work/out" tcache_count) != "150 profile" || -s $work/err ]]; then
  bad "ordinary profile" "tcache_count $(knob "$work/out" tcache_count), stderr $(cat "$work/err")"
else ok "ordinary run reads HAKMEM_CONFIG"; fi

# ---- the system profile ----------------------------------------------------------
printf 'tcache_count = 100;\nidle_threshold_us = 5000;\ntiny_max = 512;\n' >"$sys"
chown root:root "$sys"
chmod 644 "$sys"

as_nobody "${attack[@]}" "$work/suid" >"$work/out" 2>"$work/err"
if [[ $(knob "$work/out" tcache_count) != "100 system" || $(knob "$work/out" tiny_max) != "512 system" ]]; then
  bad "system profile, secure" "tcache_count $(knob "$work/out" tcache_count), tiny_max $(knob "$work/out" tiny_max)"
elif [[ -s $work/err ]]; then bad "system profile, secure" "stderr: $(head -c 300 "$work/err")"
else ok "a secure process honours root's system profile, and only it"; fi

# Order: defaults, system profile, HAKMEM_CONFIG, HAKMEM_<KNOB>.
env HAKMEM_CONFIG="$work/public.cfg" HAKMEM_TCACHE_COUNT=300 "$work/plain" >"$work/out" 2>"$work/err"
got="$(knob "$work/out" idle_threshold_us)|$(knob "$work/out" tiny_max)|$(knob "$work/out" tcache_count)|$(knob "$work/out" drain_scan)"
if [[ $got != "5000 system|2048 profile|300 environment|8 default" || -s $work/err ]]; then
  bad "system profile order" "idle|tiny_max|tcache_count|drain_scan = $got, stderr $(cat "$work/err")"
else ok "order: defaults < system profile < HAKMEM_CONFIG < HAKMEM_<KNOB>"; fi

# The start-up report names both profiles and each knob's source.
env HAKMEM_CONFIG="$work/public.cfg" HAKMEM_TCACHE_COUNT=300 HAKMEM_VERBOSE=1 "$work/plain" >/dev/null 2>"$work/err"
want=("hakmem:   system profile $sys: read" "hakmem:   profile $work/public.cfg: read"
  "hakmem:   idle_threshold_us = 5000;  # system (default 1000)"
  "hakmem:   tiny_max = 2048;  # profile (default 1024)"
  "hakmem:   tcache_count = 300;  # environment (default 64)")
missing=()
for w in "${want[@]}"; do grep -qxF -- "$w" "$work/err" || missing+=("$w"); done
if [[ ${#missing[@]} -gt 0 ]]; then bad "start-up report" "missing ${missing[*]}: $(cat "$work/err")"
else ok "HAKMEM_VERBOSE: the report names the system profile and each knob's source"; fi
as_nobody HAKMEM_VERBOSE=1 "$work/suid" >/dev/null 2>"$work/err"
[[ -s $work/err ]] && bad "secure start-up report" "a setuid run reported: $(cat "$work/err")" ||
  ok "a setuid run makes no start-up report, even with the system profile read"

"$cfgtool" --system >"$work/out" 2>"$work/err"; rc=$?
if [[ $rc -ne 0 ]] || ! grep -q '^tcache_count = 100;  # system$' "$work/out" ||
  ! grep -q "^# system profile $sys" "$work/out"; then
  bad "hakmem-config --system" "exit $rc: $(cat "$work/out" "$work/err" | head -5)"
else ok "hakmem-config --system checks the system profile"; fi

# refused SETUP PATTERN NAME: after SETUP, the system profile is not read:
# an ordinary process says PATTERN once and runs on defaults, a secure one
# runs on defaults in silence, hakmem-config --system says it and exits 1.
refused() {
  local setup=$1 pattern=$2 name=$3
  printf 'tcache_count = 100;\n' >"$sys"; chown root:root "$sys"; chmod 644 "$sys"
  eval "$setup"
  "$work/plain" >"$work/out" 2>"$work/err"; local rc=$?
  if [[ $rc -ne 0 || $(knob "$work/out" tcache_count) != "64 default" ]]; then
    bad "$name" "ordinary: exit $rc, tcache_count $(knob "$work/out" tcache_count)"; return
  fi
  if [[ $(grep -c . "$work/err") -ne 1 ]] || ! grep -Eq -- "^hakmem: system profile $sys: $pattern" "$work/err"; then
    bad "$name" "ordinary: expected one line /$pattern/, got: $(cat "$work/err")"; return
  fi
  as_nobody "$work/suid" >"$work/out" 2>"$work/err"
  if [[ $(knob "$work/out" tcache_count) != "64 default" || -s $work/err ]]; then
    bad "$name" "secure: tcache_count $(knob "$work/out" tcache_count), stderr $(cat "$work/err")"; return
  fi
  "$cfgtool" --system >/dev/null 2>"$work/err"; rc=$?
  if [[ $rc -ne 1 ]] || ! grep -Eq -- "$pattern" "$work/err"; then
    bad "$name" "hakmem-config --system: exit $rc, $(cat "$work/err")"; return
  fi
  ok "$name"
}
refused 'chmod 664 "$sys"' 'writable by its group \(mode 664\), but only root may write it; not read$' \
  "group-writable system profile refused"
refused 'chmod 646 "$sys"' 'writable by anyone \(mode 646\), but only root may write it; not read$' \
  "world-writable system profile refused"
refused 'chown $nobody "$sys"' "owned by uid $nobody, but it must be owned by root; not read\$" \
  "system profile owned by another user refused"
refused 'mv "$sys" "$sys.real"; ln -s "$sys.real" "$sys"' 'is a symbolic link, which the system profile may not be; not read$' \
  "system profile reached through a symbolic link refused"
rm -f "$sys.real"
refused 'rm -f "$sys"; mkfifo -m 644 "$sys"' 'not a regular file' "system profile that is a FIFO refused"

# A broken system profile that asks for strict mode: an ordinary process
# refuses to start, saying why; a secure one cannot say why, so it runs.
rm -f "$sys"
printf 'strict = true;\ntcache_count = "many";\n' >"$sys"; chown root:root "$sys"; chmod 644 "$sys"
"$work/plain" >"$work/out" 2>"$work/err"; rc=$?
if [[ $rc -ne 2 ]] || ! grep -q "^hakmem: system profile $sys:2: tcache_count" "$work/err"; then
  bad "strict system profile" "ordinary: exit $rc, $(cat "$work/err")"
else
  as_nobody "$work/suid" >"$work/out" 2>"$work/err"; rc=$?
  if [[ $rc -ne 0 || -s $work/err || $(knob "$work/out" tcache_count) != "64 default" ]]; then
    bad "strict system profile" "secure: exit $rc, stderr $(cat "$work/err")"
  else ok "a broken strict system profile stops ordinary processes and not setuid ones"; fi
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
