/*
 * The truth file: what the simulator served, when.  One JSON object per
 * line for every read it answered (or refused), with the engineering
 * values of the points the read covered, so a test can compare what the
 * daemon published with what was really there.
 */
#ifndef GW_SIM_TRUTH_H
#define GW_SIM_TRUTH_H

#include "simdevice.h"

struct truth;

/* Open path for appending.  Returns NULL (errno set) on failure. */
struct truth *truth_open(const char *path);

/* Record one read: wall time (ms since the epoch), simulated time, the
 * device and the request; exception 0 for a normal answer, -1 for a
 * request deliberately left unanswered. */
void truth_record(struct truth *t, double sim_t, const struct sim_device *d, int fc,
                  unsigned address, unsigned count, int exception);

void truth_flush(struct truth *t);
void truth_close(struct truth *t);

#endif
