/* xml.c — text inside the SVG charts compare and hak-tune draw: host
 * names, commands and titles are not ours to trust, and one stray '<' or
 * '&' makes the whole chart unreadable. */
#include "harness.h"

void hr_xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}
