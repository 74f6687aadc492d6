/*
 * The durable spool: see spool.h for the contract.
 *
 * Files.  <dir>/<16 hex digits>.seg segments and <dir>/cursor, the
 * committed sequence number as "<16 hex digits> <their crc32c, 8 hex
 * digits>\n", replaced atomically (cursor.tmp, fdatasync, rename).  The
 * directory is flock()ed while open, so two daemons cannot share a spool.
 *
 * Memory.  A table of segments (first sequence number, record count,
 * readable size, size on disk), oldest first; the last one is the segment
 * being written and is never deleted.  A position names a record by its
 * sequence number and by (segment, byte offset), so reading needs no index
 * of records: a spool of small records costs no memory per record.
 * Sequence numbers increase by one per record within a segment; between
 * segments there may be a gap where records were lost to corruption.
 *
 * Threads.  One mutex (lock) guards the table, the positions and the
 * counters; it is never held across a call that waits for the disk.  The
 * appender writes a record with one writev() on its own descriptor
 * (O_APPEND) outside the lock, then publishes it (count, size) under the
 * lock, so the reader never sees a record before it is whole.  The reader
 * pread()s published bytes through its own descriptor, outside the lock; a
 * segment dropped meanwhile stays readable through that descriptor, and a
 * generation number tells the reader to discard what it read if its
 * position was moved meanwhile (a drop, a commit or a rewind from another
 * thread).
 *
 * Group commit.  With fsync_interval_ms > 0 a flusher thread makes records
 * durable: the first record after a flush starts the clock, and interval
 * ms later one fdatasync covers every record appended by then.  A thread
 * rather than "the appender syncs once the interval has elapsed" because
 * (1) the appender is the main loop, which keeps the poll schedule and must
 * not stall on a slow disk (an fdatasync on the SD card or eMMC of a
 * gateway box can take 100 ms), and (2) the last records before a quiet
 * spell must reach the disk within the interval although no further append
 * comes to trigger a sync.  The flusher also writes the cursor (so a
 * commit costs no fsync) and deletes delivered segments once the cursor on
 * disk is past them.  With fsync_interval_ms = 0 there is no flusher:
 * spool_append fdatasyncs before it returns, spool_commit writes the
 * cursor itself.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"

#define REC_HEADER 8u                /* length u32, crc32c u32 */
#define SEG_NAME_SIZE 24             /* "%016x.seg" and its NUL */
#define SEG_NAME_LEN 20
#define SCAN_CHUNK (1u << 20)        /* recovery reads segments in pieces of this size */
#define CURSOR_FILE "cursor"
#define CURSOR_TMP "cursor.tmp"
#define CURSOR_LEN 26                /* 16 hex, space, 8 hex, newline */

const struct gw_spool_options spool_default_options = {
    .max_bytes = 256ull << 20,
    .segment_bytes = 4u << 20,
    .fsync_interval_ms = 200,
};

struct segment {
    uint64_t first;    /* sequence number of its first record: its name */
    uint64_t n;        /* valid records */
    uint64_t size;     /* bytes of valid records: reading stops here */
    uint64_t disk;     /* bytes on disk: more than size after a corrupt tail */
    uint64_t id;       /* unique for the spool's life (a name can be reused) */
};

struct spool_pos {
    uint64_t seq;      /* sequence number of the record here */
    uint64_t seg;      /* first sequence number of the segment holding it */
    uint64_t off;      /* its byte offset there */
    uint64_t ord;      /* records handed to the reader before it, since open */
};

/* A batch is one allocation: [batch_meta][records as on disk][record array]. */
struct batch_meta {
    struct spool_pos end;
};

/* What spool_read found to read: published bytes [off, end) of a segment. */
struct span {
    uint64_t seg, id;
    uint64_t off, end;
};

struct gw_spool {
    char *dir;                       /* for messages */
    int dirfd;                       /* the directory, flock()ed */
    struct gw_spool_options opt;

    pthread_mutex_t lock;
    pthread_cond_t readable;         /* a record was published, or spool_wake */
    pthread_cond_t flush_cond;       /* work for the flusher, or stop */

    /* Under lock. */
    struct segment *segs;
    size_t nsegs, segs_cap;
    uint64_t next_seq;               /* of the next record appended */
    uint64_t total_bytes;            /* sum of segs[].disk */
    uint64_t next_id;
    struct spool_pos committed;      /* the first record not delivered */
    struct spool_pos reader;         /* the next record to read */
    uint64_t reader_gen;             /* bumped whenever reader is moved by another call */
    bool wake;
    bool roll_requested;             /* a sync failed: go on in a new segment */
    uint64_t appended, delivered, dropped, corrupt;
    int wfd_shared;                  /* the appender's wfd, for the flusher */
    /* Work for the next flush. */
    bool pending;                    /* any of the following */
    struct timespec pending_since;
    bool data_dirty, dir_dirty, cursor_dirty;
    int *handoff;                    /* descriptors of closed segments: sync, close */
    size_t nhandoff, handoff_cap;
    bool stop;

    /* The appender's. */
    bool in_burst;                   /* between spool_burst_begin and _end */
    bool burst_published;            /* a record was published in it: wake the reader at its end */
    int wfd;                         /* the last segment, -1 until an append needs it */
    uint64_t wsize;                  /* its size */
    bool wbroken;                    /* its tail is uncertain: go on in a new segment */

    /* The reader's (spool_read). */
    int rfd;
    uint64_t rfd_id;
    uint64_t rec_avg;                /* bytes per record in the last batch */

    /* Under flush_lock: one flush at a time. */
    pthread_mutex_t flush_lock;
    uint64_t persisted;              /* the cursor on disk */
    bool have_persisted;
    bool flush_failing;              /* log a failing flush once, not every interval */

    pthread_t flusher;
    bool flusher_started;
};

/* ---- small helpers ------------------------------------------------- */

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;   /* names are written in lower case: one spelling per number */
}

