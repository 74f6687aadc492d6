/*
 * Kind plugins: <plugin_dir>/<kind>.so loaded with dlopen, descriptor and
 * ABI version checked.  See include/greenwatch/plugin.h for the ABI.
 */
#ifndef GW_PLUGIN_LOADER_H
#define GW_PLUGIN_LOADER_H

#include <greenwatch/plugin.h>
#include "config.h"
#include "diag.h"

struct gw_kind {
    char *name;
    void *handle;
    const struct gw_plugin *plugin;
};

struct gw_kinds {
    struct gw_kind *items;
    size_t n;
};

/*
 * Load the plugin of every kind the configuration's devices use.  A missing
 * plugin, a missing symbol, a wrong ABI version or a descriptor for another
 * kind is reported at the first device using it.  Returns 0, -EINVAL (see
 * diag) or -ENOMEM.  Free with kinds_free() in every case.
 */
int kinds_load(const struct gw_config *cfg, struct gw_kinds *kinds, struct gw_diag *diag);

const struct gw_plugin *kinds_find(const struct gw_kinds *kinds, const char *name);

void kinds_free(struct gw_kinds *kinds);

#endif
