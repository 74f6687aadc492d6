/*
 * Operator commands on alarms, as they arrive on the MQTT command topics
 * (docs/alarms.md, "Commands"): `<prefix>/cmd/<name>` with a JSON object
 * in, a result on `<prefix>/cmd/result` out.
 *
 * A command is untrusted input from the network.  command_parse accepts
 * exactly the documented objects - at most GW_CMD_MAX_PAYLOAD bytes, every
 * required field present, no unknown or repeated field, each field of its
 * type and within its bounds - and refuses everything else with a fixed
 * message.  A parsed command holds no pointers (fixed-size text), so it
 * can be copied between threads.
 *
 * Commands arrive on the MQTT client's thread and are applied on the main
 * thread (the rule engine's); the bounded queue between them never blocks
 * the producer: a flood is refused with an answer, and beyond that dropped.
 */
#ifndef GW_COMMAND_H
#define GW_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_rules;

#define GW_CMD_MAX_PAYLOAD 4096
#define GW_CMD_ID_MAX 64           /* request id: bytes */
#define GW_CMD_NAME_MAX 128        /* device and rule ids: bytes */
#define GW_CMD_USER_MAX 63         /* as the rule engine records it: bytes */
#define GW_CMD_COMMENT_MAX 256     /* characters (UTF-8) */
#define GW_CMD_SHELVE_MIN_S 60
#define GW_CMD_SHELVE_MAX_S 2592000  /* 30 days */

enum gw_cmd_kind {
    GW_CMD_ACK,
    GW_CMD_SHELVE,
    GW_CMD_UNSHELVE,
    GW_CMD_SERVICE,            /* maintenance done */
    GW_CMD_OUT_OF_SERVICE,     /* out of service, or back in service */
};
#define GW_CMD_KIND_COUNT 5

/* The kind's topic level ("ack", "shelve", "unshelve", "service",
 * "out_of_service"). */
const char *command_kind_name(enum gw_cmd_kind kind);

/* The kind named by a topic level.  0 or -ENOENT. */
int command_kind_parse(const char *name, enum gw_cmd_kind *kind);

struct gw_command {
    enum gw_cmd_kind kind;
    char id[GW_CMD_ID_MAX + 1];              /* "" when the payload had none we could take */
    char device[GW_CMD_NAME_MAX + 1];
    char rule[GW_CMD_NAME_MAX + 1];          /* "" : every alarm of the device (out_of_service only) */
    char user[GW_CMD_USER_MAX + 1];
    char comment[GW_CMD_COMMENT_MAX * 4 + 1];
    double duration_s;                       /* shelve */
    bool out_of_service;                     /* out_of_service: true takes out, false returns */
    char error[160];                         /* not "": refused before it ran; the answer's error */
    size_t origin;                           /* which sink it came from (sinks.h sets it) */
};

/*
 * Parse and validate a command of kind from payload (len bytes, not
 * necessarily NUL-terminated).  Returns 0 with *out filled, or -EINVAL
 * (-E2BIG for an oversized payload) with out->error the reason; fields
 * read before the problem (the request id, the user) are kept in *out for
 * the answer and the log.
 */
int command_parse(enum gw_cmd_kind kind, const void *payload, size_t len, struct gw_command *out);

/* What a command came to. */
struct gw_command_result {
    const char *id;            /* echoed; NULL or "": null */
    bool ok;
    const char *error;         /* when !ok */
    const char *state;         /* the alarm's state afterwards, when there is one alarm; may be NULL */
};

/* {"id":..,"ok":..,"error":..,"state":..} (error and state only when set).
 * Returns a malloc'd string or NULL (ENOMEM). */
char *command_result_json(const struct gw_command_result *r);

/*
 * Apply cmd (parsed without error) to rules at now_ms: the rule engine's
 * rules_ack, rules_shelve, ... (a transition they cause reaches its
 * on_event before this returns).  Fills *out, whose strings are cmd's or
 * static.  Returns 0 or the rule engine's negative errno.
 */
int command_apply(struct gw_rules *rules, const struct gw_command *cmd, int64_t now_ms,
                  struct gw_command_result *out);

/* ---- the queue from the client's thread to the main thread ------------ */

struct gw_cmd_queue;

/* A queue that runs up to capacity commands (>= 1) and refuses as many
 * again with an answer.  Returns 0 or -ENOMEM. */
int cmdq_create(size_t capacity, struct gw_cmd_queue **out);

/*
 * Any thread; never waits but for the queue's mutex.  Returns 0 (queued to
 * run, or queued as it is when cmd->error is set), -EBUSY (the queue is
 * full: queued as a refusal, answered "too many commands waiting"), or
 * -ENOSPC (the refusals are full too: dropped without an answer, counted).
 */
int cmdq_push(struct gw_cmd_queue *q, const struct gw_command *cmd);

/* The oldest command into *out: true, or false when empty. */
bool cmdq_pop(struct gw_cmd_queue *q, struct gw_command *out);

/* Commands dropped without an answer since the queue was created. */
uint64_t cmdq_dropped(struct gw_cmd_queue *q);

/* Accepts NULL. */
void cmdq_free(struct gw_cmd_queue *q);

#endif
