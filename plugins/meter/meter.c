/*
 * The meter kind (electricity, water, gas, heat): interval deltas of every
 * counter, 15-minute demand and the day's peak from the energy counter,
 * and the power factor where the meter has no register for it.
 * See docs/kinds.md.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <greenwatch/plugin.h>

#include "../common/counter.h"
#include "../common/kind.h"
#include "demand.h"

/* Where the power factor comes from when the meter has no register. */
enum pf_source { PF_NONE, PF_FROM_KVA, PF_FROM_KVAR };

struct meter {
    const struct gw_host *host;
    char *id;
    struct counters counters;
    bool has_energy;            /* an energy_kwh counter: demand is derived */
    bool own_demand;            /* the meter has a demand_kw register */
    struct demand demand;
    enum pf_source pf;
};

static void meter_fini(void *state)
{
    struct meter *m = state;
    if (!m)
        return;
    counters_free(&m->counters);
    free(m->id);
    free(m);
}

static enum pf_source pf_source(const struct gw_device_info *dev)
{
    if (kind_has_point(dev, "power_factor") || !kind_has_point(dev, "power_kw"))
        return PF_NONE;
    if (kind_has_point(dev, "apparent_power_kva"))
        return PF_FROM_KVA;
    return kind_has_point(dev, "reactive_power_kvar") ? PF_FROM_KVAR : PF_NONE;
}

static int meter_init(const struct gw_host *host, const struct gw_device_info *dev, void **state)
{
    struct meter *m = calloc(1, sizeof *m);
    if (!m || !(m->id = strdup(dev->id))) {
        free(m);
        return -ENOMEM;
    }
    m->host = host;
    if (counters_init(&m->counters, host, dev, m->id)) {
        meter_fini(m);
        return -ENOMEM;
    }
    const struct gw_point_info *energy = kind_point(dev, "energy_kwh");
    m->has_energy = energy && energy->is_counter;
    m->own_demand = kind_has_point(dev, "demand_kw");
    demand_init(&m->demand, kind_param(dev, "utc_offset_h", 0.0), dev->interval_s);
    m->pf = pf_source(dev);
    *state = m;
    return 0;
}

static int add_demand(struct meter *m, struct gw_sample *s)
{
    if (!m->has_energy)
        return 0;
    const struct counter_result *e = counters_result(&m->counters, "energy_kwh");
    bool measured = e->outcome == COUNTER_DELTA;
    struct demand_close out;
    demand_feed(&m->demand, s->ts_ms, measured ? e->span_s : s->elapsed_s, e->delta, measured, &out);
    if (!out.closed)
        return 0;
    int rc = 0;
    if (!m->own_demand)
        rc = kind_add(m->host, s, "demand_kw", "kW", out.kw, out.q);
    if (!rc)
        rc = kind_add(m->host, s, "peak_demand_kw", "kW", out.peak_kw, out.peak_q);
    return rc;
}

/* PF = P / S, with S from its register or from P and Q.  A PF beyond 1 by
 * more than the registers' rounding means the inputs disagree. */
static int add_power_factor(struct meter *m, struct gw_sample *s)
{
    if (m->pf == PF_NONE)
        return 0;
    struct kind_in p = kind_read(m->host, s, "power_kw");
    struct kind_in x = kind_read(m->host, s, m->pf == PF_FROM_KVA ? "apparent_power_kva" : "reactive_power_kvar");
    double kva = m->pf == PF_FROM_KVA ? fabs(x.v) : hypot(p.v, x.v);
    enum gw_quality q = kind_worse(p.q, x.q);
    double pf = kva > 0.0 ? p.v / kva : NAN;
    if (fabs(pf) > 1.0 && fabs(pf) <= 1.02)
        pf = copysign(1.0, pf);
    else if (!(fabs(pf) <= 1.0))
        q = kind_worse(q, GW_QUALITY_UNCERTAIN);
    return kind_add(m->host, s, "power_factor", "", pf, q);
}

static int meter_derive(void *state, struct gw_sample *s)
{
    struct meter *m = state;
    int rc = counters_derive(&m->counters, s);
    if (!rc)
        rc = add_demand(m, s);
    if (!rc)
        rc = add_power_factor(m, s);
    return rc;
}

#define RULES_METER                                                                               \
    "(\n"                                                                                          \
    "  { id = \"power-factor-low\"; type = \"limit\"; point = \"power_factor\"; low = 0.85;\n"    \
    "    deadband = 0.02; on_delay_s = 900.0; off_delay_s = 300.0; severity = \"low\";\n"         \
    "    message = \"power factor below 0.85 for 15 minutes: check reactive compensation\"; },\n" \
    "  { id = \"energy-counter-reset\"; type = \"state\"; point = \"energy_kwh_reset\";\n"         \
    "    states = [ 1 ]; severity = \"medium\";\n"                                                  \
    "    message = \"energy counter went back: meter reset or replaced\"; },\n"                    \
    "  { id = \"volume-counter-reset\"; type = \"state\"; point = \"volume_m3_reset\";\n"          \
    "    states = [ 1 ]; severity = \"medium\";\n"                                                  \
    "    message = \"volume counter went back: meter reset or replaced\"; },\n"                    \
    "  { id = \"meter-alarm\"; type = \"state\"; point = \"alarm\"; states = [ 1 ];\n"            \
    "    on_delay_s = 60.0; severity = \"medium\"; message = \"meter reports an alarm\"; },\n"     \
    "  { id = \"low-battery\"; type = \"state\"; point = \"low_battery\"; states = [ 1 ];\n"      \
    "    on_delay_s = 3600.0; severity = \"low\"; message = \"meter battery low\"; }\n"            \
    ")"

__attribute__((visibility("default"))) const struct gw_plugin greenwatch_plugin = {
    .abi_version = GW_PLUGIN_ABI_VERSION,
    .kind = "meter",
    .description = "electricity, water, gas and heat meters: interval deltas, 15-minute demand, power factor",
    .init = meter_init,
    .derive = meter_derive,
    .fini = meter_fini,
    .default_rules = RULES_METER,
};
