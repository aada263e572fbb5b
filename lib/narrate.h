/* narrate: the step engine. Every demo is a list of steps; each step says
 *   what we do     (a title and the C line being executed),
 *   what we saw    (counters before -> after, and facts such as a maps line),
 *   why            (one or two sentences, written from what was measured).
 *
 * Plain mode prints that for a person; --json prints one JSON object per step
 * and nothing else on stdout; --step pauses before each step when a person is
 * at a terminal. Colour only on a terminal, never with NO_COLOR set. */
#ifndef VMLAB_NARRATE_H
#define VMLAB_NARRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

#include "cli.h"

#define NARRATE_MAX_ROWS 24
#define NARRATE_MAX_FACTS 24

struct narrate_row {
    char key[40];
    const char *unit;          /* "kB" or "" */
    bool has_before, has_after;
    int64_t before, after;
};

struct narrate_fact {
    char key[48];
    char text[512];
    bool is_picture;           /* a residency map: folded in plain mode */
    bool is_number;            /* a JSON number rather than a string */
};

struct narrator {
    const char *demo;
    bool json, pause, color;
    bool header_shown;        /* plain: the step's title already printed (narrate_live) */
    int nsteps, step;
    FILE *out;
    char title[160], code[256], note[768];
    struct narrate_row rows[NARRATE_MAX_ROWS];
    size_t nrows;
    struct narrate_fact facts[NARRATE_MAX_FACTS];
    size_t nfacts;
};

enum narrate_result { RESULT_OK, RESULT_SKIP, RESULT_FAIL };

void narrate_init(struct narrator *n, const char *demo, const struct cli_common *common, int nsteps);

/* A paragraph before the steps (plain mode only: JSON carries facts, not prose). */
void narrate_intro(struct narrator *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* With --step: the PID and the command that shows the mapping at addr from a
 * second terminal. */
void narrate_watch(struct narrator *n, uintptr_t addr);

/* Starts a step; with --step, waits for Enter first. */
void narrate_step(struct narrator *n, const char *title, const char *code);
void narrate_value(struct narrator *n, const char *key, const char *unit, bool has_before,
                   int64_t before, bool has_after, int64_t after);
void narrate_fact(struct narrator *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A measured number that is not a before/after pair (a JSON number). */
void narrate_fact_int(struct narrator *n, const char *key, int64_t value);
/* A one-character-per-page picture ('#' resident, '.' not), 64 pages a line. */
void narrate_picture(struct narrator *n, const char *key, const char *picture);
/* A line printed while the step runs (plain mode only; JSON carries the
 * step's facts at its end). The step's title comes first, once. */
void narrate_live(struct narrator *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The explanation; called more than once, the sentences are joined. */
void narrate_note(struct narrator *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints (plain) or emits (JSON) the step. */
void narrate_end_step(struct narrator *n);

/* The last line: result and reason, then exit with the matching status
 * (0, 77 or 1). */
noreturn void narrate_finish(struct narrator *n, enum narrate_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A system call failed: "mmap: ENOMEM (Cannot allocate memory)", exit 1. */
noreturn void narrate_fail_errno(struct narrator *n, const char *call, int err);

/* Writes s as a JSON string literal (with quotes), escaping what JSON requires. */
void json_write_string(FILE *out, const char *s);

#endif
