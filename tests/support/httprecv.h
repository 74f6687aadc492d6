/*
 * A small HTTP/1.1 receiver for tests: listens on 127.0.0.1 (an ephemeral
 * port), records every request (method, target, headers, body) and answers
 * from a script of status codes per path, then a default.  One thread
 * accepts and serves connections one at a time; every answer closes the
 * connection.  Tests wait for requests by count, never by sleeping.
 */
#ifndef GW_TEST_HTTPRECV_H
#define GW_TEST_HTTPRECV_H

#include <stddef.h>
#include <stdint.h>

struct httprecv;

struct httprecv_request {
    char method[16];
    char *target;        /* path and query, e.g. "/robot?timestamp=...&sign=..." */
    char *path;          /* the target without its query */
    char *headers;       /* the header lines, "\r\n" separated */
    char *body;          /* NUL-terminated */
    size_t body_len;
    int status;          /* what it was answered */
};

/* Start listening.  Returns 0 or a negative errno. */
int httprecv_start(struct httprecv **out);

int httprecv_port(const struct httprecv *r);

/*
 * Answer the next request whose path is path (NULL: any path) with status,
 * extra header lines (e.g. "Retry-After: 1\r\n"; may be NULL) and body (may
 * be NULL).  Scripted answers are used in the order given.
 */
int httprecv_push_answer(struct httprecv *r, const char *path, int status, const char *headers, const char *body);

/* The answer when no scripted one applies (initially 200, "{}"). */
void httprecv_set_default(struct httprecv *r, int status, const char *body);

/* Wait until at least n requests were recorded, up to timeout_ms.
 * Returns 0 or -ETIMEDOUT. */
int httprecv_wait(struct httprecv *r, size_t n, int timeout_ms);

size_t httprecv_count(struct httprecv *r);

/* The i-th request (0-based), or NULL.  Stays valid until httprecv_stop. */
const struct httprecv_request *httprecv_get(struct httprecv *r, size_t i);

/* The requests to path so far, in order: fills out (up to max), returns
 * how many there are. */
size_t httprecv_find(struct httprecv *r, const char *path, const struct httprecv_request **out, size_t max);

/* The value of header name (case-insensitive) in req, copied into buf;
 * returns buf, or NULL if absent. */
char *httprecv_header(const struct httprecv_request *req, const char *name, char *buf, size_t len);

/* Forget the requests recorded so far (counts restart from 0). */
void httprecv_clear(struct httprecv *r);

/* Stop the thread, close the socket, free everything.  NULL is fine. */
void httprecv_stop(struct httprecv *r);

#endif
