/*
 * The boiler kind: thermal output, efficiency on a stated heating-value
 * basis, burner starts in the last hour, and burner hours and starts where
 * the controller does not count them.  See docs/kinds.md.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <greenwatch/plugin.h>

#include "../common/counter.h"
#include "../common/kind.h"
#include "../common/runtime.h"

/* kW per (m3/h x K) of water: 4.1868 kJ/(kg K) x 1000 kg/m3 / 3600 s/h. */
#define WATER_FACTOR 1.163
/* Natural gas, lower heating value, kWh per m3 at the meter's reference
 * conditions (about 35.9 MJ/m3). */
#define GAS_LHV_KWH_M3 9.97
/* The most an efficiency can be on each basis: a boiler cannot give more
 * than the gas's higher heating value, which for natural gas is about
 * 1.11 x its lower one.  Above that a measurement is wrong. */
#define MAX_EFFICIENCY_LHV 1.11
#define MAX_EFFICIENCY_HHV 1.0
#define HOUR_MS 3600000LL
/* Starts remembered for the rolling hour; more than this in an hour is
 * reported as uncertain. */
#define STARTS_KEPT 64

enum heat_source { HEAT_NONE, HEAT_REGISTER, HEAT_FLOW };

/* Burner starts of the last hour, by time. */
struct starts_window {
    int64_t at_ms[STARTS_KEPT];
    size_t head, n;
    bool overflow;
    bool known;
    int64_t known_since_ms;     /* starts have been known (counted) since */
};

struct boiler {
    const struct gw_host *host;
    char *id;
    struct counters counters;
    struct runtime runtime;
    struct kind_run burner;
    bool derive_burner;         /* no burner_on point: the kind says whether it fires */
    bool own_starts;            /* the controller counts starts (burner_starts) */
    enum heat_source heat;
    bool has_gas;
    double fluid_factor, lhv, hhv;
    struct starts_window starts;
};

static void boiler_fini(void *state)
{
    struct boiler *b = state;
    if (!b)
        return;
    counters_free(&b->counters);
    free(b->id);
    free(b);
}

static enum heat_source heat_source(const struct gw_device_info *dev)
{
    if (kind_has_point(dev, "heat_kw"))
        return HEAT_REGISTER;
    if (kind_has_point(dev, "hw_flow") && kind_has_point(dev, "hw_supply_temp") &&
        kind_has_point(dev, "hw_return_temp"))
        return HEAT_FLOW;
    return HEAT_NONE;
}

static int boiler_init(const struct gw_host *host, const struct gw_device_info *dev, void **state)
{
    struct boiler *b = calloc(1, sizeof *b);
    if (!b || !(b->id = strdup(dev->id))) {
        free(b);
        return -ENOMEM;
    }
    b->host = host;
    if (counters_init(&b->counters, host, dev, b->id)) {
        boiler_fini(b);
        return -ENOMEM;
    }
    /* Without a burner_on point, any gas flow above min_gas_m3h is firing. */
    b->burner = kind_run_source(dev, "burner_on", "gas_flow");
    b->burner.threshold_kw = kind_param(dev, "min_gas_m3h", 0.0);
    b->derive_burner = !b->burner.point && b->burner.power;
    const struct gw_point_info *starts = kind_point(dev, "burner_starts");
    b->own_starts = starts && starts->is_counter;
    runtime_init(&b->runtime, kind_has_point(dev, "burner_hours") ? NULL : "burner_hours_delta",
                 starts ? NULL : "burner_starts_delta");
    b->heat = heat_source(dev);
    b->has_gas = kind_has_point(dev, "gas_flow");
    b->fluid_factor = kind_param(dev, "fluid_factor", WATER_FACTOR);
    b->lhv = kind_param(dev, "gas_lhv_kwh_m3", GAS_LHV_KWH_M3);
    b->hhv = kind_param(dev, "gas_hhv_kwh_m3", 0.0);
    *state = b;
    return 0;
}

static int read_heat(struct boiler *b, struct gw_sample *s, struct kind_in *out)
{
    if (b->heat == HEAT_REGISTER) {
        *out = kind_read(b->host, s, "heat_kw");
        return 0;
    }
    struct kind_in flow = kind_read(b->host, s, "hw_flow");
    struct kind_in sup = kind_read(b->host, s, "hw_supply_temp");
    struct kind_in ret = kind_read(b->host, s, "hw_return_temp");
    out->present = true;
    out->v = b->fluid_factor * flow.v * (sup.v - ret.v);
    out->q = kind_worse(flow.q, kind_worse(sup.q, ret.q));
    return kind_add(b->host, s, "heat_kw", "kW", out->v, out->q);
}

