/*
 * influxd and VictoriaMetrics for tests: see tsdb.h for the contracts.
 */
#include "tsdb.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define READY_TIMEOUT_MS 30000
#define PING_INTERVAL_MS 20
#define START_ATTEMPTS 3        /* a port taken between choosing and binding */

static long long mono_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP port on 127.0.0.1 that was free a moment ago. */
static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                     getsockname(fd, (struct sockaddr *)&a, &len) == 0
                 ? ntohs(a.sin_port)
                 : -errno;
    close(fd);
    return rc;
}

/* ---- HTTP ------------------------------------------------------------ */

struct body {
    char *data;
    size_t len;
};

static size_t body_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct body *b = userp;
    size_t n = size * nmemb;
    char *d = realloc(b->data, b->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, data, n);
    b->len += n;
    d[b->len] = '\0';
    b->data = d;
    return n;
}

int http_request(const char *method, const char *url, const char *body, const char *userpwd,
                 long *status, char **answer)
{
    CURL *curl = curl_easy_init();
    struct body b = { 0 };
    if (!curl)
        return -ENOMEM;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    if (userpwd)
        curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    CURLcode cc = curl_easy_perform(curl);
    if (cc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(curl);
    if (cc != CURLE_OK) {
        free(b.data);
        return cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
    }
    if (answer)
        *answer = b.data ? b.data : strdup("");
    else
        free(b.data);
    return 0;
}

static char *escaped(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = e ? strdup(e) : NULL;
    curl_free(e);
    return copy;
}

int influx_query(const struct tsdb *db, const char *database, const char *q, const char *userpwd,
                 struct cJSON **out)
{
    char *eq = escaped(q), *edb = database ? escaped(database) : strdup(""), *url = NULL, *answer = NULL;
    long status = 0;
    int rc = -ENOMEM;
    *out = NULL;
    if (eq && edb && asprintf(&url, "%s/query?epoch=ms&db=%s&q=%s", db->url, edb, eq) >= 0)
        rc = http_request("POST", url, NULL, userpwd, &status, &answer);
    if (rc == 0 && status != 200) {
        fprintf(stderr, "tsdb: query '%s': HTTP %ld: %s\n", q, status, answer);
        rc = -EIO;
    }
    if (rc == 0 && !(*out = cJSON_Parse(answer)))
        rc = -EBADMSG;
    free(eq);
    free(edb);
    free(url);
    free(answer);
    return rc;
}

long influx_write(const struct tsdb *db, const char *database, const char *lines, const char *userpwd)
{
    char *edb = escaped(database), *url = NULL;
    long status = 0;
    int rc = -ENOMEM;
    if (edb && asprintf(&url, "%s/write?precision=ms&db=%s", db->url, edb) >= 0)
        rc = http_request("POST", url, lines, userpwd, &status, NULL);
    free(edb);
    free(url);
    return rc ? rc : status;
}

int victoria_export(const struct tsdb *db, const char *match, char **out)
{
    char url[256], *em = escaped(match), *export_url = NULL;
    long status = 0;
    int rc;
    *out = NULL;
    snprintf(url, sizeof url, "%s/internal/force_flush", db->url);
    rc = http_request("GET", url, NULL, NULL, &status, NULL);
    if (rc == 0 && (!em || asprintf(&export_url, "%s/api/v1/export?match[]=%s", db->url, em) < 0))
        rc = -ENOMEM;
    if (rc == 0)
        rc = http_request("GET", export_url, NULL, NULL, &status, out);
    if (rc == 0 && status != 200) {
        fprintf(stderr, "tsdb: export %s: HTTP %ld: %s\n", match, status, *out);
        free(*out);
        *out = NULL;
        rc = -EIO;
    }
    free(em);
    free(export_url);
    return rc;
}

/* ---- certificates ---------------------------------------------------- */

static int run_openssl(const char *const argv[])
{
    char *err = NULL;
    int status = 0;
    int rc = run_capture(argv, NULL, &err, 30, &status);
    if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        fprintf(stderr, "tsdb: %s %s failed: %s\n", argv[0], argv[1], err ? err : "");
        rc = -EIO;
    }
    free(err);
    return rc;
}

