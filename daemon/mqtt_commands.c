#include "mqtt_commands.h"

#include <MQTTReasonCodes.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

/* Commands run per main-loop step are few; a queue of this many absorbs
 * a burst, and as many again are answered "too many commands waiting". */
enum { QUEUE_CAPACITY = 64 };

struct mqtt_commands {
    char *cmd_prefix;                       /* "<prefix>/cmd/" */
    size_t cmd_prefix_len;
    char *topics[GW_CMD_KIND_COUNT];
    struct gw_cmd_queue *queue;
    uint64_t dropped_logged;                /* main thread */
};

int mqtt_commands_create(const char *prefix, struct mqtt_commands **out)
{
    *out = NULL;
    struct mqtt_commands *mc = calloc(1, sizeof *mc);
    if (!mc || asprintf(&mc->cmd_prefix, "%s/cmd/", prefix) < 0) {
        free(mc);
        return -ENOMEM;
    }
    mc->cmd_prefix_len = strlen(mc->cmd_prefix);
    int rc = cmdq_create(QUEUE_CAPACITY, &mc->queue);
    for (int i = 0; rc == 0 && i < GW_CMD_KIND_COUNT; i++)
        if (asprintf(&mc->topics[i], "%s%s", mc->cmd_prefix, command_kind_name((enum gw_cmd_kind)i)) < 0) {
            mc->topics[i] = NULL;
            rc = -ENOMEM;
        }
    if (rc) {
        mqtt_commands_free(mc);
        return rc;
    }
    *out = mc;
    return 0;
}

/* The command kind a topic names, or -ENOENT. */
static int topic_kind(const struct mqtt_commands *mc, const char *topic, size_t len, enum gw_cmd_kind *kind)
{
    char name[32];
    size_t n = len - mc->cmd_prefix_len;
    if (len <= mc->cmd_prefix_len || n >= sizeof name || memcmp(topic, mc->cmd_prefix, mc->cmd_prefix_len) != 0)
        return -ENOENT;
    memcpy(name, topic + mc->cmd_prefix_len, n);
    name[n] = '\0';
    return command_kind_parse(name, kind);
}

/* paho's thread.  Every message is consumed (returns 1): a command that
 * cannot be queued is not worth a redelivery that would meet a full
 * queue again. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct mqtt_commands *mc = ctx;
    size_t len = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    enum gw_cmd_kind kind;
    if (topic_kind(mc, topic, len, &kind) == 0) {
        struct gw_command cmd;
        size_t size = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
        command_parse(kind, m->payload, size, &cmd);
        /* A retained command would run again on every reconnect. */
        if (!cmd.error[0] && m->retained)
            snprintf(cmd.error, sizeof cmd.error, "retained commands are refused");
        cmdq_push(mc->queue, &cmd);
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

int mqtt_commands_attach(struct mqtt_commands *mc, MQTTAsync client)
{
    return MQTTAsync_setMessageArrivedCallback(client, mc, on_message);
}

static void log_refused(const struct mqtt_commands *mc, int i, const char *why)
{
    log_error("mqtt: the broker refused the subscription to %s (%s): commands on it are not received; "
              "check the broker's ACL", mc->topics[i], why);
}

static void on_subscribed(void *ctx, MQTTAsync_successData *r)
{
    struct mqtt_commands *mc = ctx;
    for (int i = 0; r && i < GW_CMD_KIND_COUNT; i++)
        if (r->alt.qosList && r->alt.qosList[i] == 0x80)
            log_refused(mc, i, "failure");
    log_debug("mqtt: subscribed to %s*", mc->cmd_prefix);
}

static void on_subscribed5(void *ctx, MQTTAsync_successData5 *r)
{
    struct mqtt_commands *mc = ctx;
    for (int i = 0; r && i < r->alt.sub.reasonCodeCount && i < GW_CMD_KIND_COUNT; i++)
        if (r->alt.sub.reasonCodes[i] >= MQTTREASONCODE_UNSPECIFIED_ERROR)
            log_refused(mc, i, MQTTReasonCode_toString(r->alt.sub.reasonCodes[i]));
    log_debug("mqtt: subscribed to %s*", mc->cmd_prefix);
}

static void on_not_subscribed(void *ctx, MQTTAsync_failureData *r)
{
    struct mqtt_commands *mc = ctx;
    log_error("mqtt: cannot subscribe to %s*: %s", mc->cmd_prefix,
              r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : MQTTASYNC_FAILURE));
}

static void on_not_subscribed5(void *ctx, MQTTAsync_failureData5 *r)
{
    struct mqtt_commands *mc = ctx;
    log_error("mqtt: cannot subscribe to %s*: %s", mc->cmd_prefix,
              r && r->reasonCode ? MQTTReasonCode_toString(r->reasonCode)
              : r && r->message ? r->message : "failed");
}

void mqtt_commands_subscribe(struct mqtt_commands *mc, MQTTAsync client, bool v5)
{
    int qos[GW_CMD_KIND_COUNT];
    for (int i = 0; i < GW_CMD_KIND_COUNT; i++)
        qos[i] = 1;
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    o.context = mc;
    if (v5) {
        o.onSuccess5 = on_subscribed5;
        o.onFailure5 = on_not_subscribed5;
    } else {
        o.onSuccess = on_subscribed;
        o.onFailure = on_not_subscribed;
    }
    int rc = MQTTAsync_subscribeMany(client, GW_CMD_KIND_COUNT, mc->topics, qos, &o);
    if (rc != MQTTASYNC_SUCCESS)
        log_error("mqtt: cannot subscribe to %s*: %s", mc->cmd_prefix, MQTTAsync_strerror(rc));
}

bool mqtt_commands_next(struct mqtt_commands *mc, struct gw_command *out)
{
    uint64_t dropped = cmdq_dropped(mc->queue);
    if (dropped != mc->dropped_logged) {
        log_warning("mqtt: %llu commands dropped without an answer (a flood on %s*)",
                    (unsigned long long)(dropped - mc->dropped_logged), mc->cmd_prefix);
        mc->dropped_logged = dropped;
    }
    return cmdq_pop(mc->queue, out);
}

void mqtt_commands_free(struct mqtt_commands *mc)
{
    if (!mc)
        return;
    for (int i = 0; i < GW_CMD_KIND_COUNT; i++)
        free(mc->topics[i]);
    cmdq_free(mc->queue);
    free(mc->cmd_prefix);
    free(mc);
}
