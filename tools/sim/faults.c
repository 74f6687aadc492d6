#include "faults.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "sim.h"

const char *const fault_type_names[FAULT_TYPE_COUNT] = {
    "no_answer", "delay", "exception",
    "chw_drift", "low_delta_t", "off_schedule", "no_flow",
    "counter_reset", "counter_rollover", "stuck", "spike",
    "flue_fouling", "short_cycling",
};

void fault_spec_init(struct fault_spec *f, enum fault_type type)
{
    memset(f, 0, sizeof *f);
    f->type = type;
    f->delay_ms = 2000.0;
    f->rate = 2.0;
    f->factor = type == FAULT_SPIKE ? 10.0 : 2.5;
    f->code = 2;
    f->address = -1;
    f->count = 1;
    f->reads = type == FAULT_SPIKE ? 1 : 0;
    f->rise = 150.0;
    f->on_s = 180.0;
    f->off_s = 180.0;
}

/* ---- keys -------------------------------------------------------- */

enum key_kind { K_TEXT, K_NUMBER, K_INT };

struct key {
    const char *name;
    enum key_kind kind;
    size_t offset;
};

#define KEY(name, kind, field) { name, kind, offsetof(struct fault_spec, field) }

/* device and type are set apart (type decides the defaults). */
static const struct key keys[] = {
    KEY("point", K_TEXT, point),
    KEY("after_s", K_NUMBER, after_s),
    KEY("for_s", K_NUMBER, for_s),
    KEY("delay_ms", K_NUMBER, delay_ms),
    KEY("rate", K_NUMBER, rate),
    KEY("factor", K_NUMBER, factor),
    KEY("value", K_NUMBER, value),
    KEY("margin", K_NUMBER, margin),
    KEY("rise", K_NUMBER, rise),
    KEY("on_s", K_NUMBER, on_s),
    KEY("off_s", K_NUMBER, off_s),
    KEY("code", K_INT, code),
    KEY("address", K_INT, address),
    KEY("count", K_INT, count),
    KEY("reads", K_INT, reads),
};

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int find_type(const char *name)
{
    for (int i = 0; i < FAULT_TYPE_COUNT; i++)
        if (strcmp(fault_type_names[i], name) == 0)
            return i;
    return -1;
}

static int set_text(char *dst, const char *value, char *err, size_t n, const char *key)
{
    if (strlen(value) >= GW_NAME_MAX) {
        snprintf(err, n, "%s is too long", key);
        return -EINVAL;
    }
    strcpy(dst, value);
    return 0;
}

int fault_spec_set(struct fault_spec *f, const char *key, const char *value, char *err,
                   size_t n)
{
    const struct key *k = find_key(key);
    char *end;

    if (strcmp(key, "device") == 0)
        return set_text(f->device, value, err, n, key);
    if (!k) {
        snprintf(err, n, "unknown fault key '%s'", key);
        return -EINVAL;
    }
    if (k->kind == K_TEXT)
        return set_text((char *)f + k->offset, value, err, n, key);
    double v = strtod(value, &end);
    if (end == value || *end || !isfinite(v) || (k->kind == K_INT && v != floor(v))) {
        snprintf(err, n, "%s must be a%s number, not '%s'", key,
                 k->kind == K_INT ? "n integer" : "", value);
        return -EINVAL;
    }
    if (k->kind == K_INT)
        *(int *)((char *)f + k->offset) = (int)v;
    else
        *(double *)((char *)f + k->offset) = v;
    if (strcmp(key, "value") == 0)
        f->has_value = true;
    return 0;
}

/* One setting of a scenario group, as text for fault_spec_set. */
static int setting_text(const config_setting_t *e, char *buf, size_t n)
{
    switch (config_setting_type(e)) {
    case CONFIG_TYPE_STRING: snprintf(buf, n, "%s", config_setting_get_string(e)); return 0;
    case CONFIG_TYPE_INT: snprintf(buf, n, "%d", config_setting_get_int(e)); return 0;
    case CONFIG_TYPE_INT64: snprintf(buf, n, "%lld", config_setting_get_int64(e)); return 0;
    case CONFIG_TYPE_FLOAT: snprintf(buf, n, "%.17g", config_setting_get_float(e)); return 0;
    default: return -EINVAL;
    }
}

