#include "simconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "noise.h"
#include "schema.h"
#include "truth.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- schema tables ----------------------------------------------- */

struct top_settings {
    char daemon_config[PATH_MAX];
    char profile_dir[PATH_MAX];
};

static const struct schema_key top_keys[] = {
    { .name = "daemon_config", .type = SCHEMA_STRBUF, SCHEMA_FIELD(struct top_settings, daemon_config) },
    { .name = "profile_dir", .type = SCHEMA_STRBUF, SCHEMA_FIELD(struct top_settings, profile_dir) },
    { .name = "sim", .type = SCHEMA_IGNORE },
    { .name = "building", .type = SCHEMA_IGNORE },
    { .name = "buses", .type = SCHEMA_IGNORE },
    { .name = "devices", .type = SCHEMA_IGNORE },
    { .name = "fleet", .type = SCHEMA_IGNORE },
};

struct sim_settings {
    long long seed;
    double speed, step_s, utc_offset_h;
    bool has_utc_offset, wire_time;
    char start[40], timezone[64], listen[64];
    char truth[PATH_MAX], scenario[PATH_MAX], control[PATH_MAX];
};

#define SIMK(f) SCHEMA_FIELD(struct sim_settings, f)
static const struct schema_key sim_keys[] = {
    { .name = "seed", .type = SCHEMA_INT, SIMK(seed), .def_num = 1 },
    { .name = "speed", .type = SCHEMA_FLOAT, SIMK(speed), .def_num = 1.0, .ranged = true,
      .min = 0.001, .max = 1e7 },
    { .name = "step_s", .type = SCHEMA_FLOAT, SIMK(step_s), .def_num = 0.0, .ranged = true,
      .min = 0.0, .max = 3600.0 },
    { .name = "start", .type = SCHEMA_STRBUF, SIMK(start), .def_str = "now" },
    { .name = "timezone", .type = SCHEMA_STRBUF, SIMK(timezone) },
    { .name = "utc_offset_h", .type = SCHEMA_FLOAT, SIMK(utc_offset_h), .ranged = true,
      .min = -12.0, .max = 14.0, SCHEMA_PRESENT(struct sim_settings, has_utc_offset) },
    { .name = "listen", .type = SCHEMA_STRBUF, SIMK(listen) },
    { .name = "truth", .type = SCHEMA_STRBUF, SIMK(truth) },
    { .name = "scenario", .type = SCHEMA_STRBUF, SIMK(scenario) },
    { .name = "control", .type = SCHEMA_STRBUF, SIMK(control) },
    { .name = "wire_time", .type = SCHEMA_BOOL, SIMK(wire_time) },
};

#define BLDK(f) SCHEMA_FIELD(struct building_params, f)
static const struct schema_key building_keys[] = {
    { .name = "floor_area_m2", .type = SCHEMA_FLOAT, BLDK(floor_area_m2), .ranged = true,
      .min = 0.0, .max = 1e7 },
    { .name = "chiller_kw", .type = SCHEMA_FLOAT, BLDK(plant.chiller_kw), .def_num = 2100.0, .ranged = true,
      .min = 50.0, .max = 20000.0 },
    { .name = "chiller_cop", .type = SCHEMA_FLOAT, BLDK(plant.chiller_cop), .def_num = 5.6, .ranged = true,
      .min = 2.0, .max = 10.0 },
    { .name = "boiler_kw", .type = SCHEMA_FLOAT, BLDK(plant.boiler_kw), .def_num = 1400.0, .ranged = true,
      .min = 50.0, .max = 20000.0 },
    { .name = "annual_mean_temp", .type = SCHEMA_FLOAT, BLDK(climate.annual_mean),
      .def_num = 17.0, .ranged = true, .min = -30.0, .max = 40.0 },
    { .name = "annual_amplitude", .type = SCHEMA_FLOAT, BLDK(climate.annual_amplitude),
      .def_num = 11.5, .ranged = true, .min = 0.0, .max = 30.0 },
    { .name = "daily_amplitude", .type = SCHEMA_FLOAT, BLDK(climate.daily_amplitude),
      .def_num = 4.0, .ranged = true, .min = 0.0, .max = 15.0 },
    { .name = "rh_mean", .type = SCHEMA_FLOAT, BLDK(climate.rh_mean), .def_num = 74.0, .ranged = true,
      .min = 10.0, .max = 95.0 },
    { .name = "solar_peak", .type = SCHEMA_FLOAT, BLDK(climate.solar_peak), .def_num = 850.0, .ranged = true,
      .min = 0.0, .max = 1400.0 },
};

