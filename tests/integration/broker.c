/*
 * mosquitto and a subscriber for integration tests; see broker.h.
 */
#include "broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MOSQUITTO "/usr/sbin/mosquitto"
#define READY_MS 10000

/* ---- mosquitto ------------------------------------------------------ */

/* A port free on 127.0.0.1 right now (the kernel's choice). */
int broker_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int port = -errno;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    else
        port = -errno;
    if (fd >= 0)
        close(fd);
    return port;
}

static int write_conf(const struct broker *b, const struct broker_options *o)
{
    FILE *f = fopen(b->conf, "w");
    if (!f)
        return -errno;
    /* Run as root (a test in a container), mosquitto would switch to its
     * own user, which cannot read the test's private directory. */
    if (geteuid() == 0)
        fprintf(f, "user root\n");
    fprintf(f, "log_dest stderr\nlog_type all\nconnection_messages true\n");
    fprintf(f, "per_listener_settings false\n");
    if (o && o->password_file)
        fprintf(f, "allow_anonymous false\npassword_file %s\n", o->password_file);
    else
        fprintf(f, "allow_anonymous true\n");
    if (o && o->acl_file)
        fprintf(f, "acl_file %s\n", o->acl_file);
    if (o && o->persistence)
        fprintf(f, "persistence true\npersistence_location %s/\nautosave_interval 1\n", b->dir);
    else
        fprintf(f, "persistence false\n");
    fprintf(f, "listener %d 127.0.0.1\n", b->port);
    if (b->tls_port) {
        fprintf(f, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n", b->tls_port,
                o->cafile, o->certfile, o->keyfile);
        fprintf(f, "require_certificate %s\n", o->require_certificate ? "true" : "false");
    }
    return fclose(f) == 0 ? 0 : -errno;
}

static bool listening(const struct broker *b, int port)
{
    char needle[64];
    snprintf(needle, sizeof needle, "Opening ipv4 listen socket on port %d.", port);
    return wait_file_contains(b->log, needle, READY_MS) == 0;
}

/* One run of mosquitto with b's configuration, logging to a new file. */
static int run(struct broker *b)
{
    char name[64];
    snprintf(name, sizeof name, "mosquitto-%d-%u.log", b->port, ++b->runs);
    temp_path(b->log, sizeof b->log, name);
    const char *argv[] = { MOSQUITTO, "-c", b->conf, NULL };
    int rc = spawn_process_logged(argv, b->log, &b->pid);
    if (rc)
        return rc;
    /* "Opening ... socket" comes before bind() and listen(), "running"
     * once every listener is up */
    if (listening(b, b->port) && (!b->tls_port || listening(b, b->tls_port)) &&
        wait_file_contains(b->log, " running\n", READY_MS) == 0)
        return 0;
    char *log = broker_log(b);
    fprintf(stderr, "mosquitto did not open its listeners:\n%s\n", log ? log : "");
    free(log);
    broker_stop(b);
    return -ETIMEDOUT;
}

int broker_start(struct broker *b, const struct broker_options *o)
{
    memset(b, 0, sizeof *b);
    if (access(MOSQUITTO, X_OK) != 0) {
        fprintf(stderr, "%s is not installed (Debian package mosquitto)\n", MOSQUITTO);
        return -ENOENT;
    }
    int rc = make_temp_dir(b->dir, sizeof b->dir);
    snprintf(b->conf, sizeof b->conf, "%s/mosquitto.conf", b->dir);
    /* A port taken between broker_free_port() and mosquitto's bind: try again. */
    for (int attempt = 0; rc == 0 && attempt < 5; attempt++) {
        b->port = broker_free_port();
        b->tls_port = o && o->certfile ? broker_free_port() : 0;
        if (b->port < 0 || b->tls_port < 0)
            return -EADDRNOTAVAIL;
        rc = write_conf(b, o);
        if (rc == 0 && (rc = run(b)) != -ETIMEDOUT)
            return rc;
        rc = 0;
    }
    return rc ? rc : -EADDRINUSE;
}

int broker_stop(struct broker *b)
{
    if (!b->pid)
        return 0;
    int rc = stop_process(b->pid, NULL);
    b->pid = 0;
    return rc;
}

int broker_restart(struct broker *b)
{
    broker_stop(b);
    return run(b);
}