int fault_spec_parse(const config_setting_t *group, struct fault_spec *f, char *err, size_t n)
{
    const char *type = NULL;

    if (!config_setting_is_group(group)) {
        snprintf(err, n, "a fault is a group { device = ...; type = ...; }");
        return -EINVAL;
    }
    if (!config_setting_lookup_string(group, "type", &type) || find_type(type) < 0) {
        snprintf(err, n, "fault needs a type, one of no_answer, delay, exception, chw_drift, "
                 "low_delta_t, off_schedule, no_flow, counter_reset, counter_rollover, stuck, spike, "
                 "flue_fouling, short_cycling");
        return -EINVAL;
    }
    fault_spec_init(f, (enum fault_type)find_type(type));
    f->line = (int)config_setting_source_line(group);
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *e = config_setting_get_elem(group, (unsigned)i);
        const char *key = config_setting_name(e);
        char text[128];

        if (strcmp(key, "type") == 0)
            continue;
        if (setting_text(e, text, sizeof text) < 0) {
            snprintf(err, n, "%s must be a number or a string", key);
            return -EINVAL;
        }
        if (fault_spec_set(f, key, text, err, n) < 0)
            return -EINVAL;
    }
    return 0;
}

/* ---- validation -------------------------------------------------- */

static bool needs_role(enum fault_type t, enum role_kind *kind)
{
    switch (t) {
    case FAULT_CHW_DRIFT: case FAULT_LOW_DELTA_T: case FAULT_OFF_SCHEDULE:
        *kind = ROLE_CHILLER;
        return true;
    case FAULT_NO_FLOW:
        *kind = ROLE_PUMP;
        return true;
    case FAULT_FLUE_FOULING: case FAULT_SHORT_CYCLING:
        *kind = ROLE_BOILER;
        return true;
    default:
        return false;
    }
}

static int validate(struct sim *s, const struct fault_spec *f, char *err, size_t n)
{
    struct sim_device *d = sim_find_device(s, f->device);
    enum role_kind kind;

    if (!d) {
        snprintf(err, n, "no device '%s'", f->device);
        return -EINVAL;
    }
    if (needs_role(f->type, &kind) && d->role.kind != kind) {
        snprintf(err, n, "%s applies to a %s; '%s' is a %s", fault_type_names[f->type],
                 role_names[kind], f->device, role_names[d->role.kind]);
        return -EINVAL;
    }
    if (f->point[0] && !simdev_binding(d, f->point)) {
        snprintf(err, n, "device '%s' has no point '%s'", f->device, f->point);
        return -EINVAL;
    }
    if (f->type == FAULT_SPIKE && !f->point[0]) {
        snprintf(err, n, "spike needs a point");
        return -EINVAL;
    }
    if (f->type == FAULT_EXCEPTION && (f->code < 1 || f->code > 255)) {
        snprintf(err, n, "exception code must be 1..255");
        return -EINVAL;
    }
    if (f->for_s < 0.0 || f->after_s < 0.0 || f->delay_ms < 0.0) {
        snprintf(err, n, "after_s, for_s and delay_ms cannot be negative");
        return -EINVAL;
    }
    if (f->type == FAULT_FLUE_FOULING && !(f->rise > 0.0 && f->rise <= 500.0)) {
        snprintf(err, n, "flue_fouling: rise must be above 0 and at most 500 K");
        return -EINVAL;
    }
    if (f->type == FAULT_SHORT_CYCLING && !(f->on_s >= 10.0 && f->off_s >= 10.0)) {
        snprintf(err, n, "short_cycling: on_s and off_s must be at least 10 s");
        return -EINVAL;
    }
    return 0;
}

