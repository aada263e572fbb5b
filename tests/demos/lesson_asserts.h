/* SPDX-License-Identifier: MIT */
/* lesson_asserts: what every step of a lesson-first demo must satisfy, for
 * the tests of mlock-madvise and fault-cost: the code it shows is in the
 * demo's source (VMLAB_DEMO_SOURCE), and every sentence rests on a finding
 * of its step that held. Static functions: each test includes it once. */
#ifndef VMLAB_TEST_LESSON_ASSERTS_H
#define VMLAB_TEST_LESSON_ASSERTS_H

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "demo_test.h"

static const struct json *finding(const struct json *step, const char *id)
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

static bool held(const struct json *step, const char *id)
{
    const struct json *f = finding(step, id);
    const struct json *h = f ? json_get(f, "held") : NULL;
    return h && h->type == JSON_BOOL && h->boolean;
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

static void assert_code_is_source(const struct json *step)
{
    static char source[1 << 16], squeezed[1 << 16];
    if (!squeezed[0]) {
        FILE *f = fopen(VMLAB_DEMO_SOURCE, "re");
        ck_assert_ptr_nonnull(f);
        size_t len = fread(source, 1, sizeof source - 1, f);
        source[len] = '\0';
        fclose(f);
        squeeze(source, squeezed, sizeof squeezed);
    }
    const char *code = jstr(step, "code");
    for (const char *s = code; *s;) { /* each LESSON's text is one line of "code" */
        size_t len = strcspn(s, "\n");
        char one[2048], line[2048];
        snprintf(one, sizeof one, "%.*s", (int)len, s);
        squeeze(one, line, sizeof line);
        ck_assert_msg(strstr(squeezed, line), "step %lld shows code that is not in %s: %s",
                      (long long)jint(step, "step"), VMLAB_DEMO_SOURCE, line);
        s += len + (s[len] == '\n');
    }
}

static void assert_sentences_rest_on_findings(const struct json *step)
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

static void assert_lesson_step(const struct json *step)
{
    assert_code_is_source(step);
    assert_sentences_rest_on_findings(step);
}

/* Every JSON step line of an instructor's key (answers file) is real. */
static int assert_answers_real(const char *path, const char *demo)
{
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
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
            assert_lesson_step(j);
            steps++;
        }
        json_free(j);
    }
    fclose(f);
    return steps;
}

#endif
