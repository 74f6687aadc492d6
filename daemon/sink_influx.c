/*
 * The InfluxDB sink: samples and health as line protocol (lineproto.h),
 * one line per spool record, delivered in batches over HTTP (libcurl) to
 * InfluxDB 1.x `/write` or the 2.x API `/api/v2/write` (InfluxDB 2.x,
 * InfluxDB Cloud, VictoriaMetrics).  docs/influxdb.md has the schema and
 * the table of how each HTTP answer is handled.
 *
 * Threads: create, submit_*, state, stop and destroy run on the main
 * thread; the delivery thread owns the curl handle and the batches it
 * reads.  The counters shared by both are under `lock`.
 */
#include "sink.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "influx_answer.h"
#include "lineproto.h"
#include "log.h"
#include "rules/rules.h"
#include "rules/rules_config.h"
#include "secret.h"

enum {
    BODY_MAX_BYTES = 4 << 20,       /* per request, before compression */
    ANSWER_MAX_BYTES = 64 << 10,    /* of a server's answer kept for the log */
    BACKOFF_FIRST_MS = 1000,
    BACKOFF_MAX_MS = 60000,
    AUTH_RETRY_MS = 60000,          /* refused credentials: retry slowly */
    DB_CREATE_EVERY_MS = 60000,     /* a database that cannot be created: try again this often */
    RETRY_AFTER_MAX_S = 3600,
    WAIT_SLICE_MS = 500,            /* longest wait in spool_read between stop checks */
    GROW_AFTER_OK = 10,             /* requests at a reduced size before doubling it */
    MESSAGE_LOG_MAX = 512,
};

struct influx {
    const struct gw_config *cfg;
    struct gw_spool *spool;
    char *write_url;
    char *username, *password, *token;   /* secrets: wiped on destroy */
    struct curl_slist *headers;
    struct lp_buf enc;                  /* main thread: lines being encoded */

    pthread_t thread;
    bool running;
    atomic_bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t wake;                /* stop() interrupts waits */

    /* under lock */
    bool connected, auth_failed;
    uint64_t delivered, failed, rejected;
};

/* ---- encoding (main thread) ----------------------------------------- */

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(((const struct gw_tag *)a)->key, ((const struct gw_tag *)b)->key);
}

/* The sample's tags sorted by key: site, device and the configured ones.
 * Returns how many, or -ENOMEM; free *out. */
static int sample_tags(const struct influx *ix, const struct gw_device_cfg *dev,
                       struct gw_tag **out)
{
    size_t n = 0;
    struct gw_tag *t = malloc((dev->n_tags + 2) * sizeof *t);
    if (!t)
        return -ENOMEM;
    t[n++] = (struct gw_tag){ "site", ix->cfg->site.id };
    t[n++] = (struct gw_tag){ "device", dev->id };
    for (size_t i = 0; i < dev->n_tags; i++)
        t[n++] = dev->tags[i];
    qsort(t, n, sizeof *t, tag_cmp);
    *out = t;
    return (int)n;
}

/* Append what ix->enc holds, one record per line, and empty it.  Returns
 * 0 or the spool's negative errno. */
static int append_lines(struct influx *ix)
{
    int rc = 0;
    const char *p = ix->enc.data, *end = p + ix->enc.len;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)(nl - p) + 1;
        rc = spool_append(ix->spool, p, len);
        p += len;
    }
    lp_reset(&ix->enc);
    return rc;
}

static int influx_submit_sample(void *impl, const struct gw_sample *s, const struct gw_device_cfg *dev)
{
    struct influx *ix = impl;
    struct gw_tag *tags;
    int n_tags = sample_tags(ix, dev, &tags);
    if (n_tags < 0)
        return n_tags;
    struct lp_buf *b = &ix->enc;
    int rc = lp_begin(b, dev->kind);
    for (int i = 0; rc == 0 && i < n_tags; i++)
        lp_tag(b, tags[i].key, tags[i].value);
    free(tags);
    for (size_t i = 0; rc == 0 && i < s->n_readings; i++) {
        const struct gw_reading *r = &s->readings[i];
        if (r->quality != GW_QUALITY_GOOD)
            continue;
        if (r->text)
            lp_field_string(b, r->name, r->text);
        else
            lp_field_float(b, r->name, r->value);
    }
    if (rc == 0)
        rc = lp_end(b, s->ts_ms);
    if (rc == -ENODATA)   /* no good reading: nothing to write */
        return 0;
    return rc ? rc : append_lines(ix);
}

