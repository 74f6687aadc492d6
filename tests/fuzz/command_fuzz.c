/*
 * libFuzzer target for the MQTT command parser (daemon/command.c): the
 * first byte picks the command kind, the rest is the payload as it would
 * arrive on `<prefix>/cmd/<kind>`.  Whatever the bytes, the parser either
 * accepts a command whose every field keeps the documented bounds, or
 * refuses it with a message; an accepted command, written out again as
 * JSON, parses to the same command; the answer to either is valid JSON.
 * Any broken invariant aborts, so that the fuzzer reports it.
 */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

static bool printable(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return n >= min && n <= max;
}

static bool valid_id(const char *s)
{
    if (!*s || strlen(s) > GW_CMD_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

static void check_accepted(const struct gw_command *c)
{
    REQUIRE(c->error[0] == '\0');
    REQUIRE(printable(c->id, 1, GW_CMD_ID_MAX));
    REQUIRE(valid_id(c->device));
    REQUIRE(c->rule[0] ? valid_id(c->rule) : c->kind == GW_CMD_OUT_OF_SERVICE);
    REQUIRE(printable(c->user, 1, GW_CMD_USER_MAX));
    REQUIRE(printable(c->comment, 0, sizeof c->comment - 1));
    if (c->kind == GW_CMD_SHELVE)
        REQUIRE(c->duration_s >= GW_CMD_SHELVE_MIN_S && c->duration_s <= GW_CMD_SHELVE_MAX_S);
}

/* The command written as JSON again parses to the same command. */
static void check_round_trip(const struct gw_command *c)
{
    cJSON *o = cJSON_CreateObject();
    REQUIRE(o);
    cJSON_AddStringToObject(o, "id", c->id);
    cJSON_AddStringToObject(o, "device", c->device);
    if (c->rule[0])
        cJSON_AddStringToObject(o, "rule", c->rule);
    cJSON_AddStringToObject(o, "user", c->user);
    if (c->kind == GW_CMD_SHELVE)
        cJSON_AddNumberToObject(o, "duration_s", c->duration_s);
    if (c->kind == GW_CMD_OUT_OF_SERVICE)
        cJSON_AddBoolToObject(o, "out_of_service", c->out_of_service);
    if (c->comment[0])
        cJSON_AddStringToObject(o, "comment", c->comment);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    REQUIRE(text);
    struct gw_command again;
    REQUIRE(command_parse(c->kind, text, strlen(text), &again) == 0);
    free(text);
    REQUIRE(strcmp(again.id, c->id) == 0 && strcmp(again.device, c->device) == 0 &&
            strcmp(again.rule, c->rule) == 0 && strcmp(again.user, c->user) == 0 &&
            strcmp(again.comment, c->comment) == 0 && again.out_of_service == c->out_of_service);
    REQUIRE(c->kind != GW_CMD_SHELVE || fabs(again.duration_s - c->duration_s) <= 1e-9 * c->duration_s);
}

static void check_answer(const struct gw_command *c, bool ok)
{
    struct gw_command_result r = { .id = c->id, .ok = ok, .error = ok ? NULL : c->error };
    char *text = command_result_json(&r);
    REQUIRE(text);
    cJSON *back = cJSON_Parse(text);
    REQUIRE(cJSON_IsObject(back));
    REQUIRE(cJSON_IsBool(cJSON_GetObjectItem(back, "ok")));
    cJSON_Delete(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum gw_cmd_kind kind = (enum gw_cmd_kind)(data[0] % GW_CMD_KIND_COUNT);
    struct gw_command c;
    int rc = command_parse(kind, data + 1, size - 1, &c);
    REQUIRE(c.kind == kind);
    REQUIRE(rc == 0 || rc == -EINVAL || rc == -E2BIG);
    REQUIRE((rc == -E2BIG) == (size - 1 > GW_CMD_MAX_PAYLOAD));
    REQUIRE(printable(c.id, 0, GW_CMD_ID_MAX));
    if (rc == 0) {
        check_accepted(&c);
        check_round_trip(&c);
    } else {
        REQUIRE(c.error[0] != '\0' && memchr(c.error, '\0', sizeof c.error));
    }
    check_answer(&c, rc == 0);
    return 0;
}
