#include "profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "schema.h"

#define POINT(field) SCHEMA_FIELD(struct gw_point_def, field)
#define PROFILE(field) SCHEMA_FIELD(struct gw_profile, field)
#define HOLE(field) SCHEMA_FIELD(struct gw_hole, field)

/* Parse state of one point beyond what gw_point_def stores. */
struct point_parse {
    struct gw_point_def def;
    bool has_count, has_bit, has_type, has_timestamp_unit;
};

static const char *const time_unit_names[GW_TIME_UNIT_COUNT] = { "s", "ms" };

static int parse_sentinels(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_min(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_max(const config_setting_t *s, void *target, struct schema_ctx *ctx);

static const struct schema_key point_keys[] = {
    { .name = "name", .type = SCHEMA_STRBUF, POINT(name), .required = true,
      .doc = "letters, digits, `_` `-` `.`; unique in the map" },
    { .name = "table", .type = SCHEMA_ENUM, POINT(table), .required = true,
      .choices = gw_table_names, .n_choices = GW_TABLE_COUNT,
      .doc = "function code 1 (coil), 2 (discrete), 4 (input) or 3 (holding)" },
    { .name = "address", .type = SCHEMA_INT, POINT(address), .required = true,
      .ranged = true, .min = 0, .max = 65535,
      .doc = "0-based protocol address" },
    { .name = "type", .type = SCHEMA_ENUM, POINT(type), .def_num = GW_TYPE_UINT16,
      .choices = gw_type_names, .n_choices = GW_TYPE_COUNT,
      SCHEMA_PRESENT(struct point_parse, has_type),
      .doc = "value type; coils and discrete inputs are always `bit`",
      .doc_default = "`\"uint16\"` (`\"bit\"` on coils and discrete inputs)" },
    { .name = "order", .type = SCHEMA_ENUM, POINT(order), .def_num = GW_ORDER_ABCD,
      .choices = gw_order_names, .n_choices = GW_ORDER_COUNT,
      .doc = "byte order of the big-endian value: `CDAB` word-swapped, `BADC` byte-swapped, `DCBA` little-endian" },
    { .name = "count", .type = SCHEMA_INT, POINT(count), .ranged = true, .min = 1,
      .max = GW_STRING_REGS_MAX, SCHEMA_PRESENT(struct point_parse, has_count),
      .doc = "strings only (required for them): length in registers", .doc_default = "—" },
    { .name = "bit", .type = SCHEMA_INT, POINT(bit), .def_num = -1, .ranged = true,
      .min = 0, .max = 15, SCHEMA_PRESENT(struct point_parse, has_bit),
      .doc = "type `bit` on a register table: which bit, 0 = least significant",
      .doc_default = "— (the register ≠ 0)" },
    { .name = "scale", .type = SCHEMA_FLOAT, POINT(scale), .def_num = 1.0,
      .doc = "value = raw × scale + offset; not 0" },
    { .name = "offset", .type = SCHEMA_FLOAT, POINT(offset), .def_num = 0.0,
      .doc = "added after `scale`" },
    { .name = "unit", .type = SCHEMA_STRBUF, POINT(unit), .def_str = "",
      .doc = "published with the value" },
    { .name = "min", .type = SCHEMA_CUSTOM, .parse = parse_min,
      .doc = "lowest physically plausible value (after scaling); below is uncertain", .doc_type = "number" },
    { .name = "max", .type = SCHEMA_CUSTOM, .parse = parse_max,
      .doc = "highest physically plausible value (after scaling); above is uncertain", .doc_type = "number" },
    { .name = "sentinel", .type = SCHEMA_CUSTOM, .parse = parse_sentinels,
      .doc = "raw values meaning \"no data\" (up to 8), compared before scaling", .doc_type = "list of numbers" },
    { .name = "counter", .type = SCHEMA_BOOL, POINT(counter),
      .doc = "a cumulative counter: its kind derives interval deltas `<name>_delta`" },
    { .name = "timestamp", .type = SCHEMA_BOOL, POINT(timestamp),
      .doc = "the device's own clock (time since 1970 UTC after scaling): stamps the sample; one per map" },
    { .name = "timestamp_unit", .type = SCHEMA_ENUM, POINT(timestamp_unit), .def_num = GW_TIME_S,
      .choices = time_unit_names, .n_choices = GW_TIME_UNIT_COUNT,
      SCHEMA_PRESENT(struct point_parse, has_timestamp_unit),
      .doc = "what a `timestamp` point counts: seconds or milliseconds" },
    { .name = "description", .type = SCHEMA_IGNORE,
      .doc = "free text, e.g. the vendor's register number", .doc_type = "string" },
};

static const struct schema_key hole_keys[] = {
    { .name = "table", .type = SCHEMA_ENUM, HOLE(table), .required = true,
      .choices = gw_table_names, .n_choices = GW_TABLE_COUNT,
      .doc = "the table of the hole" },
    { .name = "from", .type = SCHEMA_INT, HOLE(from), .required = true, .ranged = true, .min = 0, .max = 65535,
      .doc = "its first address" },
    { .name = "to", .type = SCHEMA_INT, HOLE(to), .required = true, .ranged = true, .min = 0, .max = 65535,
      .doc = "its last address (included)" },
};

static int parse_points(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_holes(const config_setting_t *s, void *target, struct schema_ctx *ctx);

/* The limits and the register map; `id` and `description` only in a
 * profile file (a device has its own). */
static const struct schema_key profile_map_keys[] = {
    { .name = "max_read_registers", .type = SCHEMA_INT, PROFILE(max_read_registers), .def_num = -1,
      .ranged = true, .min = 1, .max = 125,
      .doc = "most registers the device serves per read", .doc_default = "125 (a device may set its own)" },
    { .name = "max_read_bits", .type = SCHEMA_INT, PROFILE(max_read_bits), .def_num = -1,
      .ranged = true, .min = 1, .max = 2000,
      .doc = "most coils or discrete inputs per read", .doc_default = "2000 (a device may set its own)" },
    { .name = "max_gap_registers", .type = SCHEMA_INT, PROFILE(max_gap_registers), .def_num = -1,
      .ranged = true, .min = 0, .max = 124,
      .doc = "unrequested registers a read may span to save a request; 0 for devices that refuse such reads",
      .doc_default = "10 (a device may set its own)" },
    { .name = "max_gap_bits", .type = SCHEMA_INT, PROFILE(max_gap_bits), .def_num = -1,
      .ranged = true, .min = 0, .max = 1999,
      .doc = "unrequested bits a read may span to save a request", .doc_default = "160 (a device may set its own)" },
    { .name = "holes", .type = SCHEMA_CUSTOM, .parse = parse_holes,
      .doc = "address ranges the device does not serve: never read across", .doc_type = "list of groups" },
    { .name = "points", .type = SCHEMA_CUSTOM, .parse = parse_points, .required = true,
      .doc = "the points to read", .doc_type = "list of groups" },
};

static const struct schema_key profile_file_keys[] = {
    { .name = "id", .type = SCHEMA_STRING, PROFILE(id), .required = true,
      .doc = "must match the file name `<id>.conf`" },
    { .name = "description", .type = SCHEMA_STRING, PROFILE(description),
      .doc = "free text, listed by `greenwatch profiles`" },
    { .name = "max_read_registers", .type = SCHEMA_IGNORE },
    { .name = "max_read_bits", .type = SCHEMA_IGNORE },
    { .name = "max_gap_registers", .type = SCHEMA_IGNORE },
    { .name = "max_gap_bits", .type = SCHEMA_IGNORE },
    { .name = "holes", .type = SCHEMA_IGNORE },
    { .name = "points", .type = SCHEMA_IGNORE },
};

#define N(a) (sizeof(a) / sizeof(*(a)))

static int parse_bound(const config_setting_t *s, bool *has, double *value, struct schema_ctx *ctx)
{
    if (!schema_number(s, value)) {
        schema_error(ctx, s, "%s must be a number", config_setting_name(s));
        return -EINVAL;
    }
    *has = true;
    return 0;
}

static int parse_min(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_point_def *p = target;
    return parse_bound(s, &p->has_min, &p->min, ctx);
}

static int parse_max(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_point_def *p = target;
    return parse_bound(s, &p->has_max, &p->max, ctx);
}

static int parse_sentinels(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_point_def *p = target;
    int n = config_setting_is_aggregate(s) ? config_setting_length(s) : -1;
    if (n < 1 || n > GW_SENTINEL_MAX) {
        schema_error(ctx, s, "sentinel must be a list of 1 to %d raw values, e.g. [ 0xFFFF ]",
                     GW_SENTINEL_MAX);
        return -EINVAL;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct gw_sentinel *out = &p->sentinels[i];
        int type = config_setting_type(e);
        if (type == CONFIG_TYPE_FLOAT) {
            out->is_float = true;
            out->value = config_setting_get_float(e);
        } else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
            out->bits = config_setting_get_int64(e);
            out->value = (double)out->bits;
        } else {
            schema_error(ctx, e, "sentinel values must be numbers");
            return -EINVAL;
        }
    }
    p->n_sentinels = (uint8_t)n;
    return 0;
}

/* An integer sentinel must be a value the point's registers can hold,
 * signed or unsigned: 0x1FFFF on a uint16 would never match. */
static int check_sentinels(const config_setting_t *s, const struct gw_point_def *p, struct schema_ctx *ctx)
{
    unsigned width = p->type == GW_TYPE_BIT || p->type == GW_TYPE_STRING ? 16u : 16u * point_type_registers(p->type);
    if (gw_table_is_bits(p->table))
        width = 1;
    if (width >= 64)
        return 0;
    int64_t lowest = -((int64_t)1 << (width - 1)), highest = ((int64_t)1 << width) - 1;
    for (unsigned i = 0; i < p->n_sentinels; i++) {
        const struct gw_sentinel *sen = &p->sentinels[i];
        if (!sen->is_float && (sen->bits < lowest || sen->bits > highest)) {
            schema_error(ctx, s, "point '%s': sentinel %lld does not fit in %u bits", p->name,
                         (long long)sen->bits, width);
            return -EINVAL;
        }
    }
    return 0;
}

/* A clock counts whole seconds or milliseconds (integers wide enough for
 * them), or seconds with a fraction (float64); float32's 24 bits cannot
 * hold today's time to the second. */
static bool timestamp_type(enum gw_type type)
{
    return type == GW_TYPE_UINT32 || type == GW_TYPE_INT32 || type == GW_TYPE_UINT64 ||
           type == GW_TYPE_INT64 || type == GW_TYPE_FLOAT64;
}

static int check_timestamp(const config_setting_t *s, const struct point_parse *pp, struct schema_ctx *ctx)
{
    const struct gw_point_def *p = &pp->def;
    int rc = 0;
    if (pp->has_timestamp_unit && !p->timestamp) {
        schema_error(ctx, s, "point '%s': timestamp_unit applies to a clock point (timestamp = true) only",
                     p->name);
        rc = -EINVAL;
    }
    if (!p->timestamp)
        return rc;
    if (!timestamp_type(p->type)) {
        schema_error(ctx, s, "point '%s': a timestamp must be uint32, int32, uint64, int64 or float64, not %s",
                     p->name, gw_type_names[p->type]);
        rc = -EINVAL;
    }
    if (p->counter) {
        schema_error(ctx, s, "point '%s': a timestamp is not a counter", p->name);
        rc = -EINVAL;
    }
    return rc;
}

/* Type-dependent rules a table of keys cannot express. */
static int check_point(const config_setting_t *s, struct point_parse *pp, struct schema_ctx *ctx)
{
    struct gw_point_def *p = &pp->def;
    const char *name = p->name;
    int rc = 0;
    bool bits_table = gw_table_is_bits(p->table);

    if (bits_table && !pp->has_type)
        p->type = GW_TYPE_BIT;  /* the only type a coil or discrete input has */

    if (bits_table && p->type != GW_TYPE_BIT) {
        schema_error(ctx, s, "point '%s': a %s holds bits; type must be \"bit\"", name,
                     gw_table_names[p->table]);
        rc = -EINVAL;
    }
    if (pp->has_bit && (bits_table || p->type != GW_TYPE_BIT)) {
        schema_error(ctx, s, "point '%s': bit applies to type \"bit\" on a register table only", name);
        rc = -EINVAL;
    }
    if (p->type == GW_TYPE_STRING && !pp->has_count) {
        schema_error(ctx, s, "point '%s': a string needs count (its length in registers)", name);
        rc = -EINVAL;
    }
    if (p->type != GW_TYPE_STRING) {
        if (pp->has_count) {
            schema_error(ctx, s, "point '%s': count applies to strings only", name);
            rc = -EINVAL;
        }
        p->count = point_type_registers(p->type);
    }
    if ((unsigned)p->address + p->count > 65536u) {
        schema_error(ctx, s, "point '%s': address %u + %u registers runs past 65535", name,
                     p->address, p->count);
        rc = -EINVAL;
    }
    if (p->counter && (p->type == GW_TYPE_BIT || p->type == GW_TYPE_STRING)) {
        schema_error(ctx, s, "point '%s': a counter must be a number", name);
        rc = -EINVAL;
    }
    if (p->scale == 0.0) {
        schema_error(ctx, s, "point '%s': scale must not be 0", name);
        rc = -EINVAL;
    }
    if (p->has_min && p->has_max && p->min > p->max) {
        schema_error(ctx, s, "point '%s': min %g is above max %g", name, p->min, p->max);
        rc = -EINVAL;
    }
    if (check_sentinels(s, p, ctx))
        rc = -EINVAL;
    if (check_timestamp(s, pp, ctx))
        rc = -EINVAL;
    for (const char *c = name; *c; c++) {
        if (!(*c == '_' || *c == '-' || *c == '.' || (*c >= '0' && *c <= '9') ||
              (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))) {
            schema_error(ctx, s, "point '%s': names may hold letters, digits, '_', '-' and '.' only", name);
            rc = -EINVAL;
            break;
        }
    }
    return rc;
}

static int parse_points(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_profile *prof = target;
    int n = config_setting_is_list(s) ? config_setting_length(s) : -1;
    if (n < 1) {
        schema_error(ctx, s, "points must be a non-empty list ( { name = ...; }, ... )");
        return -EINVAL;
    }
    prof->points = calloc((size_t)n, sizeof *prof->points);
    if (!prof->points)
        return -ENOMEM;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct point_parse pp = { 0 };
        char what[96];
        snprintf(what, sizeof what, "point %d", i + 1);
        int r = schema_load(e, point_keys, N(point_keys), &pp, false, what, ctx);
        if (r == -ENOMEM)
            return r;
        if (r == 0)
            r = check_point(e, &pp, ctx);
        pp.def.line = (int)config_setting_source_line(e);
        prof->points[prof->n_points++] = pp.def;
        if (r)
            rc = -EINVAL;
    }
    return rc;
}

static int parse_holes(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_profile *prof = target;
    int n = config_setting_is_list(s) ? config_setting_length(s) : -1;
    if (n < 0) {
        schema_error(ctx, s, "holes must be a list ( { table = ...; from = ...; to = ...; }, ... )");
        return -EINVAL;
    }
    prof->holes = calloc((size_t)n + 1, sizeof *prof->holes);
    if (!prof->holes)
        return -ENOMEM;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct gw_hole h = { 0 };
        int r = schema_load(e, hole_keys, N(hole_keys), &h, false, "hole", ctx);
        if (r == -ENOMEM)
            return r;
        if (r == 0 && h.from > h.to) {
            schema_error(ctx, e, "hole: from %u is above to %u", h.from, h.to);
            r = -EINVAL;
        }
        if (r)
            rc = -EINVAL;
        else
            prof->holes[prof->n_holes++] = h;
    }
    return rc;
}

