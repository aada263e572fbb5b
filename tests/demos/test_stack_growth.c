/* SPDX-License-Identifier: MIT */
/* Demo tests for stack-growth: the outside observer. At every pause of a
 * --step --json run we read the demo's [stack] from /proc/PID/maps and
 * smaps, and its fault count from /proc/PID/stat, and hold the step's rows
 * and findings against them: the stack starts at the page the deepest frame
 * wrote, it grew by about one page per new 4 KiB frame, and never shrank.
 * The overflows ran in children that are gone by the next pause: their
 * numbers are checked against what we expect from our own readings (the
 * limit the child set is our [stack] Size plus 512 KiB, or the hard limit
 * where lower, and its stack stopped within two pages of it; the gap is
 * stack_guard_gap from /proc/cmdline or 256 pages, and the gap child's stack
 * stopped that far above a page 2 MiB below the stack we read), and a thread
 * of our own with a 256 KiB stack shows the guard page the thread child must
 * have seen. */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson_checks.h"
#include "observe.h"
#include "suite.h"

static const char *program;
static int64_t gap_kb = 256 * 4;
static int64_t hard_kb = INT64_MAX;  /* RLIMIT_STACK's hard limit, ours and the demo's */

/* The limit a child may set: what it asks for, capped by the hard limit. */
static int64_t capped(int64_t want_kb)
{
    return want_kb < hard_kb ? want_kb : hard_kb;
}

/* Where the gap stops a copy of a stack of size_kb with a page 2 MiB below it,
 * and whether the child's limit (8 MiB, capped) leaves the gap room to show it
 * (the demo's own margin for its child's frames, 64 kB, included). */
static int64_t gap_stop(int64_t size_kb)
{
    return size_kb + 2048 - gap_kb;
}

static bool gap_has_room(int64_t size_kb)
{
    return capped(8192) > gap_stop(size_kb) + 64;
}

struct seen {
    struct vma stack;
    int64_t size, rss, minflt;
};

static void read_seen(pid_t pid, struct seen *v)
{
    ck_assert(maps_find(pid, 0, "[stack]", &v->stack));
    v->size = observe_smaps(pid, v->stack.start, "Size");
    v->rss = observe_smaps(pid, v->stack.start, "Rss");
    v->minflt = observe_minflt(pid);
}

/* Steps 5-7 show the calls of their lesson, not a wrapper around them: the fork,
 * what the child does (its setrlimit, the mmap below the stack, the thread with
 * its stack size) and the overflow, as the code that ran (the code is in the
 * source: assert_lesson_step_in). */
static const struct {
    const char *id, *calls[4];
} shown[] = {
    {"rlimit", {"child = fork();", "setrlimit(RLIMIT_STACK, &rl)", "overflow(NULL)"}},
    {"guard_gap", {"child = fork();", "setrlimit(RLIMIT_STACK, &rl)",
                   "mmap(below, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE",
                   "overflow(NULL)"}},
    {"thread", {"child = fork();", "pthread_attr_setstacksize(&attr, 256u << 10)",
                "pthread_create(&thread, &attr, overflow, NULL)"}},
};

static void check_calls_shown(const struct json *st)
{
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
        for (int k = 0; strcmp(jstr(st, "id"), shown[i].id) == 0 && k < 4 && shown[i].calls[k]; k++)
            ck_assert_msg(strstr(jstr(st, "code"), shown[i].calls[k]), "step %s shows no %s: %s",
                          shown[i].id, shown[i].calls[k], jstr(st, "code"));
}

