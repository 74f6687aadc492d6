/*
 * Test harness: processes, pty pairs, output capture, temporary files.
 * See harness.h for the contracts.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef GW_BUILD_DIR
#error "GW_BUILD_DIR must be defined (tests/CMakeLists.txt: GW_TEST_DEFINES)"
#endif

#define TESTDEV_PATH GW_BUILD_DIR "/tests/support/gw-testdev"
#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000
#define TESTDEV_STOP_TIMEOUT_MS 5000

/* ---- time ---------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (>= 0); -1 stays "no deadline". */
static int ms_left(long long deadline)
{
    long long left;

    if (deadline < 0)
        return -1;
    left = deadline - now_ms();
    if (left < 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* ---- starting processes -------------------------------------------- */

/*
 * Forks and execs argv with the given descriptors as stdin/stdout/stderr
 * (-1: inherit). An exec failure is reported back through a close-on-exec
 * pipe, so the caller learns -ENOENT instead of seeing exit status 127.
 * The child gets SIGTERM if the test process dies.
 */
static int spawn_fds(const char *const argv[], int in, int out, int err,
                     pid_t *pid_out)
{
    int report[2];
    pid_t parent = getpid();
    pid_t pid;
    int child_errno = 0;
    ssize_t n;

    if (!argv || !argv[0] || !pid_out)
        return -EINVAL;
    if (pipe2(report, O_CLOEXEC) < 0)
        return -errno;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
        return -e;
    }
    if (pid == 0) {
        sigset_t none;

        close(report[0]);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if ((in >= 0 && dup2(in, STDIN_FILENO) < 0) ||
            (out >= 0 && dup2(out, STDOUT_FILENO) < 0) ||
            (err >= 0 && dup2(err, STDERR_FILENO) < 0)) {
            child_errno = errno;
        } else {
            execvp(argv[0], (char *const *)argv);
            child_errno = errno;
        }
        n = write(report[1], &child_errno, sizeof(child_errno));
        (void)n;
        _exit(127);
    }
    close(report[1]);
    do {
        n = read(report[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof(child_errno)) {
        waitpid(pid, NULL, 0);
        fprintf(stderr, "harness: cannot run %s: %s\n", argv[0],
                strerror(child_errno));
        return -child_errno;
    }
    *pid_out = pid;
    return 0;
}

static int open_devnull(int flags)
{
    int fd = open("/dev/null", flags | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int spawn_process(const char *const argv[], pid_t *pid)
{
    return spawn_process_logged(argv, NULL, pid);
}

int spawn_process_logged(const char *const argv[], const char *log_path,
                         pid_t *pid)
{
    int in = open_devnull(O_RDONLY);
    int log = -1;
    int rc;

    if (in < 0)
        return in;
    if (log_path) {
        log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (log < 0) {
            rc = -errno;
            fprintf(stderr, "harness: %s: %s\n", log_path, strerror(-rc));
            close(in);
            return rc;
        }
    }
    rc = spawn_fds(argv, in, log, log, pid);
    close(in);
    if (log >= 0)
        close(log);
    return rc;
}

/* ---- waiting for and stopping processes ---------------------------- */

int wait_process(pid_t pid, int timeout_ms, int *status)
{
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int st = 0;
    int pfd;
    int rc = 0;

    if (pid <= 0)
        return -EINVAL;
    /* a pidfd becomes readable when the process exits */
    pfd = pidfd_open(pid, 0);
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        struct pollfd p = { .fd = pfd, .events = POLLIN };
        int left;

        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        left = ms_left(deadline);
        if (left == 0) {
            rc = -ETIMEDOUT;
            break;
        }
        if (pfd >= 0)
            poll(&p, 1, left);
        else    /* no pidfd (kernel before 5.3): look again shortly */
            poll(NULL, 0, left < 0 || left > 10 ? 10 : left);
    }
    if (pfd >= 0)
        close(pfd);
    if (rc == 0 && status)
        *status = st;
    return rc;
}

int stop_process(pid_t pid, int *status)
{
    int rc;

    if (pid <= 0)
        return -EINVAL;
    if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
        return -errno;
    rc = wait_process(pid, STOP_TIMEOUT_MS, status);
    if (rc != -ETIMEDOUT)
        return rc;
    fprintf(stderr, "harness: pid %d ignored SIGTERM, killing it\n", (int)pid);
    kill(pid, SIGKILL);
    rc = wait_process(pid, -1, status);
    return rc < 0 ? rc : -ETIMEDOUT;
}

/* ---- reading until a process says it is ready ---------------------- */

struct linebuf {
    char data[4096];
    size_t len;
};

/*
 * Reads fd until a complete line is available (or deadline). Returns the
 * line length (the line is NUL-terminated at lb->data, and consumed by the
 * next call), -ETIMEDOUT, or -EPIPE on end of file.
 */
static int read_line(int fd, struct linebuf *lb, long long deadline,
                     char *line, size_t n)
{
    for (;;) {
        char *nl = memchr(lb->data, '\n', lb->len);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t got;
        int rc;

        if (nl || lb->len == sizeof(lb->data)) {
            size_t l = nl ? (size_t)(nl - lb->data) : lb->len;
            size_t copy = l < n - 1 ? l : n - 1;

            memcpy(line, lb->data, copy);
            line[copy] = '\0';
            l += nl ? 1 : 0;
            memmove(lb->data, lb->data + l, lb->len - l);
            lb->len -= l;
            return (int)copy;
        }
        rc = poll(&p, 1, ms_left(deadline));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -errno;
        if (rc == 0)
            return -ETIMEDOUT;
        got = read(fd, lb->data + lb->len, sizeof(lb->data) - lb->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            return -EPIPE;
        lb->len += (size_t)got;
    }
}

/* Explains why a process that should have become ready did not. */
static void report_not_ready(const char *what, pid_t pid, int rc)
{
    int st;

    if (rc == -ETIMEDOUT) {
        fprintf(stderr, "harness: %s (pid %d) not ready within %d s\n",
                what, (int)pid, READY_TIMEOUT_MS / 1000);
        kill(pid, SIGKILL);
        wait_process(pid, -1, NULL);
    } else if (wait_process(pid, 2000, &st) == 0) {
        if (WIFEXITED(st))
            fprintf(stderr, "harness: %s exited with status %d before "
                    "being ready\n", what, WEXITSTATUS(st));
        else
            fprintf(stderr, "harness: %s died (signal %d) before being "
                    "ready\n", what, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    } else {
        fprintf(stderr, "harness: %s closed its output before being ready: "
                "%s\n", what, strerror(-rc));
        kill(pid, SIGKILL);
        wait_process(pid, -1, NULL);
    }
}

/* ---- gw-testdev ---------------------------------------------------- */

int testdev_start(struct testdev *dev, const char *const extra_args[])
{
    const char *argv[128];
    size_t n = 0;
    int pipefd[2];
    struct linebuf lb = { .len = 0 };
    char line[256];
    long long deadline = now_ms() + READY_TIMEOUT_MS;
    int in;
    int rc;

    if (!dev)
        return -EINVAL;
    dev->pid = 0;
    dev->port = 0;
    argv[n++] = TESTDEV_PATH;
    for (size_t i = 0; extra_args && extra_args[i]; i++) {
        if (n == sizeof(argv) / sizeof(argv[0]) - 1)
            return -E2BIG;
        argv[n++] = extra_args[i];
    }
    argv[n] = NULL;
    in = open_devnull(O_RDONLY);
    if (in < 0)
        return in;
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        rc = -errno;
        close(in);
        return rc;
    }
    rc = spawn_fds(argv, in, pipefd[1], -1, &dev->pid);
    close(in);
    close(pipefd[1]);
    if (rc < 0) {
        close(pipefd[0]);
        return rc;
    }
    do {
        rc = read_line(pipefd[0], &lb, deadline, line, sizeof(line));
    } while (rc >= 0 && strncmp(line, "READY ", 6) != 0);
    close(pipefd[0]);
    if (rc < 0) {
        report_not_ready("gw-testdev", dev->pid, rc);
        dev->pid = 0;
        return rc;
    }
    if (strcmp(line + 6, "rtu") != 0)
        dev->port = atoi(line + 6);
    return 0;
}

int testdev_stop(struct testdev *dev)
{
    int st = 0;
    int rc;

    if (!dev || dev->pid <= 0)
        return 0;
    if (kill(dev->pid, SIGTERM) < 0 && errno != ESRCH)
        return -errno;
    rc = wait_process(dev->pid, TESTDEV_STOP_TIMEOUT_MS, &st);
    if (rc == -ETIMEDOUT) {
        fprintf(stderr, "harness: gw-testdev ignored SIGTERM, killing it\n");
        kill(dev->pid, SIGKILL);
        wait_process(dev->pid, -1, NULL);
    }
    dev->pid = 0;
    if (rc < 0)
        return rc == -ETIMEDOUT ? -EIO : rc;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "harness: gw-testdev did not exit cleanly "
                "(status 0x%x)\n", (unsigned)st);
        return -EIO;
    }
    return 0;
}

int testdev_log_read(const char *path, struct testdev_log *log)
{
    FILE *f;
    char line[128];
    size_t cap = 0;
    int rc = 0;

    if (!path || !log)
        return -EINVAL;
    memset(log, 0, sizeof(*log));
    f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    while (fgets(line, sizeof(line), f)) {
        struct testdev_request r;
        char extra;

        if (sscanf(line, "%u %u %u %u %c", &r.unit, &r.fc, &r.address,
                   &r.count, &extra) != 4 ||
            r.unit > 255 || r.fc > 255 || r.address > 65535 ||
            r.count > 65535 || !strchr(line, '\n')) {
            fprintf(stderr, "harness: %s: malformed line '%s'\n", path, line);
            rc = -EBADMSG;
            break;
        }
        if (log->total == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct testdev_request *g = realloc(log->requests,
                                                ncap * sizeof(*g));
            if (!g) {
                rc = -ENOMEM;
                break;
            }
            log->requests = g;
            cap = ncap;
        }
        log->requests[log->total++] = r;
        log->by_fc[r.fc]++;
        log->by_unit[r.unit]++;
        if (r.fc < 1 || r.fc > 4)
            log->non_read++;
    }
    fclose(f);
    if (rc < 0)
        testdev_log_free(log);
    return rc;
}

void testdev_log_free(struct testdev_log *log)
{
    if (!log)
        return;
    free(log->requests);
    memset(log, 0, sizeof(*log));
}

/* ---- socat pty pair ------------------------------------------------ */

int pty_pair_start(struct pty_pair *p)
{
    static const char *const argv[] = {
        "socat", "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0", NULL
    };
    struct linebuf lb = { .len = 0 };
    long long deadline = now_ms() + READY_TIMEOUT_MS;
    char line[512];
    int found = 0;
    int errpipe[2];
    int in;
    int rc;

    if (!p)
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    p->errfd = -1;
    in = open_devnull(O_RDWR);
    if (in < 0)
        return in;
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        rc = -errno;
        close(in);
        return rc;
    }
    rc = spawn_fds(argv, in, in, errpipe[1], &p->pid);
    close(in);
    close(errpipe[1]);
    if (rc < 0) {
        close(errpipe[0]);
        return rc;
    }
    /* "... N PTY is /dev/pts/3" twice, then "... starting data transfer loop" */
    while ((rc = read_line(errpipe[0], &lb, deadline, line, sizeof(line))) >= 0) {
        const char *name = strstr(line, "PTY is ");
        if (name && found < 2) {
            char *dst = found++ == 0 ? p->a : p->b;
            snprintf(dst, sizeof(p->a), "%s", name + strlen("PTY is "));
        } else if (found == 2 && strstr(line, "starting data transfer loop")) {
            break;
        }
    }
    if (rc < 0) {
        close(errpipe[0]);
        report_not_ready("socat", p->pid, rc);
        p->pid = 0;
        return rc;
    }
    /* kept open so that socat's later notices never meet a closed pipe */
    p->errfd = errpipe[0];
    return 0;
}

int pty_pair_stop(struct pty_pair *p)
{
    int rc = 0;

    if (!p)
        return -EINVAL;
    if (p->pid > 0)
        rc = stop_process(p->pid, NULL);
    if (p->errfd >= 0)
        close(p->errfd);
    p->pid = 0;
    p->errfd = -1;
    return rc;
}

/* ---- run and capture ----------------------------------------------- */

struct growbuf {
    char *data;
    size_t len, cap;
};

/* Reads what fd has into b. Returns 1 on data, 0 on EOF, -errno. */
static int growbuf_read(int fd, struct growbuf *b)
{
    ssize_t got;

    if (b->cap - b->len < 4096) {
        size_t ncap = b->cap ? b->cap * 2 : 8192;
        char *g = realloc(b->data, ncap);
        if (!g)
            return -ENOMEM;
        b->data = g;
        b->cap = ncap;
    }
    do {
        got = read(fd, b->data + b->len, b->cap - b->len - 1);
    } while (got < 0 && errno == EINTR);
    if (got < 0)
        return errno == EAGAIN ? 1 : -errno;
    b->len += (size_t)got;
    b->data[b->len] = '\0';
    return got > 0;
}

/* Hands b over to *dst (or frees it), always as a NUL-terminated string. */
static void growbuf_give(struct growbuf *b, char **dst)
{
    if (!dst) {
        free(b->data);
        return;
    }
    *dst = b->data ? b->data : calloc(1, 1);
}

int run_capture(const char *const argv[], char **out, char **err,
                int timeout_s, int *status)
{
    int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
    struct growbuf bufs[2] = { { NULL, 0, 0 }, { NULL, 0, 0 } };
    long long deadline = now_ms() + (long long)timeout_s * 1000;
    int in = -1, pfd = -1;
    bool open_[2] = { true, true };
    bool exited = false;
    pid_t pid = 0;
    int st = 0;
    int rc;

    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    if (timeout_s <= 0)
        return -EINVAL;
    in = open_devnull(O_RDONLY);
    if (in < 0)
        return in;
    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
        rc = -errno;
        goto out;
    }
    rc = spawn_fds(argv, in, po[1], pe[1], &pid);
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    if (rc < 0)
        goto out;
    /* without a pidfd (old kernel) the pipes' end of file has to do */
    pfd = pidfd_open(pid, 0);
    /* Read both pipes until the program exits; then take what is left. */
    while (!exited && (pfd >= 0 || open_[0] || open_[1])) {
        struct pollfd p[3] = {
            { .fd = open_[0] ? po[0] : -1, .events = POLLIN },
            { .fd = open_[1] ? pe[0] : -1, .events = POLLIN },
            { .fd = pfd, .events = POLLIN },
        };
        int n = poll(p, 3, ms_left(deadline));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0) {
            rc = -ETIMEDOUT;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].revents) {
                int r = growbuf_read(i ? pe[0] : po[0], &bufs[i]);
                if (r <= 0)
                    open_[i] = false;
            }
        }
        exited = pfd >= 0 && p[2].revents != 0;
    }
    if (rc == 0)
        rc = wait_process(pid, ms_left(deadline), &st);
    if (rc == -ETIMEDOUT)
        fprintf(stderr, "harness: %s still running after %d s, killed\n",
                argv[0], timeout_s);
    if (rc < 0) {
        kill(pid, SIGKILL);
        wait_process(pid, -1, &st);
    }
    /* output left in the pipes; a grandchild holding them is not waited for */
    for (int i = 0; i < 2; i++) {
        int fd = i ? pe[0] : po[0];
        fcntl(fd, F_SETFL, O_NONBLOCK);
        while (open_[i]) {
            size_t before = bufs[i].len;
            if (growbuf_read(fd, &bufs[i]) <= 0 || bufs[i].len == before)
                open_[i] = false;
        }
    }
    if (status)
        *status = st;
