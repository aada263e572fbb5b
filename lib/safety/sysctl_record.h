/* SPDX-License-Identifier: MIT */
/* sysctl_record: the undo record - what a run changed in /proc/sys/vm, kept
 * on disk so that the next run can put it back if this one is killed.
 *
 * The record is text, one format with a version, written whole (a new file
 * renamed over the old one):
 *
 *   vmlab undo record 1
 *   boot 5b1c0a52-9a55-4c42-a3c1-51d2c3e0a6f7
 *   run 4026531836-27264-912345
 *   knob overcommit_memory 0 1
 *   knob nr_hugepages 0 2
 *   end
 *
 * "boot" is the boot it was written in, "run" the run that wrote it
 * (lib/safety/runid), and each "knob NAME ORIGINAL SET [SET]" a value it changed:
 * the value before the run, and what the run may have left there (two while
 * a change is being made: the value before it and the new one).
 *
 * Parsing is strict, and the record is refused whole - nothing of it is
 * applied - on anything vmlab does not write: another version, an unknown
 * line, a line too long, a number with a sign or over 64 bits, a knob that
 * is not on the allow-list, a value outside its safe range, a missing
 * "end". The allow-list is the knobs vmlab itself changes, with what undoing
 * them may write:
 *   overcommit_memory  0-2, back only if it still holds what the run set
 *   nr_hugepages       back only to a smaller pool (0 < SET - ORIGINAL <= 64):
 *                      undoing it can only give memory back, never take it */
#ifndef VMLAB_SYSCTL_RECORD_H
#define VMLAB_SYSCTL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runid.h"

#define RECORD_MAX_KNOBS 2
#define RECORD_MAX_BYTES 1024 /* a longer file is not one vmlab wrote */

struct record_knob {
    char name[24];
    uint64_t original;
    uint64_t set[2]; /* what the run may have left there */
    int nset;        /* 1, or 2 while a change is being made */
};

struct sysctl_record {
    char boot[40];
    struct runid run;
    int nknobs;
    struct record_knob knobs[RECORD_MAX_KNOBS];
};

/* The allow-list: true when vmlab changes that knob. */
bool record_knob_allowed(const char *name);

/* True when `value` is one the allow-list permits a run to set `name` to,
 * given the original (the same range the parser enforces). */
bool record_set_allowed(const char *name, uint64_t original, uint64_t value);

/* Whether undoing `k` may write its original over `current`: it still holds
 * what the run left (for nr_hugepages: a pool between the original and what
 * the run asked for, since the kernel may grant fewer pages). */
bool record_may_restore(const struct record_knob *k, uint64_t current);

/* Parses a whole record of `len` bytes (NUL bytes are refused). False with a
 * reason in `why` ("line 4: knob panic_on_oom is not one vmlab changes"). */
bool record_parse(const char *text, size_t len, struct sysctl_record *r, char *why, size_t wlen);

/* The text of a record; its length, or 0 when it does not fit. */
size_t record_format(const struct sysctl_record *r, char *buf, size_t len);

#endif
