/*
 * The meter kind (electricity, water, gas, heat): interval deltas of every
 * counter, 15-minute demand, the day's peak and the baseload from the
 * energy counter, and the power factor where the meter has no register
 * for it.
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
    double baseload_kw;         /* as of the last quarter closed; NaN until one is known */
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
    m->baseload_kw = NAN;
    m->pf = pf_source(dev);
    *state = m;
    return 0;
}

/* Demand and the day's peak when a quarter closes; the baseload in every
 * sample once a good quarter has given one, so that a rule can compare it
 * with the power of the moment.  It comes from earlier readings, so it is
 * good only in a sample whose energy reading is: a meter that answers
 * nothing has nothing good to show. */
static int add_demand(struct meter *m, struct gw_sample *s)
{
    if (!m->has_energy)
        return 0;
    const struct counter_result *e = counters_result(&m->counters, "energy_kwh");
    bool measured = e->outcome == COUNTER_DELTA;
    struct demand_close out;
    demand_feed(&m->demand, s->ts_ms, measured ? e->span_s : s->elapsed_s, e->delta, measured, &out);
    int rc = 0;
    if (out.closed) {
        m->baseload_kw = out.baseload_kw;
        if (!m->own_demand)
            rc = kind_add(m->host, s, "demand_kw", "kW", out.kw, out.q);
        if (!rc)
            rc = kind_add(m->host, s, "peak_demand_kw", "kW", out.peak_kw, out.peak_q);
    }
    if (!rc) {
        enum gw_quality q = kind_read(m->host, s, "energy_kwh").q;
        rc = kind_add(m->host, s, "baseload_kw", "kW", m->baseload_kw,
                      isfinite(m->baseload_kw) ? q : kind_worse(q, GW_QUALITY_UNCERTAIN));
    }
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

/* Every meter gets those of these it has the points for (docs/rules.md,
 * "Default rules"): an electricity meter the energy_* rules, a water or
 * gas meter the volume_* ones.  `derives` names what this kind adds and from which points. */
#define RULES_METER                                                                            \
    "rules = (\n"                                                                              \
    "  { id = \"comm-loss\"; type = \"comm_loss\"; intervals = 5; severity = \"high\";\n"      \
    "    message = \"no answer from the meter\"; },\n"                                         \
    "  { id = \"energy-stale\"; type = \"stale\"; point = \"energy_kwh\"; intervals = 10; severity = \"medium\";\n" \
    "    message = \"energy counter unreadable while the meter answers\"; },\n"                \
    "  { id = \"volume-stale\"; type = \"stale\"; point = \"volume_m3\"; intervals = 10; severity = \"medium\";\n" \
    "    message = \"volume counter unreadable while the meter answers\"; },\n"                \
    "  { id = \"energy-counter-reset\"; type = \"state\"; point = \"energy_kwh_reset\";\n"     \
    "    states = [ 1 ]; severity = \"medium\";\n"                                             \
    "    message = \"energy counter went back: meter reset or replaced\"; },\n"                \
    "  { id = \"volume-counter-reset\"; type = \"state\"; point = \"volume_m3_reset\";\n"      \
    "    states = [ 1 ]; severity = \"medium\";\n"                                             \
    "    message = \"volume counter went back: meter reset or replaced\"; },\n"                \
    "  { id = \"energy-counter-stuck\"; type = \"expression\"; expr = \"power_kw > 2.0 and energy_kwh_delta == 0\";\n" \
    "    on_delay_s = 3600.0; severity = \"medium\";\n"                                        \
    "    message = \"energy counter has not moved for an hour while the meter shows power\"; },\n" \
    "  { id = \"volume-counter-stuck\"; type = \"expression\"; expr = \"flow > 0.5 and volume_m3_delta == 0\";\n" \
    "    on_delay_s = 3600.0; severity = \"medium\";\n"                                        \
    "    message = \"volume counter has not moved for an hour while the meter shows flow\"; },\n" \
    "  { id = \"after-hours-consumption\"; type = \"schedule\"; expr = \"power_kw > 2 * baseload_kw + 5\";\n" \
    "    days = \"workdays\"; start = \"07:00\"; end = \"20:00\"; grace_s = 3600.0; on_delay_s = 1800.0;\n" \
    "    severity = \"low\"; message = \"power above twice the night baseload outside occupied hours\"; },\n" \
    "  { id = \"daily-energy\"; type = \"baseline\"; point = \"energy_kwh_delta\"; sigma = 3.0; percent = 15.0;\n" \
    "    min_deviation = 10.0; weeks = 4; severity = \"low\";\n"                                    \
    "    message = \"the day's energy is unlike the same weekday of the last 4 weeks\"; },\n" \
    "  { id = \"daily-volume\"; type = \"baseline\"; point = \"volume_m3_delta\"; sigma = 3.0; percent = 25.0;\n" \
    "    min_deviation = 0.5; weeks = 4; direction = \"above\"; severity = \"low\";\n"                              \
    "    message = \"the day's volume is well above the same weekday of the last 4 weeks: check for leaks\"; },\n" \
    "  { id = \"power-factor-low\"; type = \"limit\"; point = \"power_factor\"; low = 0.8;\n"  \
    "    deadband = 0.02; on_delay_s = 900.0; off_delay_s = 300.0; severity = \"low\";\n"      \
    "    message = \"power factor below 0.8 for 15 minutes: check reactive compensation\"; },\n" \
    "  { id = \"meter-alarm\"; type = \"state\"; point = \"alarm\"; states = [ 1 ];\n"         \
    "    on_delay_s = 60.0; severity = \"medium\"; message = \"meter reports an alarm\"; },\n" \
    "  { id = \"low-battery\"; type = \"state\"; point = \"low_battery\"; states = [ 1 ];\n"   \
    "    on_delay_s = 3600.0; severity = \"low\"; message = \"meter battery low\"; }\n"        \
    ");\n"                                                                                     \
    "derives = [ \"demand_kw(energy_kwh)\", \"peak_demand_kw(energy_kwh)\", \"baseload_kw(energy_kwh)\",\n" \
    "  \"power_factor(power_kw)\" ];"

__attribute__((visibility("default"))) const struct gw_plugin greenwatch_plugin = {
    .abi_version = GW_PLUGIN_ABI_VERSION,
    .kind = "meter",
    .description = "electricity, water, gas and heat meters: interval deltas, 15-minute demand, power factor",
    .init = meter_init,
    .derive = meter_derive,
    .fini = meter_fini,
    .default_rules = RULES_METER,
};