/* The line keys are named, ranged and defaulted as the daemon's bus keys
 * (daemon/config.c), so a bus block can be copied between the two files. */
static const char *const parity_names[] = { "N", "E", "O" };

struct bus_settings {
    char id[GW_NAME_MAX], tcp[128], rtu[PATH_MAX];
    int baud, data_bits, stop_bits, parity;
    bool has_baud, has_format;
};

#define BUSK(f) SCHEMA_FIELD(struct bus_settings, f)
static const struct schema_key bus_keys[] = {
    { .name = "id", .type = SCHEMA_STRBUF, BUSK(id), .required = true },
    { .name = "tcp", .type = SCHEMA_STRBUF, BUSK(tcp) },
    { .name = "rtu", .type = SCHEMA_STRBUF, BUSK(rtu) },
    { .name = "baud", .type = SCHEMA_INT, BUSK(baud), .ranged = true, .min = 300, .max = 921600,
      SCHEMA_PRESENT(struct bus_settings, has_baud) },
    { .name = "parity", .type = SCHEMA_ENUM, BUSK(parity), .choices = parity_names,
      .n_choices = N(parity_names), SCHEMA_PRESENT(struct bus_settings, has_format) },
    { .name = "data_bits", .type = SCHEMA_INT, BUSK(data_bits), .def_num = 8, .ranged = true,
      .min = 7, .max = 8, SCHEMA_PRESENT(struct bus_settings, has_format) },
    { .name = "stop_bits", .type = SCHEMA_INT, BUSK(stop_bits), .def_num = 1, .ranged = true,
      .min = 1, .max = 2, SCHEMA_PRESENT(struct bus_settings, has_format) },
};

/* A device's role; bus, unit and profile when the device is the
 * simulator's own rather than one of the daemon's. */
struct device_settings {
    char id[GW_NAME_MAX], role[16], feed[24], loop[8], bus[GW_NAME_MAX], profile[GW_NAME_MAX];
    int number, unit;
    double factor;
    int line;
};

#define DEVK(f) SCHEMA_FIELD(struct device_settings, f)
#define ROLE_KEYS \
    { .name = "role", .type = SCHEMA_STRBUF, DEVK(role), .required = true }, \
    { .name = "feed", .type = SCHEMA_STRBUF, DEVK(feed) }, \
    { .name = "loop", .type = SCHEMA_STRBUF, DEVK(loop) }, \
    { .name = "number", .type = SCHEMA_INT, DEVK(number), .ranged = true, .min = 1, .max = 8 }, \
    { .name = "profile", .type = SCHEMA_STRBUF, DEVK(profile) }, \
    { .name = "factor", .type = SCHEMA_FLOAT, DEVK(factor), .def_num = 1.0, .ranged = true, \
      .min = 0.001, .max = 1000.0 }
static const struct schema_key device_keys[] = {
    { .name = "id", .type = SCHEMA_STRBUF, DEVK(id), .required = true },
    { .name = "bus", .type = SCHEMA_STRBUF, DEVK(bus) },
    { .name = "unit", .type = SCHEMA_INT, DEVK(unit), .ranged = true, .min = 0, .max = 255 },
    ROLE_KEYS,
};

struct fleet_settings {
    struct device_settings dev;     /* role keys, profile */
    int count, port, ports;
    char prefix[24];
};

#define FLTK(f) SCHEMA_FIELD(struct fleet_settings, f)
static const struct schema_key fleet_keys[] = {
    { .name = "count", .type = SCHEMA_INT, FLTK(count), .required = true, .ranged = true,
      .min = 1, .max = 100000 },
    { .name = "port", .type = SCHEMA_INT, FLTK(port), .required = true, .ranged = true,
      .min = 0, .max = 65535 },
    { .name = "ports", .type = SCHEMA_INT, FLTK(ports), .def_num = 1, .ranged = true,
      .min = 1, .max = 10000 },
    { .name = "prefix", .type = SCHEMA_STRBUF, FLTK(prefix), .def_str = "fleet" },
    /* The role keys, stored in dev (at offset 0 of the struct). */
    ROLE_KEYS,
};

/* ---- loading context --------------------------------------------- */

