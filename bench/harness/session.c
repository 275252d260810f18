/* session.c — where and when a report was made: date, host, CPUs and the
 * load at the start. A figure from a loaded or another machine is not
 * comparable, so every report is headed by these. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

void hr_session_read(hr_session_t *s) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(s->date, sizeof s->date, "%Y-%m-%d %H:%M:%S %Z", &tm);
    if (gethostname(s->host, sizeof s->host - 1) != 0) snprintf(s->host, sizeof s->host, "?");
    s->host[sizeof s->host - 1] = '\0';
    int n = getloadavg(s->load, 3);
    for (int i = n < 0 ? 0 : n; i < 3; i++) s->load[i] = NAN;
    s->cpus = sysconf(_SC_NPROCESSORS_ONLN);
}
