/*
 * Scheduling: per-device intervals on the monotonic clock, drift-free.
 * A device's polls stay on its grid (due, due + interval, ...): a late
 * poll does not shift the next one, and a poll that overran whole slots
 * skips them (counted) instead of firing a burst of catch-up reads.
 */
#ifndef GW_SCHEDULER_H
#define GW_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#define GW_NS_PER_MS 1000000LL
#define GW_NS_PER_S 1000000000LL

int64_t clock_mono_ns(void);
int64_t clock_wall_ms(void);

/* The first due time of a device: the next multiple of interval on the
 * wall clock, so that devices with equal intervals poll together and
 * samples line up across restarts.  Returns a monotonic time. */
int64_t sched_first_due(int64_t interval_ns, int64_t mono_now, int64_t wall_now_ms);

/* The due time after the poll due at `due`, now that it is `now`: the slot
 * after due, or the slot in progress if the poll overran (then *missed is
 * increased by the slots skipped). */
int64_t sched_next(int64_t due, int64_t interval_ns, int64_t now, uint64_t *missed);

/* A min-heap of (due, index) pairs: which device of a bus is due first. */
struct sched_entry {
    int64_t due;
    uint32_t index;
};

struct sched {
    struct sched_entry *heap;
    size_t n, cap;
};

int sched_init(struct sched *s, size_t cap);       /* 0 or -ENOMEM */
void sched_push(struct sched *s, int64_t due, uint32_t index);  /* within cap */
/* The earliest entry, removed.  Returns 0, or -ENOENT if empty. */
int sched_pop(struct sched *s, struct sched_entry *out);
const struct sched_entry *sched_peek(const struct sched *s);
void sched_free(struct sched *s);

#endif