int faults_add(struct sim *s, const struct fault_spec *spec, double start, int *id,
               char *err, size_t n)
{
    struct fault_schedule *fs = &s->faults;

    if (validate(s, spec, err, n) < 0)
        return -EINVAL;
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? 2 * fs->cap : 16;
        struct fault *v = realloc(fs->v, cap * sizeof *v);

        if (!v)
            return -ENOMEM;
        fs->v = v;
        fs->cap = cap;
    }
    struct fault *f = &fs->v[fs->n++];
    f->id = ++fs->next_id;
    f->spec = *spec;
    f->start = start;
    f->end = spec->for_s > 0.0 ? start + spec->for_s : 0.0;
    f->state = FAULT_PENDING;
    if (id)
        *id = f->id;
    return 0;
}

/* ---- effects ----------------------------------------------------- */

static bool targets(const struct fault_spec *f, const struct sim_binding *b)
{
    return f->point[0] ? strcmp(f->point, b->def->name) == 0 : true;
}

/* Counters: a reset puts the reading at zero (a new meter); a rollover
 * puts it just below its wrap.  Without a named point a rollover takes
 * the counters that can wrap and that grow with use. */
static void counters(struct sim *s, struct sim_device *d, const struct fault_spec *f)
{
    for (size_t i = 0; i < d->n_bindings; i++) {
        struct sim_binding *b = &d->bindings[i];

        if (!b->q || !(b->q->flags & Q_COUNTER) || !targets(f, b))
            continue;
        /* What the model has counted so far, before base and wrap. */
        double raw = b->q->get(&s->building, &d->role) *
                     (b->q->flags & Q_EXTENSIVE ? d->factor : 1.0);
        if (f->type == FAULT_COUNTER_RESET) {
            b->base = -raw;
        } else if (b->wrap > 0.0 && (f->point[0] || (b->q->flags & Q_EXTENSIVE))) {
            double margin = f->margin > 0.0 ? f->margin : 100.0 * fabs(b->def->scale);
            b->base = b->wrap - margin - raw;
        }
    }
}

static void points(struct sim_device *d, const struct fault_spec *f, bool on)
{
    for (size_t i = 0; i < d->n_bindings; i++) {
        struct sim_binding *b = &d->bindings[i];

        /* Without a point named, the measurements freeze and the device's
         * clock runs on: a stuck sensor, not a hung device. */
        bool clock = b->q && (b->q->flags & Q_CLOCK);
        if (!targets(f, b) || b->def->type == GW_TYPE_STRING || (clock && !f->point[0]))
            continue;
        if (f->type == FAULT_STUCK) {
            b->stuck = on;
            b->stuck_value = b->value;
        } else {
            b->spike = on;
            b->spike_value = f->has_value ? f->value
                             : fabs(b->value) > 1e-9 ? b->value * f->factor : 999.0;
        }
    }
}

static void modbus_level(struct sim_device *d, const struct fault_spec *f, bool on)
{
    struct device_faults *df = &d->faults;

    switch (f->type) {
    case FAULT_NO_ANSWER: df->no_answer = on; break;
    case FAULT_DELAY: df->delay_ms = on ? (int)f->delay_ms : 0; break;
    default:
        df->exception = on ? f->code : 0;
        df->exc_from = f->address;
        df->exc_to = f->address < 0 ? -1 : f->address + (f->count > 0 ? f->count : 1) - 1;
        break;
    }
}

static void physics(struct sim *s, struct sim_device *d, const struct fault_spec *f, bool on)
{
    struct chiller *c = role_chiller(&s->building, &d->role);
    struct pump *p = role_pump(&s->building, &d->role);
    struct boiler *b = &s->building.plant.boiler;

    switch (f->type) {
    case FAULT_FLUE_FOULING: b->flue_rise = on ? f->rise : 0.0; break;
    case FAULT_SHORT_CYCLING:
        b->cycle_on_s = on ? f->on_s : 0.0;
        b->cycle_off_s = on ? f->off_s : 0.0;
        b->cycle_s = 0.0;
        break;
    case FAULT_CHW_DRIFT:
        c->drift_rate = on ? f->rate : 0.0;
        if (!on)
            c->drift = 0.0;
        break;
    case FAULT_LOW_DELTA_T: c->low_dt_factor = on ? f->factor : 1.0; break;
    case FAULT_OFF_SCHEDULE: c->force_on = on; break;
    default: p->no_flow = on; break;
    }
}

