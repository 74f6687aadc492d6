#include "mqtt_session.h"

#include <MQTTAsync.h>
#include <MQTTReasonCodes.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "mqtt_conn.h"

/* What an asynchronous request came to. */
struct pending {
    bool done, ok;
    char why[256];
};

struct mqtt_session {
    MQTTAsync client;
    struct gw_mqtt_conn conn;
    bool v5;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* CLOCK_MONOTONIC */
    struct pending req;         /* the request being waited for (one at a time) */
    char tls_why[256];
    struct session_msg *msgs;
    size_t n, cap;
    bool lost;
};

long long session_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void finish(struct mqtt_session *s, bool ok, const char *why)
{
    pthread_mutex_lock(&s->lock);
    s->req.done = true;
    s->req.ok = ok;
    snprintf(s->req.why, sizeof s->req.why, "%s", why ? why : "");
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void on_ok(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    finish(ctx, true, NULL);
}

/* A refused subscription (3.1.1) is a success with granted QoS 0x80. */
static void on_subscribed(void *ctx, MQTTAsync_successData *r)
{
    bool refused = r && r->alt.qos == 0x80;
    finish(ctx, !refused, refused ? "refused by the broker (check its ACL)" : NULL);
}

static void on_ok5(void *ctx, MQTTAsync_successData5 *r)
{
    bool refused = r && r->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR;
    finish(ctx, !refused, refused ? MQTTReasonCode_toString(r->reasonCode) : NULL);
}

static void on_failed(void *ctx, MQTTAsync_failureData *r)
{
    char why[256];
    int code = r ? r->code : MQTTASYNC_FAILURE;
    static const char *const connack[] = { NULL, "unacceptable protocol version", "client identifier rejected",
                                           "server unavailable", "bad user name or password", "not authorized" };
    const char *text = code > 0 && code < 6 ? connack[code] : MQTTAsync_strerror(code);
    snprintf(why, sizeof why, "%s%s%s", text ? text : "failed", r && r->message ? ": " : "",
             r && r->message ? r->message : "");
    finish(ctx, false, why);
}

static void on_failed5(void *ctx, MQTTAsync_failureData5 *r)
{
    char why[256];
    const char *reason = r && r->reasonCode ? MQTTReasonCode_toString(r->reasonCode) : NULL;
    snprintf(why, sizeof why, "%s%s%s", reason ? reason : MQTTAsync_strerror(r ? r->code : MQTTASYNC_FAILURE),
             r && r->message ? ": " : "", r && r->message ? r->message : "");
    finish(ctx, false, why);
}

static void set_callbacks(struct mqtt_session *s, MQTTAsync_responseOptions *o, bool subscribe)
{
    o->context = s;
    if (s->v5) {
        o->onSuccess5 = on_ok5;
        o->onFailure5 = on_failed5;
    } else {
        o->onSuccess = subscribe ? on_subscribed : on_ok;
        o->onFailure = on_failed;
    }
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct mqtt_session *s = ctx;
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t plen = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    pthread_mutex_lock(&s->lock);
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct session_msg *grown = realloc(s->msgs, cap * sizeof *grown);
        if (grown) {
            s->msgs = grown;
            s->cap = cap;
        }
    }
    struct session_msg *msg = s->n < s->cap ? &s->msgs[s->n] : NULL;
    if (msg && (msg->topic = strndup(topic, tlen)) && (msg->payload = malloc(plen + 1))) {
        memcpy(msg->payload, m->payload, plen);
        msg->payload[plen] = '\0';
        msg->len = plen;
        msg->retained = m->retained;
        s->n++;
        pthread_cond_broadcast(&s->cond);
    } else if (msg) {
        free(msg->topic);
    }
    pthread_mutex_unlock(&s->lock);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_lost(void *ctx, char *cause)
{
    struct mqtt_session *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->lost = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    MQTTAsync_free(cause);
}

static int on_tls_error(const char *str, size_t len, void *ctx)
{
    struct mqtt_session *s = ctx;
    while (len && (str[len - 1] == '\n' || str[len - 1] == '\r'))
        len--;
    pthread_mutex_lock(&s->lock);
    snprintf(s->tls_why, sizeof s->tls_why, "%.*s", (int)len, str);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* Wait for the request started last; true if it succeeded.  why gets the
 * reason otherwise. */
static bool await(struct mqtt_session *s, int timeout_ms, char *why, size_t n)
{
    long long deadline = session_now_ms() + timeout_ms;
    struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000 };
    pthread_mutex_lock(&s->lock);
    while (!s->req.done && !s->lost && session_now_ms() < deadline)
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    bool ok = s->req.done && s->req.ok;
    if (!ok)
        snprintf(why, n, "%s%s%s", !s->req.done ? (s->lost ? "connection lost" : "no answer in time") : s->req.why,
                 s->tls_why[0] ? ": " : "", s->tls_why);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void begin(struct mqtt_session *s)
{
    pthread_mutex_lock(&s->lock);
    s->req = (struct pending){ 0 };
    pthread_mutex_unlock(&s->lock);
}

static void client_id(char *out, size_t n)
{
    unsigned char r[4] = { 0 };
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        unsigned v = (unsigned)getpid() ^ (unsigned)session_now_ms();
        memcpy(r, &v, sizeof r);
    }
    snprintf(out, n, "greenwatch-cli-%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
}

static int create(struct mqtt_session *s)
{
    char id[32];
    client_id(id, sizeof id);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    MQTTAsync_createOptions co5 = MQTTAsync_createOptions_initializer5;
    int rc = MQTTAsync_createWithOptions(&s->client, s->conn.uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL,
                                         s->v5 ? &co5 : &co);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(s->client, s, on_lost, on_message, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "greenwatch: cannot create an MQTT client for %s: %s\n", s->conn.uri, MQTTAsync_strerror(rc));
        return -EINVAL;
    }
    return 0;
}

static int connect_broker(struct mqtt_session *s, int timeout_ms)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_connectOptions *o = s->v5 ? &co5 : &co;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    o->keepAliveInterval = 30;
    o->connectTimeout = (timeout_ms + 999) / 1000;
    o->username = s->conn.m->username;
    o->password = s->conn.password;
    o->context = s;
    if (s->v5) {
        o->onSuccess5 = on_ok5;
        o->onFailure5 = on_failed5;
    } else {
        o->onSuccess = on_ok;
        o->onFailure = on_failed;
    }
    if (s->conn.tls) {
        mqtt_conn_tls(&s->conn, &ssl);
        ssl.ssl_error_cb = on_tls_error;
        ssl.ssl_error_context = s;
        o->ssl = &ssl;
    }
    begin(s);
    char why[600];
    int rc = MQTTAsync_connect(s->client, o);
    if (rc != MQTTASYNC_SUCCESS)
        snprintf(why, sizeof why, "%s", MQTTAsync_strerror(rc));
    if (rc != MQTTASYNC_SUCCESS || !await(s, timeout_ms + 1000, why, sizeof why)) {
        fprintf(stderr, "greenwatch: cannot connect to %s: %s\n", s->conn.uri, why);
        return -ECONNREFUSED;
    }
    return 0;
}

