/* median.c — the figures every report is made of: a median and the
 * extremes of the runs behind it. One run proves nothing on a shared
 * machine, so no tool reports a mean or a single run. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double hr_median(double *v, int n) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double hr_median_range(double *v, int n, double *lo, double *hi) {
    double med = hr_median(v, n);
    *lo = n > 0 ? v[0] : NAN;
    *hi = n > 0 ? v[n - 1] : NAN;
    return med;
}
