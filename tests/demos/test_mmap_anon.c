/* SPDX-License-Identifier: MIT */
/* Demo tests for mmap-anon, the example the other demo tests copy.
 *
 * The outside observer: run the demo with --step --json on a pseudo-terminal
 * and, at every pause (the demo waits before running step N, so step N-1
 * has just ended), read the process ourselves - its smaps entry, its fault
 * count from /proc/PID/stat and, as root, the PFNs in /proc/PID/pagemap -
 * and hold the step's JSON rows and findings against what we read. Expected
 * values come from these readings and from the size this test asks for,
 * never from the demo's own output.
 *
 *   test_mmap_anon            everything, as the current user
 *   test_mmap_anon nobody     the lesson again as uid 65534 (no observer)
 *   test_mmap_anon cgroup     as root: inside a 100 MiB memory cgroup
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine.h"
#include "demo_test.h"
#include "lesson.h"
#include "observe.h"
#include "suite.h"

static enum run_as run_as = RUN_AS_SELF;
static const char *program;
static int64_t page_kb, huge_kb;
static char thp_mode[32];
static int use_zero_page = 1; /* /sys/kernel/mm/transparent_hugepage/use_zero_page */

/* ---- what every step must satisfy: tests/support/lesson.h, and ---- */

/* Committed_AS is system-wide: the demo reports its exact move, and names
 * the part other processes made when it is not the charge (issue 11). */
static void assert_commit_move(const struct json *step, const char *exact_id, int64_t charge_kB)
{
    int64_t got = jint(step, "delta.Committed_AS_kB");
    ck_assert_int_eq(got, jint(step, "after.Committed_AS_kB") - jint(step, "before.Committed_AS_kB"));
    assert_commit_exact(step, exact_id, charge_kB);
    if (got != charge_kB) {
        const struct json *f = finding(step, "commit_moved_by_others");
        ck_assert_int_eq(jint(f, "values.others_kB"), got - charge_kB);
        ck_assert_int_eq(jint(f, "values.charge_kB"), charge_kB);
    }
}

/* ---- the outside observer ---- */

struct watch {
    pid_t pid;
    uintptr_t p;              /* the mapping, from step 2's maps fact */
    int64_t size_kb;          /* what this test expects to be mapped */
    bool thp;                 /* --thp asked */
    int64_t minflt[10];       /* /proc/PID/stat at the pause before step N */
    int64_t rss[10];          /* our Rss at that pause */
    int64_t anon_huge[10];    /* our AnonHugePages at that pause */
    uint64_t zero_pfn;        /* 0 unless root */
    int read_block_present;   /* pagemap: present pages of the read block */
    int nsteps;               /* as the last step's JSON says */
};

static int64_t smaps(const struct watch *w, uintptr_t at, const char *key)
{
    return observe_smaps(w->pid, at, key);
}

/* The minor faults the demo counts for a step lie inside what /proc/PID/stat
 * counted between the pauses around it. */
static void assert_faults_inside(const struct watch *w, const struct json *step, int n)
{
    int64_t before = jint(step, "before.minor_faults"), after = jint(step, "after.minor_faults");
    ck_assert_msg(before >= w->minflt[n] && after <= w->minflt[n + 1],
                  "step %d: minor_faults %lld -> %lld, outside %lld -> %lld", n, (long long)before,
                  (long long)after, (long long)w->minflt[n], (long long)w->minflt[n + 1]);
}

static void check_reserve(struct watch *w, const struct json *st)
{
    uintptr_t g = stepper_maps_start(st);
    ck_assert(g != 0);
    ck_assert_int_eq(smaps(w, g, "Size"), jint(st, "after.Size_kB"));
    ck_assert_int_eq(smaps(w, g, "Size"), jint(st, "facts.span_kB"));
    const struct json *f = finding(st, "reservation_without_memory");
    ck_assert_int_eq(jint(f, "values.span_kB"), smaps(w, g, "Size"));
    ck_assert(held(st, "reservation_without_memory"));
    ck_assert_int_eq(smaps(w, g, "Rss"), 0);
    char flags[256];
    ck_assert(observe_vmflags(w->pid, g, flags, sizeof flags));
    ck_assert_ptr_null(strstr(flags, "rd")); /* PROT_NONE: not readable */
    assert_commit_move(st, "reservation_not_charged", 0);
}

