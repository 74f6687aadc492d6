/*
 * Spool tests: records come back in order, once committed they stay
 * delivered across a reopen, uncommitted ones come back after a rewind or
 * a reopen; an appender and a reader running at once; segments roll and
 * are deleted once delivered; the budget drops the oldest with an exact
 * count; torn tails, garbage and flipped bytes are detected, counted and
 * skipped, and appends go on; a damaged or missing cursor; records
 * acknowledged before a SIGKILL are there after it; reads time out and
 * spool_wake ends them; random damage never crashes or hangs recovery.
 *
 * Seeds: GW_TEST_SEED=<n> replays a run (the seed is printed).
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "harness.h"
#include "log.h"
#include "spool.h"

#define PATH_SIZE 512
#define REC_MAX 80

/* ---- a small deterministic generator ---------------------------------- */

static uint64_t seed;

static uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static uint64_t rng_below(uint64_t *state, uint64_t bound)
{
    return rng_next(state) % bound;
}

/* ---- records: an 8-byte id, then bytes derived from it ---------------- */

static size_t rec_len(uint64_t id)
{
    return 8 + (size_t)((id * 2654435761u) % 57);
}

static size_t rec_make(unsigned char *buf, uint64_t id)
{
    size_t len = rec_len(id);
    memcpy(buf, &id, 8);
    for (size_t i = 8; i < len; i++)
        buf[i] = (unsigned char)(id * 31 + i);
    return len;
}

/* Whether r is a well-formed record; its id in *id. */
static bool rec_check(const struct gw_spool_record *r, uint64_t *id)
{
    if (r->len < 8)
        return false;
    memcpy(id, r->data, 8);
    if (r->len != rec_len(*id))
        return false;
    const unsigned char *p = r->data;
    for (size_t i = 8; i < r->len; i++)
        if (p[i] != (unsigned char)(*id * 31 + i))
            return false;
    return true;
}

static int append_id(struct gw_spool *s, uint64_t id)
{
    unsigned char buf[REC_MAX];
    return spool_append(s, buf, rec_make(buf, id));
}

static void append_ids(struct gw_spool *s, uint64_t from, uint64_t to)
{
    int failures = 0;
    for (uint64_t id = from; id < to; id++)
        failures += append_id(s, id) != 0;
    CU_ASSERT_EQUAL(failures, 0);
}

/*
 * Reads everything there is (no waiting), committing each batch if asked.
 * Stores up to cap ids; returns how many records were read, or -1 if one
 * was malformed.
 */
static long read_all(struct gw_spool *s, uint64_t *ids, size_t cap, bool commit)
{
    long n = 0;
    for (;;) {
        struct gw_spool_batch b;
        int rc = spool_read(s, 64, 4096, 0, &b);
        if (rc <= 0)
            return rc < 0 ? -1 : n;
        for (size_t i = 0; i < b.n; i++) {
            uint64_t id;
            if (!rec_check(&b.records[i], &id)) {
                spool_batch_free(&b);
                return -1;
            }
            if ((size_t)n < cap)
                ids[n] = id;
            n++;
        }
        if (commit)
            CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
        spool_batch_free(&b);
    }
}

/* Whether ids[0..n) are from, from + 1, ... */
static bool ids_run(const uint64_t *ids, long n, uint64_t from)
{
    for (long i = 0; i < n; i++)
        if (ids[i] != from + (uint64_t)i) {
            fprintf(stderr, "\n  record %ld: id %" PRIu64 ", expected %" PRIu64 "\n", i, ids[i],
                    from + (uint64_t)i);
            return false;
        }
    return true;
}

/* ---- spools and their files ------------------------------------------- */

static struct gw_spool *open_spool(const char *dir, uint64_t max_bytes, uint32_t segment_bytes,
                                   int fsync_ms)
{
    struct gw_spool_options o = { max_bytes, segment_bytes, fsync_ms };
    struct gw_spool *s = NULL;
    int rc = spool_open(dir, &o, &s);
    if (rc)
        fprintf(stderr, "\n  spool_open(%s): %s\n", dir, strerror(-rc));
    return s;
}

/* path = dir/name (a fatal failure if it does not fit). */
static void join_path(char *path, const char *dir, const char *name)
{
    int n = snprintf(path, PATH_SIZE, "%s/%s", dir, name);
    CU_ASSERT_FATAL(n > 0 && n < PATH_SIZE);
}

static void new_dir(char *dir)
{
    CU_ASSERT_EQUAL_FATAL(make_temp_dir(dir, PATH_SIZE), 0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The segments' first sequence numbers, sorted; returns their number. */
static size_t list_segments(const char *dir, uint64_t *firsts, size_t cap)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        unsigned long long v;
        char tail[8];
        if (strlen(de->d_name) == 20 && sscanf(de->d_name, "%16llx%7s", &v, tail) == 2 &&
            strcmp(tail, ".seg") == 0 && n < cap)
            firsts[n++] = v;
    }
    closedir(d);
    qsort(firsts, n, sizeof *firsts, cmp_u64);
    return n;
}

static size_t count_segments(const char *dir)
{
    uint64_t firsts[4096];
    return list_segments(dir, firsts, 4096);
}

