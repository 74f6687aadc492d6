/*
 * Samples: one poll of one device, its readings, and the reading object of
 * the MQTT contract (DESIGN.md) that `greenwatch read --json` prints too.
 */
#ifndef GW_SAMPLE_H
#define GW_SAMPLE_H

#include <greenwatch/plugin.h>
#include <stdbool.h>

/* Prepare an empty sample with room for cap readings.  device_id is
 * borrowed.  Returns 0 or -ENOMEM. */
int sample_init(struct gw_sample *s, const char *device_id, size_t cap);

/* Append a reading (name and unit borrowed).  Returns 0 or -ENOMEM. */
int sample_add(struct gw_sample *s, const char *name, const char *unit, double value,
               enum gw_quality quality);

const struct gw_reading *sample_find(const struct gw_sample *s, const char *name);

/* Free readings' texts and the array; the sample can be initialised again. */
void sample_free(struct gw_sample *s);

/* The reading object: {"ts":..,"points":{..},"unit":{..},"quality":{..}}.
 * With device set, "device" is added first (for JSON lines on stdout).
 * Returns a malloc'd string, or NULL on ENOMEM. */
char *sample_to_json(const struct gw_sample *s, bool with_device);

/* The name of a quality as it appears in payloads. */
const char *quality_name(enum gw_quality q);

/* The daemon's services for plugins (add, find, log). */
extern const struct gw_host gw_host_services;

#endif
