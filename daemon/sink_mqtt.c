/*
 * The MQTT sink (DESIGN.md, "MQTT").  The main thread turns samples,
 * health reports, alarm transitions and command results into messages and
 * appends them to the sink's spool; the
 * delivery thread publishes them with paho's asynchronous client and
 * commits a batch only once the broker has acknowledged all of it.  A
 * lost connection rewinds the spool and the batch is sent again after
 * reconnecting: delivery is at least once, duplicates are possible.
 *
 * Not spooled: <prefix>/status, "online" (retained) on every connect and
 * "offline" (retained) on a clean stop and as the last will.
 *
 * Commands come in on the same connection: each client subscribes to the
 * command topics once connected, and what arrives is queued for the main
 * thread (mqtt_commands.h), which answers through the spool.
 */
#include "sink.h"

#include <MQTTAsync.h>
#include <MQTTReasonCodes.h>
#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alarm_json.h"
#include "log.h"
#include "mqtt_commands.h"
#include "mqtt_conn.h"
#include "rules/rules.h"
#include "sample.h"

enum {
    BATCH_RECORDS = 100,        /* = MAX_INFLIGHT: a batch is in flight at once */
    BATCH_BYTES = 1 << 20,
    MAX_INFLIGHT = 100,
    MAX_BUFFERED = 1000,        /* paho's queue: a batch plus the status messages */
    READ_WAIT_MS = 500,         /* how long a stop may wait for spool_read */
    CONNECT_TIMEOUT_S = 10,
    ACK_TIMEOUT_MS = 30000,     /* a connected broker that acknowledges nothing */
    STOP_GRACE_MS = 3000,       /* after stop(): for the batch in flight, then for "offline" */
    BACKOFF_MIN_MS = 1000,
    BACKOFF_MAX_MS = 30000,
    STABLE_MS = 10000,          /* a connection lost sooner backs off too (flapping) */
    RECORD_HEAD = 4,
};

enum avail { AVAIL_UNKNOWN, AVAIL_ONLINE, AVAIL_OFFLINE };
enum outcome { OUT_ACKED, OUT_REFUSED, OUT_LOST };

struct mqtt_sink;

/* One message waiting for its acknowledgement; the callbacks' context. */
struct pub_slot {
    struct mqtt_sink *sink;
    bool waiting;
    int outcome;                /* enum outcome, once !waiting */
    int reason;                 /* the broker's reason code when refused (MQTT 5) */
};

struct mqtt_sink {
    const struct gw_config *cfg;
    const struct gw_mqtt_cfg *m;
    struct gw_spool *spool;
    struct gw_mqtt_conn conn;   /* the broker's address, TLS files, password */
    char *status_topic, *health_topic, *event_topic, *result_topic;
    struct mqtt_commands *commands;         /* <prefix>/cmd/<kind>, to the main thread */

    /* Main thread only. */
    unsigned char *avail;       /* enum avail per cfg->devices[i] */

    /* Delivery thread only. */
    MQTTAsync client;           /* NULL between connections */
    pthread_t thread;
    bool running;
    char last_error[512];       /* the last connect failure logged */
    unsigned attempts;          /* failed connects since the last success */
    long long up_since_ms;      /* when the current connection was made */

