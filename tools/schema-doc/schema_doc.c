/*
 * greenwatch-schema-doc: the configuration reference, drawn from the
 * tables of keys that the loader checks a configuration with.
 *
 *   greenwatch-schema-doc [-o FILE]       write the reference (default: stdout)
 *   greenwatch-schema-doc --check FILE    exit 1 if FILE is not what it would write
 *
 * The tables are private to the modules that parse with them, and what
 * nests one in another is the parsing code.  So the reference is taken
 * from loads: walk.conf and walk-profiles/walk-meter.conf (beside this
 * file) are loaded with a schema walker set (schema.h), which records
 * every table applied and the key that applied it.  The blocks, their
 * nesting and every key's type, default and range come from there; what
 * a key means comes from its `.doc`.  A key without one, or a block the
 * walk did not reach, stops the tool with a message, so the reference is
 * complete or not written.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "diag.h"
#include "profile.h"
#include "schema.h"

enum { MAX_TABLES = 64, MAX_ROWS = 64 };

/* A table as the loader applied it: under which key, in which load. */
struct table {
    const struct schema_key *keys;
    size_t n;
    const struct schema_key *parent;  /* NULL: at the top of a load */
    bool in_profile;                  /* applied by the profile file's load */
};

struct walk {
    struct table tables[MAX_TABLES];
    size_t n;
    bool profile_pass;
    bool overflow;
};

struct out {
    FILE *f;
    const struct walk *walk;
    int problems;
};

static void on_table(const struct schema_key *parent, const struct schema_key *keys, size_t n, void *arg)
{
    struct walk *w = arg;
    for (size_t i = 0; i < w->n; i++)
        if (w->tables[i].keys == keys && w->tables[i].parent == parent)
            return;
    if (w->n == MAX_TABLES) {
        w->overflow = true;
        return;
    }
    w->tables[w->n++] = (struct table){ .keys = keys, .n = n, .parent = parent, .in_profile = w->profile_pass };
}

/* ---- the loads ------------------------------------------------------------ */

static int walk_profile(struct walk *w, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/walk-profiles/walk-meter.conf", dir);
    struct gw_profile prof = { 0 };
    struct gw_diag diag = { 0 };
    w->profile_pass = true;
    schema_walk(on_table, w);
    int rc = profile_load_file(path, &prof, &diag);
    schema_walk(NULL, NULL);
    diag_print(&diag, stderr);
    diag_free(&diag);
    profile_free(&prof);
    return rc;
}

static int walk_config(struct walk *w, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/walk.conf", dir);
    struct gw_config *cfg = NULL;
    struct gw_diag diag = { 0 };
    w->profile_pass = false;
    schema_walk(on_table, w);
    int rc = config_load(path, &cfg, &diag);
    schema_walk(NULL, NULL);
    diag_print(&diag, stderr);
    diag_free(&diag);
    config_free(cfg);
    return rc;
}

/* ---- rows ----------------------------------------------------------------- */

/* The keys of sibling tables (applied under the same key; at the top, of
 * the same load) as one list: a key a table only accepts (SCHEMA_IGNORE)
 * shows as the sibling that handles it. */
static size_t merge_rows(struct out *o, const struct schema_key *parent, bool in_profile,
                         const struct schema_key **rows)
{
    const struct walk *w = o->walk;
    size_t n = 0;
    for (size_t t = 0; t < w->n; t++) {
        const struct table *tab = &w->tables[t];
        if (tab->parent != parent || (!parent && tab->in_profile != in_profile))
            continue;
        for (size_t k = 0; k < tab->n; k++) {
            const struct schema_key *key = &tab->keys[k];
            size_t r = 0;
            while (r < n && strcmp(rows[r]->name, key->name) != 0)
                r++;
            if (r < n) {
                if (rows[r]->type == SCHEMA_IGNORE && key->type != SCHEMA_IGNORE)
                    rows[r] = key;
            } else if (n < MAX_ROWS) {
                rows[n++] = key;
            } else {
                fprintf(stderr, "key '%s': more keys in one block than MAX_ROWS\n", key->name);
                o->problems++;
            }
        }
    }
    return n;
}