static void check_step(pid_t pid, const struct json *st, const struct seen *b, const struct seen *a)
{
    const char *id = jstr(st, "id");
    assert_lesson_step_in(st, VMLAB_DEMO_SOURCE);
    if (strcmp(id, "guard_gap") == 0 && !gap_has_room(b->size)) { /* not run, and why */
        ck_assert_str_eq(jstr(st, "code"), "");
        ck_assert(held(st, "gap_no_room"));
        ck_assert_int_eq(finding_value(st, "gap_no_room", "limit_kB"), capped(8192));
        return;
    }
    check_calls_shown(st);
    ck_assert_int_eq(jint(st, "after.Size_kB"), a->size);
    /* The demo measured [stack]'s Rss just after its lesson; by this pause it
     * has printed the step, and that code may reach a page or two of stack
     * no measured code had touched (it was seen once: 40 kB, then 44 kB).
     * Never less, never more than that. */
    int64_t reported = jint(st, "after.Rss_kB");
    ck_assert_msg(a->rss >= reported && a->rss - reported <= 8,
                  "after.Rss_kB %lld, [stack] Rss read at the pause %lld kB", (long long)reported,
                  (long long)a->rss);
    ck_assert_int_eq((int64_t)stepper_maps_start(st), (int64_t)a->stack.start);
    int64_t f0 = jint(st, "before.minor_faults"), f1 = jint(st, "after.minor_faults");
    ck_assert(f0 >= b->minflt && f1 <= a->minflt);
    if (strncmp(id, "recurse", 7) == 0) {
        int64_t depth = jint(st, "facts.depth");
        ck_assert_int_eq(jint(st, "facts.frame_bytes"), 4096); /* a frame really is a page */
        uintptr_t deepest = hex_fact(st, "facts.deepest_frame", false);
        /* The stack starts at the page of the deepest frame, and holds them all. */
        ck_assert_int_eq((int64_t)a->stack.start, (int64_t)(deepest & ~(uintptr_t)4095));
        ck_assert_int_ge((int64_t)(a->stack.end - deepest), depth * 4096);
        if (strcmp(id, "recurse_again") == 0) { /* nothing moved */
            ck_assert_int_eq(a->size, b->size);
            ck_assert_int_eq(a->rss, b->rss);
            ck_assert(held(st, "stack_stays"));
        } else {
            /* depth frames, half of them new in the deeper run: about a page each. */
            int64_t fresh = strcmp(id, "recurse") == 0 ? depth : depth / 2;
            int64_t pages = (a->rss - b->rss) / 4;
            /* Each frame wrote its own page: every page of [stack] is resident,
             * and it grew by at most one page a new frame (fewer by the pages
             * the program had already touched below where the stack stood). */
            for (uintptr_t at = deepest & ~(uintptr_t)4095; at < deepest + (uintptr_t)depth * 4096;
                 at += 4096) {
                bool present;
                uint64_t pfn;
                ck_assert(observe_pagemap(pid, at, &present, &pfn));
                ck_assert_msg(present, "%s: the frame page at %#lx is not present", id, (unsigned long)at);
            }
            ck_assert_int_eq(jint(st, "facts.frame_pages_resident"), jint(st, "facts.frame_pages"));
            ck_assert_msg(pages <= fresh && pages > fresh / 2, "%s: Rss +%lld pages for %lld new frames",
                          id, (long long)pages, (long long)fresh);
            ck_assert_int_ge(a->minflt - b->minflt, pages);
            ck_assert(held(st, "grew_to_deepest_frame"));
            ck_assert(held(st, "one_page_per_frame"));
        }
    }
    if (strcmp(id, "rlimit") == 0) {
        /* A copy of our stack, the limit set above it (or at the hard limit), and the
         * overflow stopped within two pages of that limit, on no mapping. */
        int64_t limit = capped(b->size + 512), child = jint(st, "facts.child_stack_kB");
        ck_assert_int_eq(jint(st, "facts.child_limit_kB"), limit);
        ck_assert_msg(child <= limit && child > limit - 8, "child's stack %lld kB, limit %lld kB",
                      (long long)child, (long long)limit);
        ck_assert_str_eq(jstr(st, "facts.si_code"), "SEGV_MAPERR");
        ck_assert_int_eq(finding_value(st, "stopped_at_rlimit", "si_code"), SEGV_MAPERR);
        ck_assert(held(st, "stopped_at_rlimit") && held(st, "caught_on_alternate_stack"));
        ck_assert_int_eq(a->size, b->size); /* ours did not move */
    }
    if (strcmp(id, "guard_gap") == 0) {
        int64_t dist = jint(st, "facts.distance_kB"), child = jint(st, "facts.child_stack_kB");
        ck_assert_msg(dist >= gap_kb && dist <= gap_kb + 8, "distance %lld kB, gap %lld kB",
                      (long long)dist, (long long)gap_kb);
        /* The page went 2 MiB below the stack we read (lower by what the child's own
         * frames grew it first), and the stack stopped the gap above that page. */
        uintptr_t blocker = hex_fact(st, "facts.blocker_end", false);
        ck_assert_msg(blocker <= a->stack.start - (2u << 20) &&
                          blocker + (64u << 10) >= a->stack.start - (2u << 20),
                      "page's end %#lx, our [stack] starts at %#lx", (unsigned long)blocker,
                      (unsigned long)a->stack.start);
        ck_assert_msg(child >= gap_stop(a->size) - 8 && child <= gap_stop(a->size) + 64,
                      "child's stack %lld kB; ours %lld kB, 2 MiB down less the %lld kB gap",
                      (long long)child, (long long)a->size, (long long)gap_kb);
        ck_assert_int_lt(child, capped(8192));
        ck_assert_int_eq(jint(st, "facts.child_limit_kB"), capped(8192));
        ck_assert(held(st, "gap_kept") && !held(st, "gap_no_room"));
    }
}