    /* Shared with paho's threads and the main thread, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* CLOCK_MONOTONIC */
    bool stopping;
    long long stop_at_ms;
    bool connected, connect_done;
    char connect_why[256];
    char tls_why[256];
    size_t unacked;             /* batch messages still waiting */
    bool batch_lost;
    struct pub_slot slots[BATCH_RECORDS];
    struct pub_slot control;    /* the status message and the disconnect */
    uint64_t delivered, rejected;
    uint64_t failed;            /* connects and batches that failed */
    bool auth_failed;           /* the broker refused our credentials */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait on s->cond (lock held) until deadline_ms; false once it passed. */
static bool wait_until(struct mqtt_sink *s, long long deadline_ms)
{
    if (now_ms() >= deadline_ms)
        return false;
    struct timespec ts = { .tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000 };
    pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    return true;
}

/* The deadline after which a stopping sink gives up waiting. */
static long long grace_deadline(const struct mqtt_sink *s, long long deadline_ms)
{
    if (s->stopping && s->stop_at_ms + STOP_GRACE_MS < deadline_ms)
        return s->stop_at_ms + STOP_GRACE_MS;
    return deadline_ms;
}

/* ---- spool records ------------------------------------------------------
 * A record is one MQTT message:
 *   [u8 qos][u8 flags: bit 0 = retain][u16 topic length, big-endian,
 *    with its NUL][topic][NUL][payload]
 * The NUL lets paho take the topic straight from the spool's memory.
 */

struct mqtt_msg {
    int qos;
    bool retain;
    const char *topic;
    const void *payload;
    size_t payload_len;
};

static int record_append(struct gw_spool *spool, const char *topic, int qos, bool retain,
                         const char *payload)
{
    size_t tlen = strlen(topic) + 1, plen = strlen(payload);
    if (tlen > UINT16_MAX)
        return -ENAMETOOLONG;
    unsigned char *rec = malloc(RECORD_HEAD + tlen + plen);
    if (!rec)
        return -ENOMEM;
    rec[0] = (unsigned char)qos;
    rec[1] = retain ? 1 : 0;
    rec[2] = (unsigned char)(tlen >> 8);
    rec[3] = (unsigned char)tlen;
    memcpy(rec + RECORD_HEAD, topic, tlen);
    memcpy(rec + RECORD_HEAD + tlen, payload, plen);
    int rc = spool_append(spool, rec, RECORD_HEAD + tlen + plen);
    free(rec);
    return rc;
}

/* Returns 0 and *m pointing into r, or -EBADMSG. */
static int record_decode(const struct gw_spool_record *r, struct mqtt_msg *m)
{
    const unsigned char *p = r->data;
    if (r->len < RECORD_HEAD + 2 || p[0] > 2 || p[1] > 1)
        return -EBADMSG;
    size_t tlen = (size_t)p[2] << 8 | p[3];
    const char *topic = (const char *)p + RECORD_HEAD;
    if (tlen < 2 || RECORD_HEAD + tlen > r->len || memchr(topic, '\0', tlen) != topic + tlen - 1)
        return -EBADMSG;
    *m = (struct mqtt_msg){ .qos = p[0], .retain = p[1], .topic = topic,
                            .payload = topic + tlen, .payload_len = r->len - RECORD_HEAD - tlen };
    return 0;
}

/* ---- the main thread: encoding ------------------------------------------ */

/* '+' and '#' are wildcards, invalid in a topic to publish on: a broker
 * would drop the connection for it, again on every resend. */
static bool topic_level_ok(const char *s)
{
    return *s && !strpbrk(s, "+#");
}

static int device_index(const struct gw_config *cfg, const struct gw_device_cfg *dev,
                        const char *id)
{
    uintptr_t p = (uintptr_t)dev, first = (uintptr_t)cfg->devices;
    if (dev && p >= first && p < (uintptr_t)(cfg->devices + cfg->n_devices))
        return (int)(dev - cfg->devices);
    const struct gw_device_cfg *found = config_find_device(cfg, id);
    return found ? (int)(found - cfg->devices) : -1;
}

/* Online when at least one reading is not bad (the device answered). */
static enum avail sample_availability(const struct gw_sample *sample)
{
    for (size_t i = 0; i < sample->n_readings; i++)
        if (sample->readings[i].quality != GW_QUALITY_BAD)
            return AVAIL_ONLINE;
    return AVAIL_OFFLINE;
}

/* Appends <prefix>/<device>/availability if it changed (or is not known
 * yet).  A device that is not in the configuration (index < 0) has no
 * state to compare with, and gets readings only.  0 or a negative errno. */
static int submit_availability(struct mqtt_sink *s, int index, const char *device,
                               enum avail now)
{
    if (index < 0 || s->avail[index] == now)
        return 0;
    char *topic = NULL;
    if (asprintf(&topic, "%s/%s/availability", s->m->topic_prefix, device) < 0)
        return -ENOMEM;
    int rc = record_append(s->spool, topic, s->m->qos, true,
                           now == AVAIL_ONLINE ? "online" : "offline");
    free(topic);
    if (rc == 0)
        s->avail[index] = (unsigned char)now;
    return rc;
}

static int mqtt_submit_sample(void *impl, const struct gw_sample *sample,
                              const struct gw_device_cfg *device)
{
    struct mqtt_sink *s = impl;
    const char *id = sample->device_id;
    if (!id || !topic_level_ok(id)) {
        log_error("mqtt: device id '%s' cannot be a topic level (empty, '+' or '#')", id ? id : "");
        return -EINVAL;
    }
    int rc = submit_availability(s, device_index(s->cfg, device, id), id,
                                 sample_availability(sample));
    if (rc)
        return rc;
    char *topic = NULL, *json = sample_to_json(sample, false);
    if (!json || asprintf(&topic, "%s/%s/reading", s->m->topic_prefix, id) < 0) {
        free(json);
        return -ENOMEM;
    }
    rc = record_append(s->spool, topic, s->m->qos, false, json);
    free(topic);
    free(json);
    return rc;
}

static void add_spool_stats(cJSON *o, const struct gw_spool_stats *st)
{
    cJSON_AddNumberToObject(o, "appended", (double)st->appended);
    cJSON_AddNumberToObject(o, "delivered", (double)st->delivered);
    cJSON_AddNumberToObject(o, "dropped", (double)st->dropped);
    cJSON_AddNumberToObject(o, "corrupt", (double)st->corrupt);
    cJSON_AddNumberToObject(o, "depth_records", (double)st->depth_records);
    cJSON_AddNumberToObject(o, "depth_bytes", (double)st->depth_bytes);
}

static void add_health_buses(cJSON *root, const struct gw_health *h)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "buses");
    for (size_t i = 0; arr && i < h->n_buses; i++) {
        const struct gw_health_bus *b = &h->buses[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", b->id);
        cJSON_AddBoolToObject(o, "connected", b->connected);
        cJSON_AddNumberToObject(o, "requests", (double)b->requests);
        cJSON_AddNumberToObject(o, "errors", (double)b->errors);
        cJSON_AddNumberToObject(o, "timeouts", (double)b->timeouts);
        cJSON_AddNumberToObject(o, "reconnects", (double)b->reconnects);
        cJSON_AddItemToArray(arr, o);
    }
}