struct load {
    const char *file;
    struct gw_diag diag;
    struct schema_ctx ctx;
    struct sim *s;
    struct sim_options *o;
    const struct sim_overrides *ov;
    struct sim_settings set;
    struct top_settings top;
    char dir[PATH_MAX];
    char profile_dir[PATH_MAX];
    const char *listen;
};

static void report(struct load *l, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct load *l, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(&l->diag, l->file, line, "%s", msg);
}

/* path relative to the configuration file's directory, into out. */
static void resolve(struct load *l, const char *path, char *out, size_t n)
{
    bool relative = path[0] && path[0] != '/';
    size_t dir = relative ? strlen(l->dir) + 1 : 0, len = strlen(path);

    out[0] = '\0';
    if (dir + len >= n) {
        report(l, 0, "path too long: %s", path);
        return;
    }
    if (relative) {
        memcpy(out, l->dir, dir - 1);
        out[dir - 1] = '/';
    }
    memcpy(out + dir, path, len + 1);
}

static int load_group(struct load *l, const config_t *cfg, const char *name,
                      const struct schema_key *keys, size_t n, void *target)
{
    const config_setting_t *g = config_lookup(cfg, name);

    if (schema_defaults(keys, n, target) < 0)
        return -ENOMEM;
    if (!g)
        return 0;
    return schema_load(g, keys, n, target, false, name, &l->ctx);
}

/* ---- clock ------------------------------------------------------- */

/* UTC offset of a zone at instant t, from the system's zone database. */
static int zone_offset(const char *zone, double t, long *offset)
{
    char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    time_t when = (time_t)t;
    struct tm tm;
    char path[PATH_MAX];

    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zone);
    if (strcmp(zone, "UTC") != 0 && access(path, R_OK) != 0) {
        free(saved);
        return -ENOENT;
    }
    setenv("TZ", zone, 1);
    tzset();
    localtime_r(&when, &tm);
    *offset = tm.tm_gmtoff;
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    return 0;
}

static void setup_clock(struct load *l, double wall_now, struct building_params *bp)
{
    const char *zone = l->set.timezone[0] ? l->set.timezone
                     : l->s->daemon_cfg && l->s->daemon_cfg->site.timezone
                         ? l->s->daemon_cfg->site.timezone : "UTC";
    /* "now" is the current wall-clock second: with the clock anchored to
     * it (sim.h), model steps fall on whole wall seconds at real time. */
    double t0 = floor(wall_now);

    bp->seed = (uint64_t)l->set.seed;
    if (l->set.has_utc_offset)
        bp->utc_offset_s = lround(l->set.utc_offset_h * 3600.0);
    else if (zone_offset(zone, wall_now, &bp->utc_offset_s) < 0)
        report(l, 0, "unknown time zone '%s' (set sim.utc_offset_h)", zone);
    l->s->start_now = strcmp(l->set.start, "now") == 0;
    if (!l->s->start_now && calendar_parse(l->set.start, bp->utc_offset_s, &t0) < 0)
        report(l, 0, "sim.start must be \"now\" or \"YYYY-MM-DD HH:MM[:SS]\", not '%s'",
               l->set.start);
    l->s->speed = l->set.speed;
    /* About 60 steps per wall second when accelerated, one step per
     * simulated second otherwise: enough resolution, little CPU. */
    l->s->dt = l->set.step_s > 0.0 ? l->set.step_s : fmin(fmax(1.0, l->set.speed / 60.0), 60.0);
    building_init(&l->s->building, bp, t0);
}

/* ---- buses ------------------------------------------------------- */

static bool is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* "host:port" -> where to listen.  The simulator only ever listens on a
 * loopback address: sim.listen if given, else the bus's own host. */
static int tcp_endpoint(struct load *l, struct sim_bus *b, const char *tcp, int line)
{
    const char *colon = strrchr(tcp, ':');
    char host[64];
    char *end;

    if (!colon || colon == tcp || (size_t)(colon - tcp) >= sizeof host) {
        report(l, line, "bus '%s': tcp must be \"host:port\", not '%s'", b->id, tcp);
        return -EINVAL;
    }
    memcpy(host, tcp, (size_t)(colon - tcp));
    host[colon - tcp] = '\0';
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        report(l, line, "bus '%s': bad port in '%s'", b->id, tcp);
        return -EINVAL;
    }
    const char *listen = l->listen ? l->listen : host;
    if (!is_loopback(listen)) {
        report(l, line, "bus '%s': the simulator listens on loopback only; '%s' is not "
               "(set sim.listen = \"127.0.0.1\")", b->id, listen);
        return -EINVAL;
    }
    snprintf(b->host, sizeof b->host, "%s", strcmp(listen, "localhost") == 0 ? "127.0.0.1" : listen);
    b->port = (int)port;
    return 0;
}

