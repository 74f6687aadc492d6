#include "command.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[GW_CMD_KIND_COUNT] = {
    [GW_CMD_ACK] = "ack",
    [GW_CMD_SHELVE] = "shelve",
    [GW_CMD_UNSHELVE] = "unshelve",
    [GW_CMD_SERVICE] = "service",
    [GW_CMD_OUT_OF_SERVICE] = "out_of_service",
};

const char *command_kind_name(enum gw_cmd_kind kind)
{
    return (unsigned)kind < GW_CMD_KIND_COUNT ? kind_names[kind] : "?";
}

int command_kind_parse(const char *name, enum gw_cmd_kind *kind)
{
    for (int i = 0; i < GW_CMD_KIND_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (enum gw_cmd_kind)i;
            return 0;
        }
    return -ENOENT;
}

/* ---- the fields of each command --------------------------------------- */

enum field_type { F_ID, F_NAME, F_USER, F_COMMENT, F_DURATION, F_BOOL };

struct field {
    const char *name;
    enum field_type type;
    bool required;
};

#define MAX_FIELDS 6

/* Per kind, every field it may hold; the order is the order in which
 * missing fields are reported. */
static const struct field kind_fields[GW_CMD_KIND_COUNT][MAX_FIELDS] = {
    [GW_CMD_ACK] = { { "id", F_ID, true }, { "device", F_NAME, true }, { "rule", F_NAME, true },
                     { "user", F_USER, true }, { "comment", F_COMMENT, false } },
    [GW_CMD_SHELVE] = { { "id", F_ID, true }, { "device", F_NAME, true }, { "rule", F_NAME, true },
                        { "user", F_USER, true }, { "duration_s", F_DURATION, true },
                        { "comment", F_COMMENT, false } },
    [GW_CMD_UNSHELVE] = { { "id", F_ID, true }, { "device", F_NAME, true }, { "rule", F_NAME, true },
                          { "user", F_USER, true }, { "comment", F_COMMENT, false } },
    [GW_CMD_SERVICE] = { { "id", F_ID, true }, { "device", F_NAME, true }, { "rule", F_NAME, true },
                         { "user", F_USER, true }, { "comment", F_COMMENT, false } },
    [GW_CMD_OUT_OF_SERVICE] = { { "id", F_ID, true }, { "device", F_NAME, true },
                                { "rule", F_NAME, false }, { "user", F_USER, true },
                                { "out_of_service", F_BOOL, true }, { "comment", F_COMMENT, false } },
};

