/* SPDX-License-Identifier: MIT */
/* predict: the --predict side of narrate (narrate.h has its API). What narrate and cli,
 * not demos, call of it: read the answer where a step would pause, show prediction and
 * measurement at the step's end, find a demo's questions in its tables. */
#ifndef VMLAB_PREDICT_H
#define VMLAB_PREDICT_H

#include "narrate.h"

void predict_read(struct narrator *n);
void predict_plain(struct narrator *n);
void predict_json(struct narrator *n);
/* The questions of a demo's tables (in the order --answers gives their letters), the
 * row that asks question i (0 ..), and the place of a question (-1: in no table). */
int narrate_questions(const struct lesson_table *lessons);
const struct narrate_lesson *narrate_question_row(const struct lesson_table *lessons, int i);
int narrate_question_place(const struct lesson_table *lessons, const char *question);
/* The finding id recorded in this step, or NULL. */
const struct narrate_finding *narrate_found(const struct narrator *n, const char *id);
/* The answer from a table of finding ids, one per choice ("a|b": either):
 * the first choice with a finding that held in this step, else none. */
void narrate_answer_from(struct narrator *n, const char *const because[NARRATE_MAX_CHOICES]);

#endif