/* One line of the `greenwatch` measurement: scope names the series kind,
 * and a tag named after the scope carries its id. */
static void health_begin(struct influx *ix, const char *scope, const char *id)
{
    struct lp_buf *b = &ix->enc;
    lp_begin(b, "greenwatch");
    /* tags sorted by key: bus|device|sink < scope < site */
    if (id)
        lp_tag(b, scope, id);
    lp_tag(b, "scope", scope);
    lp_tag(b, "site", ix->cfg->site.id);
}

static void health_counter(struct influx *ix, const char *key, uint64_t v)
{
    lp_field_float(&ix->enc, key, (double)v);
}

static void health_flag(struct influx *ix, const char *key, bool v)
{
    lp_field_float(&ix->enc, key, v ? 1.0 : 0.0);
}

static int health_end(struct influx *ix, int64_t ts)
{
    int rc = lp_end(&ix->enc, ts);
    return rc == -ENODATA ? 0 : rc;
}

static int health_bus(struct influx *ix, const struct gw_health_bus *h, int64_t ts)
{
    health_begin(ix, "bus", h->id);
    health_flag(ix, "connected", h->connected);
    health_counter(ix, "requests", h->requests);
    health_counter(ix, "errors", h->errors);
    health_counter(ix, "timeouts", h->timeouts);
    health_counter(ix, "reconnects", h->reconnects);
    return health_end(ix, ts);
}

static int health_device(struct influx *ix, const struct gw_health_device *h, int64_t ts)
{
    health_begin(ix, "device", h->id);
    health_flag(ix, "online", h->online);
    health_counter(ix, "polls", h->polls);
    health_counter(ix, "failed_polls", h->failed_polls);
    health_counter(ix, "missed_polls", h->missed_polls);
    health_counter(ix, "requests", h->requests);
    lp_field_float(&ix->enc, "latency_ms", h->latency_ms);
    return health_end(ix, ts);
}

static int health_sink(struct influx *ix, const struct gw_health_sink *h, int64_t ts)
{
    health_begin(ix, "sink", h->name);
    health_flag(ix, "connected", h->connected);
    health_flag(ix, "auth_failed", h->auth_failed);
    health_counter(ix, "delivered", h->delivered);
    health_counter(ix, "failed", h->failed);
    health_counter(ix, "rejected", h->rejected);
    health_counter(ix, "spool_appended", h->spool.appended);
    health_counter(ix, "spool_delivered", h->spool.delivered);
    health_counter(ix, "spool_dropped", h->spool.dropped);
    health_counter(ix, "spool_corrupt", h->spool.corrupt);
    health_counter(ix, "spool_depth_records", h->spool.depth_records);
    health_counter(ix, "spool_depth_bytes", h->spool.depth_bytes);
    return health_end(ix, ts);
}

static int influx_submit_health(void *impl, const struct gw_health *h)
{
    struct influx *ix = impl;
    health_begin(ix, "daemon", NULL);
    lp_field_float(&ix->enc, "uptime_s", h->uptime_s);
    health_counter(ix, "buses", h->n_buses);
    health_counter(ix, "devices", h->n_devices);
    int rc = health_end(ix, h->ts_ms);
    for (size_t i = 0; rc == 0 && i < h->n_buses; i++)
        rc = health_bus(ix, &h->buses[i], h->ts_ms);
    for (size_t i = 0; rc == 0 && i < h->n_devices; i++)
        rc = health_device(ix, &h->devices[i], h->ts_ms);
    for (size_t i = 0; rc == 0 && i < h->n_sinks; i++)
        rc = health_sink(ix, &h->sinks[i], h->ts_ms);
    if (rc) {
        lp_reset(&ix->enc);
        return rc;
    }
    return append_lines(ix);
}

/* The `alarm` measurement's tags, sorted by key: site, device, rule,
 * severity, kind, and the device's tags but those that would shadow one
 * of these.  Returns how many, or -ENOMEM; free *out. */
static int alarm_tags(const struct gw_alarm_info *a, struct gw_tag **out)
{
    static const char *const own[] = { "site", "device", "rule", "severity", "kind" };
    size_t n = 0;
    struct gw_tag *t = malloc((a->n_tags + 5) * sizeof *t);
    if (!t)
        return -ENOMEM;
    t[n++] = (struct gw_tag){ "site", a->site };
    t[n++] = (struct gw_tag){ "device", a->device };
    t[n++] = (struct gw_tag){ "rule", a->rule };
    t[n++] = (struct gw_tag){ "severity", gw_severity_names[a->severity] };
    t[n++] = (struct gw_tag){ "kind", a->kind };
    for (size_t i = 0; i < a->n_tags; i++) {
        bool shadows = false;
        for (size_t k = 0; k < sizeof own / sizeof *own; k++)
            shadows |= strcmp(a->tags[i].key, own[k]) == 0;
        if (!shadows)
            t[n++] = a->tags[i];
    }
    qsort(t, n, sizeof *t, tag_cmp);
    *out = t;
    return (int)n;
}

