/*
 * The durable spool: an on-disk, append-only segment store in front of
 * every sink, so that an outage of the broker, the database or a webhook
 * target - or a SIGKILL of the daemon - loses nothing, within a disk budget.
 *
 * A spool is a directory of segment files (<first-seq>.seg, the sequence
 * number of their first record in 16 hex digits) holding records
 * [length u32 LE][crc32c u32 LE over length and payload][payload], and a
 * `cursor` file naming the first record not yet delivered.  Appends come
 * from one thread (the main thread), reads from another (the sink's); both
 * may run at once.  spool_commit and spool_rewind may come from the
 * reading thread or from a third one (a client library's delivery
 * callback); spool_stats, spool_sync and spool_wake from any thread.
 *
 * Guarantees:
 *  - a record counts as accepted once spool_append returned 0; it is on
 *    disk (fdatasync) within fsync_interval_ms (0: before spool_append
 *    returns);
 *  - records are read back in append order, after a restart too, from the
 *    last committed position: delivery is at least once (a crash can
 *    replay what was delivered within the last fsync_interval_ms);
 *  - beyond max_bytes, the oldest segments are dropped, delivered or not,
 *    and every dropped record is counted and logged; the segment being
 *    written is never dropped;
 *  - a torn or corrupt record (a crash mid-write, a bad disk block) is
 *    detected by length and checksum, reported, and skipped with the rest
 *    of its segment; never a crash or a hang, whatever the files hold.
 */
#ifndef GW_SPOOL_H
#define GW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* The largest record spool_append accepts. */
#define GW_SPOOL_MAX_RECORD (16u * 1024 * 1024)

struct gw_spool;

struct gw_spool_options {
    uint64_t max_bytes;          /* disk budget for the segments (>= 2 segments) */
    uint32_t segment_bytes;      /* a segment is closed once it reaches this size (> 0) */
    int fsync_interval_ms;       /* group commit: 0 = every append, N > 0 = within N ms */
};

/* Defaults: 256 MiB budget, 4 MiB segments, fsync within 200 ms. */
extern const struct gw_spool_options spool_default_options;

struct gw_spool_stats {
    uint64_t appended;           /* records accepted since open */
    uint64_t delivered;          /* records committed since open */
    uint64_t dropped;            /* records dropped for the budget since open */
    /* Corrupt or torn records skipped since open.  Where the number lost is
     * known it is counted exactly (a damaged older segment: the records up
     * to the next segment's first sequence number); a damaged tail of the
     * newest segment counts as one (its length cannot be trusted).  The
     * log says how many bytes were skipped. */
    uint64_t corrupt;
    uint64_t depth_records;      /* waiting now (not yet committed) */
    uint64_t depth_bytes;        /* their size on disk, record headers included */
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
 * Open (creating it and its parents if needed) the spool in dir,
 * recovering after a crash: every segment is scanned and checked, a torn
 * tail is cut off, segments already delivered are deleted, and what was
 * skipped is reported.  options NULL means spool_default_options.
 * Returns 0, -EINVAL for bad options, -EBUSY if another spool (in this or
 * another process) has dir open, or another negative errno (logged); *out
 * is NULL on error.
 */
int spool_open(const char *dir, const struct gw_spool_options *options, struct gw_spool **out);

/* Append one record (1 byte .. GW_SPOOL_MAX_RECORD).  Returns 0, -EINVAL,
 * or a negative errno from the disk (logged; the record is not accepted).
 * May drop the oldest segments to stay within max_bytes. */
int spool_append(struct gw_spool *spool, const void *data, size_t len);

/*
 * Read up to max_records records whose payloads add up to at most
 * max_bytes (but at least one record whatever its size), following the
 * committed position and any batch already read but not committed.  A
 * batch never spans two segments, so it may hold fewer records than asked
 * although more are waiting.  Waits up to timeout_ms for the first record
 * (0: does not wait; negative: waits until a record or spool_wake).
 * Returns the number of records (0 on timeout or wake), -EINVAL (batch
 * NULL or max_records 0), or a negative errno from the disk.  The batch is
 * empty unless the result is positive; free it with spool_batch_free.
 */
int spool_read(struct gw_spool *spool, size_t max_records, size_t max_bytes, int timeout_ms,
               struct gw_spool_batch *batch);

/* Mark everything up to the end of batch delivered (batches are committed
 * in the order they were read; committing a later one commits the earlier
 * ones too; an empty or already committed batch changes nothing).  The
 * cursor reaches the disk within fsync_interval_ms, and a segment is
 * deleted once the cursor on disk is past it.  Returns 0, or (with
 * fsync_interval_ms = 0) a negative errno if the cursor could not be
 * written; the commit holds in memory all the same and the cursor is
 * written again at the next commit or spool_sync. */
int spool_commit(struct gw_spool *spool, const struct gw_spool_batch *batch);

/* Forget what was read but not committed: the next read starts again at
 * the committed position (after a failed delivery).  Batches read before
 * stay valid memory until freed. */
void spool_rewind(struct gw_spool *spool);

/* Frees the batch's memory and empties it; NULL or an empty batch is fine. */
void spool_batch_free(struct gw_spool_batch *batch);

void spool_stats(struct gw_spool *spool, struct gw_spool_stats *out);

/* Make every accepted record and the committed position durable now
 * (shutdown).  0 or -errno. */
int spool_sync(struct gw_spool *spool);

/* Records appended between spool_burst_begin and spool_burst_end wake a
 * reader waiting in spool_read once, at the end, rather than once per
 * record: a reader woken per record reads, delivers and commits one record
 * at a time, with a thread handoff each.  They are readable as soon as
 * appended all the same (a reader that looks finds them).  From the
 * appending thread. */
void spool_burst_begin(struct gw_spool *spool);
void spool_burst_end(struct gw_spool *spool);

/* Wake a reader waiting in spool_read (for shutdown).  If no read is
 * waiting, the next spool_read that finds nothing returns 0 at once. */
void spool_wake(struct gw_spool *spool);

/* Syncs (as spool_sync) and frees the spool; NULL is fine.  No other call
 * on the spool may be in progress or follow (stop the sink first). */
void spool_close(struct gw_spool *spool);

#endif
