/*
 * greenwatch report: the configuration as the report sees it, and the
 * InfluxQL queries that fill struct report_input (report.h).
 *
 * Each calendar month is one HTTP request to /query holding every
 * statement for that month (InfluxQL cannot group by calendar month, so
 * every statement carries the month's explicit time range).  Statements
 * sum interval deltas, take maxima, count samples and list the long
 * intervals between samples; nothing is computed from raw readings here.
 */
#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "report.h"
#include "secret.h"

#define DEFAULT_GAS_LHV_KWH_M3 9.97   /* the boiler kind's default (docs/kinds.md) */
#define MIN_QUERY_TIMEOUT_MS 120000L  /* a month of 10 s samples takes influxd a while */

/* ---- the configuration, as the report sees it ------------------------------- */

static int role_of(const char *kind)
{
    if (strcmp(kind, "meter") == 0)
        return REPORT_ROLE_METER;
    if (strcmp(kind, "chiller") == 0)
        return REPORT_ROLE_CHILLER;
    if (strcmp(kind, "boiler") == 0)
        return REPORT_ROLE_BOILER;
    return REPORT_ROLE_OTHER;
}

static const char *tag_of(const struct gw_device_cfg *dc, const char *key)
{
    for (size_t i = 0; i < dc->n_tags; i++)
        if (strcmp(dc->tags[i].key, key) == 0)
            return dc->tags[i].value;
    return NULL;
}

static double param_of(const struct gw_device_cfg *dc, const char *key, double fallback)
{
    for (size_t i = 0; i < dc->n_params; i++)
        if (strcmp(dc->params[i].key, key) == 0)
            return dc->params[i].value;
    return fallback;
}

/* The point counted for completeness: the first counter of the map (a
 * meter's kWh or m3, present in every good sample), else its first
 * number. */
static const char *count_field_of(const struct gw_profile *p)
{
    for (size_t i = 0; p && i < p->n_points; i++)
        if (p->points[i].counter)
            return p->points[i].name;
    for (size_t i = 0; p && i < p->n_points; i++)
        if (p->points[i].type != GW_TYPE_STRING)
            return p->points[i].name;
    return NULL;
}

/* A category code of a whole energy (01000 electricity, 02000 water, ...). */
static bool total_code(const char *code)
{
    return code && strlen(code) == 5 && code[0] == '0' && code[1] >= '1' && code[1] <= '9' &&
           strcmp(code + 2, "000") == 0;
}

static bool is_main(const struct gw_config *cfg, const struct gw_device_cfg *dc)
{
    const struct gw_report_cfg *r = &cfg->report;
    for (size_t i = 0; i < r->n_main_meters; i++)
        if (strcmp(r->main_meters[i], dc->id) == 0)
            return true;
    return r->n_main_meters == 0 && total_code(tag_of(dc, "category"));
}

static int minutes_of(const char *hhmm)
{
    int h = 0, m = 0;
    sscanf(hhmm, "%d:%d", &h, &m);   /* validated by the configuration */
    return h * 60 + m;
}