static int add_burner(struct boiler *b, struct gw_sample *s, struct kind_run_state on)
{
    if (!b->derive_burner)
        return 0;
    double v = on.state == KIND_UNKNOWN ? NAN : on.state == KIND_ON;
    return kind_add(b->host, s, "burner_on", "", v, on.q);
}

/* Efficiency = heat out / gas in, while the burner fires.  A burner that
 * fires with no gas flow measured has none (uncertain); one beyond the
 * basis's maximum means a wrong measurement. */
static int add_one_efficiency(struct boiler *b, struct gw_sample *s, const char *name, double heating_value,
                              double max, struct kind_in heat, struct kind_in gas, enum gw_quality gate_q)
{
    double eff = heat.v / (gas.v * heating_value);
    enum gw_quality q = kind_worse(gate_q, kind_worse(heat.q, gas.q));
    if (!(gas.v > 0.0) || !(eff <= max))
        q = kind_worse(q, GW_QUALITY_UNCERTAIN);
    return kind_add(b->host, s, name, "", gas.v > 0.0 ? eff : NAN, q);
}

static int add_efficiency(struct boiler *b, struct gw_sample *s, struct kind_run_state on, struct kind_in heat)
{
    if (!b->has_gas || b->heat == HEAT_NONE || on.state == KIND_OFF)
        return 0;
    struct kind_in gas = kind_read(b->host, s, "gas_flow");
    int rc = 0;
    if (b->lhv > 0.0)
        rc = add_one_efficiency(b, s, "efficiency", b->lhv, MAX_EFFICIENCY_LHV, heat, gas, on.q);
    if (!rc && b->hhv > 0.0)
        rc = add_one_efficiency(b, s, "efficiency_hhv", b->hhv, MAX_EFFICIENCY_HHV, heat, gas, on.q);
    return rc;
}

/* Starts in this sample's interval: the controller's counter's delta, or
 * the kind's own count; -1 when not known.  *exact says whether they are
 * known to lie in this interval, rather than somewhere in a longer span
 * after readings that failed. */
static int interval_starts(const struct boiler *b, const struct gw_sample *s, int counted, bool *exact)
{
    *exact = true;
    if (!b->own_starts)
        return counted;
    const struct counter_result *r = counters_result(&b->counters, "burner_starts");
    if (r->outcome != COUNTER_DELTA)
        return -1;
    *exact = r->span_s <= s->elapsed_s + 1e-6;
    /* More than the window keeps is as good as any larger number. */
    return r->delta > STARTS_KEPT ? STARTS_KEPT + 1 : (int)llround(r->delta);
}

static void window_push(struct starts_window *w, int64_t ts_ms, int n)
{
    for (int i = 0; i < n; i++) {
        if (w->n == STARTS_KEPT)
            w->overflow = true;
        else
            w->n++;
        w->at_ms[w->head] = ts_ms;
        w->head = (w->head + 1) % STARTS_KEPT;
    }
}

/* Burner starts in the hour up to the sample: good once starts have been
 * known for a whole hour.  n starts happened in the interval ending now
 * (-1: not known); they count as known from the interval's start if exact. */
static int add_starts_per_hour(struct boiler *b, struct gw_sample *s, int n, bool exact)
{
    struct starts_window *w = &b->starts;
    if (n < 0) {
        w->known = false;
    } else if (!w->known) {
        w->known = true;
        w->known_since_ms = exact ? s->ts_ms - llround(s->elapsed_s * 1000.0) : s->ts_ms;
    }
    if (n > 0)
        window_push(w, s->ts_ms, n);
    while (w->n && w->at_ms[(w->head + STARTS_KEPT - w->n) % STARTS_KEPT] <= s->ts_ms - HOUR_MS)
        w->n--;
    if (w->n < STARTS_KEPT)
        w->overflow = false;
    bool whole = w->known && s->ts_ms - w->known_since_ms >= HOUR_MS && !w->overflow;
    return kind_add(b->host, s, "starts_per_hour", "1/h", (double)w->n,
                    whole ? GW_QUALITY_GOOD : GW_QUALITY_UNCERTAIN);
}

