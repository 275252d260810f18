# bench/peers.sh — the peer allocators of bench's shell drivers (programs,
# redis, fastpath, and dbserver.sh for postgres and mariadb), sourced by
# them. The same libraries as compare's table, bench/harness/peers.c, for
# scripts that run without it.
# shellcheck shell=bash

peer_libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
# shellcheck disable=SC2034 # read by the scripts that source this one
peer_names=(mimalloc jemalloc tcmalloc)

# peer_so NAME: where NAME's library is, installed or not.
peer_so() {
    case $1 in
    mimalloc) echo "$peer_libdir/libmimalloc.so.2" ;;
    jemalloc) echo "$peer_libdir/libjemalloc.so.2" ;;
    tcmalloc) echo "$peer_libdir/libtcmalloc_minimal.so.4" ;;
    *) return 1 ;;
    esac
}

# peer_entry WHO NAME: "NAME:library:the file it resolves to" (a server
# driver's allocator entry) if NAME is installed; otherwise WHO says it is
# left out, and the status is 1.
peer_entry() {
    local so
    so=$(peer_so "$2") || return 1
    if [ -e "$so" ]; then
        echo "$2:$so:$(readlink -f "$so")"
    else
        echo "$1: $2 not installed (tests/deps.sh bench); left out" >&2
        return 1
    fi
}
