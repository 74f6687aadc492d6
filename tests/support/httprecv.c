#include "httprecv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { READ_TIMEOUT_MS = 5000, HEAD_MAX = 64 * 1024, BODY_MAX = 16 * 1024 * 1024 };

struct answer {
    char *path;          /* NULL: any */
    int status;
    char *headers, *body;
    bool used;
};

struct httprecv {
    int fd, wake[2], port;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct httprecv_request **reqs;
    size_t n, cap, base;
    struct answer *answers;
    size_t n_answers, cap_answers;
    int default_status;
    char *default_body;
};

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void request_free(struct httprecv_request *q)
{
    if (!q)
        return;
    free(q->target);
    free(q->path);
    free(q->headers);
    free(q->body);
    free(q);
}

/* Read until the head is complete and the body is in.  Returns the
 * request, or NULL (closed, timed out, malformed). */
static struct httprecv_request *read_request(int fd)
{
    char *buf = malloc(HEAD_MAX + 1);
    size_t len = 0;
    char *end = NULL;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (buf && !end && len < HEAD_MAX) {
        if (poll(&p, 1, READ_TIMEOUT_MS) <= 0)
            break;
        ssize_t got = read(fd, buf + len, HEAD_MAX - len);
        if (got <= 0)
            break;
        len += (size_t)got;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    struct httprecv_request *q = end ? calloc(1, sizeof *q) : NULL;
    if (!q) {
        free(buf);
        return NULL;
    }
    *end = '\0';
    char target[4096] = "";
    sscanf(buf, "%15s %4095s", q->method, target);
    char *line_end = strstr(buf, "\r\n");
    q->headers = strdup(line_end ? line_end + 2 : "");
    q->target = strdup(target);
    q->path = strndup(target, strcspn(target, "?"));
    size_t body_len = 0;
    char value[32];
    if (httprecv_header(q, "Content-Length", value, sizeof value))
        body_len = strtoul(value, NULL, 10);
    if (body_len > BODY_MAX || !(q->body = malloc(body_len + 1))) {
        free(buf);
        request_free(q);
        return NULL;
    }
    size_t have = len - (size_t)(end + 4 - buf);
    if (have > body_len)
        have = body_len;
    memcpy(q->body, end + 4, have);
    while (have < body_len && poll(&p, 1, READ_TIMEOUT_MS) > 0) {
        ssize_t got = read(fd, q->body + have, body_len - have);
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    q->body[have] = '\0';
    q->body_len = have;
    free(buf);
    return q;
}

/* The scripted answer for path, or the default.  Called locked. */
static void pick_answer(struct httprecv *r, const char *path, int *status, const char **headers, const char **body)
{
    for (size_t i = 0; i < r->n_answers; i++) {
        struct answer *a = &r->answers[i];
        if (a->used || (a->path && strcmp(a->path, path) != 0))
            continue;
        a->used = true;
        *status = a->status;
        *headers = a->headers ? a->headers : "";
        *body = a->body ? a->body : "";
        return;
    }
    *status = r->default_status;
    *headers = "";
    *body = r->default_body ? r->default_body : "";
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t put = send(fd, p, len, MSG_NOSIGNAL);
        if (put <= 0)
            return;
        p += put;
        len -= (size_t)put;
    }
}

static void serve(struct httprecv *r, int fd)
{
    struct httprecv_request *q = read_request(fd);
    if (!q)
        return;
    int status;
    const char *headers, *body;
    char *answer = NULL;
    /* Recorded before it is answered: once the sender has its answer, the
     * test sees the request. */
    pthread_mutex_lock(&r->lock);
    pick_answer(r, q->path, &status, &headers, &body);
    q->status = status;
    int len = asprintf(&answer, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n%s\r\n%s", status, reason(status), strlen(body), headers, body);
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        struct httprecv_request **grown = realloc(r->reqs, cap * sizeof *grown);
        if (grown) {
            r->reqs = grown;
            r->cap = cap;
        }
    }
    if (r->n < r->cap) {
        r->reqs[r->n++] = q;
        q = NULL;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    request_free(q);
    if (len > 0)
        write_all(fd, answer, (size_t)len);
    free(answer);
}

static void *accept_main(void *arg)
{
    struct httprecv *r = arg;
    struct pollfd p[2] = { { .fd = r->fd, .events = POLLIN }, { .fd = r->wake[0], .events = POLLIN } };
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve(r, fd);
        close(fd);
    }
    return NULL;
}

int httprecv_start(struct httprecv **out)
{
    *out = NULL;
    struct httprecv *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->default_status = 200;
    r->default_body = strdup("{}");
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&a, sizeof a) || listen(r->fd, 64) ||
        getsockname(r->fd, (struct sockaddr *)&a, &alen) || pipe2(r->wake, O_CLOEXEC)) {
        int err = errno;
        fprintf(stderr, "httprecv: cannot listen on 127.0.0.1: %s\n", strerror(err));
        if (r->fd >= 0)
            close(r->fd);
        free(r->default_body);
        free(r);
        return -err;
    }
    r->port = ntohs(a.sin_port);
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &attr);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&r->thread, NULL, accept_main, r);
    if (rc) {
        close(r->fd);
        close(r->wake[0]);
        close(r->wake[1]);
        free(r->default_body);
        free(r);
        return -rc;
    }
    *out = r;
    return 0;
}

