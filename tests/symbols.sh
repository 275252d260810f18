#!/usr/bin/env bash
# symbols.sh — the library's surface and its no-recursion rule, read from the
# built binary. Exports: exactly the allocator entry points and hak_*, nothing
# else. References: no call into the allocator's own exported entry points
# (a re-entry: a pool calling the wrapped posix_memalign), nor into
# stdio, dlsym, getenv or anything else that may allocate; the C library's
# __libc_malloc family is what hakmem is meant to call.
#
# A call to another shared object, or to an exported (interposable) symbol of
# the library itself, always needs a dynamic relocation naming the symbol
# (JUMP_SLOT through the PLT, GLOB_DAT with -fno-plt), so the relocations are
# the complete list; the disassembly only shows where the calls are.
#
# Usage: symbols.sh LIB.so
#        symbols.sh --expect-violation NAME LIB.so   passes only if the check
#        flags a reference to NAME (proves the check sees a re-entry)
set -u

expect=""
if [ "${1:-}" = --expect-violation ]; then
    expect=$2
    shift 2
fi
if [ $# -ne 1 ]; then
    echo "usage: $0 [--expect-violation NAME] LIB.so" >&2
    exit 2
fi
lib=$1
if [ ! -f "$lib" ]; then
    echo "FAIL: $lib not found"
    exit 1
fi
for tool in nm readelf objdump; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "SKIP: $tool not installed; install it with: apt-get install -y binutils"
        exit 77
    fi
done

entry=(malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc
    pvalloc malloc_usable_size malloc_trim)
api=(hak_version hak_is_ours hak_stats_print hak_stats_json hak_stat)
# Stream stdio allocates its buffers; the rest allocate or may.
forbidden_more=(printf fprintf vprintf vfprintf dprintf vdprintf puts fputs fputc putc putchar
    fwrite fread fopen fopen64 fdopen freopen fclose fflush fgets fscanf perror setvbuf
    open_memstream __printf_chk __fprintf_chk __vprintf_chk __vfprintf_chk __dprintf_chk
    __vdprintf_chk dlsym dlvsym dlopen getenv secure_getenv strdup strndup asprintf vasprintf
    __asprintf_chk __vasprintf_chk pthread_getattr_np)

fail=0
in_list() {
    local x=$1
    shift
    local y
    for y in "$@"; do [ "$x" = "$y" ] && return 0; done
    return 1
}

# ---- exports --------------------------------------------------------------
# Version nodes (type A) and the linker's own symbols are not the library's
# choice; _init/_fini neither.
declare -A exported=()
while read -r name type _; do
    name=${name%%@*}
    [ "$type" = A ] && continue
    case "$name" in _init | _fini | __bss_start | _edata | _end) continue ;; esac
    exported[$name]=$type
done < <(nm -D --defined-only --format=posix "$lib")

for name in "${entry[@]}" "${api[@]}"; do
    if [ -z "${exported[$name]:-}" ]; then
        echo "FAIL: $name is not exported"
        fail=1
    elif [[ ! ${exported[$name]} =~ ^[TtWi]$ ]]; then
        echo "FAIL: $name is exported as type ${exported[$name]}, not as a function"
        fail=1
    fi
done
for name in "${!exported[@]}"; do
    if ! in_list "$name" "${entry[@]}" && [[ $name != hak_* ]]; then
        echo "FAIL: unexpected export $name (type ${exported[$name]}): only the allocator" \
            "entry points and hak_* may be exported"
        fail=1
    fi
done
[ $fail = 0 ] && echo "ok   exports: ${#exported[@]} symbols, all allocator entry points or hak_*"

# ---- references -----------------------------------------------------------
disasm=$(objdump -d --no-show-raw-insn "$lib")

# Prints the functions whose instructions reach NAME through the PLT stub or
# through its GOT slot at OFFSET.
call_sites() {
    local name=$1 offset=$2
    awk -v name="$name" -v got="# ${offset} " '
        /^[0-9a-f]+ <.*>:$/ { fn = $2; sub(/:$/, "", fn); next }
        fn ~ /@plt>$/ { next }
        index($0, "<" name "@plt>") || index($0, got) {
            sub(/^[ \t]+/, ""); print "        in " fn ": " $0
        }' <<<"$disasm" | head -n 5
}

found=()
while read -r offset _ rtype _ sym _; do
    name=${sym%%@*}
    if in_list "$name" "${entry[@]}" "${forbidden_more[@]}"; then
        offset=$(printf '%x' "$((16#$offset))")
        echo "FAIL: the library references $name ($rtype): a call from inside the allocator"
        call_sites "$name" "$offset"
        found+=("$name")
        fail=1
    fi
done < <(readelf -rW "$lib" | awk 'NF >= 5 && $1 ~ /^[0-9a-f]+$/')

# The plain reading of the rule, for objects linked without the relocation
# list above being complete (it always is for a shared library today).
pattern=$(printf '%s|' "${entry[@]}" "${forbidden_more[@]}")
plt_calls=$(grep -E "(call|jmp) +[0-9a-f]+ <(${pattern%|})@plt>" <<<"$disasm" | head -n 5)
if [ -n "$plt_calls" ]; then
    echo "FAIL: calls through the PLT to forbidden functions:"
    mapfile -t lines <<<"$plt_calls"
    printf '        %s\n' "${lines[@]}"
    fail=1
fi
[ ${#found[@]} = 0 ] && [ -z "$plt_calls" ] &&
    echo "ok   references: no call to the entry points, stdio, dlsym, getenv or strdup"

if [ -n "$expect" ]; then
    if in_list "$expect" "${found[@]}"; then
        echo "ok   the check flags the expected reference to $expect"
        exit 0
    fi
    echo "FAIL: expected the check to flag a reference to $expect; it did not"
    exit 1
fi
exit $fail