static void check_map(struct watch *w, const struct json *st)
{
    w->p = stepper_maps_start(st);
    ck_assert(w->p != 0);
    ck_assert_int_eq(smaps(w, w->p, "Size"), w->size_kb);
    ck_assert_int_eq(jint(st, "after.Size_kB"), w->size_kb);
    ck_assert_int_eq(smaps(w, w->p, "Rss"), 0);
    ck_assert_int_eq(jint(st, "after.Rss_kB"), 0);
    ck_assert(held(st, "vma_without_memory"));
    assert_commit_move(st, "commit_charged_size", w->size_kb);
}

static void check_advise(struct watch *w, const struct json *st)
{
    char flags[256];
    ck_assert(observe_vmflags(w->pid, w->p, flags, sizeof flags));
    const char *want = w->thp ? " hg" : " nh";
    ck_assert_msg(strstr(flags, want), "VmFlags %s lack%s", flags, want);
    ck_assert(held(st, "advice_in_vmflags"));
}

static void check_write_one(struct watch *w, const struct json *st, int n)
{
    int64_t rss = smaps(w, w->p, "Rss"), huge = smaps(w, w->p, "AnonHugePages");
    ck_assert_int_eq(jint(st, "after.Rss_kB"), rss);
    ck_assert_int_eq(jint(st, "after.Private_Dirty_kB"), smaps(w, w->p, "Private_Dirty"));
    ck_assert_int_eq(jint(st, "after.AnonHugePages_kB"), huge);
    assert_faults_inside(w, st, n);
    /* Which finding holds follows from what we read, not from the mode. */
    ck_assert_int_eq(held(st, "first_write_one_page"),
                     rss == page_kb && jint(st, "delta.minor_faults") == 1);
    ck_assert_int_eq(held(st, "first_write_one_huge_page"), huge == huge_kb && rss == huge_kb);
    if (!w->thp) /* MADV_NOHUGEPAGE: one base page, even under THP always */
        ck_assert_int_eq(rss, page_kb);
    bool present;
    uint64_t pfn;
    ck_assert(observe_pagemap(w->pid, w->p, &present, &pfn));
    ck_assert(present);
    if (w->zero_pfn)
        ck_assert(pfn != w->zero_pfn);
}

