#include "export.h"

void export_daemon_config(const struct sim *s, double interval_s, FILE *out)
{
    fputs("# Written by greenwatch-sim --print-daemon-config: what the simulator serves.\n"
          "buses = (\n", out);
    for (size_t i = 0; i < s->n_buses; i++) {
        const struct sim_bus *b = &s->buses[i];

        if (!b->rtu)
            fprintf(out, "  { id = \"%s\"; tcp = \"%s:%d\"; timeout_ms = 1000; }%s\n", b->id,
                    b->host, b->port, i + 1 < s->n_buses ? "," : "");
    }
    fputs(");\ndevices = (\n", out);
    for (size_t i = 0; i < s->n_devices; i++) {
        const struct sim_device *d = &s->devices[i];

        if (s->buses[d->bus].rtu)
            continue;
        fprintf(out, "  { id = \"%s\"; bus = \"%s\"; unit = %d; kind = \"generic\"; "
                "profile = \"%s\"; interval_s = %g; }%s\n", d->id, s->buses[d->bus].id, d->unit,
                d->profile->id, interval_s, i + 1 < s->n_devices ? "," : "");
    }
    fputs(");\n", out);
}