static struct sim_bus *find_bus(struct sim *s, const char *id)
{
    for (size_t i = 0; i < s->n_buses; i++)
        if (strcmp(s->buses[i].id, id) == 0)
            return &s->buses[i];
    return NULL;
}

/* wire: the RTU line's pacing, or NULL for none. */
static int add_bus(struct load *l, const char *id, const char *tcp, const char *rtu,
                   const struct sim_wire *wire, int line)
{
    struct sim *s = l->s;
    struct sim_bus *b;

    if (find_bus(s, id)) {
        report(l, line, "bus '%s' is defined twice", id);
        return -EINVAL;
    }
    b = realloc(s->buses, (s->n_buses + 1) * sizeof *b);
    if (!b)
        return -ENOMEM;
    s->buses = b;
    b = &s->buses[s->n_buses++];
    memset(b, 0, sizeof *b);
    snprintf(b->id, sizeof b->id, "%s", id);
    if (tcp && tcp[0]) {
        if (wire) {
            report(l, line, "bus '%s': baud, parity, data_bits and stop_bits are for an rtu bus", id);
            return -EINVAL;
        }
        return tcp_endpoint(l, b, tcp, line);
    }
    if (!rtu || !rtu[0]) {
        report(l, line, "bus '%s': give tcp = \"host:port\" or rtu = \"/path\"", id);
        return -EINVAL;
    }
    b->rtu = true;
    snprintf(b->link, sizeof b->link, "%s", rtu);
    if (wire)
        b->wire = *wire;
    return 0;
}

/* The pacing a bus block asks for: NULL without baud (a pty's instant
 * answers), which parity and the rest alone cannot change. */
static const struct sim_wire *own_wire(struct load *l, const struct bus_settings *b, int line,
                                       struct sim_wire *w)
{
    if (!b->has_baud) {
        if (b->has_format)
            report(l, line, "bus '%s': parity, data_bits and stop_bits pace the line only "
                   "with baud", b->id);
        return NULL;
    }
    *w = (struct sim_wire){ .baud = b->baud, .data_bits = b->data_bits,
                            .stop_bits = b->stop_bits, .parity = parity_names[b->parity][0] };
    return w;
}

static int load_own_buses(struct load *l, const config_t *cfg)
{
    const config_setting_t *list = config_lookup(cfg, "buses");

    for (int i = 0; list && i < config_setting_length(list); i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        struct bus_settings b = { 0 };
        struct sim_wire w;
        int line = (int)config_setting_source_line(g);

        if (schema_load(g, bus_keys, N(bus_keys), &b, false, "bus", &l->ctx) < 0)
            continue;
        if (add_bus(l, b.id, b.tcp, b.rtu, own_wire(l, &b, line, &w), line) == -ENOMEM)
            return -ENOMEM;
    }
    return 0;
}

/* ---- devices ----------------------------------------------------- */

struct role_list {
    struct device_settings *v;
    size_t n;
};

static int load_device_settings(struct load *l, const config_t *cfg, struct role_list *out)
{
    const config_setting_t *list = config_lookup(cfg, "devices");
    int n = list ? config_setting_length(list) : 0;

    out->v = calloc(n > 0 ? (size_t)n : 1, sizeof *out->v);
    if (!out->v)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        struct device_settings *d = &out->v[out->n];

        if (schema_load(g, device_keys, N(device_keys), d, false, "device", &l->ctx) < 0)
            continue;
        d->line = (int)config_setting_source_line(g);
        out->n++;
    }
    return 0;
}

static const struct device_settings *find_settings(const struct role_list *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].id, id) == 0)
            return &r->v[i];
    return NULL;
}

static int make_role(struct load *l, const struct device_settings *d, struct role *r)
{
    const char *which = d->feed[0] ? d->feed : d->loop[0] ? d->loop : NULL;
    char err[160];

    if (role_make(d->role, which, d->number, r, err, sizeof err) < 0) {
        report(l, d->line, "device '%s': %s", d->id, err);
        return -EINVAL;
    }
    return 0;
}