/* Parses exactly 16 lower-case hex digits. */
static bool parse_hex16(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int d = hex_value(s[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

static void seg_name(char name[SEG_NAME_SIZE], uint64_t first)
{
    snprintf(name, SEG_NAME_SIZE, "%016" PRIx64 ".seg", first);
}

static struct timespec now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

static struct timespec ts_add_ms(struct timespec ts, long ms)
{
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static bool ts_before(struct timespec a, struct timespec b)
{
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* Reads len bytes at off, fewer only at the end of the file.  Returns 0
 * and *got, or a negative errno. */
static int pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
    size_t done = 0;
    *got = 0;
    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        buf = (const char *)buf + w;
        len -= (size_t)w;
    }
    return 0;
}

/* mkdir -p, new directories private to the daemon.  0 or a negative errno. */
static int make_dirs(const char *dir)
{
    char *path = strdup(dir);
    if (!path)
        return -ENOMEM;
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    free(path);
    return rc;
}

static void unlink_segment(struct gw_spool *s, uint64_t first)
{
    char name[SEG_NAME_SIZE];
    seg_name(name, first);
    if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
        log_warning("spool %s: cannot delete %s: %s", s->dir, name, strerror(errno));
}

/* ---- the segment table (under lock) -------------------------------- */

static int seg_push(struct gw_spool *s, uint64_t first, uint64_t n, uint64_t size, uint64_t disk)
{
    if (s->nsegs == s->segs_cap) {
        size_t cap = s->segs_cap ? 2 * s->segs_cap : 16;
        struct segment *p = realloc(s->segs, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        s->segs = p;
        s->segs_cap = cap;
    }
    s->segs[s->nsegs++] = (struct segment){ first, n, size, disk, s->next_id++ };
    s->total_bytes += disk;
    return 0;
}

static void seg_remove_oldest(struct gw_spool *s)
{
    s->total_bytes -= s->segs[0].disk;
    memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof *s->segs);
    s->nsegs--;
}

/* The index of the segment named first, or nsegs. */
static size_t seg_find(const struct gw_spool *s, uint64_t first)
{
    size_t lo = 0, hi = s->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].first < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nsegs && s->segs[lo].first == first ? lo : s->nsegs;
}

static struct spool_pos seg_start(const struct segment *g, uint64_t ord)
{
    return (struct spool_pos){ g->first, g->first, 0, ord };
}

static struct spool_pos seg_end(const struct segment *g, uint64_t ord)
{
    return (struct spool_pos){ g->first + g->n, g->first, g->size, ord };
}

/* Records of g with a sequence number in [from, to). */
static uint64_t seg_count_between(const struct segment *g, uint64_t from, uint64_t to)
{
    uint64_t lo = g->first > from ? g->first : from;
    uint64_t hi = g->first + g->n < to ? g->first + g->n : to;
    return hi > lo ? hi - lo : 0;
}

/* Under lock: there is work for the flush.  The flusher starts the
 * interval at the first piece of work after a flush. */
static void mark_pending(struct gw_spool *s)
{
    if (s->opt.fsync_interval_ms == 0 || s->pending)
        return;
    s->pending = true;
    s->pending_since = now_mono();
    pthread_cond_signal(&s->flush_cond);
}

/* ---- the cursor file ----------------------------------------------- */

static void cursor_format(char out[CURSOR_LEN + 1], uint64_t seq)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, seq);
    snprintf(out, CURSOR_LEN + 1, "%s %08" PRIx32 "\n", hex, crc32c(0, hex, 16));
}

/* Returns 0 and *seq, -ENOENT if there is no cursor, -EBADMSG if it is
 * damaged, or another negative errno. */
static int cursor_read(struct gw_spool *s, uint64_t *seq)
{
    int fd = openat(s->dirfd, CURSOR_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    char buf[CURSOR_LEN + 2], want[CURSOR_LEN + 1];
    size_t got = 0;
    int rc = pread_full(fd, buf, sizeof buf, 0, &got);
    close(fd);
    if (rc)
        return rc;
    uint64_t v;
    if (got != CURSOR_LEN || !parse_hex16(buf, &v))
        return -EBADMSG;
    cursor_format(want, v);
    if (memcmp(buf, want, CURSOR_LEN) != 0)
        return -EBADMSG;
    *seq = v;
    return 0;
}

/* Replaces the cursor file atomically.  0 or a negative errno (logged by
 * the caller).  A crash right after the rename can lose the new cursor
 * (the directory is not synced for it): delivery stays at least once. */
static int cursor_write(struct gw_spool *s, uint64_t seq)
{
    char buf[CURSOR_LEN + 1];
    cursor_format(buf, seq);
    int fd = openat(s->dirfd, CURSOR_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600);
    if (fd < 0)
        return -errno;
    int rc = write_full(fd, buf, CURSOR_LEN);
    if (!rc && fdatasync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && renameat(s->dirfd, CURSOR_TMP, s->dirfd, CURSOR_FILE) < 0)
        rc = -errno;
    return rc;
}

/* ---- flushing ------------------------------------------------------ */

/* Deletes the segments the cursor on disk is past (never the last one),
 * then syncs the directory.  Takes lock for each; called under flush_lock. */
static int delete_delivered(struct gw_spool *s, uint64_t cursor)
{
    bool any = false;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        if (s->nsegs < 2 || s->segs[0].first + s->segs[0].n > cursor) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        uint64_t first = s->segs[0].first;
        seg_remove_oldest(s);
        pthread_mutex_unlock(&s->lock);
        unlink_segment(s, first);
        any = true;
    }
    return any && fsync(s->dirfd) < 0 ? -errno : 0;
}

static void flush_report(struct gw_spool *s, const char *what, int err)
{
    if (err && !s->flush_failing)
        log_error("spool %s: cannot sync %s: %s (records may not be durable)", s->dir, what,
                  strerror(-err));
}

/*
 * One flush: the directory, the segments closed since the last flush, the
 * segment being written, then the cursor and the segments it releases.
 * Serialized by flush_lock; lock is only held to take the work.  Returns
 * 0 or the first error (logged once until a flush succeeds again).  After
 * a failed fdatasync the state of the file's pages is unknown, so the
 * appender is asked to go on in a new segment rather than to retry.
 */