/* One line of the `alarm` measurement per transition (docs/influxdb.md). */
static int influx_submit_alarm(void *impl, const struct gw_alarm_event *ev)
{
    struct influx *ix = impl;
    const struct gw_alarm_info *a = &ev->alarm;
    struct gw_tag *tags;
    int n_tags = alarm_tags(a, &tags);
    if (n_tags < 0)
        return n_tags;
    struct lp_buf *b = &ix->enc;
    int rc = lp_begin(b, "alarm");
    for (int i = 0; rc == 0 && i < n_tags; i++)
        lp_tag(b, tags[i].key, tags[i].value);
    free(tags);
    if (rc)
        return rc;
    lp_field_string(b, "state", alarm_state_name(a->state));
    lp_field_string(b, "from_state", alarm_state_name(ev->from_state));
    lp_field_string(b, "cause", ev->cause ? ev->cause : "");
    if (a->has_value)
        lp_field_float(b, "value", a->value);
    if (a->has_limit)
        lp_field_float(b, "limit", a->limit);
    lp_field_float(b, "active", a->active ? 1.0 : 0.0);
    lp_field_float(b, "acked", a->acked ? 1.0 : 0.0);
    lp_field_float(b, "seq", (double)ev->seq);
    lp_field_string(b, "message", a->message ? a->message : "");
    rc = lp_end(b, ev->ts_ms);
    return rc ? rc : append_lines(ix);
}

/* ---- waiting ------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait ms, or less if stop() is called.  Returns true when stopping. */
static bool wait_or_stop(struct influx *ix, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ix->lock);
    while (!atomic_load(&ix->stopping) &&
           pthread_cond_timedwait(&ix->wake, &ix->lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&ix->lock);
    return atomic_load(&ix->stopping);
}

/* ---- batches ------------------------------------------------------- */

/* The spool batches of one request, read in order, and their records
 * (each one line) in one array. */
struct request {
    struct gw_spool_batch *batches;
    size_t n_batches, cap_batches;
    struct gw_spool_record *lines;
    size_t n_records, cap_records, n_bytes;
};

static void request_free(struct request *r)
{
    for (size_t i = 0; i < r->n_batches; i++)
        spool_batch_free(&r->batches[i]);
    free(r->batches);
    free(r->lines);
    memset(r, 0, sizeof *r);
}

/* Room for one more batch of up to more records.  0 or -ENOMEM. */
static int request_reserve(struct request *r, size_t more)
{
    if (r->n_batches == r->cap_batches) {
        size_t cap = r->cap_batches ? r->cap_batches * 2 : 8;
        struct gw_spool_batch *b = realloc(r->batches, cap * sizeof *b);
        if (!b)
            return -ENOMEM;
        r->batches = b;
        r->cap_batches = cap;
    }
    if (r->n_records + more > r->cap_records) {
        size_t cap = r->n_records + more;
        struct gw_spool_record *l = realloc(r->lines, cap * sizeof *l);
        if (!l)
            return -ENOMEM;
        r->lines = l;
        r->cap_records = cap;
    }
    return 0;
}

/* Read one more batch of at most max_records within timeout_ms.  Returns
 * the records read (0 on timeout) or a negative errno. */
static int request_read(struct influx *ix, struct request *r, size_t max_records, size_t max_bytes,
                        int timeout_ms)
{
    if (request_reserve(r, max_records))
        return -ENOMEM;
    struct gw_spool_batch *batch = &r->batches[r->n_batches];
    memset(batch, 0, sizeof *batch);
    int n = spool_read(ix->spool, max_records, max_bytes - r->n_bytes, timeout_ms, batch);
    if (n <= 0) {
        spool_batch_free(batch);
        return n;
    }
    r->n_batches++;
    for (size_t i = 0; i < batch->n; i++) {
        r->lines[r->n_records++] = batch->records[i];
        r->n_bytes += batch->records[i].len;
    }
    return n;
}

/*
 * Gather the next request: wait for a first record, then for more until
 * max_records records or max_bytes bytes, or flush_ms after the first,
 * whichever comes first.  Returns the records gathered (0 when stopping)
 * or a negative errno.
 */
