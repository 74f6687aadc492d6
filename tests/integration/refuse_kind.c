/*
 * A kind plugin whose init refuses every device: a configuration using it
 * is valid (the plugin loads and speaks the ABI) but cannot start.  Tests
 * use it to check that such a configuration does not stop the daemon.
 */
#include <errno.h>
#include <greenwatch/plugin.h>

static int refuse_init(const struct gw_host *host, const struct gw_device_info *device, void **state)
{
    (void)device;
    *state = NULL;
    host->log(GW_LOG_ERROR, "refuse: init refused for device '%s'", device->id);
    return -EINVAL;
}

static int refuse_derive(void *state, struct gw_sample *sample)
{
    (void)state;
    (void)sample;
    return 0;
}

static void refuse_fini(void *state)
{
    (void)state;
}

__attribute__((visibility("default"))) const struct gw_plugin greenwatch_plugin = {
    .abi_version = GW_PLUGIN_ABI_VERSION,
    .kind = "refuse",
    .description = "refuses every device (tests only)",
    .init = refuse_init,
    .derive = refuse_derive,
    .fini = refuse_fini,
};
