/*
 * Profiles: a device's register map as data, loaded from
 * <profile_dir>/<id>.conf (a `profile` group) or given inline in a device
 * (its keys points, holes, max_read_registers, ...).
 */
#ifndef GW_PROFILE_H
#define GW_PROFILE_H

#include <libconfig.h>
#include "diag.h"
#include "point.h"

struct gw_profile {
    char *id;
    char *description;
    char *file;                 /* where it was defined */
    int line;
    struct gw_point_def *points;
    size_t n_points;
    struct gw_hole *holes;
    size_t n_holes;
    /* Read limits; -1 means "not set here" (the device or the default decides). */
    int max_read_registers, max_read_bits, max_gap_registers, max_gap_bits;
};

/*
 * Parse a profile from a libconfig group (its points, holes and limits;
 * keys not belonging to a profile are left to the caller).  Every problem
 * goes to diag with file and line.  Returns 0 if the profile is valid,
 * -EINVAL if diag got errors, -ENOMEM.  The caller frees *out with
 * profile_free() in every case.
 */
int profile_parse(const config_setting_t *group, struct gw_profile *out, struct gw_diag *diag);

/* Load <path>, which holds `profile = { id = ...; ... };`.  Returns as
 * profile_parse(); a file that cannot be read or parsed is reported too. */
int profile_load_file(const char *path, struct gw_profile *out, struct gw_diag *diag);

/* The index of the point called name, or -1. */
int profile_find_point(const struct gw_profile *profile, const char *name);

void profile_free(struct gw_profile *profile);

#endif
