/*
 * Operator commands (command.h): the strict parser on a table of valid
 * and invalid payloads with the exact refusal of each, the result
 * document, the bounded queue between the MQTT client's thread and the
 * main thread, and commands applied to a rule engine.  The same payloads
 * through the real broker and daemon: tests/integration/alarms_test.c.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "rules_fixture.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the parser ------------------------------------------------------------ */

#define ACK_FIELDS "\"id\":\"r1\",\"device\":\"chiller-1\",\"rule\":\"chw-supply-high\",\"user\":\"alice\""

struct parse_case {
    enum gw_cmd_kind kind;
    const char *payload;
    const char *error;         /* NULL: accepted */
};

static const struct parse_case parse_cases[] = {
    /* accepted */
    { GW_CMD_ACK, "{" ACK_FIELDS "}", NULL },
    { GW_CMD_ACK, " \n{" ACK_FIELDS "}\r\n\t ", NULL },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"comment\":\"冷冻水供水温度偏高, 已通知维保\"}", NULL },
    { GW_CMD_ACK, "{\"user\":\"alice\",\"rule\":\"r\",\"device\":\"d\",\"id\":\"x\"}", NULL },
    { GW_CMD_ACK, "{\"id\":\"工单-17\",\"device\":\"d\",\"rule\":\"r\",\"user\":\"张工\"}", NULL },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"comment\":\"a literal \\\\u0000 is text\"}", NULL },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":7200}", NULL },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":60}", NULL },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":2592000}", NULL },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":90.5,\"comment\":\"commissioning\"}", NULL },
    { GW_CMD_UNSHELVE, "{" ACK_FIELDS "}", NULL },
    { GW_CMD_SERVICE, "{" ACK_FIELDS ",\"comment\":\"filters replaced\"}", NULL },
    { GW_CMD_OUT_OF_SERVICE, "{\"id\":\"r\",\"device\":\"d\",\"user\":\"u\",\"out_of_service\":true}", NULL },
    { GW_CMD_OUT_OF_SERVICE, "{" ACK_FIELDS ",\"out_of_service\":false}", NULL },

    /* malformed */
    { GW_CMD_ACK, "", "malformed JSON near byte 0" },
    { GW_CMD_ACK, "   ", "malformed JSON near byte 2" },
    { GW_CMD_ACK, "{", "malformed JSON near byte 0" },
    { GW_CMD_ACK, "{\"id\":\"r1\",}", "malformed JSON near byte 11" },
    { GW_CMD_ACK, "{" ACK_FIELDS "} {}", "malformed JSON near byte 73" },
    { GW_CMD_ACK, "{" ACK_FIELDS "}x", "malformed JSON near byte 72" },
    { GW_CMD_ACK, "{'id':'r1'}", "malformed JSON near byte 2" },
    { GW_CMD_ACK, "[1,2]", "payload is not a JSON object" },
    { GW_CMD_ACK, "\"ack\"", "payload is not a JSON object" },
    { GW_CMD_ACK, "null", "payload is not a JSON object" },
    { GW_CMD_ACK, "42", "payload is not a JSON object" },
    { GW_CMD_ACK, "{\"id\":\"r\\u0000x\",\"device\":\"d\",\"rule\":\"r\",\"user\":\"u\"}", "NUL character at byte 8" },

    /* unknown and repeated fields */
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"force\":true}", "unknown field 'force'" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"duration_s\":3600}", "unknown field 'duration_s'" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"out_of_service\":true}", "unknown field 'out_of_service'" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"Device\":\"x\"}", "unknown field 'Device'" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"\":1}", "unknown field ''" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"a\\nb\":1}", "unknown field 'a?b'" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"abcdefghijklmnopqrstuvwxyz0123456789\":1}",
      "unknown field 'abcdefghijklmnopqrstuvwxyz012345...'" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"device\":\"chiller-2\"}", "duplicate field 'device'" },
    { GW_CMD_UNSHELVE, "{" ACK_FIELDS ",\"duration_s\":60}", "unknown field 'duration_s'" },

    /* wrong types */
    { GW_CMD_ACK, "{\"id\":5,\"device\":\"d\",\"rule\":\"r\",\"user\":\"u\"}", "field 'id' must be a string" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":1,\"rule\":\"r\",\"user\":\"u\"}", "field 'device' must be a string" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"d\",\"rule\":[\"r\"],\"user\":\"u\"}", "field 'rule' must be a string" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"d\",\"rule\":\"r\",\"user\":null}", "field 'user' must be a string" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"comment\":{}}", "field 'comment' must be a string" },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":\"2h\"}", "field 'duration_s' must be a number" },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":true}", "field 'duration_s' must be a number" },
    { GW_CMD_OUT_OF_SERVICE, "{" ACK_FIELDS ",\"out_of_service\":\"yes\"}",
      "field 'out_of_service' must be true or false" },
    { GW_CMD_OUT_OF_SERVICE, "{" ACK_FIELDS ",\"out_of_service\":1}", "field 'out_of_service' must be true or false" },

    /* out of range */
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":59}", "field 'duration_s' must be from 60 to 2592000 seconds" },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":2592001}", "field 'duration_s' must be from 60 to 2592000 seconds" },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":-3600}", "field 'duration_s' must be from 60 to 2592000 seconds" },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"duration_s\":1e400}", "field 'duration_s' must be from 60 to 2592000 seconds" },
    { GW_CMD_ACK, "{\"id\":\"\",\"device\":\"d\",\"rule\":\"r\",\"user\":\"u\"}",
      "field 'id' must be 1 to 64 printable characters" },
    { GW_CMD_ACK, "{\"id\":\"0123456789012345678901234567890123456789012345678901234567890123x\",\"device\":\"d\","
                  "\"rule\":\"r\",\"user\":\"u\"}",
      "field 'id' must be 1 to 64 printable characters" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"chiller 1\",\"rule\":\"r\",\"user\":\"u\"}",
      "field 'device' must be 1 to 128 letters, digits, '_', '-' or '.'" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"+\",\"rule\":\"r\",\"user\":\"u\"}",
      "field 'device' must be 1 to 128 letters, digits, '_', '-' or '.'" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"d\",\"rule\":\"a/#\",\"user\":\"u\"}",
      "field 'rule' must be 1 to 128 letters, digits, '_', '-' or '.'" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"\",\"rule\":\"r\",\"user\":\"u\"}",
      "field 'device' must be 1 to 128 letters, digits, '_', '-' or '.'" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"d\",\"rule\":\"r\",\"user\":\"\"}",
      "field 'user' must be 1 to 63 printable characters" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"d\",\"rule\":\"r\",\"user\":\"al\\nice\"}",
      "field 'user' must be 1 to 63 printable characters" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"d\",\"rule\":\"r\","
                  "\"user\":\"0123456789012345678901234567890123456789012345678901234567890123\"}",
      "field 'user' must be 1 to 63 printable characters" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"comment\":\"line\\nbreak\"}", "field 'comment' must be at most 256 characters of text" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"comment\":\"\xff\xfe\"}", "field 'comment' must be at most 256 characters of text" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"comment\":\"\xc0\xaf\"}", "field 'comment' must be at most 256 characters of text" },
    { GW_CMD_ACK, "{" ACK_FIELDS ",\"comment\":\"C1 \\u009b control\"}",
      "field 'comment' must be at most 256 characters of text" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"d\",\"rule\":\"r\",\"user\":\"\\u0085x\"}",
      "field 'user' must be 1 to 63 printable characters" },
    { GW_CMD_ACK, "{\"id\":\"\xff\",\"device\":\"d\",\"rule\":\"r\",\"user\":\"u\"}",
      "field 'id' must be 1 to 64 printable characters" },

    /* missing */
    { GW_CMD_ACK, "{}", "missing field 'id'" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"device\":\"d\",\"rule\":\"r\"}", "missing field 'user'" },
    { GW_CMD_ACK, "{\"id\":\"r\",\"rule\":\"r\",\"user\":\"u\"}", "missing field 'device'" },
    { GW_CMD_SHELVE, "{" ACK_FIELDS "}", "missing field 'duration_s'" },
    { GW_CMD_SHELVE, "{" ACK_FIELDS ",\"comment\":\"for a while\"}", "missing field 'duration_s'" },
    { GW_CMD_OUT_OF_SERVICE, "{" ACK_FIELDS "}", "missing field 'out_of_service'" },
    { GW_CMD_UNSHELVE, "{\"id\":\"r\",\"device\":\"d\",\"user\":\"u\"}", "missing field 'rule'" },
};

