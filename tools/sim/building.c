#include "building.h"

#include <math.h>
#include <string.h>

#include "noise.h"

const char *const feed_names[FEED_COUNT] = {
    "main", "lighting", "hvac_plant", "hvac_terminal", "power", "special",
};
const char *const water_names[WATER_COUNT] = { "main", "tower", "domestic" };

void building_params_default(struct building_params *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->utc_offset_s = 8 * 3600;
    p->floor_area_m2 = 42000.0;
    p->climate = climate_default;
    p->plant.chiller_kw = 2100.0;
    p->plant.chiller_cop = 5.6;
    p->plant.boiler_kw = 1400.0;
}

double building_noise(const struct building *b, const char *name, int instance, double period)
{
    return noise_smooth(b->p.seed, noise_key(name) + (uint64_t)instance, b->t, period);
}

/* Thermal loads on the plant, kW: envelope, sun through the glass, people
 * and equipment, and the fresh air brought to indoor conditions. */
static void thermal_loads(struct building *b, double internal_kw)
{
    double area = b->p.floor_area_m2;
    double ua = area * 1.4 / 1000.0;                /* kW/K */
    double glass = area * 0.03 * 0.4;               /* effective m2 of sun */
    double fresh_air = area / 10.0 * 0.01 * b->occupancy;   /* kg/s */
    const struct weather *w = &b->wx;
    bool plant = calendar_plant_scheduled(&b->cal);
    double pulldown = plant ? 1.0 + 0.25 * exp(-(b->cal.hour - 7.5) / 1.0) : 1.0;
    double cooling = ua * (w->temp - 24.0) + glass * w->solar / 1000.0 +
                     0.85 * internal_kw + fresh_air * fmax(w->enthalpy - 55.0, 0.0);

    b->cooling_kw = plant ? fmax(cooling * pulldown, 0.0) : 0.0;
    double heating = ua * (18.0 - w->temp) + 0.3 * fresh_air * 1.006 * (18.0 - w->temp) -
                     0.3 * internal_kw;
    bool cold = w->daily_mean < 14.0;
    b->heating_kw = cold && calendar_heating_scheduled(&b->cal) ? fmax(heating, 0.0) : 0.0;
}

/* Electrical loads by feed, kW; each wobbles a little on its own. */
static void electrical_loads(struct building *b, double *lighting, double *plug)
{
    double area = b->p.floor_area_m2, occ = b->occupancy;
    double daylight = 1.0 - 0.2 * fmin(b->wx.solar / 600.0, 1.0);
    double design = b->p.plant.chiller_kw * PLANT_CHILLERS;
    double hvac_frac = (b->cooling_kw + b->heating_kw) / design;
    bool plant = calendar_plant_scheduled(&b->cal);
    double kitchen = calendar_kitchen(&b->cal);
    struct elec_feed *f = b->feeds;

    *lighting = area * 7.0e-3 * (0.1 + 0.9 * occ * daylight);
    *plug = area * 11.0e-3 * (0.28 + 0.72 * occ);
    f[FEED_LIGHTING].power_kw = *lighting + *plug;
    f[FEED_HVAC_PLANT].power_kw = plant_power_kw(&b->plant);
    f[FEED_HVAC_TERMINAL].power_kw = plant ? area * 4.5e-3 * (0.35 + 0.65 * fmin(hvac_frac, 1.0))
                                           : area * 0.15e-3;
    f[FEED_POWER].power_kw = area * 1.6e-3 * (0.1 + 0.9 * occ) + 7.5 * (0.2 + 0.6 * occ);
    f[FEED_SPECIAL].power_kw = 60.0 + 45.0 * kitchen;
    for (int i = FEED_LIGHTING; i < FEED_COUNT; i++)
        if (i != FEED_HVAC_PLANT)
            f[i].power_kw *= 1.0 + 0.03 * building_noise(b, "feed", i, 600.0);
}

static const double feed_pf[FEED_COUNT] = { 0.0, 0.93, 0.90, 0.88, 0.85, 0.95 };

/* The incomer carries every feed plus cable and transformer losses and a
 * few unmetered loads; its capacitor bank corrects most reactive power. */
static void main_feed(struct building *b)
{
    double p = 8.0, q = 0.0;

    for (int i = FEED_LIGHTING; i < FEED_COUNT; i++) {
        struct elec_feed *f = &b->feeds[i];

        f->power_factor = feed_pf[i] + 0.01 * building_noise(b, "pf", i, 900.0);
        p += f->power_kw;
        q += f->power_kw * tan(acos(f->power_factor));
    }
    p *= 1.015;
    q *= 0.35;
    b->feeds[FEED_MAIN].power_kw = p;
    b->feeds[FEED_MAIN].power_factor = p / sqrt(p * p + q * q);
}

