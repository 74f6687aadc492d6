/*
 * The chiller kind: cooling output, COP, kW per ton, chilled-water
 * delta-T, evaporator and condenser approach, part-load ratio, and run
 * hours and starts where the controller does not count them.
 * See docs/kinds.md.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <greenwatch/plugin.h>

#include "../common/counter.h"
#include "../common/kind.h"
#include "../common/runtime.h"

/* kW of cooling per ton of refrigeration (12,000 BTU/h). */
#define KW_PER_TON 3.51685
/* kW per (m3/h x K) of water: 4.1868 kJ/(kg K) x 1000 kg/m3 / 3600 s/h. */
#define WATER_FACTOR 1.163

enum cooling_source { COOLING_NONE, COOLING_REGISTER, COOLING_FLOW };

struct chiller {
    const struct gw_host *host;
    char *id;
    struct counters counters;
    struct runtime runtime;
    struct kind_run run;
    bool derive_running;        /* no running point: the kind says whether it runs */
    enum cooling_source cooling;
    bool has_power, has_temps, has_evap, has_cond;
    double fluid_factor, capacity_kw;
};

/* One sample's figures that the others are computed from. */
struct chiller_now {
    struct kind_run_state run;
    struct kind_in power, cooling;
    bool perf;                  /* performance figures apply: running above the floor, or not known */
    enum gw_quality perf_q;     /* the quality of what decided it */
};

static void chiller_fini(void *state)
{
    struct chiller *c = state;
    if (!c)
        return;
    counters_free(&c->counters);
    free(c->id);
    free(c);
}

static enum cooling_source cooling_source(const struct gw_device_info *dev)
{
    if (kind_has_point(dev, "cooling_kw"))
        return COOLING_REGISTER;
    if (kind_has_point(dev, "chw_flow") && kind_has_point(dev, "chw_supply_temp") &&
        kind_has_point(dev, "chw_return_temp"))
        return COOLING_FLOW;
    return COOLING_NONE;
}

static int chiller_init(const struct gw_host *host, const struct gw_device_info *dev, void **state)
{
    struct chiller *c = calloc(1, sizeof *c);
    if (!c || !(c->id = strdup(dev->id))) {
        free(c);
        return -ENOMEM;
    }
    c->host = host;
    if (counters_init(&c->counters, host, dev, c->id)) {
        chiller_fini(c);
        return -ENOMEM;
    }
    c->run = kind_run_source(dev, "running", "power_kw");
    c->derive_running = !c->run.point && c->run.power;
    runtime_init(&c->runtime, kind_has_point(dev, "run_hours") ? NULL : "run_hours_delta",
                 kind_has_point(dev, "starts") ? NULL : "starts_delta");
    c->cooling = cooling_source(dev);
    c->has_power = kind_has_point(dev, "power_kw");
    c->has_temps = kind_has_point(dev, "chw_supply_temp") && kind_has_point(dev, "chw_return_temp");
    c->has_evap = kind_has_point(dev, "chw_supply_temp") && kind_has_point(dev, "evap_sat_temp");
    c->has_cond = kind_has_point(dev, "cond_sat_temp") && kind_has_point(dev, "cw_return_temp");
    c->fluid_factor = kind_param(dev, "fluid_factor", WATER_FACTOR);
    c->capacity_kw = kind_param(dev, "capacity_kw", 0.0);
    *state = c;
    return 0;
}

/* Cooling kW: the controller's own figure, else flow x delta-T. */
static int read_cooling(struct chiller *c, struct gw_sample *s, struct kind_in *out)
{
    if (c->cooling == COOLING_REGISTER) {
        *out = kind_read(c->host, s, "cooling_kw");
        return 0;
    }
    struct kind_in flow = kind_read(c->host, s, "chw_flow");
    struct kind_in ret = kind_read(c->host, s, "chw_return_temp");
    struct kind_in sup = kind_read(c->host, s, "chw_supply_temp");
    out->present = true;
    out->v = c->fluid_factor * flow.v * (ret.v - sup.v);
    out->q = kind_worse(flow.q, kind_worse(ret.q, sup.q));
    return kind_add(c->host, s, "cooling_kw", "kW", out->v, out->q);
}

/* Performance figures apply while the chiller runs and draws more than
 * the running threshold; not at all while it is known to be off. */