static void check_read_other(struct watch *w, const struct json *st, int n)
{
    /* The block the demo's mincore covers: the huge page with --thp. */
    int64_t unit = w->thp ? huge_kb * 1024 : page_kb * 1024;
    uintptr_t at = w->p + (uintptr_t)(w->size_kb * 1024 / 2 / unit * unit);
    int pages = (int)(unit / (page_kb * 1024)), present_pages = 0;
    uint64_t first_pfn = 0;
    bool contiguous = true;
    for (int i = 0; i < pages; i++) {
        bool present;
        uint64_t pfn;
        ck_assert(observe_pagemap(w->pid, at + (uintptr_t)i * (uintptr_t)(page_kb * 1024), &present, &pfn));
        present_pages += present;
        if (i == 0)
            first_pfn = pfn;
        else if (!present || pfn != first_pfn + (uint64_t)i)
            contiguous = false;
    }
    w->read_block_present = present_pages;
    int64_t rss = smaps(w, w->p, "Rss");
    ck_assert_int_eq(jint(st, "after.Rss_kB"), rss);
    ck_assert_int_eq(jint(st, "facts.value_read"), 0);
    ck_assert_int_eq(jint(st, "facts.mincore_pages"), pages);
    ck_assert_int_eq(jint(st, "facts.mincore_resident"), present_pages);
    assert_faults_inside(w, st, n);
    if (present_pages == 1) { /* the 4 KiB zero page */
        ck_assert_int_eq(rss, w->rss[n]); /* the read took no memory of its own */
        ck_assert(held(st, "read_maps_zero_page"));
        ck_assert(!held(st, "read_maps_huge_zero_page"));
        if (w->zero_pfn)
            ck_assert_msg(first_pfn == w->zero_pfn, "PFN %#llx, the zero page is %#llx",
                          (unsigned long long)first_pfn, (unsigned long long)w->zero_pfn);
    } else if (use_zero_page == 0) { /* no huge zero page: a huge page of its own */
        ck_assert_int_eq(present_pages, pages);
        ck_assert_int_eq(rss, w->rss[n] + huge_kb);
        ck_assert(held(st, "read_allocated_memory"));
        ck_assert(!held(st, "read_maps_huge_zero_page"));
        ck_assert(!held(st, "read_maps_zero_page"));
        if (w->zero_pfn)
            ck_assert(contiguous && first_pfn % (uint64_t)pages == 0);
    } else { /* the huge zero page: every base page of the block (issue 9, item 2) */
        ck_assert_int_eq(rss, w->rss[n]); /* the read took no memory of its own */
        ck_assert_int_eq(present_pages, pages);
        ck_assert(held(st, "read_maps_huge_zero_page"));
        ck_assert(!held(st, "read_maps_zero_page"));
        if (w->zero_pfn) {
            ck_assert(contiguous);
            ck_assert(first_pfn != w->zero_pfn);
            ck_assert_int_eq(first_pfn % (uint64_t)pages, 0);
        }
    }
}

static void check_write_every_page(struct watch *w, const struct json *st, int n)
{
    int64_t rss = smaps(w, w->p, "Rss"), huge = smaps(w, w->p, "AnonHugePages");
    ck_assert_int_eq(rss, w->size_kb);
    ck_assert_int_eq(smaps(w, w->p, "Private_Dirty"), w->size_kb);
    ck_assert_int_eq(jint(st, "after.Rss_kB"), rss);
    ck_assert(held(st, "every_page_has_a_frame"));
    assert_faults_inside(w, st, n);
    int64_t faults = jint(st, "delta.minor_faults");
    /* Huge pages are claimed only where we see them (issue 9, item 17). */
    ck_assert_int_eq(held(st, "one_fault_per_huge_page"),
                     w->thp && huge == w->size_kb && faults == w->size_kb / huge_kb - 1);
    ck_assert_int_eq(held(st, "one_fault_per_page_but_the_first"),
                     huge == 0 && faults == w->size_kb / page_kb - 1);
    /* A kernel that splits the huge zero page at the write (Debian's 6.1 and 6.12 do): the
     * read block stays base pages, each faulting; use_zero_page 0: the read had a huge page. */
    int64_t blocks = w->size_kb / huge_kb;
    ck_assert_int_eq(held(st, "huge_zero_page_split"),
                     w->thp && huge == w->size_kb - huge_kb &&
                         faults == blocks - 2 + huge_kb / page_kb);
    ck_assert_int_eq(held(st, "one_fault_per_huge_page_but_two"),
                     w->thp && huge == w->size_kb && w->anon_huge[n] == 2 * huge_kb &&
                         faults == blocks - 2);
    if (w->thp && use_zero_page == 0 && huge == w->size_kb)
        ck_assert(held(st, "one_fault_per_huge_page_but_two"));
    if (!w->thp)
        ck_assert_int_eq(faults, w->size_kb / page_kb - 1);
    if (w->zero_pfn) { /* the read page has a frame of its own now */
        bool present;
        uint64_t pfn;
        ck_assert(observe_pagemap(w->pid, w->p + (uintptr_t)(w->size_kb * 1024 / 2), &present, &pfn));
        ck_assert(present && pfn != w->zero_pfn);
    }
}

