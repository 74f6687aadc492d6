#include "notify_deliver.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "notify_format.h"
#include "scheduler.h"
#include "secret.h"

enum {
    WAIT_SLICE_MS = 500,              /* longest wait in spool_read between stop checks */
    BACKOFF_FIRST_MS = 1000,
    BACKOFF_MAX_MS = 300 * 1000,
    RETRY_AFTER_MAX_S = 3600,
    ANSWER_MAX = 8192,                /* the part of an answer kept for the log */
};

/* Notifications are few and each one matters: every append reaches the
 * disk before it returns, within a budget no real backlog comes near. */
static const struct gw_spool_options outbox_spool_options = {
    .max_bytes = 16u * 1024 * 1024,
    .segment_bytes = 256u * 1024,
    .fsync_interval_ms = 0,
};

struct notify_outbox {
    const struct gw_notify_target_cfg *t;
    char *url;                 /* from url or url_file */
    char *secret;              /* PagerDuty's routing key, or the signing secret; NULL if none */
    struct gw_spool *spool;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    pthread_mutex_t lock;      /* with cond: wakes backoff waits (stop) and idle waits (progress) */
    pthread_cond_t cond;
    atomic_uint_fast64_t delivered, failed, dropped;
    atomic_bool failing;
};

/* The delivery thread's own: the handle and where a series of failures is. */
struct delivery {
    CURL *curl;
    int64_t backoff_ms;
    unsigned failures;
};

struct answer {
    CURLcode curl;
    char curl_error[CURL_ERROR_SIZE];
    long status;
    long retry_after_s;        /* -1: none */
    char body[ANSWER_MAX + 1];
    size_t len;
};

/* ---- opening ------------------------------------------------------------ */

static int read_secret(const struct gw_notify_target_cfg *t, const char *key, const char *name, char **out)
{
    char why[512];
    int rc = secret_read(name, t->base_dir, out, why, sizeof why);
    if (rc)
        log_error("notify target '%s': %s: %s", t->id, key, why);
    return rc == -ENOMEM ? rc : rc ? -EINVAL : 0;
}

static int read_secrets(struct notify_outbox *o)
{
    const struct gw_notify_target_cfg *t = o->t;
    int rc = 0;
    if (t->url_file)
        rc = read_secret(t, "url_file", t->url_file, &o->url);
    else if (!(o->url = strdup(t->url ? t->url : GW_PAGERDUTY_URL)))
        rc = -ENOMEM;
    if (!rc && t->routing_key_file)
        rc = read_secret(t, "routing_key_file", t->routing_key_file, &o->secret);
    else if (!rc && t->secret_file)
        rc = read_secret(t, "secret_file", t->secret_file, &o->secret);
    return rc;
}

static int init_sync(struct notify_outbox *o)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr))
        return -ENOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&o->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc)
        return -rc;
    if ((rc = pthread_mutex_init(&o->lock, NULL))) {
        pthread_cond_destroy(&o->cond);
        return -rc;
    }
    return 0;
}

int notify_outbox_open(const struct gw_notify_target_cfg *t, const char *spool_dir, struct notify_outbox **out)
{
    *out = NULL;
    struct notify_outbox *o = calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->t = t;
    int rc = init_sync(o);
    if (rc) {
        free(o);
        return rc;
    }
    rc = read_secrets(o);
    char *dir = NULL;
    if (!rc && asprintf(&dir, "%s/notify/%s", spool_dir, t->id) < 0)
        rc = -ENOMEM;
    if (!rc && (rc = spool_open(dir, &outbox_spool_options, &o->spool)))
        log_error("notify target '%s': cannot open the spool %s: %s", t->id, dir, strerror(-rc));
    free(dir);
    if (rc) {
        notify_outbox_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

int notify_outbox_append(struct notify_outbox *o, const char *body)
{
    char *record = NULL;
    int len = asprintf(&record, "%s\n%s", gw_notify_type_names[o->t->type], body);
    if (len < 0)
        return -ENOMEM;
    int rc = spool_append(o->spool, record, (size_t)len);
    free(record);
    if (rc)
        log_error("notify target '%s': cannot queue a notification: %s", o->t->id, strerror(-rc));
    return rc;
}

/* ---- one request -------------------------------------------------------- */

static size_t answer_write(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t len = size * n, room = ANSWER_MAX - a->len;
    size_t keep = len < room ? len : room;
    memcpy(a->body + a->len, data, keep);
    a->len += keep;
    a->body[a->len] = '\0';
    return len;
}

/* Aborts the transfer in flight when the outbox stops. */
static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct notify_outbox *o = arg;
    return atomic_load(&o->stopping) ? 1 : 0;
}

/* The options that stay the same for every request. */
static void curl_setup(struct notify_outbox *o, CURL *curl)
{
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)o->t->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "greenwatch/" GW_VERSION);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->t->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, o->t->ca_file);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, o);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, answer_write);
}

