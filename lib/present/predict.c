/* SPDX-License-Identifier: MIT */
/* predict: ask before a step, check after it, keep the score. */
#define _GNU_SOURCE
#include "predict.h"

#include <stdio.h>
#include <string.h>

void narrate_ask(struct narrator *n, const char *question, const char *const choices[])
{
    if (!n->predict)
        return;
    struct narrate_question *q = &n->question;
    memset(q, 0, sizeof *q);
    q->asked = true;
    snprintf(q->text, sizeof q->text, "%s", question);
    for (; choices[q->nchoices] && q->nchoices < NARRATE_MAX_CHOICES; q->nchoices++)
        snprintf(q->choices[q->nchoices], sizeof q->choices[0], "%s", choices[q->nchoices]);
    q->predicted = -1;
    q->measured = -1;
}

void narrate_answer(struct narrator *n, int measured, const char *finding)
{
    struct narrate_question *q = &n->question;
    if (!q->asked)
        return;
    q->measured = measured >= 0 && measured < q->nchoices ? measured : -1;
    snprintf(q->finding, sizeof q->finding, "%s", finding);
    if (q->predicted >= 0 && q->measured >= 0) {
        n->asked++;
        n->right += q->predicted == q->measured;
    }
}

static bool recorded(const struct narrator *n, const char *id)
{
    for (size_t f = 0; f < n->nfindings; f++)
        if (strcmp(n->findings[f].id, id) == 0)
            return true;
    return false;
}

void narrate_answer_from(struct narrator *n, const char *const because[NARRATE_MAX_CHOICES])
{
    bool any_recorded = false;
    for (int i = 0; i < n->question.nchoices && i < NARRATE_MAX_CHOICES; i++) {
        for (const char *id = because[i]; id && *id;) {
            size_t len = strcspn(id, "|");
            char one[48];
            snprintf(one, sizeof one, "%.*s", (int)len, id);
            if (narrate_held(n, one)) {
                narrate_answer(n, i, one);
                return;
            }
            any_recorded |= recorded(n, one);
            id += len + (id[len] == '|');
        }
    }
    /* "None fits" is a measurement only if the step recorded at least one of
     * the findings named: otherwise the table names ids it never records. */
    if (!any_recorded && n->question.asked && !n->bug[0])
        snprintf(n->bug, sizeof n->bug, "step %d (%s) answers from findings it never records",
                 n->step, n->id);
    narrate_answer(n, -1, "");
}

/* One letter a.. for a choice, '-' to skip; from --answers or the terminal. */
static int choice_of(const struct narrate_question *q, char c)
{
    return c >= 'a' && c < 'a' + q->nchoices ? c - 'a' : -1;
}

void predict_read(struct narrator *n)
{
    struct narrate_question *q = &n->question;
    FILE *out = n->json ? stderr : n->out;
    if (n->answers) {
        if (*n->answers) {
            q->predicted = choice_of(q, *n->answers);
            n->answers++;
        }
        return; /* --answers: nothing is shown, nothing waits */
    }
    fprintf(out, "      Predict: %s\n", q->text);
    for (int i = 0; i < q->nchoices; i++)
        fprintf(out, "        %c) %s\n", 'a' + i, q->choices[i]);
    for (;;) {
        fprintf(out, "      Your answer (a-%c, Enter to skip): ", 'a' + q->nchoices - 1);
        (void)fflush(out);
        char line[64];
        if (!fgets(line, sizeof line, stdin)) {
            fputc('\n', out);
            n->answers = ""; /* end of input: the rest are skipped */
            return;
        }
        if (line[0] == '\n')
            return;
        q->predicted = choice_of(q, line[0]);
        if (q->predicted >= 0 && (line[1] == '\n' || line[1] == '\0'))
            return;
        fprintf(out, "      Type one letter, a to %c.\n", 'a' + q->nchoices - 1);
    }
}

void predict_plain(struct narrator *n)
{
    const struct narrate_question *q = &n->question;
    if (!q->asked)
        return;
    FILE *out = n->out;
    if (q->measured < 0)
        fprintf(out, "      Measured: none of the choices fits; see the numbers above.\n");
    else if (q->predicted < 0)
        fprintf(out, "      Measured: %c) %s.\n", 'a' + q->measured, q->choices[q->measured]);
    else
        fprintf(out, "      You predicted %c) %s; measured: %c) %s - %s\n", 'a' + q->predicted,
                q->choices[q->predicted], 'a' + q->measured, q->choices[q->measured],
                q->predicted == q->measured ? "right." : "not what happened.");
}

/* A choice as JSON: its letter, or null for none. */
static void json_choice(FILE *out, const char *key, int choice)
{
    if (choice >= 0)
        fprintf(out, ",\"%s\":\"%c\"", key, 'a' + choice);
    else
        fprintf(out, ",\"%s\":null", key);
}

void predict_json(struct narrator *n)
{
    const struct narrate_question *q = &n->question;
    if (!q->asked)
        return;
    FILE *out = n->out;
    fputs(",\"prediction\":{\"question\":", out);
    json_write_string(out, q->text);
    fputs(",\"choices\":[", out);
    for (int i = 0; i < q->nchoices; i++) {
        if (i)
            fputc(',', out);
        json_write_string(out, q->choices[i]);
    }
    fputc(']', out);
    json_choice(out, "predicted", q->predicted);
    json_choice(out, "measured", q->measured);
    fputs(",\"finding\":", out);
    json_write_string(out, q->finding);
    fputc('}', out);
}
