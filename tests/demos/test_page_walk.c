/* SPDX-License-Identifier: MIT */
/* Demo tests for page-walk.
 *
 * The outside observer: the demo runs with --step --json on a pseudo-
 * terminal; at every pause this test reads the process's VmPTE and VmRSS
 * (/proc/PID/status), its smaps and, as root, its pagemap, and holds the
 * step that just ended against them. The page tables a row must build are
 * counted here from the addresses (one PT table per 2 MiB touched, one PD
 * table per 1 GiB), never taken from the demo.
 *
 *   test_page_walk            everything, as the current user
 *   test_page_walk nobody     as uid 65534: the frame number reads as 0
 *   test_page_walk nocap      as root without CAP_SYS_ADMIN (as in a container): the
 *                             frame number reads as 0, and the demo does not say
 *                             "run as root" to root */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson.h"
#include "suite.h"

#define GIB (UINT64_C(1) << 30)
#define MIB (UINT64_C(1) << 20)

static enum run_as run_as = RUN_AS_SELF;
static const char *program;

static bool cpu_la57(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[4096];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strncmp(line, "flags", 5) == 0 && strstr(line, " la57");
    if (f)
        fclose(f);
    return found;
}

struct watch {
    pid_t pid;
    uintptr_t a;             /* the 1 GiB-aligned start, from step 1 */
    int64_t pte[10];         /* VmPTE at the pause before step N */
    int64_t status_rss[10];  /* VmRSS then */
    int64_t rss[10];         /* Rss of the range at a then (one VMA until step 6) */
    int64_t fallback[10];    /* /proc/vmstat's thp_fault_fallback then (system-wide) */
};

/* VmPTE grew by a whole number of 4 KiB tables between the pauses, as many
 * as the addresses touched need at least (more: higher tables, when new). */
static void assert_tables(const struct watch *w, const struct json *st, int n, int64_t tables,
                          int64_t upper, const char *id)
{
    int64_t grew = w->pte[n + 1] - w->pte[n];
    ck_assert_int_eq(jint(st, "after.VmPTE_kB"), w->pte[n + 1]);
    ck_assert_int_eq(jint(st, "before.VmPTE_kB"), w->pte[n]);
    if (json_path(st, "facts.expected_tables"))
        ck_assert_int_eq(jint(st, "facts.expected_tables"), tables);
    ck_assert_msg(grew >= tables * 4 && grew <= upper * 4, "step %d: VmPTE +%lld kB, want %lld to %lld tables",
                  n, (long long)grew, (long long)tables, (long long)upper);
    ck_assert(held(st, id));
}

