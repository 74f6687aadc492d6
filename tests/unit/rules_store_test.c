/*
 * Alarm state across restarts: a restart neither re-notifies nor forgets.
 * Each case runs an engine, stops it (or copies its file as a crash would
 * leave it), starts another on the same state file and checks what it
 * shows and what it delivers.  Missing, corrupt and unreadable files start
 * clean.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "rules_fixture.h"
#include "rules/local_time.h"

#define HI_RULE "  { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0; severity = \"high\"; }"
#define COMM_RULE "  { id = \"comm\"; device = \"d\"; type = \"comm_loss\"; }"
#define CONFIG FX_BASE "rules = (\n" HI_RULE ",\n" COMM_RULE "\n);\n"

static int file_no = 0;

/* A fresh state file path for a case. */
static void new_state_file(struct fx *fx)
{
    char name[64];
    snprintf(name, sizeof name, "alarms-%d.json", ++file_no);
    CU_ASSERT_EQUAL_FATAL(temp_path(fx->state_file, sizeof fx->state_file, name), 0);
}

static void open_with_state(struct fx *fx, const char *text, const char *state_file, int64_t now_ms)
{
    char path[sizeof fx->state_file];
    snprintf(path, sizeof path, "%s", state_file);  /* may be fx's own */
    memset(fx, 0, sizeof *fx);
    snprintf(fx->state_file, sizeof fx->state_file, "%s", path);
    CU_ASSERT_EQUAL_FATAL(fx_load_config(text, &fx->cfg), 0);
    CU_ASSERT_EQUAL_FATAL(fx_start(fx, now_ms), 0);
}

/* Stop a and start b on the same file at now_ms. */
static void restart(struct fx *a, struct fx *b, const char *text, int64_t now_ms)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", a->state_file);
    fx_close(a);
    open_with_state(b, text, path, now_ms);
    CU_ASSERT_EQUAL(b->n_events, 0u);  /* a restart delivers nothing by itself */
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_active_unacked_survives(void)
{
    struct fx a, b;
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, CONFIG, a.state_file, FX_S(0));
    fx_sample(&a, FX_S(10), "p", 12, GOOD);
    CU_ASSERT_EQUAL(fx_state(&a, "hi"), ACT_UN);
    uint64_t last_seq = a.events[a.n_events - 1].seq;
    restart(&a, &b, CONFIG, FX_S(100));
    struct fx_find f = fx_alarm(&b, "hi");
    CU_ASSERT_EQUAL(f.info.state, ACT_UN);
    CU_ASSERT_EQUAL(f.info.since_ms, FX_S(10));
    CU_ASSERT_EQUAL(f.info.severity, GW_SEVERITY_HIGH);
    CU_ASSERT_STRING_EQUAL(f.message, "p 12 above high limit 9");
    CU_ASSERT_DOUBLE_EQUAL(f.info.value, 12, 1e-9);
    fx_sample(&b, FX_S(110), "p", 12.5, GOOD);  /* still active: no new notification */
    CU_ASSERT_EQUAL(b.n_events, 0u);
    fx_sample(&b, FX_S(120), "p", 5, GOOD);
    CU_ASSERT_EQUAL_FATAL(b.n_events, 1u);
    CU_ASSERT_EQUAL(b.events[0].from, ACT_UN);
    CU_ASSERT_EQUAL(b.events[0].to, RET_UN);
    CU_ASSERT_EQUAL(b.events[0].seq, last_seq + 1);  /* the sequence goes on */
    fx_close(&b);
}

