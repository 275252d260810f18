/* doublefree.c — frees one block twice, optionally with other allocations
 * of its size in between; under hakmem the second free must end the program
 * with "hakmem: double free of 0x..." (tests/invalid_free.sh checks it).
 *   doublefree SIZE [churn] */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: doublefree SIZE [churn]\n");
        return 2;
    }
    size_t n = (size_t)atol(argv[1]);
    char *volatile p = malloc(n);
    p[0] = 1;
    free(p);
    if (argc > 2)
        for (int i = 0; i < 200; i++) free(malloc(n));
    free(p);
    puts("second free not caught");
    return 0;
}
