/*
 * A simulated device: a shipped profile (its register map), the role it
 * plays in the building, and the register image it serves, re-encoded
 * from the model whenever the model has moved on.
 */
#ifndef GW_SIM_SIMDEVICE_H
#define GW_SIM_SIMDEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "building.h"
#include "profile.h"
#include "roles.h"

/* One profile point and where its value comes from. */
struct sim_binding {
    const struct gw_point_def *def;
    const struct quantity *q;   /* NULL: the role has no such quantity; serves 0 */
    double base;                /* counters: the reading when the model started */
    double wrap;                /* counters: where the register rolls over; 0 never */
    bool stuck, spike;          /* faults on this point */
    double stuck_value, spike_value;
    double value;               /* engineering value last encoded (the truth) */
};

/* Faults seen at the Modbus level rather than in the physics. */
struct device_faults {
    bool no_answer;
    int delay_ms;               /* 0: answer at once */
    int exception;              /* 0: none; else the exception code */
    int exc_from, exc_to;       /* addresses it applies to; exc_to < 0: all */
};

struct sim_device {
    char id[GW_NAME_MAX];
    int bus;                    /* index of the bus serving it */
    int unit;                   /* Modbus unit id */
    const struct gw_profile *profile;   /* not owned: the sim's profile cache */
    struct role role;
    double factor;              /* size relative to the modelled thing (fleet copies) */
    struct sim_binding *bindings;
    size_t n_bindings;
    uint16_t *regs[2];          /* input, holding */
    uint8_t *bits[2];           /* coils, discrete inputs */
    unsigned size[GW_TABLE_COUNT];  /* addresses served per table: 0 .. size-1 */
    struct device_faults faults;
    int64_t encoded_step;       /* model step the image reflects; -1 none */
};

/*
 * Set up d for profile and role.  Counters start at a plausible installed
 * reading drawn from seed and the device's id.  Returns 0 or -ENOMEM;
 * simdev_free() releases what was allocated either way.
 */
int simdev_init(struct sim_device *d, const char *id, const struct gw_profile *profile,
                const struct role *role, double factor, uint64_t seed);
void simdev_free(struct sim_device *d);

/* Re-encode the image from the model if step is newer than the image. */
void simdev_refresh(struct sim_device *d, const struct building *b, int64_t step);

/* 0 if count items from address of table can be read, otherwise the
 * Modbus exception code to answer (2: illegal data address). */
int simdev_check_read(const struct sim_device *d, enum gw_table table, unsigned address,
                      unsigned count);

/* The binding of the point called name, or NULL. */
struct sim_binding *simdev_binding(struct sim_device *d, const char *name);

/* Names of the profile's points the role cannot simulate, comma separated
 * in buf (empty if none). */
void simdev_unsimulated(const struct sim_device *d, char *buf, size_t n);

#endif
