#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"

#define STORE_VERSION 1
#define STORE_MAX_BYTES (64 * 1024 * 1024)

/* ---- writing ------------------------------------------------------------ */

static bool worth_saving(const struct rule_inst *r)
{
    const struct alarm *a = &r->alarm;
    return r->ops->save || a->cond || a->latched || !a->acked || a->out_of_service || a->shelved_until_ms ||
           a->suppressed || alarm_state(a) != GW_ALARM_NORMAL;
}

static bool add_alarm_fields(cJSON *o, const struct rule_inst *r)
{
    const struct alarm *a = &r->alarm;
    bool ok = cJSON_AddStringToObject(o, "device", r->cfg->device_id) &&
              cJSON_AddStringToObject(o, "rule", r->cfg->id) &&
              cJSON_AddStringToObject(o, "type", gw_rule_type_names[r->cfg->type]) &&
              cJSON_AddStringToObject(o, "state", alarm_state_name(alarm_state(a))) &&
              cJSON_AddBoolToObject(o, "cond", a->cond) && cJSON_AddNumberToObject(o, "stage", a->stage) &&
              cJSON_AddStringToObject(o, "severity", gw_severity_names[a->severity]) &&
              cJSON_AddBoolToObject(o, "acked", a->acked) && cJSON_AddBoolToObject(o, "latched", a->latched) &&
              cJSON_AddBoolToObject(o, "out_of_service", a->out_of_service) &&
              cJSON_AddBoolToObject(o, "suppressed", a->suppressed) &&
              cJSON_AddBoolToObject(o, "suppress_on", r->suppress_on) &&
              cJSON_AddNumberToObject(o, "shelved_until_ms", (double)a->shelved_until_ms) &&
              cJSON_AddStringToObject(o, "shelved_by", a->shelved_by) &&
              cJSON_AddStringToObject(o, "acked_by", a->acked_by) &&
              cJSON_AddNumberToObject(o, "acked_ms", (double)a->acked_ms) &&
              cJSON_AddNumberToObject(o, "since_ms", (double)a->since_ms) &&
              cJSON_AddNumberToObject(o, "state_since_ms", (double)a->state_since_ms) &&
              cJSON_AddStringToObject(o, "message", a->message);
    if (ok && a->has_value)
        ok = cJSON_AddNumberToObject(o, "value", a->value);
    if (ok && a->has_limit)
        ok = cJSON_AddNumberToObject(o, "limit", a->limit);
    return ok;
}

static cJSON *alarm_to_json(const struct rule_inst *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !add_alarm_fields(o, r))
        goto fail;
    if (r->ops->save) {
        cJSON *data = cJSON_AddObjectToObject(o, "data");
        if (!data || r->ops->save(r, data))
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *document(const struct rule_inst *rules, size_t n, uint64_t seq, int64_t now_ms)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *alarms = doc ? cJSON_AddArrayToObject(doc, "alarms") : NULL;
    if (!alarms || !cJSON_AddNumberToObject(doc, "version", STORE_VERSION) ||
        !cJSON_AddNumberToObject(doc, "seq", (double)seq) || !cJSON_AddNumberToObject(doc, "saved_ms", (double)now_ms))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (!worth_saving(&rules[i]))
            continue;
        cJSON *o = alarm_to_json(&rules[i]);
        if (!o || !cJSON_AddItemToArray(alarms, o)) {
            cJSON_Delete(o);
            goto fail;
        }
    }
    return doc;
fail:
    cJSON_Delete(doc);
    return NULL;
}

static int write_all(int fd, const char *text, size_t len)
{
    while (len) {
        ssize_t w = write(fd, text, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        text += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The rename is durable only once the directory is synced. */
static void sync_dir(const char *path)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, text, strlen(text));
    if (!rc && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    else
        sync_dir(path);
    return rc;
}

int store_save(const char *path, const struct rule_inst *rules, size_t n, uint64_t seq, int64_t now_ms)
{
    cJSON *doc = document(rules, n, seq, now_ms);
    char *text = doc ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    int rc = text ? write_atomic(path, text) : -ENOMEM;
    free(text);
    if (rc)
        log_error("alarm state: cannot write %s: %s", path, strerror(-rc));
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

static int read_text(const char *path, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || st.st_size > STORE_MAX_BYTES) {
        fclose(f);
        return -EFBIG;
    }
    char *text = malloc((size_t)st.st_size + 1);
    size_t got = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
    int rc = !text ? -ENOMEM : ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc) {
        free(text);
        return rc;
    }
    text[got] = '\0';
    *out = text;
    return 0;
}

static int64_t num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? (int64_t)v->valuedouble : 0;
}