static int compare_position(const void *pa, const void *pb)
{
    const struct gw_point_def *a = *(const struct gw_point_def *const *)pa;
    const struct gw_point_def *b = *(const struct gw_point_def *const *)pb;
    if (a->table != b->table)
        return (int)a->table - (int)b->table;
    if (a->address != b->address)
        return (int)a->address - (int)b->address;
    if (a->bit != b->bit)
        return a->bit - b->bit;
    return (a > b) - (a < b);  /* as defined: the later one is reported */
}

/* Two points overlap when their register ranges intersect, except bits of
 * one register (distinct bit numbers) which share it by design. */
static bool points_overlap(const struct gw_point_def *a, const struct gw_point_def *b)
{
    if (a->table != b->table || (unsigned)a->address + a->count <= b->address)
        return false;
    bool register_bits = a->type == GW_TYPE_BIT && b->type == GW_TYPE_BIT &&
                         a->bit >= 0 && b->bit >= 0 && a->address == b->address;
    return !register_bits || a->bit == b->bit;
}

/* One clock per map: two would say two different times for one sample. */
static int check_clock(const struct gw_profile *prof, const char *file, struct gw_diag *diag)
{
    const struct gw_point_def *first = NULL;
    int rc = 0;
    for (size_t i = 0; i < prof->n_points; i++) {
        const struct gw_point_def *p = &prof->points[i];
        if (!p->timestamp)
            continue;
        if (!first) {
            first = p;
            continue;
        }
        diag_add(diag, file, p->line, "point '%s': a second timestamp point (the first is '%s' at line %d); "
                 "a map has one clock", p->name, first->name, first->line);
        rc = -EINVAL;
    }
    return rc;
}

