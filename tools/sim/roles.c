/*
 * Quantities by role.  Getters only read the model: no sensor noise is
 * added on the way out, so what devices serve keeps the model's balances
 * (cooling = 1.163 x flow x delta-T, kWh = integral of kW) to the
 * registers' resolution, which is what the tests check through Modbus.
 */
#include "roles.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const role_names[ROLE_COUNT] = {
    "meter", "water", "gas", "chiller", "boiler", "pump", "fan", "weather",
};
const char *const loop_names[LOOP_COUNT] = { "chw", "cw", "hw" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct elec_feed *feed(const struct building *b, const struct role *r)
{
    return &b->feeds[r->index];
}

/* ---- electricity meters ------------------------------------------ */

static double m_power(const struct building *b, const struct role *r) { return feed(b, r)->power_kw; }
static double m_pf(const struct building *b, const struct role *r) { return feed(b, r)->power_factor; }
static double m_energy(const struct building *b, const struct role *r) { return feed(b, r)->energy_kwh; }
static double m_kvarh(const struct building *b, const struct role *r) { return feed(b, r)->reactive_kvarh; }
static double m_demand(const struct building *b, const struct role *r) { return feed(b, r)->demand_kw; }
static double m_frequency(const struct building *b, const struct role *r) { (void)r; return b->frequency; }
static double m_zero(const struct building *b, const struct role *r) { (void)b; (void)r; return 0.0; }
static double m_one(const struct building *b, const struct role *r) { (void)b; (void)r; return 1.0; }

static double m_reactive(const struct building *b, const struct role *r)
{
    double pf = fmin(fmax(m_pf(b, r), 0.05), 1.0);

    return m_power(b, r) * tan(acos(pf));
}

static double m_apparent(const struct building *b, const struct role *r)
{
    return m_power(b, r) / fmin(fmax(m_pf(b, r), 0.05), 1.0);
}

/* A sub-meter sees the incomer's voltage less its cable's drop. */
static double m_voltage(const struct building *b, const struct role *r, int phase)
{
    double drop = r->index == FEED_MAIN ? 0.0 : 1.0 + 0.002 * m_power(b, r);

    return b->voltage[phase] - drop;
}

static double m_current(const struct building *b, const struct role *r, int phase)
{
    static const double imbalance[3] = { 1.04, 0.99, 0.97 };
    double v = m_voltage(b, r, phase);
    double pf = fmin(fmax(m_pf(b, r), 0.05), 1.0);

    return m_power(b, r) * 1000.0 / (3.0 * v * pf) * imbalance[phase];
}

static double m_v1(const struct building *b, const struct role *r) { return m_voltage(b, r, 0); }
static double m_v2(const struct building *b, const struct role *r) { return m_voltage(b, r, 1); }
static double m_v3(const struct building *b, const struct role *r) { return m_voltage(b, r, 2); }
static double m_i1(const struct building *b, const struct role *r) { return m_current(b, r, 0); }
static double m_i2(const struct building *b, const struct role *r) { return m_current(b, r, 1); }
static double m_i3(const struct building *b, const struct role *r) { return m_current(b, r, 2); }

static const struct quantity meter_quantities[] = {
    { "power_kw", m_power, Q_EXTENSIVE, 0 },
    { "reactive_power_kvar", m_reactive, Q_EXTENSIVE, 0 },
    { "apparent_power_kva", m_apparent, Q_EXTENSIVE, 0 },
    { "power_factor", m_pf, 0, 0 },
    { "frequency", m_frequency, 0, 0 },
    { "voltage_l1", m_v1, 0, 0 }, { "voltage_l2", m_v2, 0, 0 }, { "voltage_l3", m_v3, 0, 0 },
    { "current_l1", m_i1, Q_EXTENSIVE, 0 }, { "current_l2", m_i2, Q_EXTENSIVE, 0 },
    { "current_l3", m_i3, Q_EXTENSIVE, 0 },
    { "energy_kwh", m_energy, Q_EXTENSIVE | Q_COUNTER, 2.0e6 },
    { "reactive_energy_kvarh", m_kvarh, Q_EXTENSIVE | Q_COUNTER, 4.0e5 },
    { "meter_demand_kw", m_demand, Q_EXTENSIVE, 0 },
    { "alarm", m_zero, 0, 0 },
};

/* ---- water and gas ----------------------------------------------- */

static double w_flow(const struct building *b, const struct role *r) { return b->water[r->index].flow; }
static double w_volume(const struct building *b, const struct role *r) { return b->water[r->index].volume_m3; }

/* Mains water follows the ground's temperature, a month behind the air. */
static double w_temp(const struct building *b, const struct role *r)
{
    (void)r;
    return 17.0 + 7.0 * cos(2.0 * M_PI * (b->cal.doy - b->p.climate.warmest_doy - 30) / 365.0);
}

static const struct quantity water_quantities[] = {
    { "flow", w_flow, Q_EXTENSIVE, 0 },
    { "volume_m3", w_volume, Q_EXTENSIVE | Q_COUNTER, 2.0e5 },
    { "water_temp", w_temp, 0, 0 },
    { "low_battery", m_zero, 0, 0 },
};

static double g_flow(const struct building *b, const struct role *r) { (void)r; return b->gas.flow; }
static double g_volume(const struct building *b, const struct role *r) { (void)r; return b->gas.volume_m3; }
static double g_temp(const struct building *b, const struct role *r) { (void)r; return 0.5 * (b->wx.temp + 15.0); }

static double g_pressure(const struct building *b, const struct role *r)
{
    (void)r;
    return 2.0 - 0.002 * b->gas.flow + 0.03 * building_noise(b, "gas-pressure", 0, 600.0);
}

static const struct quantity gas_quantities[] = {
    { "volume_m3", g_volume, Q_EXTENSIVE | Q_COUNTER, 1.0e5 },
    { "flow", g_flow, Q_EXTENSIVE, 0 },
    { "gas_temp", g_temp, 0, 0 },
    { "gas_pressure", g_pressure, 0, 0 },
    { "low_battery", m_zero, 0, 0 },
};

/* ---- chillers ---------------------------------------------------- */

static const struct chiller *ch(const struct building *b, const struct role *r)
{
    return &b->plant.chillers[r->index];
}

static double c_chws(const struct building *b, const struct role *r) { return ch(b, r)->chw_supply; }
static double c_chwr(const struct building *b, const struct role *r) { return ch(b, r)->chw_return; }
static double c_sp(const struct building *b, const struct role *r) { return ch(b, r)->chw_setpoint; }
static double c_cws(const struct building *b, const struct role *r) { return ch(b, r)->cw_supply; }
static double c_cwr(const struct building *b, const struct role *r) { return ch(b, r)->cw_return; }
static double c_chwf(const struct building *b, const struct role *r) { return ch(b, r)->chw_flow; }
static double c_cwf(const struct building *b, const struct role *r) { return ch(b, r)->cw_flow; }
static double c_evap(const struct building *b, const struct role *r) { return ch(b, r)->evap_sat; }
static double c_cond(const struct building *b, const struct role *r) { return ch(b, r)->cond_sat; }
static double c_power(const struct building *b, const struct role *r) { return ch(b, r)->power_kw; }
static double c_load(const struct building *b, const struct role *r) { return 100.0 * ch(b, r)->plr; }
static double c_cooling(const struct building *b, const struct role *r) { return ch(b, r)->load_kw; }
static double c_cop(const struct building *b, const struct role *r) { return ch(b, r)->cop; }
static double c_energy(const struct building *b, const struct role *r) { return ch(b, r)->energy_kwh; }
static double c_hours(const struct building *b, const struct role *r) { return ch(b, r)->run_s / 3600.0; }
static double c_starts(const struct building *b, const struct role *r) { return ch(b, r)->starts; }
static double c_running(const struct building *b, const struct role *r) { return ch(b, r)->running; }

/* 380 V three-phase compressor motor at power factor 0.92. */
static double c_current(const struct building *b, const struct role *r)
{
    return c_power(b, r) * 1000.0 / (sqrt(3.0) * 380.0 * 0.92);
}

static const struct quantity chiller_quantities[] = {
    { "chw_supply_temp", c_chws, 0, 0 }, { "chw_return_temp", c_chwr, 0, 0 },
    { "chw_setpoint", c_sp, 0, 0 },
    { "cw_supply_temp", c_cws, 0, 0 }, { "cw_return_temp", c_cwr, 0, 0 },
    { "chw_flow", c_chwf, Q_EXTENSIVE, 0 }, { "cw_flow", c_cwf, Q_EXTENSIVE, 0 },
    { "evap_sat_temp", c_evap, 0, 0 }, { "cond_sat_temp", c_cond, 0, 0 },
    { "power_kw", c_power, Q_EXTENSIVE, 0 }, { "load_pct", c_load, 0, 0 },
    { "current", c_current, Q_EXTENSIVE, 0 },
    { "cooling_kw", c_cooling, Q_EXTENSIVE, 0 }, { "cop", c_cop, 0, 0 },
    { "energy_kwh", c_energy, Q_EXTENSIVE | Q_COUNTER, 1.5e6 },
    { "run_hours", c_hours, Q_COUNTER, 2.0e4 },
    { "starts", c_starts, Q_COUNTER, 1500 },
    { "running", c_running, 0, 0 }, { "remote", m_one, 0, 0 }, { "alarm", m_zero, 0, 0 },
};

/* ---- boiler ------------------------------------------------------ */

static double b_hws(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.hw_supply; }
static double b_hwr(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.hw_return; }
static double b_sp(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.hw_setpoint; }
static double b_flue(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.flue; }
static double b_firing(const struct building *b, const struct role *r) { (void)r; return 100.0 * b->plant.boiler.firing; }
static double b_on(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.burner_on; }
static double b_gas(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.gas_flow; }
static double b_heat(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.heat_kw; }
static double b_hours(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.burner_s / 3600.0; }
static double b_starts(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.starts; }
static double b_enabled(const struct building *b, const struct role *r) { (void)r; return b->plant.boiler.enabled; }

static const struct quantity boiler_quantities[] = {
    { "hw_supply_temp", b_hws, 0, 0 }, { "hw_return_temp", b_hwr, 0, 0 },
    { "hw_setpoint", b_sp, 0, 0 }, { "flue_temp", b_flue, 0, 0 },
    { "firing_rate", b_firing, 0, 0 }, { "burner_on", b_on, 0, 0 },
    { "lockout", m_zero, 0, 0 }, { "gas_flow", b_gas, Q_EXTENSIVE, 0 },
    { "heat_kw", b_heat, Q_EXTENSIVE, 0 },
    { "burner_hours", b_hours, Q_COUNTER, 1.5e4 },
    { "burner_starts", b_starts, Q_COUNTER, 2.0e4 },
    { "enabled", b_enabled, 0, 0 },
};

/* ---- pumps and the tower fan ------------------------------------- */

static const struct pump *pmp(const struct building *b, const struct role *r)
{
    return role_pump((struct building *)b, r);
}

static double p_running(const struct building *b, const struct role *r) { return pmp(b, r)->running; }
static double p_freq(const struct building *b, const struct role *r) { return 50.0 * pmp(b, r)->speed; }
static double p_speed(const struct building *b, const struct role *r) { return 100.0 * pmp(b, r)->speed; }
static double p_power(const struct building *b, const struct role *r) { return pmp(b, r)->power_kw; }
static double p_flow(const struct building *b, const struct role *r) { return pmp(b, r)->flow; }
static double p_dp(const struct building *b, const struct role *r) { return pmp(b, r)->dp; }
static double p_energy(const struct building *b, const struct role *r) { return pmp(b, r)->energy_kwh; }
static double p_hours(const struct building *b, const struct role *r) { return pmp(b, r)->run_s / 3600.0; }

static double p_current(const struct building *b, const struct role *r)
{
    return p_power(b, r) * 1000.0 / (sqrt(3.0) * 380.0 * 0.85);
}

static const struct quantity pump_quantities[] = {
    { "running", p_running, 0, 0 }, { "fault", m_zero, 0, 0 },
    { "frequency", p_freq, 0, 0 }, { "speed_pct", p_speed, 0, 0 },
    { "power_kw", p_power, Q_EXTENSIVE, 0 }, { "current", p_current, Q_EXTENSIVE, 0 },
    { "flow", p_flow, Q_EXTENSIVE, 0 }, { "diff_pressure", p_dp, 0, 0 },
    { "energy_kwh", p_energy, Q_EXTENSIVE | Q_COUNTER, 2.0e5 },
    { "run_hours", p_hours, Q_COUNTER, 2.0e4 },
};

static const struct tower_fan *fan(const struct building *b) { return &b->plant.fan; }
static double f_running(const struct building *b, const struct role *r) { (void)r; return fan(b)->running; }
static double f_freq(const struct building *b, const struct role *r) { (void)r; return 50.0 * fan(b)->speed; }
static double f_speed(const struct building *b, const struct role *r) { (void)r; return 100.0 * fan(b)->speed; }
static double f_power(const struct building *b, const struct role *r) { (void)r; return fan(b)->power_kw; }
static double f_energy(const struct building *b, const struct role *r) { (void)r; return fan(b)->energy_kwh; }
static double f_hours(const struct building *b, const struct role *r) { (void)r; return fan(b)->run_s / 3600.0; }

static double f_current(const struct building *b, const struct role *r)
{
    return f_power(b, r) * 1000.0 / (sqrt(3.0) * 380.0 * 0.85);
}

static const struct quantity fan_quantities[] = {
    { "running", f_running, 0, 0 }, { "fault", m_zero, 0, 0 },
    { "frequency", f_freq, 0, 0 }, { "speed_pct", f_speed, 0, 0 },
    { "power_kw", f_power, Q_EXTENSIVE, 0 }, { "current", f_current, Q_EXTENSIVE, 0 },
    { "energy_kwh", f_energy, Q_EXTENSIVE | Q_COUNTER, 1.0e5 },
    { "run_hours", f_hours, Q_COUNTER, 1.5e4 },
};

/* ---- weather station --------------------------------------------- */

static double x_temp(const struct building *b, const struct role *r) { (void)r; return b->wx.temp; }
static double x_rh(const struct building *b, const struct role *r) { (void)r; return b->wx.rh; }
static double x_dew(const struct building *b, const struct role *r) { (void)r; return b->wx.dew_point; }
static double x_wb(const struct building *b, const struct role *r) { (void)r; return b->wx.wet_bulb; }
static double x_solar(const struct building *b, const struct role *r) { (void)r; return b->wx.solar; }

static const struct quantity weather_quantities[] = {
    { "outdoor_temp", x_temp, 0, 0 }, { "outdoor_rh", x_rh, 0, 0 },
    { "dew_point", x_dew, 0, 0 }, { "wet_bulb_temp", x_wb, 0, 0 },
    { "solar_irradiance", x_solar, 0, 0 },
};

/* ---- every role ------------------------------------------------- */

/* The device's real-time clock: the instant of the model step its values
 * belong to, so a sample stamped with it is stamped when its values were
 * true, at any speed. */
static double any_clock(const struct building *b, const struct role *r) { (void)r; return b->t; }

static const struct quantity common_quantities[] = {
    { "sim_clock", any_clock, Q_CLOCK, 0 },
};

/* ---- lookup ------------------------------------------------------ */

struct quantity_table {
    const struct quantity *q;
    size_t n;
    const char *model;
};

static const struct quantity_table tables[ROLE_COUNT] = {
    [ROLE_METER] = { meter_quantities, N(meter_quantities), "GW-PM8000" },
    [ROLE_WATER] = { water_quantities, N(water_quantities), "GW-UFM200" },
    [ROLE_GAS] = { gas_quantities, N(gas_quantities), "GW-GVC10" },
    [ROLE_CHILLER] = { chiller_quantities, N(chiller_quantities), "GW-WCC600" },
    [ROLE_BOILER] = { boiler_quantities, N(boiler_quantities), "GW-HWB1400" },
    [ROLE_PUMP] = { pump_quantities, N(pump_quantities), "GW-VSD55" },
    [ROLE_FAN] = { fan_quantities, N(fan_quantities), "GW-VSD37" },
    [ROLE_WEATHER] = { weather_quantities, N(weather_quantities), "GW-THS1" },
};

const struct quantity *role_quantity(const struct role *r, const char *name)
{
    const struct quantity_table *t = &tables[r->kind];

    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->q[i].name, name) == 0)
            return &t->q[i];
    for (size_t i = 0; i < N(common_quantities); i++)
        if (strcmp(common_quantities[i].name, name) == 0)
            return &common_quantities[i];
    return NULL;
}