static bool flag(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void text_field(char *dst, size_t len, const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    snprintf(dst, len, "%s", s ? s : "");
}

static int severity_of(const cJSON *o, int fallback)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "severity"));
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, gw_severity_names[i]) == 0)
            return i;
    return fallback;
}

static void restore_alarm(struct rule_inst *r, const cJSON *o)
{
    struct alarm *a = &r->alarm;
    a->cond = flag(o, "cond");
    a->stage = a->cond ? (int)num(o, "stage") : 0;
    if (a->cond && (a->stage < 1 || a->stage > 2))
        a->stage = 1;
    a->severity = severity_of(o, a->severity);
    a->acked = flag(o, "acked");
    a->latched = flag(o, "latched") && a->latching;
    a->out_of_service = flag(o, "out_of_service");
    a->suppressed = flag(o, "suppressed");
    r->suppress_on = flag(o, "suppress_on");
    a->shelved_until_ms = num(o, "shelved_until_ms");
    text_field(a->shelved_by, sizeof a->shelved_by, o, "shelved_by");
    text_field(a->acked_by, sizeof a->acked_by, o, "acked_by");
    a->acked_ms = num(o, "acked_ms");
    a->since_ms = num(o, "since_ms");
    a->state_since_ms = num(o, "state_since_ms");
    text_field(a->message, sizeof a->message, o, "message");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(o, "value"), *limit = cJSON_GetObjectItemCaseSensitive(o, "limit");
    rule_note(r, cJSON_IsNumber(value) ? value->valuedouble : NAN, cJSON_IsNumber(limit) ? limit->valuedouble : NAN);
    r->delay.state = a->cond;
    r->delay.began_ms = a->since_ms;
    a->reported = alarm_state(a);
    a->reported_severity = a->severity;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    if (r->ops->load && cJSON_IsObject(data))
        r->ops->load(r, data);
}

static struct rule_inst *find_rule(struct rule_inst *rules, size_t n, const cJSON *o)
{
    const char *device = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "device"));
    const char *rule = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "rule"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type"));
    for (size_t i = 0; device && rule && type && i < n; i++)
        if (strcmp(rules[i].cfg->device_id, device) == 0 && strcmp(rules[i].cfg->id, rule) == 0)
            return strcmp(gw_rule_type_names[rules[i].cfg->type], type) == 0 ? &rules[i] : NULL;
    return NULL;
}

static void keep_aside(const char *path)
{
    char aside[PATH_MAX];
    if (snprintf(aside, sizeof aside, "%s.corrupt", path) < (int)sizeof aside && rename(path, aside) == 0)
        log_warning("alarm state: %s kept as %s", path, aside);
}

int store_load(const char *path, struct rule_inst *rules, size_t n, uint64_t *seq)
{
    char *text;
    int rc = read_text(path, &text);
    if (rc == -ENOENT) {
        log_info("alarm state: no %s yet; starting with every alarm normal", path);
        return 0;
    }
    if (rc) {
        log_warning("alarm state: cannot read %s (%s); starting with every alarm normal", path, strerror(-rc));
        return rc;
    }
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *alarms = cJSON_GetObjectItemCaseSensitive(doc, "alarms");
    if (!cJSON_IsObject(doc) || num(doc, "version") != STORE_VERSION || !cJSON_IsArray(alarms)) {
        log_warning("alarm state: %s is not a version %d state file; starting with every alarm normal",
                    path, STORE_VERSION);
        cJSON_Delete(doc);
        keep_aside(path);
        return -EINVAL;
    }
    *seq = (uint64_t)num(doc, "seq");
    int restored = 0, dropped = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, alarms) {
        struct rule_inst *r = cJSON_IsObject(o) ? find_rule(rules, n, o) : NULL;
        if (r) {
            restore_alarm(r, o);
            restored++;
        } else {
            dropped++;
        }
    }
    cJSON_Delete(doc);
    log_info("alarm state: restored %d alarms from %s%s", restored, path,
             dropped ? " (entries of rules no longer configured were dropped)" : "");
    return restored;
}
