/*
 * The generic kind: a device whose points are published as decoded, with
 * nothing derived and no default rules.  It is also the smallest complete
 * example of the plugin shape every kind follows.
 */
#include <greenwatch/plugin.h>

static int generic_init(const struct gw_host *host, const struct gw_device_info *device, void **state)
{
    (void)host;
    (void)device;
    *state = NULL;
    return 0;
}

static int generic_derive(void *state, struct gw_sample *sample)
{
    (void)state;
    (void)sample;
    return 0;
}

static void generic_fini(void *state)
{
    (void)state;
}

__attribute__((visibility("default"))) const struct gw_plugin greenwatch_plugin = {
    .abi_version = GW_PLUGIN_ABI_VERSION,
    .kind = "generic",
    .description = "points as decoded, nothing derived",
    .init = generic_init,
    .derive = generic_derive,
    .fini = generic_fini,
    .default_rules = NULL,
};
