/*
 * greenwatch: the operator's tool.
 *
 *   greenwatch read -c FILE DEVICE [--json]   poll one device once, print it
 *   greenwatch check -c FILE                  validate a configuration
 *   greenwatch profiles [--dir DIR]           list register map profiles
 *   greenwatch alarms -c FILE [--json]        the current alarms (docs/alarms.md)
 *   greenwatch ack|shelve|unshelve -c FILE DEVICE RULE --user NAME ...
 *   greenwatch report -c FILE --from YYYY-MM  monthly energy report (docs/reports.md)
 */
#include <stdio.h>
#include <string.h>
#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "read", cmd_read, "read -c FILE DEVICE [--json]  poll one device once and print its points" },
    { "check", cmd_check, "check -c FILE                 validate a configuration" },
    { "profiles", cmd_profiles, "profiles [--dir DIR]          list register map profiles" },
    { "alarms", cmd_alarms, "alarms -c FILE [--json]       list the current alarms (from the broker)" },
    { "ack", cmd_ack, "ack -c FILE DEVICE RULE --user NAME [--comment TEXT] [--json]\n"
                      "                                           acknowledge an alarm" },
    { "shelve", cmd_shelve, "shelve -c FILE DEVICE RULE --user NAME --for DURATION [--comment TEXT] [--json]\n"
                            "                                           shelve an alarm for 60 s to 30 days (90m, 2h, 1d)" },
    { "unshelve", cmd_unshelve, "unshelve -c FILE DEVICE RULE --user NAME [--comment TEXT] [--json]\n"
                                "                                           end an alarm's shelving" },
    { "report", cmd_report, "report -c FILE --from YYYY-MM [--to YYYY-MM] [--format html|csv|json|energystar] [-o FILE]\n"
                            "                                           monthly energy, water and plant report" },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: greenwatch COMMAND ...\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  greenwatch %s\n", commands[i].summary);
    fprintf(out, "  greenwatch --version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("greenwatch %s\n", GW_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "greenwatch: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