static int flush_now(struct gw_spool *s)
{
    pthread_mutex_lock(&s->flush_lock);
    pthread_mutex_lock(&s->lock);
    bool dir = s->dir_dirty, data = s->data_dirty, cursor = s->cursor_dirty;
    int wfd = s->wfd_shared;
    int *fds = s->handoff;
    size_t nfds = s->nhandoff;
    uint64_t committed = s->committed.seq;
    s->handoff = NULL;
    s->nhandoff = s->handoff_cap = 0;
    s->dir_dirty = s->data_dirty = s->cursor_dirty = s->pending = false;
    pthread_mutex_unlock(&s->lock);

    int rc = 0, err;
    bool roll = false, dir_failed = false, cursor_failed = false;
    if (dir && fsync(s->dirfd) < 0) {
        rc = -errno;
        dir_failed = true;
        flush_report(s, "the directory", rc);
    }
    for (size_t i = 0; i < nfds; i++) {
        if (fdatasync(fds[i]) < 0) {
            err = -errno;
            flush_report(s, "a closed segment", err);
            rc = rc ? rc : err;
        }
        close(fds[i]);
    }
    free(fds);
    if (data && wfd >= 0 && fdatasync(wfd) < 0) {
        err = -errno;
        flush_report(s, "the segment being written", err);
        rc = rc ? rc : err;
        roll = true;
    }
    if (cursor) {
        err = cursor_write(s, committed);
        if (err) {
            cursor_failed = true;
            if (!s->flush_failing)
                log_error("spool %s: cannot write the cursor: %s", s->dir, strerror(-err));
            rc = rc ? rc : err;
        } else {
            s->persisted = committed;
            s->have_persisted = true;
        }
    }
    if (s->have_persisted && (err = delete_delivered(s, s->persisted)) != 0) {
        flush_report(s, "the directory", err);
        rc = rc ? rc : err;
    }
    if (rc || roll) {
        pthread_mutex_lock(&s->lock);
        s->dir_dirty |= dir_failed;
        s->cursor_dirty |= cursor_failed;
        s->roll_requested |= roll;
        if (s->dir_dirty || s->cursor_dirty)
            mark_pending(s);
        pthread_mutex_unlock(&s->lock);
    } else if (s->flush_failing) {
        log_info("spool %s: syncing works again", s->dir);
    }
    s->flush_failing = rc != 0;
    pthread_mutex_unlock(&s->flush_lock);
    return rc;
}

