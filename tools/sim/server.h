/*
 * The Modbus TCP server: one thread, one epoll set, every bus's listening
 * socket and every client connection in it, so a thousand devices cost
 * a thousand idle sockets and nothing more.  A port serves all the unit
 * ids its bus has (a gateway in front of several devices).  Late answers
 * (the delay fault) wait in a timer list, never in a sleep, so one slow
 * device does not hold up another.
 *
 * The MBAP framing is done here rather than by libmodbus's server side:
 * modbus_receive() blocks until a frame is complete and modbus_reply()
 * answers at once, neither of which fits a single non-blocking loop with
 * deliberately late answers.
 */
#ifndef GW_SIM_SERVER_H
#define GW_SIM_SERVER_H

#include "sim.h"

struct server;

/* Something else the loop should watch (the control socket, a pty):
 * on_ready is called with ctx when fd is readable. */
typedef void (*server_ready_fn)(void *ctx, int fd);

/*
 * Listen on every TCP bus of s.  Returns 0 and *out, or a negative errno
 * after printing which address could not be bound.
 */
int server_open(struct server **out, struct sim *s);

/* Watch fd for reading until server_unwatch or server_free.  Returns 0 or
 * a negative errno. */
int server_watch(struct server *srv, int fd, server_ready_fn on_ready, void *ctx);
void server_unwatch(struct server *srv, int fd);

/*
 * Wait up to timeout_ms (or until a late answer is due) and serve what
 * arrived; the model is brought up to the present before each answer.
 * Returns 0, or a negative errno on a failure of the loop itself (an
 * interrupted wait is not one).
 */
int server_poll(struct server *srv, int timeout_ms);

/* Connections currently open, for status reports. */
size_t server_connections(const struct server *srv);

void server_free(struct server *srv);

#endif
