/* msg.c — messages to stderr without stdio or malloc.
 *
 * The allocator cannot use printf: stdio may allocate and takes locks that a
 * thread inside malloc may already hold. Messages are formatted into a stack
 * buffer by a small formatter and written with one write(2), so concurrent
 * messages do not interleave. A message is one line, whatever it quotes:
 * control characters in it (a newline in a profile's string value, a
 * terminal escape in a file name) are written as escapes. */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    char *buf;
    size_t cap, len; /* len counts what would have been written */
    bool escape;     /* control characters as \n, \t, \r, \xNN */
} out_t;

static void put_raw(out_t *o, char c) {
    if (o->len + 1 < o->cap) o->buf[o->len] = c;
    o->len++;
}

static void put_char(out_t *o, char c) {
    unsigned char u = (unsigned char)c;
    if (!o->escape || (u >= 0x20 && u != 0x7f)) {
        put_raw(o, c);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    put_raw(o, '\\');
    switch (c) {
    case '\n':
        put_raw(o, 'n');
        break;
    case '\t':
        put_raw(o, 't');
        break;
    case '\r':
        put_raw(o, 'r');
        break;
    default:
        put_raw(o, 'x');
        put_raw(o, hex[u >> 4]);
        put_raw(o, hex[u & 15]);
    }
}

static void put_str(out_t *o, const char *s) {
    if (s == NULL) s = "(null)";
    while (*s) put_char(o, *s++);
}

static void put_uint(out_t *o, unsigned long long v, unsigned base) {
    char tmp[24];
    int i = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v != 0);
    while (i > 0) put_char(o, tmp[--i]);
}

/* printf's conversions that messages need: %s %c %d %i %u %x %p %%, with the
 * length modifiers l, ll and z on the integer ones. No widths, no
 * precision, no floating point: nothing here may call into the C library's
 * formatter, which may allocate and lock. */
static void vfmt(out_t *o, const char *fmt, va_list ap) {
    for (const char *f = fmt; *f; f++) {
        if (*f != '%' || f[1] == '\0') {
            put_char(o, *f);
            continue;
        }
        const char *start = f++;
        int longs = 0; /* 1: l, 2: ll, 3: z */
        if (*f == 'z') {
            longs = 3;
            f++;
        } else {
            while (*f == 'l' && longs < 2) {
                longs++;
                f++;
            }
        }
        switch (*f) {
        case 's':
            put_str(o, va_arg(ap, const char *));
            break;
        case 'c':
            put_char(o, (char)va_arg(ap, int));
            break;
        case 'd':
        case 'i': {
            long long v = longs == 0   ? va_arg(ap, int)
                          : longs == 1 ? va_arg(ap, long)
                          : longs == 2 ? va_arg(ap, long long)
                                       : (long long)va_arg(ap, ptrdiff_t);
            if (v < 0) {
                put_char(o, '-');
                put_uint(o, 0ULL - (unsigned long long)v, 10);
            } else {
                put_uint(o, (unsigned long long)v, 10);
            }
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = longs == 0   ? va_arg(ap, unsigned)
                                   : longs == 1 ? va_arg(ap, unsigned long)
                                   : longs == 2 ? va_arg(ap, unsigned long long)
                                                : va_arg(ap, size_t);
            put_uint(o, v, *f == 'x' ? 16 : 10);
            break;
        }
        case 'p':
            put_str(o, "0x");
            put_uint(o, (uintptr_t)va_arg(ap, void *), 16);
            break;
        case '%':
            put_char(o, '%');
            break;
        default: /* not a conversion we know: show it as written */
            for (const char *c = start; c <= f && *c; c++) put_char(o, *c);
            if (*f == '\0') return;
        }
    }
}

/* strerror may translate, and translating may allocate: name the errors a
 * path can meet ourselves. */
const char *hak_errno_text(int e) {
    switch (e) {
    case ENOENT:
        return "no such file";
    case EACCES:
        return "permission denied";
    case EISDIR:
        return "is a directory";
    case ENOTDIR:
        return "a path component is not a directory";
    case ELOOP:
        return "too many symbolic links";
    case ENAMETOOLONG:
        return "name too long";
    case EROFS:
        return "read-only file system";
    case ENOSPC:
        return "no space left on device";
    case ENOMEM:
        return "out of memory";
    case EIO:
        return "input/output error";
    default:
        return "cannot be opened";
    }
}

static size_t vfmt_buf(char *buf, size_t cap, bool escape, const char *fmt, va_list ap) {
    out_t o = {buf, cap, 0, escape};
    vfmt(&o, fmt, ap);
    if (cap > 0) buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}

size_t hak_fmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = vfmt_buf(buf, cap, false, fmt, ap);
    va_end(ap);
    return n;
}

size_t hak_fmt_esc(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = vfmt_buf(buf, cap, true, fmt, ap);
    va_end(ap);
    return n;
}

void hak_write_all(int fd, const char *buf, size_t n) {
    int saved = errno;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    errno = saved;
}

static void vmsg(const char *fmt, va_list ap) {
    char buf[512];
    out_t o = {buf, sizeof buf - 1, 0, true};
    put_str(&o, "hakmem: ");
    vfmt(&o, fmt, ap);
    size_t n = o.len < o.cap ? o.len : o.cap - 1;
    buf[n++] = '\n';
    hak_write_all(STDERR_FILENO, buf, n);
}

void hak_msg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
}

void hak_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    abort();
}

void hak_assert_fail(const char *cond, const char *file, int line, const char *func) {
    hak_fatal("internal error: assertion `%s' failed in %s() at %s:%d; this is a bug in hakmem",
              cond, func, file, line);
}
