/* greenwatch profiles: the register maps in a profile directory. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "profile.h"

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_profile_file(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && e->d_name[0] != '.' && strcmp(e->d_name + n - 5, ".conf") == 0;
}

/* Load and list each profile; a broken one is reported, not skipped. */
int cmd_profiles(int argc, char **argv)
{
    const char *dir = GW_DEFAULT_PROFILE_DIR;
    for (int opt; (opt = getopt_long(argc, argv, "d:", (const struct option[]){ { "dir", required_argument, NULL, 'd' }, { NULL, 0, NULL, 0 } }, NULL)) != -1;) {
        if (opt != 'd')
            return 2;
        dir = optarg;
    }
    struct dirent **entries;
    int n = scandir(dir, &entries, is_profile_file, by_name);
    if (n < 0) {
        perror(dir);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, entries[i]->d_name);
        struct gw_profile p = { 0 };
        struct gw_diag diag = { 0 };
        if (profile_load_file(path, &p, &diag) == 0)
            printf("%-28s %3zu points  %s\n", p.id, p.n_points, p.description ? p.description : "");
        else
            rc = 1;
        diag_print(&diag, stderr);
        diag_free(&diag);
        profile_free(&p);
        free(entries[i]);
    }
    free(entries);
    return rc;
}