char *broker_log(const struct broker *b)
{
    FILE *f = fopen(b->log, "r");
    char *text = NULL;
    size_t len = 0;
    if (f) {
        FILE *m = open_memstream(&text, &len);
        char buf[4096];
        size_t got;
        while (m && (got = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, got, m);
        if (m)
            fclose(m);
        fclose(f);
    }
    return text ? text : strdup("");
}

/* ---- a subscriber ---------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on s->cond (lock held) until deadline; false once it passed. */
static bool wait_until(struct sub *s, long long deadline)
{
    if (now_ms() >= deadline)
        return false;
    struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000 };
    pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    return true;
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct sub *s = ctx;
    struct sub_msg msg = { .qos = m->qos, .retained = m->retained };
    msg.topic = topic_len ? strndup(topic, (size_t)topic_len) : strdup(topic);
    msg.payload = strndup(m->payload ? m->payload : "", (size_t)m->payloadlen);
    pthread_mutex_lock(&s->lock);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct sub_msg *grown = realloc(s->msgs, cap * sizeof *grown);
        if (grown) {
            s->msgs = grown;
            s->cap = cap;
        }
    }
    if (s->n < s->cap && msg.topic && msg.payload) {
        s->msgs[s->n++] = msg;
        msg.topic = msg.payload = NULL;
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    free(msg.topic);
    free(msg.payload);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct sub *s = ctx;
    if (s->persistent)
        return;     /* retries on its own, e.g. while a broker restarts */
    fprintf(stderr, "subscriber: connect failed: %d %s\n", r ? r->code : 0,
            r && r->message ? r->message : "");
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct sub *s = ctx;
    fprintf(stderr, "subscriber: cannot subscribe to %s: %d %s\n", s->filter, r ? r->code : 0,
            r && r->message ? r->message : "");
}

static void on_subscribed(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    struct sub *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->subscribed = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* After every connect, automatic reconnects too. */
static void on_connected(void *ctx, char *cause)
{
    (void)cause;
    struct sub *s = ctx;
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    o.onSuccess = on_subscribed;
    o.onFailure = on_subscribe_failed;
    o.context = s;
    if (MQTTAsync_subscribe(s->client, s->filter, 1, &o) != MQTTASYNC_SUCCESS)
        fprintf(stderr, "subscriber: cannot subscribe to %s\n", s->filter);
}

static void on_lost(void *ctx, char *cause)
{
    struct sub *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->subscribed = false;
    pthread_mutex_unlock(&s->lock);
    free(cause);
}

int sub_start(struct sub *s, int port, const char *client_id, const char *filter,
              bool persistent, const char *user, const char *password)
{
    memset(s, 0, sizeof *s);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->lock, NULL);
    s->persistent = persistent;
    s->filter = strdup(filter);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
    int rc = MQTTAsync_create(&s->client, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(s->client, s, on_lost, on_message, NULL);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setConnected(s->client, s, on_connected);
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.keepAliveInterval = 10;
    co.cleansession = !persistent;
    co.automaticReconnect = persistent;
    co.minRetryInterval = 1;
    co.maxRetryInterval = 1;
    co.username = user;
    co.password = password;
    co.onFailure = on_connect_failed;
    co.context = s;
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_connect(s->client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "subscriber: cannot connect to %s: %s\n", uri, MQTTAsync_strerror(rc));
        sub_stop(s);
        return -ECONNREFUSED;
    }
    rc = sub_wait_subscribed(s, 10000);
    if (rc) {
        fprintf(stderr, "subscriber: no subscription to %s on %s\n", filter, uri);
        sub_stop(s);
    }
    return rc;
}

int sub_wait_subscribed(struct sub *s, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    pthread_mutex_lock(&s->lock);
    while (!s->subscribed && wait_until(s, deadline))
        ;
    bool ok = s->subscribed;
    pthread_mutex_unlock(&s->lock);
    return ok ? 0 : -ETIMEDOUT;
}

static bool matches(const struct sub_msg *m, const char *topic, const char *payload)
{
    return strcmp(m->topic, topic) == 0 && (!payload || strcmp(m->payload, payload) == 0);
}

int sub_wait(struct sub *s, size_t *from, const char *topic, const char *payload,
             int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    int found = -ETIMEDOUT;
    pthread_mutex_lock(&s->lock);
    for (size_t i = *from;;) {
        for (; i < s->n && found < 0; i++)
            if (matches(&s->msgs[i], topic, payload))
                found = (int)i;
        if (found >= 0 || !wait_until(s, deadline))
            break;
    }
    if (found >= 0)
        *from = (size_t)found + 1;
    pthread_mutex_unlock(&s->lock);
    return found;
}

int sub_wait_count(struct sub *s, size_t n, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    pthread_mutex_lock(&s->lock);
    while (s->n < n && wait_until(s, deadline))
        ;
    bool ok = s->n >= n;
    pthread_mutex_unlock(&s->lock);
    return ok ? 0 : -ETIMEDOUT;
}

struct sub_msg sub_get(struct sub *s, size_t i)
{
    pthread_mutex_lock(&s->lock);
    struct sub_msg m = i < s->n ? s->msgs[i] : (struct sub_msg){ 0 };
    pthread_mutex_unlock(&s->lock);
    return m;
}

size_t sub_count(struct sub *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void sub_stop(struct sub *s)
{
    if (!s->filter)
        return;     /* never started, or stopped already */
    if (s->client) {
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
        d.timeout = 1000;
        MQTTAsync_disconnect(s->client, &d);
        MQTTAsync_destroy(&s->client);
        s->client = NULL;
    }
    for (size_t i = 0; i < s->n; i++) {
        free(s->msgs[i].topic);
        free(s->msgs[i].payload);
    }
    free(s->msgs);
    free(s->filter);
    s->msgs = NULL;
    s->filter = NULL;
    s->n = s->cap = 0;
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
}