static bool has_children(const struct walk *w, const struct schema_key *key)
{
    for (size_t t = 0; t < w->n; t++)
        if (w->tables[t].parent == key)
            return true;
    return false;
}

/* Whether the tables under key are a profile file's own (documented there). */
static bool children_in_profile_top(const struct walk *w, const struct schema_key *key)
{
    for (size_t t = 0; t < w->n; t++) {
        if (w->tables[t].parent != key)
            continue;
        for (size_t u = 0; u < w->n; u++)
            if (w->tables[u].keys == w->tables[t].keys && !w->tables[u].parent && w->tables[u].in_profile)
                return true;
    }
    return false;
}

/* ---- cells ---------------------------------------------------------------- */

/* Integers as integers; others in the shortest %g that reads back. */
static void fmt_num(char *buf, size_t len, double v)
{
    if (v == floor(v) && fabs(v) < 1e9) {
        snprintf(buf, len, "%.0f", v);
        return;
    }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* Markdown table cells: a '|' would end the cell. */
static void put_cell(FILE *f, const char *text)
{
    fputs("| ", f);
    for (const char *c = text; *c; c++) {
        if (*c == '|')
            fputc('\\', f);
        fputc(*c, f);
    }
    fputc(' ', f);
}

static const char *type_cell(const struct schema_key *k)
{
    switch (k->type) {
    case SCHEMA_STRING:
    case SCHEMA_STRBUF:
    case SCHEMA_ENUM: return "string";
    case SCHEMA_INT: return "integer";
    case SCHEMA_FLOAT: return "number";
    case SCHEMA_BOOL: return "boolean";
    default: return k->doc_type ? k->doc_type : "";
    }
}

static bool default_in_range(const struct schema_key *k)
{
    switch (k->type) {
    case SCHEMA_INT:
    case SCHEMA_FLOAT: return !k->ranged || (k->def_num >= k->min && k->def_num <= k->max);
    case SCHEMA_ENUM: return k->def_num >= 0 && k->def_num < (double)k->n_choices;
    default: return true;
    }
}

static void default_cell(const struct schema_key *k, char *buf, size_t len)
{
    snprintf(buf, len, "—");
    if (k->doc_default)
        snprintf(buf, len, "%s", k->doc_default);
    else if (k->required)
        return;
    else if ((k->type == SCHEMA_STRING || k->type == SCHEMA_STRBUF) && k->def_str)
        snprintf(buf, len, "`\"%s\"`", k->def_str);
    else if (k->type == SCHEMA_INT || k->type == SCHEMA_FLOAT) {
        char num[32];
        fmt_num(num, sizeof num, k->def_num);
        snprintf(buf, len, "%s", num);
    } else if (k->type == SCHEMA_BOOL)
        snprintf(buf, len, "%s", k->def_num != 0 ? "true" : "false");
    else if (k->type == SCHEMA_ENUM && default_in_range(k))
        snprintf(buf, len, "`\"%s\"`", k->choices[(size_t)k->def_num]);
}

static void range_cell(const struct schema_key *k, char *buf, size_t len)
{
    snprintf(buf, len, "—");
    if (k->type == SCHEMA_ENUM) {
        buf[0] = '\0';
        for (size_t i = 0; i < k->n_choices; i++)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s`\"%s\"`", i ? " " : "", k->choices[i]);
    } else if (k->ranged) {
        char lo[32], hi[32];
        fmt_num(lo, sizeof lo, k->min);
        fmt_num(hi, sizeof hi, k->max);
        snprintf(buf, len, "%s … %s", lo, hi);
    } else if (k->type == SCHEMA_STRBUF) {
        snprintf(buf, len, "at most %zu characters", k->size - 1);
    }
}

/* What a rendered key must say for itself; reported, not guessed. */
static void check_key(struct out *o, const char *block, const struct schema_key *k)
{
    if (!k->doc || !*k->doc) {
        fprintf(stderr, "%s: key '%s' has no .doc in its schema table\n", block, k->name);
        o->problems++;
    }
    if ((k->type == SCHEMA_CUSTOM || k->type == SCHEMA_IGNORE) && !k->doc_type) {
        fprintf(stderr, "%s: key '%s' is parsed by hand: give .doc_type (what its value looks like)\n",
                block, k->name);
        o->problems++;
    }
    if (!k->required && !k->doc_default && !default_in_range(k) &&
        (k->type == SCHEMA_INT || k->type == SCHEMA_FLOAT)) {
        fprintf(stderr, "%s: key '%s': its stored default is outside its range (a marker): give .doc_default\n",
                block, k->name);
        o->problems++;
    }
}

static void put_rows(struct out *o, const char *block, const struct schema_key *const *rows, size_t n)
{
    fputs("| key | type | default | range or values | required | description |\n"
          "| --- | --- | --- | --- | --- | --- |\n", o->f);
    for (size_t r = 0; r < n; r++) {
        const struct schema_key *k = rows[r];
        char name[96], def[256], range[256];
        check_key(o, block, k);
        snprintf(name, sizeof name, "`%s`", k->name);
        default_cell(k, def, sizeof def);
        range_cell(k, range, sizeof range);
        put_cell(o->f, name);
        put_cell(o->f, type_cell(k));
        put_cell(o->f, def);
        put_cell(o->f, range);
        put_cell(o->f, k->required ? "yes" : "");
        put_cell(o->f, k->doc ? k->doc : "");
        fputs("|\n", o->f);
    }
}

/* ---- sections ------------------------------------------------------------- */

static void put_section(struct out *o, int level, const char *title, const struct schema_key *parent,
                        bool in_profile, const char *intro);

/* After a table: the groups its keys hold, each a section of its own, or a
 * pointer to where they are documented already. */
static void put_children(struct out *o, int level, const char *title, const struct schema_key *const *rows,
                         size_t n, bool in_profile)
{
    for (size_t r = 0; r < n; r++) {
        const struct schema_key *k = rows[r];
        if (!has_children(o->walk, k))
            continue;
        if (!in_profile && children_in_profile_top(o->walk, k)) {
            fprintf(o->f, "With `%s`, the keys of a [profile file](#profile-files) apply here too.\n\n", k->name);
            continue;
        }
        char sub[160];
        snprintf(sub, sizeof sub, "%s: %s", title, k->name);
        put_section(o, level + 1, sub, k, in_profile, k->doc);
    }
}

static void put_section(struct out *o, int level, const char *title, const struct schema_key *parent,
                        bool in_profile, const char *intro)
{
    const struct schema_key *rows[MAX_ROWS];
    size_t n = merge_rows(o, parent, in_profile, rows);
    fprintf(o->f, "%.*s %s\n\n", level, "######", title);
    if (intro && *intro)
        fprintf(o->f, "%c%s.\n\n", toupper((unsigned char)*intro), intro + 1);  /* a key's doc as a sentence */
    put_rows(o, title, rows, n);
    fputc('\n', o->f);
    put_children(o, level, title, rows, n, in_profile);
}

static void put_header(FILE *f)
{
    fputs("<!-- Generated by greenwatch-schema-doc (tools/schema-doc) from the tables of keys in\n"
          "     daemon/config.c, daemon/rules/rules_config.c, daemon/notify_config.c and\n"
          "     daemon/profile.c. Do not edit: change a key's .doc there and run\n"
          "     cmake --build <build directory> --target configuration-reference -->\n\n"
          "# Configuration reference: every key\n\n"
          "Every key greenwatchd accepts, as the configuration's loader checks it:\n"
          "this page is generated from the loader's own tables, so it lists exactly\n"
          "what `greenwatchd --check` accepts. What the blocks are for, with\n"
          "examples, is in [configuration.md](configuration.md); rule types in\n"
          "[rules.md](rules.md); notification in [alarms.md](alarms.md#notification);\n"
          "the report's settings in [reports.md](reports.md#configuration).\n\n"
          "- **type**: what the value is written as. A string key with listed values\n"
          "  takes one of them.\n"
          "- **default**: what a missing key means; `—`: nothing (the key is\n"
          "  optional, or required).\n"
          "- **range or values**: what is accepted; anything else is an error at its\n"
          "  `FILE:LINE`, as is an unknown key.\n"
          "- **required**: the key must be given (some keys are required only with\n"
          "  others: the description says so, and `--check` tells).\n\n", f);
}

/* The top of the configuration: its blocks, then each block. */
static void put_config(struct out *o)
{
    const struct schema_key *rows[MAX_ROWS];
    size_t n = merge_rows(o, NULL, false, rows);
    fputs("## Blocks\n\n", o->f);
    put_rows(o, "configuration", rows, n);
    fputc('\n', o->f);
    for (size_t r = 0; r < n; r++) {
        if (!has_children(o->walk, rows[r])) {
            fprintf(stderr, "block '%s' reached no table: add it to tools/schema-doc/walk.conf\n", rows[r]->name);
            o->problems++;
            continue;
        }
        put_section(o, 2, rows[r]->name, rows[r], false, rows[r]->doc);
    }
}

static void put_profile(struct out *o)
{
    const struct schema_key *rows[MAX_ROWS];
    size_t n = merge_rows(o, NULL, true, rows);
    fputs("## Profile files\n\n"
          "A register map, `<profile_dir>/<id>.conf`, holding one group\n"
          "`profile = { ... };` ([configuration.md](configuration.md#profiles-register-maps),\n"
          "[profiles.md](profiles.md)).\n\n", o->f);
    put_rows(o, "profile", rows, n);
    fputc('\n', o->f);
    put_children(o, 2, "profile", rows, n, true);
}

/* The reference as text (malloc'd), or NULL after reporting why. */
static char *reference(const char *walk_dir)
{
    struct walk w = { 0 };
    if (walk_profile(&w, walk_dir) || walk_config(&w, walk_dir)) {
        fprintf(stderr, "greenwatch-schema-doc: the walk files in %s must load without problems (above)\n",
                walk_dir);
        return NULL;
    }
    bool root = false;
    for (size_t t = 0; t < w.n; t++)
        root |= !w.tables[t].parent && !w.tables[t].in_profile;
    if (w.overflow || !root) {
        fprintf(stderr, "greenwatch-schema-doc: %s\n", w.overflow ? "more tables than MAX_TABLES" : "no configuration table seen");
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    struct out o = { .f = open_memstream(&text, &len), .walk = &w };
    if (!o.f)
        return NULL;
    put_header(o.f);
    put_config(&o);
    put_profile(&o);
    fclose(o.f);
    if (o.problems) {
        fprintf(stderr, "greenwatch-schema-doc: %d problem(s) above; no reference written\n", o.problems);
        free(text);
        return NULL;
    }
    return text;
}

/* ---- main ----------------------------------------------------------------- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    char buf[8192];
    for (size_t got; m && (got = fread(buf, 1, sizeof buf, f)) > 0;)
        fwrite(buf, 1, got, m);
    if (m)
        fclose(m);
    fclose(f);
    return text;
}

/* 0 if path holds text; otherwise say where they part and how to fix it. */
static int check(const char *path, const char *text)
{
    char *have = read_all(path);
    if (!have) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = 0;
    if (strcmp(have, text) != 0) {
        int line = 1;
        const char *a = have, *b = text;
        for (; *a && *a == *b; a++, b++)
            line += *a == '\n';
        fprintf(stderr, "%s is out of date: run `%s` (first difference at line %d)\n", path,
                GW_SCHEMA_DOC_REGENERATE, line);
        rc = 1;
    }
    free(have);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: greenwatch-schema-doc [-o FILE | --check FILE]\n"
                 "  -o, --output FILE  write the configuration reference to FILE (default: stdout)\n"
                 "      --check FILE   exit 1 if FILE differs from the reference\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "output", required_argument, NULL, 'o' }, { "check", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *output = NULL, *checked = NULL;
    for (int opt; (opt = getopt_long(argc, argv, "o:h", options, NULL)) != -1;) {
        switch (opt) {
        case 'o': output = optarg; break;
        case 'k': checked = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (output && checked)) {
        usage(stderr);
        return 2;
    }
    char *text = reference(GW_SCHEMA_DOC_WALK_DIR);
    if (!text)
        return 1;
    int rc = 0;
    if (checked) {
        rc = check(checked, text);
    } else {
        FILE *f = output ? fopen(output, "w") : stdout;
        if (!f || fputs(text, f) < 0 || (output && fclose(f) != 0)) {
            fprintf(stderr, "%s: cannot write: %s\n", output ? output : "stdout", strerror(errno));
            rc = 1;
        }
    }
    free(text);
    return rc;
}
