/*
 * The HVAC plant: water-cooled chillers with their chilled-water and
 * condenser-water pumps, the cooling tower fan, and a gas boiler with its
 * hot-water pump.  Each step takes the building's loads and the weather
 * and leaves every figure a device would report, plus integrated counters.
 *
 * The chiller keeps the identities a commissioning engineer checks:
 * cooling kW = 1.163 x flow (m3/h) x delta-T (K) = COP x electrical kW.
 * Its refrigerant saturates a clean machine's approach away from the water
 * leaving each shell: below the chilled water, above the condenser water.
 */
#ifndef GW_SIM_PLANT_H
#define GW_SIM_PLANT_H

#include <stdbool.h>
#include <stdint.h>

#include "weather.h"

#define PLANT_CHILLERS 2

/* Specific heat of water per m3/h: 1.163 kW per (m3/h x K). */
#define WATER_KW_PER_M3H_K 1.163

struct pump {
    double rated_kw, design_flow, design_dp;    /* kW, m3/h, kPa */
    bool no_flow;               /* fault: runs but moves no water */
    bool running;
    double speed;               /* 0..1 of 50 Hz */
    double flow, dp, power_kw;
    double energy_kwh, run_s;
};

struct chiller {
    double cap_kw, cop_nominal, chw_setpoint;
    double chw_design_flow, cw_design_flow;
    /* Faults, set by the fault module. */
    bool force_on;              /* runs outside its schedule */
    double drift_rate;          /* K/h the supply temperature drifts up; 0 none */
    double low_dt_factor;       /* flow multiplier of low delta-T syndrome; 1 none */
    /* State. */
    bool running;
    double drift;               /* K accumulated by a drift fault */
    double load_kw, plr, cop, power_kw;
    double chw_supply, chw_return, chw_flow;
    double cw_supply, cw_return, cw_flow;
    double evap_sat, cond_sat;  /* saturated refrigerant temperatures, degC */
    double energy_kwh, run_s;
    double starts;
};

struct tower_fan {
    double rated_kw;
    bool running;
    double speed, power_kw, energy_kwh, run_s;
};

struct boiler {
    double rated_kw, loop_volume_m3;
    /* Faults, set by the fault module. */
    double flue_rise;           /* K the flue runs hotter while firing (fouled); 0 none */
    double cycle_on_s, cycle_off_s; /* short cycling: fires this long, rests this long; 0 none */
    double cycle_s;             /* time into the current short cycle */
    /* State. */
    bool enabled, burner_on;
    double firing;              /* 0..1 */
    double heat_kw, gas_flow;   /* output kW, m3/h */
    double hw_setpoint, hw_supply, hw_return, flue;
    double burner_s, starts;
};

struct plant {
    struct chiller chillers[PLANT_CHILLERS];
    struct pump chw_pumps[PLANT_CHILLERS], cw_pumps[PLANT_CHILLERS], hw_pump;
    struct tower_fan fan;
    struct boiler boiler;
    int n_running;              /* chillers staged on by the sequencer */
    double heat_rejected_kw;    /* to the tower */
};

struct plant_params {
    double chiller_kw;          /* cooling capacity of each chiller */
    double chiller_cop;         /* COP at full load and 30 degC condenser water */
    double boiler_kw;
};

void plant_init(struct plant *p, const struct plant_params *params);

/* Inputs of one plant step. */
struct plant_input {
    double dt;                  /* s */
    bool cooling_on, heating_on;
    double cooling_kw, heating_kw;  /* demands */
    int lead;                   /* index of the lead chiller today */
    const struct weather *wx;
};

void plant_step(struct plant *p, const struct plant_input *in);

/* The chiller's COP at a part load ratio and condenser water temperature:
 * falls at low part load and with a warmer condenser. */
double plant_chiller_cop(const struct chiller *c, double plr, double cw_supply);

/* Electrical power of the plant room (chillers, pumps, tower fan, boiler
 * burner fan), kW. */
double plant_power_kw(const struct plant *p);

#endif
