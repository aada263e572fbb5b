/* SPDX-License-Identifier: MIT */
/* predict: ask before a step, check after it, keep the score. */
#define _GNU_SOURCE
#include "predict.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const struct narrate_lesson *narrate_question_row(const struct lesson_table *lessons, int i)
{
    for (const struct lesson_table *t = lessons; t && t->rows; t++)
        for (int r = 0; r < t->count; r++)
            if (t->rows[r].ask && i-- == 0)
                return &t->rows[r];
    return NULL;
}

int narrate_questions(const struct lesson_table *lessons)
{
    int count = 0;
    while (narrate_question_row(lessons, count))
        count++;
    return count;
}

int narrate_question_place(const struct lesson_table *lessons, const char *question)
{
    const struct narrate_lesson *row;
    for (int i = 0; (row = narrate_question_row(lessons, i)); i++)
        if (strcmp(row->ask, question) == 0)
            return i;
    return -1;
}

void narrate_ask(struct narrator *n, const char *question, const char *const choices[])
{
    if (!n->common->predict)
        return;
    struct narrate_question *q = &n->question;
    *q = (struct narrate_question){.asked = true, .text = question, .choices = choices,
                                   .predicted = -1, .measured = -1};
    /* Its place in the tables, so that a letter of --answers belongs to the same question
     * on every machine, whatever rows run there (narrate_run has checked that it is
     * there); a program without tables, such as a test's, asks in order. */
    const struct lesson_table *tables = n->common->lessons;
    q->index = tables ? narrate_question_place(tables, question) : n->questions;
    n->questions++;
    while (q->nchoices < NARRATE_MAX_CHOICES && choices[q->nchoices])
        q->nchoices++;
}

void narrate_answer(struct narrator *n, int measured, const char *finding)
{
    struct narrate_question *q = &n->question;
    if (!q->asked)
        return;
    q->answered = true;
    q->measured = measured >= 0 && measured < q->nchoices ? measured : -1;
    snprintf(q->finding, sizeof q->finding, "%s", finding);
    if (q->predicted >= 0 && q->measured >= 0) {
        n->asked++;
        n->right += q->predicted == q->measured;
    }
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
            any_recorded |= narrate_found(n, one) != NULL;
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

/* A line of the question or its outcome, folded like the explanation (78 columns) on stdout;
 * on stderr (stdout is JSON) as every notice there is: cli_print_notice. Its continuation
 * lines start under the text after `hang` columns. */
__attribute__((format(printf, 3, 4)))
static void say(FILE *out, int hang, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): a clang 14 false positive
    va_end(ap);
    if (out == stderr)
        cli_print_notice(line, hang);
    else
        cli_print_folded(out, line, 78, hang);
}

void predict_read(struct narrator *n)
{
    struct narrate_question *q = &n->question;
    FILE *out = n->json ? stderr : n->out;
    if (!(n->json && n->answers)) /* --json --answers: stdout is JSON, no one reads stderr */
        say(out, 9, "      Predict: %s", q->text);
    if (n->answers) {
        /* cli_parse saw one letter for each question, each one of its choices or '-' */
        if (q->index >= 0 && (size_t)q->index < strlen(n->answers))
            q->predicted = choice_of(q, n->answers[q->index]);
        return; /* --answers: the outcome names the choices; nothing waits */
    }
    for (int i = 0; i < q->nchoices; i++)
        say(out, 3, "        %c) %s", 'a' + i, q->choices[i]);
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
        say(out, 0, "      Measured: none of the choices fits; see the numbers above.");
    else if (q->predicted < 0)
        say(out, 0, "      Measured: %c) %s.", 'a' + q->measured, q->choices[q->measured]);
    else
        say(out, 0, "      You predicted %c) %s; measured: %c) %s - %s", 'a' + q->predicted,
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
        fputs(i ? "," : "", out);
        json_write_string(out, q->choices[i]);
    }
    fputc(']', out);
    json_choice(out, "predicted", q->predicted);
    json_choice(out, "measured", q->measured);
    fputs(",\"finding\":", out);
    json_write_string(out, q->finding);
    fputc('}', out);
}
