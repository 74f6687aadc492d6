/*
 * Integration test support; see itest.h for the contracts.
 */
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a program in the background ----------------------------------- */

int proc_start(struct proc *p, const char *const argv[])
{
    static unsigned counter;
    char name[64];
    int out[2], in, err;
    pid_t parent = getpid();

    memset(p, 0, sizeof(*p));
    p->out = -1;
    snprintf(name, sizeof(name), "stderr-%u-%s", ++counter, strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0]);
    if (temp_path(p->err_path, sizeof(p->err_path), name) < 0)
        return -ENAMETOOLONG;
    in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    err = open(p->err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (in < 0 || err < 0 || pipe2(out, O_CLOEXEC) < 0) {
        int e = errno;
        if (in >= 0)
            close(in);
        if (err >= 0)
            close(err);
        return -e;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(in, STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 ||
            dup2(err, STDERR_FILENO) < 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int e = errno;
    close(in);
    close(err);
    close(out[1]);
    if (pid < 0) {
        close(out[0]);
        return -e;
    }
    p->pid = pid;
    p->out = out[0];
    return 0;
}

/* Takes one line out of p->buf if there is one; returns its length or -1. */
static int take_line(struct proc *p, char *line, size_t n)
{
    char *nl = memchr(p->buf, '\n', p->len);
    if (!nl)
        return -1;
    size_t l = (size_t)(nl - p->buf);
    size_t copy = l < n - 1 ? l : n - 1;
    memcpy(line, p->buf, copy);
    line[copy] = '\0';
    memmove(p->buf, nl + 1, p->len - l - 1);
    p->len -= l + 1;
    return (int)copy;
}

int proc_read_line(struct proc *p, int timeout_ms, char *line, size_t n)
{
    long long deadline = mono_ms() + timeout_ms;
    for (;;) {
        int l = take_line(p, line, n);
        if (l >= 0)
            return l;
        if (p->eof || p->out < 0) {
            if (p->len == 0)
                return -EPIPE;
            size_t copy = p->len < n - 1 ? p->len : n - 1;
            memcpy(line, p->buf, copy);
            line[copy] = '\0';
            p->len = 0;
            return -EBADMSG;
        }
        if (p->len == sizeof(p->buf)) {
            fprintf(stderr, "itest: a stdout line longer than %zu bytes\n", sizeof(p->buf));
            return -E2BIG;
        }
        long long left = deadline - mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pfd = { .fd = p->out, .events = POLLIN };
        int rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -errno;
        if (rc == 0)
            return -ETIMEDOUT;
        ssize_t got = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            p->eof = true;
        p->len += (size_t)got;
    }
}

int proc_kill(struct proc *p, int sig)
{
    if (p->pid <= 0)
        return -ESRCH;
    return kill(p->pid, sig) < 0 ? -errno : 0;
}

int proc_wait(struct proc *p, int timeout_ms, int *status)
{
    if (p->pid <= 0)
        return -ECHILD;
    int rc = wait_process(p->pid, timeout_ms, status);
    if (rc == 0)
        p->pid = 0;
    return rc;
}

int proc_stop(struct proc *p, int *status)
{
    int rc = 0;
    if (p->pid > 0) {
        rc = stop_process(p->pid, status);
        p->pid = 0;
    }
    if (p->out >= 0)
        close(p->out);
    p->out = -1;
    return rc;
}

char *proc_stderr(const struct proc *p)
{
    FILE *f = fopen(p->err_path, "re");
    char *data = NULL;
    size_t len = 0;
    if (f && getdelim(&data, &len, '\0', f) < 0) {
        free(data);
        data = NULL;
    }
    if (f)
        fclose(f);
    return data ? data : strdup("");
}

/* ---- greenwatchd --------------------------------------------------- */

int greenwatchd_start(struct proc *p, const char *config)
{
    return proc_start(p, ARGS(GREENWATCHD, "-c", config));
}

cJSON *greenwatchd_next_sample(struct proc *p, const char *device, int timeout_ms)
{
    static char line[65536];
    long long deadline = mono_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - mono_ms();
        int rc = proc_read_line(p, left > 0 ? (int)left : 0, line, sizeof(line));
        if (rc < 0) {
            if (rc == -EBADMSG)
                CU_FAIL("greenwatchd ended with an unterminated line");
            return NULL;
        }
        cJSON *s = cJSON_Parse(line);
        if (!s || !reading_device(s) || !cJSON_IsObject(cJSON_GetObjectItem(s, "points"))) {
            fprintf(stderr, "itest: not a sample: %s\n", line);
            CU_FAIL("greenwatchd printed a line that is not a sample");
            cJSON_Delete(s);
            return NULL;
        }
        if (!device || strcmp(reading_device(s), device) == 0)
            return s;
        cJSON_Delete(s);
    }
}

/* ---- a sample ------------------------------------------------------ */

const char *reading_device(const cJSON *s)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(s, "device");
    return cJSON_IsString(d) ? d->valuestring : NULL;
}