static void *flusher_main(void *arg)
{
    struct gw_spool *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        if (!s->pending) {
            pthread_cond_wait(&s->flush_cond, &s->lock);
            continue;
        }
        struct timespec due = ts_add_ms(s->pending_since, s->opt.fsync_interval_ms);
        if (ts_before(now_mono(), due)) {
            pthread_cond_timedwait(&s->flush_cond, &s->lock, &due);
            continue;
        }
        pthread_mutex_unlock(&s->lock);
        flush_now(s);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Work was queued outside the flusher's reach: with fsync_interval_ms = 0
 * the calling thread flushes now; otherwise the flusher will. */
static int flush_if_synchronous(struct gw_spool *s)
{
    return s->opt.fsync_interval_ms == 0 ? flush_now(s) : 0;
}

/* ---- recovery ------------------------------------------------------ */

/* Returns 0 and the sorted first sequence numbers of the segment files in
 * *firsts (caller frees), or a negative errno. */
static int list_segments(struct gw_spool *s, uint64_t **firsts, size_t *count)
{
    *firsts = NULL;
    *count = 0;
    int fd = fcntl(s->dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        return rc;
    }
    rewinddir(d);
    size_t n = 0, cap = 0;
    uint64_t *v = NULL;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        uint64_t first;
        if (len < 4 || strcmp(name + len - 4, ".seg") != 0)
            continue;
        struct stat st;
        if (len != SEG_NAME_LEN || !parse_hex16(name, &first) ||
            fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
            log_warning("spool %s: ignoring %s: not a segment file", s->dir, name);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            uint64_t *p = realloc(v, cap * sizeof *v);
            if (!p) {
                rc = -ENOMEM;
                break;
            }
            v = p;
        }
        v[n++] = first;
    }
    closedir(d);
    if (rc) {
        free(v);
        return rc;
    }
    for (size_t i = 1; i < n; i++) {          /* insertion sort: readdir order is nearly sorted */
        uint64_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    *firsts = v;
    *count = n;
    return 0;
}

/* A segment file being checked: a window of it in buf. */
struct scan {
    int fd;
    uint64_t disk;
    unsigned char *buf;                     /* SCAN_CHUNK bytes */
    uint64_t wstart, wlen;
};

/* Points *p at bytes [off, off + need) of the file (need <= SCAN_CHUNK,
 * off + need <= disk).  0, or -EIO if they cannot be read. */
static int scan_window(struct scan *sc, uint64_t off, size_t need, const unsigned char **p)
{
    if (off >= sc->wstart && off + need <= sc->wstart + sc->wlen) {
        *p = sc->buf + (off - sc->wstart);
        return 0;
    }
    size_t want = sc->disk - off < SCAN_CHUNK ? (size_t)(sc->disk - off) : SCAN_CHUNK;
    size_t got = 0;
    int rc = pread_full(sc->fd, sc->buf, want, off, &got);
    sc->wstart = off;
    sc->wlen = rc ? 0 : got;
    if (rc || got < need)
        return -EIO;
    *p = sc->buf;
    return 0;
}

struct scan_result {
    uint64_t n, size;                       /* valid records and their bytes */
    const char *why;                        /* what ended the segment early, or NULL */
    bool cursor_found;
    uint64_t cursor_off;
};

/* Checks records from the start of the file until the first invalid one,
 * at most max_n of them; notes where the record numbered *cursor is. */
static void scan_records(struct scan *sc, uint64_t first, uint64_t max_n, const uint64_t *cursor,
                         struct scan_result *r)
{
    uint64_t off = 0, n = 0;
    const unsigned char *p;
    *r = (struct scan_result){ 0 };
    for (;;) {
        if (cursor && first + n == *cursor) {
            r->cursor_found = true;
            r->cursor_off = off;
        }
        if (off == sc->disk)
            break;
        if (n == max_n) {
            r->why = "more records than up to the next segment";
            break;
        }
        if (sc->disk - off < REC_HEADER) {
            r->why = "short record header";
            break;
        }
        if (scan_window(sc, off, REC_HEADER, &p)) {
            r->why = "read error";
            break;
        }
        uint32_t len = get_le32(p), stored = get_le32(p + 4);
        uint32_t crc = crc32c(0, p, 4);
        if (len == 0 || len > GW_SPOOL_MAX_RECORD) {
            r->why = "impossible record length";
            break;
        }
        if (sc->disk - off - REC_HEADER < len) {
            r->why = "truncated record";
            break;
        }
        uint64_t at = off + REC_HEADER;
        for (uint32_t left = len; left > 0 && !r->why;) {
            size_t take = left < SCAN_CHUNK ? left : SCAN_CHUNK;
            if (scan_window(sc, at, take, &p)) {
                r->why = "read error";
                break;
            }
            crc = crc32c(crc, p, take);
            at += take;
            left -= (uint32_t)take;
        }
        if (r->why)
            break;
        if (crc != stored) {
            r->why = "checksum mismatch";
            break;
        }
        off = at;
        n++;
    }
    r->n = n;
    r->size = off;
}

/*
 * Checks the segment named first and adds it to the table.  next_first is
 * the next segment's (NULL for the newest, whose invalid tail is cut off
 * so that appends continue after its last valid record).  0 or a negative
 * errno (logged).
 */
static int recover_segment(struct gw_spool *s, struct scan *sc, uint64_t first,
                           const uint64_t *next_first, const uint64_t *cursor,
                           struct scan_result *r)
{
    char name[SEG_NAME_SIZE];
    seg_name(name, first);
    bool last = next_first == NULL;
    int fd = openat(s->dirfd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int rc = -errno;
        log_error("spool %s: %s: %s", s->dir, name, strerror(-rc));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    sc->fd = fd;
    sc->disk = (uint64_t)st.st_size;
    sc->wstart = sc->wlen = 0;
    /* first + n never overflows, and an older segment cannot claim numbers of the next */
    scan_records(sc, first, last ? UINT64_MAX - first : *next_first - first, cursor, r);
    uint64_t disk = sc->disk;
    if (r->why) {
        uint64_t skipped = disk - r->size;
        if (last) {
            s->corrupt++;
            log_warning("spool %s: %s: %s at byte %" PRIu64 " (record %" PRIu64 "): cutting off "
                        "%" PRIu64 " bytes (a torn or corrupt record, counted as 1); appends "
                        "continue after it", s->dir, name, r->why, r->size, first + r->n, skipped);
            if (ftruncate(fd, (off_t)r->size) < 0 || fsync(fd) < 0) {
                int rc = -errno;
                log_error("spool %s: %s: cannot cut off the invalid tail: %s", s->dir, name,
                          strerror(-rc));
                close(fd);
                return rc;
            }
            disk = r->size;
        } else {
            uint64_t lost = *next_first - (first + r->n);
            lost = lost ? lost : 1;
            s->corrupt += lost;
            log_warning("spool %s: %s: %s at byte %" PRIu64 " (record %" PRIu64 "): skipping the "
                        "rest of the segment, %" PRIu64 " bytes, %" PRIu64 " records", s->dir,
                        name, r->why, r->size, first + r->n, skipped, lost);
        }
    }
    close(fd);
    int rc = seg_push(s, first, r->n, r->size, disk);
    if (rc)
        log_error("spool %s: out of memory", s->dir);
    return rc;
}

/* Sets the committed and reader positions from the cursor file's value. */
static void place_cursor(struct gw_spool *s, bool have_cursor, uint64_t cursor,
                         const struct spool_pos *found)
{
    const struct segment *last = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    struct spool_pos end = last ? seg_end(last, 0)
                                : (struct spool_pos){ s->next_seq, s->next_seq, 0, 0 };
    if (!have_cursor) {
        /* written at once: from now on a missing cursor means a lost one */
        s->committed = s->nsegs ? seg_start(&s->segs[0], 0) : end;
        s->cursor_dirty = true;
    } else if (found) {
        s->committed = *found;
    } else {
        size_t i = 0;
        while (i < s->nsegs && s->segs[i].first <= cursor)
            i++;
        if (i < s->nsegs) {
            /* before the oldest record: its segment was dropped for the budget
             * (or deleted); further on: in a stretch lost to corruption, reported */
            if (i == 0)
                log_warning("spool %s: the cursor (%" PRIu64 ") is before the oldest record "
                            "(%" PRIu64 "), in a dropped segment: going on from there", s->dir,
                            cursor, s->segs[0].first);
            s->committed = seg_start(&s->segs[i], 0);
        } else {
            if (cursor > end.seq)
                log_warning("spool %s: the cursor (%" PRIu64 ") is past the last record "
                            "(%" PRIu64 "): clamped to it", s->dir, cursor, end.seq);
            s->committed = end;
        }
        s->cursor_dirty = s->committed.seq != cursor;
    }
    s->reader = s->committed;
    s->persisted = have_cursor ? s->committed.seq : 0;
    s->have_persisted = have_cursor;
}

/* Builds the table from the directory, checking every segment. */
static int recover(struct gw_spool *s)
{
    uint64_t *firsts, cursor = 0;
    size_t k;
    int rc = list_segments(s, &firsts, &k);
    if (rc) {
        log_error("spool %s: cannot list the directory: %s", s->dir, strerror(-rc));
        return rc;
    }
    int crc = cursor_read(s, &cursor);
    bool have_cursor = crc == 0;
    if (crc && crc != -ENOENT)
        log_warning("spool %s: the cursor file is damaged (%s): replaying from the oldest record",
                    s->dir, strerror(-crc));
    else if (crc == -ENOENT && k > 0)
        log_warning("spool %s: no cursor file: replaying from the oldest record", s->dir);

    struct scan sc = { .fd = -1 };
    if (k > 0 && !(sc.buf = malloc(SCAN_CHUNK))) {
        log_error("spool %s: out of memory", s->dir);
        free(firsts);
        return -ENOMEM;
    }
    struct spool_pos found;
    bool placed = false, deleted = false;
    for (size_t i = 0; i < k && !rc; i++) {
        const uint64_t *next = i + 1 < k ? &firsts[i + 1] : NULL;
        if (have_cursor && next && *next <= cursor) {
            unlink_segment(s, firsts[i]);    /* delivered before the restart */
            deleted = true;
            continue;
        }
        struct scan_result r = { 0 };
        rc = recover_segment(s, &sc, firsts[i], next, have_cursor ? &cursor : NULL, &r);
        if (!rc && r.cursor_found && !placed) {
            found = (struct spool_pos){ cursor, firsts[i], r.cursor_off, 0 };
            placed = true;
        }
    }
    free(sc.buf);
    free(firsts);
    if (rc)
        return rc;
    if (deleted && fsync(s->dirfd) < 0)
        log_warning("spool %s: cannot sync the directory: %s", s->dir, strerror(errno));
    const struct segment *last = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    s->next_seq = last ? last->first + last->n : have_cursor ? cursor : 0;
    place_cursor(s, have_cursor, cursor, placed ? &found : NULL);
    return 0;
}

/* Opens the newest segment for appending if it has room. */
static int open_last_segment(struct gw_spool *s)
{
    if (s->nsegs == 0 || s->segs[s->nsegs - 1].size >= s->opt.segment_bytes)
        return 0;
    const struct segment *last = &s->segs[s->nsegs - 1];
    char name[SEG_NAME_SIZE];
    seg_name(name, last->first);
    int fd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int rc = -errno;
        log_error("spool %s: %s: %s", s->dir, name, strerror(-rc));
        return rc;
    }
    s->wfd = s->wfd_shared = fd;
    s->wsize = last->size;
    return 0;
}

/* ---- appending ----------------------------------------------------- */

/* Under lock: hands a closed segment's descriptor to the next flush. */
static int handoff_locked(struct gw_spool *s, int fd)
{
    if (s->nhandoff == s->handoff_cap) {
        size_t cap = s->handoff_cap ? 2 * s->handoff_cap : 4;
        int *p = realloc(s->handoff, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        s->handoff = p;
        s->handoff_cap = cap;
    }
    s->handoff[s->nhandoff++] = fd;
    mark_pending(s);
    return 0;
}

/* Starts a new segment at next_seq (or starts an empty last one again). */
static int roll(struct gw_spool *s)
{
    bool sync_old = s->opt.fsync_interval_ms > 0;
    pthread_mutex_lock(&s->lock);
    uint64_t first = s->next_seq;
    int old = s->wfd;
    s->wfd_shared = -1;
    if (old >= 0 && sync_old && handoff_locked(s, old) == 0)
        old = -1;                            /* the flusher syncs and closes it */
    pthread_mutex_unlock(&s->lock);
    if (old >= 0) {
        if (sync_old)
            fdatasync(old);
        close(old);
    }
    s->wfd = -1;

    char name[SEG_NAME_SIZE];
    seg_name(name, first);
    int fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC |
                    O_NOFOLLOW, 0600);
    if (fd < 0) {
        int rc = -errno;
        log_error("spool %s: cannot create %s: %s", s->dir, name, strerror(-rc));
        return rc;
    }
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    struct segment *last = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    if (last && last->n == 0 && last->first == first) {
        /* an empty last segment (a failed first write) has this very name */
        s->total_bytes -= last->disk;
        last->size = last->disk = 0;
        last->id = s->next_id++;
    } else {
        rc = seg_push(s, first, 0, 0, 0);
    }
    if (!rc) {
        s->wfd_shared = fd;
        s->dir_dirty = true;
        mark_pending(s);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        close(fd);
        unlinkat(s->dirfd, name, 0);
        return rc;
    }
    s->wfd = fd;
    s->wsize = 0;
    s->wbroken = false;
    return 0;
}

/* Drops the oldest segments until a record of rec bytes fits the budget,
 * counting their undelivered records; logs once per call that dropped. */
static void enforce_budget(struct gw_spool *s, uint64_t rec)
{
    uint64_t segs = 0, recs = 0, bytes = 0, total_dropped = 0;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        if (s->nsegs < 2 || s->total_bytes + rec <= s->opt.max_bytes) {
            total_dropped = s->dropped;
            pthread_mutex_unlock(&s->lock);
            break;
        }
        struct segment g = s->segs[0];
        seg_remove_oldest(s);
        uint64_t undelivered = seg_count_between(&g, s->committed.seq, UINT64_MAX);
        /* records of g already handed to the reader keep their numbering (ord) */
        uint64_t handed = seg_count_between(&g, s->committed.seq, s->reader.seq);
        const struct segment *oldest = &s->segs[0];
        s->dropped += undelivered;
        if (s->committed.seq < oldest->first) {
            s->committed = seg_start(oldest, s->committed.ord + handed);
            s->cursor_dirty = true;
        }
        if (s->reader.seq < oldest->first) {
            s->reader = s->committed;
            s->reader_gen++;
        }
        s->dir_dirty = true;
        mark_pending(s);
        pthread_mutex_unlock(&s->lock);
        unlink_segment(s, g.first);
        segs++;
        recs += undelivered;
        bytes += g.disk;
    }
    if (segs == 0)
        return;
    /* (only delivered records: segments the flusher had not deleted yet) */
    gw_log(recs ? GW_LOG_WARNING : GW_LOG_DEBUG,
           "spool %s: over its budget of %" PRIu64 " bytes: dropped the oldest %" PRIu64
           " segment(s), %" PRIu64 " bytes, %" PRIu64 " undelivered records (%" PRIu64
           " dropped since open)", s->dir, s->opt.max_bytes, segs, bytes, recs, total_dropped);
    flush_if_synchronous(s);
}