/* Every row the demo reports for its mapping is what smaps says now, and
 * its fault window lies inside ours. */
static void assert_rows_are_smaps(struct watch *w, const struct json *st, int n)
{
    static const char *const keys[] = {"Size", "Rss", "Private_Dirty", "AnonHugePages"};
    uintptr_t at = w->p ? w->p : stepper_maps_start(st);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "after.%s_kB", keys[i]);
        const struct json *v = json_path(st, path);
        if (v && v->type != JSON_NULL)
            ck_assert_msg(v->integer == smaps(w, at, keys[i]), "step %d: %s %lld, smaps says %lld",
                          n, path, (long long)v->integer, (long long)smaps(w, at, keys[i]));
    }
    if (json_path(st, "before.minor_faults"))
        assert_faults_inside(w, st, n);
}

static void check_step(struct watch *w, const struct json *st, int n)
{
    const char *id = jstr(st, "id");
    assert_lesson_step_in(st, VMLAB_DEMO_SOURCE);
    assert_rows_are_smaps(w, st, n);
    if (strcmp(id, "reserve") == 0)
        check_reserve(w, st);
    else if (strcmp(id, "map") == 0)
        check_map(w, st);
    else if (strcmp(id, "advise") == 0)
        check_advise(w, st);
    else if (strcmp(id, "write_one") == 0)
        check_write_one(w, st, n);
    else if (strcmp(id, "read_other") == 0)
        check_read_other(w, st, n);
    else if (strcmp(id, "write_every_page") == 0)
        check_write_every_page(w, st, n);
    else
        ck_abort_msg("step %d has an unknown id %s", n, id);
}

/* At the pause before step `next`: our readings, then the step that ended. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    struct watch *w = ctx;
    if (next == 1)
        w->pid = stepper_pid(s);
    w->minflt[next] = observe_minflt(w->pid);
    w->rss[next] = w->p ? smaps(w, w->p, "Rss") : -1;
    w->anon_huge[next] = w->p ? smaps(w, w->p, "AnonHugePages") : -1;
    if (ended) {
        w->nsteps = (int)jint(ended, "steps");
        check_step(w, ended, next - 1);
    }
}

/* Runs the demo with args, checks each step at the pause after it, and
 * the last step (munmap) from its JSON once the demo has ended. */
