#include "plant.h"

#include <math.h>
#include <string.h>

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Condenser water flow sized for the heat of a full-load chiller at 5 K. */
static void chiller_init(struct chiller *c, const struct plant_params *params)
{
    c->cap_kw = params->chiller_kw;
    c->cop_nominal = params->chiller_cop;
    c->chw_setpoint = 7.0;
    c->chw_design_flow = c->cap_kw / (WATER_KW_PER_M3H_K * 5.0);
    c->cw_design_flow = c->cap_kw * (1.0 + 1.0 / c->cop_nominal) / (WATER_KW_PER_M3H_K * 5.0);
    c->low_dt_factor = 1.0;
    c->chw_supply = c->chw_return = c->evap_sat = 14.0;
    c->cw_supply = c->cw_return = c->cond_sat = 22.0;
}

/* Pump power from its design point: hydraulic power / 0.72 efficiency. */
static void pump_init(struct pump *pump, double flow, double head_kpa)
{
    pump->design_flow = flow;
    pump->design_dp = head_kpa;
    pump->rated_kw = flow / 3600.0 * head_kpa / 0.72;
}

void plant_init(struct plant *p, const struct plant_params *params)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < PLANT_CHILLERS; i++) {
        chiller_init(&p->chillers[i], params);
        pump_init(&p->chw_pumps[i], p->chillers[i].chw_design_flow, 320.0);
        pump_init(&p->cw_pumps[i], p->chillers[i].cw_design_flow, 260.0);
    }
    p->boiler.rated_kw = params->boiler_kw;
    p->boiler.loop_volume_m3 = 12.0;
    p->boiler.hw_setpoint = 60.0;
    p->boiler.hw_supply = p->boiler.hw_return = 30.0;
    p->boiler.flue = 25.0;
    pump_init(&p->hw_pump, params->boiler_kw / (WATER_KW_PER_M3H_K * 15.0), 180.0);
    p->fan.rated_kw = 2.0 * params->chiller_kw * 0.009;   /* ~0.009 kW per kW rejected */
}

double plant_chiller_cop(const struct chiller *c, double plr, double cw_supply)
{
    double part = plr / (0.12 + 0.88 * plr);
    double condenser = clamp(1.0 - 0.03 * (cw_supply - 30.0), 0.6, 1.35);
    double lift = 1.0 + 0.02 * (c->chw_setpoint - 7.0);

    return c->cop_nominal * part * condenser * lift;
}

/* Staging with hysteresis: a second chiller when the first is nearly
 * full, back to one when two would each be lightly loaded. */
static int sequence(const struct plant *p, const struct plant_input *in)
{
    double cap = p->chillers[0].cap_kw;
    int n = p->n_running;

    if (!in->cooling_on)
        return 0;
    if (n == 0 && in->cooling_kw > 0.15 * cap)
        n = 1;
    if (n == 1 && in->cooling_kw > 0.95 * cap)
        n = 2;
    if (n == 2 && in->cooling_kw < 0.75 * cap)
        n = 1;
    if (n == 1 && in->cooling_kw < 0.08 * cap)
        n = 0;
    return n;
}

/* Condenser water from the tower: wet bulb + an approach that grows with
 * heat and shrinks with fan speed, never below what the bypass keeps. */
static double tower_supply(struct plant *p, const struct plant_input *in)
{
    double rated = PLANT_CHILLERS * p->chillers[0].cap_kw * 1.2;
    double r = p->heat_rejected_kw / rated;
    struct tower_fan *f = &p->fan;

    f->running = p->heat_rejected_kw > 0.0;
    f->speed = f->running ? clamp(0.25 + 1.1 * r + 0.04 * (in->wx->wet_bulb - 20.0), 0.25, 1.0) : 0.0;
    f->power_kw = f->running ? f->rated_kw * f->speed * f->speed * f->speed + 0.3 : 0.0;
    if (!f->running)
        return fmax(in->wx->temp, 12.0);
    return fmax(in->wx->wet_bulb + 1.5 + 4.5 * r / f->speed, 18.0);
}

/* A clean machine's refrigerant sits an approach away from the water
 * leaving each shell, wider with the heat through the tubes: about 0.7 K
 * (evaporator) and 0.9 K (condenser) at 20 % load, 1.7 K and 2.3 K at full
 * load, so below the 3 K at which the chiller kind's default rules call
 * the tubes fouled. */
