/*
 * Fault injection: what can go wrong with a device, when, and for how
 * long.  Faults come from a scenario file (times relative to the
 * simulation's start) or at runtime from the control socket (starting
 * now).  Each fault acts where it would in reality: in the Modbus answer
 * (no answer, late, exception), in the physics (drifting supply
 * temperature, low delta-T, a chiller running at night, a pump without
 * flow, a boiler with a fouled heat exchanger or a short-cycling burner)
 * or in one instrument (stuck, spike, counter reset or rollover).
 */
#ifndef GW_SIM_FAULTS_H
#define GW_SIM_FAULTS_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "point.h"

enum fault_type {
    FAULT_NO_ANSWER, FAULT_DELAY, FAULT_EXCEPTION,
    FAULT_CHW_DRIFT, FAULT_LOW_DELTA_T, FAULT_OFF_SCHEDULE, FAULT_NO_FLOW,
    FAULT_COUNTER_RESET, FAULT_COUNTER_ROLLOVER, FAULT_STUCK, FAULT_SPIKE,
    FAULT_FLUE_FOULING, FAULT_SHORT_CYCLING,
    FAULT_TYPE_COUNT
};
extern const char *const fault_type_names[FAULT_TYPE_COUNT];

struct fault_spec {
    enum fault_type type;
    char device[GW_NAME_MAX];
    char point[GW_NAME_MAX];    /* stuck, spike, counters: one point; "" all */
    double after_s;             /* scenario: simulated seconds after the start */
    double for_s;               /* duration in simulated seconds; 0 until cleared */
    double delay_ms;            /* delay */
    double rate;                /* chw_drift: K per simulated hour */
    double factor;              /* low_delta_t: flow multiplier; spike: value multiplier */
    double value;               /* spike: the value served instead */
    bool has_value;
    double margin;              /* counter_rollover: how far below the wrap, in point units */
    double rise;                /* flue_fouling: K the flue runs hotter while firing */
    double on_s, off_s;         /* short_cycling: simulated seconds firing, resting */
    int code;                   /* exception code */
    int address, count;         /* exception: only this range; address < 0 all */
    int reads;                  /* spike: ends after this many reads of the point; 0 never */
    int line;                   /* scenario line, for messages */
};

/* Defaults for a fault of the given type. */
void fault_spec_init(struct fault_spec *f, enum fault_type type);

/* Set one key of a spec from text ("rate", "2.5").  Returns 0 or -EINVAL
 * with a message in err. */
int fault_spec_set(struct fault_spec *f, const char *key, const char *value, char *err,
                   size_t n);

/* Parse a spec from a libconfig group { device = ...; type = ...; ... }.
 * Returns 0 or -EINVAL with a message in err. */
int fault_spec_parse(const config_setting_t *group, struct fault_spec *f, char *err, size_t n);

enum fault_state { FAULT_PENDING, FAULT_ACTIVE, FAULT_OVER };

struct fault {
    int id;
    struct fault_spec spec;
    double start, end;          /* simulated instants; end 0: until cleared */
    enum fault_state state;
};

struct fault_schedule {
    struct fault *v;
    size_t n, cap;
    int next_id;
};

struct sim;

/* Validate spec against the simulation's devices and schedule it from the
 * simulated instant start.  Returns 0 and the fault's id in *id, or
 * -EINVAL (message in err) or -ENOMEM. */
int faults_add(struct sim *s, const struct fault_spec *spec, double start, int *id,
               char *err, size_t n);

/* Start and end faults due at the model's current instant. */
void faults_update(struct sim *s);

/* End active or pending faults: by id (id >= 0), or of a device (NULL:
 * every device) and type (-1: any).  Returns how many were ended. */
int faults_clear(struct sim *s, int id, const char *device, int type);

/* Note that count items from address of table were read from a device,
 * so spikes limited to a number of reads can run out. */
struct sim_device;
void faults_note_read(struct sim *s, struct sim_device *d, enum gw_table table,
                      unsigned address, unsigned count);

/* Load `faults = ( ... );` from a scenario file.  Problems are printed to
 * stderr as FILE:LINE: message.  Returns 0 or -EINVAL / -ENOMEM. */
int faults_load_scenario(struct sim *s, const char *path);

void faults_free(struct fault_schedule *f);

#endif
