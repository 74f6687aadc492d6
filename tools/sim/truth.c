#include "truth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct truth {
    FILE *f;
};

struct truth *truth_open(const char *path)
{
    struct truth *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->f = fopen(path, "a");
    if (!t->f) {
        free(t);
        return NULL;
    }
    return t;
}

static double wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

static bool covers(const struct gw_point_def *p, enum gw_table table, unsigned address,
                   unsigned count)
{
    return p->table == table && p->address < address + count &&
           (unsigned)p->address + p->count > address;
}

static enum gw_table fc_table(int fc)
{
    static const enum gw_table t[5] = { GW_TABLE_COIL, GW_TABLE_COIL, GW_TABLE_DISCRETE,
                                        GW_TABLE_HOLDING, GW_TABLE_INPUT };
    return t[fc >= 1 && fc <= 4 ? fc : 0];
}

static void points(FILE *f, const struct sim_device *d, enum gw_table table,
                   unsigned address, unsigned count)
{
    bool first = true;

    fputs(",\"points\":{", f);
    for (size_t i = 0; i < d->n_bindings; i++) {
        const struct sim_binding *b = &d->bindings[i];

        if (!covers(b->def, table, address, count) || b->def->type == GW_TYPE_STRING)
            continue;
        fprintf(f, "%s\"%s\":", first ? "" : ",", b->def->name);
        /* Whole numbers in full, so a clock in ms reads back exactly. */
        if (isfinite(b->value) && b->value == floor(b->value) && fabs(b->value) < 1e15)
            fprintf(f, "%.0f", b->value);
        else if (isfinite(b->value))
            fprintf(f, "%.10g", b->value);
        else
            fputs("null", f);
        first = false;
    }
    fputc('}', f);
}

void truth_record(struct truth *t, double sim_t, const struct sim_device *d, int fc,
                  unsigned address, unsigned count, int exception)
{
    if (!t)
        return;
    fprintf(t->f, "{\"wall_ms\":%.0f,\"sim_s\":%.3f,\"device\":\"%s\",\"unit\":%d,"
            "\"fc\":%d,\"address\":%u,\"count\":%u", wall_ms(), sim_t, d->id, d->unit, fc,
            address, count);
    if (exception > 0)
        fprintf(t->f, ",\"exception\":%d", exception);
    else if (exception < 0)
        fputs(",\"unanswered\":true", t->f);
    else
        points(t->f, d, fc_table(fc), address, count);
    fputs("}\n", t->f);
}

void truth_flush(struct truth *t)
{
    if (t)
        fflush(t->f);
}

void truth_close(struct truth *t)
{
    if (!t)
        return;
    fclose(t->f);
    free(t);
}
