/*
 * greenwatch alarms, ack, shelve and unshelve: the alarms as the daemon
 * publishes them on the broker (docs/alarms.md).
 *
 *   alarms    lists the retained `<prefix>/alarm/#` state topics;
 *   ack ...   publish a command on `<prefix>/cmd/<kind>` and wait for its
 *             answer on `<prefix>/cmd/result`, matched by request id.
 *
 * Exit codes: 0 done, 1 refused by the daemon, 2 usage or configuration,
 * 3 no answer (the broker or the daemon unreachable).
 */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "command.h"
#include "commands.h"
#include "config.h"
#include "diag.h"
#include "log.h"
#include "mqtt_session.h"

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_NO_ANSWER = 3 };

enum {
    CONNECT_MS = 10000,
    ANSWER_MS = 10000,          /* for a command's result */
    QUIET_MS = 500,             /* retained messages come in a burst after the subscription */
    LIST_MAX_MS = 5000,
};

/* The configuration, with an mqtt block; NULL (printed why) otherwise. */
static struct gw_config *load_config(const char *path)
{
    struct gw_config *cfg = NULL;
    struct gw_diag diag = { 0 };
    int rc = config_load(path, &cfg, &diag);
    diag_print(&diag, stderr);
    diag_free(&diag);
    if (rc == -ENOMEM)
        fprintf(stderr, "%s: out of memory while loading\n", path);
    if (rc == 0 && !cfg->mqtt.present) {
        fprintf(stderr, "greenwatch: %s has no mqtt block: alarms are published and commanded through MQTT\n", path);
        config_free(cfg);
        return NULL;
    }
    if (rc == 0)
        log_set_level(GW_LOG_WARNING);
    return rc == 0 ? cfg : NULL;
}

/* ---- greenwatch alarms ------------------------------------------------- */

static int severity_rank(const cJSON *doc)
{
    static const char *const order[] = { "critical", "high", "medium", "low" };
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "severity"));
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, order[i]) == 0)
            return i;
    return 4;
}

static const char *text_of(const cJSON *doc, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, key));
    return s ? s : "";
}

/* The most severe first; then by device and rule. */
static int alarm_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    int d = severity_rank(x) - severity_rank(y);
    if (!d)
        d = strcmp(text_of(x, "device"), text_of(y, "device"));
    return d ? d : strcmp(text_of(x, "rule"), text_of(y, "rule"));
}

struct alarm_list {
    char **topics;
    cJSON **docs;               /* NULL: deleted (an empty payload) */
    size_t n;
};

/* Keep the latest document per topic.  0 or -ENOMEM. */
static int list_put(struct alarm_list *l, const struct session_msg *m)
{
    cJSON *doc = m->len ? cJSON_Parse(m->payload) : NULL;
    if (m->len && !cJSON_IsObject(doc)) {
        fprintf(stderr, "greenwatch: ignoring %s: not an alarm state\n", m->topic);
        cJSON_Delete(doc);
        return 0;
    }
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->topics[i], m->topic) == 0) {
            cJSON_Delete(l->docs[i]);
            l->docs[i] = doc;
            return 0;
        }
    char **t = realloc(l->topics, (l->n + 1) * sizeof *t);
    if (t)
        l->topics = t;
    cJSON **d = realloc(l->docs, (l->n + 1) * sizeof *d);
    if (d)
        l->docs = d;
    if (!t || !d) {
        cJSON_Delete(doc);
        return -ENOMEM;
    }
    l->topics[l->n] = m->topic;
    l->docs[l->n++] = doc;
    return 0;
}

/* The retained states, collected until the burst after the subscription
 * is over. */
static int collect_alarms(struct mqtt_session *s, struct alarm_list *l)
{
    size_t seen = 0;
    long long deadline = session_now_ms() + LIST_MAX_MS;
    for (;;) {
        size_t n = session_wait(s, seen, QUIET_MS);
        if (n == seen)          /* quiet: the burst is over */
            return 0;
        for (; seen < n; seen++) {
            struct session_msg m;
            if (session_msg(s, seen, &m) && list_put(l, &m))
                return -ENOMEM;
        }
        if (session_now_ms() >= deadline)
            return 0;
    }
}