out:
    if (pfd >= 0)
        close(pfd);
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    close(in);
    growbuf_give(&bufs[0], out);
    growbuf_give(&bufs[1], err);
    return rc;
}

/* ---- waiting for a file's contents --------------------------------- */

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "re");
    char *data = NULL;
    size_t len = 0;
    bool found = false;

    if (!f)
        return false;
    if (getdelim(&data, &len, '\0', f) >= 0) {
        /* a file with NUL bytes is searched up to the first one */
        found = strstr(data, needle) != NULL;
    }
    free(data);
    fclose(f);
    return found;
}

int wait_file_contains(const char *path, const char *needle, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    char dir[PATH_MAX];
    char *slash;
    int fd;
    int rc = -ETIMEDOUT;

    if (!path || !needle || strlen(path) >= sizeof(dir))
        return -EINVAL;
    strcpy(dir, path);
    slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0)
        return -errno;
    /* watch the directory: the file may not exist yet */
    if (inotify_add_watch(fd, dir, IN_CREATE | IN_MODIFY | IN_MOVED_TO |
                          IN_CLOSE_WRITE) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char events[4096];
        int n;

        if (file_contains(path, needle)) {
            rc = 0;
            break;
        }
        n = poll(&p, 1, ms_left(deadline));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        while (read(fd, events, sizeof(events)) > 0)
            ;
    }
    close(fd);
    return rc;
}

