#include "kindtest.h"

#include <dlfcn.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"

int kt_warnings;

static void kt_log(enum gw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kt_log(enum gw_log_level level, const char *fmt, ...)
{
    if (level <= GW_LOG_WARNING)
        kt_warnings++;
    va_list ap;
    va_start(ap, fmt);
    fputs("    plugin log: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const struct gw_reading *kt_find(const struct gw_sample *s, const char *name)
{
    return sample_find(s, name);
}

static const struct gw_host kt_host = { .add = sample_add, .find = kt_find, .log = kt_log };

int kt_open(struct kt *t, const char *kind, const struct gw_device_info *dev, int64_t start_ms)
{
    char path[4096];
    memset(t, 0, sizeof *t);
    t->ts_ms = start_ms;
    snprintf(path, sizeof path, "%s/%s.so", GW_TEST_PLUGIN_DIR, kind);
    if (!(t->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "kindtest: %s\n", dlerror());
        return -ENOENT;
    }
    t->plugin = dlsym(t->handle, GW_PLUGIN_SYMBOL);
    const struct gw_plugin *p = t->plugin;
    if (!p || p->abi_version != GW_PLUGIN_ABI_VERSION || !p->kind || strcmp(p->kind, kind) != 0 ||
        !p->init || !p->derive || !p->fini) {
        fprintf(stderr, "kindtest: %s: not a valid descriptor of kind '%s'\n", path, kind);
        t->plugin = NULL;
        return -EINVAL;
    }
    int rc = p->init(&kt_host, dev, &t->state);
    if (rc) {
        fprintf(stderr, "kindtest: %s: init refused the device (%d)\n", path, rc);
        t->plugin = NULL;
    }
    return rc;
}

void kt_close(struct kt *t)
{
    if (t->plugin)
        t->plugin->fini(t->state);
    sample_free(&t->sample);
    if (t->handle)
        dlclose(t->handle);
    memset(t, 0, sizeof *t);
}

int kt_step(struct kt *t, double dt_s, const struct kt_in *in, size_t n)
{
    sample_free(&t->sample);
    if (sample_init(&t->sample, "dev", n + 8))
        return -ENOMEM;
    if (t->started) {
        t->ts_ms += (int64_t)(dt_s * 1000.0 + (dt_s >= 0 ? 0.5 : -0.5));
        t->sample.elapsed_s = dt_s;
    }
    t->started = true;
    t->sample.ts_ms = t->ts_ms;
    for (size_t i = 0; i < n; i++)
        if (sample_add(&t->sample, in[i].name, "", in[i].v, in[i].q))
            return -ENOMEM;
    t->derive_rc = t->plugin->derive(t->state, &t->sample);
    return t->derive_rc;
}

const struct gw_reading *kt_get(const struct kt *t, const char *name)
{
    return sample_find(&t->sample, name);
}

bool kt_good(const struct kt *t, const char *name, double *v)
{
    const struct gw_reading *r = kt_get(t, name);
    if (!r || r->quality != GW_QUALITY_GOOD)
        return false;
    if (v)
        *v = r->value;
    return true;
}

int kt_quality(const struct kt *t, const char *name)
{
    const struct gw_reading *r = kt_get(t, name);
    return r ? (int)r->quality : -1;
}

/* ---- default rules ------------------------------------------------- */

static const char *const rule_keys[] = {
    "id", "type", "point", "high", "low", "deadband", "on_delay_s", "off_delay_s",
    "severity", "message", "states", "enabled", "expr", "suppress_when", "intervals",
    "jump", "samples", "tolerance", "window_s", "days", "start", "end", "grace_s",
    "sigma", "percent", "weeks", "direction", "min_coverage", "min_deviation",
};
static const char *const rule_types[] = {
    "limit", "state", "comm_loss", "stale", "rate", "spike", "flatline", "schedule",
    "maintenance", "expression", "baseline",
};
static const char *const severities[] = { "critical", "high", "medium", "low" };

static bool one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

static int rule_problem(int index, const char *what)
{
    fprintf(stderr, "kindtest: default rule %d: %s\n", index, what);
    return -1;
}

static int check_rule(const config_setting_t *r, int index)
{
    if (!config_setting_is_group(r))
        return rule_problem(index, "not a group");
    for (int k = 0; k < config_setting_length(r); k++) {
        const char *key = config_setting_name(config_setting_get_elem(r, (unsigned)k));
        if (!one_of(key, rule_keys, sizeof rule_keys / sizeof *rule_keys))
            return rule_problem(index, key);
    }
    const char *id, *type, *point, *expr, *severity = "medium";
    if (!config_setting_lookup_string(r, "id", &id) || !config_setting_lookup_string(r, "type", &type))
        return rule_problem(index, "lacks id or type");
    if (!one_of(type, rule_types, sizeof rule_types / sizeof *rule_types))
        return rule_problem(index, "unknown type");
    bool has_point = config_setting_lookup_string(r, "point", &point);
    bool has_expr = config_setting_lookup_string(r, "expr", &expr);
    bool pointless = strcmp(type, "comm_loss") == 0 || strcmp(type, "expression") == 0;
    if (pointless ? has_point : !has_point && !(strcmp(type, "schedule") == 0 && has_expr))
        return rule_problem(index, pointless ? "a point it cannot take" : "lacks a point");
    config_setting_lookup_string(r, "severity", &severity);
    if (!one_of(severity, severities, 4))
        return rule_problem(index, "unknown severity");
    double high, low;
    int has_high = config_setting_lookup_float(r, "high", &high);
    int has_low = config_setting_lookup_float(r, "low", &low);
    const config_setting_t *states = config_setting_get_member(r, "states");
    if (strcmp(type, "limit") == 0) {
        if ((!has_high && !has_low) || (has_high && has_low && low >= high) || states)
            return rule_problem(index, "a limit needs high and/or low (low < high), no states");
    } else if (strcmp(type, "state") == 0) {
        if (!states || !config_setting_is_array(states) || config_setting_length(states) < 1 ||
            has_high || has_low)
            return rule_problem(index, "a state rule needs states = [ ... ] and no limits");
    } else if (states || has_high || has_low) {
        return rule_problem(index, "limits or states on a rule that is neither limit nor state");
    }
    return 0;
}

static bool duplicate_id(const config_setting_t *list, int index)
{
    const char *id, *other;
    config_setting_lookup_string(config_setting_get_elem(list, (unsigned)index), "id", &id);
    for (int j = 0; j < index; j++)
        if (config_setting_lookup_string(config_setting_get_elem(list, (unsigned)j), "id", &other) &&
            strcmp(id, other) == 0)
            return true;
    return false;
}

int kt_check_rules(const char *text)
{
    config_t cfg;
    config_init(&cfg);
    size_t n = strlen(text) + 16;
    char *doc = malloc(n);
    int count = -1;
    /* A bare list, or a document `rules = ( ... ); derives = [ ... ];`. */
    const char *t = text + strspn(text, " \t\r\n");
    snprintf(doc, n, strncmp(t, "rules", 5) == 0 ? "%s\n" : "rules = %s;\n", text);
    if (!config_read_string(&cfg, doc)) {
        fprintf(stderr, "kindtest: default rules line %d: %s\n", config_error_line(&cfg), config_error_text(&cfg));
        goto out;
    }
    const config_setting_t *list = config_lookup(&cfg, "rules");
    if (!list || !config_setting_is_list(list)) {
        fprintf(stderr, "kindtest: default rules are not a list\n");
        goto out;
    }
    count = config_setting_length(list);
    for (int i = 0; i < config_setting_length(list) && count >= 0; i++)
        if (check_rule(config_setting_get_elem(list, (unsigned)i), i) ||
            (duplicate_id(list, i) && rule_problem(i, "duplicate id")))
            count = -1;
out:
    free(doc);
    config_destroy(&cfg);
    return count;
}
