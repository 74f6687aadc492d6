/*
 * sink_bench: the InfluxDB and MQTT sinks' throughput into a local influxd
 * and a local mosquitto.
 *
 *   sink_bench [--sink influxdb|mqtt|all] [--samples N] [--devices D]
 *              [--fields F] [--qos 0|1] [--no-subscriber] [--broker-nodelay]
 *
 * InfluxDB: starts influxd on loopback (tests/support/tsdb.h), then for
 * gzip on and off: encodes N samples of F good points from D devices
 * (5 tags each) into the sink's spool (the main thread's cost), then starts
 * delivery and times it until the spool is empty (the delivery thread's
 * cost).  Prints one markdown row per run: lines (InfluxDB points) per
 * second and CPU seconds per 100k lines, for greenwatch and for influxd.
 *
 * MQTT: starts mosquitto on a loopback ephemeral port with a private
 * configuration (tests/integration/broker.h; persistence off, no debug
 * log), and a subscriber in a child process.  For QoS 1 and QoS 0: the
 * same N samples through sink_mqtt_ops into its spool (a reading per
 * sample, plus the retained availability of each device's first sample),
 * then delivery until the spool is empty and the subscriber has every
 * message.  Prints one markdown row per run: samples/s and messages/s,
 * CPU seconds per 100k of them for greenwatch (this process: the sink's
 * delivery thread and paho's threads, also broken down by thread) and for
 * mosquitto (/proc).  A delivery that stops making progress for 10 s is
 * reported as stalled, with what was committed and received until then.
 *
 * --qos runs one QoS only; --no-subscriber leaves the subscriber out (at
 * QoS 0 the spool then empties once paho has the messages queued, not
 * sent); --broker-nodelay sets mosquitto's set_tcp_nodelay.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "broker.h"
#include "config.h"
#include "harness.h"
#include "log.h"
#include "sample.h"
#include "sink.h"
#include "spool.h"
#include "tsdb.h"
#include "benchutil.h"

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

/* ---- CPU by thread ------------------------------------------------------- */

enum { MAX_THREADS = 64, MAX_GROUPS = 8 };

struct thread_cpu {
    pid_t tid;
    char comm[32];
    double user_s, sys_s;
};

