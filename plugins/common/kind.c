#include "kind.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double kind_param(const struct gw_device_info *dev, const char *key, double def)
{
    for (size_t i = 0; i < dev->n_params; i++)
        if (strcmp(dev->params[i].key, key) == 0)
            return dev->params[i].value;
    return def;
}

const struct gw_point_info *kind_point(const struct gw_device_info *dev, const char *name)
{
    for (size_t i = 0; i < dev->n_points; i++)
        if (strcmp(dev->points[i].name, name) == 0)
            return &dev->points[i];
    return NULL;
}

struct kind_in kind_read(const struct gw_host *host, const struct gw_sample *s, const char *name)
{
    const struct gw_reading *r = host->find(s, name);
    if (!r)
        return (struct kind_in){ .v = NAN, .q = GW_QUALITY_BAD, .present = false };
    struct kind_in in = { .v = r->value, .q = r->quality, .present = true };
    if (in.q == GW_QUALITY_GOOD && !isfinite(in.v))
        in.q = GW_QUALITY_UNCERTAIN;
    return in;
}

int kind_add(const struct gw_host *host, struct gw_sample *s, const char *name, const char *unit,
             double value, enum gw_quality q)
{
    if (q == GW_QUALITY_GOOD && !isfinite(value))
        q = GW_QUALITY_UNCERTAIN;
    return host->add(s, name, unit, value, q);
}

double kind_running_kw(const struct gw_device_info *dev)
{
    double rated = kind_param(dev, "rated_kw", 0.0);
    return kind_param(dev, "running_kw", rated > 0.0 ? 0.05 * rated : 1.0);
}

struct kind_run kind_run_source(const struct gw_device_info *dev, const char *status_point,
                                const char *power_point)
{
    struct kind_run src = { .threshold_kw = kind_running_kw(dev) };
    if (status_point && kind_has_point(dev, status_point))
        src.point = status_point;
    else if (power_point && kind_has_point(dev, power_point))
        src.power = power_point;
    return src;
}

struct kind_run_state kind_running(const struct gw_host *host, const struct gw_sample *s,
                                   const struct kind_run *src)
{
    if (!src->point && !src->power)
        return (struct kind_run_state){ KIND_UNKNOWN, GW_QUALITY_BAD };
    struct kind_in in = kind_read(host, s, src->point ? src->point : src->power);
    if (!in.present)
        return (struct kind_run_state){ KIND_UNKNOWN, GW_QUALITY_BAD };
    if (in.q != GW_QUALITY_GOOD)
        return (struct kind_run_state){ KIND_UNKNOWN, in.q };
    bool on = src->point ? in.v != 0.0 : in.v > src->threshold_kw;
    return (struct kind_run_state){ on ? KIND_ON : KIND_OFF, GW_QUALITY_GOOD };
}

char *kind_concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}
