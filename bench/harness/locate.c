/* locate.c — where the tools find what they run: libhakmem.so next to the
 * tool in a build tree, or where an install put it, wherever the tree was
 * moved. */
#include "harness.h"
#include "hakmem.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HR_INSTALL_LIBDIR
#define HR_INSTALL_LIBDIR "/usr/local/lib"
#endif
#ifndef HR_REL_LIBDIR
#define HR_REL_LIBDIR "lib"
#endif

void hr_self_dir(char *dir, size_t cap) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(dir, cap, ".");
        return;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(dir, cap, "%s", self);
}

bool hr_find_lib(const char *given, char *abs, size_t cap, char *tried, size_t tried_cap) {
    char dir[PATH_MAX], cand[4][PATH_MAX + 64];
    int n = 0;
    if (given) {
        snprintf(cand[n++], sizeof cand[0], "%s", given);
    } else {
        hr_self_dir(dir, sizeof dir);
        snprintf(cand[n++], sizeof cand[0], "%s/../libhakmem/libhakmem.so", dir);
        snprintf(cand[n++], sizeof cand[0], "%s/../%s/libhakmem.so", dir, HR_REL_LIBDIR);
        /* A Debian install has the bare .so link only with libhakmem-dev. */
        snprintf(cand[n++], sizeof cand[0], "%s/../%s/libhakmem.so.%d", dir, HR_REL_LIBDIR,
                 HAKMEM_VERSION_MAJOR);
        snprintf(cand[n++], sizeof cand[0], "%s/libhakmem.so", HR_INSTALL_LIBDIR);
    }
    size_t len = 0;
    tried[0] = '\0';
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        if (realpath(cand[i], path) && access(path, R_OK) == 0) {
            snprintf(abs, cap, "%s", path);
            return true;
        }
        if (len < tried_cap) {
            int k = snprintf(tried + len, tried_cap - len, "%s%s", i ? ", " : "", cand[i]);
            if (k > 0) len += (size_t)k;
        }
    }
    return false;
}
