#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* On allocation failure the message is lost but the count still rises, so a
 * configuration is never taken for valid because memory ran out. */
static char oom_line[] = "(out of memory while reporting a configuration error)";

void diag_add(struct gw_diag *diag, const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    if (diag->n == diag->cap) {
        size_t cap = diag->cap ? diag->cap * 2 : 8;
        char **lines = realloc(diag->lines, cap * sizeof *lines);
        if (!lines) {
            diag->n++;
            return;
        }
        diag->lines = lines;
        diag->cap = cap;
    }
    char *text = NULL;
    int rc = line > 0 ? asprintf(&text, "%s:%d: %s", file ? file : "-", line, msg)
                      : asprintf(&text, "%s: %s", file ? file : "-", msg);
    diag->lines[diag->n++] = rc < 0 ? oom_line : text;
}

void diag_print(const struct gw_diag *diag, FILE *out)
{
    for (size_t i = 0; i < diag->n && i < diag->cap; i++)
        fprintf(out, "%s\n", diag->lines[i]);
}

void diag_free(struct gw_diag *diag)
{
    for (size_t i = 0; i < diag->n && i < diag->cap; i++)
        if (diag->lines[i] != oom_line)
            free(diag->lines[i]);
    free(diag->lines);
    diag->lines = NULL;
    diag->n = diag->cap = 0;
}