static int request_gather(struct influx *ix, struct request *r, size_t max_records, size_t max_bytes)
{
    int n = 0;
    while (n == 0 && !atomic_load(&ix->stopping))
        n = request_read(ix, r, max_records, max_bytes, WAIT_SLICE_MS);
    if (n < 0)
        return n;
    int64_t deadline = now_ms() + ix->cfg->influx.flush_ms;
    while (r->n_records < max_records && r->n_bytes < max_bytes && !atomic_load(&ix->stopping)) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        n = request_read(ix, r, max_records - r->n_records, max_bytes,
                         left < WAIT_SLICE_MS ? (int)left : WAIT_SLICE_MS);
        if (n < 0)
            return n;
    }
    return (int)r->n_records;
}

/* Commit the request (its last batch: the earlier ones with it).
 * Returns 0 or a negative errno. */
static int request_commit(struct influx *ix, const struct request *r)
{
    int rc = r->n_batches ? spool_commit(ix->spool, &r->batches[r->n_batches - 1]) : 0;
    if (rc)
        log_error("influxdb: cannot mark records delivered in the spool: %s (they will be sent again)",
                  strerror(-rc));
    return rc;
}

/* ---- one HTTP request ---------------------------------------------- */

struct answer {
    CURLcode curl;
    char curl_error[CURL_ERROR_SIZE];
    long status;              /* 0 when no HTTP answer */
    long retry_after_s;       /* -1 when none */
    char *body;               /* the first ANSWER_MAX_BYTES, NUL-terminated */
    size_t len;
};

static size_t answer_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct answer *a = userp;
    size_t n = size * nmemb, take = n;
    if (a->len + take > ANSWER_MAX_BYTES)
        take = ANSWER_MAX_BYTES - a->len;
    if (take) {
        char *body = realloc(a->body, a->len + take + 1);
        if (!body)
            return n;     /* the answer is only for the log */
        memcpy(body + a->len, data, take);
        a->len += take;
        body[a->len] = '\0';
        a->body = body;
    }
    return n;
}

/* The request's lines in one buffer.  Returns it (malloc'd) or NULL. */
static char *request_body(const struct request *r)
{
    char *body = malloc(r->n_bytes ? r->n_bytes : 1), *p = body;
    if (!body)
        return NULL;
    for (size_t i = 0; i < r->n_records; i++) {
        memcpy(p, r->lines[i].data, r->lines[i].len);
        p += r->lines[i].len;
    }
    return body;
}

/* Gzip len bytes of data.  Returns 0 with *out (malloc'd) and *out_len,
 * or -ENOMEM / -EIO. */
static int gzip_body(const char *data, size_t len, char **out, size_t *out_len)
{
    z_stream z = { 0 };
    /* 15 + 16: a gzip header, as Content-Encoding: gzip requires; fastest
     * level: line protocol shrinks well at any level, CPU is scarce */
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    size_t cap = deflateBound(&z, (uLong)len) + 32;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -ENOMEM;
    }
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int zrc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (zrc != Z_STREAM_END) {
        free(buf);
        return -EIO;
    }
    *out = (char *)buf;
    return 0;
}

/* POST the request's lines; the answer goes to *a (free a->body). */
static int post(struct influx *ix, CURL *curl, const struct request *r, struct answer *a)
{
    const struct gw_influx_cfg *c = &ix->cfg->influx;
    memset(a, 0, sizeof *a);
    a->retry_after_s = -1;
    char *body = request_body(r), *gz = NULL;
    size_t len = r->n_bytes;
    if (!body)
        return -ENOMEM;
    if (c->gzip) {
        int rc = gzip_body(body, len, &gz, &len);
        free(body);
        if (rc)
            return rc;
        body = gz;
    }
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, answer_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, a->curl_error);
    a->curl = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);   /* a lives on the caller's stack */
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
    free(body);
    if (a->curl == CURLE_OK) {
        curl_off_t retry_after = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
        if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
            a->retry_after_s = retry_after > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (long)retry_after;
    }
    return 0;
}

/* The options that stay the same for every request. */
static void curl_setup(struct influx *ix, CURL *curl)
{
    const struct gw_influx_cfg *c = &ix->cfg->influx;
    curl_easy_setopt(curl, CURLOPT_URL, ix->write_url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, ix->headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "greenwatch/" GW_VERSION);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
    if (c->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
    if (ix->username) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, ix->username);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, ix->password ? ix->password : "");
    }
}

static char *build_url(CURL *curl, const char *url, const char *path, const char *const args[][2], size_t n);

