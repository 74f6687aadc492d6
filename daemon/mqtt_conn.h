/*
 * How to reach the broker of a configuration's mqtt block: the address as
 * paho spells it, the TLS files resolved, the password read.  Shared by
 * the MQTT sink and the operator tool, so that both connect alike.
 */
#ifndef GW_MQTT_CONN_H
#define GW_MQTT_CONN_H

#include <MQTTAsync.h>
#include <stdbool.h>
#include "config.h"

struct gw_mqtt_conn {
    const struct gw_mqtt_cfg *m;
    char *uri;                  /* tcp://, ssl://, ws://, wss:// */
    bool tls;
    char *ca_file, *cert_file, *key_file;   /* resolved paths; NULL when not set */
    char *password;             /* NULL without password_file; wiped by mqtt_conn_free */
};

/*
 * Fill c for cfg's mqtt block (cfg must outlive c).  Certificate and key
 * names without '/' are looked up first in $CREDENTIALS_DIRECTORY, and
 * relative names are relative to the configuration file's directory, as
 * for secrets (secret.h).  Returns 0, -ENOMEM, or secret_read's negative
 * errno (logged); on error c holds nothing to free.
 */
int mqtt_conn_load(const struct gw_config *cfg, struct gw_mqtt_conn *c);

/* TLS options for a connect: the broker's certificate always verified,
 * its host name unless verify_hostname is off.  Pointers into c. */
void mqtt_conn_tls(const struct gw_mqtt_conn *c, MQTTAsync_SSLOptions *ssl);

/* Accepts a zeroed c. */
void mqtt_conn_free(struct gw_mqtt_conn *c);

#endif