/* The url and body as sent, and the headers: credentials go in here. */
struct request {
    char *url, *body;
    struct curl_slist *headers;
};

static void request_free(struct request *r)
{
    free(r->url);
    free(r->body);
    curl_slist_free_all(r->headers);
}

static int add_header(struct curl_slist **list, const char *h)
{
    struct curl_slist *next = curl_slist_append(*list, h);
    if (!next)
        return -ENOMEM;
    *list = next;
    return 0;
}

static int request_build(struct notify_outbox *o, const char *body, struct request *r)
{
    const struct gw_notify_target_cfg *t = o->t;
    if (t->type == GW_NOTIFY_PAGERDUTY)
        r->body = notify_format_with_routing_key(body, o->secret);
    else
        r->body = strdup(body);
    if (t->type == GW_NOTIFY_DINGTALK && o->secret)
        r->url = notify_dingtalk_url(o->url, o->secret, clock_wall_ms());
    else
        r->url = strdup(o->url);
    if (!r->body || !r->url || add_header(&r->headers, "Content-Type: application/json; charset=utf-8") ||
        add_header(&r->headers, "Expect:"))
        return -ENOMEM;
    if (t->type == GW_NOTIFY_WEBHOOK && o->secret) {
        char sig[96], header[128];
        notify_webhook_signature(o->secret, r->body, strlen(r->body), sig, sizeof sig);
        snprintf(header, sizeof header, "X-Greenwatch-Signature: %s", sig);
        if (add_header(&r->headers, header))
            return -ENOMEM;
    }
    return 0;
}

static void post(struct delivery *d, const struct request *r, struct answer *a)
{
    memset(a, 0, sizeof *a);
    a->retry_after_s = -1;
    CURL *curl = d->curl;
    curl_easy_setopt(curl, CURLOPT_URL, r->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, a->curl_error);
    a->curl = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);   /* a lives on the caller's stack */
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(curl, CURLOPT_URL, NULL);
    if (a->curl == CURLE_OK) {
        curl_off_t retry_after = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
        if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
            a->retry_after_s = retry_after > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (long)retry_after;
    }
}

/* Send one record; *wait_ms gets how long to wait before a retry. */
static enum notify_verdict send_record(struct notify_outbox *o, struct delivery *d, const struct gw_spool_record *rec,
                                       int64_t *wait_ms)
{
    const struct gw_notify_target_cfg *t = o->t;
    const char *type = gw_notify_type_names[t->type];
    size_t type_len = strlen(type);
    *wait_ms = 0;
    if (rec->len <= type_len || memcmp(rec->data, type, type_len) != 0 || ((const char *)rec->data)[type_len] != '\n') {
        log_error("notify target '%s': a queued notification is not of type \"%s\" (the target changed type?); "
                  "dropped", t->id, type);
        return NOTIFY_REJECTED;
    }
    char *body = strndup((const char *)rec->data + type_len + 1, rec->len - type_len - 1);
    struct request r = { 0 };
    int rc = body ? request_build(o, body, &r) : -ENOMEM;
    free(body);
    if (rc) {
        request_free(&r);
        log_error("notify target '%s': out of memory preparing a request", t->id);
        *wait_ms = BACKOFF_FIRST_MS;
        return NOTIFY_RETRY;
    }
    struct answer a;
    post(d, &r, &a);
    request_free(&r);
    if (atomic_load(&o->stopping) && a.curl != CURLE_OK)
        return NOTIFY_RETRY;  /* aborted: sent again after the next start */
    char why[512];
    int min_wait_s = 0;
    enum notify_verdict v;
    if (a.curl != CURLE_OK) {
        v = NOTIFY_RETRY;
        snprintf(why, sizeof why, "%s", a.curl_error[0] ? a.curl_error : curl_easy_strerror(a.curl));
    } else {
        v = notify_classify(t->type, a.status, a.body, &min_wait_s, why, sizeof why);
    }
    if (v == NOTIFY_REJECTED)
        log_error("notify target '%s': refused, notification dropped: %s", t->id, why);
    if (v != NOTIFY_RETRY)
        return v;
    d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (d->backoff_ms > BACKOFF_MAX_MS)
        d->backoff_ms = BACKOFF_MAX_MS;
    int64_t wait = a.retry_after_s >= 0 ? a.retry_after_s * 1000 : d->backoff_ms;
    if (wait < (int64_t)min_wait_s * 1000)
        wait = (int64_t)min_wait_s * 1000;
    if (d->failures == 0)
        log_warning("notify target '%s': cannot deliver: %s (retrying; notifications wait in the spool)", t->id, why);
    else
        log_debug("notify target '%s': attempt %u failed: %s; next in %" PRId64 " ms", t->id, d->failures + 1, why, wait);
    *wait_ms = wait;
    return v;
}

