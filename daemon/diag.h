/*
 * Diagnostics: configuration problems collected as "FILE:LINE: message",
 * so that one --check reports all of them at once.
 */
#ifndef GW_DIAG_H
#define GW_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct gw_diag {
    char **lines;
    size_t n, cap;
};

/* Record one problem.  line <= 0 leaves the line number out. */
void diag_add(struct gw_diag *diag, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_print(const struct gw_diag *diag, FILE *out);
void diag_free(struct gw_diag *diag);

#endif
