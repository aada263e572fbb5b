/* SPDX-License-Identifier: MIT */
/* announce: tell a second terminal which demo is running now.
 *
 * Every demo writes, at each step, a small file naming its PID, its step
 * and the address of the mapping it teaches; vmlab-watch reads it and
 * follows whatever demo (or tour stop) this user runs, so nobody re-pastes
 * a PID. The file lives in $XDG_RUNTIME_DIR, else in /tmp/vmlab-UID (made
 * 0700, refused if another user owns it). Nothing depends on it: when it
 * cannot be written, the demo goes on. */
#ifndef VMLAB_ANNOUNCE_H
#define VMLAB_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct announcement {
    long pid;
    char demo[48];
    int step, steps;
    char title[160];
    uintptr_t addr;     /* 0 when the demo has no mapping to show yet */
};

/* The file's path for this user; false if no safe place exists. */
bool announce_path(char *path, size_t len);

/* Writes the announcement (atomically: a reader never sees half of it). */
void announce_write(const struct announcement *a);

/* Removes the file if it still names this process. */
void announce_clear(void);

/* Reads the file; false when there is none or it is not well formed. */
bool announce_read(const char *path, struct announcement *a);

#endif