static void check_step(struct watch *w, const struct json *st, int n)
{
    const char *id = jstr(st, "id");
    assert_lesson_step_in(st, VMLAB_DEMO_SOURCE);
    int64_t touches = json_path(st, "facts.touches") ? jint(st, "facts.touches") : 0;
    /* VmRSS is the whole process's: printing the step may add a page or two. */
    ck_assert_int_le(labs(jint(st, "after.VmRSS_kB") - w->status_rss[n + 1]), 64);
    if (strcmp(id, "reserve") == 0) {
        w->a = hex_fact(st, "facts.address", false);
        w->rss[n + 1] = observe_smaps(w->pid, w->a, "Rss");
        ck_assert_int_eq(w->a % GIB, 0);
        int64_t gib = jint(st, "facts.len_GiB");
        ck_assert_int_eq(observe_smaps(w->pid, w->a, "Size"), gib * 1024 * 1024);
        ck_assert_int_eq(observe_smaps(w->pid, w->a, "Rss"), 0);
        /* No table for the reservation: VmPTE just before the lesson is what the demo
         * says; its own reading after is the same; and by the next pause at most one
         * table more - the first step is the first to run the code that explains and
         * prints a step, which under ASan can touch a new 2 MiB of code or shadow. A
         * reservation that built tables would need one per 2 MiB it covers. */
        ck_assert_int_eq(jint(st, "before.VmPTE_kB"), w->pte[1]);
        ck_assert_int_eq(jint(st, "after.VmPTE_kB"), jint(st, "before.VmPTE_kB"));
        ck_assert_int_ge(w->pte[2], jint(st, "after.VmPTE_kB"));
        ck_assert_int_le(w->pte[2] - w->pte[1], 4);
        ck_assert(held(st, "reservation_without_tables"));
    } else if (strcmp(id, "walk") == 0) {
        uintptr_t va = hex_fact(st, "facts.address", false);
        ck_assert_int_eq(va, w->a + 0x12345678);
        bool five = cpu_la57() && jint(st, "facts.paging_levels") == 5;
        ck_assert_int_eq(jint(st, "facts.paging_levels"), five ? 5 : 4);
        if (!cpu_la57())
            ck_assert(held(st, "four_level_paging"));
        ck_assert_int_eq(jint(st, "facts.pml4_index"), (va >> 39) & 511);
        ck_assert_int_eq(jint(st, "facts.pdpt_index"), (va >> 30) & 511);
        ck_assert_int_eq(jint(st, "facts.pd_index"), (va >> 21) & 511);
        ck_assert_int_eq(jint(st, "facts.pt_index"), (va >> 12) & 511);
        ck_assert_int_eq(jint(st, "facts.page_offset"), va & 4095);
        bool present;
        uint64_t pfn;
        ck_assert(observe_pagemap(w->pid, va, &present, &pfn));
        ck_assert(present);
        ck_assert_int_eq(jint(st, "facts.present"), 1);
        ck_assert_int_eq((uint64_t)jint(st, "facts.pfn"), pfn);
        ck_assert_int_eq(held(st, "pfn_read"), pfn != 0);
        ck_assert_int_eq(held(st, "pfn_hidden"), pfn == 0);
        if (geteuid() == 0 && run_as == RUN_AS_SELF)
            ck_assert(pfn != 0);
        assert_tables(w, st, n, 2, 4, "one_byte_builds_tables");
        ck_assert_int_eq(w->rss[n + 1] - w->rss[n], 4);
        ck_assert_int_eq(finding_value(st, "one_byte_builds_tables", "range_rss_delta_kB"), 4);
    } else if (strcmp(id, "every_4k") == 0) {
        int64_t last = (touches - 1) * 4096;
        assert_tables(w, st, n, last / (int64_t)(2 * MIB) + 1, last / (int64_t)(2 * MIB) + 1,
                      "every_4k_tables");
        ck_assert_int_eq(w->rss[n + 1] - w->rss[n], touches * 4);
        ck_assert_int_eq(jint(st, "facts.range_rss_delta_kB"), touches * 4);
    } else if (strcmp(id, "every_2m") == 0) {
        assert_tables(w, st, n, touches + 1, touches + 1, "every_2m_tables");
        ck_assert_int_eq(w->rss[n + 1] - w->rss[n], touches * 4);
        ck_assert_int_eq(jint(st, "facts.range_rss_delta_kB"), touches * 4);
    } else if (strcmp(id, "every_1g") == 0) {
        uintptr_t first = w->a + 2 * GIB, last = first + (uintptr_t)(touches - 1) * GIB;
        assert_tables(w, st, n, 2 * touches, 2 * touches + (int64_t)((last >> 39) - (first >> 39) + 1),
                      "every_1g_tables");
        ck_assert_int_eq(w->rss[n + 1] - w->rss[n], touches * 4); /* a page per GiB, no more */
        ck_assert_int_eq(jint(st, "facts.range_rss_delta_kB"), touches * 4);
    } else if (strcmp(id, "huge") == 0) {
        uintptr_t h = w->a + 2 * GIB - (uintptr_t)touches * 2 * MIB;
        int64_t huge = observe_smaps(w->pid, h, "AnonHugePages");
        ck_assert_int_eq(jint(st, "after.AnonHugePages_kB"), huge);
        ck_assert_int_eq(held(st, "huge_pages_mapped"), huge == touches * 2048);
        ck_assert_int_eq(held(st, "thp_not_used"), huge == 0);
        /* Some, not all (a fragmented machine): said, with the fallbacks the demo counted,
         * which the system-wide count between our pauses includes. */
        ck_assert_int_eq(held(st, "some_huge_pages"), huge > 0 && huge < touches * 2048);
        if (huge > 0 && huge < touches * 2048) {
            int64_t fallback = finding_value(st, "some_huge_pages", "thp_fault_fallback_delta");
            ck_assert(fallback >= 0 && fallback <= w->fallback[n + 1] - w->fallback[n]);
            ck_assert_int_eq(finding_value(st, "some_huge_pages", "huge_pages"), huge / 2048);
        }
        if (huge == touches * 2048) /* one PT table set aside per huge page, or none */
            ck_assert(held(st, "pt_table_deposited") || held(st, "no_pt_tables"));
    } else {
        ck_abort_msg("step %d has an unknown id %s", n, id);
    }
}

