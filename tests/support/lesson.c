/* SPDX-License-Identifier: MIT */
/* lesson: the checks every lesson-first demo's steps share, and the walk
 * through its pauses. */
#define _GNU_SOURCE
#include "lesson.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "demo_test.h"

const struct json *finding(const struct json *step, const char *id)
{
    const struct json *all = json_get(step, "findings");
    ck_assert_ptr_nonnull(all);
    for (size_t i = 0; i < all->count; i++) {
        const char *fid = json_get_string(&all->items[i], "id");
        if (fid && strcmp(fid, id) == 0)
            return &all->items[i];
    }
    return NULL;
}

bool held(const struct json *step, const char *id)
{
    const struct json *f = finding(step, id);
    const struct json *h = f ? json_get(f, "held") : NULL;
    return h && h->type == JSON_BOOL && h->boolean;
}

int64_t finding_value(const struct json *step, const char *id, const char *key)
{
    const struct json *f = finding(step, id);
    ck_assert_msg(f != NULL, "no finding %s", id);
    char path[96];
    snprintf(path, sizeof path, "values.%s", key);
    return jint(f, path);
}

/* Whitespace runs as one space, as the preprocessor's # prints them. */
static void squeeze(const char *in, char *out, size_t len)
{
    size_t o = 0;
    bool space = false;
    for (; *in && o + 1 < len; in++) {
        if (isspace((unsigned char)*in)) {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < len)
            out[o++] = ' ';
        space = false;
        out[o++] = *in;
    }
    out[o] = '\0';
}

/* The source, squeezed; read again only when another file is asked for. */
static const char *squeezed_source(const char *path)
{
    static char source[1 << 17], squeezed[1 << 17], read_path[4096];
    if (strcmp(read_path, path) != 0) {
        FILE *f = fopen(path, "re");
        ck_assert_msg(f != NULL, "cannot read %s", path);
        size_t len = fread(source, 1, sizeof source - 1, f);
        source[len] = '\0';
        fclose(f);
        squeeze(source, squeezed, sizeof squeezed);
        snprintf(read_path, sizeof read_path, "%s", path);
    }
    return squeezed;
}

void assert_code_in(const struct json *step, const char *source_path)
{
    const char *source = squeezed_source(source_path);
    const char *code = jstr(step, "code");
    for (const char *s = code; *s;) { /* each LESSON's text is one line of "code" */
        size_t len = strcspn(s, "\n");
        char one[2048], line[2048];
        snprintf(one, sizeof one, "%.*s", (int)len, s);
        squeeze(one, line, sizeof line);
        ck_assert_msg(strstr(source, line), "step %lld shows code that is not in %s: %s",
                      (long long)jint(step, "step"), source_path, line);
        s += len + (s[len] == '\n');
    }
}

void assert_sentences_rest_on_findings(const struct json *step)
{
    const struct json *sentences = json_get(step, "sentences");
    ck_assert_ptr_nonnull(sentences);
    for (size_t i = 0; i < sentences->count; i++) {
        const char *id = json_get_string(&sentences->items[i], "finding");
        if (id)
            ck_assert_msg(held(step, id), "step %lld: a sentence rests on '%s', which did not hold",
                          (long long)jint(step, "step"), id);
    }
}

void assert_lesson_step_in(const struct json *step, const char *source_path)
{
    assert_code_in(step, source_path);
    assert_sentences_rest_on_findings(step);
}

int assert_answers_real_in(const char *answers_path, const char *demo, const char *source_path)
{
    FILE *f = fopen(answers_path, "re");
    ck_assert_msg(f != NULL, "cannot read %s", answers_path);
    static char line[1 << 16];
    char prefix[80];
    snprintf(prefix, sizeof prefix, "{\"demo\":\"%s\"", demo);
    int steps = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, prefix, strlen(prefix)) != 0)
            continue;
        char err[128];
        struct json *j = json_parse(line, strcspn(line, "\n"), err, sizeof err);
        ck_assert_msg(j != NULL, "%s: %s", err, line);
        if (json_get(j, "step")) {
            assert_lesson_step_in(j, source_path);
            steps++;
        }
        json_free(j);
    }
    fclose(f);
    return steps;
}

uintptr_t hex_fact(const struct json *step, const char *key, bool second)
{
    const char *text = jstr(step, key);
    const char *at = second ? strstr(text, "-> ") : text;
    unsigned long long v = 0;
    ck_assert_msg(at && sscanf(second ? at + 3 : at, "%llx", &v) == 1, "%s: '%s'", key, text);
    return (uintptr_t)v;
}

void assert_commit_exact(const struct json *step, const char *exact_id, int64_t charge_kB)
{
    int64_t got = jint(step, "delta.Committed_AS_kB");
    ck_assert_int_eq(held(step, exact_id), got == charge_kB);
    ck_assert_int_eq(held(step, "commit_moved_by_others"), got != charge_kB);
}

int lesson_step_through(struct stepper *s, const char *const argv[], lesson_pause_fn at_pause,
                        void *ctx)
{
    ck_assert_int_eq(stepper_start(s, argv), 0);
    int next, last = 0;
    while ((next = stepper_wait(s)) > 0) {
        ck_assert_int_eq(next, last + 1);
        const struct json *ended = next > 1 ? stepper_step(s, next - 1) : NULL;
        ck_assert_msg(next == 1 || ended, "step %d ended without its JSON line", next - 1);
        at_pause(ctx, s, next, ended);
        last = next;
        ck_assert(stepper_go(s));
    }
    return last;
}

const struct json *lesson_last_step(struct stepper *s, int last, const char *id)
{
    const struct json *step = stepper_step(s, last);
    ck_assert_msg(step != NULL, "no JSON for the last step, %d", last);
    ck_assert_str_eq(jstr(step, "id"), id);
    return step;
}

void lesson_assert_ok_end(struct stepper *s)
{
    const struct json *result = stepper_result(s);
    ck_assert_ptr_nonnull(result);
    ck_assert_str_eq(jstr(result, "result"), "ok");
    int status = stepper_finish(s);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}

void lesson_pause_before(struct pty_child *c, int at, int total)
{
    for (int step = 1; step <= at; step++) {
        char prompt[64];
        int len = snprintf(prompt, sizeof prompt, "Press Enter to run step %d/", step);
        if (total > 0)
            snprintf(prompt + len, sizeof prompt - (size_t)len, "%d", total);
        ck_assert_msg(pty_wait_for(c, prompt), "no prompt %d: %s", step, c->screen);
        if (step < at)
            ck_assert(pty_send(c, "\n"));
    }
}
