#!/usr/bin/env bash
# tests/advice.sh — the advisor at exit (HAKMEM_STATS=1): every rule of
# `hakmem-config --rules` fires on a workload set up to provoke it, in the
# text report (its line, then the hak-tune line naming the command) and in
# the JSON ("advice"), and does not fire on the same workload with the
# default knobs; a quiet program (a C program that does next to nothing,
# and python3) gets "advice: none" and "advice":[]. Every rule has a case
# here and an entry in tuner/TUNING.md, so a new rule cannot come without
# both.
#   advice.sh LIBHAKMEM_SO ADVICE_BIN PAGECYCLE_BIN HAKMEM_CONFIG SOURCE_DIR
set -u
lib=$1 advice=$2 pagecycle=$3 cfgtool=$4 src=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
unset HAKMEM_CONFIG HAKMEM_PROFILE_PATH HAKMEM_STATS HAKMEM_STATS_FILE HAKMEM_VERBOSE

# The rule, the knobs that provoke it, and the workload (counts, not time).
cases=(
  "churn|HAKMEM_CHUNK_POOL_PAGES=0 HAKMEM_RETAIN_PCT=0|$pagecycle 6"
  "large_cache|HAKMEM_LARGE_CACHE_BYTES=0 HAKMEM_RETAIN_PCT=0|$advice large 1500"
  "unpooled|HAKMEM_ALIGN_MODE=overalloc|$pagecycle 6"
  "tcache|HAKMEM_TCACHE_COUNT=2 HAKMEM_TCACHE_GROW_PCT=0|$advice small 300000"
  "libc|HAKMEM_WRAP_TINY=0|$advice small 300000"
)

# run NAME ENV -- CMD...: CMD under hakmem with ENV (words), text report in
# $tmp/NAME.err, JSON in $tmp/NAME.json.
run() {
  local name=$1 envs=$2
  shift 3
  # shellcheck disable=SC2086
  env $envs HAKMEM_STATS=1 HAKMEM_STATS_FILE="$tmp/$name.json" LD_PRELOAD="$lib" "$@" \
    >/dev/null 2>"$tmp/$name.err"
}
# advice_ids NAME: the JSON's advice array, space-separated.
advice_ids() { sed -n 's/.*"advice":\[\([^]]*\)\].*/\1/p' "$tmp/$1.json" | tr -d '"' | tr ',' ' '; }

