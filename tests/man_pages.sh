#!/usr/bin/env bash
# tests/man_pages.sh — the man pages render without a single warning and
# say what the programs and the library really offer: every knob of the
# table with its default, every counter, every function of hakmem.h in
# hakmem(3); every long option of each tool's --help in its page.
#   man_pages.sh MAN_DIR HAKMEM_CONFIG HAKMEM HAK_TUNE HAKMEM_H
# Exit: 0 passed, 1 failed, 77 groff or man is not installed (skipped).
set -u
mandir=$1 cfgtool=$2 launcher=$3 haktune=$4 header=$5
for tool in groff man; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (tests/deps.sh test installs groff-base and man-db)"
    exit 77
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

pages=(hakmem.1 hakmem.3 hakmem-config.1 hak-tune.1)
for p in "${pages[@]}"; do
  page=$mandir/$p
  if [[ ! -s $page ]]; then bad "$p: not built ($page)"; continue; fi
  # -ww: every warning groff has; -z: format, print nothing.
  groff -ww -z -man "$page" 2>"$tmp/err"
  [[ ! -s $tmp/err ]] && ok "$p: groff -ww -z -man: no warnings" ||
    bad "$p: groff -ww warns: $(cat "$tmp/err")"
  for f in "$page" "$page.gz"; do
    [[ -e $f ]] || continue
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=all -l "$f" >"$tmp/out" 2>"$tmp/err"
    if [[ -s $tmp/err ]]; then
      bad "$(basename "$f"): man -l warns: $(cat "$tmp/err")"
    elif ! grep -q '^NAME' "$tmp/out"; then
      bad "$(basename "$f"): man -l rendered no NAME section"
    else
      ok "$(basename "$f"): man -l renders it without warnings"
    fi
  done
done

# Rendered wide, so that no name is hyphenated across lines.
render() { LC_ALL=C MANWIDTH=1000 man -l "$mandir/$1" 2>/dev/null; }
render hakmem.3 >"$tmp/hakmem.3.txt"

# Every knob, with its default as the loader formats it, and its variable.
mapfile -t dump < <(env -u HAKMEM_CONFIG "$cfgtool" | sed -n 's/^\([a-z_0-9]* = [^;]*\);.*/\1/p')
[[ ${#dump[@]} -gt 0 ]] && ok "the knob table lists ${#dump[@]} knobs" || bad "hakmem-config printed no knobs"
for line in "${dump[@]}"; do
  k=${line%% = *}
  var=HAKMEM_$(tr '[:lower:]' '[:upper:]' <<<"$k")
  if grep -qF -- "$line (" "$tmp/hakmem.3.txt" && grep -qF -- "$var" "$tmp/hakmem.3.txt"; then
    ok "hakmem(3) documents $k ($line, $var)"
  else
    bad "hakmem(3) lacks knob $k as '$line (' or its variable $var"
  fi
done

mapfile -t counters < <("$cfgtool" --counters | awk '{print $1}')
missing=()
for c in "${counters[@]}"; do grep -qE "^ +$c( |$)" "$tmp/hakmem.3.txt" || missing+=("$c"); done
[[ ${#counters[@]} -gt 0 && ${#missing[@]} -eq 0 ]] &&
  ok "hakmem(3) lists all ${#counters[@]} counters" || bad "hakmem(3) lacks counters: ${missing[*]:-(none listed)}"

mapfile -t funcs < <(sed -n 's/^HAK_API .*[ *]\(hak_[a-z_]*\)(.*/\1/p' "$header")
missing=()
for f in "${funcs[@]}"; do grep -qE "$f\(" "$tmp/hakmem.3.txt" || missing+=("$f"); done
[[ ${#funcs[@]} -gt 0 && ${#missing[@]} -eq 0 ]] &&
  ok "hakmem(3) documents every function of hakmem.h (${funcs[*]})" ||
  bad "hakmem(3) lacks functions of hakmem.h: ${missing[*]:-(none found in $header)}"

# Each tool's long options, as its --help lists them, are in its page.
check_options() {
  local page=$1
  shift
  "$@" --help >"$tmp/help" 2>&1
  render "$page" >"$tmp/page.txt"
  mapfile -t opts < <(grep -oE -- '--[a-z][a-z-]*' "$tmp/help" | sort -u)
  local missing=()
  for o in "${opts[@]}"; do grep -qF -- "$o" "$tmp/page.txt" || missing+=("$o"); done
  [[ ${#opts[@]} -gt 0 && ${#missing[@]} -eq 0 ]] && ok "$page covers the ${#opts[@]} options of $(basename "$1") --help" ||
    bad "$page lacks options of $(basename "$1") --help: ${missing[*]:-(--help listed none)}"
}
check_options hakmem.1 "$launcher"
check_options hakmem-config.1 "$cfgtool"
check_options hak-tune.1 "$haktune"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
