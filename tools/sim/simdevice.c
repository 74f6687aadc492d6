#include "simdevice.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "noise.h"

static int register_slot(enum gw_table t) { return t == GW_TABLE_INPUT ? 0 : 1; }
static int bit_slot(enum gw_table t) { return t == GW_TABLE_COIL ? 0 : 1; }

/* A counter's reading at installation: anywhere below its typical size
 * (and well below its wrap), on the register's resolution. */
static double counter_base(const struct sim_binding *s, const char *id, uint64_t seed)
{
    double span = s->q->typical;
    double step = fabs(s->def->scale);

    if (s->wrap > 0.0 && span > 0.9 * s->wrap)
        span = 0.9 * s->wrap;
    double u = noise_unit(seed, noise_key(id) ^ noise_key(s->def->name), 0);

    return floor(u * span / step) * step;
}

static void bind_points(struct sim_device *d, uint64_t seed)
{
    for (size_t i = 0; i < d->n_bindings; i++) {
        struct sim_binding *s = &d->bindings[i];
        const struct gw_point_def *p = &d->profile->points[i];

        s->def = p;
        s->q = role_quantity(&d->role, p->name);
        if (s->q && (s->q->flags & Q_COUNTER)) {
            s->wrap = encode_counter_wrap(p);
            s->base = counter_base(s, d->id, seed);
        }
        unsigned end = (unsigned)p->address + p->count;
        if (end > d->size[p->table])
            d->size[p->table] = end;
    }
}

int simdev_init(struct sim_device *d, const char *id, const struct gw_profile *profile,
                const struct role *role, double factor, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", id);
    d->profile = profile;
    d->role = *role;
    d->factor = factor;
    d->faults.exc_to = -1;
    d->encoded_step = -1;
    d->n_bindings = profile->n_points;
    d->bindings = calloc(d->n_bindings ? d->n_bindings : 1, sizeof *d->bindings);
    if (!d->bindings)
        return -ENOMEM;
    bind_points(d, seed);
    for (int t = 0; t < 2; t++) {
        enum gw_table rt = t ? GW_TABLE_HOLDING : GW_TABLE_INPUT;
        enum gw_table bt = t ? GW_TABLE_DISCRETE : GW_TABLE_COIL;

        d->regs[t] = calloc(d->size[rt] ? d->size[rt] : 1, sizeof(uint16_t));
        d->bits[t] = calloc(d->size[bt] ? d->size[bt] : 1, 1);
        if (!d->regs[t] || !d->bits[t])
            return -ENOMEM;
    }
    return 0;
}

void simdev_free(struct sim_device *d)
{
    if (!d)
        return;
    free(d->bindings);
    for (int t = 0; t < 2; t++) {
        free(d->regs[t]);
        free(d->bits[t]);
    }
    memset(d, 0, sizeof *d);
}

/* What the point shows now: the model's value, sized, offset and wrapped
 * like the real counter (a clock in its unit), then any fault on the
 * point. */
static double binding_value(const struct sim_device *d, const struct sim_binding *s,
                            const struct building *b)
{
    double v = 0.0;

    if (s->q) {
        v = s->q->get(b, &d->role);
        if (s->q->flags & Q_EXTENSIVE)
            v *= d->factor;
        if ((s->q->flags & Q_CLOCK) && s->def->timestamp_unit == GW_TIME_MS)
            v = round(v * 1000.0);
        if (s->q->flags & Q_COUNTER) {
            v += s->base;
            if (s->wrap > 0.0) {
                v = fmod(v, s->wrap);
                if (v < 0.0)
                    v += s->wrap;
            }
        }
    }
    if (s->stuck)
        v = s->stuck_value;
    if (s->spike)
        v = s->spike_value;
    return v;
}

static void encode_binding(struct sim_device *d, struct sim_binding *s)
{
    const struct gw_point_def *p = s->def;

    if (gw_table_is_bits(p->table)) {
        d->bits[bit_slot(p->table)][p->address] = s->value != 0.0;
        return;
    }
    uint16_t *regs = &d->regs[register_slot(p->table)][p->address];

    if (p->type == GW_TYPE_STRING)
        encode_string(p, role_model_text(&d->role), regs);
    else if (p->type == GW_TYPE_BIT)
        encode_register_bit(p, s->value != 0.0, regs);
    else
        encode_value(p, s->value, regs);   /* out of range saturates, as devices do */
}

void simdev_refresh(struct sim_device *d, const struct building *b, int64_t step)
{
    if (d->encoded_step == step)
        return;
    for (size_t i = 0; i < d->n_bindings; i++) {
        struct sim_binding *s = &d->bindings[i];

        s->value = binding_value(d, s, b);
        encode_binding(d, s);
    }
    d->encoded_step = step;
}

int simdev_check_read(const struct sim_device *d, enum gw_table table, unsigned address,
                      unsigned count)
{
    unsigned last = address + count - 1;

    if (count == 0 || address + count > d->size[table])
        return 2;
    for (size_t h = 0; h < d->profile->n_holes; h++) {
        const struct gw_hole *hole = &d->profile->holes[h];

        if (hole->table == table && address <= hole->to && last >= hole->from)
            return 2;
    }
    return 0;
}

struct sim_binding *simdev_binding(struct sim_device *d, const char *name)
{
    for (size_t i = 0; i < d->n_bindings; i++)
        if (strcmp(d->bindings[i].def->name, name) == 0)
            return &d->bindings[i];
    return NULL;
}

void simdev_unsimulated(const struct sim_device *d, char *buf, size_t n)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < d->n_bindings && used < n; i++) {
        const struct sim_binding *s = &d->bindings[i];

        if (s->q || s->def->type == GW_TYPE_STRING)
            continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", s->def->name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
