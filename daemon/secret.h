/*
 * Secrets (passwords, tokens) never sit in the main configuration: they
 * are read from files.  A name without a '/' is looked up first in
 * $CREDENTIALS_DIRECTORY (systemd credentials); a path must not be
 * readable by group or others.
 */
#ifndef GW_SECRET_H
#define GW_SECRET_H

#include <stddef.h>

/*
 * Read the secret called name (resolved as above; relative paths are
 * relative to base_dir).  On success returns 0 and *out (malloc'd, one
 * trailing newline removed; the caller wipes and frees it with
 * secret_free).  Otherwise returns a negative errno and writes why into
 * why (EACCES also for a file others can read).
 */
int secret_read(const char *name, const char *base_dir, char **out, char *why, size_t why_len);

/* Overwrite and free a secret. */
void secret_free(char *secret);

#endif