/* Before writing a record of rec bytes: a segment to write to, room in
 * the budget.  0 or a negative errno (logged). */
static int append_prepare(struct gw_spool *s, uint64_t rec)
{
    pthread_mutex_lock(&s->lock);
    if (s->next_seq == UINT64_MAX) {
        pthread_mutex_unlock(&s->lock);
        log_error("spool %s: sequence numbers used up", s->dir);
        return -EOVERFLOW;
    }
    bool roll_now = s->roll_requested || s->wfd < 0 || s->wbroken ||
                    s->wsize >= s->opt.segment_bytes;
    bool over = s->total_bytes + rec > s->opt.max_bytes;
    s->roll_requested = false;
    pthread_mutex_unlock(&s->lock);
    if (roll_now) {
        int rc = roll(s);
        if (rc) {
            s->wbroken = true;               /* try again at the next append */
            return rc;
        }
    }
    if (roll_now || over)
        enforce_budget(s, rec);
    return 0;
}

/* The written record could not be completed: cut it off again. */
static void append_undo(struct gw_spool *s)
{
    if (ftruncate(s->wfd, (off_t)s->wsize) < 0) {
        log_error("spool %s: cannot cut off a failed record (%s): starting a new segment",
                  s->dir, strerror(errno));
        s->wbroken = true;
    }
}

/* fsync_interval_ms = 0: the record (and the directory entry of a new
 * segment) on disk before the append returns. */
