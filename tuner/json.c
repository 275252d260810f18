/* json.c — just enough JSON to read back what the tuner and hakmem write:
 * the run log (one object a line) and hakmem's stats files (one flat
 * object). Strict about syntax, so a truncated line (the tuner killed while
 * writing) is recognised and skipped rather than half-read. */
#include "tune.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    char *err;
    size_t errcap;
    int depth;
} parser_t;

static void fail(parser_t *p, const char *what) {
    if (p->err && p->err[0] == '\0') snprintf(p->err, p->errcap, "%s", what);
}

static void skip_ws(parser_t *p) {
    while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r') p->s++;
}

static ht_json_t *node(ht_jtype_t type) {
    ht_json_t *j = calloc(1, sizeof *j);
    if (j) j->type = type;
    return j;
}

static char *parse_string(parser_t *p) {
    if (*p->s != '"') {
        fail(p, "expected a string");
        return NULL;
    }
    p->s++;
    size_t cap = 32, n = 0;
    char *out = malloc(cap);
    while (out && *p->s != '"') {
        char c = *p->s;
        if (c == '\0') {
            fail(p, "unterminated string");
            free(out);
            return NULL;
        }
        if (c == '\\') {
            p->s++;
            switch (*p->s) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                /* The writers only escape control characters this way. */
                unsigned v = 0;
                for (int i = 1; i <= 4; i++) {
                    if (!isxdigit((unsigned char)p->s[i])) {
                        fail(p, "bad \\u escape");
                        free(out);
                        return NULL;
                    }
                    char h[2] = {p->s[i], 0};
                    v = v * 16 + (unsigned)strtoul(h, NULL, 16);
                }
                p->s += 4;
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            case '\0':
                fail(p, "unterminated string");
                free(out);
                return NULL;
            default:
                c = *p->s; /* \" \\ \/ */
                break;
            }
        }
        if (n + 2 > cap) {
            cap *= 2;
            char *g = realloc(out, cap);
            if (!g) {
                free(out);
                return NULL;
            }
            out = g;
        }
        out[n++] = c;
        p->s++;
    }
    if (!out) return NULL;
    out[n] = '\0';
    p->s++;
    return out;
}

static ht_json_t *parse_value(parser_t *p);

static ht_json_t *parse_container(parser_t *p, bool object) {
    ht_json_t *j = node(object ? HT_J_OBJ : HT_J_ARR), **tail = j ? &j->child : NULL;
    if (!j) return NULL;
    p->s++;
    skip_ws(p);
    if (*p->s == (object ? '}' : ']')) {
        p->s++;
        return j;
    }
    for (;;) {
        skip_ws(p);
        char *key = NULL;
        if (object) {
            key = parse_string(p);
            if (!key) break;
            skip_ws(p);
            if (*p->s != ':') {
                fail(p, "expected ':'");
                free(key);
                break;
            }
            p->s++;
        }
        ht_json_t *v = parse_value(p);
        if (!v) {
            free(key);
            break;
        }
        v->key = key;
        *tail = v;
        tail = &v->next;
        skip_ws(p);
        if (*p->s == ',') {
            p->s++;
            continue;
        }
        if (*p->s == (object ? '}' : ']')) {
            p->s++;
            return j;
        }
        fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    ht_json_free(j);
    return NULL;
}

static ht_json_t *parse_value(parser_t *p) {
    skip_ws(p);
    if (++p->depth > 16) {
        fail(p, "nested too deeply");
        return NULL;
    }
    ht_json_t *j = NULL;
    char c = *p->s;
    if (c == '{' || c == '[') {
        j = parse_container(p, c == '{');
    } else if (c == '"') {
        char *s = parse_string(p);
        if (s && (j = node(HT_J_STR)) != NULL)
            j->str = s;
        else
            free(s);
    } else if (strncmp(p->s, "true", 4) == 0 || strncmp(p->s, "false", 5) == 0) {
        j = node(HT_J_BOOL);
        if (j) j->b = c == 't';
        p->s += c == 't' ? 4 : 5;
    } else if (strncmp(p->s, "null", 4) == 0) {
        j = node(HT_J_NULL);
        p->s += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        char *end;
        double v = strtod(p->s, &end);
        if (end == p->s) {
            fail(p, "bad number");
        } else if ((j = node(HT_J_NUM)) != NULL) {
            j->num = v;
            p->s = end;
        }
    } else {
        fail(p, c ? "unexpected character" : "unexpected end of text");
    }
    p->depth--;
    return j;
}

ht_json_t *ht_json_parse(const char *text, char *err, size_t errcap) {
    if (err && errcap) err[0] = '\0';
    parser_t p = {text, err, errcap, 0};
    ht_json_t *j = parse_value(&p);
    if (j) {
        skip_ws(&p);
        if (*p.s != '\0') {
            fail(&p, "text after the value");
            ht_json_free(j);
            return NULL;
        }
    } else {
        fail(&p, "not JSON");
    }
    return j;
}

void ht_json_free(ht_json_t *j) {
    while (j) {
        ht_json_t *next = j->next;
        ht_json_free(j->child);
        free(j->str);
        free(j->key);
        free(j);
        j = next;
    }
}

const ht_json_t *ht_json_get(const ht_json_t *obj, const char *key) {
    if (!obj || obj->type != HT_J_OBJ) return NULL;
    for (const ht_json_t *c = obj->child; c; c = c->next)
        if (c->key && strcmp(c->key, key) == 0) return c;
    return NULL;
}

double ht_json_num(const ht_json_t *obj, const char *key, double def) {
    const ht_json_t *v = ht_json_get(obj, key);
    return v && v->type == HT_J_NUM ? v->num : def;
}

const char *ht_json_str(const ht_json_t *obj, const char *key) {
    const ht_json_t *v = ht_json_get(obj, key);
    return v && v->type == HT_J_STR ? v->str : NULL;
}

void ht_json_put_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}