/* A profile of the simulator's own devices, loaded once from profile_dir. */
static const struct gw_profile *own_profile(struct load *l, const char *id, int line)
{
    struct sim *s = l->s;
    char path[PATH_MAX + GW_NAME_MAX + 8];

    for (size_t i = 0; i < s->n_profiles; i++)
        if (s->profiles[i]->id && strcmp(s->profiles[i]->id, id) == 0)
            return s->profiles[i];
    if (!l->profile_dir[0]) {
        report(l, line, "profile '%s': no profile_dir (set profile_dir or daemon_config)", id);
        return NULL;
    }
    struct gw_profile **v = realloc(s->profiles, (s->n_profiles + 1) * sizeof *v);
    struct gw_profile *p = calloc(1, sizeof *p);
    if (v)
        s->profiles = v;
    if (!v || !p) {
        free(p);
        return NULL;
    }
    s->profiles[s->n_profiles++] = p;
    snprintf(path, sizeof path, "%s/%s.conf", l->profile_dir, id);
    if (profile_load_file(path, p, &l->diag) < 0)
        return NULL;
    return p;
}

/* Put d on bus at unit; two devices cannot share an address. */
static int place(struct load *l, struct sim_device *d, size_t bus, int unit, int line)
{
    struct sim_bus *b = &l->s->buses[bus];

    if (b->by_unit[unit]) {
        report(l, line, "device '%s': bus '%s' unit %d is already '%s'", d->id, b->id, unit,
               b->by_unit[unit]->id);
        return -EINVAL;
    }
    b->by_unit[unit] = d;
    d->bus = (int)bus;
    d->unit = unit;
    return 0;
}

static int add_device(struct load *l, const char *id, const struct gw_profile *profile,
                      const struct role *role, double factor)
{
    struct sim *s = l->s;
    struct sim_device *d = &s->devices[s->n_devices++];

    return simdev_init(d, id, profile, role, factor, s->building.p.seed);
}

static size_t bus_index(const struct sim *s, const struct sim_bus *b)
{
    return (size_t)(b - s->buses);
}

/* The devices the daemon polls, each with the role the simulator gives it. */
static int daemon_devices(struct load *l, const struct role_list *roles)
{
    const struct gw_config *cfg = l->s->daemon_cfg;

    for (size_t i = 0; cfg && i < cfg->n_devices; i++) {
        const struct gw_device_cfg *dc = &cfg->devices[i];
        const struct device_settings *set = find_settings(roles, dc->id);
        struct role role;

        if (!set) {
            report(l, 0, "device '%s' of %s has no role here (add it to devices)", dc->id,
                   cfg->file);
            continue;
        }
        if (make_role(l, set, &role) < 0)
            continue;
        if (add_device(l, dc->id, dc->profile, &role, set->factor) < 0)
            return -ENOMEM;
        struct sim_bus *b = find_bus(l->s, dc->bus_id);
        if (place(l, &l->s->devices[l->s->n_devices - 1], bus_index(l->s, b), dc->unit,
                  set->line) == -ENOMEM)
            return -ENOMEM;
    }
    return 0;
}

/* Devices of the simulator's own file that the daemon does not list. */
static int own_devices(struct load *l, const struct role_list *roles)
{
    const struct gw_config *cfg = l->s->daemon_cfg;

    for (size_t i = 0; i < roles->n; i++) {
        const struct device_settings *set = &roles->v[i];
        struct role role;

        if (cfg && config_find_device(cfg, set->id))
            continue;
        struct sim_bus *b = set->bus[0] ? find_bus(l->s, set->bus) : NULL;
        if (!b || !set->profile[0]) {
            report(l, set->line, "device '%s' is not the daemon's: give it bus, unit and "
                   "profile%s", set->id, set->bus[0] && !b ? " (unknown bus)" : "");
            continue;
        }
        bool bad_role = make_role(l, set, &role) < 0;    /* report both problems */
        const struct gw_profile *p = own_profile(l, set->profile, set->line);
        if (bad_role || !p)
            continue;
        if (add_device(l, set->id, p, &role, set->factor) < 0)
            return -ENOMEM;
        place(l, &l->s->devices[l->s->n_devices - 1], bus_index(l->s, b), set->unit, set->line);
    }
    return 0;
}

/* ---- fleet ------------------------------------------------------- */