static void format_time(const cJSON *v, char *out, size_t n)
{
    if (!cJSON_IsNumber(v)) {
        snprintf(out, n, "-");
        return;
    }
    time_t t = (time_t)(v->valuedouble / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void format_number(const cJSON *v, char *out, size_t n)
{
    if (cJSON_IsNumber(v))
        snprintf(out, n, "%.6g", v->valuedouble);
    else
        snprintf(out, n, "-");
}

static void print_table(cJSON **docs, size_t n)
{
    if (n == 0) {
        printf("no alarms\n");
        return;
    }
    printf("%-9s %-24s %-36s %10s %10s  %-19s  %-12s %s\n", "SEVERITY", "STATE", "ALARM", "VALUE", "LIMIT",
           "SINCE", "ACKED BY", "MESSAGE");
    for (size_t i = 0; i < n; i++) {
        char alarm[160], value[32], limit[32], since[32];
        snprintf(alarm, sizeof alarm, "%s/%s", text_of(docs[i], "device"), text_of(docs[i], "rule"));
        format_number(cJSON_GetObjectItemCaseSensitive(docs[i], "value"), value, sizeof value);
        format_number(cJSON_GetObjectItemCaseSensitive(docs[i], "limit"), limit, sizeof limit);
        format_time(cJSON_GetObjectItemCaseSensitive(docs[i], "since"), since, sizeof since);
        const char *by = text_of(docs[i], "acked_by");
        printf("%-9s %-24s %-36s %10s %10s  %-19s  %-12s %s\n", text_of(docs[i], "severity"),
               text_of(docs[i], "state"), alarm, value, limit, since, *by ? by : "-", text_of(docs[i], "message"));
    }
}

static void print_json(cJSON **docs, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++)
        cJSON_AddItemReferenceToArray(arr, docs[i]);
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    puts(text ? text : "[]");
    free(text);
    cJSON_Delete(arr);
}

/* The current alarms, sorted, into *out (documents owned by l). */
static size_t current_alarms(const struct alarm_list *l, cJSON ***out)
{
    size_t n = 0;
    cJSON **docs = calloc(l->n + 1, sizeof *docs);
    for (size_t i = 0; docs && i < l->n; i++)
        if (l->docs[i])
            docs[n++] = l->docs[i];
    if (docs)
        qsort(docs, n, sizeof *docs, alarm_cmp);
    *out = docs;
    return n;
}

static int list_alarms(const struct gw_config *cfg, bool json)
{
    struct mqtt_session *s;
    if (session_open(cfg, CONNECT_MS, &s))
        return EXIT_NO_ANSWER;
    char filter[512];
    snprintf(filter, sizeof filter, "%s/alarm/#", cfg->mqtt.topic_prefix);
    struct alarm_list l = { 0 };
    int rc = session_subscribe(s, filter, CONNECT_MS) ? EXIT_NO_ANSWER : 0;
    if (rc == 0 && collect_alarms(s, &l)) {
        fprintf(stderr, "greenwatch: out of memory\n");
        rc = EXIT_NO_ANSWER;
    }
    cJSON **docs = NULL;
    size_t n = current_alarms(&l, &docs);
    if (rc == 0 && json)
        print_json(docs, n);
    else if (rc == 0)
        print_table(docs, n);
    free(docs);
    for (size_t i = 0; i < l.n; i++)
        cJSON_Delete(l.docs[i]);
    free(l.docs);
    free(l.topics);
    session_close(s);
    return rc;
}

/* The site's timezone for the times printed, as the daemon uses it. */
static void use_site_timezone(const struct gw_config *cfg)
{
    if (cfg->site.timezone && *cfg->site.timezone) {
        setenv("TZ", cfg->site.timezone, 1);
        tzset();
    }
}

int cmd_alarms(int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' }, { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    bool json = false;
    for (int opt; (opt = getopt_long(argc, argv, "c:j", options, NULL)) != -1;) {
        if (opt == 'c')
            path = optarg;
        else if (opt == 'j')
            json = true;
        else
            return EXIT_USAGE;
    }
    if (!path || optind != argc) {
        fprintf(stderr, "usage: greenwatch alarms -c FILE [--json]\n");
        return EXIT_USAGE;
    }
    struct gw_config *cfg = load_config(path);
    if (!cfg)
        return EXIT_USAGE;
    use_site_timezone(cfg);
    int rc = list_alarms(cfg, json);
    config_free(cfg);
    return rc;
}

/* ---- greenwatch ack | shelve | unshelve ------------------------------------ */

struct request {
    enum gw_cmd_kind kind;
    const char *path, *device, *rule, *user, *comment;
    double duration_s;          /* shelve */
    bool json;
    char id[40];
};

/*
 * A duration: a number of seconds, or numbers with units s, m, h, d in
 * sequence ("90m", "2h", "1h30m", "1.5d").  Returns the seconds, or -1.
 */
static double parse_duration(const char *text)
{
    double total = 0;
    const char *p = text;
    if (!*p)
        return -1;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0 || *p == '+' || *p == '-')
            return -1;
        double unit = 0;
        switch (*end) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case '\0': unit = p == text ? 1 : 0; break;
        }
        if (unit == 0)
            return -1;
        total += v * unit;
        p = *end ? end + 1 : end;
    }
    return total;
}

