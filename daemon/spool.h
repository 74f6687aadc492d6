/*
 * The durable spool: an on-disk, append-only segment store in front of
 * every sink, so that an outage of the broker, the database or a webhook
 * target - or a SIGKILL of the daemon - loses nothing, within a disk budget.
 *
 * A spool is a directory of segment files (<first-seq>.seg) holding
 * records [length u32][crc32c u32][payload], and a `cursor` file naming
 * the first record not yet delivered.  Appends come from one thread (the
 * main thread), reads and commits from another (the sink's); both may
 * run at once.
 *
 * Guarantees:
 *  - a record counts as accepted once spool_append returned 0; it is on
 *    disk (fsync) within fsync_interval_ms (0: before spool_append
 *    returns);
 *  - records are read back in append order, after a restart too, from the
 *    last committed position: delivery is at least once;
 *  - beyond max_bytes, the oldest segments are dropped, delivered or not,
 *    and every dropped record is counted;
 *  - a torn or corrupt record (a crash mid-write, a bad disk block) is
 *    detected by length and checksum, reported, and skipped with the rest
 *    of its segment; never a crash or a hang.
 */
#ifndef GW_SPOOL_H
#define GW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct gw_spool;

struct gw_spool_options {
    uint64_t max_bytes;          /* disk budget for the segments (>= 2 segments) */
    uint32_t segment_bytes;      /* a segment is closed once it reaches this size */
    int fsync_interval_ms;       /* group commit: 0 = every append, N > 0 = within N ms */
};

/* Defaults: 256 MiB budget, 4 MiB segments, fsync within 200 ms. */
extern const struct gw_spool_options spool_default_options;

struct gw_spool_stats {
    uint64_t appended;           /* records accepted since open */
    uint64_t delivered;          /* records committed since open */
    uint64_t dropped;            /* records dropped for the budget since open */
    uint64_t corrupt;            /* corrupt or torn records skipped since open */
    uint64_t depth_records;      /* waiting now */
    uint64_t depth_bytes;
};

/* One record as read: data points into the batch's memory. */
struct gw_spool_record {
    const void *data;
    uint32_t len;
};

struct gw_spool_batch {
    struct gw_spool_record *records;
    size_t n;
    /* Private: where the batch ends, for spool_commit. */
    uint64_t end_seq;
    void *buffer;
};

/*
 * Open (creating if needed) the spool in dir, recovering after a crash:
 * segments are scanned, a torn tail is cut off and reported.  Returns 0,
 * or a negative errno (logged) with *out NULL.
 */
int spool_open(const char *dir, const struct gw_spool_options *options, struct gw_spool **out);

/* Append one record (1 byte .. 16 MiB).  Returns 0, -EINVAL, or a negative
 * errno from the disk (logged; the record is not accepted). */
int spool_append(struct gw_spool *spool, const void *data, size_t len);

/*
 * Read up to max_records records / max_bytes bytes (at least one record
 * whatever its size) following the committed position and any batch
 * already read but not committed.  Waits up to timeout_ms for the first
 * record.  Returns the number of records (0 on timeout), or a negative
 * errno.  Free with spool_batch_free.
 */
int spool_read(struct gw_spool *spool, size_t max_records, size_t max_bytes, int timeout_ms,
               struct gw_spool_batch *batch);

/* Mark everything up to the end of batch delivered (batches are committed
 * in the order they were read).  Returns 0 or a negative errno. */
int spool_commit(struct gw_spool *spool, const struct gw_spool_batch *batch);

/* Forget what was read but not committed: the next read starts again at
 * the committed position (after a failed delivery). */
void spool_rewind(struct gw_spool *spool);

void spool_batch_free(struct gw_spool_batch *batch);

void spool_stats(struct gw_spool *spool, struct gw_spool_stats *out);

/* Make every accepted record durable now (shutdown).  0 or -errno. */
int spool_sync(struct gw_spool *spool);

/* Wake a reader waiting in spool_read (for shutdown). */
void spool_wake(struct gw_spool *spool);

void spool_close(struct gw_spool *spool);

#endif