int report_setup_from_config(const struct gw_config *cfg, struct report_setup *s)
{
    memset(s, 0, sizeof *s);
    const struct gw_report_cfg *r = &cfg->report;
    s->site_id = cfg->site.id;
    s->site_name = cfg->site.name ? cfg->site.name : cfg->site.id;
    s->timezone = cfg->site.timezone;
    s->floor_area_m2 = cfg->site.floor_area_m2;
    s->factors.name = r->factors.name;
    s->factors.source = r->factors.source;
    s->factors.year = r->factors.year;
    s->factors.kg[REPORT_ELECTRICITY] = r->factors.electricity_kg_per_kwh;
    s->factors.kg[REPORT_WATER] = -1;
    s->factors.kg[REPORT_GAS] = r->factors.gas_kg_per_m3;
    s->factors.kg[REPORT_HEAT] = r->factors.heat_kg_per_kwh;
    s->occupied_from_min = minutes_of(r->occupied_from);
    s->occupied_to_min = minutes_of(r->occupied_to);
    s->gas_kwh_per_m3 = r->gas_kwh_per_m3;
    s->anomaly_pct = r->anomaly_pct;
    s->estimated_below_pct = r->estimated_below_pct;
    s->gap_intervals = r->gap_intervals;
    s->bucket_s = 900;
    if (!(s->devices = calloc(cfg->n_devices ? cfg->n_devices : 1, sizeof *s->devices)))
        return -ENOMEM;
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct gw_device_cfg *dc = &cfg->devices[i];
        if (!dc->enabled)
            continue;
        s->devices[s->n_devices++] = (struct report_device){
            .id = dc->id, .kind = dc->kind, .category = tag_of(dc, "category"),
            .energy = report_energy_of(tag_of(dc, "energy")), .role = role_of(dc->kind),
            .main_meter = is_main(cfg, dc), .interval_s = dc->interval_s,
            .count_field = count_field_of(dc->profile),
            .outdoor_temp = dc->profile && profile_find_point(dc->profile, "outdoor_temp") >= 0,
            .gas_lhv_kwh_m3 = param_of(dc, "gas_lhv_kwh_m3", DEFAULT_GAS_LHV_KWH_M3),
        };
    }
    return 0;
}

void report_setup_free(struct report_setup *s)
{
    free(s->devices);
    memset(s, 0, sizeof *s);
}

/* ---- text buffers and InfluxQL quoting ------------------------------------------ */

struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
};

static void sb_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    if (need < 0 || b->oom) {
        va_end(again);
        return;
    }
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)need;
        char *grown = realloc(b->s, cap);
        if (!grown) {
            b->oom = true;
            va_end(again);
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, again);
    b->len += (size_t)need;
    va_end(again);
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(b, fmt, ap);
    va_end(ap);
}

/* text between quote characters, with the quote and backslash escaped. */
static void sb_quoted(struct sbuf *b, char quote, const char *text)
{
    sb_printf(b, "%c", quote);
    for (const char *p = text; *p; p++)
        sb_printf(b, *p == quote || *p == '\\' ? "\\%c" : "%c", *p);
    sb_printf(b, "%c", quote);
}

/* ---- one month's statements -------------------------------------------------- */

struct month_ctx;
typedef void (*apply_fn)(struct month_ctx *ctx, const cJSON *series, size_t device);

struct stmt {
    apply_fn apply;
    size_t device;             /* for per-device statements */
};

struct device_scan {           /* completeness and gaps, one device */
    int64_t first_ms, last_ms;
    int64_t *end_ms, *len_ms;  /* intervals longer than the gap length: end and length */
    size_t n;
};

struct month_ctx {
    const struct report_setup *s;
    struct report_month_data *md;
    struct device_scan *scan;  /* n_devices */
    struct sbuf q;
    struct stmt *stmts;
    size_t n_stmts;
    bool oom;
};

/* Append one statement (the text of b) with its handler. */
static void add_stmt(struct month_ctx *c, apply_fn apply, size_t device, const struct sbuf *b)
{
    struct stmt *grown = b->oom ? NULL : realloc(c->stmts, (c->n_stmts + 1) * sizeof *grown);
    if (!grown) {
        c->oom = true;
        return;
    }
    c->stmts = grown;
    c->stmts[c->n_stmts++] = (struct stmt){ apply, device };
    sb_printf(&c->q, "%s%s", c->q.len ? ";" : "", b->s);
}

