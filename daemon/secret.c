#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { SECRET_MAX = 64 * 1024 };

static int resolve(const char *name, const char *base_dir, char *path, size_t n, int *trusted)
{
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    *trusted = 0;
    if (!strchr(name, '/') && creds && *creds) {
        snprintf(path, n, "%s/%s", creds, name);
        if (access(path, F_OK) == 0) {
            *trusted = 1;  /* systemd made it, readable by this service only */
            return 0;
        }
    }
    if (name[0] == '/' || !base_dir)
        snprintf(path, n, "%s", name);
    else
        snprintf(path, n, "%s/%s", base_dir, name);
    return 0;
}

int secret_read(const char *name, const char *base_dir, char **out, char *why, size_t why_len)
{
    char path[4096];
    int trusted;
    *out = NULL;
    resolve(name, base_dir, path, sizeof path, &trusted);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int err = errno;
        snprintf(why, why_len, "cannot read secret %s: %s", path, strerror(err));
        if (fd >= 0)
            close(fd);
        return -err;
    }
    if (!trusted && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        snprintf(why, why_len, "secret %s is readable by group or others (mode %03o); chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -EACCES;
    }
    char *buf = calloc(1, SECRET_MAX + 1);
    ssize_t got = buf ? read(fd, buf, SECRET_MAX + 1) : -1;
    int err = errno;
    close(fd);
    if (!buf || got < 0 || got > SECRET_MAX) {
        snprintf(why, why_len, "cannot read secret %s: %s", path, got > SECRET_MAX ? "larger than 64 KiB" : strerror(err));
        secret_free(buf);
        return got > SECRET_MAX ? -EFBIG : buf ? -err : -ENOMEM;
    }
    if (got > 0 && buf[got - 1] == '\n')
        buf[--got] = '\0';
    if (got > 0 && buf[got - 1] == '\r')
        buf[--got] = '\0';
    *out = buf;
    return 0;
}

void secret_free(char *secret)
{
    if (!secret)
        return;
    explicit_bzero(secret, strlen(secret));
    free(secret);
}