long long reading_ts(const cJSON *s)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "ts");
    return cJSON_IsNumber(t) ? (long long)t->valuedouble : -1;
}

static const cJSON *member(const cJSON *s, const char *object, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, object), name);
}

bool reading_value(const cJSON *s, const char *point, double *value)
{
    const cJSON *v = member(s, "points", point);
    if (!cJSON_IsNumber(v))
        return false;
    *value = v->valuedouble;
    return true;
}

const char *reading_text(const cJSON *s, const char *point)
{
    const cJSON *v = member(s, "points", point);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *reading_quality(const cJSON *s, const char *point)
{
    const cJSON *v = member(s, "quality", point);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *reading_unit(const cJSON *s, const char *point)
{
    const cJSON *v = member(s, "unit", point);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int reading_count(const cJSON *s, const char *object)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(s, object);
    return cJSON_IsObject(o) ? cJSON_GetArraySize(o) : -1;
}

bool reading_all_bad(const cJSON *s, const char *const names[])
{
    if (reading_count(s, "points") != 0)
        return false;
    for (size_t i = 0; names[i]; i++) {
        const char *q = reading_quality(s, names[i]);
        if (!q || strcmp(q, "bad") != 0)
            return false;
    }
    return true;
}

/* ---- configuration and tools -------------------------------------- */

static char *vformat(const char *fmt, va_list ap)
{
    char *text = NULL;
    return vasprintf(&text, fmt, ap) < 0 ? NULL : text;
}

int write_config(char *path, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = vformat(fmt, ap);
    va_end(ap);
    if (!text)
        return -ENOMEM;
    int rc = write_temp_file(path, n, text);
    free(text);
    return rc;
}

int rewrite_config(const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = vformat(fmt, ap);
    va_end(ap);
    if (!text)
        return -ENOMEM;
    char fresh[PATH_MAX];
    int rc = write_temp_file(fresh, sizeof(fresh), text);
    free(text);
    if (rc == 0 && rename(fresh, path) < 0)
        rc = -errno;
    return rc;
}

int line_of(const char *text, const char *needle)
{
    const char *at = strstr(text, needle);
    if (!at)
        return 0;
    int line = 1;
    for (const char *c = text; c < at; c++)
        line += *c == '\n';
    return line;
}

int run_read(const char *config, const char *device, bool json, char **out,
             char **err, int *exit_code, long long *elapsed_ms)
{
    const char *argv[] = { GREENWATCH, "read", "-c", config, device, json ? "--json" : NULL, NULL };
    int status = 0;
    long long started = mono_ms();
    int rc = run_capture(argv, out, err, 30, &status);
    if (elapsed_ms)
        *elapsed_ms = mono_ms() - started;
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return rc;
}

int testdev_requests_of(const char *log_path, unsigned unit, struct testdev_request **out,
                        size_t *n)
{
    struct testdev_log log;
    int rc = testdev_log_read(log_path, &log);
    *out = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    *out = calloc(log.total + 1, sizeof(**out));
    if (!*out) {
        testdev_log_free(&log);
        return -ENOMEM;
    }
    for (size_t i = 0; i < log.total; i++)
        if (log.requests[i].unit == unit)
            (*out)[(*n)++] = log.requests[i];
    testdev_log_free(&log);
    return 0;
}

bool request_covers(const struct testdev_request *r, unsigned fc, unsigned address)
{
    return r->fc == fc && r->address <= address && address < r->address + r->count;
}

int itest_main(const char *suite_name, const struct itest_case *cases, size_t n)
{
    /* A test that fails half-way must not be stopped by a write to a
     * process that has gone. */
    signal(SIGPIPE, SIG_IGN);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    for (size_t i = 0; suite && i < n; i++)
        CU_add_test(suite, cases[i].name, cases[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
