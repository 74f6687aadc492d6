/*
 * Kind plugin test support: the built <kind>.so loaded from
 * GW_TEST_PLUGIN_DIR with dlopen and its descriptor checked, one device
 * initialised from a table of points and params, samples built from
 * tables of readings and derived one after another on a simulated clock,
 * the derived points looked up, and the plugin's default rules checked
 * against the configuration's rule syntax.
 *
 * The host is the daemon's (sample_add, sample_find) with a log that
 * counts warnings, so that tests can check what was logged once.
 */
#ifndef GW_KINDTEST_H
#define GW_KINDTEST_H

#include <greenwatch/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A plugin under test with one device. */
struct kt {
    void *handle;
    const struct gw_plugin *plugin;
    void *state;
    bool started;
    int64_t ts_ms;              /* of the last sample */
    struct gw_sample sample;    /* the last sample, as derived */
    int derive_rc;
};

/* One reading of a sample; quality 0 is good. */
struct kt_in {
    const char *name;
    double v;
    enum gw_quality q;
};

/* Warnings (and errors) logged through the host since the last reset. */
extern int kt_warnings;

/*
 * Loads <GW_TEST_PLUGIN_DIR>/<kind>.so, checks its descriptor (ABI, kind,
 * functions) and initialises dev.  The first sample will be at start_ms.
 * Returns 0, or a negative errno after printing why.
 */
int kt_open(struct kt *t, const char *kind, const struct gw_device_info *dev, int64_t start_ms);

/* fini, free the last sample, dlclose.  Safe on a failed open. */
void kt_close(struct kt *t);

/*
 * Builds the next sample, dt_s after the previous one (ignored for the
 * first, whose elapsed is 0), from n readings, and derives it.  Returns
 * derive's result.
 */
int kt_step(struct kt *t, double dt_s, const struct kt_in *in, size_t n);

/* The reading name of the last sample (decoded or derived), or NULL. */
const struct gw_reading *kt_get(const struct kt *t, const char *name);

/* True and *v if the last sample has name with good quality. */
bool kt_good(const struct kt *t, const char *name, double *v);

/* The quality of name in the last sample; -1 if absent. */
int kt_quality(const struct kt *t, const char *name);

/*
 * Checks a default_rules text: parses as a libconfig list in the
 * configuration's rules syntax (bare, or `rules = ( ... );` followed by
 * the kind's `derives` list), each rule a group with a unique id, a known
 * type, a point where the type takes one (a schedule: or an expr), a
 * limit's high and/or low (low < high), a state rule's states, a known
 * severity, only the rule keys the configuration knows and no device.
 * Returns the number of rules, or -1 after printing the problem.
 */
int kt_check_rules(const char *text);

#endif