/* "FROM m WHERE site AND [device AND] [extra AND] month's time range" */
static void sb_from_where(struct sbuf *b, const struct month_ctx *c, const char *measurement,
                          const char *device_id, const char *extra)
{
    sb_printf(b, " FROM ");
    sb_quoted(b, '"', measurement);
    sb_printf(b, " WHERE \"site\" = ");
    sb_quoted(b, '\'', c->s->site_id);
    if (device_id) {
        sb_printf(b, " AND \"device\" = ");
        sb_quoted(b, '\'', device_id);
    }
    if (extra)
        sb_printf(b, " AND %s", extra);
    sb_printf(b, " AND time >= %lldms AND time < %lldms", (long long)c->md->m.start * 1000,
              (long long)c->md->m.end * 1000);
}

/* SELECT select FROM ... [GROUP BY group [fill(none) tz('site')]] */
static void add_select(struct month_ctx *c, apply_fn apply, size_t device, const char *select,
                       const char *measurement, const char *device_id, const char *extra, const char *group,
                       bool in_tz)
{
    struct sbuf b = { 0 };
    sb_printf(&b, "SELECT %s", select);
    sb_from_where(&b, c, measurement, device_id, extra);
    if (group)
        sb_printf(&b, " GROUP BY %s", group);
    if (in_tz) {
        sb_printf(&b, " fill(none) tz(");
        sb_quoted(&b, '\'', c->s->timezone);
        sb_printf(&b, ")");
    }
    add_stmt(c, apply, device, &b);
    free(b.s);
}

/* ---- reading answers ------------------------------------------------------------ */

static int device_index(const struct report_setup *s, const cJSON *series)
{
    const cJSON *tag = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(series, "tags"), "device");
    for (size_t d = 0; cJSON_IsString(tag) && d < s->n_devices; d++)
        if (strcmp(s->devices[d].id, tag->valuestring) == 0)
            return (int)d;
    return -1;
}

/* Row r's column c as a number; NAN for null or missing. */
static double cell(const cJSON *series, int r, int c)
{
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(series, "values"), r);
    const cJSON *v = cJSON_GetArrayItem(row, c);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int rows(const cJSON *series)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(series, "values"));
}

/* The statement's series, for each device it names (GROUP BY "device"). */
#define FOR_DEVICE_SERIES(ctx, series, ser, d)                                  \
    for (const cJSON *ser = (series) ? (series)->child : NULL; ser; ser = ser->next) \
        for (int d = device_index((ctx)->s, ser); d >= 0; d = -1)

static void apply_kwh(struct month_ctx *c, const cJSON *series, size_t device)
{
    (void)device;
    FOR_DEVICE_SERIES(c, series, ser, d) {
        int e = c->s->devices[d].energy;
        if (e == REPORT_ELECTRICITY || e == REPORT_HEAT)
            c->md->dev[d].use = cell(ser, 0, 1);
    }
}

static void apply_m3(struct month_ctx *c, const cJSON *series, size_t device)
{
    (void)device;
    FOR_DEVICE_SERIES(c, series, ser, d) {
        int e = c->s->devices[d].energy;
        if (e == REPORT_WATER || e == REPORT_GAS)
            c->md->dev[d].use = cell(ser, 0, 1);
    }
}

static void apply_peak(struct month_ctx *c, const cJSON *series, size_t device)
{
    (void)device;
    FOR_DEVICE_SERIES(c, series, ser, d) {
        c->md->dev[d].peak_kw = cell(ser, 0, 1);
        c->md->dev[d].peak_ms = (int64_t)cell(ser, 0, 0);
    }
}

static void apply_chiller(struct month_ctx *c, const cJSON *series, size_t device)
{
    (void)device;
    FOR_DEVICE_SERIES(c, series, ser, d) {
        c->md->dev[d].cooling_sum = cell(ser, 0, 1);
        c->md->dev[d].power_sum = cell(ser, 0, 2);
    }
}

static void apply_boiler(struct month_ctx *c, const cJSON *series, size_t device)
{
    (void)device;
    FOR_DEVICE_SERIES(c, series, ser, d) {
        c->md->dev[d].heat_sum = cell(ser, 0, 1);
        c->md->dev[d].gas_sum = cell(ser, 0, 2);
    }
}