static void chiller_saturation(struct chiller *c)
{
    c->evap_sat = c->chw_supply - (0.5 + 1.2 * c->plr);
    c->cond_sat = c->cw_return + (0.5 + 1.8 * c->plr);
}

/* Variable primary flow: the pump slows with load down to a minimum, so
 * delta-T falls at part load as in real plants. */
static void chiller_run(struct chiller *c, double load, double cw_supply, double dt)
{
    c->load_kw = fmin(load, 1.05 * c->cap_kw);
    c->plr = c->load_kw / c->cap_kw;
    c->cop = plant_chiller_cop(c, c->plr, cw_supply);
    c->power_kw = c->load_kw / c->cop;
    double speed = clamp(0.45 + 0.55 * c->plr, 0.5, 1.0);
    c->chw_flow = fmin(c->chw_design_flow * speed * c->low_dt_factor, 1.3 * c->chw_design_flow);
    if (c->drift_rate > 0.0)
        c->drift = fmin(c->drift + c->drift_rate * dt / 3600.0, 10.0);
    double unmet = fmax(load - c->load_kw, 0.0) / c->cap_kw;
    c->chw_supply = c->chw_setpoint + c->drift + 4.0 * unmet;
    c->chw_return = c->chw_supply + c->load_kw / (WATER_KW_PER_M3H_K * c->chw_flow);
    c->cw_flow = c->cw_design_flow;
    c->cw_supply = cw_supply;
    c->cw_return = cw_supply + (c->load_kw + c->power_kw) / (WATER_KW_PER_M3H_K * c->cw_flow);
    chiller_saturation(c);
}

/* A stopped chiller: no flow, water drifting to the plant room's warmth,
 * the refrigerant in each shell, faster, to the water around it. */
static void chiller_idle(struct chiller *c, double room, double dt)
{
    double k = 1.0 - exp(-dt / 3600.0);
    double shell_k = 1.0 - exp(-dt / 600.0);

    c->load_kw = c->plr = c->cop = c->power_kw = 0.0;
    c->chw_flow = c->cw_flow = 0.0;
    c->chw_supply += (room - c->chw_supply) * k;
    c->chw_return += (room - c->chw_return) * k;
    c->cw_supply += (room - c->cw_supply) * k;
    c->cw_return += (room - c->cw_return) * k;
    c->evap_sat += ((c->chw_supply + c->chw_return) / 2.0 - c->evap_sat) * shell_k;
    c->cond_sat += ((c->cw_supply + c->cw_return) / 2.0 - c->cond_sat) * shell_k;
    if (c->drift_rate <= 0.0)
        c->drift = 0.0;
}

static void pump_follow(struct pump *pump, bool running, double flow, double dt)
{
    pump->running = running;
    pump->speed = running ? clamp(flow / pump->design_flow, 0.3, 1.3) : 0.0;
    pump->flow = running && !pump->no_flow ? flow : 0.0;
    /* With no flow the pump dead-heads: shut-off head, little power. */
    double head = pump->no_flow ? 1.3 : 1.0;
    double power = pump->no_flow ? 0.45 : 1.0;
    pump->dp = running ? pump->design_dp * head * pump->speed * pump->speed : 0.0;
    pump->power_kw = running ? pump->rated_kw * power * pow(pump->speed, 3.0) : 0.0;
    pump->energy_kwh += pump->power_kw * dt / 3600.0;
    pump->run_s += running ? dt : 0.0;
}

static void chillers_step(struct plant *p, const struct plant_input *in, double cw_supply)
{
    int n = p->n_running;
    double room = fmax(in->wx->temp, 18.0);

    p->heat_rejected_kw = 0.0;
    for (int k = 0; k < PLANT_CHILLERS; k++) {
        /* Staged chillers start with the lead and wrap around. */
        int order = (k - in->lead + PLANT_CHILLERS) % PLANT_CHILLERS;
        struct chiller *c = &p->chillers[k];
        bool staged = order < n;
        bool on = staged || c->force_on;

        if (on && !c->running)
            c->starts += 1.0;
        c->running = on;
        if (on)
            chiller_run(c, staged ? in->cooling_kw / n : 0.2 * c->cap_kw, cw_supply, in->dt);
        else
            chiller_idle(c, room, in->dt);
        c->energy_kwh += c->power_kw * in->dt / 3600.0;
        c->run_s += on ? in->dt : 0.0;
        p->heat_rejected_kw += on ? c->load_kw + c->power_kw : 0.0;
        pump_follow(&p->chw_pumps[k], on, c->chw_flow, in->dt);
        pump_follow(&p->cw_pumps[k], on, c->cw_flow, in->dt);
    }
}

