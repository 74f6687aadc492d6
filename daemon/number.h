#ifndef GW_NUMBER_H
#define GW_NUMBER_H

#include <stddef.h>

/*
 * The shortest of %.15g, %.16g and %.17g that reads back as v, into out
 * (32 bytes are always enough).  Returns its length.  v must be finite.
 */
int number_format(char *out, size_t n, double v);

#endif
