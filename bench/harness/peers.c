/* peers.c — the allocators hakmem is set against: one table, which compare
 * runs side by side and hak-tune --front marks on its trade-off plot. */
#include "harness.h"

/* Where Debian puts them; -DHR_PEER_LIB_DIR=... for other layouts. */
#ifndef HR_PEER_LIB_DIR
#define HR_PEER_LIB_DIR "/usr/lib/x86_64-linux-gnu/"
#endif

const hr_peer_t hr_peers[HR_NPEERS] = {
    {"mimalloc", HR_PEER_LIB_DIR "libmimalloc.so.2", "libmimalloc2.0", "#1f77b4"},
    {"jemalloc", HR_PEER_LIB_DIR "libjemalloc.so.2", "libjemalloc2", "#2ca02c"},
    {"tcmalloc", HR_PEER_LIB_DIR "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4", "#ff7f0e"},
};
