#include "scheduler.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * GW_NS_PER_S + ts.tv_nsec;
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / GW_NS_PER_MS;
}

int64_t sched_first_due(int64_t interval_ns, int64_t mono_now, int64_t wall_now_ms)
{
    int64_t interval_ms = interval_ns / GW_NS_PER_MS;
    if (interval_ms <= 0)
        return mono_now;
    int64_t wait_ms = interval_ms - wall_now_ms % interval_ms;
    return mono_now + wait_ms * GW_NS_PER_MS;
}

int64_t sched_next(int64_t due, int64_t interval_ns, int64_t now, uint64_t *missed)
{
    int64_t next = due + interval_ns;
    if (next + interval_ns <= now) {
        int64_t skip = (now - next) / interval_ns;
        next += skip * interval_ns;
        *missed += (uint64_t)skip;
    }
    return next;
}

int sched_init(struct sched *s, size_t cap)
{
    s->n = 0;
    s->cap = cap;
    s->heap = calloc(cap ? cap : 1, sizeof *s->heap);
    return s->heap ? 0 : -ENOMEM;
}

static int earlier(const struct sched_entry *a, const struct sched_entry *b)
{
    return a->due < b->due || (a->due == b->due && a->index < b->index);
}

static void swap(struct sched_entry *a, struct sched_entry *b)
{
    struct sched_entry t = *a;
    *a = *b;
    *b = t;
}

void sched_push(struct sched *s, int64_t due, uint32_t index)
{
    if (s->n == s->cap)
        return;
    size_t i = s->n++;
    s->heap[i] = (struct sched_entry){ .due = due, .index = index };
    while (i > 0 && earlier(&s->heap[i], &s->heap[(i - 1) / 2])) {
        swap(&s->heap[i], &s->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

int sched_pop(struct sched *s, struct sched_entry *out)
{
    if (s->n == 0)
        return -ENOENT;
    *out = s->heap[0];
    s->heap[0] = s->heap[--s->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && earlier(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->n && earlier(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        swap(&s->heap[i], &s->heap[m]);
        i = m;
    }
    return 0;
}

const struct sched_entry *sched_peek(const struct sched *s)
{
    return s->n ? &s->heap[0] : NULL;
}

void sched_free(struct sched *s)
{
    free(s->heap);
    s->heap = NULL;
    s->n = s->cap = 0;
}
