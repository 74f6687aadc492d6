/*
 * greenwatch report -c FILE --from YYYY-MM [--to YYYY-MM]
 *                   [--format html|csv|json|energystar] [-o FILE]
 *
 * Loads the configuration (no plugins: a report needs none), queries the
 * configured InfluxDB month by month, computes and writes the report.
 * The twelve months before the period are queried too, for year-on-year
 * and month-on-month anomalies.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "config.h"
#include "diag.h"
#include "report.h"

#define HISTORY_MONTHS 12
#define MAX_PERIOD_MONTHS 120

static const struct {
    const char *name;
    int (*write)(const struct report *r, FILE *out);
} formats[] = {
    { "html", report_write_html },
    { "csv", report_write_csv },
    { "json", report_write_json },
    { "energystar", report_write_energystar },
};

struct options {
    const char *config, *from, *to, *format, *output;
};

static int usage(void)
{
    fprintf(stderr, "usage: greenwatch report -c FILE --from YYYY-MM [--to YYYY-MM] "
                    "[--format html|csv|json|energystar] [-o FILE]\n");
    return 2;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option long_options[] = {
        { "config", required_argument, NULL, 'c' }, { "from", required_argument, NULL, 'f' },
        { "to", required_argument, NULL, 't' },     { "format", required_argument, NULL, 'F' },
        { "output", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 },
    };
    *o = (struct options){ .format = "html" };
    for (int opt; (opt = getopt_long(argc, argv, "c:o:", long_options, NULL)) != -1;) {
        switch (opt) {
        case 'c': o->config = optarg; break;
        case 'f': o->from = optarg; break;
        case 't': o->to = optarg; break;
        case 'F': o->format = optarg; break;
        case 'o': o->output = optarg; break;
        default: return -EINVAL;
        }
    }
    if (!o->config || !o->from || optind != argc)
        return -EINVAL;
    if (!o->to)
        o->to = o->from;
    return 0;
}

static int load_config(const char *path, struct gw_config **cfg)
{
    struct gw_diag diag = { 0 };
    int rc = config_load(path, cfg, &diag);
    if (rc == -ENOMEM)
        fprintf(stderr, "%s: out of memory while loading\n", path);
    diag_print(&diag, stderr);
    diag_free(&diag);
    return rc;
}

/* The period and its history as calendar months in the site's zone. */
static int period_months(const struct options *o, const char *tz, struct report_month **months, size_t *n)
{
    int y0, m0, y1, m1;
    if (report_parse_month(o->from, &y0, &m0) || report_parse_month(o->to, &y1, &m1)) {
        fprintf(stderr, "greenwatch: --from and --to are months YYYY-MM\n");
        return -EINVAL;
    }
    int count = (y1 * 12 + m1) - (y0 * 12 + m0) + 1;
    if (count < 1 || count > MAX_PERIOD_MONTHS) {
        fprintf(stderr, "greenwatch: the period must run forward, %d months at most\n", MAX_PERIOD_MONTHS);
        return -EINVAL;
    }
    int start = y0 * 12 + (m0 - 1) - HISTORY_MONTHS;
    int rc = report_months(tz, start / 12, start % 12 + 1, y1, m1, months, n);
    if (rc == -EINVAL)
        fprintf(stderr, "greenwatch: site.timezone '%s' is not a known time zone\n", tz);
    return rc;
}

static int write_report(const struct report *r, const struct options *o)
{
    size_t f = 0;
    while (f < sizeof formats / sizeof *formats && strcmp(formats[f].name, o->format) != 0)
        f++;
    FILE *out = o->output ? fopen(o->output, "we") : stdout;
    if (!out) {
        fprintf(stderr, "greenwatch: %s: %s\n", o->output, strerror(errno));
        return -errno;
    }
    int rc = formats[f].write(r, out);
    if (fflush(out) != 0 || ferror(out))
        rc = -EIO;
    if (o->output && fclose(out) != 0)
        rc = -EIO;
    if (rc)
        fprintf(stderr, "greenwatch: cannot write the report: %s\n", strerror(-rc));
    return rc;
}

static bool known_format(const char *name)
{
    for (size_t f = 0; f < sizeof formats / sizeof *formats; f++)
        if (strcmp(formats[f].name, name) == 0)
            return true;
    return false;
}

int cmd_report(int argc, char **argv)
{
    struct options o;
    if (parse_options(argc, argv, &o))
        return usage();
    if (!known_format(o.format)) {
        fprintf(stderr, "greenwatch: --format is html, csv, json or energystar\n");
        return 2;
    }
    struct gw_config *cfg = NULL;
    if (load_config(o.config, &cfg))
        return 1;
    struct report_setup setup;
    struct report_month *months = NULL;
    size_t n_months = 0;
    struct report_input in = { 0 };
    struct report r = { 0 };
    int rc = report_setup_from_config(cfg, &setup);
    if (!rc)
        rc = period_months(&o, setup.timezone, &months, &n_months);
    if (!rc)
        rc = report_input_init(&in, months, n_months, HISTORY_MONTHS, setup.n_devices);
    if (!rc && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        rc = -ENOMEM;
    if (!rc) {
        rc = report_query(cfg, &setup, &in);
        curl_global_cleanup();
    }
    if (!rc)
        rc = report_compute(&setup, &in, &r);
    if (!rc)
        rc = write_report(&r, &o);
    if (rc == -ENOMEM)
        fprintf(stderr, "greenwatch: out of memory\n");
    report_free(&r);
    report_input_free(&in, setup.n_devices);
    free(months);
    report_setup_free(&setup);
    config_free(cfg);
    return rc ? 1 : 0;
}
