#include "schema.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void schema_error(struct schema_ctx *ctx, const config_setting_t *setting, const char *fmt, ...)
{
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(ctx->diag, config_setting_source_file(setting),
             (int)config_setting_source_line(setting), "%s", msg);
}

bool schema_number(const config_setting_t *setting, double *out)
{
    switch (config_setting_type(setting)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        *out = (double)config_setting_get_int64(setting);
        return true;
    case CONFIG_TYPE_FLOAT:
        *out = config_setting_get_float(setting);
        return true;
    default:
        return false;
    }
}

/* Edit distance, for "did you mean": a typo must not be silently ignored,
 * and the message should point at the fix. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return SIZE_MAX;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The walker of this thread, and the custom key being parsed on it. */
static _Thread_local schema_walk_fn *walk_fn;
static _Thread_local void *walk_arg;
static _Thread_local const struct schema_key *walk_parent;

void schema_walk(schema_walk_fn *fn, void *arg)
{
    walk_fn = fn;
    walk_arg = arg;
    walk_parent = NULL;
}

/* A custom key's parse(), known as the parent of the tables it applies. */
static int parse_custom(const config_setting_t *s, const struct schema_key *k, void *target,
                        struct schema_ctx *ctx)
{
    const struct schema_key *outer = walk_parent;
    walk_parent = k;
    int rc = k->parse(s, target, ctx);
    walk_parent = outer;
    return rc;
}

static const struct schema_key *find_key(const struct schema_key *keys, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static void report_unknown(const config_setting_t *s, const struct schema_key *keys, size_t n,
                           const char *what, struct schema_ctx *ctx)
{
    const char *name = config_setting_name(s);
    const char *best = NULL;
    size_t best_distance = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(name, keys[i].name);
        if (d < best_distance) {
            best_distance = d;
            best = keys[i].name;
        }
    }
    if (best)
        schema_error(ctx, s, "%s: unknown key '%s' (did you mean '%s'?)", what, name, best);
    else
        schema_error(ctx, s, "%s: unknown key '%s'", what, name);
}

static void store_int(void *field, size_t size, int64_t v)
{
    switch (size) {
    case 1: { int8_t x = (int8_t)v; memcpy(field, &x, 1); break; }
    case 2: { int16_t x = (int16_t)v; memcpy(field, &x, 2); break; }
    case 4: { int32_t x = (int32_t)v; memcpy(field, &x, 4); break; }
    default: memcpy(field, &v, 8); break;
    }
}

static int check_range(const config_setting_t *s, const struct schema_key *k, double v,
                       const char *what, struct schema_ctx *ctx)
{
    if (k->ranged && (v < k->min || v > k->max)) {
        schema_error(ctx, s, "%s: %s = %g is out of range (%g..%g)", what, k->name, v, k->min, k->max);
        return -EINVAL;
    }
    return 0;
}

static int store_string(const config_setting_t *s, const struct schema_key *k, void *field,
                        const char *value, const char *what, struct schema_ctx *ctx)
{
    if (k->type == SCHEMA_STRBUF) {
        if (strlen(value) >= k->size) {
            schema_error(ctx, s, "%s: %s is longer than %zu characters", what, k->name, k->size - 1);
            return -EINVAL;
        }
        strcpy(field, value);
        return 0;
    }
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    free(*(char **)field);
    *(char **)field = copy;
    return 0;
}