/* This process's threads now; returns how many (at most max). */
static int threads_cpu(struct thread_cpu *t, int max)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    double tck = (double)sysconf(_SC_CLK_TCK);
    while (d && n < max && (e = readdir(d))) {
        char path[300], buf[1024];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;   /* ended meanwhile */
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
        unsigned long long ut, st;
        if (!open || !close || close < open ||
            sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
            continue;
        t[n].tid = (pid_t)atoi(e->d_name);
        snprintf(t[n].comm, sizeof t[n].comm, "%.*s", (int)(close - open - 1), open + 1);
        t[n].user_s = (double)ut / tck;
        t[n].sys_s = (double)st / tck;
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* CPU per thread name between two snapshots (threads that ended in
 * between are missing: take the second one while they run).  Threads
 * that keep the program's name are told apart by age: "main", "spool"
 * (its flusher, started by the first append) and "delivery" (started
 * after the first snapshot); paho names its own. */
struct cpu_group {
    char name[32];
    double user_s, sys_s;
};

static int group_cpu(const struct thread_cpu *a, int na, const struct thread_cpu *b, int nb,
                     struct cpu_group *g, int max)
{
    int n = 0;
    pid_t main_tid = getpid();
    const char *program = "";
    for (int i = 0; i < nb; i++)
        if (b[i].tid == main_tid)
            program = b[i].comm;
    for (int i = 0; i < nb; i++) {
        double u = b[i].user_s, sy = b[i].sys_s;
        bool old = false;
        for (int j = 0; j < na; j++)
            if (a[j].tid == b[i].tid) {
                u -= a[j].user_s;
                sy -= a[j].sys_s;
                old = true;
            }
        const char *name = b[i].comm;
        if (b[i].tid == main_tid)
            name = "main";
        else if (strcmp(b[i].comm, program) == 0)
            name = old ? "spool" : "delivery";
        int k = 0;
        while (k < n && strcmp(g[k].name, name) != 0)
            k++;
        if (k == n) {
            if (n == max)
                continue;
            snprintf(g[n].name, sizeof g[n].name, "%s", name);
            g[n].user_s = g[n].sys_s = 0;
            n++;
        }
        g[k].user_s += u;
        g[k].sys_s += sy;
    }
    return n;
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

static int encode(const struct gw_sink_ops *ops, void *sink, const struct gw_device_cfg *devs, int n_devices,
                  long samples, int fields)
{
    struct gw_sample s;
    for (long i = 0; i < samples; i++) {
        const struct gw_device_cfg *d = &devs[i % n_devices];
        if (sample_init(&s, d->id, (size_t)fields) != 0)
            return -ENOMEM;
        s.ts_ms = BASE_TS + (i / n_devices) * 1000;
        for (int f = 0; f < fields; f++)
            sample_add(&s, field_name(f), "kW", 230.0 + (double)((i * 7 + f * 13) % 1000) / 8.0, GW_QUALITY_GOOD);
        int rc = ops->submit_sample(sink, &s, d);
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
    if ((rc = encode(&sink_influx_ops, sink, devs, n_devices, samples, fields)) != 0)
        goto out;
    out->encode_s = now_s() - t0;
    out->encode_cpu_s = cpu_s() - c0;

    double i0 = bench_proc_cpu_s(db->pid);
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
    out->influxd_cpu_s = bench_proc_cpu_s(db->pid) - i0;
    out->requests_failed = st.failed;
    if (st.spool.depth_records > 0 || st.delivered != (uint64_t)samples)
        rc = -EIO;
out:
    if (sink)
        sink_influx_ops.destroy(sink);
    spool_close(spool);
    return rc;
}

static int run_influx(const struct gw_device_cfg *devs, int n_devices, long samples, int fields)
{
    struct tsdb db;
    if (influxd_start(&db, NULL) != 0) {
        fprintf(stderr, "sink_bench: cannot start influxd\n");
        return -ENOENT;
    }
    printf("## InfluxDB\n\n");
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
    printf("\n");
    tsdb_stop(&db);
    return rc;
}

/* ---- MQTT ------------------------------------------------------------ */

#define MQTT_PREFIX "bench"
#define MQTT_NO_PROGRESS_S 10.0   /* nothing delivered or received for this long: give up */

/*
 * mosquitto as the integration tests start it, but configured as in
 * production: their configuration logs every packet (log_type all), which
 * would make most of mosquitto's CPU here its own log.  The queue limit
 * for a client is lifted so that a subscriber falling behind is counted
 * short only if a message really went missing.
 */
static int mqtt_broker_start(struct broker *b, bool nodelay)
{
    int rc = broker_start(b, NULL);
    if (rc)
        return rc;
    FILE *f = fopen(b->conf, "w");
    if (!f) {
        rc = -errno;
        broker_stop(b);
        return rc;
    }
    if (geteuid() == 0)     /* as root mosquitto would switch to a user that cannot read b->dir */
        fprintf(f, "user root\n");
    fprintf(f, "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
               "log_type information\nconnection_messages true\n"
               "per_listener_settings false\nallow_anonymous true\npersistence false\n"
               "max_queued_messages 0\n%slistener %d 127.0.0.1\n",
               nodelay ? "set_tcp_nodelay true\n" : "", b->port);
    if (fclose(f) != 0) {
        rc = -errno;
        broker_stop(b);
        return rc;
    }
    return broker_restart(b);
}

/* What the subscriber process shares with the benchmark. */
struct sub_shared {
    int state;                  /* 0 starting, 1 subscribed, -1 failed */
    int quit;
    uint64_t count;             /* messages received so far, all runs */
    uint64_t last_ns;           /* CLOCK_MONOTONIC when count last grew */
};

struct subscriber {
    pid_t pid;
    struct sub_shared *sh;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The child: subscribe to every device topic at QoS 1 and count. */
static void subscriber_main(int port, struct sub_shared *sh)
{
    struct sub s;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (sub_start(&s, port, "greenwatch-bench-sub", MQTT_PREFIX "/+/+", false, NULL, NULL) != 0) {
        __atomic_store_n(&sh->state, -1, __ATOMIC_RELEASE);
        _exit(1);
    }
    __atomic_store_n(&sh->state, 1, __ATOMIC_RELEASE);
    size_t seen = 0;
    while (!__atomic_load_n(&sh->quit, __ATOMIC_ACQUIRE)) {
        size_t n = sub_count(&s);
        if (n != seen) {
            seen = n;
            __atomic_store_n(&sh->last_ns, now_ns(), __ATOMIC_RELEASE);
            __atomic_store_n(&sh->count, (uint64_t)n, __ATOMIC_RELEASE);
        }
        poll(NULL, 0, 2);
    }
    sub_stop(&s);
    _exit(0);   /* not exit(): the harness's temporary directory is the parent's */
}

/* Forked before this process uses paho: its CPU is not the daemon's. */
static int subscriber_start(struct subscriber *sub, int port)
{
    sub->sh = mmap(NULL, sizeof *sub->sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sub->sh == MAP_FAILED) {
        sub->sh = NULL;
        return -errno;
    }
    memset(sub->sh, 0, sizeof *sub->sh);
    fflush(NULL);
    sub->pid = fork();
    if (sub->pid < 0) {
        int rc = -errno;
        sub->pid = 0;
        return rc;
    }
    if (sub->pid == 0)
        subscriber_main(port, sub->sh);
    double t0 = now_s();
    int state;
    while ((state = __atomic_load_n(&sub->sh->state, __ATOMIC_ACQUIRE)) == 0 && now_s() - t0 < 15)
        poll(NULL, 0, 5);
    return state == 1 ? 0 : -ETIMEDOUT;
}

static void subscriber_stop(struct subscriber *sub)
{
    if (sub->pid > 0) {
        __atomic_store_n(&sub->sh->quit, 1, __ATOMIC_RELEASE);
        if (wait_process(sub->pid, 10000, NULL) != 0)
            stop_process(sub->pid, NULL);
        sub->pid = 0;
    }
    if (sub->sh)
        munmap(sub->sh, sizeof *sub->sh);
    sub->sh = NULL;
}

struct mqtt_run {
    uint64_t messages;              /* records appended: readings and availability */
    uint64_t bytes;                 /* their size in the spool */
    double encode_s, encode_cpu_s;
    bool drained;                   /* the spool emptied (else gave up after drain_s) */
    uint64_t delivered;             /* records the sink committed */
    double drain_s;                 /* start to spool depth 0 */
    double received_s;              /* start to the subscriber's last message, or < 0 */
    uint64_t received;              /* by the subscriber in this run */
    double deliver_cpu_s, broker_cpu_s;
    struct cpu_group threads[MAX_GROUPS];   /* deliver_cpu_s by thread */
    int n_threads;
    uint64_t failed, rejected;
};

/* Encode samples into a new spool at qos, then deliver them to the broker. */
static int bench_mqtt_one(const struct broker *b, struct subscriber *sub, int qos, struct gw_device_cfg *devs,
                          int n_devices, long samples, int fields, struct mqtt_run *out)
{
    char dir[512], uri[64];
    struct gw_spool *spool = NULL;
    void *sink = NULL;
    struct gw_config cfg = { 0 };
    snprintf(uri, sizeof uri, "mqtt://127.0.0.1:%d", b->port);
    cfg.site.id = (char *)"bench-site";
    cfg.devices = devs;
    cfg.n_devices = (size_t)n_devices;
    cfg.mqtt = (struct gw_mqtt_cfg){ .present = true, .uri = uri, .client_id = (char *)"greenwatch-bench",
                                     .topic_prefix = (char *)MQTT_PREFIX, .qos = qos, .version = 0,
                                     .keepalive_s = 30, .verify_hostname = true };
    int rc = make_temp_dir(dir, sizeof dir);
    if (!rc)
        rc = spool_open(dir, NULL, &spool);
    if (!rc)
        rc = sink_mqtt_ops.create(&cfg, spool, &sink);
    if (rc)
        goto out;

    double t0 = now_s(), c0 = cpu_s();
    if ((rc = encode(&sink_mqtt_ops, sink, devs, n_devices, samples, fields)) != 0)
        goto out;
    out->encode_s = now_s() - t0;
    out->encode_cpu_s = cpu_s() - c0;
    struct gw_health_sink st;
    sink_mqtt_ops.state(sink, &st);
    out->messages = st.spool.depth_records;
    out->bytes = st.spool.depth_bytes;
    if (st.spool.dropped) {
        fprintf(stderr, "sink_bench: the spool dropped %llu records (budget)\n",
                (unsigned long long)st.spool.dropped);
        rc = -ENOSPC;
        goto out;
    }

    uint64_t base = sub->sh ? __atomic_load_n(&sub->sh->count, __ATOMIC_ACQUIRE) : 0;
    uint64_t target = base + out->messages;
    struct thread_cpu before[MAX_THREADS], after[MAX_THREADS];
    int n_before = threads_cpu(before, MAX_THREADS);
    double m0 = bench_proc_cpu_s(b->pid);
    t0 = now_s();
    c0 = cpu_s();
    if ((rc = sink_mqtt_ops.start(sink)) != 0)
        goto out;
    /* A sink that stops making progress (reconnecting with backoff) is
     * reported as such rather than waited for. */
    double progress = now_s();
    uint64_t depth = out->messages;
    do {
        poll(NULL, 0, 5);
        sink_mqtt_ops.state(sink, &st);
        if (st.spool.depth_records != depth) {
            depth = st.spool.depth_records;
            progress = now_s();
        }
    } while (depth > 0 && now_s() - progress < MQTT_NO_PROGRESS_S && now_s() - t0 < 600);
    out->drain_s = (depth > 0 ? progress : now_s()) - t0;
    out->drained = depth == 0;
    out->received_s = -1;
    if (sub->sh) {
        /* QoS 0 counts as delivered once handed to paho: the subscriber
         * says when it actually arrived. */
        progress = now_s();
        uint64_t n = 0, seen = base;
        while ((n = __atomic_load_n(&sub->sh->count, __ATOMIC_ACQUIRE)) < target &&
               now_s() - progress < MQTT_NO_PROGRESS_S && now_s() - t0 < 600) {
            if (n != seen) {
                seen = n;
                progress = now_s();
            }
            poll(NULL, 0, 5);
        }
        out->received = n - base;
        if (n > base) {
            double last = (double)__atomic_load_n(&sub->sh->last_ns, __ATOMIC_ACQUIRE) / 1e9;
            out->received_s = last - t0;
        }
    }
    out->deliver_cpu_s = cpu_s() - c0;
    out->broker_cpu_s = bench_proc_cpu_s(b->pid) - m0;
    int n_after = threads_cpu(after, MAX_THREADS);
    out->n_threads = group_cpu(before, n_before, after, n_after, out->threads, MAX_GROUPS);
    sink_mqtt_ops.state(sink, &st);
    out->failed = st.failed;
    out->rejected = st.rejected;
    out->delivered = st.delivered;
out:
    if (sink)
        sink_mqtt_ops.destroy(sink);
    spool_close(spool);
    return rc;
}

/* 0, or -EIO if a run did not deliver everything (its row says how). */
static int run_mqtt(struct gw_device_cfg *devs, int n_devices, long samples, int fields, bool subscribe,
                    int only_qos, bool nodelay)
{
    struct broker b;
    struct subscriber sub = { 0 };
    int rc = mqtt_broker_start(&b, nodelay);
    if (rc) {
        fprintf(stderr, "sink_bench: cannot start mosquitto: %s\n", strerror(-rc));
        return rc;
    }
    if (subscribe && (rc = subscriber_start(&sub, b.port)) != 0) {
        fprintf(stderr, "sink_bench: the subscriber did not start: %s\n", strerror(-rc));
        subscriber_stop(&sub);
        broker_stop(&b);
        return rc;
    }
    printf("## MQTT\n\n");
    printf("%ld samples from %d devices, %d fields per sample; MQTT 3.1.1, mosquitto on 127.0.0.1%s, %s\n\n",
           samples, n_devices, fields, nodelay ? " with set_tcp_nodelay" : "",
           subscribe ? "one subscriber (QoS 1, another process)" : "no subscriber");
    printf("| QoS | messages (bytes per record) | encode + spool: samples/s | CPU s per 100k samples | "
           "delivery: messages/s | CPU s per 100k messages | mosquitto CPU s per 100k messages | "
           "received by the subscriber | all received: messages/s |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    bool short_run = false;
    for (int qos = 1; qos >= 0 && rc == 0; qos--) {
        if (only_qos >= 0 && qos != only_qos)
            continue;
        struct mqtt_run r = { 0 };
        rc = bench_mqtt_one(&b, &sub, qos, devs, n_devices, samples, fields, &r);
        if (rc) {
            fprintf(stderr, "sink_bench: MQTT QoS %d run failed: %s\n", qos, strerror(-rc));
            break;
        }
        double per100k = 100000.0 / (double)samples, per100k_msgs = 100000.0 / (double)r.messages;
        char delivery[96], cpu[32] = "n/a", broker_cpu[32] = "n/a", received[64] = "n/a", rate[32] = "n/a";
        if (r.drained) {
            snprintf(delivery, sizeof delivery, "%.0f", (double)r.messages / r.drain_s);
            snprintf(cpu, sizeof cpu, "%.3f", r.deliver_cpu_s * per100k_msgs);
            snprintf(broker_cpu, sizeof broker_cpu, "%.3f", r.broker_cpu_s * per100k_msgs);
        } else {
            snprintf(delivery, sizeof delivery, "stalled: %llu committed in %.1f s",
                     (unsigned long long)r.delivered, r.drain_s);
        }
        if (subscribe)
            snprintf(received, sizeof received, "%llu", (unsigned long long)r.received);
        if (subscribe && r.received >= r.messages)
            snprintf(rate, sizeof rate, "%.0f", (double)r.messages / r.received_s);
        printf("| %d | %llu (%.0f) | %.0f | %.3f | %s | %s | %s | %s | %s |\n", qos,
               (unsigned long long)r.messages, (double)r.bytes / (double)r.messages, samples / r.encode_s,
               r.encode_cpu_s * per100k, delivery, cpu, broker_cpu, received, rate);
        if (r.drained) {
            printf("(QoS %d, CPU s per 100k messages by thread, user + system:", qos);
            for (int i = 0; i < r.n_threads; i++)
                printf("%s %s %.3f + %.3f", i ? "," : "", r.threads[i].name,
                       r.threads[i].user_s * per100k_msgs, r.threads[i].sys_s * per100k_msgs);
            printf(")\n");
        }
        if (r.failed || r.rejected)
            printf("(QoS %d: %llu failed deliveries or connects, %llu rejected messages)\n", qos,
                   (unsigned long long)r.failed, (unsigned long long)r.rejected);
        if (subscribe && r.received < r.delivered)
            printf("(QoS %d: the subscriber is %llu messages short of those committed)\n", qos,
                   (unsigned long long)(r.delivered - r.received));
        short_run = short_run || !r.drained || (subscribe && r.received < r.messages);
    }
    printf("\n");
    if (rc == 0 && short_run)
        rc = -EIO;
    subscriber_stop(&sub);
    broker_stop(&b);
    return rc;
}

int main(int argc, char **argv)
{
    long samples = 100000;
    int n_devices = 1000, fields = 20;
    bool influx = true, mqtt = true, subscribe = true, nodelay = false;
    int only_qos = -1;
    static const struct option opts[] = {
        { "sink", required_argument, NULL, 's' },
        { "samples", required_argument, NULL, 'n' },
        { "devices", required_argument, NULL, 'd' },
        { "fields", required_argument, NULL, 'f' },
        { "qos", required_argument, NULL, 'q' },
        { "no-subscriber", no_argument, NULL, 'S' },
        { "broker-nodelay", no_argument, NULL, 'N' },
        { NULL, 0, NULL, 0 },
    };
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 's':
            influx = strcmp(optarg, "influxdb") == 0 || strcmp(optarg, "all") == 0;
            mqtt = strcmp(optarg, "mqtt") == 0 || strcmp(optarg, "all") == 0;
            if (influx || mqtt)
                break;
            /* fall through */
        default:
            fprintf(stderr, "usage: sink_bench [--sink influxdb|mqtt|all] [--samples N] [--devices D] "
                            "[--fields F (1..64)] [--qos 0|1] [--no-subscriber] [--broker-nodelay]\n");
            return 2;
        case 'n': samples = atol(optarg); break;
        case 'd': n_devices = atoi(optarg); break;
        case 'f': fields = atoi(optarg); break;
        case 'q': only_qos = atoi(optarg); break;
        case 'S': subscribe = false; break;
        case 'N': nodelay = true; break;
        }
    }
    if (samples < 1 || n_devices < 1 || fields < 1 || fields > 64 || only_qos > 1) {
        fprintf(stderr, "sink_bench: bad arguments\n");
        return 2;
    }
    log_set_level(GW_LOG_WARNING);
    struct gw_device_cfg *devs = calloc((size_t)n_devices, sizeof *devs);
    char (*ids)[32] = calloc((size_t)n_devices, sizeof *ids);
    if (!devs || !ids) {
        fprintf(stderr, "sink_bench: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n_devices; i++) {
        snprintf(ids[i], sizeof ids[i], "meter-%04d", i);
        devs[i] = (struct gw_device_cfg){ .id = ids[i], .kind = (char *)"meter", .tags = tags,
                                          .n_tags = sizeof tags / sizeof tags[0] };
    }
    int rc = 0;
    if (influx)
        rc = run_influx(devs, n_devices, samples, fields);
    if (mqtt && rc == 0)
        rc = run_mqtt(devs, n_devices, samples, fields, subscribe, only_qos, nodelay);
    free(devs);
    free(ids);
    return rc ? 1 : 0;
}