static void observed_lesson(const char *const args[], int64_t size_kb, bool thp)
{
    const char *argv[16] = {program, "--step", "--json"};
    int argc = 3;
    for (; args && *args; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    struct stepper s;
    struct watch w = {.size_kb = size_kb, .thp = thp, .zero_pfn = observe_zero_pfn()};
    int last = lesson_step_through(&s, argv, at_pause, &w);
    /* The last step, munmap: the process is gone, the JSON is complete. */
    ck_assert_int_eq(last, w.nsteps);
    const struct json *unmap = stepper_step(&s, w.nsteps);
    ck_assert_ptr_nonnull(unmap);
    ck_assert_str_eq(jstr(unmap, "id"), "unmap");
    assert_lesson_step_in(unmap, VMLAB_DEMO_SOURCE);
    ck_assert(jnull(unmap, "after.Rss_kB"));
    ck_assert(held(unmap, "mapping_gone"));
    assert_commit_move(unmap, "commit_returned", -size_kb);
    /* The size the demo states is the size we saw mapped. */
    ck_assert_int_eq(jint(stepper_step(&s, 1), "facts.size_kB"), size_kb);
    const struct json *map = stepper_step(&s, 2);
    int64_t unit_kb = thp ? huge_kb : page_kb;
    bool rounded = held(map, "size_rounded_up");
    if (rounded)
        ck_assert_int_eq(jint(finding(map, "size_rounded_up"), "values.unit_kB"), unit_kb);
    lesson_assert_ok_end(&s);
}

START_TEST(lesson_observed_default)
{
    observed_lesson(NULL, 16 * 1024, false);
}
END_TEST

START_TEST(lesson_observed_rounds_to_pages)
{
    /* 10000 bytes: three pages of 4 KiB, or one page of a larger size */
    int64_t pages = (10000 + page_kb * 1024 - 1) / (page_kb * 1024);
    observed_lesson((const char *const[]){"--size", "10000", NULL}, pages * page_kb, false);
}
END_TEST

static bool thp_available(void)
{
    return thp_mode[0] != '\0';
}

START_TEST(thp_observed)
{
    if (!thp_available())
        return; /* thp_without_kernel_support covers it */
    observed_lesson((const char *const[]){"--thp", NULL}, 16 * 1024, true);
}
END_TEST

START_TEST(thp_size_rounds_to_whole_huge_pages)
{
    /* --thp --size 5M maps 6 MiB and says it rounded to huge pages (item 12). */
    if (!thp_available())
        return;
    int64_t want = (5 * 1024 + huge_kb - 1) / huge_kb * huge_kb;
    observed_lesson((const char *const[]){"--thp", "--size", "5M", NULL}, want, true);
    struct run_result r;
    const char *argv[] = {program, "--thp", "--size", "5M", "--color=never", NULL};
    ck_assert_int_eq(run_program(argv, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    /* No base-page counts beside huge-page rows: "(+512 pages)" is not what mapped. */
    ck_assert_msg(!strstr(r.out, " (+") && !strstr(r.out, " (-"), "a row counts pages: %.2000s",
                  strstr(r.out, " (+") ? strstr(r.out, " (+") - 200 : strstr(r.out, " (-") - 200);
    run_result_free(&r);
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--thp", "--size", "5M", NULL});
    const struct json *sentences = json_get(demo_step(&d, 2), "sentences");
    bool said = false;
    for (size_t i = 0; sentences && i < sentences->count; i++) {
        const char *id = json_get_string(&sentences->items[i], "finding");
        if (id && strcmp(id, "size_rounded_up") == 0)
            said = strstr(json_get_string(&sentences->items[i], "text"), "whole huge pages") != NULL;
    }
    ck_assert_msg(said, "step 2 does not say it rounded up to whole huge pages");
    demo_run_free(&d);
}
END_TEST

START_TEST(thp_disabled_for_the_process)
{
    /* THP off for this process (as a container runtime may leave it): --thp
     * must not claim huge pages it did not get (item 17). Check runs each
     * test in a process of its own, so the setting ends with it. */
    if (!thp_available())
        return;
    ck_assert_int_eq(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0), 0);
    observed_lesson((const char *const[]){"--thp", "--size", "4M", NULL},
                    (4 * 1024 + huge_kb - 1) / huge_kb * huge_kb, true);
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--thp", "--size", "4M", NULL});
    ck_assert_int_eq(d.r.exit_code, 0);
    ck_assert(held(demo_step(&d, 4), "thp_disabled_for_process"));
    ck_assert_int_eq(jint(demo_step(&d, 6), "after.AnonHugePages_kB"), 0);
    ck_assert(!held(demo_step(&d, 6), "one_fault_per_huge_page"));
    demo_run_free(&d);
}
END_TEST

START_TEST(thp_without_kernel_support)
{
    if (thp_available())
        return;
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--thp", NULL});
    ck_assert_int_eq(d.r.exit_code, 77);
    demo_run_free(&d);
}
END_TEST

/* The lesson without the observer, for the unprivileged run. */
START_TEST(lesson_json)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--size", "64K", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert_int_eq(d.n, 8); /* seven steps and the result */
    for (int i = 1; i <= 7; i++) {
        assert_lesson_step_in(demo_step(&d, i), VMLAB_DEMO_SOURCE);
    }
    ck_assert_int_eq(jint(demo_step(&d, 2), "after.Size_kB"), 64);
    ck_assert_int_eq(jint(demo_step(&d, 4), "delta.Rss_kB"), page_kb);
    ck_assert_int_eq(jint(demo_step(&d, 6), "after.Rss_kB"), 64);
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "ok");
    demo_run_free(&d);
}
END_TEST

