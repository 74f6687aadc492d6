/*
 * Integration test support: the real greenwatchd and greenwatch run as
 * child processes against gw-testdev (tests/support/harness.h), their
 * stdout read line by line with deadlines, their JSON samples parsed.
 *
 * Conventions are the harness's: 0 or a negative errno, readiness awaited
 * by reading what a process prints (never by sleeping), every process
 * stopped by its pid.
 */
#ifndef GW_ITEST_H
#define GW_ITEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <CUnit/CUnit.h>
#include <cJSON.h>

#include "harness.h"

#define GREENWATCHD GW_BUILD_DIR "/daemon/greenwatchd"
#define GREENWATCH GW_BUILD_DIR "/tools/greenwatch/greenwatch"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The blocks every test configuration starts with. */
#define CONFIG_HEAD                                                      \
    "site = { id = \"itest\"; name = \"Integration\"; };\n"              \
    "daemon = { plugin_dir = \"" GW_TEST_PLUGIN_DIR "\"; state_file = \"alarms.json\"; spool_dir = \"spool\"; };\n"

/* Like CU_ASSERT, and on failure jumps to label (where the test stops
 * what it started). */
#define REQUIRE(cond, label)                                             \
    do {                                                                 \
        bool require_ok_ = (cond);                                       \
        CU_assertImplementation(require_ok_, __LINE__, "REQUIRE(" #cond ")", \
                                __FILE__, "", CU_FALSE);                 \
        if (!require_ok_)                                                \
            goto label;                                                  \
    } while (0)

long long mono_ms(void);

/* ---- a program in the background ----------------------------------- */

struct proc {
    pid_t pid;                  /* 0 once reaped */
    int out;                    /* its stdout, -1 when closed */
    char err_path[512];         /* its stderr goes to this file */
    char buf[65536];            /* stdout read but not yet taken */
    size_t len;
    bool eof;
};

/*
 * Starts argv (an absolute path) with stdin from /dev/null, stdout into a
 * pipe read by proc_read_line(), stderr appended to a new file in the
 * test's private directory.  Returns 0 or a negative errno.
 */
int proc_start(struct proc *p, const char *const argv[]);

/*
 * The next complete stdout line (without its newline) within timeout_ms.
 * Returns its length, -ETIMEDOUT, or -EPIPE at end of output; an
 * unterminated last line at end of output is returned as -EBADMSG with
 * its text in line.
 */
int proc_read_line(struct proc *p, int timeout_ms, char *line, size_t n);

/* Sends sig to the process (by pid).  Returns 0 or a negative errno. */
int proc_kill(struct proc *p, int sig);

/* Waits up to timeout_ms for it to exit; 0 and *status, or -ETIMEDOUT. */
int proc_wait(struct proc *p, int timeout_ms, int *status);

/* SIGTERM, wait (10 s, then SIGKILL), close.  Safe to call twice. */
int proc_stop(struct proc *p, int *status);

/* What it wrote on stderr so far (malloc'd; "" when nothing). */
char *proc_stderr(const struct proc *p);

/* ---- greenwatchd --------------------------------------------------- */

/* Runs greenwatchd -c config (no --once), samples on its stdout. */
int greenwatchd_start(struct proc *p, const char *config);

/*
 * The next sample line on the daemon's stdout, of device (NULL: any),
 * within timeout_ms; lines of other devices are skipped.  A line that is
 * not a JSON sample fails the current test.  NULL on timeout or end of
 * output.  The caller frees it with cJSON_Delete().
 */
cJSON *greenwatchd_next_sample(struct proc *p, const char *device, int timeout_ms);

/* ---- a sample (the reading object of DESIGN.md) ------------------- */

const char *reading_device(const cJSON *s);
long long reading_ts(const cJSON *s);
/* True and *value if point is among "points" with a number. */
bool reading_value(const cJSON *s, const char *point, double *value);
/* The string value of a string point, or NULL. */
const char *reading_text(const cJSON *s, const char *point);
/* "bad", "uncertain", or NULL when point is not in "quality". */
const char *reading_quality(const cJSON *s, const char *point);
const char *reading_unit(const cJSON *s, const char *point);
/* Members of "points" or "quality". */
int reading_count(const cJSON *s, const char *object);
/* True if every point of names (NULL-terminated) is "bad" and "points"
 * is empty. */
bool reading_all_bad(const cJSON *s, const char *const names[]);

/* ---- configuration and tools -------------------------------------- */

/* Writes a printf-formatted configuration to a new temporary file.
 * Returns 0 or a negative errno. */
int write_config(char *path, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rewrites an existing file (atomically: a new file renamed over it). */
int rewrite_config(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The 1-based number of the first line of text containing needle, or 0. */
int line_of(const char *text, const char *needle);

/*
 * Runs `greenwatch read -c config device [--json]`, capturing its output.
 * Returns 0 and *exit_code (-1 if it did not exit normally), or a
 * negative errno.  *elapsed_ms (may be NULL) gets its running time.
 */
int run_read(const char *config, const char *device, bool json, char **out,
                char **err, int *exit_code, long long *elapsed_ms);

/* The requests of one unit in a gw-testdev log, in order; *n of them.
 * Returns 0 or a negative errno; free *out. */
int testdev_requests_of(const char *log_path, unsigned unit, struct testdev_request **out,
                    size_t *n);

/* Whether request r reads table address a (fc 1..4). */
bool request_covers(const struct testdev_request *r, unsigned fc, unsigned address);

/* Runs the CUnit tests given; returns the exit code for main(). */
struct itest_case {
    const char *name;
    CU_TestFunc fn;
};
int itest_main(const char *suite, const struct itest_case *cases, size_t n);

#endif
