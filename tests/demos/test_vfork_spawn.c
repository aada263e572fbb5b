/* SPDX-License-Identifier: MIT */
/* Demo tests for vfork-spawn: at every pause of a --step --json run we read
 * each process the demo started ourselves. After fork, what its child is
 * charged (its accounted mappings in /proc/PID/smaps); after vfork, which
 * program the new child runs, its VmRSS and whether it maps the parent's
 * memory, and what both processes are charged; after posix_spawn, what cat
 * is charged. After each start the demo writes its written pages again: we
 * count its faults, minor and major (/proc/PID/stat), from pause to pause, one a page
 * at least after fork (copy-on-write), far fewer after vfork and
 * posix_spawn (no copy). And no child outlives the demo: not at its end, not
 * when the demo is killed at a pause. (What fork shares and copies:
 * test_fork_cow.c.) */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <limits.h>
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

/* What the test keeps from pause to pause: the processes, the lesson's
 * mapping, and the charges it read. */
struct watch {
    pid_t parent, child, vforked, cat;
    uintptr_t p;
    int64_t parent_charge, fork_charge, vforked_charge, cat_charge;
    int64_t pages, faults; /* the pages written; the parent's faults at the last pause */
    int64_t written_kb;    /* their Rss, as we read it after step map */
};

/* The step's rewrite of the pages, by the parent's faults from the last pause
 * to this one (faults, as we read them, minor and major: a page swapped out
 * during the pause comes back by a major fault): a fault a page at least where
 * the start made them copy-on-write, far fewer where it did not; the demo's own
 * count (its code's alone) lies within ours. */
static void assert_rewrite(const struct json *st, const char *id, int64_t faults, int64_t pages,
                           bool cow)
{
    const struct json *f = finding(st, id);
    ck_assert_ptr_nonnull(f);
    int64_t own = jint(f, "values.minor_faults") + jint(f, "values.major_faults");
    ck_assert_msg(own >= 0 && own <= faults, "%s: the demo's %lld faults, ours %lld", id,
                  (long long)own, (long long)faults);
    if (cow)
        ck_assert_msg(faults >= pages, "%s: %lld faults for %lld pages", id, (long long)faults,
                      (long long)pages);
    else
        ck_assert_msg(faults < pages / 4, "%s: %lld faults for %lld pages, as a copy takes", id,
                      (long long)faults, (long long)pages);
    ck_assert(held(st, id));
}

/* At the pause before step `next`: step next - 1 (st) against what we read now. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *st)
{
    struct watch *w = ctx;
    w->parent = stepper_pid(s);
    int64_t now = observe_minflt(w->parent) + observe_majflt(w->parent);
    int64_t faults = now - w->faults;
    w->faults = now;
    if (st)
        assert_lesson_step_in(st, VMLAB_DEMO_SOURCE);
    const char *id = st ? jstr(st, "id") : "";
    if (strcmp(id, "map") == 0) {
        w->p = stepper_maps_start(st);
        /* Guard pages keep it a mapping of its own; no huge page. */
        int64_t size = observe_smaps(w->parent, w->p, "Size");
        ck_assert_int_eq(size, jint(st, "facts.size_kB"));
        w->written_kb = observe_smaps(w->parent, w->p, "Rss");
        ck_assert_int_eq(w->written_kb, jint(st, "facts.written_kB"));
        w->pages = jint(st, "facts.written_kB") / (sysconf(_SC_PAGESIZE) / 1024);
        assert_commit_exact(st, "commit_charged_mappings", size);
    }
    if (strcmp(id, "fork") == 0) {
        w->child = (pid_t)jint(st, "facts.child_pid");
        ck_assert_int_gt(w->child, 0);
        int64_t charge = accounted_kb(w->child);
        ck_assert_int_eq(jint(st, "facts.child_accounted_kB"), charge);
        assert_commit_exact(st, "fork_charged_child", charge);
        w->fork_charge = charge;
        assert_rewrite(st, "fork_made_pages_cow", faults, w->pages, true);
    }
    if (strcmp(id, "vfork") == 0) {
        w->vforked = (pid_t)jint(st, "facts.vforked_pid");
        ck_assert_int_gt(w->vforked, 0);
        /* It runs cat, as the parent saw when vfork returned. */
        char path[64], exe[PATH_MAX] = "", cat_exe[PATH_MAX];
        snprintf(path, sizeof path, "/proc/%ld/exe", (long)w->vforked);
        ck_assert_int_gt(readlink(path, exe, sizeof exe - 1), 0);
        ck_assert_ptr_nonnull(realpath("/bin/cat", cat_exe));
        ck_assert_str_eq(exe, cat_exe);
        ck_assert_str_eq(jstr(st, "facts.exe_as_vfork_returned"), cat_exe);
        ck_assert(held(st, "vfork_waited_for_exec"));
        /* Its memory is cat's: nothing at p, and the VmRSS we read. */
        ck_assert_int_eq(observe_smaps(w->vforked, w->p, "Size"), -1);
        const struct json *is_cat = finding(st, "vfork_child_is_cat");
        ck_assert_ptr_nonnull(is_cat);
        ck_assert_int_eq(jint(is_cat, "values.child_vm_rss_kB"),
                         observe_status(w->vforked, "VmRSS"));
        ck_assert(held(st, "vfork_child_is_cat"));
        /* The charge: cat's mappings, far less than fork's, and no copy in
         * ours (between two pauses the demo's own printing may map a few
         * kB, under ASan; a copy would be fork's size). */
        int64_t charge = w->vforked_charge = accounted_kb(w->vforked);
        ck_assert_int_lt(llabs(accounted_kb(w->parent) - w->parent_charge), w->fork_charge / 2);
        ck_assert_int_lt(charge, w->fork_charge);
        const struct json *no_copy = finding(st, "vfork_is_not_a_copy");
        ck_assert_ptr_nonnull(no_copy);
        charge += jint(no_copy, "values.parent_accounted_delta_kB");
        ck_assert_int_eq(jint(no_copy, "values.charge_kB"), charge);
        ck_assert_int_eq(jint(no_copy, "values.fork_charge_kB"), w->fork_charge);
        assert_rewrite(st, "vfork_is_not_a_copy", faults, w->pages, false);
        assert_commit_exact(st, "vfork_charged_cat_only", charge);
    }
    if (strcmp(id, "spawn") == 0) {
        w->cat = (pid_t)jint(st, "facts.spawned_pid");
        ck_assert_int_gt(w->cat, 0);
        w->cat_charge = accounted_kb(w->cat);
        ck_assert_int_eq(jint(st, "facts.spawned_accounted_kB"), w->cat_charge);
        assert_rewrite(st, "spawn_is_not_a_copy", faults, w->pages, false);
    }
    w->parent_charge = accounted_kb(w->parent);
    (void)next;
}