static void test_cleared_while_down(void)
{
    struct fx a, b;
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, CONFIG, a.state_file, FX_S(0));
    fx_sample(&a, FX_S(10), "p", 12, GOOD);
    restart(&a, &b, CONFIG, FX_S(3600));
    fx_sample(&b, FX_S(3600), "p", 5, GOOD);
    CU_ASSERT_EQUAL_FATAL(b.n_events, 1u);  /* returns, once */
    CU_ASSERT_EQUAL(b.events[0].to, RET_UN);
    CU_ASSERT_EQUAL(rules_ack(b.rules, "d", "hi", "ops", FX_S(3610), NULL), 0);
    CU_ASSERT_EQUAL(fx_state(&b, "hi"), NORMAL);
    fx_close(&b);

    /* Acknowledged before the restart: it returns to normal. */
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, CONFIG, a.state_file, FX_S(0));
    fx_sample(&a, FX_S(10), "p", 12, GOOD);
    CU_ASSERT_EQUAL(rules_ack(a.rules, "d", "hi", "zhang", FX_S(20), NULL), 0);
    restart(&a, &b, CONFIG, FX_S(3600));
    struct fx_find f = fx_alarm(&b, "hi");
    CU_ASSERT_EQUAL(f.info.state, ACT_ACK);
    CU_ASSERT_STRING_EQUAL(f.acked_by, "zhang");
    CU_ASSERT_EQUAL(f.info.acked_ms, FX_S(20));
    fx_sample(&b, FX_S(3600), "p", 5, GOOD);
    CU_ASSERT_EQUAL_FATAL(b.n_events, 1u);
    CU_ASSERT_EQUAL(b.events[0].to, NORMAL);
    fx_close(&b);
}

/* Each transition is on disk when it has been delivered (after the
 * first second): a crash right after it loses nothing. */
static void test_crash_after_transition(void)
{
    struct fx a, b;
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, CONFIG, a.state_file, FX_S(0));
    fx_sample(&a, FX_S(10), "p", 12, GOOD);
    const char *text = slurp(a.state_file);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"active-unacknowledged\""));
    char crashed[4096], tmp[4096 + 8];
    CU_ASSERT_EQUAL_FATAL(temp_path(crashed, sizeof crashed, "crashed.json"), 0);
    FILE *f = fopen(crashed, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    snprintf(tmp, sizeof tmp, "%s.tmp", a.state_file);
    CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0);  /* no temporary left behind */
    struct stat st;
    CU_ASSERT_EQUAL(stat(a.state_file, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    fx_close(&a);
    open_with_state(&b, CONFIG, crashed, FX_S(20));
    CU_ASSERT_EQUAL(fx_state(&b, "hi"), ACT_UN);
    fx_sample(&b, FX_S(20), "p", 12, GOOD);
    CU_ASSERT_EQUAL(b.n_events, 0u);
    fx_close(&b);
}

static void test_shelved_expires_while_down(void)
{
    struct fx a, b;
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, CONFIG, a.state_file, FX_S(0));
    fx_sample(&a, FX_S(10), "p", 12, GOOD);
    CU_ASSERT_EQUAL(rules_shelve(a.rules, "d", "hi", 60, "ops", FX_S(20), NULL), 0);
    restart(&a, &b, CONFIG, FX_S(50));
    struct fx_find f = fx_alarm(&b, "hi");
    CU_ASSERT_EQUAL(f.info.state, SHELVED);
    CU_ASSERT_EQUAL(f.info.shelved_until_ms, FX_S(80));
    rules_tick(b.rules, FX_S(79));
    CU_ASSERT_EQUAL(b.n_events, 0u);
    fx_close(&b);
    open_with_state(&b, CONFIG, b.state_file, FX_S(500));  /* expired while down */
    rules_tick(b.rules, FX_S(500));
    CU_ASSERT_EQUAL_FATAL(b.n_events, 1u);
    CU_ASSERT_STRING_EQUAL(b.events[0].cause, "shelve-expired");
    CU_ASSERT_EQUAL(b.events[0].to, ACT_UN);
    fx_close(&b);
}

