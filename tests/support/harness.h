/*
 * Test harness: start and stop the processes tests stand on (the fake
 * Modbus device gw-testdev, socat pty pairs, the daemon and its tools),
 * capture a program's output, write temporary files.
 *
 * Conventions: functions return 0 or a negative errno and print a clear
 * message on stderr when they fail. Readiness is awaited by reading what
 * a process prints, never by sleeping. Every process started here gets
 * SIGTERM if the test process dies first, and is stopped by its pid.
 * Temporary files live in one private mkdtemp directory per test process,
 * removed when the process exits normally.
 */
#ifndef GW_TEST_HARNESS_H
#define GW_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* ---- gw-testdev ---------------------------------------------------- */

struct testdev {
    pid_t pid;      /* 0 when not running */
    int port;       /* TCP port on 127.0.0.1; 0 for an RTU device */
};

/*
 * Starts gw-testdev with extra_args (a NULL-terminated list of flags, see
 * gw-testdev --help; NULL for none) and waits up to 10 s for its READY
 * line. Fills dev. Returns 0, -ETIMEDOUT, or another negative errno (the
 * device exited early, e.g. on a bad flag: its stderr says why).
 */
int testdev_start(struct testdev *dev, const char *const extra_args[]);

/*
 * Stops the device: SIGTERM, then SIGKILL after 5 s. Returns 0 if it exited
 * with status 0, -EIO if it exited otherwise or had to be killed.
 * Does nothing and returns 0 if dev->pid is 0.
 */
int testdev_stop(struct testdev *dev);

/* One line of a --log file: "unit fc address count". */
struct testdev_request {
    unsigned unit, fc, address, count;
};

struct testdev_log {
    size_t total;                   /* requests logged */
    size_t by_fc[256];
    size_t by_unit[256];
    size_t non_read;                /* requests with a fc outside 1..4 */
    struct testdev_request *requests;   /* total entries, in log order */
};

/*
 * Reads and tallies a --log file. A missing file counts as empty.
 * Returns 0, -EBADMSG on a malformed line, or a negative errno.
 * Free with testdev_log_free().
 */
int testdev_log_read(const char *path, struct testdev_log *log);
void testdev_log_free(struct testdev_log *log);

/* ---- socat pty pair ------------------------------------------------ */

struct pty_pair {
    pid_t pid;      /* socat */
    int errfd;      /* socat's stderr, kept open until stopped */
    char a[64];     /* e.g. /dev/pts/3: the client side by convention */
    char b[64];     /* the device side */
};

/*
 * Runs `socat -d -d pty,raw,echo=0 pty,raw,echo=0` and waits (10 s at
 * most) until both pty names are known and socat is transferring data.
 * Returns 0 or a negative errno (-ENOENT if socat is not installed).
 */
int pty_pair_start(struct pty_pair *p);
int pty_pair_stop(struct pty_pair *p);

/* ---- processes ----------------------------------------------------- */

/*
 * Runs argv (argv[0] looked up in PATH if it has no slash) with stdin from
 * /dev/null, captures stdout and stderr fully and waits for it to exit.
 * *out and *err receive NUL-terminated malloc'd copies (caller frees; pass
 * NULL to discard); *status the wait status (may be NULL).
 * After timeout_s seconds the program is killed (SIGKILL, by pid) and
 * -ETIMEDOUT is returned, with what it printed so far still captured.
 * Returns 0 when the program ran to its end, whatever its exit status.
 */
int run_capture(const char *const argv[], char **out, char **err,
                int timeout_s, int *status);

/*
 * Starts argv in the background. With log_path, its stdout and stderr are
 * appended to that file; otherwise they are inherited. Returns 0 and the
 * pid, or a negative errno (-ENOENT if the program cannot be run).
 */
int spawn_process(const char *const argv[], pid_t *pid);
int spawn_process_logged(const char *const argv[], const char *log_path,
                         pid_t *pid);

/*
 * Waits up to timeout_ms for pid to exit. Returns 0 and *status (may be
 * NULL), -ETIMEDOUT if it is still running, or a negative errno.
 */
int wait_process(pid_t pid, int timeout_ms, int *status);

/*
 * SIGTERM, wait up to 10 s, then SIGKILL. Returns 0 and the wait status in
 * *status (may be NULL), or a negative errno. -ETIMEDOUT means it had to be
 * killed (and has been reaped).
 */
int stop_process(pid_t pid, int *status);

/*
 * Waits until the file at path contains needle (the file may not exist
 * yet), up to timeout_ms. Uses inotify: the wait ends as soon as the file
 * is written. Returns 0 or -ETIMEDOUT.
 */
int wait_file_contains(const char *path, const char *needle, int timeout_ms);

/* ---- temporary files ----------------------------------------------- */

/* The private temporary directory (created on first use), or NULL. */
const char *harness_tmpdir(void);

/* Writes contents to a new uniquely named file in the private directory;
 * its path goes to path_out (size n). Returns 0 or a negative errno. */
int write_temp_file(char *path_out, size_t n, const char *contents);

/* Writes contents to relpath (e.g. "profiles/meter.conf") under the private
 * directory, creating directories as needed; path_out may be NULL. */
int write_temp_file_named(const char *relpath, const char *contents,
                          char *path_out, size_t n);

/* Creates a new empty directory in the private directory (e.g. a spool
 * directory). Returns 0 or a negative errno. */
int make_temp_dir(char *path_out, size_t n);

/* Puts "<private dir>/name" in path_out without creating anything, e.g.
 * for a --log file. Returns 0 or -ENAMETOOLONG. */
int temp_path(char *path_out, size_t n, const char *name);

#endif
