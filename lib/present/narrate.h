/* SPDX-License-Identifier: MIT */
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
#define NARRATE_MAX_FINDINGS 16
#define NARRATE_MAX_FINDING_VALUES 8
#define NARRATE_MAX_SENTENCES 12

/* The version of the --json contract (docs/json.md). */
#define NARRATE_JSON_SCHEMA 2

struct narrate_row {
    char key[40];
    const char *unit;          /* "kB" or "" */
    bool has_before, has_after;
    int64_t before, after;
};

struct narrate_fact {
    char key[48];
    char text[512];
    const char *picture;       /* a residency map (folded in plain mode), not copied:
                                  see narrate_picture */
    bool is_number;            /* a JSON number rather than a string */
    bool is_series;            /* is_number too: a JSON array of numbers */
    const char *from;          /* where it was read, named in plain mode (not copied):
                                  see narrate_fact_from */
};

/* A conclusion of a step and the measured numbers it rests on. */
struct finding_value {
    const char *key;           /* snake_case, with a unit suffix: "rss_delta_kB" */
    int64_t value;
};

struct narrate_finding {
    char id[48];               /* stable snake_case: "first_write_one_page" */
    bool held;
    struct {
        char key[40];
        int64_t value;
    } values[NARRATE_MAX_FINDING_VALUES];
    size_t nvalues;
};

/* One sentence of the explanation and the finding it rests on. */
struct narrate_sentence {
    char finding[48];
    size_t start, len;         /* where it sits in narrator.note */
};

/* Called by LESSON() just before (after == false) and just after (true)
 * the lesson's code runs: the demo takes its snapshots here. */
typedef void (*narrate_observer)(void *ctx, bool after);

#define NARRATE_MAX_CHOICES 6

/* --predict: the question a step asks before its LESSON runs, and what the
 * measurement then said. */
struct narrate_question {
    bool asked;                /* narrate_ask was called in this step */
    bool read;                 /* and the prediction was taken (at the step's first LESSON) */
    const char *text;          /* not copied: the step table's (narrate_ask) */
    const char *const *choices;
    int nchoices;
    int index;                 /* which question of the demo (its letter in --answers) */
    bool answered;             /* narrate_answer was called */
    int predicted;             /* the reader's choice, -1 none (skipped) */
    int measured;              /* the choice the measurement supports, -1 none */
    char finding[48];          /* the finding that decided it */
};

struct narrator {
    const char *demo;
    const struct cli_common *common; /* the command line (the caller keeps it to the end) */
    bool json, pause, color;
    bool header_shown;        /* plain: the step's title already printed (narrate_live) */
    long row_page_kb;         /* plain rows in kB also count pages of this size; 0: they do
                               * not (a huge-page run: "+512 pages" would not be what mapped) */
    int nsteps, step;         /* nsteps may be set until the first step (a count that
                               * sizing decides after demo_start) */
    FILE *out;
    char id[48], title[160], code[2048], note[1024];
    struct narrate_row rows[NARRATE_MAX_ROWS];
    size_t nrows;
    struct narrate_fact facts[NARRATE_MAX_FACTS];
    size_t nfacts;
    struct narrate_finding findings[NARRATE_MAX_FINDINGS];
    size_t nfindings;
    struct narrate_sentence sentences[NARRATE_MAX_SENTENCES];
    size_t nsentences;
    narrate_observer observe;
    void *observe_ctx;
    char bug[160];             /* the first misuse seen (a sentence with no held finding...) */
    uintptr_t watch_addr;      /* the mapping a second terminal should watch */
    uintptr_t watch_next;      /* narrate_watch inside a step: watched from its end */
    const char *watch_next_name; /* and its name, for narrate_watch_named */
    bool in_step;
    int lesson_errno;          /* errno just after the last LESSON's code, before its observer */
    const char *answers;       /* --answers, one letter a question, or NULL: ask */
    struct narrate_question question;
    int questions;             /* the score so far: questions put, */
    int asked, right;          /* predictions checked against a measurement, and right */
    struct finding_value summary[8];
    size_t nsummary;
    struct picture_book *book;
    /* Set by demo_start (lib/safety/needs): puts back what this run changed,
     * before narrate_finish reports; -1 when it could not. */
    int (*undo_at_finish)(void);
};

enum narrate_result { RESULT_OK, RESULT_SKIP, RESULT_FAIL };

void narrate_init(struct narrator *n, const char *demo, const struct cli_common *common, int nsteps);

