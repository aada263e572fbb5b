/* SPDX-License-Identifier: MIT */
/* predict: the --predict side of narrate (narrate.h has its API). These
 * are narrate's own calls into it: read the answer where a step would
 * pause, show prediction and measurement at the step's end. */
#ifndef VMLAB_PREDICT_H
#define VMLAB_PREDICT_H

#include "narrate.h"

void predict_read(struct narrator *n);
void predict_plain(struct narrator *n);
void predict_json(struct narrator *n);
/* The finding id recorded in this step, or NULL. */
const struct narrate_finding *narrate_found(const struct narrator *n, const char *id);
/* The answer from a table of finding ids, one per choice ("a|b": either):
 * the first choice with a finding that held in this step, else none. */
void narrate_answer_from(struct narrator *n, const char *const because[NARRATE_MAX_CHOICES]);

#endif
