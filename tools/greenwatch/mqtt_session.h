/*
 * A short MQTT session for the operator tool: connect to the broker of a
 * configuration's mqtt block (TLS and credentials as the daemon uses
 * them), subscribe, publish, collect what arrives, disconnect.  Every wait
 * has a deadline.  The tool's client id is its own
 * (greenwatch-cli-<random>): the daemon's must stay unique.
 */
#ifndef GW_TOOL_MQTT_SESSION_H
#define GW_TOOL_MQTT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"

struct mqtt_session;

struct session_msg {
    char *topic;
    char *payload;              /* NUL-terminated copy */
    size_t len;
    bool retained;
};

/* Connect within timeout_ms.  Returns 0, or a negative errno with the
 * reason printed on stderr (-ECONNREFUSED: the broker refused or did not
 * answer). */
int session_open(const struct gw_config *cfg, int timeout_ms, struct mqtt_session **out);

/* Subscribe to filter at QoS 1 and wait for the broker's answer.  0 or a
 * negative errno (printed). */
int session_subscribe(struct mqtt_session *s, const char *filter, int timeout_ms);

/* Publish at QoS 1, not retained, and wait for the broker's
 * acknowledgement.  0 or a negative errno (printed). */
int session_publish(struct mqtt_session *s, const char *topic, const char *payload, int timeout_ms);

/* Wait until more than `seen` messages have arrived, or timeout_ms.
 * Returns the number that have arrived. */
size_t session_wait(struct mqtt_session *s, size_t seen, int timeout_ms);

/* Message i (0 .. the count session_wait returned - 1) into *out, whose
 * strings stay valid until session_close: true, or false if there is no
 * such message. */
bool session_msg(struct mqtt_session *s, size_t i, struct session_msg *out);

/* Disconnect and free.  Accepts NULL. */
void session_close(struct mqtt_session *s);

/* Milliseconds on the monotonic clock. */
long long session_now_ms(void);

#endif
