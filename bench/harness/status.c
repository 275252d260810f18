/* status.c — the names of the statuses a run ends in, and of the signals
 * that end one, as every tool prints and the tuner's log stores them. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[HR_STATUS_COUNT] = {
#define HR_STATUS_NAME(id, name) name,
    HR_STATUSES(HR_STATUS_NAME)
#undef HR_STATUS_NAME
};

const char *hr_status_name(hr_status_t st) {
    return st < HR_STATUS_COUNT ? status_names[st] : "?";
}

bool hr_status_parse(const char *name, hr_status_t *out) {
    for (int i = 0; i < HR_STATUS_COUNT; i++)
        if (strcmp(status_names[i], name) == 0) {
            *out = (hr_status_t)i;
            return true;
        }
    return false;
}

void hr_signal_name(int sig, char *buf, size_t cap) {
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, cap, "SIG%s", abbrev);
    else
        snprintf(buf, cap, "signal %d", sig);
}

void hr_status_short(hr_status_t st, int sig, int exit_code, char *buf, size_t cap) {
    char s[32];
    if (st == HR_CRASH) {
        hr_signal_name(sig, s, sizeof s);
        snprintf(buf, cap, "crash(%s)", s);
    } else if (st == HR_EXIT) {
        snprintf(buf, cap, "exit(%d)", exit_code);
    } else {
        snprintf(buf, cap, "%s", hr_status_name(st));
    }
}