int httprecv_port(const struct httprecv *r)
{
    return r->port;
}

int httprecv_push_answer(struct httprecv *r, const char *path, int status, const char *headers, const char *body)
{
    pthread_mutex_lock(&r->lock);
    int rc = 0;
    if (r->n_answers == r->cap_answers) {
        size_t cap = r->cap_answers ? 2 * r->cap_answers : 16;
        struct answer *grown = realloc(r->answers, cap * sizeof *grown);
        if (grown) {
            r->answers = grown;
            r->cap_answers = cap;
        }
    }
    if (r->n_answers < r->cap_answers)
        r->answers[r->n_answers++] = (struct answer){ .path = path ? strdup(path) : NULL, .status = status,
                                                      .headers = headers ? strdup(headers) : NULL,
                                                      .body = body ? strdup(body) : NULL };
    else
        rc = -ENOMEM;
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void httprecv_set_default(struct httprecv *r, int status, const char *body)
{
    pthread_mutex_lock(&r->lock);
    r->default_status = status;
    free(r->default_body);
    r->default_body = strdup(body ? body : "");
    pthread_mutex_unlock(&r->lock);
}

int httprecv_wait(struct httprecv *r, size_t n, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&r->lock);
    while (r->n - r->base < n && rc == 0)
        if (pthread_cond_timedwait(&r->cond, &r->lock, &until) == ETIMEDOUT)
            rc = r->n - r->base < n ? -ETIMEDOUT : 0;
    pthread_mutex_unlock(&r->lock);
    return rc;
}

size_t httprecv_count(struct httprecv *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->n - r->base;
    pthread_mutex_unlock(&r->lock);
    return n;
}

const struct httprecv_request *httprecv_get(struct httprecv *r, size_t i)
{
    pthread_mutex_lock(&r->lock);
    const struct httprecv_request *q = r->base + i < r->n ? r->reqs[r->base + i] : NULL;
    pthread_mutex_unlock(&r->lock);
    return q;
}

size_t httprecv_find(struct httprecv *r, const char *path, const struct httprecv_request **out, size_t max)
{
    size_t found = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = r->base; i < r->n; i++)
        if (strcmp(r->reqs[i]->path, path) == 0) {
            if (found < max)
                out[found] = r->reqs[i];
            found++;
        }
    pthread_mutex_unlock(&r->lock);
    return found;
}

char *httprecv_header(const struct httprecv_request *req, const char *name, char *buf, size_t len)
{
    size_t name_len = strlen(name);
    for (const char *line = req->headers; line && *line;) {
        const char *next = strstr(line, "\r\n");
        size_t line_len = next ? (size_t)(next - line) : strlen(line);
        if (line_len > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len + 1;
            while (*v == ' ')
                v++;
            snprintf(buf, len, "%.*s", (int)(line + line_len - v), v);
            return buf;
        }
        line = next ? next + 2 : NULL;
    }
    return NULL;
}

void httprecv_clear(struct httprecv *r)
{
    pthread_mutex_lock(&r->lock);
    r->base = r->n;
    pthread_mutex_unlock(&r->lock);
}

void httprecv_stop(struct httprecv *r)
{
    if (!r)
        return;
    if (write(r->wake[1], "x", 1) != 1)
        fprintf(stderr, "httprecv: cannot wake the thread\n");
    pthread_join(r->thread, NULL);
    close(r->fd);
    close(r->wake[0]);
    close(r->wake[1]);
    for (size_t i = 0; i < r->n; i++)
        request_free(r->reqs[i]);
    free(r->reqs);
    for (size_t i = 0; i < r->n_answers; i++) {
        free(r->answers[i].path);
        free(r->answers[i].headers);
        free(r->answers[i].body);
    }
    free(r->answers);
    free(r->default_body);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
