#include "mqtt_conn.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "secret.h"

/* mqtt:// and mqtts:// as paho knows them. */
static char *paho_uri(const char *uri)
{
    char *out = NULL;
    if (strncmp(uri, "mqtt://", 7) == 0)
        return asprintf(&out, "tcp://%s", uri + 7) < 0 ? NULL : out;
    if (strncmp(uri, "mqtts://", 8) == 0)
        return asprintf(&out, "ssl://%s", uri + 8) < 0 ? NULL : out;
    return strdup(uri);
}

/* Where a certificate or key file is (see mqtt_conn_load).  NULL stays
 * NULL.  0 or -ENOMEM. */
static int resolve_file(const char *name, const char *base_dir, char **out)
{
    *out = NULL;
    if (!name)
        return 0;
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    int rc;
    if (!strchr(name, '/') && creds && *creds) {
        if (asprintf(out, "%s/%s", creds, name) < 0)
            return -ENOMEM;
        if (access(*out, F_OK) == 0)
            return 0;
        free(*out);
    }
    rc = name[0] == '/' ? asprintf(out, "%s", name) : asprintf(out, "%s/%s", base_dir, name);
    if (rc < 0) {
        *out = NULL;
        return -ENOMEM;
    }
    return 0;
}

static int load_files(struct gw_mqtt_conn *c, const char *base_dir)
{
    const struct gw_mqtt_cfg *m = c->m;
    if (resolve_file(m->ca_file, base_dir, &c->ca_file) ||
        resolve_file(m->cert_file, base_dir, &c->cert_file) ||
        resolve_file(m->key_file, base_dir, &c->key_file))
        return -ENOMEM;
    if (!m->password_file)
        return 0;
    char why[512];
    int rc = secret_read(m->password_file, base_dir, &c->password, why, sizeof why);
    if (rc)
        log_error("mqtt: %s", why);
    return rc;
}

int mqtt_conn_load(const struct gw_config *cfg, struct gw_mqtt_conn *c)
{
    memset(c, 0, sizeof *c);
    c->m = &cfg->mqtt;
    char *dir = strdup(cfg->file ? cfg->file : ".");
    int rc = -ENOMEM;
    if (dir && (c->uri = paho_uri(c->m->uri))) {
        c->tls = strncmp(c->uri, "ssl://", 6) == 0 || strncmp(c->uri, "wss://", 6) == 0;
        rc = load_files(c, dirname(dir));
    }
    free(dir);
    if (rc)
        mqtt_conn_free(c);
    return rc;
}

void mqtt_conn_tls(const struct gw_mqtt_conn *c, MQTTAsync_SSLOptions *ssl)
{
    ssl->trustStore = c->ca_file;
    ssl->keyStore = c->cert_file;
    ssl->privateKey = c->key_file;
    ssl->enableServerCertAuth = 1;
    ssl->verify = c->m->verify_hostname;
}

void mqtt_conn_free(struct gw_mqtt_conn *c)
{
    secret_free(c->password);
    free(c->uri);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    const struct gw_mqtt_cfg *m = c->m;
    memset(c, 0, sizeof *c);
    c->m = m;
}
