#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int current_level = GW_LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
/* syslog priorities: err, warning, info, debug */
static const int journal_priority[] = { 3, 4, 6, 7 };

void log_set_level(enum gw_log_level level)
{
    current_level = level;
}

enum gw_log_level log_get_level(void)
{
    return current_level;
}

int log_level_parse(const char *name, enum gw_log_level *level)
{
    for (size_t i = 0; i < sizeof level_names / sizeof *level_names; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (enum gw_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void gw_log(enum gw_log_level level, const char *fmt, ...)
{
    if ((int)level > current_level)
        return;
    /* One write per line, so lines from bus threads never interleave. */
    char line[1024];
    int n = getenv("JOURNAL_STREAM")
                ? snprintf(line, sizeof line, "<%d>", journal_priority[level])
                : snprintf(line, sizeof line, "%s: ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