/* A paragraph before the steps (plain mode only: JSON carries facts, not prose). */
void narrate_intro(struct narrator *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The mapping a second terminal should watch: announced to vmlab-watch at
 * every step; with --step also the PID and a command that shows it. Called
 * inside a step (from a lesson or its explanation), it takes effect when the
 * step has been printed. */
void narrate_watch(struct narrator *n, uintptr_t addr);
/* The same for a mapping whose start moves ("[stack]" as it grows): addr is any
 * address inside it (for vmlab-watch), and the command finds it by its name. */
void narrate_watch_named(struct narrator *n, uintptr_t addr, const char *name);

/* ---- Lesson first ----
 * LESSON(n, code) prints its code exactly as it is written in the source (the
 * preprocessor's #), pauses with --step ("Enter runs it"), calls the observer (before),
 * runs the code with errno 0, keeps its errno in n->lesson_errno (so that the observer's
 * reads cannot change it) and calls the observer (after): the code a student sees is the
 * code that ran, and the snapshots sit tight around it. A function that holds a LESSON is
 * a LESSON_FN: under AddressSanitizer its accesses are not instrumented, because the
 * first read of a shadow page is a page fault of its own that the step would count.
 * Reads whose fault is the point go through FORCE_READ. A step that no table runs is
 * framed by narrate_begin and narrate_end_step. */
void narrate_begin(struct narrator *n, const char *id, const char *title);
void narrate_observe(struct narrator *n, narrate_observer fn, void *ctx);
void narrate_lesson_before(struct narrator *n, const char *code);
void narrate_lesson_after(struct narrator *n);

#define LESSON(n, ...)                                \
    do {                                              \
        narrate_lesson_before((n), #__VA_ARGS__);     \
        __VA_ARGS__                                   \
        narrate_lesson_after(n);                      \
    } while (0)

#if defined(__clang__) || defined(__GNUC__)
#define LESSON_FN __attribute__((no_sanitize_address, noinline))
#else
#define LESSON_FN
#endif

/* A read the compiler may not drop or merge (the selftests' FORCE_READ). */
#define FORCE_READ(x) (*(const volatile __typeof__(x) *)&(x))

/* ---- A demo as a table of steps ----
 * Most demos are a table, one row a step, run in order by narrate_run:
 *
 *     static const struct narrate_lesson steps[] = {
 *         {"write_one", "Write one byte into the first page", write_one, explain_write_one,
 *          "How much will Rss grow?", {"0 kB", "one page", NULL},
 *          {NULL, "first_write_one_page"}},
 *         ...
 *     };
 *     demo_start(&n, &info, &common, NARRATE_COUNT(steps));   (lib/safety/needs)
 *     narrate_run(&n, steps, NARRATE_COUNT(steps));
 *
 * For each row: narrate_begin, the question (--predict), lesson() (which
 * holds the LESSON), explain() (rows, findings, sentences), the answer: the
 * first choice whose finding held ('|' separates several that would each
 * make it so), and narrate_end_step. The step count comes from the table. A
 * question in no table of demo_info.lessons is a bug: --answers could not reach it. */
struct narrate_lesson {
    const char *id, *title;
    void (*lesson)(void);
    void (*explain)(void);
    const char *ask;                              /* --predict's question, or NULL */
    const char *choices[NARRATE_MAX_CHOICES + 1]; /* NULL after the last */
    const char *because[NARRATE_MAX_CHOICES];     /* the finding(s) that make choice i so */
};
#define NARRATE_COUNT(table) ((int)(sizeof(table) / sizeof((table)[0])))
#define NO_QUESTION NULL, {NULL}, {NULL}
/* demo_info's .lessons = LESSONS(TABLE(steps)), or several tables in the order they run:
 * --help, --predict and --answers know the demo's questions from them. */
#define TABLE(table) {(table), NARRATE_COUNT(table)}
#define LESSONS(...) ((const struct lesson_table[]){__VA_ARGS__, {NULL, 0}})
void narrate_run(struct narrator *n, const struct narrate_lesson *steps, int count);

/* ---- Predict, then check (--predict) ----
 * Without --predict nothing is asked. With it, a row's question is shown after its code
 * and answered at the terminal (or by --answers, one letter a question of the tables, in
 * order; '-' skips); the step then shows the prediction next to what was measured, and
 * the run ends with the score. Choices must be true on every machine: the measurement
 * picks one, or none ("none of these: see the numbers"), never a guess. An explain()
 * whose answer is a number, not a finding, calls narrate_answer itself:
 *
 *     narrate_answer(n, ratio < 2 ? 0 : ratio <= 10 ? 1 : 2, "write_vs_zeroing");
 *
 * narrate_ask (narrate_run's, or a test's) keeps question and choices, not copies. */
void narrate_ask(struct narrator *n, const char *question, const char *const choices[]);
void narrate_answer(struct narrator *n, int measured, const char *finding);

/* ---- Findings, then prose ----
 * A finding is a conclusion the step draws from its own numbers; CONCLUDE
 * records it and, when it held, its sentence, with the id written once:
 *
 *     CONCLUDE(n, "first_write_one_page", rss == page_kb,
 *              VALUES(VAL("rss_delta_kB", rss), VAL("minor_faults", faults)),
 *              "The first write faulted: Rss grew by %lld kB.", (long long)rss);
 *
 * It returns whether it held, so `if (!CONCLUDE(a...)) CONCLUDE(b...);`
 * records b only where a did not hold. Every finding goes into the JSON with
 * its values and whether it held. FINDING(n, id, held, VAL...) records one
 * alone; narrate_because adds a sentence later, only when the named finding
 * was recorded in this step and held. A sentence whose finding is missing or
 * did not hold is a bug in the demo: it is not printed, and the run ends as a
 * failure (status 1) saying which sentence it was, so the tests find it. */
bool narrate_finding(struct narrator *n, const char *id, bool held,
                     const struct finding_value *values);
bool narrate_conclude(struct narrator *n, const char *id, bool held,
                      const struct finding_value *values, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define VAL(key, v) {(key), (int64_t)(v)}
#define VALUES(...) ((const struct finding_value[]){__VA_ARGS__, {NULL, 0}})
#define FINDING(n, id, held, ...) narrate_finding((n), (id), (held), VALUES(__VA_ARGS__))
#define CONCLUDE(n, id, held, values, ...) narrate_conclude((n), (id), (held), values, __VA_ARGS__)
/* Whether finding id was recorded in this step and held. */
bool narrate_held(const struct narrator *n, const char *id);
void narrate_because(struct narrator *n, const char *finding, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void narrate_value(struct narrator *n, const char *key, const char *unit, bool has_before,
                   int64_t before, bool has_after, int64_t after);
void narrate_fact(struct narrator *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A measured number that is not a before/after pair (a JSON number). */
void narrate_fact_int(struct narrator *n, const char *key, int64_t value);
/* A number read from one place, which plain output names after it: "commit_limit_kB:
 * 12341884 (/proc/meminfo CommitLimit)"; JSON as narrate_fact_int. Not copied: from must stay
 * valid and unchanged until narrate_end_step of this step. */
void narrate_fact_from(struct narrator *n, const char *key, int64_t value, const char *from);
/* Measured numbers over time (JSON: an array of numbers; plain: how many,
 * first, last and largest). As many as fit a fact's text. */
void narrate_series(struct narrator *n, const char *key, const int64_t *values, size_t count);
/* A series fact's numbers back (at most max of them): how many. */
size_t narrate_series_values(const struct narrate_fact *f, int64_t *values, size_t max);

/* A one-character-per-page picture ('#' resident, '.' not), 64 pages a line.
 * Not copied, because a picture has one character per page and may be far
 * longer than a fact's text: picture must stay valid and unchanged until
 * narrate_end_step of this step. */
void narrate_picture(struct narrator *n, const char *key, const char *picture);
/* A line printed while the step runs (plain mode only; JSON carries the
 * step's facts at its end). The step's title comes first, once. */
void narrate_live(struct narrator *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The explanation; called more than once, the sentences are joined. */
void narrate_note(struct narrator *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints (plain) or emits (JSON) the step. */
void narrate_end_step(struct narrator *n);

/* A number for the result line's "summary" object (the tour's counts). */
void narrate_summary(struct narrator *n, const char *key, int64_t value);

/* The last line: result and reason, then exit with the matching status
 * (0, 77 or 1). */
noreturn void narrate_finish(struct narrator *n, enum narrate_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A system call failed: "mmap: ENOMEM (Cannot allocate memory)", exit 1. */
noreturn void narrate_fail_errno(struct narrator *n, const char *call, int err);

/* Writes s as a JSON string literal (with quotes), escaping what JSON requires;
 * NULL as null. */
void json_write_string(FILE *out, const char *s);

#endif
