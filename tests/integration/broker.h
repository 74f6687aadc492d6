/*
 * MQTT in integration tests: a real mosquitto started on loopback
 * ephemeral ports with a private configuration and directory, and a
 * subscriber (paho's asynchronous client) that records every message it
 * receives.
 *
 * Conventions are the harness's: 0 or a negative errno, readiness awaited
 * by reading the broker's log (never by sleeping), stopped by pid.
 */
#ifndef GW_ITEST_BROKER_H
#define GW_ITEST_BROKER_H

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- mosquitto ------------------------------------------------------ */

struct broker {
    pid_t pid;                  /* 0 when not running */
    int port;                   /* plain listener on 127.0.0.1 */
    int tls_port;               /* TLS listener, 0 if none */
    char conf[600];             /* its configuration file */
    char dir[512];              /* its private directory */
    char log[512];              /* the log of the current run */
    unsigned runs;
};

/* What a test adds to the broker's configuration.  Every field may be
 * NULL / false. */
struct broker_options {
    const char *password_file;  /* set: anonymous clients are refused */
    const char *cafile, *certfile, *keyfile;   /* set: a TLS listener too */
    bool require_certificate;   /* TLS clients must show a certificate by cafile */
    bool persistence;           /* keep sessions and retained messages across a restart */
    const char *acl_file;       /* mosquitto's acl_file */
};

/*
 * Writes a configuration (listener on 127.0.0.1 at a free port, a TLS
 * listener with the options' files, persistence off unless asked) and
 * starts `mosquitto -c`, waiting up to 10 s until its log shows every
 * listener open.  Returns 0 or a negative errno (-ENOENT without
 * mosquitto).
 */
int broker_start(struct broker *b, const struct broker_options *o);

/* Stops it (SIGTERM, by pid).  Safe to call twice. */
int broker_stop(struct broker *b);

/* Starts it again with the same configuration and ports. */
int broker_restart(struct broker *b);

/* A TCP port on 127.0.0.1 that was free a moment ago (nothing listens
 * there), or a negative errno. */
int broker_free_port(void);

/* The broker's log so far (malloc'd; "" if none). */
char *broker_log(const struct broker *b);

/* ---- a subscriber ---------------------------------------------------- */

struct sub_msg {
    char *topic;
    char *payload;              /* NUL-terminated copy */
    int qos;
    bool retained;
};

struct sub {
    MQTTAsync client;
    char *filter;
    bool persistent;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool subscribed;            /* since the last connect */
    struct sub_msg *msgs;       /* in arrival order */
    size_t n, cap;
};

/*
 * Connects to 127.0.0.1:port as client_id and subscribes to filter at
 * QoS 1; waits (10 s at most) until the subscription is acknowledged.
 * persistent: a persistent session (clean session off) and automatic
 * reconnects, so that nothing published while it reconnects is lost.
 * user/password may be NULL.  Returns 0 or a negative errno.
 */
int sub_start(struct sub *s, int port, const char *client_id, const char *filter,
              bool persistent, const char *user, const char *password);

/* Waits up to timeout_ms until the subscription is up again (after a
 * broker restart).  0 or -ETIMEDOUT. */
int sub_wait_subscribed(struct sub *s, int timeout_ms);

/*
 * The index of the first message at or after *from on topic (with payload,
 * unless NULL), waiting up to timeout_ms; *from is set past it.  Returns
 * the index, or -ETIMEDOUT.
 */
int sub_wait(struct sub *s, size_t *from, const char *topic, const char *payload,
             int timeout_ms);

/* Waits up to timeout_ms until n messages have arrived in all.
 * 0 or -ETIMEDOUT. */
int sub_wait_count(struct sub *s, size_t n, int timeout_ms);

/* A copy of message i (valid until sub_stop). */
struct sub_msg sub_get(struct sub *s, size_t i);
size_t sub_count(struct sub *s);

/* Disconnects and frees everything.  Safe to call twice. */
void sub_stop(struct sub *s);

#endif