static int append_sync(struct gw_spool *s)
{
    pthread_mutex_lock(&s->lock);
    bool dir = s->dir_dirty;
    s->dir_dirty = false;
    pthread_mutex_unlock(&s->lock);
    int rc = 0;
    if (dir && fsync(s->dirfd) < 0) {
        rc = -errno;
        pthread_mutex_lock(&s->lock);
        s->dir_dirty = true;
        pthread_mutex_unlock(&s->lock);
    } else if (fdatasync(s->wfd) < 0) {
        rc = -errno;
        s->wbroken = true;                   /* its pages' state is unknown now */
    }
    if (rc)
        log_error("spool %s: cannot sync a record: %s", s->dir, strerror(-rc));
    return rc;
}

static void publish(struct gw_spool *s, uint64_t rec)
{
    pthread_mutex_lock(&s->lock);
    struct segment *g = &s->segs[s->nsegs - 1];
    g->n++;
    g->size += rec;
    g->disk += rec;
    s->total_bytes += rec;
    s->next_seq++;
    s->appended++;
    if (s->opt.fsync_interval_ms > 0) {
        s->data_dirty = true;
        mark_pending(s);
    }
    if (!s->in_burst)
        pthread_cond_signal(&s->readable);
    pthread_mutex_unlock(&s->lock);
    s->burst_published |= s->in_burst;
    s->wsize += rec;
}

void spool_burst_begin(struct gw_spool *s)
{
    if (s)
        s->in_burst = true;
}

void spool_burst_end(struct gw_spool *s)
{
    if (!s || !s->in_burst)
        return;
    s->in_burst = false;
    if (!s->burst_published)
        return;
    s->burst_published = false;
    pthread_mutex_lock(&s->lock);
    pthread_cond_signal(&s->readable);
    pthread_mutex_unlock(&s->lock);
}

int spool_append(struct gw_spool *s, const void *data, size_t len)
{
    if (!s || !data || len == 0 || len > GW_SPOOL_MAX_RECORD)
        return -EINVAL;
    uint64_t rec = REC_HEADER + len;
    int rc = append_prepare(s, rec);
    if (rc)
        return rc;
    unsigned char header[REC_HEADER];
    put_le32(header, (uint32_t)len);
    put_le32(header + 4, crc32c(crc32c(0, header, 4), data, len));
    struct iovec iov[2] = { { header, REC_HEADER }, { (void *)data, len } };
    ssize_t w;
    do
        w = writev(s->wfd, iov, 2);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)rec) {
        rc = w < 0 ? -errno : -ENOSPC;       /* a short write: the disk is full */
        log_error("spool %s: cannot append a %zu-byte record: %s", s->dir, len, strerror(-rc));
        append_undo(s);
        return rc;
    }
    if (s->opt.fsync_interval_ms == 0 && (rc = append_sync(s)) != 0) {
        append_undo(s);
        return rc;
    }
    publish(s, rec);
    return 0;
}

/* ---- reading ------------------------------------------------------- */

/* Under lock: the published bytes at the reader's position, moving it
 * past the ends of older segments.  false if there is nothing to read. */
static bool reader_span(struct gw_spool *s, struct span *sp)
{
    struct spool_pos *p = &s->reader;
    size_t i = seg_find(s, p->seg);
    if (i == s->nsegs) {
        /* its segment was delivered or dropped: reading goes on in the next */
        for (i = 0; i < s->nsegs && s->segs[i].first < p->seq; i++)
            ;
        if (i == s->nsegs)
            return false;
        *p = seg_start(&s->segs[i], p->ord);
    }
    for (;;) {
        const struct segment *g = &s->segs[i];
        if (p->off < g->size) {
            *sp = (struct span){ g->first, g->id, p->off, g->size };
            return true;
        }
        if (i + 1 == s->nsegs)
            return false;
        *p = seg_start(&s->segs[++i], p->ord);
    }
}

/* Under lock: 1 with *sp when there is something to read, 0 on timeout
 * or wake. */
static int wait_for_data(struct gw_spool *s, int timeout_ms, const struct timespec *deadline,
                         struct span *sp)
{
    for (;;) {
        if (reader_span(s, sp))
            return 1;
        if (s->wake) {
            s->wake = false;
            return 0;
        }
        if (timeout_ms == 0)
            return 0;
        if (timeout_ms < 0)
            pthread_cond_wait(&s->readable, &s->lock);
        else if (pthread_cond_timedwait(&s->readable, &s->lock, deadline) == ETIMEDOUT)
            return reader_span(s, sp) ? 1 : 0;
    }
}

/* The segment being read turned out damaged (changed on disk since it was
 * checked, a bad block, or its file is gone): the reader skips to its end
 * as published now, and if it is the segment being written, the appender
 * goes on in a new one. */
static void skip_damaged(struct gw_spool *s, const struct span *sp, uint64_t gen, const char *why)
{
    pthread_mutex_lock(&s->lock);
    size_t i = seg_find(s, sp->seg);
    if (s->reader_gen != gen || i == s->nsegs || s->segs[i].id != sp->id ||
        s->reader.seg != sp->seg || s->reader.off != sp->off) {
        pthread_mutex_unlock(&s->lock);      /* moved meanwhile: look again */
        return;
    }
    const struct segment *g = &s->segs[i];
    uint64_t lost = g->first + g->n - s->reader.seq, bytes = g->size - s->reader.off;
    s->corrupt += lost;
    s->reader = seg_end(g, s->reader.ord);
    if (i + 1 == s->nsegs)
        s->roll_requested = true;            /* new records go to a sound file */
    pthread_mutex_unlock(&s->lock);
    char name[SEG_NAME_SIZE];
    seg_name(name, sp->seg);
    log_error("spool %s: %s: %s at byte %" PRIu64 " while reading: skipped %" PRIu64 " records "
              "(%" PRIu64 " bytes)", s->dir, name, why, sp->off, lost, bytes);
}

/* The reader's descriptor on the span's segment. */
static int reader_open(struct gw_spool *s, const struct span *sp)
{
    if (s->rfd >= 0 && s->rfd_id == sp->id)
        return 0;
    if (s->rfd >= 0)
        close(s->rfd);
    char name[SEG_NAME_SIZE];
    seg_name(name, sp->seg);
    s->rfd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    s->rfd_id = sp->id;
    return s->rfd < 0 ? -errno : 0;
}

/* The most a batch can need: max_bytes of payload in up to max_records
 * records, never more than is there. */
