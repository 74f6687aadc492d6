#include "runtime.h"

#include <math.h>
#include <stddef.h>

void runtime_init(struct runtime *rt, const char *hours_delta, const char *starts_delta)
{
    *rt = (struct runtime){ .hours_delta = hours_delta, .starts_delta = starts_delta };
}

static int add_hours(const struct runtime *rt, const struct gw_host *host, struct gw_sample *s)
{
    if (!rt->hours_delta)
        return 0;
    if (rt->prev.state == KIND_UNKNOWN)
        return kind_add(host, s, rt->hours_delta, "h", NAN, rt->prev.q);
    double hours = rt->prev.state == KIND_ON ? s->elapsed_s / 3600.0 : 0.0;
    return kind_add(host, s, rt->hours_delta, "h", hours, GW_QUALITY_GOOD);
}

/* Starts in the interval: 1 for off -> on, 0 otherwise, -1 unknown. */
static int count_starts(struct kind_run_state prev, struct kind_run_state now)
{
    if (prev.state == KIND_UNKNOWN || now.state == KIND_UNKNOWN)
        return -1;
    return prev.state == KIND_OFF && now.state == KIND_ON;
}

int runtime_derive(struct runtime *rt, const struct gw_host *host, struct gw_sample *s,
                   struct kind_run_state now, int *starts)
{
    int n = -1, rc = 0;
    if (rt->seen) {
        n = count_starts(rt->prev, now);
        rc = add_hours(rt, host, s);
        if (!rc && rt->starts_delta)
            rc = n < 0 ? kind_add(host, s, rt->starts_delta, "", NAN, kind_worse(rt->prev.q, now.q))
                       : kind_add(host, s, rt->starts_delta, "", n, GW_QUALITY_GOOD);
    }
    rt->seen = true;
    rt->prev = now;
    if (starts)
        *starts = n;
    return rc;
}
