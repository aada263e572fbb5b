/* SPDX-License-Identifier: MIT */
/* runid: who made a change, told apart from every other process - also one
 * in another PID namespace, one that reuses the PID later, one in an earlier
 * boot.
 *
 * A PID alone is not enough: inside `unshare --pid` run 3 is not host PID
 * 3, and PIDs are reused. A run is named by
 *   its PID namespace (the inode of /proc/self/ns/pid),
 *   its PID there, and
 *   its start time (clock ticks after boot, /proc/PID/stat),
 * which together name one process of this boot; the undo record adds the
 * boot id (/proc/sys/kernel/random/boot_id) for "this boot".
 * Text form: "NS-PID-START", e.g. "4026531836-27264-912345". */
#ifndef VMLAB_RUNID_H
#define VMLAB_RUNID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct runid {
    uint64_t pidns;
    uint64_t pid;
    uint64_t start;
};

/* This process. 0, or -1 when /proc cannot tell. */
int runid_self(struct runid *id);

/* "NS-PID-START"; false when it does not fit. */
bool runid_format(const struct runid *id, char *buf, size_t len);

/* Strict: three decimal numbers without sign, joined by '-', nothing else. */
bool runid_parse(const char *text, struct runid *id);

enum runid_state {
    RUNID_ALIVE,    /* that very process is running (a zombie is not) */
    RUNID_GONE,     /* it has ended: its PID is free, a zombie, or another process */
    RUNID_UNKNOWN,  /* another PID namespace that may still be alive: cannot judge */
};
enum runid_state runid_state(const struct runid *id);

/* Fields 3 (state) and 22 (start time) of /proc/PID/stat text, counted after the
 * last ')' (a name may hold spaces and ')'). */
bool runid_parse_stat(const char *stat, char *state, uint64_t *start);

/* This boot's id (36 characters); false when unreadable. */
bool runid_boot_id(char *buf, size_t len);

#endif
