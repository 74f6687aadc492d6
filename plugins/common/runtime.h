/*
 * Run hours and starts counted by the kind, for equipment that does not
 * count them itself: per interval, like counters' deltas, so that sums
 * over any period are exact and nothing needs to survive a restart.
 *
 * The state seen at a poll is taken to hold until the next poll: the
 * interval counts as run time if the equipment ran at its start, and an
 * off -> on change between two polls is one start.  An interval whose
 * state is not known gives a delta of that quality, not a guess.
 */
#ifndef GW_KIND_RUNTIME_H
#define GW_KIND_RUNTIME_H

#include <greenwatch/plugin.h>
#include <stdbool.h>
#include "kind.h"

struct runtime {
    const char *hours_delta;        /* name to add, or NULL: the device counts hours */
    const char *starts_delta;       /* name to add, or NULL: the device counts starts */
    bool seen;
    struct kind_run_state prev;
};

/* Names are static strings, or NULL for what the device counts itself. */
void runtime_init(struct runtime *rt, const char *hours_delta, const char *starts_delta);

/* Adds the interval's run hours and starts to s, given the state now.
 * *starts (may be NULL) gets the starts in the interval, or -1 when they
 * are not known.  Returns 0 or -ENOMEM. */
int runtime_derive(struct runtime *rt, const struct gw_host *host, struct gw_sample *s,
                   struct kind_run_state now, int *starts);

#endif
