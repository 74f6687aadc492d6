/*
 * Modbus RTU on pseudo-terminals: each RTU bus of the simulation gets a
 * pty, and the bus's device path (e.g. /tmp/gw-rs485-1) becomes a symlink
 * to it, so the daemon opens "its serial port" and finds the simulated
 * RS-485 line there.  Frames are checked by CRC; a frame for a unit id no
 * device has is ignored, as on a real multi-drop line.  A bus with a baud
 * rate (sim_bus.wire) keeps a real line's wire time: see rtu.c.
 */
#ifndef GW_SIM_RTU_H
#define GW_SIM_RTU_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"
#include "sim.h"

struct rtu;

/* Open a pty for every RTU bus of s and watch it with srv.  Returns 0 (and
 * *out NULL if there is no RTU bus) or a negative errno after printing why. */
int rtu_open(struct rtu **out, struct sim *s, struct server *srv);

/* Remove the symlinks, close the ptys. */
void rtu_close(struct rtu *r);

/* Seconds one character (start, data, parity and stop bits) takes on a
 * line of format w; 0 if w has no baud rate. */
double rtu_char_s(const struct sim_wire *w);

/* The silence that ends a frame: 3.5 characters, or 1.75 ms above 19200
 * baud; 0 if w has no baud rate. */
double rtu_silence_s(const struct sim_wire *w);

/* CRC-16/MODBUS of n bytes. */
uint16_t rtu_crc(const uint8_t *p, size_t n);

#endif