static void grid(struct building *b)
{
    double load = b->feeds[FEED_MAIN].power_kw / 3000.0;
    static const double phase_offset[3] = { 0.6, -0.3, -0.3 };

    for (int i = 0; i < 3; i++)
        b->voltage[i] = 229.0 - 5.0 * load + phase_offset[i] +
                        1.5 * building_noise(b, "voltage", i, 1200.0);
    b->frequency = 50.0 + 0.03 * building_noise(b, "frequency", 0, 180.0);
}

static void water_and_gas(struct building *b)
{
    double kitchen = calendar_kitchen(&b->cal);
    double irrigation = b->cal.hour >= 6.0 && b->cal.hour < 7.0 ? 4.0 : 0.0;
    double tower = b->plant.heat_rejected_kw * 1.47 * 1.25 / 1000.0;
    double domestic = 14.0 * b->occupancy * (0.8 + 0.2 * building_noise(b, "domestic", 0, 900.0)) + 0.3;

    b->water[WATER_TOWER].flow = tower;
    b->water[WATER_DOMESTIC].flow = domestic;
    b->water[WATER_MAIN].flow = tower + domestic + 1.5 * kitchen + irrigation;
    b->gas.flow = b->plant.boiler.gas_flow + 6.0 * kitchen;
}

/* Counters over the step just taken, with the values at its end. */
static void integrate(struct building *b, double dt)
{
    double h = dt / 3600.0;
    int64_t block = (int64_t)floor(b->t / 900.0);

    for (int i = 0; i < FEED_COUNT; i++) {
        struct elec_feed *f = &b->feeds[i];
        double pf = fmin(fmax(f->power_factor, 0.05), 1.0);

        f->energy_kwh += f->power_kw * h;
        f->reactive_kvarh += f->power_kw * tan(acos(pf)) * h;
        if (block != f->block) {
            f->demand_kw = (f->energy_kwh - f->block_start_kwh) / 0.25;
            f->block_start_kwh = f->energy_kwh;
            f->block = block;
        }
    }
    for (int i = 0; i < WATER_COUNT; i++)
        b->water[i].volume_m3 += b->water[i].flow * h;
    b->gas.volume_m3 += b->gas.flow * h;
}

/* Everything at the current instant; dt is the step that led here. */
static void evaluate(struct building *b, double dt)
{
    double lighting, plug;

    calendar_at(b->t, b->p.utc_offset_s, &b->cal);
    weather_at(&b->p.climate, b->p.seed, &b->cal, &b->wx);
    b->occupancy = calendar_occupancy(&b->cal) *
                   (0.96 + 0.04 * building_noise(b, "occupancy", 0, 1800.0));
    electrical_loads(b, &lighting, &plug);
    thermal_loads(b, lighting + plug + b->p.floor_area_m2 / 10.0 * 0.075 * b->occupancy);
    struct plant_input in = {
        .dt = dt, .cooling_on = b->cooling_kw > 0.0, .heating_on = b->heating_kw > 0.0,
        .cooling_kw = b->cooling_kw, .heating_kw = b->heating_kw,
        .lead = (int)(((b->cal.day_index % PLANT_CHILLERS) + PLANT_CHILLERS) % PLANT_CHILLERS),
        .wx = &b->wx,
    };
    plant_step(&b->plant, &in);
    electrical_loads(b, &lighting, &plug);     /* the plant feed, now known */
    main_feed(b);
    grid(b);
    water_and_gas(b);
}

void building_init(struct building *b, const struct building_params *p, double t0)
{
    memset(b, 0, sizeof *b);
    b->p = *p;
    b->t0 = b->t = t0;
    plant_init(&b->plant, &p->plant);
    /* Twice: the tower and the boiler loop see the plant the first pass
     * started, as they would in a plant already running. */
    evaluate(b, 0.0);
    evaluate(b, 0.0);
    /* A building that was running before the model started: the last
     * demand block looked like now, idle water and the refrigerant in it
     * sit at room temperature. */
    for (int i = 0; i < FEED_COUNT; i++) {
        b->feeds[i].block = (int64_t)floor(t0 / 900.0);
        b->feeds[i].demand_kw = b->feeds[i].power_kw;
    }
    for (int i = 0; i < PLANT_CHILLERS; i++) {
        struct chiller *c = &b->plant.chillers[i];
        double room = fmax(b->wx.temp, 18.0);

        if (!c->running) {
            c->chw_supply = c->chw_return = c->evap_sat = room;
            c->cw_supply = c->cw_return = c->cond_sat = room;
        }
    }
}

void building_step(struct building *b, double t_next)
{
    double dt = t_next - b->t;

    b->t = t_next;
    evaluate(b, dt);
    integrate(b, dt);
}