static void seg_path(char *path, const char *dir, uint64_t first)
{
    if (snprintf(path, PATH_SIZE, "%s/%016" PRIx64 ".seg", dir, first) >= PATH_SIZE)
        abort();  /* test directories are short */
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void file_append(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void file_put(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void file_flip(const char *path, long long off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(pread(fd, &c, 1, off), 1);
    c ^= 0x40;
    CU_ASSERT_EQUAL(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* Offset of record k (0-based) in a segment of records made by rec_make
 * with ids first, first + 1, ... */
static long long record_offset(uint64_t first, uint64_t k)
{
    long long off = 0;
    for (uint64_t i = 0; i < k; i++)
        off += 8 + (long long)rec_len(first + i);
    return off;
}

static long long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000LL + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- crc32c ----------------------------------------------------------- */

static void test_crc32c(void)
{
    static const struct {
        const char *data;
        size_t len;
        uint32_t crc;
    } known[] = {
        { "", 0, 0x00000000 },
        { "a", 1, 0xc1d04330 },
        { "123456789", 9, 0xe3069283 },
        { "The quick brown fox jumps over the lazy dog", 43, 0x22620404 },
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        CU_ASSERT_EQUAL(crc32c(0, known[i].data, known[i].len), known[i].crc);
        CU_ASSERT_EQUAL(crc32c_portable(0, known[i].data, known[i].len), known[i].crc);
    }
    unsigned char zeros[32] = { 0 }, ones[32];
    memset(ones, 0xff, sizeof ones);
    CU_ASSERT_EQUAL(crc32c(0, zeros, 32), 0x8a9136aau);     /* RFC 3720 B.4 */
    CU_ASSERT_EQUAL(crc32c(0, ones, 32), 0x62a8ab43u);

    /* any length and alignment, continued in pieces: the same as in one go */
    unsigned char buf[1100];
    uint64_t st = seed;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)rng_next(&st);
    bool same = true;
    for (int t = 0; t < 2000; t++) {
        size_t off = rng_below(&st, 64), len = rng_below(&st, sizeof buf - 64);
        size_t cut = len ? rng_below(&st, len) : 0;
        uint32_t whole = crc32c_portable(0, buf + off, len);
        same &= crc32c(0, buf + off, len) == whole;
        same &= crc32c(crc32c(0, buf + off, cut), buf + off + cut, len - cut) == whole;
        same &= crc32c_portable(crc32c_portable(0, buf + off, cut), buf + off + cut, len - cut) ==
                whole;
    }
    CU_ASSERT(same);
}

/* ---- order, commit, reopen, rewind ------------------------------------ */

static void test_bad_arguments(void)
{
    char dir[PATH_SIZE];
    struct gw_spool *s = NULL, *t = NULL;
    struct gw_spool_batch b;
    unsigned char big[16];
    new_dir(dir);
    struct gw_spool_options small = { 1000, 600, 0 }, zero = { 1000, 0, 0 }, neg = { 4096, 1024, -1 };
    CU_ASSERT_EQUAL(spool_open(dir, &small, &s), -EINVAL);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(spool_open(dir, &zero, &s), -EINVAL);
    CU_ASSERT_EQUAL(spool_open(dir, &neg, &s), -EINVAL);
    CU_ASSERT_EQUAL(spool_open(NULL, NULL, &s), -EINVAL);
    CU_ASSERT_EQUAL(spool_open(dir, NULL, NULL), -EINVAL);

    CU_ASSERT_EQUAL_FATAL(spool_open(dir, NULL, &s), 0);
    CU_ASSERT_EQUAL(spool_open(dir, NULL, &t), -EBUSY);     /* one spool per directory */
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_EQUAL(spool_append(s, big, 0), -EINVAL);
    CU_ASSERT_EQUAL(spool_append(s, NULL, 4), -EINVAL);
    CU_ASSERT_EQUAL(spool_append(s, big, GW_SPOOL_MAX_RECORD + 1), -EINVAL);
    CU_ASSERT_EQUAL(spool_append(NULL, big, 4), -EINVAL);
    CU_ASSERT_EQUAL(spool_read(s, 0, 100, 0, &b), -EINVAL);
    CU_ASSERT_EQUAL(b.n, 0u);
    CU_ASSERT_PTR_NULL(b.buffer);
    CU_ASSERT_EQUAL(spool_read(s, 10, 100, 0, NULL), -EINVAL);
    CU_ASSERT_EQUAL(spool_commit(s, NULL), -EINVAL);
    CU_ASSERT_EQUAL(spool_commit(s, &b), 0);                 /* an empty batch: nothing */
    spool_batch_free(NULL);
    spool_close(NULL);
    spool_close(s);
    CU_ASSERT_EQUAL(spool_open(dir, NULL, &t), 0);           /* free again after close */
    spool_close(t);
}

static void test_order_and_limits(void)
{
    char dir[PATH_SIZE];
    new_dir(dir);
    struct gw_spool *s = open_spool(dir, 1 << 20, 4096, 50);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    append_ids(s, 0, 1000);

    /* batches of at most 7 records, in order */
    uint64_t next = 0;
    size_t batches = 0;
    bool in_order = true, within = true;
    struct gw_spool_batch b;
    while (spool_read(s, 7, 1 << 20, 0, &b) > 0) {
        within &= b.n >= 1 && b.n <= 7;
        for (size_t i = 0; i < b.n; i++) {
            uint64_t id;
            in_order &= rec_check(&b.records[i], &id) && id == next++;
        }
        CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
        spool_batch_free(&b);
        batches++;
    }
    CU_ASSERT(in_order);
    CU_ASSERT(within);
    CU_ASSERT_EQUAL(next, 1000u);
    CU_ASSERT(batches >= 1000 / 7);

    /* max_bytes: payloads add up to at most it, but one record always comes */
    append_ids(s, 1000, 1100);
    size_t payload = 0, got = 0;
    within = in_order = true;
    while (spool_read(s, 1000, 200, 0, &b) > 0) {
        size_t sum = 0;
        for (size_t i = 0; i < b.n; i++) {
            uint64_t id;
            in_order &= rec_check(&b.records[i], &id) && id == next++;
            sum += b.records[i].len;
        }
        within &= sum <= 200;
        payload += sum;
        got += b.n;
        CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
        spool_batch_free(&b);
    }
    CU_ASSERT(in_order);
    CU_ASSERT(within);
    CU_ASSERT_EQUAL(got, 100u);
    CU_ASSERT_EQUAL_FATAL(append_id(s, 1100), 0);
    CU_ASSERT_EQUAL(spool_read(s, 10, 1, 0, &b), 1);
    CU_ASSERT_EQUAL(b.records[0].len, rec_len(1100));
    spool_batch_free(&b);

    struct gw_spool_stats st;
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.appended, 1101u);
    CU_ASSERT_EQUAL(st.delivered, 1100u);
    CU_ASSERT_EQUAL(st.depth_records, 1u);
    CU_ASSERT_EQUAL(st.depth_bytes, 8 + rec_len(1100));
    CU_ASSERT_EQUAL(st.dropped, 0u);
    CU_ASSERT_EQUAL(st.corrupt, 0u);
    spool_close(s);
}

static void test_large_records(void)
{
    char dir[PATH_SIZE];
    new_dir(dir);
    struct gw_spool *s = open_spool(dir, 64u << 20, 1u << 20, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const size_t sizes[] = { GW_SPOOL_MAX_RECORD, 3u << 20, 1, (1u << 20) + 3 };
    const size_t n = sizeof sizes / sizeof *sizes;
    unsigned char *buf = malloc(GW_SPOOL_MAX_RECORD);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    for (size_t i = 0; i < n; i++) {
        memset(buf, (int)('a' + i), sizes[i]);
        CU_ASSERT_EQUAL(spool_append(s, buf, sizes[i]), 0);
    }
    spool_close(s);
    /* reopened: checked across the recovery scan's read pieces */
    s = open_spool(dir, 64u << 20, 1u << 20, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct gw_spool_stats st;
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.corrupt, 0u);
    CU_ASSERT_EQUAL(st.depth_records, n);
    size_t seen = 0;
    struct gw_spool_batch b;
    while (seen < n && spool_read(s, 100, 1000, 0, &b) > 0) {
        for (size_t i = 0; i < b.n && seen < n; i++, seen++) {
            const unsigned char *p = b.records[i].data;
            CU_ASSERT_EQUAL(b.records[i].len, sizes[seen]);
            CU_ASSERT((size_t)p[0] == 'a' + seen && (size_t)p[b.records[i].len - 1] == 'a' + seen);
        }
        CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
        spool_batch_free(&b);
    }
    CU_ASSERT_EQUAL(seen, n);
    free(buf);
    spool_close(s);
}

static void test_reopen_replays_from_committed(void)
{
    char dir[PATH_SIZE];
    uint64_t ids[64];
    struct gw_spool_batch b;
    new_dir(dir);
    for (int fsync_ms = 0; fsync_ms <= 100; fsync_ms += 100) {
        char sub[PATH_SIZE];
        join_path(sub, dir, fsync_ms ? "fsync-100" : "fsync-0");
        struct gw_spool *s = open_spool(sub, 1 << 20, 4096, fsync_ms);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        append_ids(s, 0, 10);
        CU_ASSERT_EQUAL(spool_read(s, 4, 4096, 0, &b), 4);
        CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
        spool_batch_free(&b);
        spool_close(s);

        s = open_spool(sub, 1 << 20, 4096, fsync_ms);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        struct gw_spool_stats st;
        spool_stats(s, &st);
        CU_ASSERT_EQUAL(st.depth_records, 6u);
        CU_ASSERT_EQUAL(st.appended, 0u);
        long n = read_all(s, ids, 64, true);
        CU_ASSERT_EQUAL(n, 6);
        CU_ASSERT(ids_run(ids, n, 4));
        /* appends go on after the replayed records, numbered after them */
        append_ids(s, 10, 12);
        n = read_all(s, ids, 64, true);
        CU_ASSERT_EQUAL(n, 2);
        CU_ASSERT(ids_run(ids, n, 10));
        spool_close(s);

        s = open_spool(sub, 1 << 20, 4096, fsync_ms);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_EQUAL(read_all(s, ids, 64, true), 0);
        spool_close(s);
    }
}

static void test_rewind_and_uncommitted(void)
{
    char dir[PATH_SIZE];
    uint64_t ids[64];
    struct gw_spool_batch b1, b2, b3, b4;
    new_dir(dir);
    struct gw_spool *s = open_spool(dir, 1 << 20, 4096, 20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    append_ids(s, 0, 10);

    /* two batches outstanding; the first is delivered, the second fails */
    CU_ASSERT_EQUAL_FATAL(spool_read(s, 3, 4096, 0, &b1), 3);
    CU_ASSERT_EQUAL_FATAL(spool_read(s, 3, 4096, 0, &b2), 3);
    uint64_t id;
    CU_ASSERT(rec_check(&b2.records[0], &id) && id == 3);
    CU_ASSERT_EQUAL(spool_commit(s, &b1), 0);
    spool_rewind(s);
    CU_ASSERT_EQUAL_FATAL(spool_read(s, 3, 4096, 0, &b3), 3);
    CU_ASSERT(rec_check(&b3.records[0], &id) && id == 3);
    /* the old batch stays readable after the rewind */
    CU_ASSERT(rec_check(&b2.records[2], &id) && id == 5);
    CU_ASSERT_EQUAL(spool_commit(s, &b1), 0);                /* again: nothing */
    struct gw_spool_stats st;
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.delivered, 3u);
    CU_ASSERT_EQUAL(st.depth_records, 7u);

    /* rewind once more, then commit the batch read before it: the reader
     * moves past it, and each record is counted delivered once */
    spool_rewind(s);
    CU_ASSERT_EQUAL(spool_commit(s, &b2), 0);
    CU_ASSERT_EQUAL_FATAL(spool_read(s, 2, 4096, 0, &b4), 2);
    CU_ASSERT(rec_check(&b4.records[0], &id) && id == 6);
    CU_ASSERT_EQUAL(spool_commit(s, &b3), 0);                /* already covered */
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.delivered, 6u);
    spool_batch_free(&b1);
    spool_batch_free(&b2);
    spool_batch_free(&b3);
    spool_batch_free(&b4);
    CU_ASSERT_PTR_NULL(b4.buffer);

    /* b4 (ids 6, 7) was never committed: after a reopen it comes again */
    spool_close(s);
    s = open_spool(dir, 1 << 20, 4096, 20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    long n = read_all(s, ids, 64, false);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT(ids_run(ids, n, 6));
    spool_rewind(s);
    n = read_all(s, ids, 64, true);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT(ids_run(ids, n, 6));
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.delivered, 4u);
    CU_ASSERT_EQUAL(st.depth_records, 0u);
    spool_close(s);
}

/* ---- an appender and a reader at once --------------------------------- */

#define CONCURRENT_RECORDS 100000u

struct concurrent {
    struct gw_spool *s;
    uint64_t rng;
    uint64_t delivered;      /* next id expected to be committed */
    int append_failures;
    char error[160];
};

static void *appender_main(void *arg)
{
    struct concurrent *c = arg;
    for (uint64_t id = 0; id < CONCURRENT_RECORDS; id++)
        c->append_failures += append_id(c->s, id) != 0;
    return NULL;
}

/* Reads ahead up to four batches, commits most, and now and then fails a
 * delivery (rewind): every id must be delivered once, in order. */
static void *reader_main(void *arg)
{
    struct concurrent *c = arg;
    struct gw_spool_batch q[4];
    size_t head = 0, count = 0;
    uint64_t next_read = 0;
    int idle = 0;
    while (c->delivered < CONCURRENT_RECORDS && !c->error[0]) {
        struct gw_spool_batch *b = &q[(head + count) % 4];
        int rc = spool_read(c->s, 1 + rng_below(&c->rng, 300), 64 + rng_below(&c->rng, 8192), 100,
                            b);
        if (rc < 0) {
            snprintf(c->error, sizeof c->error, "spool_read: %s", strerror(-rc));
            break;
        }
        if (rc == 0) {
            if (count > 0) {                  /* idle: deliver what is out */
                if (spool_commit(c->s, &q[(head + count - 1) % 4]) != 0)
                    snprintf(c->error, sizeof c->error, "spool_commit failed");
                c->delivered = next_read;
                while (count > 0) {
                    spool_batch_free(&q[head]);
                    head = (head + 1) % 4;
                    count--;
                }
            } else if (++idle > 300) {
                snprintf(c->error, sizeof c->error, "nothing to read for 30 s at %" PRIu64,
                         next_read);
            }
            continue;
        }
        idle = 0;
        for (size_t i = 0; i < b->n; i++) {
            uint64_t id = 0;  /* printed even when rec_check fails */
            if (!rec_check(&b->records[i], &id) || id != next_read) {
                snprintf(c->error, sizeof c->error, "read id %" PRIu64 " where %" PRIu64
                         " was expected", id, next_read);
                break;
            }
            next_read++;
        }
        count++;
        uint64_t r = rng_below(&c->rng, 100);
        if (count == 4 || r < 50) {
            /* the batch's end: next_read at the time it was read */
            uint64_t end;
            const struct gw_spool_record *last = &q[head].records[q[head].n - 1];
            memcpy(&end, last->data, 8);
            if (spool_commit(c->s, &q[head]) != 0)
                snprintf(c->error, sizeof c->error, "spool_commit failed");
            c->delivered = end + 1;
            spool_batch_free(&q[head]);
            head = (head + 1) % 4;
            count--;
        }
        if (r >= 97) {                        /* the delivery failed */
            spool_rewind(c->s);
            next_read = c->delivered;
            while (count > 0) {
                spool_batch_free(&q[head]);
                head = (head + 1) % 4;
                count--;
            }
        }
    }
    while (count > 0) {
        spool_batch_free(&q[head]);
        head = (head + 1) % 4;
        count--;
    }
    return NULL;
}

static void test_concurrent_appender_and_reader(void)
{
    char dir[PATH_SIZE];
    new_dir(dir);
    struct concurrent c = { .rng = seed ^ 0x5bd1e995 };
    c.s = open_spool(dir, 256u << 20, 64u << 10, 20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.s);
    pthread_t a, r;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&r, NULL, reader_main, &c), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&a, NULL, appender_main, &c), 0);
    pthread_join(a, NULL);
    pthread_join(r, NULL);
    if (c.error[0])
        fprintf(stderr, "\n  reader: %s\n", c.error);
    CU_ASSERT_STRING_EQUAL(c.error, "");
    CU_ASSERT_EQUAL(c.append_failures, 0);
    CU_ASSERT_EQUAL(c.delivered, CONCURRENT_RECORDS);
    struct gw_spool_stats st;
    spool_stats(c.s, &st);
    CU_ASSERT_EQUAL(st.appended, CONCURRENT_RECORDS);
    CU_ASSERT_EQUAL(st.delivered, CONCURRENT_RECORDS);
    CU_ASSERT_EQUAL(st.depth_records, 0u);
    CU_ASSERT_EQUAL(st.depth_bytes, 0u);
    CU_ASSERT_EQUAL(st.dropped, 0u);
    CU_ASSERT_EQUAL(st.corrupt, 0u);
    CU_ASSERT_EQUAL(spool_sync(c.s), 0);
    CU_ASSERT_EQUAL(count_segments(dir), 1u);    /* delivered segments are gone */
    spool_close(c.s);
}