/* At each pause: read VmPTE, VmRSS and the range's Rss, and hold the step
 * that just ended against them. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    struct watch *w = ctx;
    w->pid = stepper_pid(s);
    w->pte[next] = observe_status(w->pid, "VmPTE");
    w->status_rss[next] = observe_status(w->pid, "VmRSS");
    w->rss[next] = w->a ? observe_smaps(w->pid, w->a, "Rss") : 0;
    w->fallback[next] = observe_vmstat("thp_fault_fallback");
    if (ended)
        check_step(w, ended, next - 1);
}

START_TEST(lesson_observed)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    struct watch w = {0};
    int last = lesson_step_through(&s, argv, at_pause, &w);
    if (last == 0) { /* a 77 said before any step: only for a limit it names */
        const struct json *result = stepper_result(&s);
        ck_assert_ptr_nonnull(result);
        ck_assert_str_eq(jstr(result, "result"), "skip");
        const char *why = jstr(result, "reason");
        ck_assert_msg(strstr(why, "CommitLimit") || strstr(why, "RLIMIT_AS") ||
                          (sysconf(_SC_PAGESIZE) != 4096 && strstr(why, "page size")),
                      "%s", why);
        stepper_finish(&s);
        return;
    }
    ck_assert_int_eq(last, 7);
    const struct json *unmap = stepper_step(&s, 7);
    ck_assert_ptr_nonnull(unmap);
    ck_assert_str_eq(jstr(unmap, "id"), "unmap");
    assert_sentences_rest_on_findings(unmap);
    ck_assert(held(unmap, "tables_freed"));
    ck_assert_int_le(jint(unmap, "after.VmPTE_kB"), w.pte[1] + 8);
    lesson_assert_ok_end(&s);
}
END_TEST

START_TEST(rlimit_as_shrinks_the_range)
{
    /* AddressSanitizer reserves terabytes: no RLIMIT_AS test under it. */
    if (observe_status(getpid(), "VmSize") > (INT64_C(1) << 30))
        return;
    struct rlimit rl = {20 * GIB, 20 * GIB};
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
    struct demo_run d;
    demo_run_json(&d, program, run_as, NULL);
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    const struct json *reserve = demo_step(&d, 1);
    ck_assert(held(reserve, "size_shrunk"));
    ck_assert_int_le((jint(reserve, "facts.len_GiB") + 1) * 2, 20);
    ck_assert_int_eq(jint(demo_step(&d, 5), "facts.touches"), jint(reserve, "facts.len_GiB") - 2);
    demo_run_free(&d);
    /* Too little for four GiB: a 77 that names the limit, before any step. */
    rl.rlim_cur = rl.rlim_max = 6 * GIB;
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
    demo_run_json(&d, program, run_as, NULL);
    ck_assert_int_eq(d.r.exit_code, 77);
    ck_assert_ptr_nonnull(strstr(jstr(demo_result(&d), "reason"), "RLIMIT_AS"));
    ck_assert_int_eq(d.n, 1);
    demo_run_free(&d);
}
END_TEST

START_TEST(unprivileged_pfn_is_zero)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, NULL);
    if (d.r.exit_code == 77) { /* overcommit mode 2 and little headroom: named */
        ck_assert_ptr_nonnull(strstr(jstr(demo_result(&d), "reason"), "CommitLimit"));
        demo_run_free(&d);
        return;
    }
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    const struct json *walk = demo_step(&d, 2);
    ck_assert_int_eq(jint(walk, "facts.present"), 1);
    ck_assert_int_eq(jint(walk, "facts.pfn"), 0);
    ck_assert(held(walk, "pfn_hidden"));
    for (int i = 1; i <= 7; i++)
        assert_sentences_rest_on_findings(demo_step(&d, i));
    demo_run_free(&d);
}
END_TEST