static void apply_buckets(struct month_ctx *c, const cJSON *series, size_t device)
{
    (void)device;
    const cJSON *ser = series ? series->child : NULL;
    int n = ser ? rows(ser) : 0;
    if (n <= 0 || !(c->md->buckets = calloc((size_t)n, sizeof *c->md->buckets))) {
        c->oom |= n > 0;
        return;
    }
    for (int r = 0; r < n; r++)
        if (!isnan(cell(ser, r, 1)))
            c->md->buckets[c->md->n_buckets++] = (struct report_bucket){ (int64_t)cell(ser, r, 0), cell(ser, r, 1) };
}

static void apply_days(struct month_ctx *c, const cJSON *series, size_t device)
{
    (void)device;
    const cJSON *ser = series ? series->child : NULL;
    int n = ser ? rows(ser) : 0;
    if (n <= 0 || !(c->md->days = calloc((size_t)n, sizeof *c->md->days))) {
        c->oom |= n > 0;
        return;
    }
    for (int r = 0; r < n; r++)
        if (!isnan(cell(ser, r, 1)))
            c->md->days[c->md->n_days++] = (struct report_day){ (int64_t)cell(ser, r, 0), cell(ser, r, 1) };
}

static void apply_count(struct month_ctx *c, const cJSON *series, size_t device)
{
    const cJSON *ser = series ? series->child : NULL;
    c->md->dev[device].samples = ser ? cell(ser, 0, 1) : 0;
}

static void apply_first(struct month_ctx *c, const cJSON *series, size_t device)
{
    const cJSON *ser = series ? series->child : NULL;
    if (ser && rows(ser) > 0)
        c->scan[device].first_ms = (int64_t)cell(ser, 0, 0);
}

static void apply_last(struct month_ctx *c, const cJSON *series, size_t device)
{
    const cJSON *ser = series ? series->child : NULL;
    if (ser && rows(ser) > 0)
        c->scan[device].last_ms = (int64_t)cell(ser, 0, 0);
}

static void apply_elapsed(struct month_ctx *c, const cJSON *series, size_t device)
{
    struct device_scan *sc = &c->scan[device];
    const cJSON *ser = series ? series->child : NULL;
    int n = ser ? rows(ser) : 0;
    if (n <= 0)
        return;
    sc->end_ms = calloc((size_t)n, sizeof *sc->end_ms);
    sc->len_ms = calloc((size_t)n, sizeof *sc->len_ms);
    if (!sc->end_ms || !sc->len_ms) {
        c->oom = true;
        return;
    }
    for (int r = 0; r < n; r++) {
        sc->end_ms[sc->n] = (int64_t)cell(ser, r, 0);
        sc->len_ms[sc->n++] = (int64_t)cell(ser, r, 1);
    }
}

/* ---- building a month's statements ----------------------------------------------- */

static bool any_role(const struct report_setup *s, int role)
{
    for (size_t d = 0; d < s->n_devices; d++)
        if (s->devices[d].role == role)
            return true;
    return false;
}

/* The site's electricity in buckets: its main meters, or all its
 * electricity meters when none is main. */
static void add_buckets(struct month_ctx *c)
{
    const struct report_setup *s = c->s;
    bool has_main = false;
    for (size_t d = 0; d < s->n_devices; d++)
        has_main |= s->devices[d].role == REPORT_ROLE_METER && s->devices[d].energy == REPORT_ELECTRICITY &&
                    s->devices[d].main_meter;
    struct sbuf w = { 0 };
    for (size_t d = 0; d < s->n_devices; d++) {
        const struct report_device *dv = &s->devices[d];
        if (dv->role != REPORT_ROLE_METER || dv->energy != REPORT_ELECTRICITY || (has_main && !dv->main_meter))
            continue;
        sb_printf(&w, "%s\"device\" = ", w.len ? " OR " : "(");
        sb_quoted(&w, '\'', dv->id);
    }
    if (w.len) {
        sb_printf(&w, ")");
        char group[32];
        snprintf(group, sizeof group, "time(%ds)", s->bucket_s);
        if (w.oom)
            c->oom = true;
        else
            add_select(c, apply_buckets, 0, "sum(\"energy_kwh_delta\")", "meter", NULL, w.s, group, true);
    }
    free(w.s);
}