static size_t read_limit(uint64_t avail, size_t max_records, size_t max_bytes)
{
    uint64_t recs = avail / (REC_HEADER + 1) + 1;
    if (recs > max_records)
        recs = max_records;
    uint64_t want = (uint64_t)max_bytes + REC_HEADER * recs;
    if (want < max_bytes || want > avail)    /* wrapped, or more than there is */
        want = avail;
    if (want > SIZE_MAX / 4)
        want = SIZE_MAX / 4;
    return (size_t)want;
}

#define META_SIZE ((sizeof(struct batch_meta) + 15) & ~(size_t)15)
#define MIN_READ 4096u

/* A batch being read: its one block, [meta][have bytes of the span]. */
struct reading {
    unsigned char *buf;
    size_t have;
};

/* Grows the block and reads the span up to `to` bytes.  0, -EIO (a read
 * error), -ENODATA (the file is shorter than published), or -ENOMEM. */
static int read_more(struct gw_spool *s, const struct span *sp, struct reading *rd, size_t to)
{
    unsigned char *nb = realloc(rd->buf, META_SIZE + to);
    if (!nb)
        return -ENOMEM;
    rd->buf = nb;
    size_t got = 0;
    int rc = pread_full(s->rfd, nb + META_SIZE + rd->have, to - rd->have, sp->off + rd->have, &got);
    if (rc)
        return rc == -ENOMEM ? rc : -EIO;
    if (got < to - rd->have)
        return -ENODATA;
    rd->have = to;
    return 0;
}

/* How far to read next: at least need, else double what was read, within limit. */
static size_t grow_to(size_t have, size_t need, size_t limit)
{
    size_t twice = have > limit / 2 ? limit : 2 * have;
    return need > twice ? need : twice;
}

/* Outside the lock: reads records from sp (which starts at *from) into a
 * new batch.  The first read is sized from the average record seen so
 * far, so a batch is usually one pread into one block; the block grows
 * when records are larger, and is trimmed at the end.  Returns n > 0,
 * -EAGAIN if the reader must look again (the segment was damaged and
 * skipped, or vanished), or a negative errno. */
static int read_span(struct gw_spool *s, const struct span *sp, const struct spool_pos *from,
                     size_t max_records, size_t max_bytes, uint64_t gen,
                     struct gw_spool_batch *batch)
{
    int rc = reader_open(s, sp);
    if (rc == -ENOENT) {
        skip_damaged(s, sp, gen, "segment file missing");
        return -EAGAIN;
    }
    if (rc)
        return rc;
    uint64_t avail = sp->end - sp->off;
    size_t limit = read_limit(avail, max_records, max_bytes);
    uint64_t guess = s->rec_avg * ((uint64_t)max_records + 1);
    if (guess / ((uint64_t)max_records + 1) != s->rec_avg || guess > limit)
        guess = limit;
    if (guess < MIN_READ)
        guess = limit < MIN_READ ? limit : MIN_READ;
    struct reading rd = { NULL, 0 };
    rc = read_more(s, sp, &rd, (size_t)guess);
    const char *bad = NULL;
    size_t used = 0, n = 0;
    uint64_t payload = 0;
    while (!rc && n < max_records && used < avail) {
        const unsigned char *rec = rd.buf + META_SIZE + used;
        if (rd.have - used < REC_HEADER) {
            if (avail - used < REC_HEADER) {
                bad = "short record header";
                break;
            }
            if (n > 0 && used + REC_HEADER > limit)
                break;
            rc = read_more(s, sp, &rd, grow_to(rd.have, used + REC_HEADER, limit));
            continue;
        }
        uint32_t len = get_le32(rec);
        if (len == 0 || len > GW_SPOOL_MAX_RECORD || len > avail - used - REC_HEADER) {
            bad = "impossible record length";
            break;
        }
        if (n > 0 && payload + len > max_bytes)
            break;
        if (rd.have - used - REC_HEADER < len) {
            /* (the first record may be larger than max_bytes: it is read whole) */
            rc = read_more(s, sp, &rd, grow_to(rd.have, used + REC_HEADER + len, limit));
            continue;
        }
        if (crc32c(crc32c(0, rec, 4), rec + REC_HEADER, len) != get_le32(rec + 4)) {
            bad = "checksum mismatch";
            break;
        }
        payload += len;
        used += REC_HEADER + len;
        n++;
    }
    if (n == 0) {
        free(rd.buf);
        if (rc == -EIO)
            bad = "read error";
        else if (rc == -ENODATA)
            bad = "segment shorter than written";
        else if (rc)
            return rc;
        skip_damaged(s, sp, gen, bad ? bad : "no record");
        return -EAGAIN;
    }
    /* (a problem after the first record is met again, first, by the next read) */
    s->rec_avg = used / n;
    /* the record array goes after the records: the same block, trimmed to size */
    size_t array_at = META_SIZE + ((used + 7) & ~(size_t)7);
    unsigned char *buf = realloc(rd.buf, array_at + n * sizeof(struct gw_spool_record));
    if (!buf) {
        free(rd.buf);
        return -ENOMEM;
    }
    const unsigned char *raw = buf + META_SIZE;
    struct gw_spool_record *records = (struct gw_spool_record *)(void *)(buf + array_at);
    for (size_t i = 0, at = 0; i < n; i++) {
        uint32_t len = get_le32(raw + at);
        records[i] = (struct gw_spool_record){ raw + at + REC_HEADER, len };
        at += REC_HEADER + len;
    }
    struct batch_meta *meta = (struct batch_meta *)(void *)buf;
    meta->end = (struct spool_pos){ from->seq + n, sp->seg, sp->off + used, from->ord + n };
    *batch = (struct gw_spool_batch){ records, n, meta->end.seq, buf };
    return (int)n;
}

