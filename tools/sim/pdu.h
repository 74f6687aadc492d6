/*
 * Modbus application layer of a simulated device: one request PDU
 * (function code + data) in, one response PDU out.  Shared by the TCP
 * and RTU framings.  Only function codes 1-4 are served; any other
 * (writes included) gets exception 1, as a read-only device answers.
 */
#ifndef GW_SIM_PDU_H
#define GW_SIM_PDU_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

#define PDU_MAX 253

/*
 * Answer req (len bytes) for device d at the simulation's current state,
 * writing the response PDU into rsp (PDU_MAX bytes) and recording it in
 * the truth file.  Returns the response length, or 0 when the device
 * leaves the request unanswered (a no_answer fault).
 */
size_t pdu_answer(struct sim *s, struct sim_device *d, const uint8_t *req, size_t len,
                  uint8_t *rsp);

/* An exception response: function code | 0x80, code.  Returns 2. */
size_t pdu_exception(uint8_t fc, uint8_t code, uint8_t *rsp);

#endif
