/* SPDX-License-Identifier: MIT */
/* Demo tests for hugetlb-reserve, judged from outside: the demo runs with
 * --step --json on a pseudo-terminal, and at each pause the test reads
 * HugePages_Free/Rsvd/Surp from /proc/meminfo, the mapping's
 * Private_Hugetlb from /proc/PID/smaps and, as root, its pagemap entry -
 * then holds the demo's rows and findings to those readings.
 *
 *   test_hugetlb_reserve root     --setup 2 on an empty pool; a pool the test
 *                                 pre-fills; surplus pages (exits 77 when not root)
 *   test_hugetlb_reserve nobody   without root: a lesson or a clean 77 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson.h"
#include "lesson_checks.h"
#include "observe.h"
#include "suite.h"
#include "sysctl.h"

static const char *program;
static enum run_as run_as = RUN_AS_SELF;

/* What this test itself wrote, to undo only that: another run on the
 * machine may change the pool meanwhile, and a blanket "put back what was
 * there when we started" would undo *its* change, or re-apply a value it
 * had in flight. */
struct own_write {
    const char *knob;
    uint64_t was, wrote;
    bool pending;
};
static struct own_write *own; /* shared with the forked tests: see main */

static int write_knob(int slot, const char *knob, uint64_t value)
{
    uint64_t was = vm(knob);
    int rc = sysctl_write(knob, value);
    if (rc == 0 && !own[slot].pending)
        own[slot] = (struct own_write){knob, was, value, true};
    else if (rc == 0)
        own[slot].wrote = value;
    return rc;
}

/* Under the vmlab lock, and only while the knob still holds what this test wrote: a run that
 * holds the lock has a change of its own in force, and a value that moved is not ours. */
static void undo_knob(int slot)
{
    if (own[slot].pending) {
        int lock = sysctl_lock(10);
        if ((lock >= 0 || errno != EWOULDBLOCK) && vm(own[slot].knob) == own[slot].wrote)
            sysctl_write(own[slot].knob, own[slot].was);
        if (lock >= 0)
            close(lock);
    }
    own[slot].pending = false;
}

enum { FREE, RSVD, SURP, TOTAL, NPOOL };
static const char *const pool_keys[NPOOL] = {"HugePages_Free", "HugePages_Rsvd", "HugePages_Surp",
                                             "HugePages_Total"};

/* What the test read at one pause. */
struct pause {
    int step;
    int64_t pool[NPOOL];
    int64_t private_hugetlb_kB;  /* -1: the mapping is not known yet */
    bool present;                /* pagemap: the huge page's first base page */
    char *maps;
};

#define MAX_PAUSES 16
struct stepped {
    struct stepper s;
    struct pause at[MAX_PAUSES];
    int n;
    uintptr_t p;                 /* the huge page, from step 2's "maps" fact */
};

static char *read_maps(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    char *buf = calloc(1, 1 << 16);
    ck_assert_ptr_nonnull(buf);
    size_t len = fread(buf, 1, (1 << 16) - 1, f);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

static void run_stepped(struct stepped *r, const char *const extra[])
{
    const char *argv[8] = {program, "--step", "--json"};
    int argc = 3;
    for (; extra && *extra; extra++)
        argv[argc++] = *extra;
    argv[argc] = NULL;
    memset(r, 0, sizeof *r);
    ck_assert_int_eq(stepper_start(&r->s, argv), 0);
    pid_t pid = stepper_pid(&r->s);
    int step;
    while ((step = stepper_wait(&r->s)) > 0) {
        ck_assert(r->n < MAX_PAUSES);
        struct pause *a = &r->at[r->n++];
        a->step = step;
        for (int i = 0; i < NPOOL; i++)
            a->pool[i] = observe_meminfo(pool_keys[i]);
        if (!r->p && step > 2)
            r->p = stepper_maps_start(stepper_step(&r->s, 2));
        a->private_hugetlb_kB = r->p ? observe_smaps(pid, r->p, "Private_Hugetlb") : -1;
        uint64_t pfn;
        if (r->p && !observe_pagemap(pid, r->p, &a->present, &pfn))
            a->present = false;
        a->maps = read_maps(pid);
        ck_assert(stepper_go(&r->s));
    }
}

/* The last pause of step n (its LESSON's "before"); NULL if none. */
static const struct pause *last_pause(const struct stepped *r, int n)
{
    const struct pause *found = NULL;
    for (int i = 0; i < r->n; i++)
        if (r->at[i].step == n)
            found = &r->at[i];
    return found;
}

static const struct pause *first_pause(const struct stepped *r, int n)
{
    for (int i = 0; i < r->n; i++)
        if (r->at[i].step == n)
            return &r->at[i];
    return NULL;
}

static void finish(struct stepped *r, int want_status)
{
    int status = stepper_finish(&r->s);
    for (int i = 0; i < r->n; i++)
        free(r->at[i].maps);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == want_status, "status %#x", status);
}

