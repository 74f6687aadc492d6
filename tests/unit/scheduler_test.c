/*
 * Scheduler tests: sched_next keeps every poll on its device's grid
 * (on time, late, overrunning whole slots, long runs of jitter),
 * sched_first_due aligns to wall-clock multiples, and the heap pops
 * entries in (due, index) order.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "scheduler.h"

#define MS GW_NS_PER_MS
#define S GW_NS_PER_S

/* A small deterministic generator, so that a failure can be replayed. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t rng_below(int64_t bound)
{
    return (int64_t)(rng_next() % (uint64_t)bound);
}

/* ---- sched_next ------------------------------------------------------- */

struct next_case {
    const char *what;
    int64_t due, interval, now;
    int64_t next;
    uint64_t missed;
};

static void test_next_table(void)
{
    const int64_t t0 = 1000 * S;  /* any monotonic origin */
    static const int64_t I = 10 * S;
    const struct next_case cases[] = {
        { "polled early (clock read before due)", t0, I, t0 - 1, t0 + I, 0 },
        { "on time", t0, I, t0, t0 + I, 0 },
        { "finished well inside the slot", t0, I, t0 + 3 * S, t0 + I, 0 },
        { "late: one ns before the next slot", t0, I, t0 + I - 1, t0 + I, 0 },
        { "finished exactly at the next slot", t0, I, t0 + I, t0 + I, 0 },
        { "inside the next slot: poll it now, nothing skipped", t0, I, t0 + I + 5 * S, t0 + I, 0 },
        { "one ns before the second slot", t0, I, t0 + 2 * I - 1, t0 + I, 0 },
        { "exactly at the second slot: the first is skipped", t0, I, t0 + 2 * I, t0 + 2 * I, 1 },
        { "overrun of 3.5 slots: the slot in progress", t0, I, t0 + 3 * I + I / 2, t0 + 3 * I, 2 },
        { "overrun of 100 slots", t0, I, t0 + 100 * I + 1, t0 + 100 * I, 99 },
        { "odd interval, overrun", 7, 333333333, 7 + 5 * 333333333LL + 12, 7 + 5 * 333333333LL, 4 },
        { "1 ns interval", 0, 1, 10, 10, 9 },
        { "negative origin", -50 * S, I, -50 * S + 4 * I, -50 * S + 4 * I, 3 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct next_case *c = &cases[i];
        uint64_t missed = 5;  /* added to, never reset */
        int64_t next = sched_next(c->due, c->interval, c->now, &missed);
        if (next != c->next || missed != 5 + c->missed)
            fprintf(stderr, "\n  case '%s': next %lld (want %lld), missed +%llu (want +%llu)\n",
                    c->what, (long long)next, (long long)c->next,
                    (unsigned long long)(missed - 5), (unsigned long long)c->missed);
        CU_ASSERT_EQUAL(next, c->next);
        CU_ASSERT_EQUAL(missed, 5 + c->missed);
    }
}

/* Every next is on the grid, after the previous due, and is either in the
 * future or the slot in progress (never a slot already over). */
static void check_step(int64_t start, int64_t interval, int64_t due, int64_t now, int64_t next,
                       uint64_t missed_before, uint64_t missed_after, uint64_t polls)
{
    CU_ASSERT_EQUAL((next - start) % interval, 0);
    CU_ASSERT(next >= due + interval);
    CU_ASSERT(next > now - interval);
    /* slots polled + slots skipped = slots elapsed */
    CU_ASSERT_EQUAL((uint64_t)((next - start) / interval), polls + missed_after);
    CU_ASSERT(missed_after >= missed_before);
}

/* A poll loop with jitter in when polls start and how long they take,
 * sometimes overrunning several slots: after 10,000 polls the due time is
 * still exactly start + k * interval, k = polls + missed. */
static void test_no_drift_under_jitter(void)
{
    static const int64_t intervals[] = { 100 * MS, 1 * S, 7 * S + 3, 333333333, 60 * S };
    for (size_t t = 0; t < sizeof intervals / sizeof *intervals; t++) {
        const int64_t interval = intervals[t];
        const int64_t start = 123456789 + (int64_t)t;
        rng_seed(0x5eed + t);
        int64_t due = start;
        uint64_t missed = 0, polls = 0, overruns = 0;
        bool step_ok = true;
        for (int k = 0; k < 10000; k++) {
            /* The loop wakes a little late (timer slack), the poll takes a
             * while; one poll in 50 hangs for up to 5 slots. */
            int64_t wake = due + rng_below(interval / 5 + 1);
            int64_t busy = rng_below(interval / 2 + 1);
            if (rng_below(50) == 0) {
                busy += interval + rng_below(4 * interval);
                overruns++;
            }
            int64_t now = wake + busy;
            uint64_t before = missed;
            polls++;
            int64_t next = sched_next(due, interval, now, &missed);
            if ((next - start) % interval != 0 || next < due + interval || next <= now - interval)
                step_ok = false;
            if (k % 1000 == 0)
                check_step(start, interval, due, now, next, before, missed, polls);
            due = next;
        }
        CU_ASSERT(step_ok);
        CU_ASSERT_EQUAL(due, start + (int64_t)(polls + missed) * interval);
        CU_ASSERT_EQUAL(polls, 10000u);
        /* The overruns really skipped slots, or the test proves little. */
        CU_ASSERT(overruns > 100);
        CU_ASSERT(missed > 0);
        CU_ASSERT(missed < 5 * overruns);
    }
}

/* Polls that are always a bit late never accumulate the lateness. */
static void test_late_polls_keep_grid(void)
{
    const int64_t interval = 1 * S, start = 5 * S;
    int64_t due = start;
    uint64_t missed = 0;
    for (int k = 1; k <= 10000; k++) {
        due = sched_next(due, interval, due + 999 * MS, &missed);
        if (due != start + k * interval) {
            CU_FAIL("late polls shifted the grid");
            break;
        }
    }
    CU_ASSERT_EQUAL(due, start + 10000 * interval);
    CU_ASSERT_EQUAL(missed, 0u);
}

/* ---- sched_first_due -------------------------------------------------- */

struct first_case {
    int64_t interval_ns, wall_ms;
    int64_t wait_ms;
};

static void test_first_due_alignment(void)
{
    const int64_t mono = 777 * S + 5;
    const struct first_case cases[] = {
        { 10 * S, 1700000000000, 10000 },        /* on a multiple: the next one, not now */
        { 10 * S, 1700000000001, 9999 },
        { 10 * S, 1700000009999, 1 },
        { 60 * S, 1700000012345, 60000 - (1700000012345 % 60000) },
        { 100 * MS, 1700000000050, 50 },
        { 1 * S, 999, 1 },
        { 1 * S, 0, 1000 },
        { 15 * 60 * S, 1700000000000, 900000 - (1700000000000 % 900000) },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct first_case *c = &cases[i];
        int64_t due = sched_first_due(c->interval_ns, mono, c->wall_ms);
        int64_t wait_ms = (due - mono) / MS;
        CU_ASSERT_EQUAL((due - mono) % MS, 0);
        CU_ASSERT_EQUAL(wait_ms, c->wait_ms);
        /* the wall-clock time of the first poll is a multiple of interval */
        CU_ASSERT_EQUAL((c->wall_ms + wait_ms) % (c->interval_ns / MS), 0);
        CU_ASSERT(wait_ms > 0 && wait_ms <= c->interval_ns / MS);
    }
    /* Two devices with the same interval, set up a few ms apart, land on
     * the same wall-clock instant. */
    int64_t a = sched_first_due(5 * S, mono, 1700000001200);
    int64_t b = sched_first_due(5 * S, mono + 3 * MS, 1700000001203);
    CU_ASSERT_EQUAL(a, b);
    /* Below a millisecond there is nothing to align to: due now. */
    CU_ASSERT_EQUAL(sched_first_due(500000, mono, 1700000000123), mono);
}

/* ---- the heap --------------------------------------------------------- */

static int entry_cmp(const void *pa, const void *pb)
{
    const struct sched_entry *a = pa, *b = pb;
    if (a->due != b->due)
        return a->due < b->due ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static void test_heap_equal_due(void)
{
    struct sched s;
    CU_ASSERT_EQUAL_FATAL(sched_init(&s, 8), 0);
    CU_ASSERT_PTR_NULL(sched_peek(&s));
    static const uint32_t pushed[] = { 5, 2, 7, 0, 3 };
    for (size_t i = 0; i < 5; i++)
        sched_push(&s, 100, pushed[i]);
    sched_push(&s, 99, 6);
    sched_push(&s, 101, 1);
    static const struct sched_entry want[] = {
        { 99, 6 }, { 100, 0 }, { 100, 2 }, { 100, 3 }, { 100, 5 }, { 100, 7 }, { 101, 1 },
    };
    CU_ASSERT_EQUAL(s.n, 7u);
    for (size_t i = 0; i < 7; i++) {
        struct sched_entry e = { -1, 999 };
        CU_ASSERT_PTR_NOT_NULL_FATAL(sched_peek(&s));
        CU_ASSERT_EQUAL(sched_peek(&s)->due, want[i].due);
        CU_ASSERT_EQUAL(sched_peek(&s)->index, want[i].index);
        CU_ASSERT_EQUAL(sched_pop(&s, &e), 0);
        CU_ASSERT_EQUAL(e.due, want[i].due);
        CU_ASSERT_EQUAL(e.index, want[i].index);
    }
    struct sched_entry untouched = { 42, 42 };
    CU_ASSERT_EQUAL(sched_pop(&s, &untouched), -ENOENT);
    CU_ASSERT_EQUAL(untouched.due, 42);
    CU_ASSERT_PTR_NULL(sched_peek(&s));
    sched_free(&s);
    CU_ASSERT_PTR_NULL(s.heap);
    CU_ASSERT_EQUAL(s.cap, 0u);
}

/* Pushing beyond the capacity is refused, not an overflow. */
static void test_heap_capacity(void)
{
    struct sched s;
    CU_ASSERT_EQUAL_FATAL(sched_init(&s, 3), 0);
    sched_push(&s, 30, 0);
    sched_push(&s, 20, 1);
    sched_push(&s, 10, 2);
    sched_push(&s, 5, 3);
    CU_ASSERT_EQUAL(s.n, 3u);
    CU_ASSERT_EQUAL(sched_peek(&s)->index, 2u);
    sched_free(&s);

    CU_ASSERT_EQUAL_FATAL(sched_init(&s, 0), 0);
    sched_push(&s, 1, 0);
    CU_ASSERT_EQUAL(s.n, 0u);
    CU_ASSERT_PTR_NULL(sched_peek(&s));
    sched_free(&s);
}

/* Random heaps of up to 2,000 entries, with many equal due times, pop in
 * exactly the order a sort by (due, index) gives. */
static void test_heap_random_against_sort(void)
{
    enum { ROUNDS = 200, MAX_N = 2000 };
    struct sched_entry *want = malloc(MAX_N * sizeof *want);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    rng_seed(20240601);
    bool all_equal = true;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + (size_t)rng_below(round < 10 ? 16 : MAX_N);
        int64_t spread = 1 + rng_below(round % 3 == 0 ? 4 : 1000000);  /* few distinct values or many */
        struct sched s;
        CU_ASSERT_EQUAL_FATAL(sched_init(&s, n), 0);
        for (size_t i = 0; i < n; i++) {
            want[i] = (struct sched_entry){ .due = 1000 + rng_below(spread), .index = (uint32_t)i };
            sched_push(&s, want[i].due, want[i].index);
        }
        qsort(want, n, sizeof *want, entry_cmp);
        for (size_t i = 0; i < n; i++) {
            struct sched_entry e;
            if (sched_pop(&s, &e) != 0 || e.due != want[i].due || e.index != want[i].index) {
                all_equal = false;
                break;
            }
        }
        CU_ASSERT_EQUAL(s.n, 0u);
        sched_free(&s);
    }
    CU_ASSERT(all_equal);
    free(want);
}

/* The bus loop's use: pop the earliest, push it back at its next due.
 * Against a reference that scans for the minimum each time. */
static void test_heap_as_bus_loop(void)
{
    enum { DEVICES = 300, STEPS = 20000 };
    struct sched s;
    int64_t due[DEVICES], interval[DEVICES];
    CU_ASSERT_EQUAL_FATAL(sched_init(&s, DEVICES), 0);
    rng_seed(77);
    for (uint32_t i = 0; i < DEVICES; i++) {
        interval[i] = (1 + rng_below(5)) * S;  /* many devices share intervals */
        due[i] = sched_first_due(interval[i], 0, 1700000000000 + rng_below(3));
        sched_push(&s, due[i], i);
    }
    bool same = true;
    int64_t last = INT64_MIN;
    for (int step = 0; step < STEPS && same; step++) {
        uint32_t best = 0;
        for (uint32_t i = 1; i < DEVICES; i++)
            if (due[i] < due[best])
                best = i;
        struct sched_entry e;
        CU_ASSERT_EQUAL_FATAL(sched_pop(&s, &e), 0);
        same = e.index == best && e.due == due[best] && e.due >= last;
        last = e.due;
        uint64_t missed = 0;
        due[best] = sched_next(due[best], interval[best], e.due + rng_below(interval[best] / 4), &missed);
        sched_push(&s, due[best], best);
    }
    CU_ASSERT(same);
    CU_ASSERT_EQUAL(s.n, (size_t)DEVICES);
    sched_free(&s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("scheduler", NULL, NULL);
    if (!suite ||
        !CU_add_test(suite, "sched_next: on time, late, overrun", test_next_table) ||
        !CU_add_test(suite, "sched_next: late polls keep the grid", test_late_polls_keep_grid) ||
        !CU_add_test(suite, "sched_next: 10,000 jittered polls do not drift", test_no_drift_under_jitter) ||
        !CU_add_test(suite, "sched_first_due: wall-clock multiples", test_first_due_alignment) ||
        !CU_add_test(suite, "heap: equal due times by index", test_heap_equal_due) ||
        !CU_add_test(suite, "heap: capacity", test_heap_capacity) ||
        !CU_add_test(suite, "heap: random entries against a sort", test_heap_random_against_sort) ||
        !CU_add_test(suite, "heap: pop and push back like a bus", test_heap_as_bus_loop)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
