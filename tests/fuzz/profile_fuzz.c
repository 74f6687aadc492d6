/*
 * libFuzzer target for the profile loader: the input is written as a
 * profile file and loaded with profile_load_file().  A profile that loads
 * holds only points the planner and the decoder can take (types, orders,
 * tables and bits in range, a count that fits the type and the address
 * space, scale not 0, bounds in order, no point inside a hole), and
 * every one of them decodes to a value that is not "bad"; a profile that
 * does not load is refused with at least one "FILE:LINE: message".  Any
 * broken invariant aborts, so that the fuzzer reports it.
 *
 * The file is named after the profile's id when the input has a usable
 * one, as the daemon finds profiles, so that valid profiles load.  Every
 * '@' becomes '#' first, which comments out @include directives: an input
 * must not make the loader read whatever file it names.
 */
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "profile.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

static char dir[64];

static void remove_dir(void)
{
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/gw-profile-fuzz-XXXXXX", tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir));
    atexit(remove_dir);
    return 0;
}

/* The id as a file name, or "fuzz" when the text has none usable. */
static void file_name(const char *text, char *name, size_t size)
{
    config_t lc;
    const char *id = NULL;

    config_init(&lc);
    snprintf(name, size, "fuzz");
    if (config_read_string(&lc, text) && config_lookup_string(&lc, "profile.id", &id) &&
        id[0] && id[0] != '.' && !strchr(id, '/') && strlen(id) < size)
        snprintf(name, size, "%s", id);
    config_destroy(&lc);
}

static void check_point(const struct gw_point_def *p, const struct gw_profile *prof)
{
    REQUIRE(p->name[0] && strlen(p->name) < GW_NAME_MAX && strlen(p->unit) < GW_UNIT_MAX);
    REQUIRE((unsigned)p->table < GW_TABLE_COUNT && (unsigned)p->type < GW_TYPE_COUNT &&
            (unsigned)p->order < GW_ORDER_COUNT);
    REQUIRE(!gw_table_is_bits(p->table) || p->type == GW_TYPE_BIT);
    REQUIRE(p->bit >= -1 && p->bit <= 15 && (p->bit == -1 || p->type == GW_TYPE_BIT));
    if (p->type == GW_TYPE_STRING)
        REQUIRE(p->count >= 1 && p->count <= GW_STRING_REGS_MAX);
    else
        REQUIRE(p->count == point_type_registers(p->type));
    REQUIRE((unsigned)p->address + p->count <= 65536u);
    REQUIRE(p->scale != 0.0 && p->n_sentinels <= GW_SENTINEL_MAX);
    REQUIRE(!(p->has_min && p->has_max) || p->min <= p->max);
    for (size_t h = 0; h < prof->n_holes; h++) {
        const struct gw_hole *hole = &prof->holes[h];
        REQUIRE(hole->from <= hole->to);
        REQUIRE(hole->table != p->table || p->address > hole->to ||
                (unsigned)p->address + p->count - 1 < hole->from);
    }

    /* A valid point always decodes, whatever its registers hold. */
    static const uint16_t fills[] = { 0x0000, 0xFFFF, 0x7FC0, 0x2020 };
    uint16_t *regs = malloc(p->count * sizeof *regs);
    uint8_t *bit = malloc(1);
    REQUIRE(regs && bit);
    for (size_t f = 0; f < sizeof fills / sizeof *fills; f++) {
        struct gw_reading out;
        for (unsigned i = 0; i < p->count; i++)
            regs[i] = fills[f];
        bit[0] = (uint8_t)(fills[f] & 1);
        REQUIRE(decode_point(p, regs, bit, &out) == 0);
        REQUIRE(out.quality != GW_QUALITY_BAD);
        REQUIRE((p->type == GW_TYPE_STRING) == (out.text != NULL));
        REQUIRE(out.quality != GW_QUALITY_GOOD || out.text || isfinite(out.value));
        free(out.text);
    }
    free(regs);
    free(bit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), name[128], path[256];
    struct gw_diag diag = { 0 };
    struct gw_profile prof;

    REQUIRE(text);
    memcpy(text, data, size);
    text[size] = '\0';
    for (size_t i = 0; i < size; i++)
        if (text[i] == '@')
            text[i] = '#';
    file_name(text, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s.conf", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f && fwrite(text, 1, size, f) == size && fclose(f) == 0);

    memset(&prof, 0, sizeof prof);
    int rc = profile_load_file(path, &prof, &diag);
    if (rc == 0) {
        REQUIRE(diag.n == 0 && prof.id && strcmp(prof.id, name) == 0);
        REQUIRE(prof.n_points > 0 && prof.file && strcmp(prof.file, path) == 0);
        for (size_t i = 0; i < prof.n_points; i++) {
            check_point(&prof.points[i], &prof);
            REQUIRE(profile_find_point(&prof, prof.points[i].name) == (int)i);
        }
    } else {
        REQUIRE(rc == -EINVAL && diag.n > 0);
        for (size_t i = 0; i < diag.n; i++)
            REQUIRE(diag.lines[i] && diag.lines[i][0] == '/' && strstr(diag.lines[i], ": "));
    }
    profile_free(&prof);
    diag_free(&diag);
    unlink(path);
    free(text);
    return 0;
}