/* Step n's JSON; if the demo never printed it, the test fails saying how
 * the run ended (another program taking the pool's pages shows there). */
static const struct json *step_of(const struct stepped *r, int n)
{
    const struct json *st = stepper_step(&r->s, n);
    const struct json *res = stepper_result(&r->s);
    ck_assert_msg(st != NULL, "no step %d; the run ended: %s", n,
                  res ? json_get_string(res, "reason") : "(no result line)");
    assert_sentences_rest_on_findings(st);
    return st;
}

/* The pool rows of step n against the test's readings: "before" at the
 * step's (last) pause, "after" at the next step's first pause. */
static void pool_rows_match(const struct stepped *r, int n, int upto)
{
    const struct json *st = step_of(r, n);
    const struct pause *b = last_pause(r, n), *a = first_pause(r, n + 1);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i <= upto; i++) {
        char key[64];
        snprintf(key, sizeof key, "before.%s", pool_keys[i]);
        ck_assert_msg(jint(st, key) == b->pool[i], "step %d %s: demo %lld, /proc/meminfo %lld", n,
                      key, (long long)jint(st, key), (long long)b->pool[i]);
        snprintf(key, sizeof key, "after.%s", pool_keys[i]);
        if (a)
            ck_assert_msg(jint(st, key) == a->pool[i], "step %d %s: demo %lld, /proc/meminfo %lld",
                          n, key, (long long)jint(st, key), (long long)a->pool[i]);
    }
}