/* Hot-water loop: a proportional burner controller with minimum fire;
 * below it the burner cycles on a 6 K band, as small loads make it do. */
static void boiler_control(struct boiler *b, const struct plant_input *in)
{
    double want = in->heating_on ? in->heating_kw + 60.0 * (b->hw_setpoint - b->hw_supply) : 0.0;
    double firing = clamp(want / b->rated_kw, 0.0, 1.0);

    b->enabled = in->heating_on;
    if (!b->enabled || b->hw_supply > b->hw_setpoint + 3.0)
        firing = 0.0;
    else if (firing < 0.2)
        firing = (b->burner_on || b->hw_supply < b->hw_setpoint - 3.0) && want > 0.0 ? 0.2 : 0.0;
    if (firing > 0.0 && !b->burner_on)
        b->starts += 1.0;
    b->burner_on = firing > 0.0;
    b->firing = firing;
}

/* Short cycling (a fault): the boiler is kept enabled and its burner fires
 * at minimum fire for cycle_on_s, rests cycle_off_s, over and over,
 * whatever the load: a flame that keeps failing, a thermostat with no
 * differential, a boiler held hot on its standing losses. */
static void boiler_short_cycle(struct boiler *b, double dt)
{
    double period = b->cycle_on_s + b->cycle_off_s;

    b->cycle_s = fmod(b->cycle_s + dt, period);
    bool fire = b->cycle_s < b->cycle_on_s && b->hw_supply < 90.0;
    b->enabled = true;
    if (fire && !b->burner_on)
        b->starts += 1.0;
    b->burner_on = fire;
    b->firing = fire ? 0.2 : 0.0;
}

static void boiler_step(struct plant *p, const struct plant_input *in)
{
    struct boiler *b = &p->boiler;
    double dt = in->dt;

    b->hw_setpoint = clamp(60.0 + (10.0 - in->wx->temp), 55.0, 75.0);
    if (b->cycle_on_s > 0.0)
        boiler_short_cycle(b, dt);
    else
        boiler_control(b, in);
    pump_follow(&p->hw_pump, b->enabled, p->hw_pump.design_flow, dt);
    double efficiency = 0.93 - 0.05 * b->firing;
    b->heat_kw = b->firing * b->rated_kw;
    b->gas_flow = b->heat_kw / efficiency / 10.0;   /* natural gas ~10 kWh/m3 */
    double load = b->enabled ? fmin(in->heating_kw, b->heat_kw + 0.5 * b->rated_kw) : 0.0;
    double loss = 0.004 * b->rated_kw * (b->hw_supply - 20.0) / 40.0;
    double capacity = b->loop_volume_m3 * 1000.0 * 4.186;          /* kJ/K */
    b->hw_supply += (b->heat_kw - load - loss) * dt / capacity;
    b->hw_supply = clamp(b->hw_supply, 10.0, 95.0);
    b->hw_return = b->enabled && p->hw_pump.flow > 0.0
        ? b->hw_supply - load / (WATER_KW_PER_M3H_K * p->hw_pump.flow)
        : b->hw_supply - 0.5;
    /* A fouled heat exchanger passes less heat to the water: the flue runs
     * hotter by flue_rise while firing. */
    double flue_target = b->burner_on ? b->hw_return + 45.0 + 90.0 * b->firing + b->flue_rise : 25.0;
    double tau = b->burner_on ? 180.0 : 1800.0;
    b->flue += (flue_target - b->flue) * (1.0 - exp(-dt / tau));
    b->burner_s += b->burner_on ? dt : 0.0;
}

void plant_step(struct plant *p, const struct plant_input *in)
{
    double cw_supply = tower_supply(p, in);

    p->n_running = sequence(p, in);
    chillers_step(p, in, cw_supply);
    struct tower_fan *f = &p->fan;
    f->energy_kwh += f->power_kw * in->dt / 3600.0;
    f->run_s += f->running ? in->dt : 0.0;
    boiler_step(p, in);
}

double plant_power_kw(const struct plant *p)
{
    double kw = p->fan.power_kw + p->hw_pump.power_kw;

    for (int i = 0; i < PLANT_CHILLERS; i++)
        kw += p->chillers[i].power_kw + p->chw_pumps[i].power_kw + p->cw_pumps[i].power_kw;
    return kw + (p->boiler.burner_on ? 2.5 : 0.0);
}
