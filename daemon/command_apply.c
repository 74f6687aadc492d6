/* Commands applied to the rule engine (command.h). */
#include "command.h"

#include <errno.h>
#include <string.h>
#include "rules/rules.h"

struct find_state {
    const char *device, *rule;
    const char *state;
};

static void match_alarm(const struct gw_alarm_info *a, void *arg)
{
    struct find_state *f = arg;
    if (!f->state && strcmp(a->device, f->device) == 0 && strcmp(a->rule, f->rule) == 0)
        f->state = alarm_state_name(a->state);
}

/* The alarm's state name (static), or NULL if there is no such alarm. */
static const char *state_of(struct gw_rules *rules, const char *device, const char *rule)
{
    struct find_state f = { .device = device, .rule = rule };
    if (rule && rule[0])
        rules_foreach_alarm(rules, match_alarm, &f);
    return f.state;
}

int command_apply(struct gw_rules *rules, const struct gw_command *c, int64_t now_ms,
                  struct gw_command_result *out)
{
    const char *why = NULL;
    int rc = -EINVAL;
    switch (c->kind) {
    case GW_CMD_ACK:
        rc = rules_ack(rules, c->device, c->rule, c->user, now_ms, &why);
        break;
    case GW_CMD_SHELVE:
        rc = rules_shelve(rules, c->device, c->rule, c->duration_s, c->user, now_ms, &why);
        break;
    case GW_CMD_UNSHELVE:
        rc = rules_unshelve(rules, c->device, c->rule, c->user, now_ms, &why);
        break;
    case GW_CMD_SERVICE:
        rc = rules_service_done(rules, c->device, c->rule, c->user, now_ms, &why);
        break;
    case GW_CMD_OUT_OF_SERVICE:
        rc = rules_set_out_of_service(rules, c->device, c->rule[0] ? c->rule : NULL, c->out_of_service,
                                      c->user, now_ms, &why);
        break;
    }
    *out = (struct gw_command_result){
        .id = c->id,
        .ok = rc == 0,
        .error = rc ? (why ? why : "refused") : NULL,
        .state = state_of(rules, c->device, c->rule),
    };
    return rc;
}