/* Daily means of the first device with an outdoor temperature. */
static void add_weather(struct month_ctx *c)
{
    const struct report_setup *s = c->s;
    for (size_t d = 0; d < s->n_devices; d++) {
        if (s->devices[d].outdoor_temp) {
            add_select(c, apply_days, d, "mean(\"outdoor_temp\")", s->devices[d].kind, s->devices[d].id, NULL,
                       "time(1d)", true);
            return;
        }
    }
}

static int64_t gap_ms_of(const struct report_setup *s, const struct report_device *dv)
{
    return (int64_t)((s->gap_intervals + 0.5) * dv->interval_s * 1000.0);
}

/* count, first and last of the device's counted field, and the intervals
 * between its samples longer than the gap length:
 *   SELECT * FROM (SELECT elapsed(f, 1ms) AS "e" FROM ...) WHERE "e" > gap */
static void add_completeness(struct month_ctx *c, size_t d)
{
    const struct report_device *dv = &c->s->devices[d];
    static const struct {
        const char *fn;
        apply_fn apply;
    } stats[] = { { "count", apply_count }, { "first", apply_first }, { "last", apply_last } };
    struct sbuf f = { 0 }, b = { 0 };
    sb_quoted(&f, '"', dv->count_field);
    for (size_t i = 0; !f.oom && i < sizeof stats / sizeof *stats; i++) {
        b.len = 0;
        sb_printf(&b, "%s(%s)", stats[i].fn, f.s);
        if (!b.oom)
            add_select(c, stats[i].apply, d, b.s, dv->kind, dv->id, NULL, NULL, false);
    }
    b.len = 0;
    sb_printf(&b, "SELECT * FROM (SELECT elapsed(%s, 1ms) AS \"e\"", f.s ? f.s : "");
    sb_from_where(&b, c, dv->kind, dv->id, NULL);
    sb_printf(&b, ") WHERE \"e\" > %lld", (long long)gap_ms_of(c->s, dv));
    c->oom |= f.oom;
    add_stmt(c, apply_elapsed, d, &b);
    free(f.s);
    free(b.s);
}

static void build_month(struct month_ctx *c)
{
    const struct report_setup *s = c->s;
    add_select(c, apply_kwh, 0, "sum(\"energy_kwh_delta\")", "meter", NULL, NULL, "\"device\"", false);
    add_select(c, apply_m3, 0, "sum(\"volume_m3_delta\")", "meter", NULL, NULL, "\"device\"", false);
    if (c->md->history)
        return;
    add_select(c, apply_peak, 0, "max(\"demand_kw\")", "meter", NULL, NULL, "\"device\"", false);
    if (any_role(s, REPORT_ROLE_CHILLER))
        add_select(c, apply_chiller, 0, "sum(\"cooling_kw\"), sum(\"power_kw\")", "chiller", NULL,
                   "\"cop\" > 0", "\"device\"", false);
    if (any_role(s, REPORT_ROLE_BOILER))
        add_select(c, apply_boiler, 0, "sum(\"heat_kw\"), sum(\"gas_flow\")", "boiler", NULL,
                   "\"efficiency\" > 0", "\"device\"", false);
    add_buckets(c);
    add_weather(c);
    for (size_t d = 0; d < s->n_devices; d++)
        if (s->devices[d].count_field)
            add_completeness(c, d);
}

/* ---- HTTP ------------------------------------------------------------------------ */

struct conn {
    const struct gw_config *cfg;
    CURL *curl;
    char *query_url;
    struct curl_slist *headers;
    char *password, *token;
};

