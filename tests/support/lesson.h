/* SPDX-License-Identifier: MIT */
/* lesson: what every step of a lesson-first demo must satisfy, read from its
 * JSON - the code it shows is in the demo's source, as written, and every
 * sentence rests on a finding of its step that held - and the walk through a
 * demo run with --step --json that most demo tests make: at each pause, read
 * the process from outside and hold the step that just ended against it.
 *
 * tests/demos/lesson_asserts.h and lesson_checks.h keep their older names
 * for these. */
#ifndef VMLAB_TEST_LESSON_H
#define VMLAB_TEST_LESSON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "json.h"
#include "observe.h"

/* The finding `id` of a step, or NULL; whether it was recorded and held. */
const struct json *finding(const struct json *step, const char *id);
bool held(const struct json *step, const char *id);
/* The value `key` of the finding `id` of a step, both asserted there. */
int64_t finding_value(const struct json *step, const char *id, const char *key);

/* Each LESSON's text in the step's "code" is in the source file at
 * source_path, whitespace runs read as one space (as the preprocessor's #
 * prints them). */
void assert_code_in(const struct json *step, const char *source_path);
void assert_sentences_rest_on_findings(const struct json *step);
/* Both of the above. */
void assert_lesson_step_in(const struct json *step, const char *source_path);
/* Both for every JSON step line of an instructor's key (docs/answers/DEMO.md);
 * returns how many there were. */
int assert_answers_real_in(const char *answers_path, const char *demo, const char *source_path);

/* A hex address fact ("0x7ffd..."), or the first of "A -> B" (second: B). */
uintptr_t hex_fact(const struct json *step, const char *key, bool second);

/* Committed_AS is system-wide: the move is the charge exactly, or the demo
 * says how much of it others made. */
void assert_commit_exact(const struct json *step, const char *exact_id, int64_t charge_kB);

/* Called at each pause, before Enter runs step `next`: `ended` is the JSON
 * object of step next - 1 (NULL at the first pause). */
typedef void (*lesson_pause_fn)(void *ctx, const struct stepper *s, int next,
                                const struct json *ended);

/* Starts argv (which asks for --step --json) with stepper_start, calls
 * at_pause at every pause in turn and presses Enter after it. Asserts that
 * the pauses come in order, 1, 2, 3...; returns the last step it paused
 * before, 0 if the demo ended first. */
int lesson_step_through(struct stepper *s, const char *const argv[], lesson_pause_fn at_pause,
                        void *ctx);
/* The step the run ended with (`last`, as lesson_step_through returned it),
 * asserted there and called `id`. */
const struct json *lesson_last_step(struct stepper *s, int last, const char *id);
/* The run's end: the result line says "ok" and the demo exited 0. */
void lesson_assert_ok_end(struct stepper *s);

/* On a demo started with --step on c: waits for its prompts "Press Enter to run
 * step N/total" (total 0: any) for N = 1 to at in turn (asserted), pressing
 * Enter at each but the last, so that it is left waiting before step at. */
void lesson_pause_before(struct pty_child *c, int at, int total);

#endif