/* ---- what the server said (influx_answer.h) ------------------------ */

static void answer_message(const struct answer *a, char *out, size_t n)
{
    if (a->curl != CURLE_OK)
        snprintf(out, n, "%s", a->curl_error[0] ? a->curl_error : curl_easy_strerror(a->curl));
    else
        influx_message(a->body, out, n);
}

static void log_line(const struct request *r, size_t i, const char *why)
{
    const struct gw_spool_record *l = &r->lines[i];
    const char *text = l->data;
    size_t len = l->len && text[l->len - 1] == '\n' ? l->len - 1 : l->len;
    log_error("influxdb: %s line %zu: %.*s", why, i + 1, (int)len, text);
}

/* ---- the delivery loop --------------------------------------------- */

static enum influx_outcome classify(const struct answer *a)
{
    return a->curl == CURLE_OK ? influx_classify(a->status, a->body) : INFLUX_RETRY;
}

static void set_state(struct influx *ix, bool connected, bool auth_failed, uint64_t delivered,
                      uint64_t failed, uint64_t rejected)
{
    pthread_mutex_lock(&ix->lock);
    ix->connected = connected;
    ix->auth_failed = auth_failed;
    ix->delivered += delivered;
    ix->failed += failed;
    ix->rejected += rejected;
    pthread_mutex_unlock(&ix->lock);
}

/*
 * What the delivery loop carries from one request to the next.  When a
 * server refuses a whole request, for its size (413) or because of a line
 * in it (400/422, nothing stored), the next requests carry half as many
 * lines, until it goes through or the line at fault is alone.  After a
 * line at fault is found, requests are full again; after a 413 they grow
 * back slowly, never to the size the server refused.
 */
struct delivery {
    CURL *curl;
    size_t max_records;     /* batch_lines, less after a split */
    size_t too_large;       /* the smallest body refused with 413, bytes (0: none) */
    double line_bytes;      /* average size of a line in the last request */
    unsigned ok_small;      /* requests delivered since max_records was reduced */
    int64_t backoff_ms;     /* the next wait after a failure; 0 after a success */
    unsigned failures;      /* consecutive failed attempts */
    bool auth_logged;
    int64_t db_created_ms;  /* when creating the database was last tried */
};

/* Double max_records after GROW_AFTER_OK requests went through, up to
 * batch_lines, and to 90% of the size refused with 413 (lines vary). */
static void grow_back(struct influx *ix, struct delivery *d)
{
    size_t max = (size_t)ix->cfg->influx.batch_lines;
    double fits = d->too_large && d->line_bytes > 0 ? 0.9 * (double)d->too_large / d->line_bytes : (double)max;
    if (fits < (double)max)
        max = (size_t)fits;
    if (max < 1)
        max = 1;
    if (d->max_records >= max || ++d->ok_small < GROW_AFTER_OK)
        return;
    d->max_records = d->max_records * 2 < max ? d->max_records * 2 : max;
    d->ok_small = 0;
}

/* A request went through (stored, or lines refused for good). */
static void on_progress(struct influx *ix, struct delivery *d, const struct request *r)
{
    if (d->failures)
        log_info("influxdb: delivering again after %u failed attempts", d->failures);
    d->failures = 0;
    d->backoff_ms = 0;
    d->auth_logged = false;
    d->line_bytes = (double)r->n_bytes / (double)r->n_records;
    grow_back(ix, d);
}

static void on_delivered(struct influx *ix, struct delivery *d, const struct request *r)
{
    request_commit(ix, r);
    set_state(ix, true, false, r->n_records, 0, 0);
    on_progress(ix, d, r);
}

/* A partial write: the server stored the rest and refused some lines
 * for good.  Log, count, commit. */
static void on_partial(struct influx *ix, const struct request *r, const struct answer *a)
{
    char msg[MESSAGE_LOG_MAX];
    answer_message(a, msg, sizeof msg);
    size_t n = influx_refused_count(a->body, r->n_records);
    log_error("influxdb: HTTP %ld: %s (%zu of %zu lines refused, not sent again)", a->status, msg,
              n, r->n_records);
    long culprit = influx_offending_line(msg, r->lines, r->n_records);
    if (culprit >= 0)
        log_line(r, (size_t)culprit, strstr(msg, "line ") ? "refused:" : "refused, e.g.");
    request_commit(ix, r);
    set_state(ix, true, false, r->n_records - n, 0, n);
}