static size_t body_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct sbuf *b = userp;
    sb_printf(b, "%.*s", (int)(size * nmemb), data);
    return b->oom ? 0 : size * nmemb;
}

static int read_secret(const struct gw_config *cfg, const char *key, const char *name, char **out)
{
    char why[512];
    char *file = strdup(cfg->file);
    if (!file)
        return -ENOMEM;
    int rc = secret_read(name, dirname(file), out, why, sizeof why);
    free(file);
    if (rc)
        fprintf(stderr, "greenwatch: influxdb: %s: %s\n", key, why);
    return rc;
}

static int conn_open(struct conn *cn, const struct gw_config *cfg)
{
    const struct gw_influx_cfg *c = &cfg->influx;
    memset(cn, 0, sizeof *cn);
    cn->cfg = cfg;
    bool v2 = strcmp(c->api, "v2") == 0;
    if (c->password_file && read_secret(cfg, "password_file", c->password_file, &cn->password))
        return -EIO;
    if (c->token_file && read_secret(cfg, "token_file", c->token_file, &cn->token))
        return -EIO;
    if (!(cn->curl = curl_easy_init()))
        return -ENOMEM;
    /* InfluxDB 2.x maps db (and rp) of its v1-compatible /query to a bucket. */
    const char *db = v2 ? c->bucket : c->database;
    char *db_e = curl_easy_escape(cn->curl, db, 0);
    char *rp_e = c->retention_policy ? curl_easy_escape(cn->curl, c->retention_policy, 0) : NULL;
    size_t base = strlen(c->url);
    while (base && c->url[base - 1] == '/')
        base--;
    int rc = db_e && asprintf(&cn->query_url, "%.*s/query?db=%s%s%s&epoch=ms", (int)base, c->url, db_e,
                              rp_e ? "&rp=" : "", rp_e ? rp_e : "") >= 0 ? 0 : -ENOMEM;
    curl_free(db_e);
    curl_free(rp_e);
    char *auth = NULL;
    if (!rc && cn->token && asprintf(&auth, "Authorization: Token %s", cn->token) < 0)
        rc = -ENOMEM;
    struct curl_slist *h = rc ? NULL : curl_slist_append(NULL, "Accept: application/json");
    if (h && auth && !(h = curl_slist_append(h, auth)))
        rc = -ENOMEM;
    cn->headers = h;
    if (auth) {
        secret_free(auth);
    }
    return rc ? rc : h ? 0 : -ENOMEM;
}

static void conn_close(struct conn *cn)
{
    curl_slist_free_all(cn->headers);
    if (cn->curl)
        curl_easy_cleanup(cn->curl);
    free(cn->query_url);
    secret_free(cn->password);
    secret_free(cn->token);
    memset(cn, 0, sizeof *cn);
}

/* POST q; returns 0 and the parsed answer, or -EIO after saying why. */
static int conn_query(struct conn *cn, const char *q, cJSON **out)
{
    const struct gw_influx_cfg *c = &cn->cfg->influx;
    CURL *curl = cn->curl;
    *out = NULL;
    char *q_e = curl_easy_escape(curl, q, 0), *body = NULL;
    if (!q_e || asprintf(&body, "q=%s", q_e) < 0) {
        curl_free(q_e);
        return -ENOMEM;
    }
    curl_free(q_e);
    struct sbuf answer = { 0 };
    char err[CURL_ERROR_SIZE] = "";
    long timeout = c->timeout_ms > MIN_QUERY_TIMEOUT_MS ? c->timeout_ms : MIN_QUERY_TIMEOUT_MS;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, cn->query_url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, cn->headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "greenwatch/" GW_VERSION);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
    if (c->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
    if (c->username) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, cn->password ? cn->password : "");
    }
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    free(body);
    int rc = 0;
    if (cc != CURLE_OK) {
        fprintf(stderr, "greenwatch: %s: %s\n", c->url, err[0] ? err : curl_easy_strerror(cc));
        rc = answer.oom ? -ENOMEM : -EIO;
    } else if (status != 200) {
        fprintf(stderr, "greenwatch: %s answered HTTP %ld: %.300s\n", c->url, status, answer.s ? answer.s : "");
        rc = -EIO;
    } else if (!(*out = cJSON_Parse(answer.s ? answer.s : ""))) {
        fprintf(stderr, "greenwatch: %s: the answer is not JSON\n", c->url);
        rc = -EIO;
    }
    free(answer.s);
    return rc;
}