static void test_suppressed_and_latched_survive(void)
{
    struct fx a, b;
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, CONFIG, a.state_file, FX_S(0));
    fx_sample(&a, FX_S(10), "p", 12, GOOD);
    rules_tick(a.rules, FX_S(45));  /* comm lost: hi suppressed */
    CU_ASSERT_EQUAL(fx_state(&a, "hi"), SUPPRESSED);
    CU_ASSERT_EQUAL(fx_state(&a, "comm"), ACT_UN);
    restart(&a, &b, CONFIG, FX_S(100));
    CU_ASSERT_EQUAL(fx_state(&b, "hi"), SUPPRESSED);
    CU_ASSERT_EQUAL(fx_state(&b, "comm"), ACT_UN);
    rules_tick(b.rules, FX_S(101));
    CU_ASSERT_EQUAL(b.n_events, 0u);
    fx_sample(&b, FX_S(110), "p", 5, GOOD);
    CU_ASSERT_EQUAL_FATAL(b.n_events, 2u);
    CU_ASSERT_STRING_EQUAL(b.events[0].rule, "comm");
    CU_ASSERT_EQUAL(b.events[0].to, RET_UN);
    CU_ASSERT_STRING_EQUAL(b.events[1].rule, "hi");
    CU_ASSERT_EQUAL(b.events[1].to, RET_UN);
    fx_close(&b);

    static const char latching[] =
        FX_BASE "rules = ( { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0; latching = true; } );\n";
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, latching, a.state_file, FX_S(0));
    fx_sample(&a, FX_S(10), "p", 12, GOOD);
    fx_sample(&a, FX_S(20), "p", 5, GOOD);
    CU_ASSERT_EQUAL(fx_state(&a, "hi"), ACT_UN);
    restart(&a, &b, latching, FX_S(100));
    fx_sample(&b, FX_S(110), "p", 5, GOOD);
    CU_ASSERT_EQUAL(fx_state(&b, "hi"), ACT_UN);  /* still latched */
    CU_ASSERT_EQUAL(b.n_events, 0u);
    CU_ASSERT_EQUAL(rules_ack(b.rules, "d", "hi", "ops", FX_S(120), NULL), 0);
    CU_ASSERT_EQUAL(fx_state(&b, "hi"), NORMAL);
    fx_close(&b);
}

/* Detectors whose state is not kept go on from what the alarm says. */
static void test_detectors_resume(void)
{
    static const char text[] =
        FX_BASE "rules = ( { id = \"flat\"; device = \"d\"; type = \"flatline\"; point = \"p\"; window_s = 60; },\n"
                "  { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"q\"; high = 9.0; deadband = 1.0; } );\n";
    struct fx a, b;
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, text, a.state_file, FX_S(0));
    const char *names[] = { "p", "q" };
    for (int i = 0; i <= 6; i++) {
        double v[] = { 20, 10 };
        fx_sample_n(&a, "d", FX_S(i * 10), 2, names, v, NULL);
    }
    CU_ASSERT_EQUAL(fx_state(&a, "flat"), ACT_UN);
    CU_ASSERT_EQUAL(fx_state(&a, "hi"), ACT_UN);
    restart(&a, &b, text, FX_S(100));
    double still[] = { 20, 8.5 };  /* still flat; q within the deadband */
    fx_sample_n(&b, "d", FX_S(100), 2, names, still, NULL);
    CU_ASSERT_EQUAL(b.n_events, 0u);
    double moved[] = { 21, 7.5 };
    fx_sample_n(&b, "d", FX_S(110), 2, names, moved, NULL);
    CU_ASSERT_EQUAL(b.n_events, 2u);
    CU_ASSERT_EQUAL(fx_state(&b, "flat"), RET_UN);
    CU_ASSERT_EQUAL(fx_state(&b, "hi"), RET_UN);
    fx_close(&b);
}