static int check_map(const struct gw_profile *prof, const char *file, struct gw_diag *diag)
{
    int rc = check_clock(prof, file, diag);
    const struct gw_point_def **sorted = malloc(prof->n_points * sizeof *sorted);
    if (!sorted)
        return -ENOMEM;
    for (size_t i = 0; i < prof->n_points; i++)
        sorted[i] = &prof->points[i];
    for (size_t i = 0; i < prof->n_points; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(prof->points[i].name, prof->points[j].name) == 0) {
                diag_add(diag, file, prof->points[i].line, "point '%s' is defined twice (first at line %d)",
                         prof->points[i].name, prof->points[j].line);
                rc = -EINVAL;
            }
    qsort(sorted, prof->n_points, sizeof *sorted, compare_position);
    /* Compare each point with the furthest-reaching earlier one, so a long
     * string covering several later points is caught too, and with the one
     * before it, which is the only one that can hold the same bit of a
     * register the furthest-reaching one shares by another bit. */
    const struct gw_point_def *reach = NULL;
    for (size_t i = 0; i < prof->n_points; i++) {
        const struct gw_point_def *p = sorted[i];
        const struct gw_point_def *other = reach && points_overlap(reach, p) ? reach
                                         : i > 0 && points_overlap(sorted[i - 1], p) ? sorted[i - 1]
                                         : NULL;
        if (other) {
            diag_add(diag, file, p->line, "point '%s' overlaps point '%s' (%s %u..%u)", p->name,
                     other->name, gw_table_names[p->table], other->address,
                     other->address + other->count - 1);
            rc = -EINVAL;
        }
        if (!reach || reach->table != p->table ||
            (unsigned)p->address + p->count > (unsigned)reach->address + reach->count)
            reach = p;
    }
    for (size_t h = 0; h < prof->n_holes; h++)
        for (size_t i = 0; i < prof->n_points; i++) {
            const struct gw_point_def *p = &prof->points[i];
            const struct gw_hole *hole = &prof->holes[h];
            if (p->table == hole->table && p->address <= hole->to &&
                (unsigned)p->address + p->count - 1 >= hole->from) {
                diag_add(diag, file, p->line, "point '%s' lies in a declared hole (%s %u..%u)",
                         p->name, gw_table_names[hole->table], hole->from, hole->to);
                rc = -EINVAL;
            }
        }
    free(sorted);
    return rc;
}