static void apply(struct sim *s, struct fault *f, bool on)
{
    struct sim_device *d = sim_find_device(s, f->spec.device);

    sim_refresh_device(s, d);       /* faults act on what is served now */
    switch (f->spec.type) {
    case FAULT_NO_ANSWER: case FAULT_DELAY: case FAULT_EXCEPTION:
        modbus_level(d, &f->spec, on);
        break;
    case FAULT_CHW_DRIFT: case FAULT_LOW_DELTA_T: case FAULT_OFF_SCHEDULE: case FAULT_NO_FLOW:
    case FAULT_FLUE_FOULING: case FAULT_SHORT_CYCLING:
        physics(s, d, &f->spec, on);
        break;
    case FAULT_COUNTER_RESET: case FAULT_COUNTER_ROLLOVER:
        if (on)
            counters(s, d, &f->spec);
        break;
    default:
        points(d, &f->spec, on);
        break;
    }
    d->encoded_step = -1;
    f->state = on ? FAULT_ACTIVE : FAULT_OVER;
    /* Counter faults happen once: the new reading simply carries on. */
    if (on && (f->spec.type == FAULT_COUNTER_RESET || f->spec.type == FAULT_COUNTER_ROLLOVER))
        f->state = FAULT_OVER;
}

void faults_update(struct sim *s)
{
    double t = s->building.t;

    for (size_t i = 0; i < s->faults.n; i++) {
        struct fault *f = &s->faults.v[i];

        if (f->state == FAULT_PENDING && t >= f->start)
            apply(s, f, true);
        if (f->state == FAULT_ACTIVE && f->end > 0.0 && t >= f->end)
            apply(s, f, false);
    }
}

int faults_clear(struct sim *s, int id, const char *device, int type)
{
    int n = 0;

    for (size_t i = 0; i < s->faults.n; i++) {
        struct fault *f = &s->faults.v[i];
        bool match = id >= 0 ? f->id == id
                             : (!device || strcmp(device, f->spec.device) == 0) &&
                               (type < 0 || (int)f->spec.type == type);

        if (!match || f->state == FAULT_OVER)
            continue;
        if (f->state == FAULT_ACTIVE)
            apply(s, f, false);
        f->state = FAULT_OVER;
        n++;
    }
    return n;
}

void faults_note_read(struct sim *s, struct sim_device *d, enum gw_table table,
                      unsigned address, unsigned count)
{
    for (size_t i = 0; i < s->faults.n; i++) {
        struct fault *f = &s->faults.v[i];
        struct sim_binding *b;

        if (f->state != FAULT_ACTIVE || f->spec.type != FAULT_SPIKE || f->spec.reads <= 0 ||
            strcmp(f->spec.device, d->id) != 0 || !(b = simdev_binding(d, f->spec.point)))
            continue;
        if (b->def->table != table || b->def->address >= address + count ||
            (unsigned)b->def->address + b->def->count <= address)
            continue;
        if (--f->spec.reads == 0)
            apply(s, f, false);
    }
}

int faults_load_scenario(struct sim *s, const char *path)
{
    config_t cfg;
    int rc = 0;

    config_init(&cfg);
    if (!config_read_file(&cfg, path)) {
        fprintf(stderr, "%s:%d: %s\n", config_error_file(&cfg) ? config_error_file(&cfg) : path,
                config_error_line(&cfg), config_error_text(&cfg));
        config_destroy(&cfg);
        return -EINVAL;
    }
    const config_setting_t *list = config_lookup(&cfg, "faults");
    for (int i = 0; list && i < config_setting_length(list); i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        struct fault_spec spec;
        char err[256];

        if (fault_spec_parse(g, &spec, err, sizeof err) < 0 ||
            faults_add(s, &spec, s->building.t0 + spec.after_s, NULL, err, sizeof err) < 0) {
            fprintf(stderr, "%s:%d: %s\n", path, (int)config_setting_source_line(g), err);
            rc = -EINVAL;
        }
    }
    config_destroy(&cfg);
    faults_update(s);   /* faults from the start are in force for the first request */
    return rc;
}

void faults_free(struct fault_schedule *f)
{
    free(f->v);
    memset(f, 0, sizeof *f);
}