/* count copies of one device spread over `ports` consecutive ports, unit
 * ids 1.. on each; every copy is sized differently so they don't all
 * show the same numbers. */
static int fleet_devices(struct load *l, const struct fleet_settings *f, int line)
{
    int per_port = (f->count + f->ports - 1) / f->ports;
    struct role role;
    char id[GW_NAME_MAX], tcp[96];

    if (per_port > 247) {
        report(l, line, "fleet: %d devices per port is more than 247 unit ids; add ports",
               per_port);
        return -EINVAL;
    }
    if (f->port + f->ports - 1 > 65535) {
        report(l, line, "fleet: ports run past 65535");
        return -EINVAL;
    }
    const struct gw_profile *p = own_profile(l, f->dev.profile, line);
    if (!p || make_role(l, &f->dev, &role) < 0)
        return -EINVAL;
    size_t first_bus = l->s->n_buses;

    for (int k = 0; k * per_port < f->count; k++) {
        snprintf(id, sizeof id, "%s-bus-%d", f->prefix, k + 1);
        snprintf(tcp, sizeof tcp, "127.0.0.1:%d", f->port ? f->port + k : 0);
        if (add_bus(l, id, tcp, NULL, NULL, line) < 0)
            return -EINVAL;
    }
    for (int i = 0; i < f->count; i++) {
        double size = 0.4 + 1.2 * noise_unit(l->s->building.p.seed, noise_key("fleet"), i);
        size_t bus = first_bus + (size_t)(i / per_port);

        snprintf(id, sizeof id, "%s-%04d", f->prefix, i + 1);
        if (add_device(l, id, p, &role, size * f->dev.factor) < 0)
            return -ENOMEM;
        place(l, &l->s->devices[l->s->n_devices - 1], bus, 1 + i % per_port, line);
    }
    return 0;
}

static int load_fleet(struct load *l, const config_t *cfg, struct fleet_settings *f,
                      bool *present)
{
    const config_setting_t *g = config_lookup(cfg, "fleet");

    *present = g != NULL;
    memset(f, 0, sizeof *f);
    if (!g)
        return 0;
    f->dev.line = (int)config_setting_source_line(g);
    snprintf(f->dev.id, sizeof f->dev.id, "fleet");
    if (schema_load(g, fleet_keys, N(fleet_keys), f, false, "fleet", &l->ctx) < 0)
        return -EINVAL;
    if (!f->dev.profile[0]) {
        report(l, f->dev.line, "fleet: profile is required");
        return -EINVAL;
    }
    return 0;
}

/* ---- the whole file ---------------------------------------------- */

static int load_daemon_config(struct load *l)
{
    char path[PATH_MAX];

    if (!l->top.daemon_config[0])
        return 0;
    resolve(l, l->top.daemon_config, path, sizeof path);
    int rc = config_load(path, &l->s->daemon_cfg, &l->diag);
    if (rc < 0)
        return rc;
    const struct gw_config *cfg = l->s->daemon_cfg;
    if (!l->top.profile_dir[0] && cfg->daemon.profile_dir)
        snprintf(l->profile_dir, sizeof l->profile_dir, "%s", cfg->daemon.profile_dir);
    for (size_t i = 0; i < cfg->n_buses; i++) {
        const struct gw_bus_cfg *b = &cfg->buses[i];
        /* sim.wire_time: the daemon's RTU buses at their own line settings. */
        struct sim_wire w = { .baud = b->baud, .data_bits = b->data_bits,
                              .stop_bits = b->stop_bits, .parity = "NEO"[b->parity] };

        if (add_bus(l, b->id, b->tcp, b->rtu, l->set.wire_time && b->rtu ? &w : NULL,
                    b->line) == -ENOMEM)
            return -ENOMEM;
    }
    return 0;
}

static void apply_overrides(struct load *l)
{
    const struct sim_overrides *ov = l->ov;

    if (!ov)
        return;
    if (ov->has_seed)
        l->set.seed = ov->seed;
    if (ov->has_speed)
        l->set.speed = ov->speed;
    if (ov->start)
        snprintf(l->set.start, sizeof l->set.start, "%s", ov->start);
}

