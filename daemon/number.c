/*
 * Numbers as text, for every output that carries a reading (line protocol,
 * JSON): the shortest of %.15g, %.16g and %.17g that reads back as the
 * same double, so that what is published is what was read, and a fast
 * path that formats the usual reading, a decimal of a few places, without
 * printf's arbitrary-precision arithmetic.
 */
#include "number.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The fast path for the common case, a reading with few decimals: if
 * round(v * 10^d) / 10^d == v for some d <= 6, that decimal is the one
 * strtod reads back as v (the division of two exact doubles is correctly
 * rounded, as strtod is), and for the smallest such d it has no trailing
 * zero.  Limited to where %.15g prints the same text: 1e-4 <= |v| < 1e15
 * and at most 15 digits.  Returns the length, or -1 to take the slow path.
 */
static int format_decimal(char *out, size_t n, double v)
{
    static const double pow10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6 };
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15) || n < 24)
        return -1;
    for (int d = 0; d < (int)(sizeof pow10 / sizeof pow10[0]); d++) {
        double r = nearbyint(a * pow10[d]);
        if (r >= 1e15)
            return -1;
        if (r / pow10[d] != a)
            continue;
        char digits[24];
        int len = 0, o = 0;
        for (uint64_t u = (uint64_t)r; u || len == 0; u /= 10)   /* reversed */
            digits[len++] = (char)('0' + u % 10);
        for (int i = 0; i < len / 2; i++) {
            char t = digits[i];
            digits[i] = digits[len - 1 - i];
            digits[len - 1 - i] = t;
        }
        if (v < 0)
            out[o++] = '-';
        if (len <= d) {   /* 0.000ddd */
            out[o++] = '0';
            out[o++] = '.';
            for (int z = 0; z < d - len; z++)
                out[o++] = '0';
            memcpy(out + o, digits, (size_t)len);
            o += len;
        } else {
            memcpy(out + o, digits, (size_t)(len - d));
            o += len - d;
            if (d) {
                out[o++] = '.';
                memcpy(out + o, digits + len - d, (size_t)d);
                o += d;
            }
        }
        out[o] = '\0';
        return o;
    }
    return -1;
}

int number_format(char *out, size_t n, double v)
{
    int fast = format_decimal(out, n, v);
    if (fast >= 0)
        return fast;

    static const int precisions[] = { 15, 16, 17 };
    int len = 0;
    for (size_t i = 0; i < sizeof precisions / sizeof precisions[0]; i++) {
        len = snprintf(out, n, "%.*g", precisions[i], v);
        if (strtod(out, NULL) == v)
            break;
    }
    return len;
}
