/*
 * libFuzzer target for spool recovery and replay: the input becomes the
 * files of a spool directory (up to four segment files, a cursor file,
 * sometimes a stray file), which is then opened, read to the end and
 * committed.  Whatever the files hold, spool_open succeeds (spool.h:
 * "never a crash or a hang, whatever the files hold"), reading ends,
 * every record has a length the spool accepts, and afterwards the spool
 * works: a new record reads back as written (or is refused because the
 * files used up the sequence numbers), and after a reopen nothing is
 * waiting.  When the segments hold only well-formed records and there
 * is no cursor, the records read are exactly those written, in order.
 * Any broken invariant aborts, so that the fuzzer reports it.
 *
 * Input: a byte of flags, two of spool options, the cursor, then per
 * segment a byte of sequence step, two of length and the body.  In
 * "records" mode a body is a list of (length byte, payload) that is
 * written with valid headers and checksums, so that the fuzzer reaches
 * replay and not only the checksum test, and then optionally damaged at
 * one place.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "spool.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

enum {
    F_SEGMENTS = 3,          /* number of segments - 1 */
    F_CURSOR = 1 << 2,       /* write a cursor file */
    F_RAW_CURSOR = 1 << 3,   /* ... of raw bytes rather than a well-formed one */
    F_RECORDS = 1 << 4,      /* bodies are lists of valid records */
    F_STRAY = 1 << 5,        /* add files that are not segments */
    F_HIGH = 1 << 6,         /* sequence numbers start near UINT64_MAX */
    F_DAMAGE = 1 << 7,       /* damage one byte of the last segment */
};

#define MAX_SEGMENTS 4
#define MAX_RECORDS 4096

static char dir[64];

struct input {
    const uint8_t *data;
    size_t size, pos;
};

static uint8_t take_byte(struct input *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

static size_t take_bytes(struct input *in, size_t want, const uint8_t **p)
{
    size_t n = in->size - in->pos < want ? in->size - in->pos : want;
    *p = in->data + in->pos;
    in->pos += n;
    return n;
}

/* What a well-formed spool would replay: one entry per record. */
struct expected {
    const uint8_t *data[MAX_RECORDS];
    uint32_t len[MAX_RECORDS];
    size_t n;
};

struct segment {
    uint64_t first;
    uint8_t *bytes;
    size_t len;
    size_t n_records, first_record;   /* records mode: its records in expected */
};

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    REQUIRE(d);
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            REQUIRE(unlinkat(dirfd(d), de->d_name, 0) == 0);
    closedir(d);
}

static void remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/gw-spool-fuzz-XXXXXX", tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir));
    atexit(remove_dir);
    log_set_level(GW_LOG_ERROR);  /* damaged files are warned about on every run */
    return 0;
}

static void write_file(const char *name, const void *bytes, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f && fwrite(bytes, 1, len, f) == len && fclose(f) == 0);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Turns (length byte, payload) pairs into records with valid headers. */
static void build_records(struct segment *g, const uint8_t *body, size_t len, struct expected *exp)
{
    size_t pos = 0, out = 0;

    g->bytes = malloc(len / 2 * 9 + 9);   /* every record takes at least 2 input bytes */
    REQUIRE(g->bytes);
    g->first_record = exp->n;
    while (pos + 1 < len && exp->n < MAX_RECORDS) {
        uint32_t n = 1 + body[pos] % 64;
        if (n > len - pos - 1)
            n = (uint32_t)(len - pos - 1);
        uint8_t *rec = g->bytes + out;
        put_le32(rec, n);
        memcpy(rec + 8, body + pos + 1, n);
        put_le32(rec + 4, crc32c(crc32c(0, rec, 4), rec + 8, n));
        exp->data[exp->n] = body + pos + 1;
        exp->len[exp->n++] = n;
        g->n_records++;
        out += 8 + n;
        pos += 1 + n;
    }
    g->len = out;
}

static void write_cursor(struct input *in, uint8_t flags)
{
    if (!(flags & F_CURSOR))
        return;
    if (flags & F_RAW_CURSOR) {
        const uint8_t *raw;
        size_t n = take_bytes(in, take_byte(in) % 40, &raw);
        write_file("cursor", raw, n);
        return;
    }
    char hex[17], text[32];
    uint64_t seq = 0;
    for (int i = 0; i < 2; i++)
        seq = seq << 8 | take_byte(in);
    if (flags & F_HIGH)
        seq = UINT64_MAX - seq;
    snprintf(hex, sizeof hex, "%016" PRIx64, seq);
    int n = snprintf(text, sizeof text, "%s %08" PRIx32 "\n", hex, crc32c(0, hex, 16));
    write_file("cursor", text, (size_t)n);
}

/* Writes the segments; returns how many records a clean replay yields,
 * or -1 if the files are not a clean spool. */