static int boiler_derive(void *state, struct gw_sample *s)
{
    struct boiler *b = state;
    struct kind_run_state on = kind_running(b->host, s, &b->burner);
    struct kind_in heat = { .v = NAN, .q = GW_QUALITY_BAD };
    int counted = -1;
    int rc = counters_derive(&b->counters, s);
    if (!rc)
        rc = add_burner(b, s, on);
    if (!rc && b->heat != HEAT_NONE)
        rc = read_heat(b, s, &heat);
    if (!rc)
        rc = add_efficiency(b, s, on, heat);
    if (!rc && (b->burner.point || b->burner.power))
        rc = runtime_derive(&b->runtime, b->host, s, on, &counted);
    if (!rc && (b->own_starts || b->burner.point || b->burner.power)) {
        bool exact;
        int n = interval_starts(b, s, counted, &exact);
        rc = add_starts_per_hour(b, s, n, exact);
    }
    return rc;
}

/* Every boiler gets these (docs/rules.md, "Default rules"); `derives`
 * names what this kind adds and from which points, so that a default
 * reading a point a device neither has nor gets (enabled, on a boiler
 * without an enable point) does not apply to it. */
#define RULES_BOILER                                                                           \
    "rules = (\n"                                                                              \
    "  { id = \"comm-loss\"; type = \"comm_loss\"; intervals = 5; severity = \"high\";\n"      \
    "    message = \"no answer from the boiler controller\"; },\n"                             \
    "  { id = \"burner-lockout\"; type = \"state\"; point = \"lockout\"; states = [ 1 ];\n"    \
    "    severity = \"critical\"; message = \"burner locked out\"; },\n"                       \
    "  { id = \"hw-supply-high\"; type = \"limit\"; point = \"hw_supply_temp\"; high = 95.0;\n" \
    "    deadband = 3.0; on_delay_s = 60.0; off_delay_s = 60.0; severity = \"high\";\n"        \
    "    message = \"hot water supply above 95 degC\"; },\n"                                   \
    "  { id = \"flue-temp-high\"; type = \"limit\"; point = \"flue_temp\"; high = 240.0;\n"    \
    "    deadband = 10.0; on_delay_s = 600.0; off_delay_s = 300.0; severity = \"medium\";\n"   \
    "    message = \"flue gas above 240 degC: fouled heat exchanger or over-firing\"; },\n"    \
    "  { id = \"short-cycling\"; type = \"limit\"; point = \"starts_per_hour\"; high = 6.0;\n" \
    "    deadband = 1.0; off_delay_s = 1800.0; severity = \"medium\";\n"                       \
    "    message = \"burner starting more than 6 times an hour (short cycling)\"; },\n"        \
    "  { id = \"efficiency-low\"; type = \"limit\"; point = \"efficiency\"; low = 0.8;\n"      \
    "    deadband = 0.02; on_delay_s = 3600.0; off_delay_s = 600.0; severity = \"low\";\n"     \
    "    message = \"efficiency (LHV) below 80 % for an hour while firing\"; },\n"             \
    "  { id = \"cmd-status-mismatch\"; type = \"expression\"; expr = \"enabled == 0 and burner_on != 0\";\n" \
    "    on_delay_s = 120.0; severity = \"high\";\n"                                           \
    "    message = \"burner firing while the boiler is not enabled: check the enable circuit\"; }\n" \
    ");\n"                                                                                     \
    "derives = [ \"burner_on(gas_flow)\", \"heat_kw(hw_flow, hw_supply_temp, hw_return_temp)\",\n" \
    "  \"efficiency(heat_kw, gas_flow)\", \"efficiency_hhv(heat_kw, gas_flow)\", \"starts_per_hour(burner_on)\",\n" \
    "  \"burner_hours_delta(burner_on)\", \"burner_starts_delta(burner_on)\" ];"

__attribute__((visibility("default"))) const struct gw_plugin greenwatch_plugin = {
    .abi_version = GW_PLUGIN_ABI_VERSION,
    .kind = "boiler",
    .description = "boilers: thermal output, efficiency (LHV, optionally HHV), starts per hour, burner hours",
    .init = boiler_init,
    .derive = boiler_derive,
    .fini = boiler_fini,
    .default_rules = RULES_BOILER,
};
