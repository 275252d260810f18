#!/usr/bin/env bash
# tests/stats_file.sh — HAKMEM_STATS_FILE in a shared directory, where
# another user may have planted the name first: a symbolic link is not
# followed, a FIFO does not hang the exit, a directory or another user's file
# is not written; each is one line on stderr naming the path and why. A file
# hakmem creates is readable by its owner alone; one of our own is replaced.
#   stats_file.sh LIBHAKMEM_SO
set -u
lib=$1
[[ -x /usr/bin/perl ]] || { echo "SKIP: /usr/bin/perl not found (tests/deps.sh test installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

# run PATH: one process under hakmem writing its stats to PATH at exit; sets
# rc, out, err. perl, since /bin/echo closes stderr before hakmem reports at
# exit, dash leaves through _exit, and a python3 shim runs many processes.
run() {
  out=$(timeout 20 env HAKMEM_STATS_FILE="$1" LD_PRELOAD="$lib" /usr/bin/perl -e 'print "hello\n"' 2>"$tmp/err"); rc=$?
  err=$(cat "$tmp/err")
}
# refused NAME PATH PATTERN: the program runs on, one stderr line matches.
refused() {
  run "$2"
  if [[ $rc -ne 0 || $out != hello ]]; then bad "$1" "exit $rc, stdout '$out'"
  elif [[ $(grep -c . "$tmp/err") -ne 1 ]] || ! grep -Eq -- "^hakmem: stats file $2: $3; not written$" "$tmp/err"; then
    bad "$1" "expected one line /$3/, got: $err"
  else ok "$1"; fi
}

run "$tmp/new.json"
if [[ $rc -ne 0 || -n $err ]] || ! grep -q '"tiny_alloc"' "$tmp/new.json" 2>/dev/null; then
  bad "new file" "exit $rc, stderr '$err'"
elif [[ $(stat -c %a "$tmp/new.json") != 600 ]]; then
  bad "new file" "created with mode $(stat -c %a "$tmp/new.json"), expected 600"
else ok "a new stats file is created with mode 600"; fi

head -c 10000 /dev/zero | tr '\0' x >"$tmp/old.json"
run "$tmp/old.json"
if [[ $rc -ne 0 || -n $err ]] || grep -q xxxx "$tmp/old.json" || ! grep -q '^{.*}$' "$tmp/old.json"; then
  bad "own file" "not replaced by the JSON alone: exit $rc, stderr '$err'"
else ok "an existing file of our own is truncated and written"; fi

echo keep >"$tmp/target"
ln -s "$tmp/target" "$tmp/link.json"
refused "symbolic link" "$tmp/link.json" "is a symbolic link"
[[ $(cat "$tmp/target") == keep ]] || bad "symbolic link" "the link's target was written"

mkfifo "$tmp/fifo.json"
refused "FIFO" "$tmp/fifo.json" "not a regular file"

mkdir "$tmp/dir.json"
refused "directory" "$tmp/dir.json" "cannot write: is a directory"

refused "missing directory" "$tmp/nodir/x.json" "cannot write: no such file"

if [[ $(id -u) -eq 0 ]]; then
  echo theirs >"$tmp/theirs.json"
  chown 65534 "$tmp/theirs.json"
  refused "another user's file" "$tmp/theirs.json" "owned by another user"
  [[ $(cat "$tmp/theirs.json") == theirs ]] || bad "another user's file" "it was written"
else
  echo "skip another user's file: needs root to make one"
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
