#include "plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct gw_plugin *kinds_find(const struct gw_kinds *kinds, const char *name)
{
    for (size_t i = 0; i < kinds->n; i++)
        if (strcmp(kinds->items[i].name, name) == 0)
            return kinds->items[i].plugin;
    return NULL;
}

static bool kind_seen(const struct gw_kinds *kinds, const char *name)
{
    for (size_t i = 0; i < kinds->n; i++)
        if (strcmp(kinds->items[i].name, name) == 0)
            return true;
    return false;
}

static bool valid_kind_name(const char *name)
{
    if (!*name)
        return false;
    for (; *name; name++)
        if (!((*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9') || *name == '_' || *name == '-'))
            return false;
    return true;
}

/* Open one plugin and check its descriptor.  Returns 0 or -EINVAL after
 * reporting at the device's line. */
static int open_kind(const struct gw_config *cfg, const struct gw_device_cfg *dev, struct gw_kind *kind,
                     struct gw_diag *diag)
{
    const char *file = cfg->file;
    if (!valid_kind_name(dev->kind)) {
        diag_add(diag, file, dev->line, "device '%s': kind '%s' is not a valid kind name", dev->id, dev->kind);
        return -EINVAL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.so", cfg->daemon.plugin_dir, dev->kind);
    kind->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!kind->handle) {
        diag_add(diag, file, dev->line, "device '%s': unknown kind '%s': cannot load %s: %s",
                 dev->id, dev->kind, path, dlerror());
        return -EINVAL;
    }
    kind->plugin = dlsym(kind->handle, GW_PLUGIN_SYMBOL);
    const struct gw_plugin *p = kind->plugin;
    if (!p)
        diag_add(diag, file, dev->line, "device '%s': %s is not a greenwatch plugin (no symbol %s)",
                 dev->id, path, GW_PLUGIN_SYMBOL);
    else if (p->abi_version != GW_PLUGIN_ABI_VERSION)
        diag_add(diag, file, dev->line, "device '%s': %s was built for plugin ABI %u, this daemon speaks %u",
                 dev->id, path, p->abi_version, GW_PLUGIN_ABI_VERSION);
    else if (!p->kind || strcmp(p->kind, dev->kind) != 0)
        diag_add(diag, file, dev->line, "device '%s': %s describes kind '%s', not '%s'",
                 dev->id, path, p->kind ? p->kind : "(none)", dev->kind);
    else if (!p->init || !p->derive || !p->fini)
        diag_add(diag, file, dev->line, "device '%s': %s lacks init, derive or fini", dev->id, path);
    else
        return 0;
    kind->plugin = NULL;
    return -EINVAL;
}

int kinds_load(const struct gw_config *cfg, struct gw_kinds *kinds, struct gw_diag *diag)
{
    memset(kinds, 0, sizeof *kinds);
    if (!(kinds->items = calloc(cfg->n_devices + 1, sizeof *kinds->items)))
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct gw_device_cfg *dev = &cfg->devices[i];
        if (kind_seen(kinds, dev->kind))
            continue;
        struct gw_kind *kind = &kinds->items[kinds->n];
        if (!(kind->name = strdup(dev->kind)))
            return -ENOMEM;
        kinds->n++;
        if (open_kind(cfg, dev, kind, diag))
            rc = -EINVAL;
    }
    return rc;
}

void kinds_free(struct gw_kinds *kinds)
{
    for (size_t i = 0; i < kinds->n; i++) {
        if (kinds->items[i].handle)
            dlclose(kinds->items[i].handle);
        free(kinds->items[i].name);
    }
    free(kinds->items);
    memset(kinds, 0, sizeof *kinds);
}