static long write_segments(struct input *in, uint8_t flags, struct expected *exp)
{
    struct segment segs[MAX_SEGMENTS] = { 0 };
    size_t n = 1 + (flags & F_SEGMENTS);
    uint64_t first = flags & F_HIGH ? UINT64_MAX - 300 : 0;
    bool clean = (flags & F_RECORDS) && !(flags & (F_CURSOR | F_DAMAGE));

    for (size_t i = 0; i < n; i++) {
        struct segment *g = &segs[i];
        uint8_t step = take_byte(in);
        const uint8_t *body;
        size_t want = take_byte(in) | (size_t)take_byte(in) << 8;
        size_t len = take_bytes(in, want, &body);

        first += i ? 1 + step : step;
        g->first = first;
        if (i && g->first <= segs[i - 1].first)
            clean = false;                          /* wrapped round */
        if (flags & F_RECORDS) {
            build_records(g, body, len, exp);
        } else {
            g->bytes = malloc(len + 1);
            REQUIRE(g->bytes);
            memcpy(g->bytes, body, len);
            g->len = len;
        }
    }
    if ((flags & F_DAMAGE) && segs[n - 1].len) {
        size_t at = (take_byte(in) | (size_t)take_byte(in) << 8) % segs[n - 1].len;
        segs[n - 1].bytes[at] ^= (uint8_t)(1 + take_byte(in) % 255);
    }
    /* A segment claims the numbers up to the next one's first; the rest
     * of its records are not replayed. */
    size_t kept = 0;
    for (size_t i = 0; i < n && clean; i++) {
        uint64_t room = i + 1 < n ? segs[i + 1].first - segs[i].first : UINT64_MAX - segs[i].first;
        size_t take = segs[i].n_records < room ? segs[i].n_records : (size_t)room;
        for (size_t r = 0; r < take; r++) {
            exp->data[kept] = exp->data[segs[i].first_record + r];
            exp->len[kept++] = exp->len[segs[i].first_record + r];
        }
    }
    exp->n = kept;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%016" PRIx64 ".seg", segs[i].first);
        write_file(name, segs[i].bytes, segs[i].len);
        free(segs[i].bytes);
    }
    return clean ? (long)kept : -1;
}

static void write_stray(uint8_t flags)
{
    if (!(flags & F_STRAY))
        return;
    write_file("00000000000000AB.seg", "x", 1);    /* upper case: not a segment name */
    write_file("1.seg", "", 0);
    write_file("cursor.tmp", "garbage", 7);
}

/* Reads and commits everything; returns the number of records read. */
static size_t drain(struct gw_spool *s, size_t batch_max, long clean, const struct expected *exp)
{
    size_t total = 0;

    for (;;) {
        struct gw_spool_batch batch = { 0 };
        int rc = spool_read(s, batch_max, 4096, 0, &batch);
        REQUIRE(rc >= 0 && (size_t)rc == batch.n);
        if (rc == 0)
            return total;
        for (size_t i = 0; i < batch.n; i++) {
            const struct gw_spool_record *r = &batch.records[i];
            REQUIRE(r->data && r->len >= 1 && r->len <= GW_SPOOL_MAX_RECORD);
            if (clean >= 0) {
                REQUIRE(total + i < exp->n && r->len == exp->len[total + i]);
                REQUIRE(memcmp(r->data, exp->data[total + i], r->len) == 0);
            }
        }
        total += batch.n;
        REQUIRE(total <= MAX_RECORDS * 2);
        REQUIRE(spool_commit(s, &batch) == 0);
        spool_batch_free(&batch);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct expected exp;
    struct input in = { data, size, 0 };
    uint8_t flags = take_byte(&in), seg_choice = take_byte(&in), budget = take_byte(&in);
    struct gw_spool_options opt = {
        .segment_bytes = 64u << (seg_choice % 8),
        .fsync_interval_ms = 0,
    };
    opt.max_bytes = (uint64_t)opt.segment_bytes * (2 + budget % 8);

    exp.n = 0;
    write_cursor(&in, flags);
    long clean = write_segments(&in, flags, &exp);
    write_stray(flags);

    struct gw_spool *s = NULL;
    REQUIRE(spool_open(dir, &opt, &s) == 0 && s);
    size_t read = drain(s, 1 + seg_choice / 8, clean, &exp);
    REQUIRE(clean < 0 || read == (size_t)clean);

    struct gw_spool_stats st;
    spool_stats(s, &st);
    REQUIRE(st.depth_records == 0 && st.depth_bytes == 0);

    /* The recovered spool takes and replays a new record - unless its
     * files name sequence numbers so close to 2^64 that they are used up
     * (only a damaged or forged file name does that), which spool_append
     * refuses with -EOVERFLOW rather than wrapping round. */
    static const char marker[] = "after replay";
    struct gw_spool_batch batch = { 0 };
    int rc = spool_append(s, marker, sizeof marker);
    REQUIRE(rc == 0 || (rc == -EOVERFLOW && (flags & (F_HIGH | F_RAW_CURSOR))));
    REQUIRE(spool_read(s, 16, 4096, 0, &batch) == (rc == 0));
    if (rc == 0) {
        REQUIRE(batch.records[0].len == sizeof marker &&
                memcmp(batch.records[0].data, marker, sizeof marker) == 0);
        REQUIRE(spool_commit(s, &batch) == 0);
        spool_batch_free(&batch);
    }
    spool_close(s);

    /* Everything was committed: a reopened spool has nothing waiting. */
    REQUIRE(spool_open(dir, &opt, &s) == 0);
    spool_stats(s, &st);
    REQUIRE(st.depth_records == 0);
    REQUIRE(spool_read(s, 16, 4096, 0, &batch) == 0);
    spool_close(s);
    clear_dir();
    return 0;
}