/*
 * The server refused the whole request for its size (413), or because of
 * some line (400/422 about lines, nothing stored).  A lone line is
 * refused for good: logged, counted, committed.  Otherwise the next
 * requests carry half as many lines (struct delivery).
 */
static void on_split(struct influx *ix, struct delivery *d, const struct request *r, const struct answer *a)
{
    char msg[MESSAGE_LOG_MAX];
    bool size = a->status == 413;
    answer_message(a, msg, sizeof msg);
    if (size && (!d->too_large || r->n_bytes < d->too_large))
        d->too_large = r->n_bytes;
    if (r->n_records > 1) {
        d->max_records = r->n_records / 2;
        d->ok_small = 0;
        log_warning("influxdb: HTTP %ld: %s; request of %zu lines (%zu bytes) refused whole, sending %zu at a time",
                    a->status, msg, r->n_records, r->n_bytes, d->max_records);
        spool_rewind(ix->spool);
        set_state(ix, true, false, 0, 1, 0);
        return;
    }
    if (size)
        log_error("influxdb: HTTP 413: a single line of %zu bytes is larger than the server accepts "
                  "(refused, not sent again)", r->n_bytes);
    else
        log_error("influxdb: HTTP %ld: %s (line refused, not sent again)", a->status, msg);
    log_line(r, 0, "refused:");
    request_commit(ix, r);
    set_state(ix, true, false, 0, 0, 1);
    if (!size)   /* the line at fault is found: full requests again */
        d->max_records = (size_t)ix->cfg->influx.batch_lines;
    on_progress(ix, d, r);
}

/* The next backoff wait: 1 s doubling to 60 s, or what Retry-After says. */
static int64_t next_backoff(struct delivery *d, const struct answer *a)
{
    d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (d->backoff_ms > BACKOFF_MAX_MS)
        d->backoff_ms = BACKOFF_MAX_MS;
    return a->retry_after_s >= 0 ? a->retry_after_s * 1000 : d->backoff_ms;
}

/* A failure to retry: log the first of a series, then back off.  Returns
 * how long to wait. */
static int64_t on_failed(struct influx *ix, struct delivery *d, const struct answer *a, enum influx_outcome o)
{
    char msg[MESSAGE_LOG_MAX];
    bool auth = o == INFLUX_AUTH;
    int64_t wait = auth ? AUTH_RETRY_MS : next_backoff(d, a);
    answer_message(a, msg, sizeof msg);
    if (auth && !d->auth_logged)
        log_error("influxdb: HTTP %ld: credentials refused: %s (retrying every %d s)", a->status, msg,
                  AUTH_RETRY_MS / 1000);
    else if (!auth && d->failures == 0 && a->curl != CURLE_OK)
        log_warning("influxdb: cannot deliver: %s (retrying, records wait in the spool)", msg);
    else if (!auth && d->failures == 0)
        log_warning("influxdb: HTTP %ld: %s (retrying, records wait in the spool)", a->status, msg);
    else
        log_debug("influxdb: attempt %u failed (HTTP %ld: %s); next in %" PRId64 " ms", d->failures + 1,
                  a->status, msg, wait);
    d->auth_logged |= auth;
    d->failures++;
    set_state(ix, false, auth, 0, 1, 0);
    return wait;
}

/* InfluxDB 1.x answers 404 "database not found" to writes into a
 * database that does not exist yet: create it (as collectors commonly do),
 * so that a fresh server needs no manual step.  The write is retried after
 * this either way; a refusal (no admin right) is logged and the records
 * wait in the spool as for any other failure. */
