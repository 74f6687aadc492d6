#include "sim.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "truth.h"

double sim_monotonic(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double sim_time_at(const struct sim *s, double mono)
{
    return s->building.t0 + (mono - s->wall0) * s->speed;
}

void sim_step(struct sim *s)
{
    s->step++;
    building_step(&s->building, s->building.t0 + (double)s->step * s->dt);
    faults_update(s);
}

int64_t sim_advance_to(struct sim *s, double t, int64_t max_steps)
{
    int64_t n = 0;

    /* Steps are counted from the start, not added up, so the model's
     * instants stay exact over months of simulated time. */
    while (s->building.t0 + (double)(s->step + 1) * s->dt <= t) {
        if (max_steps > 0 && n >= max_steps)
            break;
        sim_step(s);
        n++;
    }
    return n;
}

struct sim_device *sim_find_device(struct sim *s, const char *id)
{
    for (size_t i = 0; i < s->n_devices; i++)
        if (strcmp(s->devices[i].id, id) == 0)
            return &s->devices[i];
    return NULL;
}

void sim_refresh_device(struct sim *s, struct sim_device *d)
{
    simdev_refresh(d, &s->building, s->step);
}

void sim_free(struct sim *s)
{
    for (size_t i = 0; i < s->n_devices; i++)
        simdev_free(&s->devices[i]);
    free(s->devices);
    for (size_t i = 0; i < s->n_profiles; i++) {
        profile_free(s->profiles[i]);
        free(s->profiles[i]);
    }
    free(s->profiles);
    free(s->buses);
    faults_free(&s->faults);
    truth_close(s->truth);
    config_free(s->daemon_cfg);
    memset(s, 0, sizeof *s);
}