/* A thread of our own with a 256 KiB stack, made as the demo's child makes
 * it: its stack mapping, and the mapping just below (glibc's guard page).
 * Its size is not the child's to the kB: where the kernel lets a MAP_STACK
 * mapping merge with an anonymous rw-p one just above it (glibc's mprotect of
 * the stack can), the mapping is bigger, by what lay above, and that differs
 * between this process and the demo's child. 256 KiB is the least either has. */
static struct vma own_stack, own_guard;
static bool own_found;

static void *look_at_own_stack(void *arg)
{
    (void)arg;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0); /* the real stack, even under ASan */
    own_found = maps_find(getpid(), here, NULL, &own_stack) &&
                maps_find(getpid(), own_stack.start - 1, NULL, &own_guard);
    return NULL;
}

/* The thread step: the same fixed stack and guard page as ours, and a guard
 * page's fault, SEGV_ACCERR; compared with step 5's SEGV_MAPERR only if that ran. */
static void check_thread(const struct json *thread, bool rlimit_ran)
{
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256u << 10);
    ck_assert_int_eq(pthread_create(&t, &attr, look_at_own_stack, NULL), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert(own_found);
    ck_assert_str_eq(own_guard.perms, "---p");
    ck_assert_int_ge((int64_t)(own_stack.end - own_stack.start), 256 << 10);
    assert_sentences_rest_on_findings(thread);
    int64_t child = jint(thread, "facts.child_stack_kB");
    ck_assert_msg(child >= 256, "the thread child's stack is %lld kB, 256 KiB asked for",
                  (long long)child);
    ck_assert_str_eq(jstr(thread, "facts.fault_perms"), own_guard.perms);
    ck_assert_str_eq(jstr(thread, "facts.si_code"), "SEGV_ACCERR");
    ck_assert_int_eq(child, jint(thread, "facts.thread_stack_before_kB"));
    ck_assert(held(thread, "thread_stack_fixed") && held(thread, "guard_page_accerr"));
    ck_assert_int_eq(finding_value(thread, "guard_page_accerr", "rlimit_si_code"),
                     rlimit_ran ? SEGV_MAPERR : 0);
}

/* The last line names a rule that stopped the stack only where its finding
 * held: RLIMIT_STACK in step 5 (stopped_at_rlimit), the gap in step 6 (gap_kept,
 * not even recorded where the step did not run). Its two depths are the ones
 * the recursions ran: steps 2 and 3 the first, step 4 the second, and [stack]
 * as we read it moved down by their difference in pages between the pause
 * after step 2 (seen[3]) and the one after step 4 (seen[5]). */
static void check_reason(const struct stepper *s, const struct seen *seen)
{
    const struct json *result = stepper_result(s);
    ck_assert_ptr_nonnull(result);
    const char *reason = jstr(result, "reason");
    long first, second;
    ck_assert_msg(sscanf(reason, "recursion %ld and %ld frames deep", &first, &second) == 2,
                  "reason \"%s\"", reason);
    ck_assert_int_eq(jint(stepper_step(s, 2), "facts.depth"), first);
    ck_assert_int_eq(jint(stepper_step(s, 3), "facts.depth"), first);
    ck_assert_int_eq(jint(stepper_step(s, 4), "facts.depth"), second);
    int64_t moved = (int64_t)(seen[3].stack.start - seen[5].stack.start) / 4096;
    ck_assert_msg(moved >= second - first - 1 && moved <= second - first + 1,
                  "reason \"%s\"; [stack] moved down %lld pages from step 2 to step 4", reason,
                  (long long)moved);
    bool by_rlimit = held(stepper_step(s, 5), "stopped_at_rlimit");
    bool by_gap = held(stepper_step(s, 6), "gap_kept");
    ck_assert_msg((strstr(reason, "RLIMIT_STACK") != NULL) == by_rlimit &&
                      (strstr(reason, "guard gap") != NULL) == by_gap,
                  "reason \"%s\"; stopped_at_rlimit %s, gap_kept %s", reason,
                  by_rlimit ? "held" : "not held", by_gap ? "held" : "not held");
}