int spool_read(struct gw_spool *s, size_t max_records, size_t max_bytes, int timeout_ms,
               struct gw_spool_batch *batch)
{
    if (!batch)
        return -EINVAL;
    *batch = (struct gw_spool_batch){ 0 };
    if (!s || max_records == 0)
        return -EINVAL;
    if (max_records > INT_MAX)
        max_records = INT_MAX;
    struct timespec deadline = ts_add_ms(now_mono(), timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        struct span sp;
        pthread_mutex_lock(&s->lock);
        int rc = wait_for_data(s, timeout_ms, &deadline, &sp);
        struct spool_pos from = s->reader;
        uint64_t gen = s->reader_gen;
        pthread_mutex_unlock(&s->lock);
        if (rc <= 0)
            return rc;
        rc = read_span(s, &sp, &from, max_records, max_bytes, gen, batch);
        if (rc == -EAGAIN)
            continue;
        if (rc < 0)
            return rc;
        pthread_mutex_lock(&s->lock);
        bool moved = s->reader_gen != gen;
        if (!moved)
            s->reader = ((const struct batch_meta *)batch->buffer)->end;
        pthread_mutex_unlock(&s->lock);
        if (!moved)
            return rc;
        spool_batch_free(batch);             /* dropped or rewound meanwhile */
    }
}

int spool_commit(struct gw_spool *s, const struct gw_spool_batch *batch)
{
    if (!s || !batch)
        return -EINVAL;
    if (!batch->buffer || batch->n == 0)
        return 0;
    const struct batch_meta *meta = batch->buffer;
    pthread_mutex_lock(&s->lock);
    bool moved = meta->end.seq > s->committed.seq;
    if (moved) {
        if (meta->end.ord > s->committed.ord)
            s->delivered += meta->end.ord - s->committed.ord;
        s->committed = meta->end;
        if (s->reader.seq < s->committed.seq) {   /* a batch read before a rewind */
            s->reader = s->committed;
            s->reader_gen++;
        }
        s->cursor_dirty = true;
        mark_pending(s);
    }
    pthread_mutex_unlock(&s->lock);
    return moved ? flush_if_synchronous(s) : 0;
}

void spool_rewind(struct gw_spool *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->reader = s->committed;
    s->reader_gen++;
    pthread_mutex_unlock(&s->lock);
}

void spool_batch_free(struct gw_spool_batch *batch)
{
    if (!batch)
        return;
    free(batch->buffer);
    *batch = (struct gw_spool_batch){ 0 };
}

/* ---- the rest of the API ------------------------------------------- */

void spool_stats(struct gw_spool *s, struct gw_spool_stats *out)
{
    if (!out)
        return;
    *out = (struct gw_spool_stats){ 0 };
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    out->appended = s->appended;
    out->delivered = s->delivered;
    out->dropped = s->dropped;
    out->corrupt = s->corrupt;
    const struct spool_pos *c = &s->committed;
    for (size_t i = 0; i < s->nsegs; i++) {
        const struct segment *g = &s->segs[i];
        if (g->first + g->n <= c->seq)
            continue;
        out->depth_records += seg_count_between(g, c->seq, UINT64_MAX);
        out->depth_bytes += g->size - (c->seg == g->first && c->off <= g->size ? c->off : 0);
    }
    pthread_mutex_unlock(&s->lock);
}

int spool_sync(struct gw_spool *s)
{
    return s ? flush_now(s) : -EINVAL;
}

void spool_wake(struct gw_spool *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->wake = true;
    pthread_cond_broadcast(&s->readable);
    pthread_mutex_unlock(&s->lock);
}

static void spool_free(struct gw_spool *s)
{
    if (s->wfd >= 0)
        close(s->wfd);
    if (s->rfd >= 0)
        close(s->rfd);
    for (size_t i = 0; i < s->nhandoff; i++)
        close(s->handoff[i]);
    if (s->dirfd >= 0)
        close(s->dirfd);               /* releases the flock */
    pthread_cond_destroy(&s->readable);
    pthread_cond_destroy(&s->flush_cond);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->flush_lock);
    free(s->handoff);
    free(s->segs);
    free(s->dir);
    free(s);
}

void spool_close(struct gw_spool *s)
{
    if (!s)
        return;
    if (s->flusher_started) {
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->flush_cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->flusher, NULL);
    }
    flush_now(s);
    spool_free(s);
}

static int spool_init(struct gw_spool *s, const char *dir, const struct gw_spool_options *opt)
{
    s->dirfd = s->wfd = s->wfd_shared = s->rfd = -1;
    s->opt = *opt;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->readable, &attr);
    pthread_cond_init(&s->flush_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->flush_lock, NULL);
    return (s->dir = strdup(dir)) ? 0 : -ENOMEM;
}

/* Takes the directory for this spool alone. */
static int spool_lock_dir(struct gw_spool *s)
{
    int rc = make_dirs(s->dir);
    if (!rc && (s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = -errno;
    if (rc) {
        log_error("spool %s: cannot create or open the directory: %s", s->dir, strerror(-rc));
        return rc;
    }
    if (flock(s->dirfd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        log_error("spool %s: %s", s->dir,
                  rc == -EBUSY ? "already in use by another spool" : strerror(-rc));
        return rc;
    }
    if (unlinkat(s->dirfd, CURSOR_TMP, 0) < 0 && errno != ENOENT)
        log_warning("spool %s: cannot remove %s: %s", s->dir, CURSOR_TMP, strerror(errno));
    return 0;
}

int spool_open(const char *dir, const struct gw_spool_options *options, struct gw_spool **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    const struct gw_spool_options *o = options ? options : &spool_default_options;
    if (!dir || !*dir || o->segment_bytes == 0 || o->fsync_interval_ms < 0 ||
        o->max_bytes / 2 < o->segment_bytes) {
        log_error("spool %s: invalid options (the budget must hold two segments)",
                  dir ? dir : "(null)");
        return -EINVAL;
    }
    struct gw_spool *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = spool_init(s, dir, o);
    if (rc)
        log_error("spool %s: out of memory", dir);
    else
        rc = spool_lock_dir(s);
    if (!rc)
        rc = recover(s);
    if (!rc)
        rc = open_last_segment(s);
    if (!rc && s->cursor_dirty)
        rc = flush_now(s);
    if (!rc && o->fsync_interval_ms > 0) {
        rc = -pthread_create(&s->flusher, NULL, flusher_main, s);
        s->flusher_started = rc == 0;
        if (rc)
            log_error("spool %s: cannot start the flusher: %s", dir, strerror(-rc));
    }
    if (rc) {                          /* (each step logged its own failure) */
        spool_free(s);
        return rc;
    }
    struct gw_spool_stats st;
    spool_stats(s, &st);
    log_info("spool %s: %" PRIu64 " records (%" PRIu64 " bytes) waiting in %zu segment(s)",
             s->dir, st.depth_records, st.depth_bytes, s->nsegs);
    *out = s;
    return 0;
}
