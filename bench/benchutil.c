#include "benchutil.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scheduler.h"

double bench_proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');   /* the command may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

bool bench_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max || s[0] == '-')
        return false;
    *out = (unsigned)v;
    return true;
}

int64_t bench_ms_until(int64_t until)
{
    int64_t d = until - clock_wall_ms();
    return d > 0 ? d : 0;
}

void bench_read_lines(int fd, char *buf, size_t cap, size_t *have, int64_t until,
                      void (*line)(char *text, void *arg), void *arg)
{
    for (;;) {
        int64_t left = until ? bench_ms_until(until) : 1000;
        if (until && left <= 0)
            return;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, left > 20 ? 20 : (int)left) <= 0)
            continue;
        ssize_t n = read(fd, buf + *have, cap - 1 - *have);
        if (n <= 0)
            return;
        *have += (size_t)n;
        buf[*have] = '\0';
        char *start = buf;
        for (char *nl; (nl = strchr(start, '\n')); start = nl + 1) {
            *nl = '\0';
            line(start, arg);
        }
        *have = (size_t)(buf + *have - start);
        memmove(buf, start, *have);
        if (*have == cap - 1)
            *have = 0;   /* a line longer than any sample: drop it */
    }
}