static void test_maintenance_survives(void)
{
    static const char text[] =
        FX_BASE "rules = ( { id = \"svc\"; device = \"d\"; type = \"maintenance\"; point = \"p\"; interval = 50;\n"
                "  remind_at = 0.5; } );\n";
    struct fx a, b;
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, text, a.state_file, FX_S(0));
    fx_sample(&a, FX_S(10), "p", 1000, GOOD);
    fx_sample(&a, FX_S(20), "p", 1030, GOOD);
    CU_ASSERT_EQUAL(fx_state(&a, "svc"), ACT_UN);  /* 30 of 50: the reminder */
    CU_ASSERT_EQUAL(rules_service_done(a.rules, "d", "svc", "tech-7", FX_S(30), NULL), 0);
    fx_sample(&a, FX_S(40), "p", 1040, GOOD);
    /* Counters are saved periodically, not only on transitions. */
    rules_tick(a.rules, FX_S(100));
    const char *saved = slurp(a.state_file);
    CU_ASSERT_PTR_NOT_NULL_FATAL(saved);
    CU_ASSERT_PTR_NOT_NULL(strstr(saved, "\"tech-7\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(saved, "1040"));  /* the counter's last value */
    restart(&a, &b, text, FX_S(200));
    const char *by;
    int64_t at;
    CU_ASSERT_EQUAL(rules_last_service(b.rules, "d", "svc", &by, &at), 0);
    CU_ASSERT_STRING_EQUAL(by, "tech-7");
    CU_ASSERT_EQUAL(at, FX_S(30));
    fx_sample(&b, FX_S(210), "p", 1080, GOOD);  /* +40 while down counts: 50 */
    CU_ASSERT_EQUAL_FATAL(b.n_events, 1u);
    CU_ASSERT_EQUAL(b.events[0].to, ACT_UN);
    CU_ASSERT_EQUAL(b.events[0].severity, GW_SEVERITY_MEDIUM);
    CU_ASSERT_DOUBLE_EQUAL(b.events[0].value, 50, 1e-9);
    fx_close(&b);
}

/* Hours [from, to) of local day `day`, each 1/24 of total. */
static void feed_hours(struct fx *fx, int day, double total, int from, int to)
{
    for (int h = from; h < to; h++)
        fx_sample(fx, local_midnight_ms(day) + h * 3600000LL + 1800000, "p", total / 24, GOOD);
}

static void test_baseline_history_survives(void)
{
    static const char text[] = FX_SITE("Asia/Shanghai") FX_BUS FX_DEVICE("generic", "3600")
        "rules = ( { id = \"energy\"; device = \"d\"; type = \"baseline\"; point = \"p\"; sigma = 3.0; } );\n";
    local_time_set_zone("Asia/Shanghai");
    int first = local_day(FX_T0);
    struct fx a, b;
    memset(&a, 0, sizeof a);
    new_state_file(&a);
    open_with_state(&a, text, a.state_file, local_midnight_ms(first));
    for (int day = first; day < first + 28; day++)
        feed_hours(&a, day, 240 + (day - first) % 3, 0, 24);
    feed_hours(&a, first + 28, 200, 0, 12);  /* half of the judged day before the restart */
    restart(&a, &b, text, local_midnight_ms(first + 28) + 12 * 3600000LL);
    feed_hours(&b, first + 28, 200, 12, 24);
    rules_tick(b.rules, local_midnight_ms(first + 29) + 1000);
    CU_ASSERT_EQUAL(fx_state(&b, "energy"), ACT_UN);  /* 200 against about 240 */
    CU_ASSERT_EQUAL_FATAL(b.n_events, 1u);
    CU_ASSERT_DOUBLE_EQUAL(b.events[0].value, 200, 1e-6);
    fx_close(&b);
    local_time_set_zone("UTC");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_bad_state_files(void)
{
    static const char *const broken[] = {
        "{ this is not json",
        "[1, 2, 3]",
        "{\"version\": 99, \"alarms\": []}",
        "",
    };
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
        struct fx b;
        memset(&b, 0, sizeof b);
        new_state_file(&b);
        write_file(b.state_file, broken[i]);
        CU_ASSERT_EQUAL_FATAL(fx_load_config(CONFIG, &b.cfg), 0);
        CU_ASSERT_EQUAL_FATAL(fx_start(&b, FX_S(0)), 0);
        CU_ASSERT_EQUAL(fx_state(&b, "hi"), NORMAL);
        char aside[4096 + 16];
        snprintf(aside, sizeof aside, "%s.corrupt", b.state_file);
        CU_ASSERT_EQUAL(access(aside, F_OK), 0);  /* kept for a look */
        fx_sample(&b, FX_S(10), "p", 12, GOOD);
        CU_ASSERT_EQUAL(b.n_events, 1u);
        const char *saved = slurp(b.state_file);  /* and a good file written anew */
        CU_ASSERT(saved && strstr(saved, "\"version\""));
        fx_close(&b);
    }

    /* Entries that do not fit (a rule gone, a changed type, wrong fields)
     * are dropped; the rest is restored. */
    struct fx b;
    memset(&b, 0, sizeof b);
    new_state_file(&b);
    write_file(b.state_file,
               "{\"version\": 1, \"seq\": 41, \"alarms\": [\n"
               " {\"device\": \"d\", \"rule\": \"gone\", \"type\": \"limit\", \"cond\": true, \"acked\": false},\n"
               " {\"device\": \"d\", \"rule\": \"comm\", \"type\": \"limit\", \"cond\": true, \"acked\": false},\n"
               " {\"device\": 5, \"rule\": null},\n"
               " 17,\n"
               " {\"device\": \"d\", \"rule\": \"hi\", \"type\": \"limit\", \"cond\": true, \"stage\": 9,\n"
               "  \"acked\": false, \"severity\": \"bogus\", \"since_ms\": \"x\"}\n"
               "]}\n");
    CU_ASSERT_EQUAL_FATAL(fx_load_config(CONFIG, &b.cfg), 0);
    CU_ASSERT_EQUAL_FATAL(fx_start(&b, FX_S(0)), 0);
    CU_ASSERT_EQUAL(fx_state(&b, "hi"), ACT_UN);
    CU_ASSERT_EQUAL(fx_alarm(&b, "hi").info.severity, GW_SEVERITY_HIGH);
    CU_ASSERT_EQUAL(fx_state(&b, "comm"), NORMAL);
    fx_sample(&b, FX_S(10), "p", 5, GOOD);
    CU_ASSERT_EQUAL_FATAL(b.n_events, 1u);
    CU_ASSERT_EQUAL(b.events[0].seq, 42u);
    fx_close(&b);

    /* A missing file, and a path that cannot be a file. */
    memset(&b, 0, sizeof b);
    CU_ASSERT_EQUAL_FATAL(make_temp_dir(b.state_file, sizeof b.state_file), 0);
    CU_ASSERT_EQUAL_FATAL(fx_load_config(CONFIG, &b.cfg), 0);
    CU_ASSERT_EQUAL_FATAL(fx_start(&b, FX_S(0)), 0);
    fx_sample(&b, FX_S(10), "p", 12, GOOD);
    CU_ASSERT_EQUAL(b.n_events, 1u);
    fx_close(&b);
}

int main(void)
{
    static const struct fx_test tests[] = {
        { "an active unacknowledged alarm survives, not re-notified", test_active_unacked_survives },
        { "cleared while down: returns once", test_cleared_while_down },
        { "a crash right after a transition", test_crash_after_transition },
        { "shelving survives and expires", test_shelved_expires_while_down },
        { "suppressed and latched alarms survive", test_suppressed_and_latched_survive },
        { "detectors resume from restored alarms", test_detectors_resume },
        { "maintenance counts and services survive", test_maintenance_survives },
        { "baseline history survives", test_baseline_history_survives },
        { "missing, corrupt and unreadable state files", test_bad_state_files },
    };
    return fx_main("rules: alarm state across restarts", tests, sizeof tests / sizeof *tests);
}
