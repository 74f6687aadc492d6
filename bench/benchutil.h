/*
 * What several benchmarks need besides the map: the CPU time another
 * process has used, a number from the command line, and a child's output
 * line by line up to a deadline.
 */
#ifndef GW_BENCHUTIL_H
#define GW_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* User + system CPU seconds of process pid (every thread), from /proc;
 * -1 if unknown. */
double bench_proc_cpu_s(pid_t pid);

/* s as a decimal in [min, max] into *out; false if it is not one. */
bool bench_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* Milliseconds from now to wall-clock ms `until`; 0 once it has passed. */
int64_t bench_ms_until(int64_t until);

/* Read fd into buf (cap bytes, *have of them kept between calls) until
 * wall-clock ms `until`, or with until 0 to the end of the output, and
 * hand each whole line, NUL-terminated, to line(text, arg).  A line longer
 * than buf is dropped. */
void bench_read_lines(int fd, char *buf, size_t cap, size_t *have, int64_t until,
                      void (*line)(char *text, void *arg), void *arg);

#endif