/* An empty pool, --setup 2: grown, reserved, taken, used up, both failures. */
START_TEST(setup_judged_at_each_pause)
{
    int64_t huge_kB = observe_meminfo("Hugepagesize");
    if (observe_meminfo("HugePages_Free") - observe_meminfo("HugePages_Rsvd") > 0)
        return; /* a pool with pages to spare is the other test's case */
    struct knobs before, after;
    knobs_read(&before);
    struct stepped r;
    run_stepped(&r, (const char *const[]){"--setup", "2", NULL});
    const struct json *grow = step_of(&r, 1);
    ck_assert_str_eq(jstr(grow, "id"), "grow_pool");
    ck_assert_int_eq(jint(grow, "delta.HugePages_Total"), 2);
    ck_assert_int_eq(first_pause(&r, 2)->pool[TOTAL], last_pause(&r, 1)->pool[TOTAL] + 2);
    ck_assert(held(grow, "pool_grew"));
    pool_rows_match(&r, 1, SURP);

    /* mmap: one page reserved, none taken, nothing present. */
    const struct json *map = step_of(&r, 2);
    pool_rows_match(&r, 2, SURP);
    const struct pause *p3 = first_pause(&r, 3), *p4 = first_pause(&r, 4);
    ck_assert_int_eq(p3->pool[RSVD], last_pause(&r, 2)->pool[RSVD] + 1);
    ck_assert(held(map, "reserved_not_taken"));
    ck_assert_int_eq(jint(map, "facts.base_pages"), huge_kB * 1024 / sysconf(_SC_PAGESIZE));
    ck_assert_int_eq(jint(map, "facts.mincore_resident_base_pages"), 0);
    ck_assert(!p3->present);
    ck_assert_int_eq(p3->private_hugetlb_kB, 0);

    /* the write: the reserved page is taken; smaps shows it apart from Rss */
    const struct json *wr = step_of(&r, 3);
    pool_rows_match(&r, 3, RSVD);
    ck_assert_int_eq(p4->pool[FREE], p3->pool[FREE] - 1);
    ck_assert_int_eq(p4->pool[RSVD], p3->pool[RSVD] - 1);
    ck_assert_int_eq(p4->private_hugetlb_kB, huge_kB);
    ck_assert_int_eq(jint(wr, "before.Private_Hugetlb_kB"), p3->private_hugetlb_kB);
    ck_assert_int_eq(jint(wr, "after.Private_Hugetlb_kB"), p4->private_hugetlb_kB);
    if (geteuid() == 0)
        ck_assert(p4->present);
    ck_assert(held(wr, "write_took_reserved_page"));
    ck_assert(held(wr, "counted_apart_from_rss"));

    /* every spare page reserved; then ENOMEM; then SIGBUS */
    const struct json *rest = step_of(&r, 4);
    pool_rows_match(&r, 4, RSVD);
    const struct pause *p5 = first_pause(&r, 5);
    ck_assert_int_eq(p5->pool[FREE], p5->pool[RSVD]);
    ck_assert(held(rest, "no_page_to_spare"));
    const struct json *more = step_of(&r, 5);
    if (vm("nr_overcommit_hugepages") == 0) {
        ck_assert_str_eq(jstr(more, "facts.mmap"), "ENOMEM");
        ck_assert(held(more, "refused_at_mmap"));
    }
    const struct json *bus = step_of(&r, 6);
    const struct pause *m = first_pause(&r, 6), *w = last_pause(&r, 6);
    ck_assert_ptr_ne(m, w); /* two lines, two pauses: the mmap, then the write */
    ck_assert_int_eq(w->pool[RSVD], m->pool[RSVD]); /* MAP_NORESERVE reserved nothing */
    ck_assert_str_eq(jstr(bus, "facts.mmap"), "granted");
    ck_assert_str_eq(jstr(bus, "facts.write"), "SIGBUS");
    ck_assert_str_eq(jstr(bus, "facts.si_code"), "BUS_ADRERR");
    /* si_addr: the start of a mapping that the maps at the write's pause
     * show, and that is not the first huge page. */
    char head[40];
    unsigned long long fault = strtoull(jstr(bus, "facts.si_addr"), NULL, 16);
    snprintf(head, sizeof head, "\n%llx-", fault);
    ck_assert_msg(strstr(w->maps, head) != NULL, "no mapping starts at %llx", fault);
    ck_assert_uint_ne(fault, r.p);
    ck_assert(held(bus, "sigbus_at_first_write"));
    finish(&r, 0);

    knobs_read(&after);
    ck_assert_msg(knobs_equal(&before, &after), "nr_hugepages %llu, was %llu",
                  (unsigned long long)after.nr_hugepages, (unsigned long long)before.nr_hugepages);
}
END_TEST

/* --predict's four questions (the sheet's 1, 2 and 4) on a pool the demo grows: each
 * measured choice is the one the step's findings make so, which the test above
 * holds against the pool as read from outside. */
START_TEST(predict_answers_measured)
{
    if (observe_meminfo("HugePages_Free") - observe_meminfo("HugePages_Rsvd") > 0)
        return; /* steps 4 to 6 run only on a pool this run grew */
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--setup", "2", "--answers",
                                                              "b,b,b,b", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert(held(demo_step(&d, 2), "reserved_not_taken"));
    assert_measured(&d, 2, "b");
    ck_assert(held(demo_step(&d, 3), "counted_apart_from_rss"));
    assert_measured(&d, 3, "b");
    const char *no_page = vm("nr_overcommit_hugepages") == 0 ? "b" : "a"; /* else a surplus */
    assert_measured(&d, 5, no_page);
    assert_measured(&d, 6, no_page);
    demo_run_free(&d);
}
END_TEST

/* An instructor filled the pool: the demo uses it, with or without
 * --setup (the tour passes --setup 2), changes nothing, and step 1 shows
 * the pool as read - not a comparison of two snapshots (issue 9 item 18). */