mapfile -t rules < <("$cfgtool" --rules | sed -n 's/^\([a-z_]*\) .*fires when.*/\1/p')
[[ ${#rules[@]} -gt 0 ]] && ok "hakmem-config --rules lists ${#rules[@]} rules" || bad "hakmem-config --rules lists no rule"
for r in "${rules[@]}"; do
  printf '%s\n' "${cases[@]}" | grep -q "^$r|" && ok "rule $r has a case here" ||
    bad "rule $r has no case in advice.sh: add a workload that provokes it"
  grep -q "(rule \`$r\`)" "$src/tuner/TUNING.md" && ok "rule $r is explained in tuner/TUNING.md" ||
    bad "rule $r has no entry '(rule \`$r\`)' in tuner/TUNING.md"
done

for c in "${cases[@]}"; do
  IFS='|' read -r rule envs cmd <<<"$c"
  read -ra argv <<<"$cmd"
  if ! run "$rule" "$envs" -- "${argv[@]}"; then
    bad "$rule: the workload failed: $(tail -3 "$tmp/$rule.err")"
    continue
  fi
  line=$(grep -E "^  $rule: " "$tmp/$rule.err")
  if [[ -z $line ]]; then
    bad "$rule: no advice line with $envs: $(sed -n '/^advice/,$p' "$tmp/$rule.err")"
  elif ! grep -qE '^advice \(tuner/TUNING.md' "$tmp/$rule.err"; then
    bad "$rule: no advice heading"
  elif ! grep -qxF "  or measure instead of guessing: hak-tune --cmd '$cmd' --metric wall -o tuned.cfg (--metric REGEX for a figure the program prints)" "$tmp/$rule.err"; then
    bad "$rule: the hak-tune line does not name '$cmd': $(tail -1 "$tmp/$rule.err")"
  elif [[ " $(advice_ids "$rule") " != *" $rule "* ]]; then
    bad "$rule: the JSON's advice is [$(advice_ids "$rule")]"
  else
    ok "$rule fires with $envs: ${line:0:90}..."
  fi
  # The same workload on the defaults.
  run "$rule-default" "" -- "${argv[@]}"
  if grep -qE "^  $rule: " "$tmp/$rule-default.err" || [[ " $(advice_ids "$rule-default") " == *" $rule "* ]]; then
    bad "$rule: fires on the defaults too: $(grep -E "^  $rule: " "$tmp/$rule-default.err")"
  else
    ok "$rule: silent on the same workload with the defaults"
  fi
done

# The knobs named in each sentence carry their values.
grep -qE '^  churn: .*retain_pct \(now 0\).*chunk_pool_pages \(now 0 pages\)' "$tmp/churn.err" &&
  ok "churn names the knobs with their values" || bad "churn's sentence: $(grep '^  churn' "$tmp/churn.err")"
grep -qE '^  unpooled: .*align_mode = overalloc maps' "$tmp/unpooled.err" &&
  ok "unpooled names the mode in use" || bad "unpooled's sentence: $(grep '^  unpooled' "$tmp/unpooled.err")"
grep -qE '^  libc: the C library served [0-9,]+ of [0-9,]+ allocations \(libc_alloc\) because wrap_tiny = false' "$tmp/libc.err" &&
  ok "libc names the tier left to the C library" || bad "libc's sentence: $(grep '^  libc' "$tmp/libc.err")"

# How the hak-tune line quotes the command line: a word with a space in
# double quotes; one that the shell would need more for, not at all.
run quoted "HAKMEM_ALIGN_MODE=overalloc" -- "$pagecycle" 6 6000 "two words"
grep -qF -- "--cmd '$pagecycle 6 6000 \"two words\"' --metric wall" "$tmp/quoted.err" &&
  ok "the hak-tune line double-quotes an argument with a space" || bad "quoting: $(tail -1 "$tmp/quoted.err")"
run unquotable "HAKMEM_ALIGN_MODE=overalloc" -- "$pagecycle" 6 6000 "it's"
grep -qF -- "--cmd 'PROGRAM ARGS' --metric wall" "$tmp/unquotable.err" &&
  ok "an argument with a quote: the hak-tune line says PROGRAM ARGS" || bad "unquotable: $(tail -1 "$tmp/unquotable.err")"

# Hardened mode sends every free through the slow path on purpose: no
# tcache advice for it.
run hardened "HAKMEM_HARDENED=1" -- "$advice" small 300000
grep -qE '^  tcache: ' "$tmp/hardened.err" && bad "tcache fires in hardened mode" ||
  ok "hardened mode's slow frees get no tcache advice"

# ---- quiet programs get none ----------------------------------------------------
run quiet "" -- "$advice" quiet
if [[ $(grep -c '^advice' "$tmp/quiet.err") -eq 1 ]] && grep -qx 'advice: none (no rule of hakmem-config --rules fired)' "$tmp/quiet.err" &&
  [[ -z $(advice_ids quiet) ]] && grep -q '"advice":\[\]' "$tmp/quiet.json"; then
  ok "a quiet C program: advice: none, and \"advice\":[]"
else bad "quiet C program: $(sed -n '/^advice/,$p' "$tmp/quiet.err") / $(advice_ids quiet)"; fi

if command -v python3 >/dev/null; then
  # python3 may be a wrapper that runs other programs first: every process
  # reports, and every report must be quiet.
  env HAKMEM_STATS=1 LD_PRELOAD="$lib" python3 -c pass 2>"$tmp/py.err"
  reports=$(grep -c ' stats (pid ' "$tmp/py.err") nones=$(grep -cx 'advice: none (no rule of hakmem-config --rules fired)' "$tmp/py.err")
  if [[ $reports -gt 0 && $reports -eq $nones ]] && ! grep -q '^advice (' "$tmp/py.err"; then
    ok "python3 -c pass: $reports report(s), no advice"
  else bad "python3 -c pass: $reports reports, $nones without advice: $(grep -A3 '^advice (' "$tmp/py.err" | head -5)"; fi
else
  echo "skip python3 -c pass: python3 is not installed"
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