static void test_parse_table(void)
{
    for (size_t i = 0; i < N(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        struct gw_command cmd;
        int rc = command_parse(c->kind, c->payload, strlen(c->payload), &cmd);
        bool ok = c->error ? rc == -EINVAL && strcmp(cmd.error, c->error) == 0 : rc == 0 && cmd.error[0] == '\0';
        if (!ok)
            fprintf(stderr, "\ncase %zu (%s) %s: rc %d, error '%s', want '%s'\n", i, command_kind_name(c->kind),
                    c->payload, rc, cmd.error, c->error ? c->error : "");
        CU_ASSERT(ok);
    }
}

static void test_parse_fields(void)
{
    struct gw_command cmd;
    const char *p = "{" ACK_FIELDS ",\"duration_s\":5400,\"comment\":\"冷机检修\"}";
    CU_ASSERT_EQUAL_FATAL(command_parse(GW_CMD_SHELVE, p, strlen(p), &cmd), 0);
    CU_ASSERT_EQUAL(cmd.kind, GW_CMD_SHELVE);
    CU_ASSERT_STRING_EQUAL(cmd.id, "r1");
    CU_ASSERT_STRING_EQUAL(cmd.device, "chiller-1");
    CU_ASSERT_STRING_EQUAL(cmd.rule, "chw-supply-high");
    CU_ASSERT_STRING_EQUAL(cmd.user, "alice");
    CU_ASSERT_STRING_EQUAL(cmd.comment, "冷机检修");
    CU_ASSERT_DOUBLE_EQUAL(cmd.duration_s, 5400.0, 0.0);

    p = "{\"id\":\"r2\",\"device\":\"ahu-3\",\"user\":\"bob\",\"out_of_service\":true}";
    CU_ASSERT_EQUAL_FATAL(command_parse(GW_CMD_OUT_OF_SERVICE, p, strlen(p), &cmd), 0);
    CU_ASSERT_STRING_EQUAL(cmd.device, "ahu-3");
    CU_ASSERT_STRING_EQUAL(cmd.rule, "");
    CU_ASSERT_TRUE(cmd.out_of_service);
}

/* A refusal still echoes the request id (and keeps the user for the log),
 * when they could be read. */
static void test_parse_keeps_id(void)
{
    struct gw_command cmd;
    const char *p = "{\"id\":\"r7\",\"user\":\"carol\",\"device\":1,\"rule\":\"r\"}";
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, p, strlen(p), &cmd), -EINVAL);
    CU_ASSERT_STRING_EQUAL(cmd.id, "r7");
    CU_ASSERT_STRING_EQUAL(cmd.user, "carol");
    p = "{\"device\":\"d\",\"id\":\"late\",\"bogus\":1}";
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, p, strlen(p), &cmd), -EINVAL);
    CU_ASSERT_STRING_EQUAL(cmd.id, "late");
    p = "{\"id\":7}";
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, p, strlen(p), &cmd), -EINVAL);
    CU_ASSERT_STRING_EQUAL(cmd.id, "");
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, "{", 1, &cmd), -EINVAL);
    CU_ASSERT_STRING_EQUAL(cmd.id, "");
}