/* ---- the delivery thread ------------------------------------------------ */

static struct timespec mono_deadline(int64_t deadline_ns)
{
    return (struct timespec){ .tv_sec = deadline_ns / GW_NS_PER_S, .tv_nsec = deadline_ns % GW_NS_PER_S };
}

/* Wait ms, or less if the outbox stops.  Returns true if it stops. */
static bool wait_or_stop(struct notify_outbox *o, int64_t ms)
{
    struct timespec until = mono_deadline(clock_mono_ns() + ms * GW_NS_PER_MS);
    pthread_mutex_lock(&o->lock);
    while (!atomic_load(&o->stopping) && pthread_cond_timedwait(&o->cond, &o->lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&o->lock);
    return atomic_load(&o->stopping);
}

/* Wake idle waiters: something was delivered or dropped. */
static void progressed(struct notify_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

static void deliver_one(struct notify_outbox *o, struct delivery *d, struct gw_spool_batch *batch)
{
    int64_t wait_ms;
    enum notify_verdict v = send_record(o, d, &batch->records[0], &wait_ms);
    if (v == NOTIFY_RETRY) {
        spool_rewind(o->spool);
        if (!atomic_load(&o->stopping)) {
            atomic_fetch_add(&o->failed, 1);
            atomic_store(&o->failing, true);
            d->failures++;
            wait_or_stop(o, wait_ms);
        }
        return;
    }
    /* Counted before the commit: whoever sees the spool empty sees the counts. */
    if (v == NOTIFY_DELIVERED) {
        atomic_fetch_add(&o->delivered, 1);
        if (d->failures)
            log_info("notify target '%s': delivering again after %u failed attempts", o->t->id, d->failures);
    } else {
        atomic_fetch_add(&o->dropped, 1);
    }
    atomic_store(&o->failing, false);
    int rc = spool_commit(o->spool, batch);
    if (rc)
        log_error("notify target '%s': cannot record the delivery: %s", o->t->id, strerror(-rc));
    d->failures = 0;
    d->backoff_ms = 0;
    progressed(o);
}

static void *deliver_main(void *arg)
{
    struct notify_outbox *o = arg;
    struct delivery d = { .curl = curl_easy_init() };
    if (!d.curl) {
        log_error("notify target '%s': cannot create an HTTP client; notifications wait in the spool", o->t->id);
        return NULL;
    }
    curl_setup(o, d.curl);
    spool_rewind(o->spool);   /* after a stop and start: from the committed position */
    while (!atomic_load(&o->stopping)) {
        struct gw_spool_batch batch = { 0 };
        int n = spool_read(o->spool, 1, GW_SPOOL_MAX_RECORD, WAIT_SLICE_MS, &batch);
        if (n < 0) {
            log_error("notify target '%s': cannot read the spool: %s", o->t->id, strerror(-n));
            wait_or_stop(o, BACKOFF_FIRST_MS);
        } else if (n > 0) {
            deliver_one(o, &d, &batch);
        }
        spool_batch_free(&batch);
    }
    spool_rewind(o->spool);
    curl_easy_cleanup(d.curl);
    return NULL;
}

int notify_outbox_start(struct notify_outbox *o)
{
    if (o->started)
        return 0;
    atomic_store(&o->stopping, false);
    int rc = pthread_create(&o->thread, NULL, deliver_main, o);
    if (rc)
        return -rc;
    o->started = true;
    return 0;
}

void notify_outbox_stop(struct notify_outbox *o)
{
    if (!o || !o->started)
        return;
    pthread_mutex_lock(&o->lock);
    atomic_store(&o->stopping, true);
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
    spool_wake(o->spool);
    pthread_join(o->thread, NULL);
    o->started = false;
}

bool notify_outbox_wait_idle(struct notify_outbox *o, int64_t deadline_ns)
{
    struct timespec until = mono_deadline(deadline_ns);
    struct gw_spool_stats st;
    pthread_mutex_lock(&o->lock);
    for (;;) {
        spool_stats(o->spool, &st);
        if (st.depth_records == 0 || pthread_cond_timedwait(&o->cond, &o->lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&o->lock);
    spool_stats(o->spool, &st);
    return st.depth_records == 0;
}

void notify_outbox_stats(struct notify_outbox *o, struct notify_outbox_stats *out)
{
    *out = (struct notify_outbox_stats){
        .delivered = atomic_load(&o->delivered),
        .failed = atomic_load(&o->failed),
        .dropped = atomic_load(&o->dropped),
        .failing = atomic_load(&o->failing),
    };
    spool_stats(o->spool, &out->spool);
}

void notify_outbox_free(struct notify_outbox *o)
{
    if (!o)
        return;
    notify_outbox_stop(o);
    spool_close(o->spool);
    secret_free(o->secret);
    secret_free(o->url);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
    free(o);
}
