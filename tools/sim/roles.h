/*
 * Roles: what a simulated device is in the building (the main meter, the
 * lighting sub-meter, chiller 2, the condenser pump of chiller 1, ...) and
 * the quantities it can serve, by the point names the shipped profiles use.
 * A profile point whose name a role knows is served from the model; one it
 * does not know is served as zero (and reported at start).
 */
#ifndef GW_SIM_ROLES_H
#define GW_SIM_ROLES_H

#include <stdbool.h>
#include <stddef.h>

#include "building.h"

enum role_kind {
    ROLE_METER, ROLE_WATER, ROLE_GAS, ROLE_CHILLER, ROLE_BOILER,
    ROLE_PUMP, ROLE_FAN, ROLE_WEATHER, ROLE_COUNT
};
extern const char *const role_names[ROLE_COUNT];

enum pump_loop { LOOP_CHW, LOOP_CW, LOOP_HW, LOOP_COUNT };
extern const char *const loop_names[LOOP_COUNT];

struct role {
    enum role_kind kind;
    int index;          /* feed, water feed, chiller or pump number (0-based) */
    enum pump_loop loop;
};

/* How a quantity behaves when served. */
enum {
    Q_COUNTER = 1,      /* cumulative: offset by an installed reading, wraps */
    Q_EXTENSIVE = 2,    /* scales with the size of the thing (fleet copies) */
    Q_CLOCK = 4,        /* the simulated time, s since the epoch; served in the
                         * point's timestamp unit (s or ms) */
};

struct quantity {
    const char *name;
    double (*get)(const struct building *b, const struct role *r);
    unsigned flags;
    double typical;     /* counters: a plausible reading when installed */
};

/* The quantity called name for this role, or NULL.  Every role serves
 * sim_clock, the device's clock showing the simulated time. */
const struct quantity *role_quantity(const struct role *r, const char *name);

/*
 * Build a role from its configuration words: kind ("meter", "chiller",
 * ...), which (a feed name for meters and water meters, a loop name for
 * pumps; may be NULL otherwise) and number (1-based; 0 if not given).
 * Returns 0 or -EINVAL with a message in err (size n).
 */
int role_make(const char *kind, const char *which, int number, struct role *out,
              char *err, size_t n);

/* A short human name such as "chiller 2" or "meter lighting", in buf. */
const char *role_describe(const struct role *r, char *buf, size_t n);

/* The text a string point (e.g. a model name) serves. */
const char *role_model_text(const struct role *r);

/* The chiller, pump of the model this role plays, or NULL. */
struct chiller *role_chiller(struct building *b, const struct role *r);
struct pump *role_pump(struct building *b, const struct role *r);

#endif