/* Exactly the limit is read; one byte more is not even parsed. */
static void test_parse_size(void)
{
    char buf[GW_CMD_MAX_PAYLOAD + 2];
    const char *body = "{" ACK_FIELDS "}";
    size_t len = strlen(body);
    memcpy(buf, body, len);
    memset(buf + len, ' ', sizeof buf - len);
    struct gw_command cmd;
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, buf, GW_CMD_MAX_PAYLOAD, &cmd), 0);
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, buf, GW_CMD_MAX_PAYLOAD + 1, &cmd), -E2BIG);
    CU_ASSERT_STRING_EQUAL(cmd.error, "payload larger than 4096 bytes");
    CU_ASSERT_STRING_EQUAL(cmd.id, "");

    /* A payload is not a C string: a NUL byte inside it is refused, and
     * nothing beyond len is read. */
    const char with_nul[] = "{\"id\":\"r\0\",\"device\":\"d\",\"rule\":\"r\",\"user\":\"u\"}";
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, with_nul, sizeof with_nul - 1, &cmd), -EINVAL);
    CU_ASSERT_STRING_EQUAL(cmd.error, "NUL character at byte 8");
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, body, len - 1, &cmd), -EINVAL);
    CU_ASSERT_STRING_EQUAL(cmd.error, "malformed JSON near byte 70");
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, NULL, 0, &cmd), -EINVAL);
    CU_ASSERT_STRING_EQUAL(cmd.error, "malformed JSON near byte 0");
}