/* --predict: the choice called measured is the one whose finding held in
 * that step, and a step whose findings decide nothing says so (null). */
START_TEST(predictions_follow_findings)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--size", "64K", "--answers",
                                                              "a,b,b,a,b,b", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    int asked = 0;
    for (int i = 1; i <= 7; i++) {
        const struct json *st = demo_step(&d, i), *pred = json_get(st, "prediction");
        if (!pred)
            continue;
        asked++;
        const struct json *measured = json_get(pred, "measured");
        ck_assert_ptr_nonnull(measured);
        if (measured->type == JSON_NULL)
            continue;
        ck_assert(held(st, jstr(pred, "finding")));
    }
    ck_assert_int_eq(asked, 6); /* every step but the madvise */
    /* Without another process in the way, these are what a 64K run measures. */
    ck_assert_str_eq(jstr(json_get(demo_step(&d, 4), "prediction"), "measured"), "b");
    ck_assert_str_eq(jstr(json_get(demo_step(&d, 5), "prediction"), "measured"), "a");
    ck_assert_str_eq(jstr(json_get(demo_step(&d, 6), "prediction"), "measured"), "b");
    demo_run_free(&d);
}
END_TEST

/* ---- sizes from the machine (issue 8) ---- */

static bool under_asan(void)
{
    /* AddressSanitizer reserves terabytes of address space: no RLIMIT_AS test. */
    return observe_status(getpid(), "VmSize") > (INT64_C(1) << 30);
}

START_TEST(rlimit_as_refuses_size_naming_it)
{
    if (under_asan())
        return;
    struct rlimit rl = {UINT64_C(200) << 20, UINT64_C(200) << 20};
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
    check_bad_input(program, "mmap-anon", (const char *const[]){"--size", "512M", NULL}, "RLIMIT_AS");
}
END_TEST

START_TEST(rlimit_as_shrinks_the_default)
{
    if (under_asan())
        return;
    rlim_t limit = UINT64_C(24) << 20;
    struct rlimit rl = {limit, limit};
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
    struct demo_run d;
    demo_run_json(&d, program, run_as, NULL);
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    const struct json *reserve = demo_step(&d, 1);
    ck_assert(held(reserve, "default_size_shrunk"));
    ck_assert_str_eq(jstr(reserve, "facts.budget_limit"), "RLIMIT_AS (ulimit -v)");
    int64_t size_kb = jint(reserve, "facts.size_kB");
    ck_assert_int_lt(size_kb, 16 * 1024);
    ck_assert_int_le(size_kb * 2, jint(reserve, "facts.budget_kB"));
    ck_assert_int_eq(jint(demo_step(&d, 6), "after.Rss_kB"), size_kb);
    ck_assert(!held(demo_step(&d, 2), "size_rounded_up")); /* shrunk, not rounded */
    demo_run_free(&d);
}
END_TEST

/* As root: in a 100 MiB memory cgroup, --size 512M is refused naming the
 * cgroup (it used to be SIGKILLed with no word), and the default runs. */
static char cg_dir[512], cg_parent_procs[600];

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

START_TEST(refused_in_cgroup)
{
    check_bad_input(program, "mmap-anon", (const char *const[]){"--size", "512M", NULL},
                    "memory cgroup");
    struct demo_run d;
    demo_run_json(&d, program, run_as, NULL);
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert_str_eq(jstr(demo_step(&d, 1), "facts.budget_limit"), "the memory cgroup's limit");
    ck_assert_int_le(jint(demo_step(&d, 1), "facts.budget_kB"), 100 * 1024);
    demo_run_free(&d);
}
END_TEST