/* The same, with a budget so small that segments are dropped while the
 * reader reads ahead and rewinds: what it gets committed is in order and
 * never twice, and every record is delivered, dropped or still waiting. */
#define DROP_RECORDS 50000u

struct dropping {
    struct gw_spool *s;
    uint64_t rng;
    volatile int appender_done;
    uint64_t committed_ids;          /* records in batches the reader committed */
    int append_failures;
    char error[160];
};

static void *drop_appender_main(void *arg)
{
    struct dropping *d = arg;
    for (uint64_t id = 0; id < DROP_RECORDS; id++)
        d->append_failures += append_id(d->s, id) != 0;
    __atomic_store_n(&d->appender_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *drop_reader_main(void *arg)
{
    struct dropping *d = arg;
    int64_t last_committed = -1, last_read = -1;
    for (unsigned k = 0; !d->error[0]; k++) {
        struct gw_spool_batch b;
        int done = __atomic_load_n(&d->appender_done, __ATOMIC_ACQUIRE);
        int rc = spool_read(d->s, 1 + rng_below(&d->rng, 200), 4096, 50, &b);
        if (rc < 0) {
            snprintf(d->error, sizeof d->error, "spool_read: %s", strerror(-rc));
            break;
        }
        if (rc == 0) {
            if (done)
                break;
            continue;
        }
        for (size_t i = 0; i < b.n; i++) {
            uint64_t id = 0;  /* printed even when rec_check fails */
            if (!rec_check(&b.records[i], &id) || (int64_t)id <= last_read) {
                snprintf(d->error, sizeof d->error, "read id %" PRIu64 " after %" PRId64, id,
                         last_read);
                break;
            }
            last_read = (int64_t)id;
        }
        if (rng_below(&d->rng, 10) == 0) {
            spool_rewind(d->s);
            last_read = last_committed;
        } else if (!d->error[0]) {
            if (spool_commit(d->s, &b) != 0)
                snprintf(d->error, sizeof d->error, "spool_commit failed");
            d->committed_ids += b.n;
            last_committed = last_read;
        }
        spool_batch_free(&b);
        if (k % 32 == 0) {                   /* fall behind the budget now and then */
            struct timespec pause = { 0, 20 * 1000000L };
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

static void test_concurrent_with_drops(void)
{
    char dir[PATH_SIZE];
    new_dir(dir);
    struct dropping d = { .rng = seed ^ 0x77 };
    d.s = open_spool(dir, 64u << 10, 8u << 10, 20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.s);
    enum gw_log_level level = log_get_level();
    log_set_level(GW_LOG_ERROR);                       /* every drop warns */
    pthread_t a, r;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&r, NULL, drop_reader_main, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&a, NULL, drop_appender_main, &d), 0);
    pthread_join(a, NULL);
    pthread_join(r, NULL);
    log_set_level(level);
    if (d.error[0])
        fprintf(stderr, "\n  reader: %s\n", d.error);
    CU_ASSERT_STRING_EQUAL(d.error, "");
    CU_ASSERT_EQUAL(d.append_failures, 0);
    struct gw_spool_stats st;
    spool_stats(d.s, &st);
    CU_ASSERT_EQUAL(st.appended, DROP_RECORDS);
    CU_ASSERT(st.dropped > 0);
    CU_ASSERT_EQUAL(st.depth_records, 0u);
    CU_ASSERT_EQUAL(st.delivered + st.dropped, DROP_RECORDS);
    /* a batch whose segment is dropped before its commit counts as dropped */
    CU_ASSERT(d.committed_ids >= st.delivered);
    CU_ASSERT(DROP_RECORDS - d.committed_ids <= st.dropped);
    spool_close(d.s);
}

/* ---- segments: rolling, deletion, budget ------------------------------- */

static void test_segments_roll_and_delivered_are_deleted(void)
{
    char dir[PATH_SIZE];
    uint64_t ids[512];
    new_dir(dir);
    for (int fsync_ms = 0; fsync_ms <= 100; fsync_ms += 100) {
        char sub[PATH_SIZE];
        join_path(sub, dir, fsync_ms ? "fsync-100" : "fsync-0");
        struct gw_spool *s = open_spool(sub, 1 << 20, 1024, fsync_ms);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        append_ids(s, 0, 300);
        uint64_t firsts[64];
        size_t nseg = list_segments(sub, firsts, 64);
        CU_ASSERT(nseg >= 10);
        /* each segment closed at the first record that took it to 1024 bytes */
        bool sizes_ok = true;
        for (size_t i = 0; i + 1 < nseg; i++) {
            char path[PATH_SIZE];
            seg_path(path, sub, firsts[i]);
            long long size = file_size(path);
            long long last_rec = 8 + (long long)rec_len(firsts[i + 1] - 1);
            sizes_ok &= size >= 1024 && size - last_rec < 1024;
            sizes_ok &= size == record_offset(firsts[i], firsts[i + 1] - firsts[i]);
        }
        CU_ASSERT(sizes_ok);
        CU_ASSERT_EQUAL(firsts[0], 0u);

        /* deliver half: the segments wholly before the cursor go */
        struct gw_spool_batch b;
        uint64_t done = 0;
        while (done < 150) {
            int n = spool_read(s, 150 - done, 1 << 20, 0, &b);
            CU_ASSERT_FATAL(n > 0);
            done += (uint64_t)n;
            CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
            spool_batch_free(&b);
        }
        CU_ASSERT_EQUAL(spool_sync(s), 0);
        size_t kept = list_segments(sub, firsts, 64);
        CU_ASSERT(kept < nseg);
        CU_ASSERT(firsts[0] <= 150 && (kept == 1 || firsts[1] > 150));
        long n = read_all(s, ids, 512, true);
        CU_ASSERT_EQUAL(n, 150);
        CU_ASSERT(ids_run(ids, n, 150));
        CU_ASSERT_EQUAL(spool_sync(s), 0);
        CU_ASSERT_EQUAL(count_segments(sub), 1u);   /* the one being written stays */
        spool_close(s);

        s = open_spool(sub, 1 << 20, 1024, fsync_ms);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_EQUAL(read_all(s, ids, 512, true), 0);
        append_ids(s, 300, 301);
        n = read_all(s, ids, 512, true);
        CU_ASSERT_EQUAL(n, 1);
        CU_ASSERT_EQUAL(ids[0], 300u);
        spool_close(s);
    }
}

/* The budget as the spool applies it, for records of one size. */
struct budget_model {
    uint64_t seg_bytes[64], seg_recs[64], seg_first[64];
    size_t nsegs;
    uint64_t total, dropped, next;
};

static void model_append(struct budget_model *m, uint64_t rec, uint64_t segment_bytes,
                         uint64_t max_bytes, uint64_t committed)
{
    if (m->nsegs == 0 || m->seg_bytes[m->nsegs - 1] >= segment_bytes) {
        m->seg_bytes[m->nsegs] = m->seg_recs[m->nsegs] = 0;
        m->seg_first[m->nsegs++] = m->next;
    }
    while (m->nsegs > 1 && m->total + rec > max_bytes) {
        uint64_t first = m->seg_first[0], end = first + m->seg_recs[0];
        m->dropped += end > committed ? end - (first > committed ? first : committed) : 0;
        m->total -= m->seg_bytes[0];
        memmove(m->seg_bytes, m->seg_bytes + 1, (m->nsegs - 1) * sizeof *m->seg_bytes);
        memmove(m->seg_recs, m->seg_recs + 1, (m->nsegs - 1) * sizeof *m->seg_recs);
        memmove(m->seg_first, m->seg_first + 1, (m->nsegs - 1) * sizeof *m->seg_first);
        m->nsegs--;
    }
    m->seg_bytes[m->nsegs - 1] += rec;
    m->seg_recs[m->nsegs - 1]++;
    m->total += rec;
    m->next++;
}

/* Reads and commits all there is of 100-byte records; -1 if one is not. */
static long read_fixed(struct gw_spool *s, uint64_t *ids, size_t cap)
{
    long n = 0;
    struct gw_spool_batch b;
    while (spool_read(s, 1000, 1 << 20, 0, &b) > 0) {
        for (size_t i = 0; i < b.n; i++, n++) {
            if (b.records[i].len != 100) {
                spool_batch_free(&b);
                return -1;
            }
            if ((size_t)n < cap)
                memcpy(&ids[n], b.records[i].data, 8);
        }
        CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
        spool_batch_free(&b);
    }
    return n;
}

static void test_budget_drops_oldest(void)
{
    char dir[PATH_SIZE];
    uint64_t ids[1024];
    unsigned char buf[100];
    const uint64_t seg = 1000, max = 3000, rec = 8 + sizeof buf;
    new_dir(dir);
    struct gw_spool *s = open_spool(dir, max, (uint32_t)seg, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct budget_model m = { .nsegs = 0 };

    /* nothing read: everything dropped was undelivered */
    for (uint64_t id = 0; id < 100; id++) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, &id, 8);
        CU_ASSERT_EQUAL(spool_append(s, buf, sizeof buf), 0);
        model_append(&m, rec, seg, max, 0);
    }
    struct gw_spool_stats st;
    spool_stats(s, &st);
    CU_ASSERT(m.dropped > 0);
    CU_ASSERT_EQUAL(st.dropped, m.dropped);
    CU_ASSERT_EQUAL(st.appended, 100u);
    CU_ASSERT_EQUAL(st.depth_records, 100 - m.dropped);
    CU_ASSERT_EQUAL(st.depth_bytes, m.total);
    CU_ASSERT(m.total <= max);
    CU_ASSERT_EQUAL(count_segments(dir), m.nsegs);

    /* what is left is the newest records, in order */
    long n = 0;
    struct gw_spool_batch b;
    bool in_order = true;
    while (spool_read(s, 1000, 1 << 20, 0, &b) > 0) {
        for (size_t i = 0; i < b.n; i++, n++) {
            uint64_t id;
            memcpy(&id, b.records[i].data, 8);
            in_order &= b.records[i].len == sizeof buf && id == m.dropped + (uint64_t)n;
        }
        CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
        spool_batch_free(&b);
    }
    CU_ASSERT(in_order);
    CU_ASSERT_EQUAL((uint64_t)n, 100 - m.dropped);

    /* delivered records are not counted when their segment goes; a batch
     * read ahead and then dropped is not delivered twice */
    uint64_t before = m.dropped, committed = 100;
    for (uint64_t id = 100; id < 130; id++) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, &id, 8);
        CU_ASSERT_EQUAL(spool_append(s, buf, sizeof buf), 0);
        model_append(&m, rec, seg, max, committed);
    }
    CU_ASSERT_EQUAL_FATAL(spool_read(s, 5, 1 << 20, 0, &b), 5);   /* ids 100..104 */
    for (uint64_t id = 130; id < 160; id++) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, &id, 8);
        CU_ASSERT_EQUAL(spool_append(s, buf, sizeof buf), 0);
        model_append(&m, rec, seg, max, committed);
    }
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.dropped, m.dropped);
    CU_ASSERT(m.dropped > before);
    CU_ASSERT_EQUAL(m.seg_first[0] > 105, true);   /* the batch's segment was dropped */
    CU_ASSERT_EQUAL(spool_commit(s, &b), 0);        /* so this delivers nothing */
    spool_batch_free(&b);
    n = read_fixed(s, ids, 1024);
    CU_ASSERT_EQUAL((uint64_t)n, 160 - m.seg_first[0]);
    CU_ASSERT(ids_run(ids, n, m.seg_first[0]));
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.appended, 160u);
    CU_ASSERT_EQUAL(st.delivered + st.dropped, 160u);
    CU_ASSERT_EQUAL(st.depth_records, 0u);
    spool_close(s);

    /* the cursor on disk was moved past the dropped records: no warning,
     * nothing replayed */
    s = open_spool(dir, max, (uint32_t)seg, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(read_fixed(s, ids, 1024), 0);
    spool_close(s);
}

