/* greenwatch read and greenwatch check. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "config.h"
#include "daemon.h"
#include "device.h"
#include "log.h"
#include "modbus_link.h"
#include "plugin.h"
#include "sample.h"
#include "scheduler.h"

static void print_table(const struct gw_sample *s)
{
    printf("%-28s %16s  %-10s %s\n", "point", "value", "unit", "quality");
    for (size_t i = 0; i < s->n_readings; i++) {
        const struct gw_reading *r = &s->readings[i];
        char value[64] = "-";
        if (r->text)
            snprintf(value, sizeof value, "%s", r->text);
        else if (r->quality != GW_QUALITY_BAD)
            snprintf(value, sizeof value, "%.6g", r->value);
        printf("%-28s %16s  %-10s %s\n", r->name, value, r->unit ? r->unit : "", quality_name(r->quality));
    }
}

static void list_devices(const struct gw_config *cfg)
{
    fprintf(stderr, "devices:");
    for (size_t i = 0; i < cfg->n_devices; i++)
        fprintf(stderr, " %s", cfg->devices[i].id);
    fprintf(stderr, "\n");
}

/* Poll dev once over a link of its own.  Returns the exit code. */
static int read_device(const struct gw_config *cfg, const struct gw_kinds *kinds,
                       const struct gw_device_cfg *dc, bool json)
{
    struct gw_device dev;
    if (device_init(&dev, dc, kinds_find(kinds, dc->kind)))
        return 1;
    struct gw_link link;
    link_init(&link, &cfg->buses[dc->bus_index]);
    struct gw_sample s;
    int status;
    if (link_ensure(&link, clock_mono_ns())) {
        link_select(&link, dc);
        struct gw_reader reader = link_reader(&link);
        status = device_poll(&dev, &reader, &s);
    } else {
        status = device_bad_sample(&dev, &s) ? -1 : GW_READ_COMM_FAILED;
    }
    if (status >= 0 && json) {
        char *text = sample_to_json(&s, false);
        if (text)
            puts(text);
        free(text);
    } else if (status >= 0) {
        print_table(&s);
    }
    if (status == GW_READ_COMM_FAILED)
        fprintf(stderr, "greenwatch: device '%s' did not answer\n", dc->id);
    sample_free(&s);
    link_close(&link);
    device_free(&dev);
    return status == GW_READ_OK ? 0 : 1;
}

int cmd_read(int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' }, { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    bool json = false;
    for (int opt; (opt = getopt_long(argc, argv, "c:j", options, NULL)) != -1;) {
        if (opt == 'c')
            path = optarg;
        else if (opt == 'j')
            json = true;
        else
            return 2;
    }
    if (!path || optind != argc - 1) {
        fprintf(stderr, "usage: greenwatch read -c FILE DEVICE [--json]\n");
        return 2;
    }
    struct gw_config *cfg;
    struct gw_kinds kinds;
    if (daemon_load(path, &cfg, &kinds))
        return 1;
    log_set_level(GW_LOG_WARNING);  /* the points are the output; connects are noise here */
    const struct gw_device_cfg *dc = config_find_device(cfg, argv[optind]);
    int rc = 1;
    if (!dc) {
        fprintf(stderr, "greenwatch: no device '%s' in %s\n", argv[optind], path);
        list_devices(cfg);
    } else {
        rc = read_device(cfg, &kinds, dc, json);
    }
    kinds_free(&kinds);
    config_free(cfg);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    for (int opt; (opt = getopt(argc, argv, "c:")) != -1;) {
        if (opt != 'c')
            return 2;
        path = optarg;
    }
    if (!path || optind != argc) {
        fprintf(stderr, "usage: greenwatch check -c FILE\n");
        return 2;
    }
    struct gw_daemon *d;
    if (daemon_open(path, &d))
        return 1;
    daemon_describe(d, stdout);
    daemon_close(d);
    return 0;
}
