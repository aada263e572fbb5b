/* SPDX-License-Identifier: MIT */
/* lesson_checks: what the tests of malloc-brk, stack-growth and fork-cow
 * check in every step (its code is the demo's source, its sentences rest
 * on held findings), and a reader of /proc/PID/maps by name, written apart
 * from lib/kernel/procfs. Header-only: each test includes it once. */
#ifndef VMLAB_TEST_LESSON_CHECKS_H
#define VMLAB_TEST_LESSON_CHECKS_H

#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "demo_test.h"
#include "json.h"

static inline const struct json *finding(const struct json *step, const char *id)
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

static inline bool held(const struct json *step, const char *id)
{
    const struct json *f = finding(step, id);
    const struct json *h = f ? json_get(f, "held") : NULL;
    return h && h->type == JSON_BOOL && h->boolean;
}

/* Whitespace runs as one space, as the preprocessor's # prints them. */
static inline void squeeze(const char *in, char *out, size_t len)
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

/* The code a step shows is in the demo's source, as written. */
static inline void assert_code_is_source(const struct json *step, const char *source_path)
{
    static char source[1 << 17], squeezed[1 << 17];
    if (!squeezed[0]) {
        FILE *f = fopen(source_path, "re");
        ck_assert_ptr_nonnull(f);
        size_t len = fread(source, 1, sizeof source - 1, f);
        source[len] = '\0';
        fclose(f);
        squeeze(source, squeezed, sizeof squeezed);
    }
    const char *code = jstr(step, "code");
    for (const char *s = code; *s;) {
        size_t len = strcspn(s, "\n");
        char one[1024], line[1024];
        snprintf(one, sizeof one, "%.*s", (int)len, s);
        squeeze(one, line, sizeof line);
        ck_assert_msg(strstr(squeezed, line), "step %lld shows code that is not in %s: %s",
                      (long long)jint(step, "step"), source_path, line);
        s += len + (s[len] == '\n');
    }
}

/* Every sentence rests on a finding of its step that held. */
static inline void assert_sentences_rest_on_findings(const struct json *step)
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

/* Committed_AS is system-wide: the move is the charge exactly, or the
 * demo says how much of it others made. */
static inline void assert_commit_exact(const struct json *step, const char *exact_id, int64_t charge_kB)
{
    int64_t got = jint(step, "delta.Committed_AS_kB");
    ck_assert_int_eq(held(step, exact_id), got == charge_kB);
    ck_assert_int_eq(held(step, "commit_moved_by_others"), got != charge_kB);
}

/* A hex address fact ("0x7ffd..."), or the first of "A -> B" (second: B). */
static inline uintptr_t hex_fact(const struct json *step, const char *key, bool second)
{
    const char *text = jstr(step, key);
    const char *at = second ? strstr(text, "-> ") : text;
    unsigned long long v = 0;
    ck_assert_msg(at && sscanf(second ? at + 3 : at, "%llx", &v) == 1, "%s: '%s'", key, text);
    return (uintptr_t)v;
}

/* /proc/PID/maps, our own reading: the mapping that holds addr (or, with
 * addr 0, the one called name). False when there is none. */
struct vma {
    uintptr_t start, end;
    char perms[8], name[256];
};

static inline bool maps_find(pid_t pid, uintptr_t addr, const char *name, struct vma *out)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long long s, e;
        char perms[8] = "";
        int used = 0;
        if (sscanf(line, "%llx-%llx %7s %*s %*s %*s%n", &s, &e, perms, &used) < 3)
            continue;
        const char *rest = line + used;
        while (*rest == ' ')
            rest++;
        char nm[256];
        snprintf(nm, sizeof nm, "%.*s", (int)strcspn(rest, "\n"), rest);
        if (addr ? (addr >= s && addr < e) : name && strcmp(nm, name) == 0) {
            *out = (struct vma){(uintptr_t)s, (uintptr_t)e, "", ""};
            snprintf(out->perms, sizeof out->perms, "%s", perms);
            snprintf(out->name, sizeof out->name, "%s", nm);
            found = true;
        }
    }
    fclose(f);
    return found;
}

#endif
