#!/usr/bin/env bash
# compilers.sh — the code is clean under -Wall -Wextra -Werror with gcc and
# with clang, while a build uses one of them: every compilation of the build
# (compile_commands.json) is replayed with the other compiler, syntax only,
# as the build made it and again with the opposite NDEBUG, so that both the
# Release and the Debug flavour of hak_assert are checked. Some warnings
# exist in one compiler only (clang's -Wunneeded-internal-declaration for a
# function named only inside an assertion that compiles to nothing).
#   compilers.sh BUILD_DIR C_COMPILER_ID
set -u
build=$1 id=$2
case $id in
GNU) other=clang ;;
Clang) other=gcc ;;
*) echo "SKIP: the build's compiler is $id; this test knows gcc and clang"; exit 77 ;;
esac
if ! command -v "$other" >/dev/null; then
  echo "SKIP: $other is not installed (apt-get install $other): the code is checked with one compiler only"
  exit 77
fi
db=$build/compile_commands.json
[[ -f $db ]] || { echo "FAIL: $db is missing (CMAKE_EXPORT_COMPILE_COMMANDS)"; exit 1; }
# Sanitizer flags of one compiler may be unknown to the other: those
# targets are left out (their sources are compiled plain elsewhere).
python3 - "$db" "$other" <<'PY'
import json, shlex, subprocess, sys
db, other = sys.argv[1], sys.argv[2]
fails = runs = 0
seen = set()
for e in json.load(open(db)):
    args = e.get("arguments") or shlex.split(e["command"])
    if not e["file"].endswith(".c") or any(a.startswith("-fsanitize") for a in args):
        continue
    out, skip = [other, "-fsyntax-only"], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD"):
            continue
        out.append(a)
    # A source built into several targets with the same definitions once.
    key = (e["file"], tuple(a for a in out if a.startswith("-D")))
    if key in seen:
        continue
    seen.add(key)
    flip = ["-UNDEBUG"] if "-DNDEBUG" in out else ["-DNDEBUG"]
    for extra in ([], flip):
        runs += 1
        r = subprocess.run(out + ["-Werror"] + extra, cwd=e["directory"], capture_output=True, text=True)
        if r.returncode != 0:
            fails += 1
            print(f"FAIL: {other} {' '.join(extra) or '(as built)'}: {e['file']}\n{r.stderr.strip()}")
print(f"{runs - fails} of {runs} compilations clean with {other}")
sys.exit(1 if fails else 0)
PY