static void add_health_devices(cJSON *root, const struct gw_health *h)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "devices");
    for (size_t i = 0; arr && i < h->n_devices; i++) {
        const struct gw_health_device *d = &h->devices[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", d->id);
        cJSON_AddBoolToObject(o, "online", d->online);
        cJSON_AddNumberToObject(o, "polls", (double)d->polls);
        cJSON_AddNumberToObject(o, "failed_polls", (double)d->failed_polls);
        cJSON_AddNumberToObject(o, "missed_polls", (double)d->missed_polls);
        cJSON_AddNumberToObject(o, "requests", (double)d->requests);
        cJSON_AddNumberToObject(o, "latency_ms", d->latency_ms);
        cJSON_AddItemToArray(arr, o);
    }
}

static void add_health_sinks(cJSON *root, const struct gw_health *h)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "sinks");
    for (size_t i = 0; arr && i < h->n_sinks; i++) {
        const struct gw_health_sink *k = &h->sinks[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", k->name);
        cJSON_AddBoolToObject(o, "connected", k->connected);
        cJSON_AddNumberToObject(o, "delivered", (double)k->delivered);
        cJSON_AddNumberToObject(o, "failed", (double)k->failed);
        cJSON_AddNumberToObject(o, "rejected", (double)k->rejected);
        cJSON_AddBoolToObject(o, "auth_failed", k->auth_failed);
        add_spool_stats(cJSON_AddObjectToObject(o, "spool"), &k->spool);
        cJSON_AddItemToArray(arr, o);
    }
}

/* The retained health document on <prefix>/status/health. */
static int mqtt_submit_health(void *impl, const struct gw_health *h)
{
    struct mqtt_sink *s = impl;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return -ENOMEM;
    cJSON_AddNumberToObject(root, "ts", (double)h->ts_ms);
    cJSON_AddNumberToObject(root, "uptime_s", h->uptime_s);
    add_health_buses(root, h);
    add_health_devices(root, h);
    add_health_sinks(root, h);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json)
        return -ENOMEM;
    int rc = record_append(s->spool, s->health_topic, s->m->qos, true, json);
    cJSON_free(json);
    return rc;
}

/* <prefix>/alarm/<device>/<rule>: the state document, or an empty payload
 * (which deletes the retained message) once the alarm is normal.  QoS 1,
 * retained.  seq may be NULL.  0 or a negative errno. */
static int append_alarm_state(struct mqtt_sink *s, const struct gw_alarm_info *a, const uint64_t *seq)
{
    if (!topic_level_ok(a->device) || !topic_level_ok(a->rule)) {
        log_error("mqtt: alarm '%s/%s' cannot be a topic (empty level, '+' or '#')", a->device, a->rule);
        return -EINVAL;
    }
    char *topic = NULL, *json = alarm_json_retained(a) ? alarm_json_state(a, seq) : strdup("");
    if (!json || asprintf(&topic, "%s/alarm/%s/%s", s->m->topic_prefix, a->device, a->rule) < 0) {
        free(json);
        return -ENOMEM;
    }
    int rc = record_append(s->spool, topic, 1, true, json);
    free(topic);
    free(json);
    return rc;
}

/* A transition: the alarm's retained state, then the event on
 * <prefix>/event/alarm (QoS 1, not retained). */
static int mqtt_submit_alarm(void *impl, const struct gw_alarm_event *ev)
{
    struct mqtt_sink *s = impl;
    int rc = append_alarm_state(s, &ev->alarm, &ev->seq);
    if (rc)
        return rc;
    char *json = alarm_json_event(ev);
    if (!json)
        return -ENOMEM;
    rc = record_append(s->spool, s->event_topic, 1, false, json);
    free(json);
    return rc;
}

static int mqtt_submit_alarm_state(void *impl, const struct gw_alarm_info *alarm)
{
    return append_alarm_state(impl, alarm, NULL);
}

static bool mqtt_next_command(void *impl, struct gw_command *out)
{
    struct mqtt_sink *s = impl;
    return mqtt_commands_next(s->commands, out);
}