/* ---- temporary files ----------------------------------------------- */

static char tmpdir[PATH_MAX];
static pid_t tmpdir_owner;
static unsigned tmp_counter;

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void tmpdir_cleanup(void)
{
    /* only the process that made it removes it */
    if (tmpdir[0] && getpid() == tmpdir_owner)
        nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *harness_tmpdir(void)
{
    const char *base;

    if (tmpdir[0])
        return tmpdir;
    base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/gw-test-XXXXXX", base) >=
            sizeof(tmpdir) || !mkdtemp(tmpdir)) {
        fprintf(stderr, "harness: cannot create a temporary directory in "
                "%s: %s\n", base, strerror(errno));
        tmpdir[0] = '\0';
        return NULL;
    }
    tmpdir_owner = getpid();
    atexit(tmpdir_cleanup);
    return tmpdir;
}

int temp_path(char *path_out, size_t n, const char *name)
{
    const char *dir = harness_tmpdir();

    if (!dir)
        return -EIO;
    if (!path_out || !name)
        return -EINVAL;
    if ((size_t)snprintf(path_out, n, "%s/%s", dir, name) >= n)
        return -ENAMETOOLONG;
    return 0;
}

static int write_all_to(const char *path, const char *contents)
{
    size_t len = strlen(contents);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 0;

    if (fd < 0)
        return -errno;
    while (len > 0) {
        ssize_t w = write(fd, contents, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = -errno;
            break;
        }
        contents += w;
        len -= (size_t)w;
    }
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

int write_temp_file(char *path_out, size_t n, const char *contents)
{
    char name[32];

    if (!contents)
        return -EINVAL;
    snprintf(name, sizeof(name), "file-%u", ++tmp_counter);
    return write_temp_file_named(name, contents, path_out, n);
}

int write_temp_file_named(const char *relpath, const char *contents,
                          char *path_out, size_t n)
{
    char path[PATH_MAX];
    int rc;

    if (!relpath || !contents || relpath[0] == '/' || strstr(relpath, ".."))
        return -EINVAL;
    rc = temp_path(path, sizeof(path), relpath);
    if (rc < 0)
        return rc;
    /* create the directories along relpath */
    for (char *s = path + strlen(harness_tmpdir()) + 1; (s = strchr(s, '/'));
         s++) {
        *s = '\0';
        rc = mkdir(path, 0700) < 0 && errno != EEXIST ? -errno : 0;
        *s = '/';
        if (rc < 0)
            return rc;
    }
    rc = write_all_to(path, contents);
    if (rc < 0) {
        fprintf(stderr, "harness: %s: %s\n", path, strerror(-rc));
        return rc;
    }
    if (path_out && (size_t)snprintf(path_out, n, "%s", path) >= n)
        return -ENAMETOOLONG;
    return 0;
}

int make_temp_dir(char *path_out, size_t n)
{
    char name[32];
    char path[PATH_MAX];
    int rc;

    snprintf(name, sizeof(name), "dir-%u", ++tmp_counter);
    rc = temp_path(path, sizeof(path), name);
    if (rc < 0)
        return rc;
    if (mkdir(path, 0700) < 0)
        return -errno;
    if (!path_out || (size_t)snprintf(path_out, n, "%s", path) >= n)
        return -ENAMETOOLONG;
    return 0;
}