/* ---- damage ------------------------------------------------------------ */

/* Closes s after ten records 0..9 in one segment; returns its path. */
static void ten_records(const char *dir, char *path)
{
    struct gw_spool *s = open_spool(dir, 1 << 20, 1 << 16, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    append_ids(s, 0, 10);
    spool_close(s);
    seg_path(path, dir, 0);
}

/* Reopens after damage: expects `corrupt` counted and ids 0..good-1 to be
 * read; then appends go on cleanly, also across another reopen. */
static void expect_recovery(const char *dir, uint64_t corrupt, long good)
{
    uint64_t ids[64];
    struct gw_spool_stats st;
    struct gw_spool *s = open_spool(dir, 1 << 20, 1 << 16, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.corrupt, corrupt);
    CU_ASSERT_EQUAL(st.depth_records, (uint64_t)good);
    long n = read_all(s, ids, 64, false);
    CU_ASSERT_EQUAL(n, good);
    CU_ASSERT(ids_run(ids, n, 0));
    append_ids(s, 100, 103);
    spool_close(s);

    s = open_spool(dir, 1 << 20, 1 << 16, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.corrupt, 0u);
    n = read_all(s, ids, 64, true);
    CU_ASSERT_EQUAL(n, good + 3);
    CU_ASSERT(n == good + 3 && ids_run(ids, good, 0) && ids_run(ids + good, 3, 100));
    spool_close(s);
}

static void test_torn_tail_truncated(void)
{
    char dir[PATH_SIZE], path[PATH_SIZE];
    /* cut inside the last record's payload, inside its header, at its start + 1 */
    const long long cuts[] = { 3, 8 + (long long)rec_len(9) - 4, 8 + (long long)rec_len(9) - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        new_dir(dir);
        ten_records(dir, path);
        long long size = file_size(path);
        CU_ASSERT_EQUAL_FATAL(truncate(path, size - cuts[i]), 0);
        expect_recovery(dir, 1, 9);
        CU_ASSERT_EQUAL(file_size(path), record_offset(0, 9) + record_offset(100, 3));
    }
}

static void test_garbage_appended(void)
{
    static const unsigned char zero_len[8] = { 0 };
    static const unsigned char huge_len[8] = { 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4 };
    static const unsigned char over_limit[8] = { 0x01, 0x00, 0x00, 0x01, 1, 2, 3, 4 };
    static const unsigned char short_payload[12] = { 100, 0, 0, 0, 9, 9, 9, 9, 'a', 'b', 'c', 'd' };
    static const unsigned char three[3] = { 1, 2, 3 };
    unsigned char bad_crc[8 + 20];
    memset(bad_crc, 'x', sizeof bad_crc);
    bad_crc[0] = 20;
    bad_crc[1] = bad_crc[2] = bad_crc[3] = 0;
    unsigned char random[4096];
    uint64_t st = seed ^ 0xabcdef;
    for (size_t i = 0; i < sizeof random; i++)
        random[i] = (unsigned char)rng_next(&st);
    const struct {
        const void *data;
        size_t len;
    } garbage[] = {
        { three, sizeof three },
        { zero_len, sizeof zero_len },
        { huge_len, sizeof huge_len },
        { over_limit, sizeof over_limit },
        { short_payload, sizeof short_payload },
        { bad_crc, sizeof bad_crc },
        { random, sizeof random },
    };
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        char dir[PATH_SIZE], path[PATH_SIZE];
        new_dir(dir);
        ten_records(dir, path);
        file_append(path, garbage[i].data, garbage[i].len);
        expect_recovery(dir, 1, 10);
    }
}