/* At the pause before step `next`: our reading now, and step next - 1 against it. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    struct seen *seen = ctx;
    ck_assert_int_lt(next, 16);
    read_seen(stepper_pid(s), &seen[next]);
    if (ended)
        check_step(stepper_pid(s), ended, &seen[next - 1], &seen[next]);
}

START_TEST(lesson_observed)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    struct seen seen[16];
    ck_assert_int_eq(lesson_step_through(&s, argv, at_pause, seen), 7);
    const struct json *thread = stepper_step(&s, 7);
    ck_assert_ptr_nonnull(thread);
    check_thread(thread, true);
    check_reason(&s, seen);
    lesson_assert_ok_end(&s);
}
END_TEST

/* The hard limit in /proc/PID/limits ("Max stack size  SOFT  HARD  bytes"), in kB. */
static int64_t limits_hard_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/limits", (long)pid);
    FILE *f = fopen(path, "re");
    long long soft = 0, hard = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Max stack size", 14) == 0)
            ck_assert_int_eq(sscanf(line + 14, "%lld %lld", &soft, &hard), 2);
    if (f)
        fclose(f);
    return hard < 0 ? -1 : hard / 1024;
}

/* The lab sheet's exercise 1, (ulimit -s 1024; stack-growth): ulimit -s sets the
 * hard limit too, which no child may raise its limit above. The rlimit child sets
 * the hard limit (its stack plus 512 KiB is more); the guard-gap step has no room
 * (the gap would stop the stack only past 1 MiB) and says so without running; the
 * thread step runs as ever. Read from outside at each pause, as lesson_observed. */
START_TEST(low_hard_limit)
{
    struct rlimit rl = {1024 << 10, 1024 << 10};
    ck_assert_int_eq(setrlimit(RLIMIT_STACK, &rl), 0); /* this test's process and its demo */
    hard_kb = 1024;
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    struct seen seen[16];
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    int next, last = 0;
    while ((next = stepper_wait(&s)) > 0) {
        ck_assert_int_lt(next, 16);
        ck_assert_int_gt(next, last);
        pid_t pid = stepper_pid(&s);
        ck_assert_int_eq(limits_hard_kb(pid), 1024);
        read_seen(pid, &seen[next]);
        for (int k = last > 0 ? last : 1; k < next; k++) { /* the steps since the last pause */
            const struct json *st = stepper_step(&s, k);
            ck_assert_msg(st != NULL, "step %d ended without its JSON line", k);
            check_step(pid, st, &seen[last], &seen[next]);
        }
        last = next;
        ck_assert(stepper_go(&s));
    }
    ck_assert_int_eq(last, 7); /* no pause for step 6: it ran no code */
    ck_assert(!gap_has_room(seen[5].size));
    const struct json *gap = stepper_step(&s, 6);
    ck_assert_ptr_nonnull(gap);
    ck_assert(held(gap, "gap_no_room"));
    ck_assert_int_eq(finding_value(stepper_step(&s, 5), "stopped_at_rlimit", "limit_kB"), 1024);
    check_thread(stepper_step(&s, 7), true);
    check_reason(&s, seen);
    lesson_assert_ok_end(&s);
}
END_TEST

START_TEST(predict_answers_measured)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--answers", "b,a,b", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    assert_measured(&d, 2, "b");
    assert_measured(&d, 3, "a");
    assert_measured(&d, 4, "b");
    demo_run_free(&d);
}
END_TEST

START_TEST(small_limit_is_77)
{
    /* ulimit -s 128: the lesson cannot recurse; it says so, exit 77. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {128 << 10, 128 << 10};
        if (setrlimit(RLIMIT_STACK, &rl) != 0 || !freopen("/dev/null", "w", stdout))
            _exit(126);
        execl(program, "stack-growth", (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 77, "status %#x", status);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "stack-growth", VMLAB_DEMO_SOURCE), 7);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--depth", "4", NULL}, "--depth"},
    {{"extra", NULL}, "extra"},
};

int main(void)
{
    program = demo_program("stack-growth", RUN_AS_SELF);
    if (sysconf(_SC_PAGESIZE) != 4096) {
        fprintf(stderr, "test_stack_growth: the lesson needs 4 KiB pages\n");
        return 77;
    }
    FILE *f = fopen("/proc/cmdline", "re");
    char line[4096];
    const char *at;
    long long pages;
    if (f && fgets(line, sizeof line, f) && (at = strstr(line, "stack_guard_gap=")) &&
        sscanf(at + 16, "%lld", &pages) == 1)
        gap_kb = pages * 4;
    if (f)
        fclose(f);
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
        hard_kb = (int64_t)(rl.rlim_max / 1024);
    Suite *s = suite_create("stack-growth");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lesson_observed);
    tcase_add_test(tc, predict_answers_measured);
    tcase_add_test(tc, small_limit_is_77);
    tcase_add_test(tc, answers_show_real_code);
    tcase_add_test(tc, low_hard_limit); /* last: it lowers this process's hard limit for good */
    ADD_BAD_INPUT_TESTS(tc, program, "stack-growth", bad_cases);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
