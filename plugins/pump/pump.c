/*
 * The pump kind (also fans and other motor drives): whether it runs,
 * speed, specific power (kW per m3/h) where flow is metered, running
 * without flow, and run hours and starts where the drive does not count
 * them.  See docs/kinds.md.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <greenwatch/plugin.h>

#include "../common/counter.h"
#include "../common/kind.h"
#include "../common/runtime.h"

struct pump {
    const struct gw_host *host;
    char *id;
    struct counters counters;
    struct runtime runtime;
    struct kind_run run;
    bool derive_running;        /* no running point: the kind says whether it runs */
    bool derive_speed;          /* no speed_pct point but a frequency */
    bool has_flow, has_power;
    double min_flow_m3h, base_hz;
};

static void pump_fini(void *state)
{
    struct pump *p = state;
    if (!p)
        return;
    counters_free(&p->counters);
    free(p->id);
    free(p);
}

static int pump_init(const struct gw_host *host, const struct gw_device_info *dev, void **state)
{
    struct pump *p = calloc(1, sizeof *p);
    if (!p || !(p->id = strdup(dev->id))) {
        free(p);
        return -ENOMEM;
    }
    p->host = host;
    if (counters_init(&p->counters, host, dev, p->id)) {
        pump_fini(p);
        return -ENOMEM;
    }
    p->run = kind_run_source(dev, "running", "power_kw");
    p->derive_running = !p->run.point && p->run.power;
    runtime_init(&p->runtime, kind_has_point(dev, "run_hours") ? NULL : "run_hours_delta",
                 kind_has_point(dev, "starts") ? NULL : "starts_delta");
    p->derive_speed = !kind_has_point(dev, "speed_pct") && kind_has_point(dev, "frequency");
    p->has_flow = kind_has_point(dev, "flow");
    p->has_power = kind_has_point(dev, "power_kw");
    p->min_flow_m3h = kind_param(dev, "min_flow_m3h", 0.0);
    p->base_hz = kind_param(dev, "base_hz", 50.0);
    *state = p;
    return 0;
}

static int add_running(struct pump *p, struct gw_sample *s, struct kind_run_state run)
{
    if (!p->derive_running)
        return 0;
    double v = run.state == KIND_UNKNOWN ? NAN : run.state == KIND_ON;
    return kind_add(p->host, s, "running", "", v, run.q);
}

/* Speed in % of the motor's base frequency, for drives that give Hz only. */
static int add_speed(struct pump *p, struct gw_sample *s)
{
    if (!p->derive_speed || !(p->base_hz > 0.0))
        return 0;
    struct kind_in f = kind_read(p->host, s, "frequency");
    return kind_add(p->host, s, "speed_pct", "%", 100.0 * f.v / p->base_hz, f.q);
}

/* Specific power, kW per m3/h, while running with flow; a pump running
 * without flow has none (no_flow says so). */
static int add_specific_power(struct pump *p, struct gw_sample *s, struct kind_run_state run, struct kind_in flow)
{
    if (!p->has_flow || !p->has_power || run.state == KIND_OFF)
        return 0;
    if (flow.q == GW_QUALITY_GOOD && flow.v <= p->min_flow_m3h)
        return 0;
    struct kind_in power = kind_read(p->host, s, "power_kw");
    enum gw_quality q = kind_worse(run.q, kind_worse(power.q, flow.q));
    return kind_add(p->host, s, "kw_per_m3h", "kW/(m3/h)", power.v / flow.v, q);
}

/* 1 while running with flow at or below min_flow_m3h: a closed valve, an
 * air lock, a broken coupling. */
static int add_no_flow(struct pump *p, struct gw_sample *s, struct kind_run_state run, struct kind_in flow)
{
    if (!p->has_flow || (!p->run.point && !p->run.power))
        return 0;
    if (run.state == KIND_OFF)
        return kind_add(p->host, s, "no_flow", "", 0.0, GW_QUALITY_GOOD);
    enum gw_quality q = kind_worse(run.q, flow.q);
    return kind_add(p->host, s, "no_flow", "", flow.v <= p->min_flow_m3h, q);
}

static int pump_derive(void *state, struct gw_sample *s)
{
    struct pump *p = state;
    struct kind_run_state run = kind_running(p->host, s, &p->run);
    struct kind_in flow = kind_read(p->host, s, "flow");
    int rc = counters_derive(&p->counters, s);
    if (!rc)
        rc = add_running(p, s, run);
    if (!rc)
        rc = add_speed(p, s);
    if (!rc)
        rc = add_specific_power(p, s, run, flow);
    if (!rc)
        rc = add_no_flow(p, s, run, flow);
    if (!rc && (p->run.point || p->run.power))
        rc = runtime_derive(&p->runtime, p->host, s, run, NULL);
    return rc;
}

/* Every pump, fan and drive gets these (docs/rules.md, "Default rules");
 * `derives` names what this kind adds and from which points, so that a
 * default reading a point a device neither has nor gets (run_command on
 * most, no_flow on a fan without a flow meter) does not apply. */
#define RULES_PUMP                                                                             \
    "rules = (\n"                                                                              \
    "  { id = \"comm-loss\"; type = \"comm_loss\"; intervals = 5; severity = \"high\";\n"      \
    "    message = \"no answer from the drive\"; },\n"                                         \
    "  { id = \"drive-fault\"; type = \"state\"; point = \"fault\"; states = [ 1 ];\n"         \
    "    severity = \"high\"; message = \"drive reports a fault\"; },\n"                       \
    "  { id = \"no-flow\"; type = \"state\"; point = \"no_flow\"; states = [ 1 ];\n"           \
    "    on_delay_s = 60.0; off_delay_s = 30.0; severity = \"high\";\n"                        \
    "    message = \"running without flow: closed valve, air lock or broken coupling\"; },\n"  \
    "  { id = \"cmd-status-mismatch\"; type = \"expression\"; expr = \"run_command != running\";\n" \
    "    on_delay_s = 120.0; severity = \"medium\";\n"                                         \
    "    message = \"run command and run status disagree: drive in hand or off, or tripped\"; }\n" \
    ");\n"                                                                                     \
    "derives = [ \"running(power_kw)\", \"speed_pct(frequency)\", \"kw_per_m3h(flow, power_kw)\",\n" \
    "  \"no_flow(flow, running)\", \"run_hours_delta(running)\", \"starts_delta(running)\" ];"

__attribute__((visibility("default"))) const struct gw_plugin greenwatch_plugin = {
    .abi_version = GW_PLUGIN_ABI_VERSION,
    .kind = "pump",
    .description = "pumps, fans and drives: running, speed, specific power, no flow, run hours, starts",
    .init = pump_init,
    .derive = pump_derive,
    .fini = pump_fini,
    .default_rules = RULES_PUMP,
};