static int refuse(struct gw_command *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(struct gw_command *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    return rc;
}


/* Ids are the configuration's: letters, digits, '_', '-' and '.'. */
static bool valid_id(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

/* Well-formed UTF-8 without control characters (C0, DEL, C1): the number
 * of characters, or -1. */
static long utf8_text_length(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;
    while (*p) {
        unsigned c = *p;
        int more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (more < 0 || (more == 1 && c < 0xc2) || (more == 3 && c > 0xf4) || c < 0x20 || c == 0x7f)
            return -1;
        uint32_t cp = more ? c & (0x3fu >> more) : c;
        for (int i = 1; i <= more; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return -1;
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        if ((more == 1 && cp < 0xa0) || (more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return -1;
        p += more + 1;
        n++;
    }
    return n;
}

/* Text an operator could type: UTF-8 without control characters. */
static bool printable(const char *s)
{
    return utf8_text_length(s) >= 0;
}

/* A field name fit for an error message: printable ASCII, shortened. */
static void shown_name(const char *name, char *out, size_t n)
{
    size_t i = 0, len = strlen(name);
    for (; name[i] && i + 4 < n && i < 32; i++)
        out[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    out[i] = '\0';
    if (i < len)
        snprintf(out + i, n - i, "...");
}

static char *text_target(struct gw_command *c, const char *name, size_t *cap)
{
    static const struct { const char *name; size_t off, cap; } targets[] = {
        { "id", offsetof(struct gw_command, id), sizeof ((struct gw_command *)0)->id },
        { "device", offsetof(struct gw_command, device), sizeof ((struct gw_command *)0)->device },
        { "rule", offsetof(struct gw_command, rule), sizeof ((struct gw_command *)0)->rule },
        { "user", offsetof(struct gw_command, user), sizeof ((struct gw_command *)0)->user },
        { "comment", offsetof(struct gw_command, comment), sizeof ((struct gw_command *)0)->comment },
    };
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
        if (strcmp(targets[i].name, name) == 0) {
            *cap = targets[i].cap;
            return (char *)c + targets[i].off;
        }
    *cap = 0;
    return NULL;
}

/* A string field: checked, then copied into the command. */
static int take_text(struct gw_command *c, const struct field *f, const cJSON *item)
{
    if (!cJSON_IsString(item))
        return refuse(c, -EINVAL, "field '%s' must be a string", f->name);
    const char *v = item->valuestring;
    size_t len = strlen(v);
    switch (f->type) {
    case F_ID:
        if (len < 1 || len > GW_CMD_ID_MAX || !printable(v))
            return refuse(c, -EINVAL, "field 'id' must be 1 to %d printable characters", GW_CMD_ID_MAX);
        break;
    case F_NAME:
        if (len < 1 || len > GW_CMD_NAME_MAX || !valid_id(v))
            return refuse(c, -EINVAL, "field '%s' must be 1 to %d letters, digits, '_', '-' or '.'", f->name,
                          GW_CMD_NAME_MAX);
        break;
    case F_USER:
        if (len < 1 || len > GW_CMD_USER_MAX || !printable(v))
            return refuse(c, -EINVAL, "field 'user' must be 1 to %d printable characters", GW_CMD_USER_MAX);
        break;
    default: {
        long chars = utf8_text_length(v);
        if (chars < 0 || chars > GW_CMD_COMMENT_MAX)
            return refuse(c, -EINVAL, "field 'comment' must be at most %d characters of text", GW_CMD_COMMENT_MAX);
    }
    }
    size_t cap;
    char *dst = text_target(c, f->name, &cap);
    if (dst && len < cap)
        memcpy(dst, v, len + 1);
    return 0;
}

static int take_field(struct gw_command *c, const struct field *f, const cJSON *item)
{
    if (f->type == F_DURATION) {
        if (!cJSON_IsNumber(item))
            return refuse(c, -EINVAL, "field 'duration_s' must be a number");
        double d = item->valuedouble;
        if (!isfinite(d) || d < GW_CMD_SHELVE_MIN_S || d > GW_CMD_SHELVE_MAX_S)
            return refuse(c, -EINVAL, "field 'duration_s' must be from %d to %d seconds", GW_CMD_SHELVE_MIN_S,
                          GW_CMD_SHELVE_MAX_S);
        c->duration_s = d;
        return 0;
    }
    if (f->type == F_BOOL) {
        if (!cJSON_IsBool(item))
            return refuse(c, -EINVAL, "field '%s' must be true or false", f->name);
        c->out_of_service = cJSON_IsTrue(item);
        return 0;
    }
    return take_text(c, f, item);
}

/* The offset of a "\u0000" escape (cJSON would cut the string there),
 * or -1. */
static long nul_escape(const char *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (p[i] != '\\')
            continue;
        if (p[i + 1] == 'u' && i + 6 <= len && memcmp(p + i + 2, "0000", 4) == 0)
            return (long)i;
        i++;    /* the escaped character */
    }
    return -1;
}

/* The payload as a JSON object, or NULL with c->error set. */
static cJSON *parse_object(struct gw_command *c, const char *p, size_t len, int *rc)
{
    *rc = -EINVAL;
    if (len > GW_CMD_MAX_PAYLOAD) {
        *rc = refuse(c, -E2BIG, "payload larger than %d bytes", GW_CMD_MAX_PAYLOAD);
        return NULL;
    }
    const char *nul = memchr(p, '\0', len);
    long esc = nul_escape(p, len);
    if (nul || esc >= 0) {
        refuse(c, -EINVAL, "NUL character at byte %ld", nul ? (long)(nul - p) : esc);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(p, len, &end, 0);
    size_t at = end && end >= p && end <= p + len ? (size_t)(end - p) : 0;
    while (root && at < len && (p[at] == ' ' || p[at] == '\t' || p[at] == '\n' || p[at] == '\r'))
        at++;
    if (!root || at < len) {
        cJSON_Delete(root);
        refuse(c, -EINVAL, "malformed JSON near byte %zu", at);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        refuse(c, -EINVAL, "payload is not a JSON object");
        return NULL;
    }
    *rc = 0;
    return root;
}

static const struct field *find_field(enum gw_cmd_kind kind, const char *name, int *index)
{
    for (int i = 0; i < MAX_FIELDS && kind_fields[kind][i].name; i++)
        if (strcmp(kind_fields[kind][i].name, name) == 0) {
            *index = i;
            return &kind_fields[kind][i];
        }
    return NULL;
}

/* The request id first, whatever else is wrong: the answer echoes it. */
static void take_id_early(struct gw_command *c, const cJSON *root)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (cJSON_IsString(id) && strlen(id->valuestring) <= GW_CMD_ID_MAX && printable(id->valuestring))
        snprintf(c->id, sizeof c->id, "%s", id->valuestring);
}

static int check_members(struct gw_command *c, const cJSON *root, unsigned *seen)
{
    for (const cJSON *item = root->child; item; item = item->next) {
        char shown[48];
        int index;
        const struct field *f = find_field(c->kind, item->string, &index);
        shown_name(item->string, shown, sizeof shown);
        if (!f)
            return refuse(c, -EINVAL, "unknown field '%s'", shown);
        if (*seen & 1u << index)
            return refuse(c, -EINVAL, "duplicate field '%s'", shown);
        *seen |= 1u << index;
        int rc = take_field(c, f, item);
        if (rc)
            return rc;
    }
    return 0;
}

int command_parse(enum gw_cmd_kind kind, const void *payload, size_t len, struct gw_command *out)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if ((unsigned)kind >= GW_CMD_KIND_COUNT)
        return refuse(out, -EINVAL, "unknown command");
    int rc;
    cJSON *root = parse_object(out, payload ? payload : "", payload ? len : 0, &rc);
    if (!root)
        return rc;
    take_id_early(out, root);
    unsigned seen = 0;
    rc = check_members(out, root, &seen);
    cJSON_Delete(root);
    for (int i = 0; rc == 0 && i < MAX_FIELDS && kind_fields[kind][i].name; i++)
        if (kind_fields[kind][i].required && !(seen & 1u << i))
            rc = refuse(out, -EINVAL, "missing field '%s'", kind_fields[kind][i].name);
    return rc;
}

char *command_result_json(const struct gw_command_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (r->id && r->id[0])
        cJSON_AddStringToObject(o, "id", r->id);
    else
        cJSON_AddNullToObject(o, "id");
    cJSON_AddBoolToObject(o, "ok", r->ok);
    if (!r->ok)
        cJSON_AddStringToObject(o, "error", r->error && r->error[0] ? r->error : "refused");
    if (r->state)
        cJSON_AddStringToObject(o, "state", r->state);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* ---- the queue ----------------------------------------------------------- */

struct gw_cmd_queue {
    pthread_mutex_t lock;
    size_t capacity;           /* to run; as many again as refusals */
    size_t head, count;
    uint64_t dropped;
    struct gw_command ring[];  /* 2 * capacity */
};

int cmdq_create(size_t capacity, struct gw_cmd_queue **out)
{
    *out = NULL;
    if (capacity < 1)
        capacity = 1;
    struct gw_cmd_queue *q = calloc(1, sizeof *q + 2 * capacity * sizeof q->ring[0]);
    if (!q)
        return -ENOMEM;
    pthread_mutex_init(&q->lock, NULL);
    q->capacity = capacity;
    *out = q;
    return 0;
}

int cmdq_push(struct gw_cmd_queue *q, const struct gw_command *cmd)
{
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    if (q->count >= 2 * q->capacity) {
        q->dropped++;
        rc = -ENOSPC;
    } else {
        struct gw_command *slot = &q->ring[(q->head + q->count) % (2 * q->capacity)];
        *slot = *cmd;
        if (q->count >= q->capacity && !slot->error[0]) {
            snprintf(slot->error, sizeof slot->error, "too many commands waiting; try again later");
            rc = -EBUSY;
        }
        q->count++;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

bool cmdq_pop(struct gw_cmd_queue *q, struct gw_command *out)
{
    pthread_mutex_lock(&q->lock);
    bool got = q->count > 0;
    if (got) {
        *out = q->ring[q->head];
        q->head = (q->head + 1) % (2 * q->capacity);
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

uint64_t cmdq_dropped(struct gw_cmd_queue *q)
{
    pthread_mutex_lock(&q->lock);
    uint64_t n = q->dropped;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void cmdq_free(struct gw_cmd_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    free(q);
}