static void request_id(char *out, size_t n)
{
    unsigned char r[8] = { 0 };
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        unsigned long long v = (unsigned long long)getpid() << 32 ^ (unsigned long long)session_now_ms();
        memcpy(r, &v, sizeof r);
    }
    snprintf(out, n, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

static char *request_json(const struct request *q)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", q->id);
    cJSON_AddStringToObject(o, "device", q->device);
    cJSON_AddStringToObject(o, "rule", q->rule);
    cJSON_AddStringToObject(o, "user", q->user);
    if (q->kind == GW_CMD_SHELVE)
        cJSON_AddNumberToObject(o, "duration_s", q->duration_s);
    if (q->comment)
        cJSON_AddStringToObject(o, "comment", q->comment);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* The result for q->id on the result topic, within ANSWER_MS; NULL if
 * none came. */
static cJSON *await_result(struct mqtt_session *s, const struct request *q, const char *topic)
{
    size_t seen = 0;
    long long deadline = session_now_ms() + ANSWER_MS;
    while (session_now_ms() < deadline) {
        size_t n = session_wait(s, seen, (int)(deadline - session_now_ms()));
        for (; seen < n; seen++) {
            struct session_msg m;
            if (!session_msg(s, seen, &m) || strcmp(m.topic, topic) != 0)
                continue;
            cJSON *doc = cJSON_Parse(m.payload);
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "id"));
            if (id && strcmp(id, q->id) == 0)
                return doc;
            cJSON_Delete(doc);
        }
    }
    return NULL;
}

static const char *const done_verb[GW_CMD_KIND_COUNT] = {
    [GW_CMD_ACK] = "acknowledged", [GW_CMD_SHELVE] = "shelved", [GW_CMD_UNSHELVE] = "unshelved",
    [GW_CMD_SERVICE] = "service recorded", [GW_CMD_OUT_OF_SERVICE] = "done",
};

/* Print the answer; returns the exit code. */
static int report(const struct request *q, const cJSON *res)
{
    bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "ok"));
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "state"));
    const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "error"));
    if (q->json) {
        char *text = cJSON_PrintUnformatted(res);
        puts(text ? text : "{}");
        free(text);
    } else if (ok) {
        printf("%s/%s: %s%s%s\n", q->device, q->rule, done_verb[q->kind], state ? ", now " : "", state ? state : "");
    } else {
        fprintf(stderr, "greenwatch: %s/%s: refused: %s%s%s%s\n", q->device, q->rule, error ? error : "?",
                state ? " (the alarm is " : "", state ? state : "", state ? ")" : "");
    }
    return ok ? 0 : EXIT_REFUSED;
}

