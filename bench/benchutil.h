/*
 * What several benchmarks need besides the map: the CPU time another
 * process has used, and a number from the command line.
 */
#ifndef GW_BENCHUTIL_H
#define GW_BENCHUTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* User + system CPU seconds of process pid (every thread), from /proc;
 * -1 if unknown. */
double bench_proc_cpu_s(pid_t pid);

/* s as a decimal in [min, max] into *out; false if it is not one. */
bool bench_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

#endif
