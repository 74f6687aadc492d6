/*
 * libFuzzer target for the configuration loader: the input is written as
 * a configuration file and loaded with config_load().  Either it loads,
 * and then every reference is resolved (buses, profiles, read limits that
 * fit each point), or it is refused with at least one "FILE:LINE:
 * message" and no configuration.  Any broken invariant aborts, so that
 * the fuzzer reports it.
 *
 * The file lives in a private directory next to a link `profiles` to the
 * shipped profiles, so that configurations saying profile_dir =
 * "profiles" (as config/demo.conf does) load real register maps.
 * Every '@' becomes '#' before the file is written, which comments out
 * @include directives: an input must not make the loader read whatever
 * file it names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

/*
 * The loader opens the secret files an input names (password_file,
 * key_file, ...), and the fuzzer may run as root, where a few device files
 * act when merely opened (a watchdog starts counting down).  The target is
 * linked with -Wl,--wrap=open: the loader's open() comes here, and paths
 * under /dev, /proc and /sys are refused as unreadable.
 */
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);

int __wrap_open(const char *path, int flags, ...)
{
    int mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, int);
        va_end(ap);
    }
    char *real = realpath(path, NULL);
    bool special = real && (strncmp(real, "/dev/", 5) == 0 || strncmp(real, "/proc/", 6) == 0 ||
                            strncmp(real, "/sys/", 5) == 0);
    free(real);
    if (special) {
        errno = EACCES;
        return -1;
    }
    return __real_open(path, flags, mode);
}

static char dir[64], path[96];

static void remove_dir(void)
{
    char link[96];

    snprintf(link, sizeof link, "%s/profiles", dir);
    unlink(path);
    unlink(link);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char link[96];
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/gw-config-fuzz-XXXXXX", tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/greenwatch.conf", dir);
    snprintf(link, sizeof link, "%s/profiles", dir);
    REQUIRE(symlink(GW_SOURCE_DIR "/config/profiles", link) == 0);
    atexit(remove_dir);
    return 0;
}

/* Comments out every @include (libconfig takes '#' to the end of the line). */
static void neutralise_includes(char *text, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (text[i] == '@')
            text[i] = '#';
}

static void write_input(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    REQUIRE(text);
    memcpy(text, data, size);
    neutralise_includes(text, size);
    FILE *f = fopen(path, "w");
    REQUIRE(f && fwrite(text, 1, size, f) == size && fclose(f) == 0);
    free(text);
}

static void check_loaded(const struct gw_config *cfg)
{
    REQUIRE(cfg->file && strcmp(cfg->file, path) == 0);
    REQUIRE(cfg->site.id);  /* no buses or devices is valid: a site being commissioned */
    REQUIRE(cfg->daemon.plugin_dir[0] == '/' && cfg->daemon.profile_dir[0] == '/');
    REQUIRE(cfg->daemon.spool_dir[0] == '/' && cfg->daemon.state_file[0] == '/');
    for (size_t i = 0; i < cfg->n_buses; i++) {
        const struct gw_bus_cfg *b = &cfg->buses[i];
        REQUIRE(b->id && !b->tcp != !b->rtu);
        REQUIRE(!b->tcp || (b->port >= 1 && b->port <= 65535 && b->host[0]));
    }
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct gw_device_cfg *d = &cfg->devices[i];
        REQUIRE(d->id && d->bus_index < cfg->n_buses);
        REQUIRE(strcmp(cfg->buses[d->bus_index].id, d->bus_id) == 0);
        REQUIRE(config_find_device(cfg, d->id) == d);
        REQUIRE(d->profile && d->profile->n_points > 0);
        for (size_t p = 0; p < d->profile->n_points; p++) {
            const struct gw_point_def *pt = &d->profile->points[p];
            unsigned limit = gw_table_is_bits(pt->table) ? d->limits.max_bits : d->limits.max_registers;
            REQUIRE(pt->count >= 1 && pt->count <= limit);
            REQUIRE((unsigned)pt->address + pt->count <= 65536u);
        }
    }
    REQUIRE(!cfg->mqtt.present || (cfg->mqtt.client_id && cfg->mqtt.topic_prefix));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_diag diag = { 0 };
    struct gw_config *cfg = (struct gw_config *)&diag;  /* must become NULL on error */

    write_input(data, size);
    int rc = config_load(path, &cfg, &diag);
    log_set_level(GW_LOG_ERROR);
    if (rc == 0) {
        REQUIRE(cfg && diag.n == 0);
        check_loaded(cfg);
    } else {
        REQUIRE(rc == -EINVAL && cfg == NULL && diag.n > 0);
        for (size_t i = 0; i < diag.n; i++)
            REQUIRE(diag.lines[i] && diag.lines[i][0] == '/' && strstr(diag.lines[i], ": "));
    }
    config_free(cfg);
    diag_free(&diag);
    return 0;
}