/* Hand each statement's series to its handler.  Returns 0 or -EIO. */
static int dispatch(struct month_ctx *c, const cJSON *answer)
{
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(answer, "error");
    if (cJSON_IsString(err)) {
        fprintf(stderr, "greenwatch: influxdb: %s\n", err->valuestring);
        return -EIO;
    }
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(answer, "results");
    if (cJSON_GetArraySize(results) != (int)c->n_stmts) {
        fprintf(stderr, "greenwatch: influxdb answered %d results for %zu statements\n",
                cJSON_GetArraySize(results), c->n_stmts);
        return -EIO;
    }
    int i = 0;
    for (const cJSON *res = results->child; res; res = res->next, i++) {
        err = cJSON_GetObjectItemCaseSensitive(res, "error");
        if (cJSON_IsString(err)) {
            fprintf(stderr, "greenwatch: influxdb: statement %d: %s\n", i + 1, err->valuestring);
            return -EIO;
        }
        c->stmts[i].apply(c, cJSON_GetObjectItemCaseSensitive(res, "series"), c->stmts[i].device);
    }
    return c->oom ? -ENOMEM : 0;
}

static int finish_gaps(struct month_ctx *c)
{
    const struct report_setup *s = c->s;
    for (size_t d = 0; d < s->n_devices; d++) {
        const struct report_device *dv = &s->devices[d];
        struct device_scan *sc = &c->scan[d];
        struct report_dev_data *dd = &c->md->dev[d];
        if (!dv->count_field)
            continue;
        if (report_gaps_build(c->md->m.start * 1000, c->md->m.end * 1000, sc->first_ms, sc->last_ms, sc->end_ms,
                              sc->len_ms, sc->n, gap_ms_of(s, dv), &dd->gaps, &dd->n_gaps))
            return -ENOMEM;
    }
    return 0;
}

static int query_month(struct conn *cn, const struct report_setup *s, struct report_month_data *md)
{
    struct month_ctx c = { .s = s, .md = md, .scan = calloc(s->n_devices ? s->n_devices : 1, sizeof *c.scan) };
    if (!c.scan)
        return -ENOMEM;
    for (size_t d = 0; d < s->n_devices; d++)
        c.scan[d].first_ms = c.scan[d].last_ms = -1;
    build_month(&c);
    cJSON *answer = NULL;
    int rc = c.oom || c.q.oom ? -ENOMEM : conn_query(cn, c.q.s, &answer);
    if (!rc)
        rc = dispatch(&c, answer);
    if (!rc && !md->history)
        rc = finish_gaps(&c);
    cJSON_Delete(answer);
    for (size_t d = 0; d < s->n_devices; d++) {
        free(c.scan[d].end_ms);
        free(c.scan[d].len_ms);
    }
    free(c.scan);
    free(c.stmts);
    free(c.q.s);
    return rc;
}

int report_query(const struct gw_config *cfg, const struct report_setup *setup, struct report_input *in)
{
    if (!cfg->influx.present) {
        fprintf(stderr, "greenwatch: %s has no influxdb block to report from\n", cfg->file);
        return -EINVAL;
    }
    struct conn cn;
    int rc = conn_open(&cn, cfg);
    for (size_t k = 0; !rc && k < in->n; k++)
        rc = query_month(&cn, setup, &in->months[k]);
    conn_close(&cn);
    return rc;
}
