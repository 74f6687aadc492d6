/*
 * The control socket: a UNIX stream socket taking one command per line,
 * so tests and operators can inject and clear faults while the simulator
 * runs.  Every command is answered by lines ending with one "OK ..." or
 * "ERR message" line.
 *
 *   fault DEVICE TYPE [key=value ...]   start a fault now; OK id=N
 *   clear ID | clear DEVICE [TYPE] | clear all
 *   list                                the faults and their states
 *   status                              simulated time, step, speed
 *   advance SECONDS                     jump simulated time forward
 */
#ifndef GW_SIM_CONTROL_H
#define GW_SIM_CONTROL_H

#include <stddef.h>

#include "server.h"
#include "sim.h"

struct control;

/* Listen on path (replacing a stale socket there) and register with srv.
 * Returns 0 or a negative errno after printing why. */
int control_open(struct control **out, const char *path, struct sim *s, struct server *srv);
void control_close(struct control *c);

/* Execute one command line; the reply lines go to reply (size n). */
void control_execute(struct sim *s, const char *line, char *reply, size_t n);

/* Client side: send line to the simulator at path and print its reply on
 * stdout.  Returns 0 if the reply was OK, 1 if ERR, or a negative errno. */
int control_send(const char *path, const char *line);

#endif
