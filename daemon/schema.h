/*
 * Configuration schema: a table of keys (name, type, where it is stored,
 * default, range or choices, custom parser) applied to one libconfig group.
 * Every problem is reported to the diag as FILE:LINE: message, and loading
 * goes on so that all problems are reported at once.
 */
#ifndef GW_SCHEMA_H
#define GW_SCHEMA_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include "diag.h"

enum schema_type {
    SCHEMA_STRING,  /* char *, strdup'd, owned by the target */
    SCHEMA_STRBUF,  /* char[size], too long is an error */
    SCHEMA_INT,     /* any integer field; size taken from the field */
    SCHEMA_FLOAT,   /* double */
    SCHEMA_BOOL,    /* bool */
    SCHEMA_ENUM,    /* string among choices, stored as an int-sized enum */
    SCHEMA_CUSTOM,  /* parse() does the work */
    SCHEMA_IGNORE,  /* accepted here, handled by another table */
};

struct schema_ctx {
    struct gw_diag *diag;
    void *user;     /* for custom parsers */
};

struct schema_key {
    const char *name;
    enum schema_type type;
    size_t offset, size;
    bool required;
    const char *def_str;
    double def_num;
    bool ranged;            /* check min <= value <= max */
    double min, max;
    const char *const *choices;
    size_t n_choices;
    /* SCHEMA_CUSTOM: parse setting into target (the struct, not the field).
     * Returns 0 or -EINVAL after reporting. */
    int (*parse)(const config_setting_t *setting, void *target, struct schema_ctx *ctx);
    /* Optional note on a flag field, set true when the key was present. */
    size_t present_offset;  /* 0: none (offset 0 is never a presence flag) */
    /* For the configuration reference (docs/configuration-reference.md,
     * written by tools/schema-doc): what the key means, in one line; for a
     * SCHEMA_CUSTOM or SCHEMA_IGNORE key, what its value looks like ("list
     * of groups"); and the default in words where the stored one is a
     * marker (-1: "the bus's") or depends on the build. */
    const char *doc;
    const char *doc_type;
    const char *doc_default;
};

#define SCHEMA_FIELD(type, field) .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)
#define SCHEMA_PRESENT(type, field) .present_offset = offsetof(type, field)

/*
 * Apply keys[0..n) to group, storing into target.  Unknown keys are errors
 * unless allow_unknown.  what names the group in messages ("device 'ahu-1'").
 * A key that is missing, or whose value is rejected, gets its default.
 * Returns 0, or -EINVAL if anything was reported.
 */
int schema_load(const config_setting_t *group, const struct schema_key *keys, size_t n,
                void *target, bool allow_unknown, const char *what, struct schema_ctx *ctx);

/* Give every key of the table its default (for a group that is absent).
 * Returns 0 or -ENOMEM. */
int schema_defaults(const struct schema_key *keys, size_t n, void *target);

/* Free the SCHEMA_STRING fields of target. */
void schema_free(const struct schema_key *keys, size_t n, void *target);

/* Report a problem at setting's file and line. */
void schema_error(struct schema_ctx *ctx, const config_setting_t *setting, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True if the setting is an integer or float; *out gets its value. */
bool schema_number(const config_setting_t *setting, double *out);

/*
 * Walking the tables, for the configuration reference.  The tables are
 * private to the modules that parse with them; what ties them into one
 * configuration is the loading itself, so a reference drawn from a load
 * cannot drift from what a load accepts.  While a walker is set on the
 * calling thread, schema_load calls it with every table it is about to
 * apply: parent is the SCHEMA_CUSTOM key whose parse() applies the table,
 * NULL for a table applied at the top of a load (a configuration's root, a
 * profile file's group).  fn NULL removes the walker.
 */
typedef void schema_walk_fn(const struct schema_key *parent, const struct schema_key *keys, size_t n,
                            void *arg);
void schema_walk(schema_walk_fn *fn, void *arg);

#endif