static int cgroup_test(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_mmap_anon cgroup: needs root to make a memory cgroup\n");
        return 77;
    }
    char pid[32], path[700];
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    /* v1: the new cgroup goes under the one we are in. v2: under the root,
     * the one place where processes and a memory-limited child may be
     * siblings. Either way we go back where we were. */
    char v2[256], v1[256];
    FILE *own = fopen("/proc/self/cgroup", "re");
    v2[0] = v1[0] = '\0';
    if (own) {
        cgroup_parse_membership(own, v2, sizeof v2, v1, sizeof v1);
        fclose(own);
    }
    const char *base = NULL, *rel = NULL;
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 && v2[0])
        base = "/sys/fs/cgroup", rel = v2;
    else if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0 && v1[0])
        base = "/sys/fs/cgroup/memory", rel = v1;
    if (base) {
        if (strcmp(rel, "/") == 0)
            rel = "";
        snprintf(cg_dir, sizeof cg_dir, "%s%s/vmlab-test-mmap-%ld", base,
                 strcmp(base, "/sys/fs/cgroup") == 0 ? "" : rel, (long)getpid());
        snprintf(cg_parent_procs, sizeof cg_parent_procs, "%s%s/cgroup.procs", base, rel);
    } else {
        fprintf(stderr, "test_mmap_anon cgroup: no memory cgroup controller mounted\n");
        return 77;
    }
    if (mkdir(cg_dir, 0755) != 0) {
        fprintf(stderr, "test_mmap_anon cgroup: mkdir %s: %s\n", cg_dir, strerror(errno));
        return 77;
    }
    snprintf(path, sizeof path, "%s/%s", cg_dir,
             strstr(cg_dir, "/memory/") ? "memory.limit_in_bytes" : "memory.max");
    bool ok = write_text(path, "104857600\n");
    snprintf(path, sizeof path, "%s/cgroup.procs", cg_dir);
    ok = ok && write_text(path, pid);
    int failed = 77;
    if (ok) {
        Suite *s = suite_create("mmap-anon in a 100 MiB cgroup");
        TCase *tc = tcase_create("cgroup");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, refused_in_cgroup);
        suite_add_tcase(s, tc);
        failed = run_suite(s);
    } else {
        fprintf(stderr, "test_mmap_anon cgroup: cannot limit or join %s (%s): this machine "
                        "does not let root make a 100 MiB memory cgroup here\n", cg_dir, strerror(errno));
    }
    (void)write_text(cg_parent_procs, pid); /* leave, then remove */
    if (rmdir(cg_dir) != 0)
        fprintf(stderr, "test_mmap_anon cgroup: rmdir %s: %s\n", cg_dir, strerror(errno));
    return failed == 77 ? 77 : failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- the lab sheet's captured runs are runs of this program ---- */

START_TEST(answers_show_real_code)
{
    /* Every JSON line in the instructor's key parses, and each step's code
     * is in the source: a sample that no run can print fails here. */
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "mmap-anon", VMLAB_DEMO_SOURCE), 7);
}
END_TEST

/* ---- the command line ---- */

static const struct bad_case bad_cases[] = {
    {{"--size", "0"}, "--size"},
    {{"--size", "-1"}, "--size"},
    {{"--size", "12Q"}, "--size"},
    {{"--size", "99999999T"}, "--size"},
    {{"--size", "4K"}, "--size"},   /* one page: nothing to read in step 5 */
    {{"--size", "2G"}, "--size"},   /* would write 2 GiB */
    {{"--size"}, "--size"},
    {{"--size", "16M", "--size", "8M"}, "--size"},
    {{"--bogus"}, "--bogus"},
    {{"extra"}, "extra"},
    {{"--color=sometimes"}, "--color"},
    {{"--thp", "--size", "2M"}, "--size"},
};