int session_open(const struct gw_config *cfg, int timeout_ms, struct mqtt_session **out)
{
    *out = NULL;
    struct mqtt_session *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->lock, NULL);
    s->v5 = cfg->mqtt.version == 1;
    int rc = mqtt_conn_load(cfg, &s->conn);
    if (rc == 0)
        rc = create(s);
    if (rc == 0)
        rc = connect_broker(s, timeout_ms);
    if (rc) {
        session_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int session_subscribe(struct mqtt_session *s, const char *filter, int timeout_ms)
{
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    set_callbacks(s, &o, true);
    begin(s);
    char why[600];
    int rc = MQTTAsync_subscribe(s->client, filter, 1, &o);
    if (rc != MQTTASYNC_SUCCESS)
        snprintf(why, sizeof why, "%s", MQTTAsync_strerror(rc));
    if (rc != MQTTASYNC_SUCCESS || !await(s, timeout_ms, why, sizeof why)) {
        fprintf(stderr, "greenwatch: cannot subscribe to %s: %s\n", filter, why);
        return -ECONNREFUSED;
    }
    return 0;
}

int session_publish(struct mqtt_session *s, const char *topic, const char *payload, int timeout_ms)
{
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    set_callbacks(s, &o, false);
    begin(s);
    char why[600];
    int rc = MQTTAsync_send(s->client, topic, (int)strlen(payload), payload, 1, 0, &o);
    if (rc != MQTTASYNC_SUCCESS)
        snprintf(why, sizeof why, "%s", MQTTAsync_strerror(rc));
    if (rc != MQTTASYNC_SUCCESS || !await(s, timeout_ms, why, sizeof why)) {
        fprintf(stderr, "greenwatch: cannot publish on %s: %s\n", topic, why);
        return -ECONNREFUSED;
    }
    return 0;
}

size_t session_wait(struct mqtt_session *s, size_t seen, int timeout_ms)
{
    long long deadline = session_now_ms() + timeout_ms;
    struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000 };
    pthread_mutex_lock(&s->lock);
    while (s->n <= seen && !s->lost && session_now_ms() < deadline)
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    size_t n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

bool session_msg(struct mqtt_session *s, size_t i, struct session_msg *out)
{
    pthread_mutex_lock(&s->lock);
    bool got = i < s->n;
    if (got)
        *out = s->msgs[i];
    pthread_mutex_unlock(&s->lock);
    return got;
}

void session_close(struct mqtt_session *s)
{
    if (!s)
        return;
    if (s->client) {
        if (MQTTAsync_isConnected(s->client)) {
            MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
            MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
            MQTTAsync_disconnectOptions *o = s->v5 ? &d5 : &d;
            o->timeout = 1000;
            o->context = s;
            if (s->v5) {
                o->onSuccess5 = on_ok5;
                o->onFailure5 = on_failed5;
            } else {
                o->onSuccess = on_ok;
                o->onFailure = on_failed;
            }
            begin(s);
            char why[64];
            if (MQTTAsync_disconnect(s->client, o) == MQTTASYNC_SUCCESS)
                await(s, 2000, why, sizeof why);
        }
        MQTTAsync_destroy(&s->client);
    }
    for (size_t i = 0; i < s->n; i++) {
        free(s->msgs[i].topic);
        free(s->msgs[i].payload);
    }
    free(s->msgs);
    mqtt_conn_free(&s->conn);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
