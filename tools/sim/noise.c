#include "noise.h"

#include <math.h>

static uint64_t splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t noise_hash(uint64_t seed, uint64_t key, int64_t i)
{
    return splitmix(splitmix(splitmix(seed) ^ key) ^ (uint64_t)i);
}

double noise_unit(uint64_t seed, uint64_t key, int64_t i)
{
    return (double)(noise_hash(seed, key, i) >> 11) * 0x1.0p-53;
}

uint64_t noise_key(const char *name)
{
    uint64_t h = 0xCBF29CE484222325ull;     /* FNV-1a */

    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 0x100000001B3ull;
    return h;
}

double noise_smooth(uint64_t seed, uint64_t key, double t, double period)
{
    double x = t / period;
    double cell = floor(x);
    int64_t i = (int64_t)cell;
    double a = 2.0 * noise_unit(seed, key, i) - 1.0;
    double b = 2.0 * noise_unit(seed, key, i + 1) - 1.0;
    double w = (1.0 - cos(M_PI * (x - cell))) / 2.0;

    return a + (b - a) * w;
}
