#!/usr/bin/env bash
# tests/shipped_profiles.sh — every shipped profile loads in strict mode,
# and every one but default.cfg carries the header configs/README.md
# requires (where it comes from and what it gained): the workload and how
# to run it (bench or cmd), the objective, the exact command, the date and
# the measured gain. hak-tune --verify must be able to read each header it
# would verify. Each problem names the file.
#   shipped_profiles.sh HAKMEM_CONFIG_BIN CONFIGS_DIR [HAK_TUNE]
set -u
cfgtool=$1 configs=$2 tune=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

shopt -s nullglob
files=("$configs"/*.cfg)
if [[ ${#files[@]} -eq 0 ]]; then bad "$configs" "no profiles at all (default.cfg is shipped)"; fi
if [[ -e $configs/default.cfg ]]; then ok "default.cfg is there"; else bad "$configs/default.cfg" "missing"; fi

# need KEY REGEX WHAT: the header of $name ($tmp/header) has a "# KEY:
# value" line whose value matches REGEX; WHAT says what it should say.
need() {
  local line
  line=$(grep -m1 -E "^# $1: " "$tmp/header")
  if [[ -z $line ]]; then bad "$name" "no '# $1:' line in its header ($3)"; return; fi
  if ! grep -qE -- "$2" <<<"${line#"# $1:"}"; then
    bad "$name" "'$line': $3"; return
  fi
  ok "$name: $1"
}

for f in "${files[@]}"; do
  name=${f#"$configs"/}
  # strict: any problem is an error, and hakmem-config says which.
  if env -u HAKMEM_CONFIG "$cfgtool" --strict "$f" >/dev/null 2>"$tmp/err" && [[ ! -s $tmp/err ]]; then
    ok "$name loads in strict mode"
  else
    bad "$name" "does not load in strict mode: $(tr '\n' ' ' <"$tmp/err")"
  fi
  [[ $name == default.cfg ]] && continue
  # The header: the comment lines before the first knob.
  awk '/^[ \t]*[^# \t]/ { exit } { print }' "$f" >"$tmp/header"
  need workload '^ +[a-z][a-z0-9-]*$' "the workload it was tuned for: a bench name, custom or command"
  if grep -qE '^# bench: ' "$tmp/header"; then
    need bench '^ +[a-z][a-z0-9_-]* ' "the bench program and its arguments"
  else
    need cmd '^ +[^ ]' "the command of the workload (or a '# bench:' line)"
  fi
  need objective '^ +(throughput|rss|sys)$' "throughput, rss or sys"
  need command '^ +HAKMEM_CONFIG=[^ ]+ LD_PRELOAD=[^ ]+ [^ ]' "the exact command to run the workload with it"
  need 'tuned by' '^ +[^ ]*hak-tune ' "the hak-tune command that produced it"
  need date '^ +[0-9]{4}-[0-9]{2}-[0-9]{2} ' "when it was measured (YYYY-MM-DD ...)"
  need gain '^ +[a-zA-Z ]+ x[0-9.]+ \(min [0-9.]+, max [0-9.]+\), (won|lower in) [0-9]+ of [0-9]+ pairs.*sys' \
    "the measured gain: OBJECTIVE xRATIO (min A, max B), won N of M pairs ... sys fraction"
done

# The command that verifies the profiles reads the same headers.
if [[ -n $tune ]]; then
  if "$tune" --verify --list --configs "$configs" >"$tmp/list" 2>&1; then
    ok "hak-tune --verify reads every header"
  else
    bad "hak-tune --verify --list" "$(cat "$tmp/list")"
  fi
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
