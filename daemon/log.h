/*
 * Logging to stderr with levels.  Under systemd (JOURNAL_STREAM set) each
 * line carries a <N> priority prefix so the journal keeps the level.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <greenwatch/plugin.h>

void log_set_level(enum gw_log_level level);
enum gw_log_level log_get_level(void);
/* Returns 0 and sets *level, or -EINVAL for an unknown name. */
int log_level_parse(const char *name, enum gw_log_level *level);

void gw_log(enum gw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) gw_log(GW_LOG_ERROR, __VA_ARGS__)
#define log_warning(...) gw_log(GW_LOG_WARNING, __VA_ARGS__)
#define log_info(...) gw_log(GW_LOG_INFO, __VA_ARGS__)
#define log_debug(...) gw_log(GW_LOG_DEBUG, __VA_ARGS__)

#endif