int tls_make_certs(char *ca, char *cert, char *key)
{
    char dir[400], ca_key[512], csr[512], ext[512], subject[64] = "/CN=greenwatch test CA";
    int rc = make_temp_dir(dir, sizeof dir);
    if (rc)
        return rc;
    snprintf(ca, 512, "%s/ca.crt", dir);
    snprintf(cert, 512, "%s/server.crt", dir);
    snprintf(key, 512, "%s/server.key", dir);
    snprintf(ca_key, sizeof ca_key, "%s/ca.key", dir);
    snprintf(csr, sizeof csr, "%s/server.csr", dir);
    snprintf(ext, sizeof ext, "%s/ext.cnf", dir);
    FILE *f = fopen(ext, "we");
    if (!f)
        return -errno;
    fputs("subjectAltName = IP:127.0.0.1\n", f);
    fclose(f);
    const char *const make_ca[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key,
                                    "-out", ca, "-days", "1", "-subj", subject, NULL };
    const char *const make_csr[] = { "openssl", "req", "-newkey", "ec", "-pkeyopt",
                                     "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                                     "-out", csr, "-subj", "/CN=127.0.0.1", NULL };
    const char *const sign[] = { "openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                                 "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", ext, NULL };
    rc = run_openssl(make_ca);
    if (!rc)
        rc = run_openssl(make_csr);
    if (!rc)
        rc = run_openssl(sign);
    return rc;
}

/* ---- starting and stopping ------------------------------------------ */

/* Poll /ping until it answers 2xx, the server exits, or the deadline. */
static int wait_ready(struct tsdb *db)
{
    char url[128];
    long long deadline = mono_now_ms() + READY_TIMEOUT_MS;
    snprintf(url, sizeof url, "%s/ping", db->url);
    for (;;) {
        long status = 0;
        int st;
        if (http_request("GET", url, NULL, NULL, &status, NULL) == 0 && status >= 200 && status < 300)
            return 0;
        if (wait_process(db->pid, 0, &st) == 0) {
            fprintf(stderr, "tsdb: %s exited (status 0x%x) before answering /ping; see %s\n",
                    db->victoria ? "victoria-metrics" : "influxd", (unsigned)st, db->log);
            db->pid = 0;
            return -ECHILD;
        }
        if (mono_now_ms() > deadline) {
            fprintf(stderr, "tsdb: %s not ready within %d s; see %s\n",
                    db->victoria ? "victoria-metrics" : "influxd", READY_TIMEOUT_MS / 1000, db->log);
            tsdb_stop(db);
            return -ETIMEDOUT;
        }
        poll(NULL, 0, PING_INTERVAL_MS);   /* the next /ping, not a guess at readiness */
    }
}

static int spawn(struct tsdb *db)
{
    char listen[64], retention[] = "100y";
    snprintf(listen, sizeof listen, "127.0.0.1:%d", db->port);
    const char *const influxd[] = { "influxd", "-config", db->config, NULL };
    const char *const victoria[] = { "victoria-metrics", "-httpListenAddr", listen,
                                     "-storageDataPath", db->dir, "-retentionPeriod", retention,
                                     "-loggerLevel", "WARN", NULL };
    int rc = spawn_process_logged(db->victoria ? victoria : influxd, db->log, &db->pid);
    if (rc)
        return rc;
    return wait_ready(db);
}

static int write_influxd_config(struct tsdb *db, const struct influxd_options *opt)
{
    FILE *f = fopen(db->config, "we");
    if (!f)
        return -errno;
    fprintf(f,
            "reporting-disabled = true\n"
            "bind-address = \"127.0.0.1:%d\"\n"
            "[meta]\n  dir = \"%s/meta\"\n"
            "[data]\n  dir = \"%s/data\"\n  wal-dir = \"%s/wal\"\n  query-log-enabled = false\n"
            "[http]\n  enabled = true\n  bind-address = \"127.0.0.1:%d\"\n"
            "  log-enabled = false\n  auth-enabled = %s\n  max-body-size = %ld\n"
            "  https-enabled = %s\n  https-certificate = \"%s\"\n  https-private-key = \"%s\"\n"
            "[monitor]\n  store-enabled = false\n"
            "[continuous_queries]\n  enabled = false\n"
            "[logging]\n  level = \"warn\"\n",
            db->rpc_port, db->dir, db->dir, db->dir, db->port, opt && opt->auth ? "true" : "false",
            opt && opt->max_body_size ? opt->max_body_size : 25000000L,
            opt && opt->tls_cert ? "true" : "false", opt && opt->tls_cert ? opt->tls_cert : "",
            opt && opt->tls_key ? opt->tls_key : "");
    return fclose(f) == 0 ? 0 : -errno;
}

static int start_fresh(struct tsdb *db, bool victoria, const struct influxd_options *opt)
{
    int rc = -EADDRINUSE;
    memset(db, 0, sizeof *db);
    db->victoria = victoria;
    if ((rc = make_temp_dir(db->dir, sizeof db->dir)) < 0)
        return rc;
    snprintf(db->config, sizeof db->config, "%s/influxd.conf", db->dir);
    snprintf(db->log, sizeof db->log, "%s/server.log", db->dir);
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        db->port = free_port();
        db->rpc_port = free_port();
        if (db->port < 0 || db->rpc_port < 0)
            return db->port < 0 ? db->port : db->rpc_port;
        snprintf(db->url, sizeof db->url, "%s://127.0.0.1:%d", opt && opt->tls_cert ? "https" : "http",
                 db->port);
        if (!victoria && (rc = write_influxd_config(db, opt)) < 0)
            return rc;
        rc = spawn(db);
        if (rc != -ECHILD)   /* exited early: perhaps a port was taken, try others */
            return rc;
    }
    return rc;
}

int influxd_start(struct tsdb *db, const struct influxd_options *opt)
{
    return start_fresh(db, false, opt);
}

int victoria_start(struct tsdb *db)
{
    return start_fresh(db, true, NULL);
}

int tsdb_restart(struct tsdb *db)
{
    if (db->pid)
        return -EBUSY;
    return spawn(db);
}

int tsdb_stop(struct tsdb *db)
{
    if (!db || db->pid <= 0)
        return 0;
    int rc = stop_process(db->pid, NULL);
    db->pid = 0;
    return rc;
}