static int load_settings(struct load *l, const config_t *cfg, struct building_params *bp)
{
    if (schema_load(config_root_setting(cfg), top_keys, N(top_keys), &l->top, false,
                    "configuration", &l->ctx) == -ENOMEM ||
        load_group(l, cfg, "sim", sim_keys, N(sim_keys), &l->set) == -ENOMEM ||
        load_group(l, cfg, "building", building_keys, N(building_keys), bp) == -ENOMEM)
        return -ENOMEM;
    apply_overrides(l);
    resolve(l, l->top.profile_dir, l->profile_dir, sizeof l->profile_dir);
    resolve(l, l->set.truth, l->o->truth, sizeof l->o->truth);
    resolve(l, l->set.scenario, l->o->scenario, sizeof l->o->scenario);
    resolve(l, l->set.control, l->o->control, sizeof l->o->control);
    /* Paths given on the command line are the caller's, not the file's. */
    if (l->ov && l->ov->truth)     /* "" turns recording off */
        snprintf(l->o->truth, sizeof l->o->truth, "%s", l->ov->truth);
    if (l->ov && l->ov->scenario)
        snprintf(l->o->scenario, sizeof l->o->scenario, "%s", l->ov->scenario);
    if (l->ov && l->ov->control)
        snprintf(l->o->control, sizeof l->o->control, "%s", l->ov->control);
    l->listen = l->set.listen[0] ? l->set.listen : NULL;
    if (l->listen && !is_loopback(l->listen))
        report(l, 0, "sim.listen must be a loopback address, not '%s'", l->listen);
    return 0;
}

static int build(struct load *l, const config_t *cfg, double wall_now)
{
    struct building_params bp;
    struct role_list roles = { 0 };
    struct fleet_settings fleet;
    bool has_fleet;
    int rc;

    building_params_default(&bp);
    if ((rc = load_settings(l, cfg, &bp)) < 0 || (rc = load_daemon_config(l)) < 0)
        return rc;
    if (bp.floor_area_m2 <= 0.0)
        bp.floor_area_m2 = l->s->daemon_cfg && l->s->daemon_cfg->site.floor_area_m2 > 0.0
                               ? l->s->daemon_cfg->site.floor_area_m2 : 42000.0;
    setup_clock(l, wall_now, &bp);
    if ((rc = load_own_buses(l, cfg)) < 0 || (rc = load_device_settings(l, cfg, &roles)) < 0 ||
        (rc = load_fleet(l, cfg, &fleet, &has_fleet)) < 0)
        goto out;
    size_t total = roles.n + (l->s->daemon_cfg ? l->s->daemon_cfg->n_devices : 0) +
                   (has_fleet ? (size_t)fleet.count : 0);
    l->s->devices = calloc(total ? total : 1, sizeof *l->s->devices);
    if (!l->s->devices) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = daemon_devices(l, &roles)) < 0 || (rc = own_devices(l, &roles)) < 0)
        goto out;
    if (has_fleet)
        rc = fleet_devices(l, &fleet, fleet.dev.line);
out:
    free(roles.v);
    return rc;
}

static int open_extras(struct load *l)
{
    if (l->o->truth[0] && !(l->s->truth = truth_open(l->o->truth))) {
        report(l, 0, "truth file %s: %s", l->o->truth, strerror(errno));
        return -EINVAL;
    }
    if (l->o->scenario[0] && faults_load_scenario(l->s, l->o->scenario) < 0)
        return -EINVAL;
    return 0;
}

int simconf_load(const char *path, const struct sim_overrides *ov, double wall_now,
                 struct sim *s, struct sim_options *o)
{
    struct load l = { .file = path, .s = s, .o = o, .ov = ov };
    config_t cfg;
    char copy[PATH_MAX];
    int rc;

    memset(s, 0, sizeof *s);
    memset(o, 0, sizeof *o);
    l.ctx.diag = &l.diag;
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(l.dir, sizeof l.dir, "%s", dirname(copy));
    config_init(&cfg);
    if (!config_read_file(&cfg, path)) {
        fprintf(stderr, "%s:%d: %s\n", config_error_file(&cfg) ? config_error_file(&cfg) : path,
                config_error_line(&cfg), config_error_text(&cfg));
        config_destroy(&cfg);
        return -EINVAL;
    }
    rc = build(&l, &cfg, wall_now);
    if (rc == 0 && l.diag.n == 0)
        rc = open_extras(&l);
    if (rc == 0 && l.diag.n)
        rc = -EINVAL;
    diag_print(&l.diag, stderr);
    diag_free(&l.diag);
    config_destroy(&cfg);
    return rc;
}
