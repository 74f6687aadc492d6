#include "pdu.h"

#include <string.h>

#include "truth.h"

enum { EXC_FUNCTION = 1, EXC_ADDRESS = 2, EXC_VALUE = 3 };

size_t pdu_exception(uint8_t fc, uint8_t code, uint8_t *rsp)
{
    rsp[0] = (uint8_t)(fc | 0x80);
    rsp[1] = code;
    return 2;
}

static const enum gw_table fc_table[5] = {
    [1] = GW_TABLE_COIL, [2] = GW_TABLE_DISCRETE,
    [3] = GW_TABLE_HOLDING, [4] = GW_TABLE_INPUT,
};

/* The device's exception fault, if it covers this read. */
static int injected_exception(const struct sim_device *d, unsigned address, unsigned count)
{
    const struct device_faults *f = &d->faults;

    if (!f->exception)
        return 0;
    if (f->exc_to < 0)
        return f->exception;
    return (int)address <= f->exc_to && (int)(address + count - 1) >= f->exc_from ? f->exception : 0;
}

static size_t read_bits(const struct sim_device *d, enum gw_table t, unsigned address,
                        unsigned count, uint8_t *rsp)
{
    const uint8_t *bits = d->bits[t == GW_TABLE_COIL ? 0 : 1] + address;
    unsigned bytes = (count + 7) / 8;

    rsp[1] = (uint8_t)bytes;
    memset(rsp + 2, 0, bytes);
    for (unsigned i = 0; i < count; i++)
        if (bits[i])
            rsp[2 + i / 8] |= (uint8_t)(1u << (i % 8));
    return 2 + bytes;
}

static size_t read_registers(const struct sim_device *d, enum gw_table t, unsigned address,
                             unsigned count, uint8_t *rsp)
{
    const uint16_t *regs = d->regs[t == GW_TABLE_INPUT ? 0 : 1] + address;

    rsp[1] = (uint8_t)(2 * count);
    for (unsigned i = 0; i < count; i++) {
        rsp[2 + 2 * i] = (uint8_t)(regs[i] >> 8);
        rsp[3 + 2 * i] = (uint8_t)regs[i];
    }
    return 2 + 2 * count;
}

/* 0 if the request is well formed, else the exception code. */
static int check_request(uint8_t fc, size_t len, unsigned count)
{
    if (fc < 1 || fc > 4)
        return EXC_FUNCTION;
    unsigned max = fc <= 2 ? 2000 : 125;
    if (len != 5 || count < 1 || count > max)
        return EXC_VALUE;
    return 0;
}

size_t pdu_answer(struct sim *s, struct sim_device *d, const uint8_t *req, size_t len,
                  uint8_t *rsp)
{
    double now = s->building.t;
    uint8_t fc = len ? req[0] : 0;
    unsigned address = len >= 5 ? (unsigned)(req[1] << 8 | req[2]) : 0;
    unsigned count = len >= 5 ? (unsigned)(req[3] << 8 | req[4]) : 0;

    if (d->faults.no_answer) {
        truth_record(s->truth, now, d, fc, address, count, -1);
        return 0;
    }
    int exc = check_request(fc, len, count);
    if (!exc)
        exc = simdev_check_read(d, fc_table[fc], address, count);
    if (!exc)
        exc = injected_exception(d, address, count);
    if (exc) {
        truth_record(s->truth, now, d, fc, address, count, exc);
        return pdu_exception(fc, (uint8_t)exc, rsp);
    }
    sim_refresh_device(s, d);
    rsp[0] = fc;
    size_t n = fc <= 2 ? read_bits(d, fc_table[fc], address, count, rsp)
                       : read_registers(d, fc_table[fc], address, count, rsp);
    truth_record(s->truth, now, d, fc, address, count, 0);
    faults_note_read(s, d, fc_table[fc], address, count);
    return n;
}