/* Deep nesting within the size limit is refused, not a crash. */
static void test_parse_nesting(void)
{
    char buf[GW_CMD_MAX_PAYLOAD];
    size_t n = 0;
    n += (size_t)snprintf(buf, sizeof buf, "{\"id\":");
    while (n < sizeof buf)
        buf[n++] = '[';
    struct gw_command cmd;
    CU_ASSERT_EQUAL(command_parse(GW_CMD_ACK, buf, n, &cmd), -EINVAL);
    CU_ASSERT_NSTRING_EQUAL(cmd.error, "malformed JSON near byte ", 23);
}

/* A comment of 256 characters (of any width) is accepted; 257 are not. */
static void test_parse_comment_length(void)
{
    char payload[2048], comment[1100];
    struct gw_command cmd;
    const char *const units[] = { "a", "é", "冷", "😀" };
    for (size_t u = 0; u < N(units); u++) {
        for (int extra = 0; extra <= 1; extra++) {
            comment[0] = '\0';
            for (int i = 0; i < GW_CMD_COMMENT_MAX + extra; i++)
                strcat(comment, units[u]);
            snprintf(payload, sizeof payload, "{" ACK_FIELDS ",\"comment\":\"%s\"}", comment);
            int rc = command_parse(GW_CMD_ACK, payload, strlen(payload), &cmd);
            CU_ASSERT_EQUAL(rc, extra ? -EINVAL : 0);
            CU_ASSERT(extra || strcmp(cmd.comment, comment) == 0);
        }
    }
}

static void test_kind_names(void)
{
    static const char *const names[] = { "ack", "shelve", "unshelve", "service", "out_of_service" };
    for (int i = 0; i < GW_CMD_KIND_COUNT; i++) {
        enum gw_cmd_kind k;
        CU_ASSERT_STRING_EQUAL(command_kind_name((enum gw_cmd_kind)i), names[i]);
        CU_ASSERT_EQUAL(command_kind_parse(names[i], &k), 0);
        CU_ASSERT_EQUAL(k, (enum gw_cmd_kind)i);
    }
    enum gw_cmd_kind k;
    CU_ASSERT_EQUAL(command_kind_parse("result", &k), -ENOENT);
    CU_ASSERT_EQUAL(command_kind_parse("ACK", &k), -ENOENT);
    CU_ASSERT_EQUAL(command_kind_parse("", &k), -ENOENT);
}

/* ---- the result ------------------------------------------------------------- */