static int store_enum(const config_setting_t *s, const struct schema_key *k, void *field,
                      const char *value, const char *what, struct schema_ctx *ctx)
{
    for (size_t i = 0; i < k->n_choices; i++) {
        if (strcmp(value, k->choices[i]) == 0) {
            store_int(field, k->size, (int64_t)i);
            return 0;
        }
    }
    char list[256] = "";
    for (size_t i = 0; i < k->n_choices; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", k->choices[i]);
    schema_error(ctx, s, "%s: %s = \"%s\" is not one of: %s", what, k->name, value, list);
    return -EINVAL;
}

static const char *type_word(enum schema_type t)
{
    switch (t) {
    case SCHEMA_INT: return "an integer";
    case SCHEMA_FLOAT: return "a number";
    case SCHEMA_BOOL: return "true or false";
    default: return "a string";
    }
}

/* Store one present setting according to its key. */
static int load_value(const config_setting_t *s, const struct schema_key *k, void *target,
                      const char *what, struct schema_ctx *ctx)
{
    void *field = (char *)target + k->offset;
    int type = config_setting_type(s);
    double num;

    switch (k->type) {
    case SCHEMA_CUSTOM:
        return parse_custom(s, k, target, ctx);
    case SCHEMA_IGNORE:
        return 0;
    case SCHEMA_STRING:
    case SCHEMA_STRBUF:
    case SCHEMA_ENUM:
        if (type != CONFIG_TYPE_STRING)
            break;
        return k->type == SCHEMA_ENUM
                   ? store_enum(s, k, field, config_setting_get_string(s), what, ctx)
                   : store_string(s, k, field, config_setting_get_string(s), what, ctx);
    case SCHEMA_INT:
        if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
            break;
        if (check_range(s, k, (double)config_setting_get_int64(s), what, ctx))
            return -EINVAL;
        store_int(field, k->size, config_setting_get_int64(s));
        return 0;
    case SCHEMA_FLOAT:
        if (!schema_number(s, &num))
            break;
        if (!isfinite(num) || check_range(s, k, num, what, ctx)) {
            if (!isfinite(num))
                schema_error(ctx, s, "%s: %s must be a finite number", what, k->name);
            return -EINVAL;
        }
        *(double *)field = num;
        return 0;
    case SCHEMA_BOOL:
        if (type != CONFIG_TYPE_BOOL)
            break;
        *(bool *)field = config_setting_get_bool(s);
        return 0;
    }
    schema_error(ctx, s, "%s: %s must be %s", what, k->name, type_word(k->type));
    return -EINVAL;
}

static int apply_default(const struct schema_key *k, void *target)
{
    void *field = (char *)target + k->offset;
    switch (k->type) {
    case SCHEMA_STRING:
        if (k->def_str && !*(char **)field && !(*(char **)field = strdup(k->def_str)))
            return -ENOMEM;
        return 0;
    case SCHEMA_STRBUF:
        if (k->def_str)
            snprintf(field, k->size, "%s", k->def_str);
        return 0;
    case SCHEMA_INT:
        store_int(field, k->size, (int64_t)k->def_num);
        return 0;
    case SCHEMA_FLOAT:
        *(double *)field = k->def_num;
        return 0;
    case SCHEMA_BOOL:
        *(bool *)field = k->def_num != 0;
        return 0;
    case SCHEMA_ENUM:
        store_int(field, k->size, (int64_t)k->def_num);
        return 0;
    default:
        return 0;
    }
}

int schema_load(const config_setting_t *group, const struct schema_key *keys, size_t n,
                void *target, bool allow_unknown, const char *what, struct schema_ctx *ctx)
{
    int rc = 0;
    if (walk_fn)
        walk_fn(walk_parent, keys, n, walk_arg);
    if (!config_setting_is_group(group)) {
        schema_error(ctx, group, "%s must be a group { ... }", what);
        return -EINVAL;
    }
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        if (!allow_unknown && !find_key(keys, n, config_setting_name(s))) {
            report_unknown(s, keys, n, what, ctx);
            rc = -EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct schema_key *k = &keys[i];
        const config_setting_t *s = config_setting_get_member(group, k->name);
        if (!s) {
            if (k->required) {
                schema_error(ctx, group, "%s: missing required key '%s'", what, k->name);
                rc = -EINVAL;
            }
            if (apply_default(k, target) < 0)
                return -ENOMEM;
            continue;
        }
        int r = load_value(s, k, target, what, ctx);
        if (r == -ENOMEM)
            return r;
        if (r < 0) {
            /* Later checks see the default, not a field left unset, so
             * that one mistake is reported once. */
            rc = -EINVAL;
            if (apply_default(k, target) < 0)
                return -ENOMEM;
        } else if (k->present_offset)
            *(bool *)((char *)target + k->present_offset) = true;
    }
    return rc;
}

int schema_defaults(const struct schema_key *keys, size_t n, void *target)
{
    for (size_t i = 0; i < n; i++)
        if (apply_default(&keys[i], target) < 0)
            return -ENOMEM;
    return 0;
}

void schema_free(const struct schema_key *keys, size_t n, void *target)
{
    for (size_t i = 0; i < n; i++) {
        if (keys[i].type != SCHEMA_STRING)
            continue;
        char **field = (char **)((char *)target + keys[i].offset);
        free(*field);
        *field = NULL;
    }
}
