/*
 * Deterministic noise.  Every random-looking wobble in the simulation is a
 * pure function of (seed, key, time), not a draw from a stream, so the
 * value served at a simulated instant does not depend on when or how
 * often the model was stepped or read.
 */
#ifndef GW_SIM_NOISE_H
#define GW_SIM_NOISE_H

#include <stdint.h>

/* A well-mixed 64-bit hash of (seed, key, i). */
uint64_t noise_hash(uint64_t seed, uint64_t key, int64_t i);

/* Uniform in [0, 1) from the hash of (seed, key, i). */
double noise_unit(uint64_t seed, uint64_t key, int64_t i);

/* A key for a name, so each quantity wobbles independently. */
uint64_t noise_key(const char *name);

/* Smooth noise in [-1, 1]: random values every period seconds, joined by
 * cosine interpolation, so it has no steps at any time scale. */
double noise_smooth(uint64_t seed, uint64_t key, double t, double period);

#endif