static void create_database(struct influx *ix)
{
    const struct gw_influx_cfg *c = &ix->cfg->influx;
    CURL *curl = curl_easy_init();
    char *q = NULL, *url = NULL;
    if (!curl || asprintf(&q, "CREATE DATABASE \"%s\"", c->database) < 0) {
        curl_easy_cleanup(curl);
        return;
    }
    const char *const args[][2] = { { "q", q } };
    url = build_url(curl, c->url, "/query", args, 1);
    curl_setup(ix, curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    struct answer a = { .retry_after_s = -1 };
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, answer_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
    CURLcode rc = url ? curl_easy_perform(curl) : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
    if (rc == CURLE_OK && a.status / 100 == 2)
        log_info("influxdb: created database \"%s\"", c->database);
    else
        log_warning("influxdb: cannot create database \"%s\" (HTTP %ld)", c->database, a.status);
    free(a.body);
    free(url);
    free(q);
    curl_easy_cleanup(curl);
}

static bool database_missing(const struct gw_influx_cfg *c, const struct answer *a)
{
    bool v1 = !c->api || strcmp(c->api, "v2") != 0;
    return v1 && a->curl == CURLE_OK && a->status == 404 && a->body && strstr(a->body, "database not found");
}

/* Send one gathered request until it is delivered, refused for good or
 * split, or the sink stops (the records then stay in the spool). */
static void deliver(struct influx *ix, struct delivery *d, const struct request *r)
{
    while (!atomic_load(&ix->stopping)) {
        struct answer a;
        int rc = post(ix, d->curl, r, &a);
        if (rc) {
            log_error("influxdb: cannot prepare a request: %s", strerror(-rc));
            if (wait_or_stop(ix, BACKOFF_FIRST_MS))
                return;
            continue;
        }
        enum influx_outcome o = classify(&a);
        int64_t wait = 0;
        if (database_missing(&ix->cfg->influx, &a) && now_ms() - d->db_created_ms > DB_CREATE_EVERY_MS) {
            d->db_created_ms = now_ms();
            create_database(ix);
            free(a.body);
            continue;
        }
        switch (o) {
        case INFLUX_DELIVERED: on_delivered(ix, d, r); break;
        case INFLUX_PARTIAL: on_partial(ix, r, &a); on_progress(ix, d, r); break;
        case INFLUX_REFUSED: case INFLUX_TOO_LARGE: on_split(ix, d, r, &a); break;
        default: wait = on_failed(ix, d, &a, o); break;
        }
        free(a.body);
        if (o != INFLUX_AUTH && o != INFLUX_RETRY)
            return;
        if (wait_or_stop(ix, wait))
            return;
    }
}

static void *delivery_main(void *arg)
{
    struct influx *ix = arg;
    struct delivery d = { .max_records = (size_t)ix->cfg->influx.batch_lines };
    if (!(d.curl = curl_easy_init())) {
        log_error("influxdb: cannot create an HTTP client; nothing will be delivered");
        return NULL;
    }
    curl_setup(ix, d.curl);
    spool_rewind(ix->spool);   /* after a stop and start: from the committed position */
    while (!atomic_load(&ix->stopping)) {
        struct request r = { 0 };
        int n = request_gather(ix, &r, d.max_records, BODY_MAX_BYTES);
        if (n < 0) {
            log_error("influxdb: cannot read the spool: %s", strerror(-n));
            spool_rewind(ix->spool);
            wait_or_stop(ix, BACKOFF_FIRST_MS);
        } else if (n > 0) {
            deliver(ix, &d, &r);
        }
        request_free(&r);
    }
    spool_rewind(ix->spool);
    curl_easy_cleanup(d.curl);
    return NULL;
}

/* ---- life cycle ---------------------------------------------------- */

static bool influx_configured(const struct gw_config *cfg)
{
    return cfg->influx.present;
}

/* url + path + escaped query arguments (NULL values left out). */
static char *build_url(CURL *curl, const char *url, const char *path, const char *const args[][2], size_t n)
{
    size_t ulen = strlen(url);
    while (ulen && url[ulen - 1] == '/')
        ulen--;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f, "%.*s%s", (int)ulen, url, path);
    char sep = '?';
    for (size_t i = 0; i < n; i++) {
        if (!args[i][1])
            continue;
        char *esc = curl_easy_escape(curl, args[i][1], 0);
        fprintf(f, "%c%s=%s", sep, args[i][0], esc ? esc : "");
        curl_free(esc);
        sep = '&';
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static char *write_url(const struct gw_influx_cfg *c)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return NULL;
    char *url;
    if (c->api && strcmp(c->api, "v2") == 0) {
        const char *const args[][2] = { { "org", c->org }, { "bucket", c->bucket }, { "precision", "ms" } };
        url = build_url(curl, c->url, "/api/v2/write", args, 3);
    } else {
        const char *const args[][2] = { { "db", c->database }, { "rp", c->retention_policy },
                                        { "precision", "ms" } };
        url = build_url(curl, c->url, "/write", args, 3);
    }
    curl_easy_cleanup(curl);
    return url;
}

/* Read a secret named in the configuration; relative names are relative
 * to the configuration file's directory. */
static int read_secret(const struct gw_config *cfg, const char *key, const char *name, char **out)
{
    char why[512];
    char *file = cfg->file ? strdup(cfg->file) : NULL;
    int rc = secret_read(name, file ? dirname(file) : NULL, out, why, sizeof why);
    free(file);
    if (rc)
        log_error("influxdb: %s: %s", key, why);
    return rc;
}

static int read_secrets(struct influx *ix)
{
    const struct gw_influx_cfg *c = &ix->cfg->influx;
    int rc = 0;
    if (c->username && !(ix->username = strdup(c->username)))
        return -ENOMEM;
    if (c->password_file)
        rc = read_secret(ix->cfg, "password_file", c->password_file, &ix->password);
    if (!rc && c->token_file)
        rc = read_secret(ix->cfg, "token_file", c->token_file, &ix->token);
    return rc;
}

static int build_headers(struct influx *ix)
{
    struct curl_slist *h = NULL, *next;
    const char *fixed[] = { "Content-Type: text/plain; charset=utf-8", "Expect:",
                            ix->cfg->influx.gzip ? "Content-Encoding: gzip" : NULL };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (!fixed[i])
            continue;
        if (!(next = curl_slist_append(h, fixed[i])))
            goto oom;
        h = next;
    }
    if (ix->token) {
        char *auth = NULL;
        if (asprintf(&auth, "Authorization: Token %s", ix->token) < 0)
            goto oom;
        next = curl_slist_append(h, auth);
        explicit_bzero(auth, strlen(auth));
        free(auth);
        if (!next)
            goto oom;
        h = next;
    }
    ix->headers = h;
    return 0;
oom:
    curl_slist_free_all(h);
    return -ENOMEM;
}