/* Root without CAP_SYS_ADMIN (main dropped it from the bounding set, so the
 * demo runs without it; this test keeps it): at the pause after step 2 the
 * demo's CapEff lacks it, the byte's frame number, read here, is not 0, yet
 * the demo was shown 0 - and its sentence must not tell root to run as root. */
static void at_pause_nocap(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    (void)ctx;
    if (next != 3)
        return;
    pid_t pid = stepper_pid(s);
    char path[64], line[256];
    unsigned long long eff = ~0ULL;
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "re");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "CapEff:", 7) == 0)
            ck_assert_int_eq(sscanf(line + 7, "%llx", &eff), 1);
    if (f)
        fclose(f);
    ck_assert_msg(!(eff >> CAP_SYS_ADMIN & 1), "the demo has CAP_SYS_ADMIN: CapEff %llx", eff);
    bool present;
    uint64_t pfn;
    ck_assert(observe_pagemap(pid, hex_fact(ended, "facts.address", false), &present, &pfn));
    ck_assert(present && pfn != 0);
    ck_assert_int_eq(jint(ended, "facts.pfn"), 0);
    ck_assert(held(ended, "pfn_hidden") && !held(ended, "pfn_read"));
    ck_assert_int_eq(finding_value(ended, "pfn_hidden", "euid"), 0);
    const struct json *sentences = json_get(ended, "sentences");
    for (size_t i = 0; i < sentences->count; i++) {
        const char *text = json_get_string(&sentences->items[i], "text");
        ck_assert_msg(!strstr(text, "Run as root"), "said to root: %s", text);
    }
}

START_TEST(root_without_cap_sys_admin)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    int last = lesson_step_through(&s, argv, at_pause_nocap, NULL);
    ck_assert_msg(last == 7, "%d steps", last);
    lesson_assert_ok_end(&s);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "page-walk", VMLAB_DEMO_SOURCE), 7);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--gib", "0"}, "--gib"},   {{"--gib", "3"}, "--gib"},     {{"--gib", "1025"}, "--gib"},
    {{"--gib", "4G"}, "--gib"},  {{"--gib"}, "--gib"},          {{"--bogus"}, "--bogus"},
    {{"extra"}, "extra"},
};

START_TEST(help_and_version)
{
    struct run_result r;
    const char *help[] = {program, "--help", NULL};
    ck_assert_int_eq(run_program(help, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Usage: page-walk"));
    ck_assert_ptr_nonnull(strstr(r.out, "--gib N"));
    run_result_free(&r);
}
END_TEST

/* nocap: root, with CAP_SYS_ADMIN gone from the bounding set of what we start. */
static int nocap_main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_page_walk nocap: needs root (root without CAP_SYS_ADMIN)\n");
        return 77;
    }
    if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0) {
        fprintf(stderr, "test_page_walk nocap: cannot drop CAP_SYS_ADMIN from the bounding set "
                        "(prctl: %s; CAP_SETPCAP is needed)\n", strerror(errno));
        return 77;
    }
    program = demo_program("page-walk", RUN_AS_SELF);
    Suite *s = suite_create("page-walk as root without CAP_SYS_ADMIN");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, root_without_cap_sys_admin);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "nocap") == 0)
        return nocap_main();
    run_as = demo_test_run_as(argc, argv, "test_page_walk");
    program = demo_program("page-walk", run_as);
    Suite *s = suite_create(run_as == RUN_AS_NOBODY ? "page-walk as nobody" : "page-walk");
    TCase *lesson = tcase_create("lesson");
    tcase_set_timeout(lesson, 60);
    if (run_as == RUN_AS_NOBODY) {
        tcase_add_test(lesson, unprivileged_pfn_is_zero);
    } else {
        tcase_add_test(lesson, lesson_observed);
        tcase_add_test(lesson, rlimit_as_shrinks_the_range);
        tcase_add_test(lesson, answers_show_real_code);
    }
    suite_add_tcase(s, lesson);
    TCase *cli = tcase_create("command line");
    ADD_BAD_INPUT_TESTS(cli, program, "page-walk", bad_cases);
    tcase_add_test(cli, help_and_version);
    suite_add_tcase(s, cli);
    return demo_test_exit(s, program, run_as);
}