static void test_result_json(void)
{
    static const struct {
        struct gw_command_result r;
        const char *json;
    } cases[] = {
        { { "r1", true, NULL, "active-acknowledged" }, "{\"id\":\"r1\",\"ok\":true,\"state\":\"active-acknowledged\"}" },
        { { "r2", true, NULL, NULL }, "{\"id\":\"r2\",\"ok\":true}" },
        { { "r3", false, "nothing to acknowledge", "normal" },
          "{\"id\":\"r3\",\"ok\":false,\"error\":\"nothing to acknowledge\",\"state\":\"normal\"}" },
        { { NULL, false, "malformed JSON near byte 0", NULL },
          "{\"id\":null,\"ok\":false,\"error\":\"malformed JSON near byte 0\"}" },
        { { "", false, NULL, NULL }, "{\"id\":null,\"ok\":false,\"error\":\"refused\"}" },
        { { "q\"\\", false, "x", NULL }, "{\"id\":\"q\\\"\\\\\",\"ok\":false,\"error\":\"x\"}" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char *json = command_result_json(&cases[i].r);
        CU_ASSERT_PTR_NOT_NULL_FATAL(json);
        if (strcmp(json, cases[i].json) != 0)
            fprintf(stderr, "\nresult %zu: %s\n  want %s\n", i, json, cases[i].json);
        CU_ASSERT_STRING_EQUAL(json, cases[i].json);
        free(json);
    }
}

/* ---- the queue -------------------------------------------------------------- */

static struct gw_command named(const char *id, const char *error)
{
    struct gw_command c = { .kind = GW_CMD_ACK };
    snprintf(c.id, sizeof c.id, "%s", id);
    snprintf(c.error, sizeof c.error, "%s", error);
    return c;
}

static void test_queue_bounds(void)
{
    struct gw_cmd_queue *q;
    CU_ASSERT_EQUAL_FATAL(cmdq_create(2, &q), 0);
    struct gw_command c = named("a", "");
    CU_ASSERT_EQUAL(cmdq_push(q, &c), 0);
    c = named("b", "");
    CU_ASSERT_EQUAL(cmdq_push(q, &c), 0);
    c = named("c", "");
    CU_ASSERT_EQUAL(cmdq_push(q, &c), -EBUSY);          /* refused, with an answer */
    c = named("d", "malformed JSON near byte 0");
    CU_ASSERT_EQUAL(cmdq_push(q, &c), 0);               /* a refusal of its own keeps its reason */
    c = named("e", "");
    CU_ASSERT_EQUAL(cmdq_push(q, &c), -ENOSPC);         /* dropped */
    CU_ASSERT_EQUAL(cmdq_dropped(q), 1);

    static const struct { const char *id, *error; } want[] = {
        { "a", "" }, { "b", "" }, { "c", "too many commands waiting; try again later" },
        { "d", "malformed JSON near byte 0" },
    };
    for (size_t i = 0; i < N(want); i++) {
        CU_ASSERT_TRUE_FATAL(cmdq_pop(q, &c));
        CU_ASSERT_STRING_EQUAL(c.id, want[i].id);
        CU_ASSERT_STRING_EQUAL(c.error, want[i].error);
    }
    CU_ASSERT_FALSE(cmdq_pop(q, &c));
    /* Room again, and the ring wraps. */
    for (int round = 0; round < 5; round++) {
        c = named("w", "");
        CU_ASSERT_EQUAL(cmdq_push(q, &c), 0);
        CU_ASSERT_TRUE(cmdq_pop(q, &c));
        CU_ASSERT_STRING_EQUAL(c.error, "");
    }
    cmdq_free(q);
    cmdq_free(NULL);
}

struct flood {
    struct gw_cmd_queue *q;
    int pushed, busy, full;
};

static void *flood_main(void *arg)
{
    struct flood *f = arg;
    struct gw_command c = named("f", "");
    for (int i = 0; i < 20000; i++) {
        int rc = cmdq_push(f->q, &c);
        f->pushed++;
        f->busy += rc == -EBUSY;
        f->full += rc == -ENOSPC;
    }
    return NULL;
}

/* A producer that floods never waits; every command is run, refused with
 * an answer, or counted as dropped. */
static void test_queue_flood(void)
{
    struct flood f = { 0 };
    CU_ASSERT_EQUAL_FATAL(cmdq_create(32, &f.q), 0);
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, flood_main, &f), 0);
    int run = 0, refused = 0;
    struct gw_command c;
    for (bool done = false; !done;) {
        done = pthread_tryjoin_np(t, NULL) == 0;
        while (cmdq_pop(f.q, &c)) {
            run += c.error[0] == '\0';
            refused += c.error[0] != '\0';
        }
    }
    CU_ASSERT_EQUAL(f.pushed, 20000);
    CU_ASSERT_EQUAL(run + refused + (int)cmdq_dropped(f.q), 20000);
    CU_ASSERT_EQUAL(refused, f.busy);
    CU_ASSERT_EQUAL((int)cmdq_dropped(f.q), f.full);
    cmdq_free(f.q);
}

/* ---- applied to the rule engine --------------------------------------------- */

#define HI_RULE "rules = ( { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0; } );\n"

static struct gw_command parsed(enum gw_cmd_kind kind, const char *payload)
{
    struct gw_command c;
    CU_ASSERT_EQUAL(command_parse(kind, payload, strlen(payload), &c), 0);
    return c;
}

static void expect(struct fx *fx, struct gw_command c, int64_t t, bool ok, const char *error, const char *state)
{
    struct gw_command_result r;
    int rc = command_apply(fx->rules, &c, t, &r);
    CU_ASSERT_EQUAL(rc == 0, ok);
    CU_ASSERT_EQUAL(r.ok, ok);
    CU_ASSERT_STRING_EQUAL(r.id, c.id);
    CU_ASSERT(error ? r.error && strcmp(r.error, error) == 0 : r.error == NULL);
    CU_ASSERT(state ? r.state && strcmp(r.state, state) == 0 : r.state == NULL);
    if ((r.error && error && strcmp(r.error, error)) || (r.state && state && strcmp(r.state, state)))
        fprintf(stderr, "\n%s %s: error '%s' state '%s'\n", command_kind_name(c.kind), c.id,
                r.error ? r.error : "-", r.state ? r.state : "-");
}