/* <prefix>/cmd/result, QoS 1, not retained. */
static int mqtt_submit_command_result(void *impl, const struct gw_command_result *r)
{
    struct mqtt_sink *s = impl;
    char *json = command_result_json(r);
    if (!json)
        return -ENOMEM;
    int rc = record_append(s->spool, s->result_topic, 1, false, json);
    free(json);
    return rc;
}

/* ---- paho callbacks (paho's threads) ------------------------------------ */

static void slot_done(struct pub_slot *slot, int outcome, int reason)
{
    struct mqtt_sink *s = slot->sink;
    pthread_mutex_lock(&s->lock);
    if (slot->waiting) {
        slot->waiting = false;
        slot->outcome = outcome;
        slot->reason = reason;
        if (slot != &s->control)
            s->unacked--;
        if (outcome == OUT_LOST)
            s->batch_lost = true;
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
}

static void on_sent(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    slot_done(ctx, OUT_ACKED, 0);
}

static void on_sent5(void *ctx, MQTTAsync_successData5 *r)
{
    bool refused = r && r->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR;
    slot_done(ctx, refused ? OUT_REFUSED : OUT_ACKED, r ? (int)r->reasonCode : 0);
}

static void on_not_sent(void *ctx, MQTTAsync_failureData *r)
{
    (void)r;
    slot_done(ctx, OUT_LOST, 0);
}

/* With MQTT 5 the broker can refuse one message (e.g. not authorized)
 * and keep the connection: sending it again would not help. */
static void on_not_sent5(void *ctx, MQTTAsync_failureData5 *r)
{
    bool refused = r && r->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR;
    slot_done(ctx, refused ? OUT_REFUSED : OUT_LOST, r ? (int)r->reasonCode : 0);
}

static void connect_result(struct mqtt_sink *s, bool ok, bool auth_refused, const char *why)
{
    pthread_mutex_lock(&s->lock);
    s->connected = ok;
    s->connect_done = true;
    if (ok || auth_refused)
        s->auth_failed = auth_refused;
    snprintf(s->connect_why, sizeof s->connect_why, "%s", why ? why : "");
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void on_connected(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    connect_result(ctx, true, false, NULL);
}

static void on_connected5(void *ctx, MQTTAsync_successData5 *r)
{
    (void)r;
    connect_result(ctx, true, false, NULL);
}

/* MQTT 3.1.1 reports a refused CONNACK as its return code. */
static const char *connack_text(int code)
{
    static const char *const text[] = { NULL, "unacceptable protocol version",
        "client identifier rejected", "server unavailable", "bad user name or password",
        "not authorized" };
    if (code > 0 && code < (int)(sizeof text / sizeof *text))
        return text[code];
    const char *e = MQTTAsync_strerror(code);
    return e ? e : "connection failed";
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
    char why[256];
    int code = r ? r->code : MQTTASYNC_FAILURE;
    snprintf(why, sizeof why, "%s%s%s", connack_text(code), r && r->message ? ": " : "",
             r && r->message ? r->message : "");
    connect_result(ctx, false, code == 4 || code == 5, why);
}

static void on_connect_failed5(void *ctx, MQTTAsync_failureData5 *r)
{
    char why[256];
    const char *reason = r && r->reasonCode ? MQTTReasonCode_toString(r->reasonCode) : NULL;
    snprintf(why, sizeof why, "%s%s%s", reason ? reason : connack_text(r ? r->code : MQTTASYNC_FAILURE),
             r && r->message ? ": " : "", r && r->message ? r->message : "");
    bool auth = r && (r->reasonCode == MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD ||
                      r->reasonCode == MQTTREASONCODE_NOT_AUTHORIZED);
    connect_result(ctx, false, auth, why);
}

static void on_connection_lost(void *ctx, char *cause)
{
    struct mqtt_sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->connected = false;
    s->batch_lost = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    log_warning("mqtt: connection to %s lost%s%s", s->conn.uri, cause ? ": " : "", cause ? cause : "");
    free(cause);
}

/* OpenSSL's reasons for a failed handshake (certificate verify failed,
 * unknown CA, ...): kept for the connect failure's log line. */
static int on_tls_error(const char *str, size_t len, void *ctx)
{
    struct mqtt_sink *s = ctx;
    while (len && (str[len - 1] == '\n' || str[len - 1] == '\r'))
        len--;
    pthread_mutex_lock(&s->lock);
    snprintf(s->tls_why, sizeof s->tls_why, "%.*s", (int)len, str);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* ---- the delivery thread: connections ------------------------------------ */

static void set_callbacks(const struct mqtt_sink *s, MQTTAsync_responseOptions *o, void *ctx)
{
    o->context = ctx;
    if (s->m->version == 1) {
        o->onSuccess5 = on_sent5;
        o->onFailure5 = on_not_sent5;
    } else {
        o->onSuccess = on_sent;
        o->onFailure = on_not_sent;
    }
}

/* Publish a status message, not spooled; with wait, wait for its
 * acknowledgement up to the deadline. */
static void publish_status(struct mqtt_sink *s, const char *text, bool wait)
{
    pthread_mutex_lock(&s->lock);
    s->control.waiting = wait;
    pthread_mutex_unlock(&s->lock);
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    if (wait)
        set_callbacks(s, &o, &s->control);
    int rc = MQTTAsync_send(s->client, s->status_topic, (int)strlen(text), text, 1, 1, &o);
    pthread_mutex_lock(&s->lock);
    if (rc != MQTTASYNC_SUCCESS)
        s->control.waiting = false;
    long long deadline = grace_deadline(s, now_ms() + STOP_GRACE_MS);
    while (wait && s->control.waiting && wait_until(s, deadline))
        ;
    pthread_mutex_unlock(&s->lock);
    if (rc != MQTTASYNC_SUCCESS)
        log_warning("mqtt: cannot publish %s on %s: %s", text, s->status_topic, MQTTAsync_strerror(rc));
}

static void tls_options(struct mqtt_sink *s, MQTTAsync_SSLOptions *ssl)
{
    mqtt_conn_tls(&s->conn, ssl);
    ssl->ssl_error_cb = on_tls_error;
    ssl->ssl_error_context = s;
}

static int start_connect(struct mqtt_sink *s)
{
    bool v5 = s->m->version == 1;
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_connectOptions *o = v5 ? &co5 : &co;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    will.topicName = s->status_topic;
    will.message = "offline";
    will.retained = 1;
    will.qos = 1;
    o->will = &will;
    o->keepAliveInterval = s->m->keepalive_s;
    o->maxInflight = MAX_INFLIGHT;
    o->connectTimeout = CONNECT_TIMEOUT_S;
    o->username = s->m->username;
    o->password = s->conn.password;
    o->context = s;
    if (v5) {
        o->onSuccess5 = on_connected5;
        o->onFailure5 = on_connect_failed5;
    } else {
        o->onSuccess = on_connected;
        o->onFailure = on_connect_failed;
    }
    if (s->conn.tls) {
        tls_options(s, &ssl);
        o->ssl = &ssl;
    }
    return MQTTAsync_connect(s->client, o);
}

/*
 * A new client for every connection: after MQTTAsync_destroy() no
 * callback of the previous connection can arrive, so an acknowledgement
 * never lands in a later batch.
 *
 * MQTTCLIENT_PERSISTENCE_NONE: the spool already is the durable store,
 * and a batch is committed only once the broker acknowledged it.  Paho's
 * file persistence would keep a second copy of the messages in flight,
 * which after a restart it would send on top of the spool's replay (more
 * duplicates, twice the disk writes).
 */
static int create_client(struct mqtt_sink *s)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    MQTTAsync_createOptions co5 = MQTTAsync_createOptions_initializer5;
    MQTTAsync_createOptions *o = s->m->version == 1 ? &co5 : &co;
    o->maxBufferedMessages = MAX_BUFFERED;
    int rc = MQTTAsync_createWithOptions(&s->client, s->conn.uri, s->m->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, o);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setConnectionLostCallback(s->client, s, on_connection_lost);
    if (rc == MQTTASYNC_SUCCESS)
        rc = mqtt_commands_attach(s->commands, s->client);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("mqtt: cannot create a client for %s: %s", s->conn.uri, MQTTAsync_strerror(rc));
        if (s->client)
            MQTTAsync_destroy(&s->client);
        s->client = NULL;
        return -EINVAL;
    }
    return 0;
}

/* The first failure of an outage is an error; the same one again is
 * logged at debug level only, so that a long outage does not flood. */
static void log_connect_failure(struct mqtt_sink *s, const char *why)
{
    pthread_mutex_lock(&s->lock);
    s->failed++;
    pthread_mutex_unlock(&s->lock);
    s->attempts++;
    if (s->attempts == 1 || strcmp(why, s->last_error) != 0)
        log_error("mqtt: cannot connect to %s: %s (retrying with backoff)", s->conn.uri, why);
    else
        log_debug("mqtt: cannot connect to %s (attempt %u): %s", s->conn.uri, s->attempts, why);
    snprintf(s->last_error, sizeof s->last_error, "%.*s", (int)sizeof s->last_error - 1, why);
}

/* Wait for the connect's outcome; true when connected. */
static bool await_connect(struct mqtt_sink *s, char *why, size_t n)
{
    long long deadline = now_ms() + (CONNECT_TIMEOUT_S + 5) * 1000LL;
    pthread_mutex_lock(&s->lock);
    while (!s->connect_done && !s->stopping && wait_until(s, deadline))
        ;
    bool ok = s->connect_done && s->connected;
    if (!s->connect_done)
        snprintf(why, n, "%s", s->stopping ? "stopping" : "no answer in time");
    else if (s->tls_why[0])
        snprintf(why, n, "%s (%s)", s->connect_why, s->tls_why);
    else if (s->conn.tls && s->m->verify_hostname)  /* paho gives no reason for a name mismatch */
        snprintf(why, n, "%s (if the broker is up: does its certificate name the host of the uri?)",
                 s->connect_why);
    else
        snprintf(why, n, "%s", s->connect_why);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void session_close(struct mqtt_sink *s, bool clean);

/* Connect, publish "online" and subscribe to the command topics (on every
 * connection: the session is clean).  0 or -ECONNREFUSED (logged). */
static int session_open(struct mqtt_sink *s)
{
    if (create_client(s))
        return -ECONNREFUSED;
    pthread_mutex_lock(&s->lock);
    s->connect_done = s->connected = false;
    s->tls_why[0] = s->connect_why[0] = '\0';
    pthread_mutex_unlock(&s->lock);
    char why[800];
    int rc = start_connect(s);
    if (rc != MQTTASYNC_SUCCESS)
        snprintf(why, sizeof why, "%s", MQTTAsync_strerror(rc));
    if (rc != MQTTASYNC_SUCCESS || !await_connect(s, why, sizeof why)) {
        if (strcmp(why, "stopping") != 0)
            log_connect_failure(s, why);
        session_close(s, false);
        return -ECONNREFUSED;
    }
    if (s->attempts)
        log_info("mqtt: connected to %s after %u failed attempts", s->conn.uri, s->attempts);
    else
        log_info("mqtt: connected to %s", s->conn.uri);
    s->attempts = 0;
    s->last_error[0] = '\0';
    s->up_since_ms = now_ms();
    publish_status(s, "online", false);
    mqtt_commands_subscribe(s->commands, s->client, s->m->version == 1);
    return 0;
}

static void disconnect(struct mqtt_sink *s)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
    MQTTAsync_disconnectOptions *o = s->m->version == 1 ? &d5 : &d;
    o->timeout = 1000;
    o->context = &s->control;
    if (s->m->version == 1) {
        o->onSuccess5 = on_sent5;
        o->onFailure5 = on_not_sent5;
    } else {
        o->onSuccess = on_sent;
        o->onFailure = on_not_sent;
    }
    pthread_mutex_lock(&s->lock);
    s->control.waiting = true;
    pthread_mutex_unlock(&s->lock);
    int rc = MQTTAsync_disconnect(s->client, o);
    pthread_mutex_lock(&s->lock);
    long long deadline = now_ms() + 2000;
    while (rc == MQTTASYNC_SUCCESS && s->control.waiting && wait_until(s, deadline))
        ;
    s->control.waiting = false;
    pthread_mutex_unlock(&s->lock);
}

/* End the connection; clean: publish "offline" first and disconnect
 * properly (the broker then discards the last will). */
static void session_close(struct mqtt_sink *s, bool clean)
{
    if (!s->client)
        return;
    pthread_mutex_lock(&s->lock);
    bool up = s->connected;
    pthread_mutex_unlock(&s->lock);
    if (clean && up) {
        publish_status(s, "offline", true);
        disconnect(s);
    }
    MQTTAsync_destroy(&s->client);
    s->client = NULL;
    pthread_mutex_lock(&s->lock);
    s->connected = false;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the delivery thread: batches ------------------------------------------ */

static bool permanent_send_error(int rc)
{
    return rc == MQTTASYNC_BAD_UTF8_STRING || rc == MQTTASYNC_NULL_PARAMETER ||
           rc == MQTTASYNC_TOPICNAME_TRUNCATED || rc == MQTTASYNC_BAD_QOS ||
           rc == MQTTASYNC_BAD_STRUCTURE;
}

/* Hand one record to paho.  0 (sent, or skipped as undeliverable and
 * logged) or -ECONNRESET (the connection is gone). */
static int publish_record(struct mqtt_sink *s, const struct gw_spool_record *r,
                          struct pub_slot *slot)
{
    struct mqtt_msg m;
    if (record_decode(r, &m)) {
        log_error("mqtt: skipping a malformed spool record of %u bytes", r->len);
        pthread_mutex_lock(&s->lock);
        s->rejected++;
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)m.payload;
    msg.payloadlen = (int)m.payload_len;
    msg.qos = m.qos;
    msg.retained = m.retain;
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    pthread_mutex_lock(&s->lock);
    /* Every message waits for paho's completion: the broker's
     * acknowledgement at QoS 1 and 2, the write to the socket at QoS 0.
     * Counting QoS 0 as delivered when handed over would commit records
     * still in paho's queue, lost if the connection then drops. */
    set_callbacks(s, &o, slot);
    slot->waiting = true;
    s->unacked++;
    pthread_mutex_unlock(&s->lock);
    int rc = MQTTAsync_sendMessage(s->client, m.topic, &msg, &o);
    if (rc == MQTTASYNC_SUCCESS)
        return 0;
    pthread_mutex_lock(&s->lock);
    if (slot->waiting) {
        slot->waiting = false;
        s->unacked--;
    }
    bool permanent = permanent_send_error(rc);
    if (permanent)
        s->rejected++;
    else
        s->failed++;
    pthread_mutex_unlock(&s->lock);
    if (permanent) {
        log_error("mqtt: dropping a message on '%s': %s", m.topic, MQTTAsync_strerror(rc));
        return 0;
    }
    if (rc == MQTTASYNC_DISCONNECTED)   /* the loss itself is logged */
        log_debug("mqtt: cannot publish on %s: %s", m.topic, MQTTAsync_strerror(rc));
    else
        log_warning("mqtt: cannot publish on %s: %s", m.topic, MQTTAsync_strerror(rc));
    return -ECONNRESET;
}

/* 0 once every message is acknowledged (or refused), else -ECONNRESET. */
static int await_acks(struct mqtt_sink *s)
{
    long long deadline = now_ms() + ACK_TIMEOUT_MS;
    pthread_mutex_lock(&s->lock);
    while (s->unacked > 0 && !s->batch_lost && wait_until(s, grace_deadline(s, deadline)))
        ;
    bool done = s->unacked == 0 && !s->batch_lost;
    if (!done)
        s->failed++;
    if (!done && !s->batch_lost && !s->stopping)
        log_warning("mqtt: %zu messages not acknowledged within %d s; reconnecting",
                    s->unacked, ACK_TIMEOUT_MS / 1000);
    pthread_mutex_unlock(&s->lock);
    return done ? 0 : -ECONNRESET;
}

/* Messages the broker refused (MQTT 5 reason codes): logged, not resent. */
static void report_refused(struct mqtt_sink *s, const struct gw_spool_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct mqtt_msg m;
        if (s->slots[i].outcome != OUT_REFUSED || record_decode(&b->records[i], &m))
            continue;
        log_error("mqtt: the broker refused a message on '%s': %s", m.topic,
                  MQTTReasonCode_toString((enum MQTTReasonCodes)s->slots[i].reason));
        pthread_mutex_lock(&s->lock);
        s->rejected++;
        pthread_mutex_unlock(&s->lock);
    }
}

static int deliver_batch(struct mqtt_sink *s, const struct gw_spool_batch *b)
{
    pthread_mutex_lock(&s->lock);
    bool up = s->connected;
    s->unacked = 0;
    s->batch_lost = false;
    for (size_t i = 0; i < b->n; i++)
        s->slots[i] = (struct pub_slot){ .sink = s, .outcome = OUT_ACKED };
    pthread_mutex_unlock(&s->lock);
    if (!up)            /* lost while the spool was read */
        return -ECONNRESET;
    for (size_t i = 0; i < b->n; i++)
        if (publish_record(s, &b->records[i], &s->slots[i]))
            return -ECONNRESET;
    int rc = await_acks(s);
    if (rc == 0)
        report_refused(s, b);
    return rc;
}

/* Read one batch and deliver it; commit it, or rewind and reconnect. */
static void deliver_some(struct mqtt_sink *s)
{
    struct gw_spool_batch b = { 0 };
    int n = spool_read(s->spool, BATCH_RECORDS, BATCH_BYTES, READ_WAIT_MS, &b);
    if (n < 0) {
        log_error("mqtt: cannot read the spool: %s", strerror(-n));
        pthread_mutex_lock(&s->lock);
        wait_until(s, now_ms() + BACKOFF_MIN_MS);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    if (n > 0 && deliver_batch(s, &b) == 0) {
        int rc = spool_commit(s->spool, &b);
        if (rc)
            log_error("mqtt: cannot commit %d delivered records: %s", n, strerror(-rc));
        pthread_mutex_lock(&s->lock);
        s->delivered += (uint64_t)n;
        pthread_mutex_unlock(&s->lock);
    } else if (n > 0) {
        spool_rewind(s->spool);
        pthread_mutex_lock(&s->lock);
        s->connected = false;       /* the loop starts over, with a new client */
        pthread_mutex_unlock(&s->lock);
    }
    spool_batch_free(&b);
}

static void backoff_wait(struct mqtt_sink *s, int ms)
{
    long long deadline = now_ms() + ms;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping && wait_until(s, deadline))
        ;
    pthread_mutex_unlock(&s->lock);
}

static int next_backoff(int ms)
{
    return ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
}

/*
 * Connect, deliver, and after a failed connect or a connection that did
 * not last, back off (1 s, doubling up to 30 s): a broker that refuses
 * us, or another client with our id, is not hammered.
 */
static void *delivery_main(void *arg)
{
    struct mqtt_sink *s = arg;
    int backoff = BACKOFF_MIN_MS;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool stop = s->stopping, up = s->connected;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        if (s->client && !up) {             /* lost: start over */
            bool flapping = now_ms() - s->up_since_ms < STABLE_MS;
            session_close(s, false);
            if (flapping) {
                backoff_wait(s, backoff);
                backoff = next_backoff(backoff);
                continue;
            }
            backoff = BACKOFF_MIN_MS;
        }
        if (!s->client && session_open(s)) {
            backoff_wait(s, backoff);
            backoff = next_backoff(backoff);
            continue;
        }
        deliver_some(s);
    }
    session_close(s, true);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------ */

static bool mqtt_configured(const struct gw_config *cfg)
{
    return cfg->mqtt.present;
}

static int check_settings(const struct mqtt_sink *s)
{
    if (!topic_level_ok(s->m->topic_prefix)) {
        log_error("mqtt: topic_prefix '%s' must not be empty nor hold '+' or '#'", s->m->topic_prefix);
        return -EINVAL;
    }
    if (!s->conn.tls && (s->conn.ca_file || s->conn.cert_file))
        log_warning("mqtt: ca_file and cert_file are ignored with %s (use ssl:// or mqtts://)", s->conn.uri);
    if (s->conn.password && !s->m->username)
        log_warning("mqtt: password_file is ignored without a username");
    return 0;
}

static void mqtt_destroy(void *impl);

static int mqtt_create(const struct gw_config *cfg, struct gw_spool *spool, void **impl)
{
    *impl = NULL;
    struct mqtt_sink *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->cfg = cfg;
    s->m = &cfg->mqtt;
    s->spool = spool;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->lock, NULL);
    s->control.sink = s;
    const char *prefix = s->m->topic_prefix;
    int rc = mqtt_conn_load(cfg, &s->conn);
    if (rc == 0 && (asprintf(&s->status_topic, "%s/status", prefix) < 0 ||
                    asprintf(&s->health_topic, "%s/status/health", prefix) < 0 ||
                    asprintf(&s->event_topic, "%s/event/alarm", prefix) < 0 ||
                    asprintf(&s->result_topic, "%s/cmd/result", prefix) < 0 ||
                    !(s->avail = calloc(cfg->n_devices + 1, 1)) ||
                    mqtt_commands_create(prefix, &s->commands)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = check_settings(s);
    if (rc) {
        if (rc == -ENOMEM)
            log_error("mqtt: out of memory");
        mqtt_destroy(s);
        return rc;
    }
    *impl = s;
    return 0;
}

static int mqtt_start(void *impl)
{
    struct mqtt_sink *s = impl;
    if (s->running)
        return -EALREADY;
    s->stopping = false;
    int rc = pthread_create(&s->thread, NULL, delivery_main, s);
    if (rc) {
        log_error("mqtt: cannot start the delivery thread: %s", strerror(rc));
        return -rc;
    }
    s->running = true;
    return 0;
}

static void mqtt_stop(void *impl)
{
    struct mqtt_sink *s = impl;
    if (!s->running)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    s->stop_at_ms = now_ms();
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    spool_wake(s->spool);
    pthread_join(s->thread, NULL);
    s->running = false;
}

static void mqtt_state(void *impl, struct gw_health_sink *out)
{
    struct mqtt_sink *s = impl;
    memset(out, 0, sizeof *out);
    out->name = "mqtt";
    pthread_mutex_lock(&s->lock);
    out->connected = s->connected;
    out->delivered = s->delivered;
    out->failed = s->failed;
    out->rejected = s->rejected;
    out->auth_failed = s->auth_failed;
    pthread_mutex_unlock(&s->lock);
    spool_stats(s->spool, &out->spool);
}

static void mqtt_destroy(void *impl)
{
    struct mqtt_sink *s = impl;
    if (!s)
        return;
    mqtt_stop(s);
    mqtt_conn_free(&s->conn);
    mqtt_commands_free(s->commands);
    free(s->status_topic);
    free(s->health_topic);
    free(s->event_topic);
    free(s->result_topic);
    free(s->avail);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const struct gw_sink_ops sink_mqtt_ops = {
    .name = "mqtt",
    .configured = mqtt_configured,
    .create = mqtt_create,
    .submit_sample = mqtt_submit_sample,
    .submit_health = mqtt_submit_health,
    .submit_alarm = mqtt_submit_alarm,
    .submit_alarm_state = mqtt_submit_alarm_state,
    .next_command = mqtt_next_command,
    .submit_command_result = mqtt_submit_command_result,
    .start = mqtt_start,
    .stop = mqtt_stop,
    .state = mqtt_state,
    .destroy = mqtt_destroy,
};
