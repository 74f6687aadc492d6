/* The greenwatch operator tool's subcommands; each returns an exit code. */
#ifndef GW_COMMANDS_H
#define GW_COMMANDS_H

int cmd_read(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_profiles(int argc, char **argv);
int cmd_alarms(int argc, char **argv);
int cmd_ack(int argc, char **argv);
int cmd_shelve(int argc, char **argv);
int cmd_unshelve(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
