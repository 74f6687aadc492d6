/*
 * Alarm state across restarts: a JSON file holding every alarm that is not
 * plainly normal, and the persistent counters of rule types (maintenance
 * counts and services, baseline history), written atomically (a temporary
 * file, fsync, rename, fsync of the directory) so that a crash leaves the
 * old file or the new one, never half of one.
 */
#ifndef GW_RULES_STORE_H
#define GW_RULES_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "rule.h"

/* Write rules[0..n) and the event sequence number to path.  Returns 0 or
 * a negative errno (logged). */
int store_save(const char *path, const struct rule_inst *rules, size_t n, uint64_t seq, int64_t now_ms);

/*
 * Restore what path holds into the rules it names (by device and rule id;
 * an entry whose rule is gone or changed type is dropped), and *seq.  Each
 * restored alarm is taken as already reported.  A missing file is normal
 * (first start); an unreadable or corrupt one is logged, kept aside as
 * <path>.corrupt, and nothing is restored.  Returns the number of alarms
 * restored, or a negative errno (nothing restored).
 */
int store_load(const char *path, struct rule_inst *rules, size_t n, uint64_t *seq);

#endif