int profile_parse(const config_setting_t *group, struct gw_profile *out, struct gw_diag *diag)
{
    struct schema_ctx ctx = { .diag = diag };
    size_t before = diag->n;
    int rc = schema_load(group, profile_map_keys, N(profile_map_keys), out, true, "profile", &ctx);
    if (rc == -ENOMEM)
        return rc;
    if (!out->file && !(out->file = strdup(config_setting_source_file(group) ? config_setting_source_file(group) : "-")))
        return -ENOMEM;
    if (!out->line)
        out->line = (int)config_setting_source_line(group);
    if (out->n_points && check_map(out, out->file, diag) == -ENOMEM)
        return -ENOMEM;
    return diag->n > before ? -EINVAL : 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int profile_load_file(const char *path, struct gw_profile *out, struct gw_diag *diag)
{
    config_t cfg;
    config_init(&cfg);
    int rc = -EINVAL;
    if (!config_read_file(&cfg, path)) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            diag_add(diag, path, 0, "cannot read profile: %s", strerror(errno ? errno : ENOENT));
        else
            diag_add(diag, config_error_file(&cfg) ? config_error_file(&cfg) : path,
                     config_error_line(&cfg), "%s", config_error_text(&cfg));
        goto out;
    }
    const config_setting_t *group = config_lookup(&cfg, "profile");
    if (!group || !config_setting_is_group(group)) {
        diag_add(diag, path, 0, "no `profile = { ... };` group in this file");
        goto out;
    }
    struct schema_ctx ctx = { .diag = diag };
    size_t before = diag->n;
    rc = schema_load(group, profile_file_keys, N(profile_file_keys), out, false, "profile", &ctx);
    if (rc != -ENOMEM)
        rc = profile_parse(group, out, diag);
    if (rc != -ENOMEM && out->id) {
        size_t len = strlen(out->id);
        const char *base = base_name(path);
        if (strncmp(base, out->id, len) != 0 || strcmp(base + len, ".conf") != 0) {
            diag_add(diag, path, (int)config_setting_source_line(group),
                     "profile id '%s' does not match its file name (expected %s.conf)", out->id, out->id);
        }
    }
    if (rc != -ENOMEM)
        rc = diag->n > before ? -EINVAL : 0;
out:
    config_destroy(&cfg);
    return rc;
}

int profile_find_point(const struct gw_profile *profile, const char *name)
{
    for (size_t i = 0; i < profile->n_points; i++)
        if (strcmp(profile->points[i].name, name) == 0)
            return (int)i;
    return -1;
}

void profile_free(struct gw_profile *profile)
{
    if (!profile)
        return;
    free(profile->id);
    free(profile->description);
    free(profile->file);
    free(profile->points);
    free(profile->holes);
    memset(profile, 0, sizeof *profile);
}