static void test_apply(void)
{
    struct fx fx;
    fx_open(&fx, FX_BASE HI_RULE, FX_S(0));
    CU_ASSERT_EQUAL(fx_sample(&fx, FX_S(0), "p", 10.0, GOOD), 0);
    CU_ASSERT_EQUAL(fx_state(&fx, "hi"), ACT_UN);
    size_t events = fx.n_events;

    const char *ack = "{\"id\":\"a1\",\"device\":\"d\",\"rule\":\"hi\",\"user\":\"ops\"}";
    expect(&fx, parsed(GW_CMD_ACK, ack), FX_S(10), true, NULL, "active-acknowledged");
    CU_ASSERT_EQUAL(fx.n_events, events + 1);
    CU_ASSERT_STRING_EQUAL(fx.events[fx.n_events - 1].cause, "ack");
    CU_ASSERT_STRING_EQUAL(fx.events[fx.n_events - 1].acked_by, "ops");
    expect(&fx, parsed(GW_CMD_ACK, ack), FX_S(11), false, "nothing to acknowledge", "active-acknowledged");
    expect(&fx, parsed(GW_CMD_ACK, "{\"id\":\"a2\",\"device\":\"d\",\"rule\":\"nope\",\"user\":\"ops\"}"), FX_S(12),
           false, "no such alarm", NULL);
    expect(&fx, parsed(GW_CMD_ACK, "{\"id\":\"a3\",\"device\":\"x\",\"rule\":\"hi\",\"user\":\"ops\"}"), FX_S(12),
           false, "no such alarm", NULL);

    expect(&fx, parsed(GW_CMD_SHELVE, "{\"id\":\"s1\",\"device\":\"d\",\"rule\":\"hi\",\"user\":\"ops\",\"duration_s\":3600}"),
           FX_S(20), true, NULL, "shelved");
    CU_ASSERT_EQUAL(fx.events[fx.n_events - 1].shelved_until_ms, FX_S(3620));
    expect(&fx, parsed(GW_CMD_ACK, "{\"id\":\"a4\",\"device\":\"d\",\"rule\":\"hi\",\"user\":\"ops\"}"), FX_S(21), false,
           "the alarm is shelved", "shelved");
    expect(&fx, parsed(GW_CMD_UNSHELVE, "{\"id\":\"u1\",\"device\":\"d\",\"rule\":\"hi\",\"user\":\"ops\"}"), FX_S(30),
           true, NULL, "active-unacknowledged");
    expect(&fx, parsed(GW_CMD_UNSHELVE, "{\"id\":\"u2\",\"device\":\"d\",\"rule\":\"hi\",\"user\":\"ops\"}"), FX_S(31),
           false, "the alarm is not shelved", "active-unacknowledged");
    expect(&fx, parsed(GW_CMD_SERVICE, "{\"id\":\"m1\",\"device\":\"d\",\"rule\":\"hi\",\"user\":\"ops\"}"), FX_S(32),
           false, "not a maintenance rule", "active-unacknowledged");

    /* A whole device: no single state to report. */
    expect(&fx, parsed(GW_CMD_OUT_OF_SERVICE, "{\"id\":\"o1\",\"device\":\"d\",\"user\":\"ops\",\"out_of_service\":true}"),
           FX_S(40), true, NULL, NULL);
    CU_ASSERT_EQUAL(fx_state(&fx, "hi"), OOS);
    expect(&fx, parsed(GW_CMD_OUT_OF_SERVICE,
                       "{\"id\":\"o2\",\"device\":\"d\",\"rule\":\"hi\",\"user\":\"ops\",\"out_of_service\":true}"),
           FX_S(41), false, "already out of service", "out-of-service");
    expect(&fx, parsed(GW_CMD_OUT_OF_SERVICE,
                       "{\"id\":\"o3\",\"device\":\"d\",\"rule\":\"hi\",\"user\":\"ops\",\"out_of_service\":false}"),
           FX_S(50), true, NULL, "active-unacknowledged");
    fx_close(&fx);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        { "parse: table of payloads", test_parse_table },
        { "parse: fields taken", test_parse_fields },
        { "parse: a refusal keeps the request id", test_parse_keeps_id },
        { "parse: size limit and NUL bytes", test_parse_size },
        { "parse: deep nesting", test_parse_nesting },
        { "parse: comment length in characters", test_parse_comment_length },
        { "kind names", test_kind_names },
        { "result document", test_result_json },
        { "queue: run, refuse, drop", test_queue_bounds },
        { "queue: a flood from another thread", test_queue_flood },
        { "applied to the rule engine", test_apply },
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("command", NULL, NULL);
    for (size_t i = 0; suite && i < N(tests); i++)
        CU_add_test(suite, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
