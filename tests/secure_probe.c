/* secure_probe.c — the program tests/secure.sh makes setuid root: hakmem
 * linked in statically (hakmem_systest, whose system profile sits in the
 * build tree), one malloc and free through it, then what the process is
 * and what it made of its settings, one `name=value source` line a knob.
 * The script decides from that and from what reached stderr and the disk. */
#include "hakmem.h"
#include "knobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(void) {
    void *p = malloc(100);
    int ours = p != NULL && hak_is_ours(p);
    free(p);
    printf("secure=%lu ours=%d uid=%d euid=%d\n", getauxval(AT_SECURE), ours, (int)getuid(),
           (int)geteuid());
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        char v[64];
        hak_knob_format((hak_knob_id_t)k, hak_knob_value[k], v, sizeof v);
        printf("%s=%s %s\n", hak_knob_table[k].name, v, hak_knob_source_name[hak_knob_src[k]]);
    }
    return 0;
}