const char *role_model_text(const struct role *r)
{
    return tables[r->kind].model;
}

static int lookup(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* Which instance a role may take, and what `which` names. */
static int role_instance(struct role *out, const char *which, int number, char *err, size_t n)
{
    int count = 1;

    switch (out->kind) {
    case ROLE_METER:
        out->index = lookup(feed_names, FEED_COUNT, which);
        count = FEED_COUNT;
        break;
    case ROLE_WATER:
        out->index = lookup(water_names, WATER_COUNT, which);
        count = WATER_COUNT;
        break;
    case ROLE_PUMP: {
        int loop = lookup(loop_names, LOOP_COUNT, which);

        if (loop < 0) {
            snprintf(err, n, "pump loop must be chw, cw or hw");
            return -EINVAL;
        }
        out->loop = (enum pump_loop)loop;
        count = out->loop == LOOP_HW ? 1 : PLANT_CHILLERS;
        out->index = number > 0 ? number - 1 : 0;
        break;
    }
    case ROLE_CHILLER:
        count = PLANT_CHILLERS;
        out->index = number > 0 ? number - 1 : 0;
        break;
    default:
        out->index = number > 0 ? number - 1 : 0;
        break;
    }
    if (out->index < 0) {
        snprintf(err, n, "unknown %s '%s'", out->kind == ROLE_METER ? "feed" : "water feed",
                 which ? which : "");
        return -EINVAL;
    }
    if (out->index >= count) {
        snprintf(err, n, "%s number must be 1..%d", role_names[out->kind], count);
        return -EINVAL;
    }
    return 0;
}

int role_make(const char *kind, const char *which, int number, struct role *out,
              char *err, size_t n)
{
    int k = lookup(role_names, ROLE_COUNT, kind);

    memset(out, 0, sizeof *out);
    if (k < 0) {
        snprintf(err, n, "unknown role '%s'", kind ? kind : "");
        return -EINVAL;
    }
    out->kind = (enum role_kind)k;
    return role_instance(out, which, number, err, n);
}

const char *role_describe(const struct role *r, char *buf, size_t n)
{
    switch (r->kind) {
    case ROLE_METER: snprintf(buf, n, "meter %s", feed_names[r->index]); break;
    case ROLE_WATER: snprintf(buf, n, "water %s", water_names[r->index]); break;
    case ROLE_PUMP: snprintf(buf, n, "pump %s %d", loop_names[r->loop], r->index + 1); break;
    case ROLE_CHILLER: snprintf(buf, n, "chiller %d", r->index + 1); break;
    default: snprintf(buf, n, "%s", role_names[r->kind]); break;
    }
    return buf;
}

struct chiller *role_chiller(struct building *b, const struct role *r)
{
    return r->kind == ROLE_CHILLER ? &b->plant.chillers[r->index] : NULL;
}

struct pump *role_pump(struct building *b, const struct role *r)
{
    if (r->kind != ROLE_PUMP)
        return NULL;
    switch (r->loop) {
    case LOOP_CHW: return &b->plant.chw_pumps[r->index];
    case LOOP_CW: return &b->plant.cw_pumps[r->index];
    default: return &b->plant.hw_pump;
    }
}