static void decide_perf(const struct chiller *c, struct chiller_now *n)
{
    n->perf_q = n->run.q;
    n->perf = n->run.state != KIND_OFF;
    if (n->perf && c->has_power) {
        n->perf_q = kind_worse(n->perf_q, n->power.q);
        if (n->power.q == GW_QUALITY_GOOD && n->power.v <= c->run.threshold_kw)
            n->perf = false;
    }
}

static int add_running(struct chiller *c, struct gw_sample *s, const struct chiller_now *n)
{
    if (!c->derive_running)
        return 0;
    double v = n->run.state == KIND_UNKNOWN ? NAN : n->run.state == KIND_ON;
    return kind_add(c->host, s, "running", "", v, n->run.q);
}

/* COP and kW per ton: a running chiller with no or negative cooling
 * measured has neither (sensors or flow are wrong), so they are uncertain. */
static int add_efficiency(struct chiller *c, struct gw_sample *s, const struct chiller_now *n)
{
    if (!c->has_power || c->cooling == COOLING_NONE)
        return 0;
    enum gw_quality q = kind_worse(n->perf_q, kind_worse(n->power.q, n->cooling.q));
    double cop = n->cooling.v / n->power.v;
    enum gw_quality cop_q = n->cooling.v < 0.0 ? kind_worse(q, GW_QUALITY_UNCERTAIN) : q;
    int rc = kind_add(c->host, s, "cop", "", cop, cop_q);
    double tons = n->cooling.v / KW_PER_TON;
    enum gw_quality kpt_q = tons > 0.0 ? q : kind_worse(q, GW_QUALITY_UNCERTAIN);
    if (!rc)
        rc = kind_add(c->host, s, "kw_per_ton", "kW/TR", tons > 0.0 ? n->power.v / tons : NAN, kpt_q);
    return rc;
}

/* A difference of two temperatures, with the performance figures' gate. */
static int add_difference(struct chiller *c, struct gw_sample *s, const struct chiller_now *n,
                          const char *name, const char *hot, const char *cold)
{
    struct kind_in a = kind_read(c->host, s, hot), b = kind_read(c->host, s, cold);
    enum gw_quality q = kind_worse(n->perf_q, kind_worse(a.q, b.q));
    return kind_add(c->host, s, name, "K", a.v - b.v, q);
}

static int add_temperatures(struct chiller *c, struct gw_sample *s, const struct chiller_now *n)
{
    int rc = 0;
    if (c->has_temps)
        rc = add_difference(c, s, n, "chw_delta_t", "chw_return_temp", "chw_supply_temp");
    if (!rc && c->has_evap)
        rc = add_difference(c, s, n, "evap_approach", "chw_supply_temp", "evap_sat_temp");
    if (!rc && c->has_cond)
        rc = add_difference(c, s, n, "cond_approach", "cond_sat_temp", "cw_return_temp");
    return rc;
}

static int add_part_load(struct chiller *c, struct gw_sample *s, const struct chiller_now *n)
{
    if (c->capacity_kw <= 0.0 || c->cooling == COOLING_NONE)
        return 0;
    return kind_add(c->host, s, "part_load_ratio", "", n->cooling.v / c->capacity_kw, n->cooling.q);
}

static int chiller_derive(void *state, struct gw_sample *s)
{
    struct chiller *c = state;
    struct chiller_now n = { .run = kind_running(c->host, s, &c->run) };
    n.power = kind_read(c->host, s, "power_kw");
    int rc = counters_derive(&c->counters, s);
    if (!rc)
        rc = add_running(c, s, &n);
    if (!rc && c->cooling != COOLING_NONE)
        rc = read_cooling(c, s, &n.cooling);
    decide_perf(c, &n);
    if (!rc && n.perf)
        rc = add_efficiency(c, s, &n);
    if (!rc && n.perf)
        rc = add_temperatures(c, s, &n);
    if (!rc)
        rc = add_part_load(c, s, &n);
    if (!rc && (c->run.point || c->run.power))
        rc = runtime_derive(&c->runtime, c->host, s, n.run, NULL);
    return rc;
}

/* Every chiller gets these (docs/rules.md, "Default rules"); `derives`
 * names what this kind adds and from which points, so that a default
 * reading a point a device neither has nor gets (run_command on most) does
 * not apply to it. */