START_TEST(prefilled_pool_used_as_it_is)
{
    const char *variants[2][3] = {{NULL}, {"--setup", "2", NULL}};
    uint64_t total = vm("nr_hugepages");
    ck_assert_int_eq(write_knob(0, "nr_hugepages", total + 2), 0);
    if (observe_meminfo("HugePages_Free") - observe_meminfo("HugePages_Rsvd") <= 0) {
        undo_knob(0);
        return; /* no contiguous memory for even one huge page right now */
    }
    for (int v = 0; v < 2; v++) {
        struct stepped r;
        run_stepped(&r, variants[v]);
        const struct json *pool = step_of(&r, 1);
        ck_assert_str_eq(jstr(pool, "id"), "pool");
        ck_assert_int_eq((int64_t)json_get(pool, "before")->count, 0);
        ck_assert_int_eq((int64_t)json_get(pool, "delta")->count, 0);
        const struct pause *p1 = first_pause(&r, 1);
        for (int i = 0; i < NPOOL; i++) {
            char key[64];
            snprintf(key, sizeof key, "facts.%s", pool_keys[i]);
            ck_assert_int_eq(jint(pool, key), p1->pool[i]);
        }
        ck_assert(held(pool, "pool_has_spare_pages"));
        ck_assert(held(pool, "setup_not_needed") == (v == 1));
        bool fixed = vm("nr_overcommit_hugepages") == 0;
        ck_assert(held(pool, "pool_fixed_size") == fixed);
        ck_assert(held(pool, "pool_may_grow") == !fixed);
        pool_rows_match(&r, 2, SURP);
        pool_rows_match(&r, 3, RSVD);
        for (int n = 4; n <= 6; n++) {
            ck_assert(held(step_of(&r, n), "pool_not_this_runs"));
            ck_assert_ptr_null(first_pause(&r, n)); /* nothing ran there */
        }
        finish(&r, 0);
        ck_assert_uint_eq(vm("nr_hugepages"), total + 2);
    }
    undo_knob(0);
}
END_TEST

/* nr_overcommit_hugepages: with an empty pool the kernel makes a surplus
 * page on demand (issue 9 item 15) - the demo runs and says so. */
START_TEST(surplus_pages_on_demand)
{
    if (vm("nr_hugepages") != 0 || observe_meminfo("HugePages_Surp") != 0)
        return;
    ck_assert_int_eq(write_knob(1, "nr_overcommit_hugepages", 1), 0);
    struct stepped r;
    run_stepped(&r, NULL);
    const struct json *pool = step_of(&r, 1), *map = step_of(&r, 2);
    ck_assert(held(pool, "pool_may_grow"));
    ck_assert(!held(pool, "pool_fixed_size"));
    ck_assert_int_eq(jint(pool, "facts.nr_overcommit_hugepages"), 1);
    const struct pause *p3 = first_pause(&r, 3);
    ck_assert_ptr_nonnull(p3);
    ck_assert_int_eq(p3->pool[SURP], last_pause(&r, 2)->pool[SURP] + 1);
    ck_assert(held(map, "surplus_for_reservation"));
    pool_rows_match(&r, 2, SURP);
    finish(&r, 0);
    undo_knob(1);
    ck_assert_int_eq(observe_meminfo("HugePages_Surp"), 0);
}
END_TEST

START_TEST(unprivileged_lesson_or_clean_skip)
{
    struct knobs before, after;
    knobs_read(&before);
    for (int pass = 0; pass < 2; pass++) {
        /* pass 1: an administrator (this test, as root) filled the pool:
         * then even --setup 2 runs the lesson for an unprivileged user */
        if (pass == 1 && (geteuid() != 0 || write_knob(0, "nr_hugepages", before.nr_hugepages + 2) != 0))
            break;
        bool spare = observe_meminfo("HugePages_Free") - observe_meminfo("HugePages_Rsvd") > 0;
        struct demo_run d;
        demo_run_json(&d, program, run_as, (const char *const[]){"--setup", "2", NULL});
        const char *result = jstr(demo_result(&d), "result");
        if (!spare) {
            ck_assert_int_eq(d.r.exit_code, 77);
            ck_assert_str_eq(result, "skip");
            ck_assert_ptr_nonnull(strstr(jstr(demo_result(&d), "reason"), "root"));
            ck_assert_ptr_nonnull(strstr(jstr(demo_result(&d), "reason"), "nr_hugepages"));
            ck_assert_ptr_null(strstr(d.r.err, "growing")); /* nothing announced */
        } else {
            ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
            ck_assert_str_eq(result, "ok");
        }
        demo_run_free(&d);
    }
    undo_knob(0);
    knobs_read(&after);
    ck_assert(knobs_equal(&before, &after));
}
END_TEST

