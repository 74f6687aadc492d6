/*
 * Time-series databases for tests and benchmarks: influxd (InfluxDB 1.x,
 * Debian package influxdb) and VictoriaMetrics (victoria-metrics), each
 * started on 127.0.0.1 ephemeral ports with a private data directory,
 * awaited by polling /ping with a deadline, stopped by pid.  Plus the few
 * HTTP requests tests make to them.
 *
 * Conventions are the harness's: 0 or a negative errno, a message on
 * stderr when something fails.
 */
#ifndef GW_TEST_TSDB_H
#define GW_TEST_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tsdb {
    pid_t pid;                  /* 0 when not running */
    bool victoria;              /* VictoriaMetrics rather than influxd */
    int port;                   /* HTTP on 127.0.0.1 */
    int rpc_port;               /* influxd's backup/restore RPC */
    char url[64];               /* http://127.0.0.1:<port> */
    char dir[512];              /* private data directory */
    char config[600];           /* influxd's configuration file */
    char log[600];              /* the server's stdout and stderr */
};

struct influxd_options {
    bool auth;                  /* [http] auth-enabled */
    long max_body_size;         /* bytes; 0: influxd's default (25 MB) */
    const char *tls_cert;       /* HTTPS with this certificate and key (url: https://) */
    const char *tls_key;
};

/* Start influxd (opt may be NULL) and wait until it answers /ping.
 * Returns 0, -ENOENT if influxd is not installed, or a negative errno. */
int influxd_start(struct tsdb *db, const struct influxd_options *opt);

/* Start VictoriaMetrics (retention 100 years: tests write any
 * timestamp).  Returns 0, -ENOENT if it is not installed, or -errno. */
int victoria_start(struct tsdb *db);

/* Start a stopped server again: same ports, same data. */
int tsdb_restart(struct tsdb *db);

/* SIGTERM by pid, wait (SIGKILL after 10 s).  Returns 0 or -errno. */
int tsdb_stop(struct tsdb *db);

/*
 * Make a CA and a server certificate for 127.0.0.1 signed by it (EC keys,
 * valid a day) in a new temporary directory; paths into ca, cert, key
 * (each at least 512 bytes).  Returns 0 or a negative errno.
 */
int tls_make_certs(char *ca, char *cert, char *key);

/*
 * One HTTP request to url (body may be NULL; userpwd "user:password" or
 * NULL).  HTTPS is not verified: these are the test's own servers.  Returns 0 with *status and, if answer is not NULL, the answer
 * (malloc'd, NUL-terminated), or a negative errno when no answer came.
 */
int http_request(const char *method, const char *url, const char *body, const char *userpwd,
                 long *status, char **answer);

/* An InfluxQL statement for database db (NULL: none) with epoch=ms.
 * Returns 0 and the JSON answer (*out, cJSON; cJSON_Delete it) when the
 * status was 200, or a negative errno. */
struct cJSON;
int influx_query(const struct tsdb *db, const char *database, const char *q, const char *userpwd,
                 struct cJSON **out);

/* Write line protocol directly (precision ms).  Returns the HTTP status
 * or a negative errno. */
long influx_write(const struct tsdb *db, const char *database, const char *lines, const char *userpwd);

/* VictoriaMetrics: flush what it buffers, then /api/v1/export for a
 * series selector.  Returns 0 and the JSON lines (malloc'd) or -errno. */
int victoria_export(const struct tsdb *db, const char *match, char **out);

#endif
