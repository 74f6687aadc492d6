/*
 * sink_bench: the InfluxDB sink's throughput into a local influxd.
 *
 *   sink_bench [--samples N] [--devices D] [--fields F]
 *
 * Starts influxd on loopback (tests/support/tsdb.h), then for gzip on and
 * off: encodes N samples of F good points from D devices (5 tags each)
 * into the sink's spool (the main thread's cost), then starts delivery
 * and times it until the spool is empty (the delivery thread's cost).
 * Prints one markdown row per run: lines (InfluxDB points) per second and
 * CPU seconds per 100k lines, for greenwatch and for influxd.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "config.h"
#include "harness.h"
#include "log.h"
#include "sample.h"
#include "sink.h"
#include "spool.h"
#include "tsdb.h"

#define BASE_TS 1795000000000LL

struct run {
    double encode_s, encode_cpu_s;
    double deliver_s, deliver_cpu_s, influxd_cpu_s;
    uint64_t requests_failed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of this process, all threads. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of another process (utime + stime from /proc), or -1. */
static double proc_cpu_s(pid_t pid)
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

static struct gw_tag tags[] = {
    { "building", "T1" }, { "category", "01A00" }, { "energy", "electricity" },
    { "floor", "B1" }, { "panel", "LV-3" },
};

static const char *field_name(int f)
{
    static char names[64][16];
    if (!names[f][0])
        snprintf(names[f], sizeof names[f], "p%02d", f);
    return names[f];
}

static int encode(void *sink, const struct gw_device_cfg *devs, int n_devices, long samples, int fields)
{
    struct gw_sample s;
    for (long i = 0; i < samples; i++) {
        const struct gw_device_cfg *d = &devs[i % n_devices];
        if (sample_init(&s, d->id, (size_t)fields) != 0)
            return -ENOMEM;
        s.ts_ms = BASE_TS + (i / n_devices) * 1000;
        for (int f = 0; f < fields; f++)
            sample_add(&s, field_name(f), "kW", 230.0 + (double)((i * 7 + f * 13) % 1000) / 8.0, GW_QUALITY_GOOD);
        int rc = sink_influx_ops.submit_sample(sink, &s, d);
        sample_free(&s);
        if (rc)
            return rc;
    }
    return 0;
}

static int bench_one(const struct tsdb *db, bool gzip, const struct gw_device_cfg *devs, int n_devices,
                     long samples, int fields, struct run *out)
{
    char dir[512], q[128];
    struct gw_spool *spool = NULL;
    void *sink = NULL;
    cJSON *answer = NULL;
    const char *database = gzip ? "bench_gzip" : "bench_plain";
    struct gw_config cfg = { 0 };
    cfg.site.id = (char *)"bench-site";
    cfg.influx = (struct gw_influx_cfg){ .present = true, .url = (char *)db->url, .api = (char *)"v1",
                                         .database = (char *)database, .batch_lines = 5000,
                                         .flush_ms = 1000, .timeout_ms = 30000, .gzip = gzip,
                                         .verify_tls = true };
    snprintf(q, sizeof q, "CREATE DATABASE %s", database);
    int rc = influx_query(db, NULL, q, NULL, &answer);
    cJSON_Delete(answer);
    if (!rc)
        rc = make_temp_dir(dir, sizeof dir);
    if (!rc)
        rc = spool_open(dir, NULL, &spool);
    if (!rc)
        rc = sink_influx_ops.create(&cfg, spool, &sink);
    if (rc)
        goto out;

    double t0 = now_s(), c0 = cpu_s();
    if ((rc = encode(sink, devs, n_devices, samples, fields)) != 0)
        goto out;
    out->encode_s = now_s() - t0;
    out->encode_cpu_s = cpu_s() - c0;

    double i0 = proc_cpu_s(db->pid);
    t0 = now_s();
    c0 = cpu_s();
    if ((rc = sink_influx_ops.start(sink)) != 0)
        goto out;
    struct gw_health_sink st;
    do {
        poll(NULL, 0, 5);
        sink_influx_ops.state(sink, &st);
    } while (st.spool.depth_records > 0 && now_s() - t0 < 600);
    out->deliver_s = now_s() - t0;
    out->deliver_cpu_s = cpu_s() - c0;
    out->influxd_cpu_s = proc_cpu_s(db->pid) - i0;
    out->requests_failed = st.failed;
    if (st.spool.depth_records > 0 || st.delivered != (uint64_t)samples)
        rc = -EIO;
out:
    if (sink)
        sink_influx_ops.destroy(sink);
    spool_close(spool);
    return rc;
}

int main(int argc, char **argv)
{
    long samples = 100000;
    int n_devices = 1000, fields = 20;
    static const struct option opts[] = {
        { "samples", required_argument, NULL, 'n' },
        { "devices", required_argument, NULL, 'd' },
        { "fields", required_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': samples = atol(optarg); break;
        case 'd': n_devices = atoi(optarg); break;
        case 'f': fields = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: sink_bench [--samples N] [--devices D] [--fields F (1..64)]\n");
            return 2;
        }
    }
    if (samples < 1 || n_devices < 1 || fields < 1 || fields > 64) {
        fprintf(stderr, "sink_bench: bad arguments\n");
        return 2;
    }
    log_set_level(GW_LOG_WARNING);
    struct gw_device_cfg *devs = calloc((size_t)n_devices, sizeof *devs);
    char (*ids)[32] = calloc((size_t)n_devices, sizeof *ids);
    struct tsdb db;
    if (!devs || !ids || influxd_start(&db, NULL) != 0) {
        fprintf(stderr, "sink_bench: cannot start influxd\n");
        return 1;
    }
    for (int i = 0; i < n_devices; i++) {
        snprintf(ids[i], sizeof ids[i], "meter-%04d", i);
        devs[i] = (struct gw_device_cfg){ .id = ids[i], .kind = (char *)"meter", .tags = tags,
                                          .n_tags = sizeof tags / sizeof tags[0] };
    }
    printf("%ld samples (lines) from %d devices, %d fields and 7 tags per line\n\n", samples, n_devices,
           fields);
    printf("| gzip | encode + spool: lines/s | CPU s per 100k lines | delivery: lines/s | "
           "CPU s per 100k lines | influxd CPU s per 100k lines |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    int rc = 0;
    for (int gz = 1; gz >= 0 && rc == 0; gz--) {
        struct run r = { 0 };
        rc = bench_one(&db, gz, devs, n_devices, samples, fields, &r);
        if (rc) {
            fprintf(stderr, "sink_bench: run failed: %s\n", strerror(-rc));
            break;
        }
        double per100k = 100000.0 / (double)samples;
        printf("| %s | %.0f | %.3f | %.0f | %.3f | %.3f |\n", gz ? "on" : "off", samples / r.encode_s,
               r.encode_cpu_s * per100k, samples / r.deliver_s, r.deliver_cpu_s * per100k,
               r.influxd_cpu_s * per100k);
        if (r.requests_failed)
            printf("(%llu failed requests)\n", (unsigned long long)r.requests_failed);
    }
    tsdb_stop(&db);
    free(devs);
    free(ids);
    return rc ? 1 : 0;
}