/* Containers (issue 8): a root without the host's rights, or a read-only
 * /proc/sys, ends in 77 with the reason, before announcing anything, and
 * changes nothing - never status 1. */
START_TEST(containers_skip_before_announcing)
{
    if (observe_meminfo("HugePages_Free") - observe_meminfo("HugePages_Rsvd") > 0)
        return; /* with pages to spare nothing needs changing: the lesson runs */
    const char *copy = copy_for_nobody(program);
    ck_assert_ptr_nonnull(copy);
    char prog[4096];
    snprintf(prog, sizeof prog, "%s", copy);
    const char *rootless[] = {"/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534",
                              "--clear-groups", "/usr/bin/unshare", "-Ur", prog, "--setup", "2",
                              "--json", NULL};
    const char *read_only[] = {"/usr/bin/unshare", "-m", "/bin/sh", "-c",
                               "mount --bind /proc/sys /proc/sys && "
                               "mount -o remount,bind,ro /proc/sys && exec \"$0\" \"$@\"",
                               prog, "--setup", "2", "--json", NULL};
    const char *const *envs[] = {rootless, read_only};
    const char *because[] = {"user namespace", "read-only"};
    for (int i = 0; i < 2; i++) {
        if (access(envs[i][0], X_OK) != 0)
            continue;
        uint64_t pool = vm("nr_hugepages");
        struct run_result r;
        ck_assert_int_eq(run_program(envs[i], RUN_AS_SELF, &r), 0);
        ck_assert_msg(r.exit_code == 77, "%s: exit %d: %s", because[i], r.exit_code, r.err);
        ck_assert_msg(strstr(r.err, because[i]) != NULL, "no word of '%s': %s", because[i], r.err);
        ck_assert_msg(strstr(r.err, "growing") == NULL, "announced a change it could not make");
        ck_assert_uint_eq(vm("nr_hugepages"), pool);
        run_result_free(&r);
    }
    remove_copy(copy);
}
END_TEST

static const struct bad_case bad[] = {
    {{"--setup", "0"}, "--setup"}, {{"--setup", "65"}, "--setup"},
    {{"--setup", "x"}, "--setup"}, {{"--setup", ""}, "--setup"},
};

/* Whatever a test wrote and did not undo (a failed assertion ends its
 * process early): own[] lives in shared memory, so the parent sees the
 * forked test's writes and undoes them after the suite, however the test
 * process ended. */
static void put_back(void)
{
    undo_knob(0);
    undo_knob(1);
}

int main(int argc, char **argv)
{
    const char *role = argc > 1 ? argv[1] : "";
    bool root = geteuid() == 0;
    if (observe_meminfo("Hugepagesize") <= 0) {
        fprintf(stderr, "this kernel has no huge pages: skipped\n");
        return 77;
    }
    if (strcmp(role, "root") == 0 && !root) {
        fprintf(stderr, "--setup changes /proc/sys/vm/nr_hugepages and needs root: skipped\n");
        return 77;
    }
    bool nobody = strcmp(role, "nobody") == 0;
    if (nobody && root)
        run_as = RUN_AS_NOBODY; /* anyone else is unprivileged already */
    program = demo_program("hugetlb-reserve", run_as);
    own = mmap(NULL, sizeof *own * 2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (own == MAP_FAILED) {
        perror("mmap");
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("hugetlb-reserve");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    if (nobody) {
        tcase_add_test(tc, unprivileged_lesson_or_clean_skip);
    } else {
        tcase_add_test(tc, setup_judged_at_each_pause);
        tcase_add_test(tc, predict_answers_measured);
        tcase_add_test(tc, prefilled_pool_used_as_it_is);
        tcase_add_test(tc, surplus_pages_on_demand);
        tcase_add_test(tc, containers_skip_before_announcing);
        ADD_BAD_INPUT_TESTS(tc, program, "hugetlb-reserve", bad);
    }
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    put_back();
    if (run_as == RUN_AS_NOBODY)
        remove_copy(program);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
