/* SPDX-License-Identifier: MIT */
/* Demo tests for fork-cow: the outside observer reads BOTH processes. At
 * every pause of a --step --json run we read the parent's and the child's
 * /proc/PID/smaps entry of the lesson's mapping (Rss, Pss, Shared_Dirty,
 * Private_Dirty) and their fault counts in /proc/PID/stat, and hold the
 * step's rows and findings against them; expected sizes come from the
 * lesson's own numbers (256 pages written, half of them by the child).
 * And the child does not outlive the demo: not at its end, not when the
 * demo is killed at a pause. (vfork and posix_spawn: test_vfork_spawn.c.) */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson_checks.h"
#include "observe.h"
#include "suite.h"

static const char *program;
static int64_t page_kb, written_kb;

struct side {
    int64_t rss, pss, shared_dirty, private_dirty, minflt;
};

static void read_side(pid_t pid, uintptr_t p, struct side *v)
{
    v->rss = observe_smaps(pid, p, "Rss");
    v->pss = observe_smaps(pid, p, "Pss");
    v->shared_dirty = observe_smaps(pid, p, "Shared_Dirty");
    v->private_dirty = observe_smaps(pid, p, "Private_Dirty");
    v->minflt = observe_minflt(pid);
}

static void assert_rows(const struct json *st, const char *who, const struct side *v)
{
    static const char *const keys[] = {"Rss", "Pss", "Shared_Dirty", "Private_Dirty"};
    const int64_t *vals = &v->rss;
    for (int i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof path, "after.%s_%s_kB", who, keys[i]);
        ck_assert_msg(jint(st, path) == vals[i], "%s: %lld, we read %lld", path,
                      (long long)jint(st, path), (long long)vals[i]);
    }
}

/* What the test keeps from pause to pause: the two processes, the lesson's
 * mappings (p; d and w, advised MADV_DONTFORK and MADV_WIPEONFORK), the
 * child's reading after fork and the parent's at the pause before. */
struct watch {
    pid_t parent, child;
    uintptr_t p, d, w;
    struct side cb, pb;
};

/* At the pause before step `next`: step next - 1 (st) against what we read now. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *st)
{
    struct watch *w = ctx;
    w->parent = stepper_pid(s);
    if (st)
        assert_lesson_step_in(st, VMLAB_DEMO_SOURCE);
    const char *id = st ? jstr(st, "id") : "";
    struct side pa, ca;
    if (strcmp(id, "map") == 0) {
        w->p = stepper_maps_start(st);
        w->d = hex_fact(st, "facts.d", false);
        w->w = hex_fact(st, "facts.w", false);
        ck_assert_int_eq(observe_smaps(w->parent, w->p, "Size"), jint(st, "facts.size_kB"));
        ck_assert_int_eq(observe_smaps(w->parent, w->p, "Rss"), 0);
    }
    if (w->p)
        read_side(w->parent, w->p, &pa);
    if (strcmp(id, "touch") == 0) {
        assert_rows(st, "parent", &pa);
        ck_assert_int_eq(pa.rss, written_kb); /* the reads took the zero page */
        ck_assert_int_eq(pa.private_dirty, written_kb);
    }
    if (strcmp(id, "fork") == 0) {
        w->child = (pid_t)jint(st, "facts.child_pid");
        ck_assert_int_gt(w->child, 0);
        read_side(w->child, w->p, &ca);
        assert_rows(st, "parent", &pa);
        assert_rows(st, "child", &ca);
        ck_assert_int_eq(ca.rss, written_kb);
        ck_assert_int_eq(pa.shared_dirty, written_kb);
        ck_assert_int_eq(ca.shared_dirty, written_kb);
        ck_assert_int_eq(pa.pss, written_kb / 2);
        ck_assert_int_eq(ca.pss, written_kb / 2);
        ck_assert(held(st, "all_shared") && held(st, "zero_and_untouched_not_copied"));
        ck_assert_int_eq(observe_smaps(w->child, w->d, "Size"), -1); /* MADV_DONTFORK */
        ck_assert_int_eq(observe_smaps(w->child, w->w, "Rss"), 0);   /* MADV_WIPEONFORK */
        ck_assert_int_gt(observe_smaps(w->parent, w->w, "Rss"), 0);
        ck_assert(held(st, "dontfork_wipeonfork"));
        int64_t charge = accounted_kb(w->child);
        ck_assert_int_eq(jint(st, "facts.child_accounted_kB"), charge);
        assert_commit_exact(st, "fork_charged_child", charge);
        w->cb = ca;
    }
    if (strcmp(id, "child_writes") == 0) {
        /* The step shows the write that makes the copies, though the child runs it. */
        ck_assert_msg(strstr(jstr(st, "code"), "p[off] = 2;"),
                      "step 5 does not show the child's writes: %s", jstr(st, "code"));
        read_side(w->child, w->p, &ca);
        assert_rows(st, "parent", &pa);
        assert_rows(st, "child", &ca);
        int64_t half = written_kb / 2;
        int64_t cfaults = ca.minflt - w->cb.minflt;
        ck_assert_msg(cfaults >= half / page_kb && cfaults <= half / page_kb + 4,
                      "the child took %lld faults for %lld pages", (long long)cfaults,
                      (long long)(half / page_kb));
        /* The parent took no fault in kill + waitpid, inside what we counted. */
        ck_assert_int_eq(jint(st, "delta.minor_faults"), 0);
        ck_assert(jint(st, "before.minor_faults") >= w->pb.minflt &&
                  jint(st, "after.minor_faults") <= pa.minflt);
        ck_assert_int_eq(pa.rss, written_kb);
        ck_assert_int_eq(ca.private_dirty, half);
        ck_assert_int_eq(pa.private_dirty, half);
        ck_assert_int_eq(pa.pss + ca.pss, written_kb + half); /* the frames there are */
        ck_assert(held(st, "cow_in_child") && held(st, "parent_unchanged") && held(st, "pss_adds_up"));
    }
    if (w->p)
        w->pb = pa;
    (void)next;
}

START_TEST(lesson_observed)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    struct watch w = {0};
    ck_assert_int_eq(lesson_step_through(&s, argv, at_pause, &w), 6);
    const struct json *end = stepper_step(&s, 6);
    ck_assert_ptr_nonnull(end);
    ck_assert(held(end, "parent_owns_all_again"));
    lesson_assert_ok_end(&s);
    ck_assert(w.child > 0 && gone(w.child));
}
END_TEST

/* Killed at a pause, with the child alive: it does not outlive the demo. */
START_TEST(children_end_with_the_demo)
{
    static const struct started child[] = {{4, "facts.child_pid", "the child"}};
    assert_none_outlives_demo(program, 6, child, 1);
}
END_TEST

START_TEST(predict_answers_measured)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--answers", "b,b", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    assert_measured(&d, 4, "b");
    assert_measured(&d, 5, "b");
    demo_run_free(&d);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "fork-cow", VMLAB_DEMO_SOURCE), 6);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--pages", "4", NULL}, "--pages"},
    {{"extra", NULL}, "extra"},
};

int main(void)
{
    program = demo_program("fork-cow", RUN_AS_SELF);
    page_kb = sysconf(_SC_PAGESIZE) / 1024;
    written_kb = 256 * page_kb;
    Suite *s = suite_create("fork-cow");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lesson_observed);
    tcase_add_test(tc, children_end_with_the_demo);
    tcase_add_test(tc, predict_answers_measured);
    tcase_add_test(tc, answers_show_real_code);
    ADD_BAD_INPUT_TESTS(tc, program, "fork-cow", bad_cases);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