START_TEST(help_and_version)
{
    struct run_result r;
    const char *help[] = {program, "--help", NULL};
    ck_assert_int_eq(run_program(help, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Usage: mmap-anon"));
    ck_assert_ptr_nonnull(strstr(r.out, "--size SIZE"));
    ck_assert_ptr_nonnull(strstr(r.out, "Exit status"));
    run_result_free(&r);
    const char *version[] = {program, "--version", NULL};
    ck_assert_int_eq(run_program(version, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_int_eq(strncmp(r.out, "mmap-anon (vmlab) ", 18), 0);
    run_result_free(&r);
}
END_TEST

START_TEST(step_without_terminal_does_not_wait)
{
    /* stdin is /dev/null: --step must say it will not pause, and finish. */
    struct run_result r;
    const char *argv[] = {program, "--step", "--color=never", "--size", "64K", NULL};
    ck_assert_int_eq(run_program(argv, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "not pausing"));
    ck_assert_ptr_nonnull(strstr(r.out, "[7/7] Unmap it"));
    ck_assert_ptr_null(strchr(r.out, '\033'));
    run_result_free(&r);
}
END_TEST

START_TEST(lost_output_is_a_failure)
{
    /* A report that could not be written is not a successful run. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen("/dev/full", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(126);
        execl(program, "mmap-anon", "--size", "8K", (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x", status);
}
END_TEST

static void read_machine(void)
{
    page_kb = sysconf(_SC_PAGESIZE) / 1024;
    huge_kb = observe_thp_kb();
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    char line[128];
    if (f && fgets(line, sizeof line, f)) {
        char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;
        if (close && (size_t)(close - open) < sizeof thp_mode)
            snprintf(thp_mode, sizeof thp_mode, "%.*s", (int)(close - open - 1), open + 1);
    }
    if (f)
        fclose(f);
    f = fopen("/sys/kernel/mm/transparent_hugepage/use_zero_page", "re");
    if (f && fscanf(f, "%d", &use_zero_page) != 1)
        use_zero_page = 1;
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "nobody") == 0 && geteuid() == 0)
        run_as = RUN_AS_NOBODY;
    program = demo_program("mmap-anon", run_as);
    read_machine();
    if (strcmp(mode, "cgroup") == 0)
        return cgroup_test();

    Suite *s = suite_create(run_as == RUN_AS_NOBODY ? "mmap-anon as nobody" : "mmap-anon");
    TCase *lesson = tcase_create("lesson");
    tcase_set_timeout(lesson, 60);
    tcase_add_test(lesson, lesson_json);
    tcase_add_test(lesson, predictions_follow_findings);
    if (run_as == RUN_AS_SELF) { /* the observer drives the demo on a terminal of its own */
        tcase_add_test(lesson, lesson_observed_default);
        tcase_add_test(lesson, lesson_observed_rounds_to_pages);
        tcase_add_test(lesson, thp_observed);
        tcase_add_test(lesson, thp_size_rounds_to_whole_huge_pages);
        tcase_add_test(lesson, thp_disabled_for_the_process);
        tcase_add_test(lesson, rlimit_as_refuses_size_naming_it);
        tcase_add_test(lesson, rlimit_as_shrinks_the_default);
        tcase_add_test(lesson, answers_show_real_code);
    }
    tcase_add_test(lesson, thp_without_kernel_support);
    suite_add_tcase(s, lesson);
    TCase *cli = tcase_create("command line");
    tcase_set_timeout(cli, 30);
    ADD_BAD_INPUT_TESTS(cli, program, "mmap-anon", bad_cases);
    tcase_add_test(cli, help_and_version);
    tcase_add_test(cli, step_without_terminal_does_not_wait);
    tcase_add_test(cli, lost_output_is_a_failure);
    suite_add_tcase(s, cli);

    return demo_test_exit(s, program, run_as);
}
