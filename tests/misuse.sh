#!/usr/bin/env bash
# tests/misuse.sh — every wrong free of tests/misuse.c, in hakmem's default
# mode: seven shapes (three kinds of double free, a pointer one byte into a
# block, an array on the thread's stack, an address where nothing is mapped,
# the address 1) for blocks of 8 B, 4 KiB and 256 KiB, plus an array on
# another thread's stack, a double free whose block is then taken again, one
# that the cache then gives back to its page, one whose page is back in the
# page pool (mapped: glibc's free must not get it), pooled or decommitted,
# and in align_mode chunk_pool, and a write into a freed block that is then
# taken again. Each must end the program with abort() and one line on
# stderr, matched here exactly up to the addresses. A program whose live
# blocks hold the free key in their second word must run to its end, and
# so must one whose own mapping lies where chunk_pool's pool gave a page
# back (its blocks are the C library's, not freed ones).
#   misuse.sh MODE PROGRAM [LIBHAKMEM_SO]   MODE: preload (needs the library) or linked
set -u
mode=$1 prog=$2 lib=${3:-}
pass=0 fail=0
hex='0x[0-9a-f]+'
ulimit -c 0 # the aborts are expected
errfile=$(mktemp "${TMPDIR:-/tmp}/hakmem-misuse.XXXXXX")
trap 'rm -f "$errfile"' EXIT

run() {
  if [[ $mode == preload ]]; then
    LD_PRELOAD=$lib "$prog" "$@" --expect-hakmem
  else
    "$prog" "$@" --expect-hakmem
  fi
}

# check SHAPE SIZE PATTERN: abort, and the first stderr line matches.
check() {
  local shape=$1 size=$2 pattern=$3 out rc first
  out=$(run "$shape" "$size" 2>"$errfile"); rc=$?
  first=$(head -n 1 "$errfile")
  if [[ $rc -ne 134 ]]; then
    fail=$((fail + 1)); echo "FAIL $shape $size: exit $rc (expected abort), stdout: $out, stderr: $(head -c 300 "$errfile")"
  elif [[ $(grep -c . "$errfile") -ne 1 ]] || ! grep -Eq -- "^$pattern\$" <<<"$first"; then
    fail=$((fail + 1)); echo "FAIL $shape $size: stderr: $(head -c 300 "$errfile"); expected one line /^$pattern\$/"
  else
    pass=$((pass + 1)); echo "ok   $shape $size: $first"
  fi
}

for size in 8 4096 262144; do
  case $size in 8) block=16 ;; *) block=$size ;; esac
  for shape in double-now double-later double-interleaved; do
    check $shape $size "hakmem: double free of $hex"
  done
  check interior $size "hakmem: free\(\): invalid pointer $hex: 1 byte into the $block-byte block at $hex"
  check stack $size "hakmem: free\(\): invalid pointer $hex: on the stack of this thread, not allocated by anyone"
  check unmapped $size "hakmem: free\(\): invalid pointer $hex: not allocated by hakmem nor the C library \(no memory is mapped there\)"
  check one $size "hakmem: free\(\): invalid pointer 0x1: not allocated by hakmem nor the C library \(misaligned\)"
done
check stack-other 8 "hakmem: free\(\): invalid pointer $hex: on the stack of another thread, not allocated by anyone"
# A double free the free let into the cache, and a write after free, are
# found when malloc would hand the block out (again); a large block's
# second free is found at the free.
for size in 8 4096; do
  check double-reuse $size "hakmem: double free of $hex, or a write to it after free \(found by malloc\)"
  check write-after-free $size "hakmem: double free of $hex, or a write to it after free \(found by malloc\)"
  check double-flush $size "hakmem: double free of $hex"
  check double-pooled $size "hakmem: double free of $hex"
  # No release delay: the page is decommitted at once, on the cold list.
  HAKMEM_RELEASE_DELAY_MS=0 check double-pooled $size "hakmem: double free of $hex"
  # Pooled pages there are not in regions but marked in the page map.
  HAKMEM_ALIGN_MODE=chunk_pool check double-pooled $size "hakmem: double free of $hex"
done
check double-reuse 262144 "hakmem: double free of $hex"

# runs_to_end SHAPE SIZE WHY: no misuse, so exit 0 and nothing on stderr.
runs_to_end() {
  local shape=$1 size=$2 why=$3 out rc
  out=$(run "$shape" "$size" 2>"$errfile"); rc=$?
  if [[ $rc -eq 0 && ! -s $errfile ]]; then
    pass=$((pass + 1)); echo "ok   $shape $size: $(tail -n 1 <<<"$out")"
  else
    fail=$((fail + 1)); echo "FAIL $shape $size: exit $rc, stderr: $(head -c 300 "$errfile") ($why)"
  fi
}

for size in 8 4096 262144; do
  runs_to_end key-in-data $size "a live block holding the key was taken for a freed one"
done
# The pool keeps no page: each goes back to the kernel, its mark cleared.
for size in 8 4096; do
  HAKMEM_ALIGN_MODE=chunk_pool HAKMEM_CHUNK_POOL_PAGES=0 HAKMEM_RETAIN_PCT=0 \
    runs_to_end pool-reused $size "the program's own block was not left to the C library"
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