#define RULES_CHILLER                                                                          \
    "rules = (\n"                                                                              \
    "  { id = \"comm-loss\"; type = \"comm_loss\"; intervals = 5; severity = \"high\";\n"      \
    "    message = \"no answer from the chiller controller\"; },\n"                            \
    "  { id = \"chw-supply-high\"; type = \"expression\"; expr = \"running and chw_supply_temp > 9.0\";\n" \
    "    on_delay_s = 300.0; off_delay_s = 120.0; severity = \"high\";\n"                      \
    "    message = \"chilled water supply above 9 degC while running\"; },\n"                  \
    "  { id = \"chw-supply-spike\"; type = \"spike\"; point = \"chw_supply_temp\"; jump = 5.0; samples = 2;\n" \
    "    severity = \"low\"; message = \"chilled water supply reading jumped and came back: check the sensor\"; },\n" \
    "  { id = \"cop-low\"; type = \"limit\"; point = \"cop\"; low = 3.5; deadband = 0.2;\n"    \
    "    on_delay_s = 3600.0; off_delay_s = 600.0; severity = \"medium\";\n"                   \
    "    message = \"COP below 3.5 for an hour while running\"; },\n"                          \
    "  { id = \"chw-delta-t-low\"; type = \"expression\";\n"                                   \
    "    expr = \"part_load_ratio >= 0.2 and chw_delta_t < 4.5 * part_load_ratio\";\n"         \
    "    on_delay_s = 1800.0; off_delay_s = 600.0; severity = \"low\";\n"                      \
    "    message = \"chilled-water delta-T below 90 % of a 5 K design at this load (low delta-T syndrome)\"; },\n" \
    "  { id = \"evap-approach-high\"; type = \"limit\"; point = \"evap_approach\"; high = 3.0;\n" \
    "    deadband = 0.3; on_delay_s = 3600.0; off_delay_s = 600.0; severity = \"low\";\n"      \
    "    message = \"evaporator approach above 3 K: fouling or low refrigerant charge\"; },\n" \
    "  { id = \"cond-approach-high\"; type = \"limit\"; point = \"cond_approach\"; high = 3.0;\n" \
    "    deadband = 0.3; on_delay_s = 3600.0; off_delay_s = 600.0; severity = \"low\";\n"      \
    "    message = \"condenser approach above 3 K: fouled condenser tubes\"; },\n"             \
    "  { id = \"chiller-alarm\"; type = \"state\"; point = \"alarm\"; states = [ 1 ];\n"       \
    "    severity = \"high\"; message = \"chiller controller reports an alarm\"; },\n"         \
    "  { id = \"chiller-after-hours\"; type = \"schedule\"; point = \"running\"; days = \"workdays\";\n" \
    "    start = \"07:30\"; end = \"18:00\"; grace_s = 1800.0; on_delay_s = 600.0; severity = \"medium\";\n" \
    "    message = \"chiller running outside plant hours (workdays 07:30-18:00)\"; },\n"       \
    "  { id = \"cmd-status-mismatch\"; type = \"expression\"; expr = \"run_command != running\";\n" \
    "    on_delay_s = 300.0; severity = \"medium\";\n"                                         \
    "    message = \"run command and run status disagree: check local/remote and the starter\"; }\n" \
    ");\n"                                                                                     \
    "derives = [ \"running(power_kw)\", \"cooling_kw(chw_flow, chw_supply_temp, chw_return_temp)\",\n" \
    "  \"cop(power_kw, cooling_kw)\", \"kw_per_ton(power_kw, cooling_kw)\",\n"                 \
    "  \"chw_delta_t(chw_supply_temp, chw_return_temp)\", \"evap_approach(chw_supply_temp, evap_sat_temp)\",\n" \
    "  \"cond_approach(cond_sat_temp, cw_return_temp)\", \"part_load_ratio(cooling_kw)\",\n"   \
    "  \"run_hours_delta(running)\", \"starts_delta(running)\" ];"

__attribute__((visibility("default"))) const struct gw_plugin greenwatch_plugin = {
    .abi_version = GW_PLUGIN_ABI_VERSION,
    .kind = "chiller",
    .description = "chillers: cooling output, COP, kW/ton, delta-T, approaches, part load, run hours, starts",
    .init = chiller_init,
    .derive = chiller_derive,
    .fini = chiller_fini,
    .default_rules = RULES_CHILLER,
};