static int send_request(const struct gw_config *cfg, struct request *q)
{
    char topic[512], result_topic[512];
    const char *prefix = cfg->mqtt.topic_prefix;
    snprintf(topic, sizeof topic, "%s/cmd/%s", prefix, command_kind_name(q->kind));
    snprintf(result_topic, sizeof result_topic, "%s/cmd/result", prefix);
    request_id(q->id, sizeof q->id);
    char *payload = request_json(q);
    struct mqtt_session *s = NULL;
    int rc = EXIT_NO_ANSWER;
    if (payload && session_open(cfg, CONNECT_MS, &s) == 0 && session_subscribe(s, result_topic, CONNECT_MS) == 0 &&
        session_publish(s, topic, payload, CONNECT_MS) == 0) {
        cJSON *res = await_result(s, q, result_topic);
        if (res)
            rc = report(q, res);
        else
            fprintf(stderr, "greenwatch: no answer on %s within %d s: is greenwatchd running and connected?\n",
                    result_topic, ANSWER_MS / 1000);
        cJSON_Delete(res);
    }
    session_close(s);
    free(payload);
    return rc;
}

static const char *const usage_text[GW_CMD_KIND_COUNT] = {
    [GW_CMD_ACK] = "usage: greenwatch ack -c FILE DEVICE RULE --user NAME [--comment TEXT] [--json]\n",
    [GW_CMD_SHELVE] = "usage: greenwatch shelve -c FILE DEVICE RULE --user NAME --for DURATION [--comment TEXT] [--json]\n"
                      "  DURATION: 90m, 2h, 1h30m, 1d (60 s to 30 days)\n",
    [GW_CMD_UNSHELVE] = "usage: greenwatch unshelve -c FILE DEVICE RULE --user NAME [--comment TEXT] [--json]\n",
};

static int parse_request(int argc, char **argv, struct request *q)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' }, { "user", required_argument, NULL, 'u' },
        { "comment", required_argument, NULL, 'm' }, { "for", required_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' },          { NULL, 0, NULL, 0 },
    };
    const char *duration = NULL;
    for (int opt; (opt = getopt_long(argc, argv, "c:u:m:f:j", options, NULL)) != -1;) {
        switch (opt) {
        case 'c': q->path = optarg; break;
        case 'u': q->user = optarg; break;
        case 'm': q->comment = optarg; break;
        case 'f': duration = optarg; break;
        case 'j': q->json = true; break;
        default: return -EINVAL;
        }
    }
    if (!q->path || !q->user || optind != argc - 2 || (duration != NULL) != (q->kind == GW_CMD_SHELVE))
        return -EINVAL;
    q->device = argv[optind];
    q->rule = argv[optind + 1];
    if (duration && (q->duration_s = parse_duration(duration)) <= 0) {
        fprintf(stderr, "greenwatch: --for %s: not a duration\n", duration);
        return -EINVAL;
    }
    return 0;
}

static int run_request(enum gw_cmd_kind kind, int argc, char **argv)
{
    struct request q = { .kind = kind };
    if (parse_request(argc, argv, &q)) {
        fputs(usage_text[kind], stderr);
        return EXIT_USAGE;
    }
    struct gw_config *cfg = load_config(q.path);
    if (!cfg)
        return EXIT_USAGE;
    int rc = send_request(cfg, &q);
    config_free(cfg);
    return rc;
}

int cmd_ack(int argc, char **argv)
{
    return run_request(GW_CMD_ACK, argc, argv);
}

int cmd_shelve(int argc, char **argv)
{
    return run_request(GW_CMD_SHELVE, argc, argv);
}

int cmd_unshelve(int argc, char **argv)
{
    return run_request(GW_CMD_UNSHELVE, argc, argv);
}
