#!/usr/bin/env bash
# tests/knob_table.sh — every knob of the table reaches every place that
# reads it: the README's knob table and configs/default.cfg (both generated
# by hakmem-config and compared here), the profile loader, the HAKMEM_<KNOB>
# environment overrides and the effective-settings dump.
#   knob_table.sh HAKMEM_CONFIG_BIN SOURCE_DIR
set -u
cfgtool=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

"$cfgtool" --knobs >"$tmp/knobs.md"
# The README holds the generated table verbatim, from its header row to the
# first blank line after it.
awk '/^\| knob \| type \|/{on=1} on&&/^$/{exit} on' "$src/README.md" >"$tmp/readme.md"
if diff -u "$tmp/knobs.md" "$tmp/readme.md" >"$tmp/diff"; then
  ok "README knob table matches the knob table"
else
  bad "README knob table differs from 'hakmem-config --knobs' (regenerate it):"; cat "$tmp/diff"
fi

"$cfgtool" --defaults >"$tmp/default.cfg"
if diff -u "$tmp/default.cfg" "$src/configs/default.cfg" >"$tmp/diff"; then
  ok "configs/default.cfg matches the knob table"
else
  bad "configs/default.cfg differs from 'hakmem-config --defaults' (regenerate it):"; cat "$tmp/diff"
fi

# Knob names, from the dump of the defaults.
mapfile -t knobs < <(env -u HAKMEM_CONFIG "$cfgtool" | sed -n 's/^\([a-z_0-9]*\) = .*/\1/p')
[[ ${#knobs[@]} -gt 0 ]] && ok "dump lists ${#knobs[@]} knobs" || bad "dump lists no knobs"

for k in "${knobs[@]}"; do
  line=$(grep -E "^$k = " "$tmp/default.cfg")
  value=${line#"$k = "}
  value=${value%;}
  # The profile loader knows it.
  printf '%s = %s;\n' "$k" "$value" >"$tmp/one.cfg"
  "$cfgtool" "$tmp/one.cfg" 2>"$tmp/err" | grep -q "^$k = .*# profile$" && [[ ! -s $tmp/err ]] &&
    ok "$k: profile" || bad "$k: the profile loader does not take it ($(cat "$tmp/err"))"
  # The environment override knows it.
  var=HAKMEM_$(tr '[:lower:]' '[:upper:]' <<<"$k")
  envval=$(tr -d '"' <<<"$value")
  env "$var=$envval" "$cfgtool" 2>"$tmp/err" | grep -q "^$k = .*# environment$" && [[ ! -s $tmp/err ]] &&
    ok "$k: $var" || bad "$k: $var is not applied ($(cat "$tmp/err"))"
  grep -q "\`$k\`" "$src/README.md" && ok "$k: documented" || bad "$k: not in README.md"
done

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