static void test_flipped_byte(void)
{
    char dir[PATH_SIZE], path[PATH_SIZE];
    uint64_t firsts[64], ids[512];
    struct gw_spool_stats st;
    new_dir(dir);
    struct gw_spool *s = open_spool(dir, 1 << 20, 1024, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    append_ids(s, 0, 200);
    spool_close(s);
    size_t nseg = list_segments(dir, firsts, 64);
    CU_ASSERT_FATAL(nseg >= 4);

    /* in an older segment: the rest of it is lost, counted exactly, and
     * reading goes on with the next segment */
    uint64_t k = 7;                     /* record 7 of the second segment */
    uint64_t a = firsts[1], next = firsts[2];
    seg_path(path, dir, a);
    file_flip(path, record_offset(a, k) + 8);        /* a payload byte */
    s = open_spool(dir, 1 << 20, 1024, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.corrupt, next - (a + k));
    CU_ASSERT_EQUAL(st.depth_records, 200 - (next - (a + k)));
    long n = read_all(s, ids, 512, false);
    CU_ASSERT_EQUAL(n, (long)(200 - (next - (a + k))));
    CU_ASSERT(ids_run(ids, (long)(a + k), 0));
    CU_ASSERT(ids_run(ids + a + k, n - (long)(a + k), next));
    spool_close(s);

    /* in the newest segment: cut there; the later records are lost (one
     * torn record counted), appends continue from the cut */
    uint64_t last = firsts[nseg - 1], j = 200 - last > 2 ? 2 : 0;
    uint64_t lost = next - (a + k);
    seg_path(path, dir, last);
    file_flip(path, record_offset(last, j) + 5);     /* a crc byte */
    s = open_spool(dir, 1 << 20, 1024, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.corrupt, lost + 1);
    CU_ASSERT_EQUAL(file_size(path), record_offset(last, j));
    append_ids(s, last + j, last + j + 2);          /* numbered from the cut on */
    n = read_all(s, ids, 512, true);
    CU_ASSERT_EQUAL(n, (long)(last + j + 2 - lost));
    CU_ASSERT(ids_run(ids + n - (long)(j + 2), (long)(j + 2), last));
    spool_close(s);
}

/* Damage that appears while the spool is open is found by the reader. */
static void test_damage_while_open(void)
{
    char dir[PATH_SIZE], path[PATH_SIZE];
    uint64_t firsts[64], ids[512];
    struct gw_spool_stats st;
    new_dir(dir);
    struct gw_spool *s = open_spool(dir, 1 << 20, 1024, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    append_ids(s, 0, 200);
    size_t nseg = list_segments(dir, firsts, 64);
    CU_ASSERT_FATAL(nseg >= 4);
    uint64_t k = 5, a = firsts[1], next = firsts[2];
    seg_path(path, dir, a);
    file_flip(path, record_offset(a, k) + 8);
    long n = read_all(s, ids, 512, true);
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.corrupt, next - (a + k));
    CU_ASSERT_EQUAL(n, (long)(200 - (next - (a + k))));
    CU_ASSERT(ids_run(ids, (long)(a + k), 0));
    CU_ASSERT(ids_run(ids + a + k, n - (long)(a + k), next));

    /* the file being written vanishes (the reader has not opened it since
     * the reopen): what it held is lost, counted, and the appender goes on
     * in a new file */
    spool_close(s);
    s = open_spool(dir, 1 << 20, 1024, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    nseg = list_segments(dir, firsts, 64);
    seg_path(path, dir, firsts[nseg - 1]);
    CU_ASSERT_EQUAL(unlink(path), 0);
    CU_ASSERT_EQUAL(append_id(s, 200), 0);
    CU_ASSERT_EQUAL(read_all(s, ids, 512, true), 0);
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.corrupt, 1u);
    CU_ASSERT_EQUAL(append_id(s, 201), 0);
    n = read_all(s, ids, 512, true);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(ids[0], 201u);
    spool_stats(s, &st);
    CU_ASSERT_EQUAL(st.appended, 2u);
    CU_ASSERT_EQUAL(st.delivered + st.corrupt, 2u);
    spool_close(s);
}

static void test_cursor_damaged_or_missing(void)
{
    char dir[PATH_SIZE], path[PATH_SIZE];
    uint64_t ids[256];
    struct gw_spool_batch b;
    new_dir(dir);
    join_path(path, dir, "cursor");
    struct gw_spool *s = open_spool(dir, 1 << 20, 1 << 16, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    append_ids(s, 0, 10);
    CU_ASSERT_EQUAL(spool_read(s, 5, 4096, 0, &b), 5);
    CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
    spool_batch_free(&b);
    spool_close(s);
    CU_ASSERT(file_size(path) > 0);

    /* damaged or missing: everything is replayed (at least once) */
    char valid[64];
    char hex[17];
    snprintf(hex, sizeof hex, "%016x", 1000u);
    snprintf(valid, sizeof valid, "%s %08x\n", hex, crc32c(0, hex, 16));
    const struct {
        const char *what, *content;
        long replayed, first;
    } cases[] = {
        { "garbage", "not a cursor", 10, 0 },
        { "empty", "", 10, 0 },
        { "bad checksum", "0000000000000005 00000000\n", 10, 0 },
        { "upper case", "000000000000000A 00000000\n", 10, 0 },
        { "missing", NULL, 10, 0 },
        { "past the end", valid, 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].content)
            file_put(path, cases[i].content, strlen(cases[i].content));
        else
            unlink(path);
        s = open_spool(dir, 1 << 20, 1 << 16, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        long n = read_all(s, ids, 256, false);
        if (n != cases[i].replayed)
            fprintf(stderr, "\n  cursor %s: %ld records replayed\n", cases[i].what, n);
        CU_ASSERT_EQUAL(n, cases[i].replayed);
        CU_ASSERT(ids_run(ids, n, (uint64_t)cases[i].first));
        spool_close(s);
    }
    /* the clamped cursor was written back: appends are read after it */
    s = open_spool(dir, 1 << 20, 1 << 16, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    append_ids(s, 10, 12);
    long n = read_all(s, ids, 256, true);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(ids_run(ids, n, 10));
    spool_close(s);

    /* a cursor in a segment that is gone: from the oldest record there is */
    char sub[PATH_SIZE];
    uint64_t firsts[64];
    join_path(sub, dir, "gone");
    s = open_spool(sub, 1 << 20, 1024, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    append_ids(s, 0, 100);
    CU_ASSERT_EQUAL(spool_read(s, 3, 4096, 0, &b), 3);
    CU_ASSERT_EQUAL(spool_commit(s, &b), 0);
    spool_batch_free(&b);
    spool_close(s);
    CU_ASSERT_FATAL(list_segments(sub, firsts, 64) >= 3);
    seg_path(path, sub, firsts[0]);
    CU_ASSERT_EQUAL(unlink(path), 0);
    s = open_spool(sub, 1 << 20, 1024, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    n = read_all(s, ids, 256, true);
    CU_ASSERT_EQUAL(n, (long)(100 - firsts[1]));
    CU_ASSERT(ids_run(ids, n, firsts[1]));
    spool_close(s);
}

/* ---- SIGKILL ----------------------------------------------------------- */

/* The child: appends ids 0, 1, ... and reports each one acknowledged. */
static void __attribute__((noreturn)) kill_child(const char *dir, int fsync_ms, int out)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct gw_spool *s = open_spool(dir, 1u << 30, 1u << 16, fsync_ms);
    if (!s)
        _exit(2);
    for (uint64_t id = 0;; id++) {
        if (append_id(s, id) != 0)
            _exit(3);
        if (write(out, &id, sizeof id) != (ssize_t)sizeof id)
            _exit(4);
    }
}

/* Kills a child appender after `acks` acknowledgements; returns the
 * number acknowledged in the end (some more arrive before it dies). */
static uint64_t append_and_kill(const char *dir, int fsync_ms, uint64_t acks)
{
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        kill_child(dir, fsync_ms, p[1]);
    }
    close(p[1]);
    uint64_t got = 0, id;
    bool killed = false, in_order = true;
    ssize_t r;
    while ((r = read(p[0], &id, sizeof id)) == (ssize_t)sizeof id) {
        in_order &= id == got;
        got++;
        if (got == acks && !killed) {
            kill(pid, SIGKILL);
            killed = true;
        }
    }
    close(p[0]);
    int status;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CU_ASSERT(in_order);
    return got;
}

/* After the kill: the records are 0, 1, ... in order, and every
 * acknowledged one is there; at most the record in flight was torn. */
static void check_after_kill(const char *dir, uint64_t acked)
{
    struct gw_spool *s = open_spool(dir, 1u << 30, 1u << 16, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct gw_spool_stats st;
    spool_stats(s, &st);
    CU_ASSERT(st.corrupt <= 1);
    uint64_t *ids = malloc((acked + 16) * sizeof *ids);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    long n = read_all(s, ids, acked + 16, true);
    CU_ASSERT((uint64_t)n >= acked && (uint64_t)n <= acked + 1);
    CU_ASSERT(ids_run(ids, n < (long)(acked + 16) ? n : (long)acked, 0));
    /* and the spool goes on */
    CU_ASSERT_EQUAL(append_id(s, 1u << 20), 0);
    CU_ASSERT_EQUAL(read_all(s, ids, 1, true), 1);
    CU_ASSERT_EQUAL(ids[0], 1u << 20);
    free(ids);
    spool_close(s);
}

static void test_sigkill_fsync_every_record(void)
{
    uint64_t st = seed ^ 0x1234;
    for (int trial = 0; trial < 3; trial++) {
        char dir[PATH_SIZE];
        new_dir(dir);
        uint64_t acked = append_and_kill(dir, 0, 20 + rng_below(&st, 300));
        check_after_kill(dir, acked);
    }
}

static void test_sigkill_group_commit(void)
{
    uint64_t st = seed ^ 0x4321;
    for (int trial = 0; trial < 3; trial++) {
        char dir[PATH_SIZE];
        new_dir(dir);
        /* durable only within 200 ms, but a SIGKILL leaves the page cache:
         * everything acknowledged is still expected */
        uint64_t acked = append_and_kill(dir, 200, 1000 + rng_below(&st, 30000));
        check_after_kill(dir, acked);
    }
}

/* ---- waiting ----------------------------------------------------------- */

static void test_empty_read_times_out(void)
{
    char dir[PATH_SIZE];
    struct gw_spool_batch b;
    struct timespec t0;
    new_dir(dir);
    struct gw_spool *s = open_spool(dir, 1 << 20, 4096, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(spool_read(s, 10, 4096, 0, &b), 0);
    CU_ASSERT(elapsed_ms(&t0) < 50);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(spool_read(s, 10, 4096, 300, &b), 0);
    long long ms = elapsed_ms(&t0);
    if (ms < 290 || ms > 1000)
        fprintf(stderr, "\n  a 300 ms read timed out after %lld ms\n", ms);
    CU_ASSERT(ms >= 290 && ms <= 1000);
    CU_ASSERT_EQUAL(b.n, 0u);
    CU_ASSERT_PTR_NULL(b.buffer);
    spool_close(s);
}

struct waiter {
    struct gw_spool *s;
    int timeout_ms;
    int rc;
    long long ms;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    struct gw_spool_batch b;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    w->rc = spool_read(w->s, 10, 4096, w->timeout_ms, &b);
    w->ms = elapsed_ms(&t0);
    spool_batch_free(&b);
    return NULL;
}

static void test_wake_and_append_end_a_wait(void)
{
    char dir[PATH_SIZE];
    struct gw_spool_batch b;
    new_dir(dir);
    struct gw_spool *s = open_spool(dir, 1 << 20, 4096, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* a wake ends the wait, whether it comes before or during it */
    for (int timeout = -1; timeout <= 20000; timeout += 20001) {
        struct waiter w = { s, timeout, -99, 0 };
        pthread_t t;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, waiter_main, &w), 0);
        struct timespec pause = { 0, 50 * 1000000L };  /* usually inside the wait by then */
        nanosleep(&pause, NULL);
        spool_wake(s);
        pthread_join(t, NULL);
        CU_ASSERT_EQUAL(w.rc, 0);
        CU_ASSERT(w.ms < 5000);
    }
    /* consumed: the next read waits again */
    CU_ASSERT_EQUAL(spool_read(s, 10, 4096, 100, &b), 0);

    /* a record ends the wait too, with the record */
    struct waiter w = { s, 20000, -99, 0 };
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, waiter_main, &w), 0);
    CU_ASSERT_EQUAL(append_id(s, 1), 0);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(w.rc, 1);
    CU_ASSERT(w.ms < 5000);
    /* a wake while records wait: they are read, then one read returns 0 */
    CU_ASSERT_EQUAL(append_id(s, 2), 0);
    spool_rewind(s);
    spool_wake(s);
    CU_ASSERT_EQUAL(spool_read(s, 10, 4096, 20000, &b), 2);
    spool_batch_free(&b);
    CU_ASSERT_EQUAL(spool_read(s, 10, 4096, 20000, &b), 0);
    spool_close(s);
}

/* A burst wakes a waiting reader once, at its end, with every record of
 * it; woken by each append, as test_wake_and_append_end_a_wait shows a
 * plain append does, it would have read the first alone. */
static void test_burst_wakes_once(void)
{
    char dir[PATH_SIZE];
    new_dir(dir);
    struct gw_spool *s = open_spool(dir, 1 << 20, 4096, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct timespec gap = { 0, 30 * 1000000L };
    struct waiter w = { s, 20000, -99, 0 };
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, waiter_main, &w), 0);
    nanosleep(&gap, NULL);
    spool_burst_begin(s);
    for (uint64_t id = 1; id <= 3; id++) {
        CU_ASSERT_EQUAL(append_id(s, id), 0);
        nanosleep(&gap, NULL);
    }
    spool_burst_end(s);
    pthread_join(t, NULL);
    if (w.rc != 3)
        fprintf(stderr, "\n  the reader woke with %d records\n", w.rc);
    CU_ASSERT_EQUAL(w.rc, 3);
    spool_close(s);
}

/* ---- random damage ----------------------------------------------------- */

/* Writes a segment of valid records, then damages it at random. */
static void write_damaged_segment(const char *dir, uint64_t first, uint64_t nrec, uint64_t *st)
{
    unsigned char *file = malloc(nrec * (8 + REC_MAX) + 64);
    size_t len = 0;
    for (uint64_t i = 0; i < nrec; i++) {
        unsigned char rec[REC_MAX];
        size_t n = rec_make(rec, first + i);
        uint32_t l = (uint32_t)n, crc;
        unsigned char hdr[4] = { (unsigned char)l, (unsigned char)(l >> 8), 0, 0 };
        crc = crc32c(crc32c(0, hdr, 4), rec, n);
        memcpy(file + len, hdr, 4);
        for (int b = 0; b < 4; b++)
            file[len + 4 + (size_t)b] = (unsigned char)(crc >> (8 * b));
        memcpy(file + len + 8, rec, n);
        len += 8 + n;
    }
    switch (rng_below(st, 6)) {
    case 0:                                            /* flip bits */
        for (uint64_t k = 1 + rng_below(st, 4); k > 0 && len > 0; k--)
            file[rng_below(st, len)] ^= (unsigned char)(1u << rng_below(st, 8));
        break;
    case 1:                                            /* truncate */
        len = len ? rng_below(st, len) : 0;
        break;
    case 2:                                            /* garbage at the end */
        for (uint64_t k = rng_below(st, 64); k > 0; k--)
            file[len++] = (unsigned char)rng_next(st);
        break;
    case 3:                                            /* a huge length somewhere */
        if (len >= 8)
            memset(file + rng_below(st, len - 3), 0xff, 4);
        break;
    case 4:                                            /* all garbage */
        for (size_t i = 0; i < len; i++)
            file[i] = (unsigned char)rng_next(st);
        break;
    default:                                           /* intact */
        break;
    }
    char path[PATH_SIZE];
    seg_path(path, dir, first);
    file_put(path, file, len);
    free(file);
}

static void test_random_damage_never_crashes(void)
{
    uint64_t st = seed ^ 0x9e3779b97f4a7c15ull;
    uint64_t *ids = malloc(4096 * sizeof *ids);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    bool all_open = true, all_read = true, all_go_on = true;
    enum gw_log_level level = log_get_level();
    log_set_level(GW_LOG_ERROR);                       /* every case warns */
    for (int trial = 0; trial < 150; trial++) {
        char dir[PATH_SIZE];
        new_dir(dir);
        uint64_t first = rng_below(&st, 3) == 0 ? UINT64_MAX - 40 : rng_below(&st, 1000);
        for (uint64_t k = rng_below(&st, 5); k > 0 && first < UINT64_MAX - 20; k--) {
            uint64_t nrec = rng_below(&st, 40);
            write_damaged_segment(dir, first, nrec, &st);
            first += nrec - (nrec ? rng_below(&st, nrec) : 0) + rng_below(&st, 3);
        }
        if (rng_below(&st, 2)) {
            char path[PATH_SIZE], cursor[40] = "";   /* bytes past the text: zeros, not stack garbage */
            join_path(path, dir, "cursor");
            size_t n = rng_below(&st, sizeof cursor);
            char hex[17];
            snprintf(hex, sizeof hex, "%016" PRIx64, rng_below(&st, 1200));
            snprintf(cursor, sizeof cursor, "%s %08x\n", hex, crc32c(0, hex, 16));
            file_put(path, cursor, rng_below(&st, 2) ? strlen(cursor) : n);
        }
        struct gw_spool *s = open_spool(dir, 1 << 20, 512, 0);
        all_open &= s != NULL;
        if (!s)
            continue;
        long n = read_all(s, ids, 4096, rng_below(&st, 2));
        all_read &= n >= 0;
        spool_rewind(s);
        read_all(s, ids, 4096, true);
        int rc = append_id(s, 7);
        if (rc == 0) {
            all_go_on &= read_all(s, ids, 1, true) == 1 && ids[0] == 7;
        } else {
            all_go_on &= rc == -EOVERFLOW;             /* sequence numbers used up */
        }
        spool_close(s);
    }
    log_set_level(level);
    free(ids);
    CU_ASSERT(all_open);
    CU_ASSERT(all_read);
    CU_ASSERT(all_go_on);
}

int main(void)
{
    const char *env = getenv("GW_TEST_SEED");
    seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    fprintf(stderr, "spool_test: GW_TEST_SEED=%" PRIu64 "\n", seed);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("spool", NULL, NULL);
    if (!suite ||
        !CU_add_test(suite, "crc32c: known values, pieces, hardware = portable", test_crc32c) ||
        !CU_add_test(suite, "bad arguments; one spool per directory", test_bad_arguments) ||
        !CU_add_test(suite, "append, read, commit: order and batch limits", test_order_and_limits) ||
        !CU_add_test(suite, "records up to 16 MiB", test_large_records) ||
        !CU_add_test(suite, "reopen replays from the committed position",
                     test_reopen_replays_from_committed) ||
        !CU_add_test(suite, "uncommitted batches come back after rewind and reopen",
                     test_rewind_and_uncommitted) ||
        !CU_add_test(suite, "appender and reader threads: 100k records once, in order",
                     test_concurrent_appender_and_reader) ||
        !CU_add_test(suite, "appender and reader threads with drops: counts add up",
                     test_concurrent_with_drops) ||
        !CU_add_test(suite, "segments roll; delivered ones are deleted",
                     test_segments_roll_and_delivered_are_deleted) ||
        !CU_add_test(suite, "budget: the oldest dropped, counted exactly", test_budget_drops_oldest) ||
        !CU_add_test(suite, "torn tail: cut off, counted, appends go on", test_torn_tail_truncated) ||
        !CU_add_test(suite, "garbage after the last record", test_garbage_appended) ||
        !CU_add_test(suite, "a flipped byte in an older and in the newest segment",
                     test_flipped_byte) ||
        !CU_add_test(suite, "damage found while open: skipped, counted, appends go on",
                     test_damage_while_open) ||
        !CU_add_test(suite, "cursor damaged, missing, past the end, in a lost segment",
                     test_cursor_damaged_or_missing) ||
        !CU_add_test(suite, "SIGKILL, fsync every record: every acknowledged record is there",
                     test_sigkill_fsync_every_record) ||
        !CU_add_test(suite, "SIGKILL, fsync every 200 ms: no corruption",
                     test_sigkill_group_commit) ||
        !CU_add_test(suite, "an empty spool: a read times out on time", test_empty_read_times_out) ||
        !CU_add_test(suite, "spool_wake and an append end a wait", test_wake_and_append_end_a_wait) ||
        !CU_add_test(suite, "a burst wakes a waiting reader once, at its end", test_burst_wakes_once) ||
        !CU_add_test(suite, "random damage: never a crash or a hang",
                     test_random_damage_never_crashes)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