/* The headers hold the token: wipe them. */
static void headers_free(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

static void influx_destroy(void *impl);

static int influx_create(const struct gw_config *cfg, struct gw_spool *spool, void **impl)
{
    *impl = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("influxdb: cannot initialise libcurl");
        return -EIO;
    }
    struct influx *ix = calloc(1, sizeof *ix);
    if (!ix) {
        curl_global_cleanup();
        return -ENOMEM;
    }
    ix->cfg = cfg;
    ix->spool = spool;
    pthread_mutex_init(&ix->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ix->wake, &attr);
    pthread_condattr_destroy(&attr);
    int rc = read_secrets(ix);
    if (!rc)
        rc = build_headers(ix);
    if (!rc && !(ix->write_url = write_url(&cfg->influx)))
        rc = -ENOMEM;
    if (rc) {
        if (rc == -ENOMEM)
            log_error("influxdb: out of memory");
        influx_destroy(ix);
        return rc;
    }
    *impl = ix;
    return 0;
}

static int influx_start(void *impl)
{
    struct influx *ix = impl;
    if (ix->running)
        return 0;
    atomic_store(&ix->stopping, false);
    int rc = pthread_create(&ix->thread, NULL, delivery_main, ix);
    if (rc) {
        log_error("influxdb: cannot start the delivery thread: %s", strerror(rc));
        return -rc;
    }
    ix->running = true;
    log_info("influxdb: delivering to %s", ix->write_url);
    return 0;
}

static void influx_stop(void *impl)
{
    struct influx *ix = impl;
    if (!ix || !ix->running)
        return;
    pthread_mutex_lock(&ix->lock);
    atomic_store(&ix->stopping, true);
    pthread_cond_broadcast(&ix->wake);
    pthread_mutex_unlock(&ix->lock);
    spool_wake(ix->spool);
    pthread_join(ix->thread, NULL);
    ix->running = false;
}

static void influx_state(void *impl, struct gw_health_sink *out)
{
    struct influx *ix = impl;
    memset(out, 0, sizeof *out);
    out->name = sink_influx_ops.name;
    pthread_mutex_lock(&ix->lock);
    out->connected = ix->connected;
    out->auth_failed = ix->auth_failed;
    out->delivered = ix->delivered;
    out->failed = ix->failed;
    out->rejected = ix->rejected;
    pthread_mutex_unlock(&ix->lock);
    spool_stats(ix->spool, &out->spool);
}

static void influx_destroy(void *impl)
{
    struct influx *ix = impl;
    if (!ix)
        return;
    influx_stop(ix);
    headers_free(ix->headers);
    free(ix->write_url);
    free(ix->username);
    secret_free(ix->password);
    secret_free(ix->token);
    lp_buf_free(&ix->enc);
    pthread_cond_destroy(&ix->wake);
    pthread_mutex_destroy(&ix->lock);
    free(ix);
    curl_global_cleanup();
}

const struct gw_sink_ops sink_influx_ops = {
    .name = "influxdb",
    .configured = influx_configured,
    .create = influx_create,
    .submit_sample = influx_submit_sample,
    .submit_health = influx_submit_health,
    .submit_alarm = influx_submit_alarm,
    .start = influx_start,
    .stop = influx_stop,
    .state = influx_state,
    .destroy = influx_destroy,
};