/* The lab sheet (docs/vfork-spawn.md, beside the key) says how much step map
 * writes as we read it: so many pages, so many MiB (it once said 1 MiB of 4). */
static void assert_sheet_says_written(int64_t written_kb)
{
    char path[PATH_MAX], said[64];
    snprintf(path, sizeof path, "%s", VMLAB_ANSWERS);
    char *answers = strstr(path, "answers/");
    ck_assert_ptr_nonnull(answers);
    memmove(answers, answers + strlen("answers/"), strlen(answers + strlen("answers/")) + 1);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    static char sheet[1 << 16];
    size_t len = fread(sheet, 1, sizeof sheet - 1, f);
    sheet[len] = '\0';
    fclose(f);
    int64_t page_kb = sysconf(_SC_PAGESIZE) / 1024;
    snprintf(said, sizeof said, "%lld pages", (long long)(written_kb / page_kb));
    ck_assert_msg(strstr(sheet, said), "%s does not say '%s'", path, said);
    if (written_kb % 1024 == 0) {
        snprintf(said, sizeof said, "%lld MiB", (long long)written_kb / 1024);
        ck_assert_msg(strstr(sheet, said), "%s does not say '%s'", path, said);
    }
}

START_TEST(lesson_observed)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    struct watch w = {0};
    ck_assert_int_eq(lesson_step_through(&s, argv, at_pause, &w), 5);
    const struct json *end = stepper_step(&s, 5);
    ck_assert_ptr_nonnull(end);
    /* What the three children were charged, as we read it at their pauses. */
    int64_t charges = w.fork_charge + w.vforked_charge + w.cat_charge;
    ck_assert_int_eq(jint(end, "facts.charges_kB"), charges);
    assert_commit_exact(end, "children_charges_returned", -charges);
    lesson_assert_ok_end(&s);
    assert_sheet_says_written(w.written_kb);
    ck_assert(w.child > 0 && gone(w.child));
    ck_assert(w.vforked > 0 && gone(w.vforked));
    ck_assert(w.cat > 0 && gone(w.cat));
}
END_TEST

/* Killed at a pause, with the child and both cats alive: none outlives it. */
START_TEST(children_end_with_the_demo)
{
    static const struct started kids[] = {
        {2, "facts.child_pid", "fork's child"},
        {3, "facts.vforked_pid", "vfork's cat"},
        {4, "facts.spawned_pid", "cat"},
    };
    assert_none_outlives_demo(program, 5, kids, 3);
}
END_TEST

START_TEST(predict_answers_measured)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--answers", "b", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    assert_measured(&d, 3, "b");
    demo_run_free(&d);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "vfork-spawn", VMLAB_DEMO_SOURCE), 5);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--pages", "4", NULL}, "--pages"},
    {{"extra", NULL}, "extra"},
};

int main(void)
{
    program = demo_program("vfork-spawn", RUN_AS_SELF);
    Suite *s = suite_create("vfork-spawn");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lesson_observed);
    tcase_add_test(tc, children_end_with_the_demo);
    tcase_add_test(tc, predict_answers_measured);
    tcase_add_test(tc, answers_show_real_code);
    ADD_BAD_INPUT_TESTS(tc, program, "vfork-spawn", bad_cases);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
