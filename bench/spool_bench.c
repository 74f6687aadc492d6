/*
 * spool_bench: what the durable spool costs.
 *
 *   spool_bench [--dir DIR] [--records N] [--size BYTES] [--durable-seconds S]
 *
 * 1. Append N records of BYTES bytes with group commit (fsync within
 *    200 ms, the default): records/s, MB/s, CPU per record, and the time of
 *    the final spool_sync.
 * 2. Append with an fdatasync per record (fsync_interval_ms = 0) for S
 *    seconds: records/s, MB/s.  This is the disk's sync latency.
 * 3. Reopen the spool of step 1 (the recovery scan checks every record)
 *    and replay it: read batches of up to 5,000 records / 1 MiB and commit
 *    each, as a sink does: records/s, MB/s.  The segments are in the page
 *    cache (just written), so this is the spool's own cost, not the disk's.
 *
 * The spool lives in DIR (default: a new directory in $TMPDIR or /var/tmp;
 * choose one on the disk the daemon will use, not a tmpfs) and is removed
 * at the end.  MB are 10^6 bytes of payload.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void report(const char *what, uint64_t n, size_t size, double wall, double cpu)
{
    printf("%-34s %10" PRIu64 " records in %7.3f s: %10.0f records/s, %8.1f MB/s, "
           "%6.2f us CPU/record\n", what, n, wall, (double)n / wall,
           (double)n * (double)size / wall / 1e6, cpu * 1e6 / (double)n);
}

/* Removes the spool's files and the directory (it holds nothing else). */
static void remove_spool(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX];
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < sizeof path)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static struct gw_spool *open_or_die(const char *dir, int fsync_ms, uint64_t max_bytes)
{
    struct gw_spool_options o = spool_default_options;
    o.fsync_interval_ms = fsync_ms;
    o.max_bytes = max_bytes;
    struct gw_spool *s;
    int rc = spool_open(dir, &o, &s);
    if (rc) {
        fprintf(stderr, "spool_bench: cannot open a spool in %s: %s\n", dir, strerror(-rc));
        exit(1);
    }
    return s;
}

static void fill(unsigned char *buf, size_t size, uint64_t i)
{
    memcpy(buf, &i, size < 8 ? size : 8);
}

static void usage(void)
{
    fprintf(stderr, "usage: spool_bench [--dir DIR] [--records N] [--size BYTES] "
                    "[--durable-seconds S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "records", required_argument, NULL, 'n' },
        { "size", required_argument, NULL, 's' },
        { "durable-seconds", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    const char *parent = NULL;
    uint64_t n = 1000000;
    size_t size = 200;
    double durable_s = 3.0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': parent = optarg; break;
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 's': size = strtoul(optarg, NULL, 10); break;
        case 't': durable_s = strtod(optarg, NULL); break;
        default: usage();
        }
    }
    if (optind != argc || n == 0 || size == 0 || size > GW_SPOOL_MAX_RECORD || durable_s <= 0)
        usage();
    if (!parent)
        parent = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    char dir[PATH_MAX], durable_dir[PATH_MAX + 16];
    if ((size_t)snprintf(dir, sizeof dir, "%s/spool-bench-XXXXXX", parent) >= sizeof dir ||
        !mkdtemp(dir)) {
        fprintf(stderr, "spool_bench: cannot create a directory in %s: %s\n", parent,
                strerror(errno));
        return 1;
    }
    snprintf(durable_dir, sizeof durable_dir, "%s/durable", dir);
    char group_dir[PATH_MAX + 16];
    snprintf(group_dir, sizeof group_dir, "%s/group", dir);
    log_set_level(GW_LOG_WARNING);
    unsigned char *buf = calloc(1, size);
    if (!buf)
        return 1;
    uint64_t budget = n * (size + 8) * 2 + (64u << 20);
    printf("spool_bench: records of %zu bytes in %s\n", size, dir);

    /* 1. group commit */
    struct gw_spool *s = open_or_die(group_dir, 200, budget);
    double t0 = now_s(), c0 = cpu_s();
    for (uint64_t i = 0; i < n; i++) {
        fill(buf, size, i);
        if (spool_append(s, buf, size) != 0)
            return 1;
    }
    double t1 = now_s(), c1 = cpu_s();
    report("append, fsync within 200 ms", n, size, t1 - t0, c1 - c0);
    if (spool_sync(s) != 0)
        return 1;
    printf("%-34s %7.3f s\n", "  then spool_sync", now_s() - t1);
    spool_close(s);

    /* 2. an fdatasync per record */
    s = open_or_die(durable_dir, 0, budget);
    uint64_t m = 0;
    t0 = now_s();
    c0 = cpu_s();
    do {
        for (int k = 0; k < 16; k++, m++) {
            fill(buf, size, m);
            if (spool_append(s, buf, size) != 0)
                return 1;
        }
    } while (now_s() - t0 < durable_s);
    report("append, fsync every record", m, size, now_s() - t0, cpu_s() - c0);
    spool_close(s);
    remove_spool(durable_dir);

    /* 3. recovery scan and replay */
    t0 = now_s();
    s = open_or_die(group_dir, 200, budget);
    printf("%-34s %7.3f s (%.0f MB/s)\n", "open: recovery scan", now_s() - t0,
           (double)n * (double)(size + 8) / (now_s() - t0) / 1e6);
    uint64_t got = 0, expect = 0;
    int bad = 0;
    t0 = now_s();
    c0 = cpu_s();
    for (;;) {
        struct gw_spool_batch b;
        int rc = spool_read(s, 5000, 1 << 20, 0, &b);
        if (rc < 0)
            return 1;
        if (rc == 0)
            break;
        for (size_t i = 0; i < b.n; i++) {
            uint64_t id = 0;
            memcpy(&id, b.records[i].data, size < 8 ? size : 8);
            bad += b.records[i].len != size || (size >= 8 && id != expect);
            expect++;
        }
        got += b.n;
        spool_commit(s, &b);
        spool_batch_free(&b);
    }
    report("replay: read + commit", got, size, now_s() - t0, cpu_s() - c0);
    spool_close(s);
    remove_spool(group_dir);
    remove_spool(dir);
    free(buf);
    if (got != n || bad) {
        fprintf(stderr, "spool_bench: replayed %" PRIu64 " of %" PRIu64 " records, %d wrong\n",
                got, n, bad);
        return 1;
    }
    return 0;
}
