#!/usr/bin/env bash
# tests/package.sh — the Debian packages: configures a build for /usr in a
# scratch directory, runs `cpack -G DEB`, and checks the three packages'
# names, contents and dependencies. Then it unpacks libhakmem0 and
# hakmem-tools into a scratch root with dpkg -x (not at /usr, so everything
# must be found relative to the launcher) and runs python3 through
# ROOT/usr/bin/hakmem -p default, which must be served by hakmem; and it
# builds a program against libhakmem-dev through its hakmem.pc.
#   package.sh SOURCE_DIR C_COMPILER
# Exit: 0 passed, 1 failed, 77 a packaging tool is missing (skipped).
set -u
src=$(realpath "$1") cc=$2
for tool in cmake cpack dpkg-deb dpkg-shlibdeps dpkg-architecture file python3 pkg-config; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (tests/deps.sh build test installs it)"
    exit 77
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# The version is written once, in hakmem.h.
version=$(awk '/^#define HAKMEM_VERSION_(MAJOR|MINOR|PATCH) / {v = v (v == "" ? "" : ".") $3}
  END {print v}' "$src/libhakmem/include/hakmem.h")
arch=$(dpkg --print-architecture)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
# Only what the packages hold: no tests, no benchmarks.
if ! cmake -S "$src" -B "$tmp/build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="$cc" -DHAKMEM_BUILD_TESTS=OFF -DHAKMEM_BUILD_BENCH=OFF >"$tmp/log" 2>&1 ||
  ! cmake --build "$tmp/build" -j2 >>"$tmp/log" 2>&1 ||
  ! (cd "$tmp/build" && cpack -G DEB) >>"$tmp/log" 2>&1; then
  bad "configure, build or cpack -G DEB failed:"
  tail -40 "$tmp/log"
  exit 1
fi
ok "cpack -G DEB in a build for /usr"

# A build for another prefix has that prefix's paths built in: refused.
cmake -S "$src" -B "$tmp/other" -DCMAKE_INSTALL_PREFIX=/opt/hakmem -DCMAKE_C_COMPILER="$cc" \
  -DHAKMEM_BUILD_TESTS=OFF -DHAKMEM_BUILD_BENCH=OFF >"$tmp/log" 2>&1
if (cd "$tmp/other" && cpack -G DEB) >"$tmp/log" 2>&1; then
  bad "cpack -G DEB in a build for /opt/hakmem made packages"
elif tr -s " \n" "  " <"$tmp/log" | grep -q "configured for /opt/hakmem.*-DCMAKE_INSTALL_PREFIX=/usr"; then
  ok "cpack -G DEB in a build for /opt/hakmem: refused, saying why"
else
  bad "cpack -G DEB in a build for /opt/hakmem failed without saying why: $(tail -5 "$tmp/log")"
fi

deb() { echo "$tmp/build/${1}_${version}_$arch.deb"; }
for p in libhakmem0 libhakmem-dev hakmem-tools; do
  [[ -f $(deb $p) ]] && ok "$(basename "$(deb $p)")" || bad "no $(basename "$(deb $p)") in $(ls "$tmp/build"/*.deb)"
done
[[ $fail -eq 0 ]] || exit 1

# contents PACKAGE PATH...: the package holds each PATH (and only those
# files, counting symbolic links).
contents() {
  local p=$1
  shift
  dpkg-deb -c "$(deb "$p")" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | sort >"$tmp/has"
  printf '%s\n' "$@" | sort >"$tmp/want"
  if diff "$tmp/want" "$tmp/has" >"$tmp/diff"; then
    ok "$p holds exactly its $# files"
  else
    bad "$p: files differ (< expected, > in the package): $(cat "$tmp/diff")"
  fi
}
lib=/usr/lib/$ma
contents libhakmem0 "$lib/libhakmem.so.0" "$lib/libhakmem.so.$version"
contents libhakmem-dev /usr/include/hakmem.h "$lib/libhakmem.a" "$lib/libhakmem.so" "$lib/pkgconfig/hakmem.pc"
profiles=()
for f in "$src"/configs/*.cfg; do profiles+=("/usr/share/hakmem/$(basename "$f")"); done
contents hakmem-tools /usr/bin/hakmem /usr/bin/hak-tune /usr/bin/hakmem-config "${profiles[@]}" \
  /usr/share/man/man1/hakmem.1.gz /usr/share/man/man1/hak-tune.1.gz \
  /usr/share/man/man1/hakmem-config.1.gz /usr/share/man/man3/hakmem.3.gz

# depends PACKAGE REGEX...: its Depends field matches each.
depends() {
  local p=$1 d
  shift
  d=$(dpkg-deb -f "$(deb "$p")" Depends)
  for re in "$@"; do
    grep -qE -- "$re" <<<"$d" && ok "$p depends on $re" || bad "$p: Depends '$d' lacks $re"
  done
}
same="libhakmem0 \(= ${version//./\\.}\)"
depends libhakmem0 'libc6' 'libconfig9'
depends libhakmem-dev "$same" 'libconfig-dev'
depends hakmem-tools "$same" 'libnlopt0' 'libconfig9'
dpkg-deb -I "$(deb libhakmem0)" shlibs 2>/dev/null | grep -qE "^libhakmem 0 libhakmem0 " &&
  ok "libhakmem0 has a shlibs file" || bad "libhakmem0: no shlibs line for libhakmem.so.0"

# ---- the launcher from an unpacked root: libhakmem0 and hakmem-tools ------
root=$tmp/root
dpkg -x "$(deb libhakmem0)" "$root" && dpkg -x "$(deb hakmem-tools)" "$root"
probe='import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.hak_is_ours.argtypes = [ctypes.c_void_p]
print("ours", libc.hak_is_ours(libc.malloc(100)))'
out=$(env -u HAKMEM_PROFILE_PATH -u LD_PRELOAD "$root/usr/bin/hakmem" -p default --stats=json \
  -- python3 -c "$probe" 2>"$tmp/err")
rc=$?
if [[ $rc -eq 0 && $out == "ours 1" ]] && grep -qE '"tiny_alloc":[1-9]' "$tmp/err"; then
  ok "ROOT/usr/bin/hakmem -p default -- python3: served by hakmem (hak_is_ours, tiny_alloc > 0)"
else
  bad "ROOT/usr/bin/hakmem -p default -- python3: exit $rc, '$out', stderr: $(head -c 800 "$tmp/err")"
fi
env -u HAKMEM_PROFILE_PATH "$root/usr/bin/hakmem" -p default -- env >"$tmp/env" 2>&1
grep -qxF "HAKMEM_CONFIG=$root/usr/share/hakmem/default.cfg" "$tmp/env" &&
  grep -qxF "LD_PRELOAD=$root$lib/libhakmem.so.$version" "$tmp/env" &&
  ok "the launcher finds the library and the profiles in ROOT, relative to itself" ||
  bad "the launcher's environment: $(grep -E '^(HAKMEM|LD_)' "$tmp/env")"
env -u HAKMEM_PROFILE_PATH "$root/usr/bin/hakmem" profiles >"$tmp/out" 2>&1
grep -qx "$root/usr/share/hakmem" "$tmp/out" && grep -qE '^  larson-mid ' "$tmp/out" &&
  ok "hakmem profiles lists ROOT/usr/share/hakmem" || bad "hakmem profiles: $(cat "$tmp/out")"
env -u HAKMEM_PROFILE_PATH "$root/usr/bin/hakmem" config --strict larson-mid >"$tmp/out" 2>&1 &&
  ok "hakmem config --strict larson-mid runs ROOT's hakmem-config on ROOT's profile" ||
  bad "hakmem config --strict larson-mid: $(cat "$tmp/out")"
# hak-tune finds ROOT's libhakmem.so.0 (no dev link here); `true` allocates
# nothing, so it stops after one run, naming the library it preloaded.
(cd "$tmp" && "$root/usr/bin/hak-tune" --cmd true --metric wall --calibrate 2 --max-evals 1 \
  -o "$tmp/t.cfg") >"$tmp/out" 2>&1
grep -qF "LD_PRELOAD=$root$lib/libhakmem.so" "$tmp/out" && ok "hak-tune preloads ROOT's library" ||
  bad "hak-tune did not find ROOT's library: $(tail -3 "$tmp/out")"
if command -v man >/dev/null; then
  LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$root/usr/share/man/man3/hakmem.3.gz" 2>&1 | grep -q 'tiny_max' &&
    ok "man -l ROOT/usr/share/man/man3/hakmem.3.gz" || bad "hakmem.3.gz does not render"
else
  echo "skip rendering the installed man page: man is not installed"
fi

# ---- libhakmem-dev: a program built with hakmem.pc is served by hakmem ----
dpkg -x "$(deb libhakmem-dev)" "$root"
cat >"$tmp/prog.c" <<'EOF'
#include <hakmem.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    void *p = malloc(100);
    printf("%s %d\n", hak_version(), hak_is_ours(p));
    free(p);
    return 0;
}
EOF
flags=$(PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root$lib/pkgconfig pkg-config --cflags --libs hakmem)
if "$cc" "$tmp/prog.c" $flags -o "$tmp/prog" 2>"$tmp/err" &&
  [[ $(LD_LIBRARY_PATH=$root$lib "$tmp/prog") == "$version 1" ]]; then
  ok "a program built with libhakmem-dev's hakmem.pc ($flags) runs on hakmem"
else
  bad "building against libhakmem-dev ($flags): $(cat "$tmp/err")"
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
