/*
 * The MQTT sink's command intake: the subscriptions to
 * `<prefix>/cmd/<kind>` (ack, shelve, unshelve, service, out_of_service),
 * made again on every connection, and the messages that arrive on them,
 * parsed on paho's thread (command.h) and queued for the main thread.
 * Nothing here blocks paho's thread: a flood is refused through the
 * queue, and beyond what the queue holds, dropped and counted.
 */
#ifndef GW_MQTT_COMMANDS_H
#define GW_MQTT_COMMANDS_H

#include <MQTTAsync.h>
#include <stdbool.h>
#include "command.h"

struct mqtt_commands;

/* For the topics under prefix.  Returns 0 or -ENOMEM. */
int mqtt_commands_create(const char *prefix, struct mqtt_commands **out);

/* Set the message callback of a new client (before it connects).
 * Returns paho's code. */
int mqtt_commands_attach(struct mqtt_commands *mc, MQTTAsync client);

/* Subscribe a connected client to the command topics at QoS 1; v5: the
 * client speaks MQTT 5.  Failures (the broker's ACL refusing them) are
 * logged; publishing carries on without commands. */
void mqtt_commands_subscribe(struct mqtt_commands *mc, MQTTAsync client, bool v5);

/* Main thread: the oldest command waiting (true), or false. */
bool mqtt_commands_next(struct mqtt_commands *mc, struct gw_command *out);

/* Accepts NULL. */
void mqtt_commands_free(struct mqtt_commands *mc);

#endif
