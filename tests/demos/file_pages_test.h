/* SPDX-License-Identifier: MIT */
/* file_pages_test: what the tests of page-cache and page-writeback share.
 *
 * The outside observer: the demo runs with --step --json on a pseudo-
 * terminal; at every pause this test opens the demo's file itself (through
 * /proc/PID/fd: the file is deleted at once), maps it, and counts its pages
 * in the page cache with mincore; it reads the dirty kB of the demo's mapping
 * from /proc/PID/smaps, and holds each step's rows and findings against
 * those readings. The test that includes this defines, before it, DEMO (its
 * name), STEPS (how many steps a plain run has) and HELP_OPTION (an option its
 * --help must name), and after it check_step (its steps' own findings, the
 * prototype below).
 *
 *   test_X           everything, as the current user
 *   test_X nobody    as uid 65534 */
#ifndef VMLAB_TEST_FILE_PAGES_H
#define VMLAB_TEST_FILE_PAGES_H

#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson.h"
#include "suite.h"

static enum run_as run_as = RUN_AS_SELF;
static const char *program;

struct watch {
    const char *dir;
    int left;                /* files of ours in dir before the run */
    pid_t pid;
    int fd;                  /* the demo's descriptor of the file */
    long pages;
    bool tmpfs;
    uintptr_t m;             /* the lesson's mapping, from the step that made it */
    long resident[12];       /* our mincore count at the pause before step N */
    int64_t dirty[12];       /* the mapping's dirty kB then (-1: no mapping) */
};

/* The demo's own checks of step n (1-based), which just ended. */
static void check_step(struct watch *w, const struct json *st, int n);

/* The file's pages in the page cache, counted through our own mapping. */
static long own_resident(const struct watch *w)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd/%d", (long)w->pid, w->fd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "open %s", path);
    size_t len = (size_t)w->pages * 4096;
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    ck_assert(p != MAP_FAILED);
    static unsigned char vec[4096];
    ck_assert_int_eq(mincore(p, len, vec), 0);
    long n = 0;
    for (long i = 0; i < w->pages; i++)
        n += vec[i] & 1;
    munmap(p, len);
    close(fd);
    return n;
}

static int64_t own_dirty(const struct watch *w)
{
    if (!w->m)
        return -1;
    int64_t s = observe_smaps(w->pid, w->m, "Shared_Dirty");
    int64_t p = observe_smaps(w->pid, w->m, "Private_Dirty");
    return s < 0 || p < 0 ? -1 : s + p;
}

/* Step 1, the same in both demos: the file is on disk only, or on tmpfs all of it. */
static void check_create(const struct watch *w, const struct json *st, long now)
{
    ck_assert_int_eq(held(st, "file_on_disk_only"), !w->tmpfs && now == 0);
    ck_assert_int_eq(held(st, "tmpfs_cache_is_the_file"), w->tmpfs && now == w->pages);
    ck_assert(held(st, w->tmpfs ? "tmpfs_cache_is_the_file" : "file_on_disk_only"));
}

static int leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, "vmlab-page-", 11) == 0; /* -cache- or -writeback- */
    if (d)
        closedir(d);
    return n;
}

/* At each pause: count the file's pages and the mapping's dirty kB, and
 * hold the step that just ended against them. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    struct watch *w = ctx;
    w->pid = stepper_pid(s);
    if (next == 1)
        return;
    if (next == 2) {
        w->fd = (int)jint(ended, "facts.fd");
        w->pages = (long)jint(ended, "facts.pages");
        ck_assert_str_eq(jstr(ended, "facts.file_system"), w->tmpfs ? "tmpfs" : "disk-backed");
        w->resident[1] = 0;
        ck_assert_int_eq(leftovers(w->dir), w->left); /* deleted at once */
    }
    w->resident[next] = own_resident(w);
    w->dirty[next] = own_dirty(w);
    assert_lesson_step_in(ended, VMLAB_DEMO_SOURCE);
    ck_assert_int_eq(jint(ended, "facts.resident_settled"), w->resident[next]);
    check_step(w, ended, next - 1);
}

static void observed_lesson(const char *dir, bool tmpfs, int steps)
{
    const char *argv[] = {program, "--step", "--json", "--dir", dir, NULL};
    struct watch w = {.dir = dir, .left = leftovers(dir), .tmpfs = tmpfs};
    struct stepper s;
    ck_assert_int_eq(lesson_step_through(&s, argv, at_pause, &w), steps);
    lesson_assert_ok_end(&s);
    ck_assert_int_eq(leftovers(dir), w.left);
}

static bool is_tmpfs(const char *dir)
{
    struct statfs s;
    return statfs(dir, &s) == 0 && s.f_type == 0x01021994;
}

START_TEST(lesson_on_disk)
{
    const char *dir = !is_tmpfs("/var/tmp") ? "/var/tmp" : !is_tmpfs("/tmp") ? "/tmp" : NULL;
    if (!dir)
        return; /* no disk-backed directory here: lesson_on_tmpfs covers the rest */
    observed_lesson(dir, false, STEPS);
}
END_TEST

START_TEST(lesson_on_tmpfs)
{
    if (!is_tmpfs("/dev/shm") || access("/dev/shm", W_OK) != 0)
        return;
    observed_lesson("/dev/shm", true, STEPS);
}
END_TEST

START_TEST(lesson_runs)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, NULL);
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    for (int i = 1; i <= STEPS; i++)
        assert_sentences_rest_on_findings(demo_step(&d, i));
    demo_run_free(&d);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, DEMO, VMLAB_DEMO_SOURCE), STEPS);
}
END_TEST

START_TEST(help_and_version)
{
    struct run_result r;
    const char *help[] = {program, "--help", NULL};
    ck_assert_int_eq(run_program(help, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Usage: " DEMO));
    ck_assert_ptr_nonnull(strstr(r.out, HELP_OPTION));
    run_result_free(&r);
}
END_TEST

/* Both demos take --dir, and refuse the same bad ones: the start of each one's bad_cases. */
#define FILE_PAGES_BAD_CASES                                                                       \
    {{"--dir", ""}, "--dir"}, {{"--dir", "/tmp", "--dir", "/tmp"}, "--dir"}, {{"--dir"}, "--dir"}, \
    {{"--bogus"}, "--bogus"}, {{"extra"}, "extra"}

/* main() of both tests: the lesson (and `extra`, NULL-ended) as the current user or as
 * nobody, the runs observed from outside and the key as the current user alone, and the
 * `nbad` bad inputs `bad`. */
static int file_pages_suite(int argc, char **argv, const char *test, const TTest *const extra[],
                            const struct bad_case *bad, int nbad)
{
    run_as = demo_test_run_as(argc, argv, test);
    program = demo_program(DEMO, run_as);
    Suite *s = suite_create(run_as == RUN_AS_NOBODY ? DEMO " as nobody" : DEMO);
    TCase *lesson = tcase_create("lesson");
    tcase_set_timeout(lesson, 60);
    tcase_add_test(lesson, lesson_runs);
    for (int i = 0; extra[i]; i++)
        tcase_add_test(lesson, extra[i]);
    if (run_as == RUN_AS_SELF) {
        tcase_add_test(lesson, lesson_on_disk);
        tcase_add_test(lesson, lesson_on_tmpfs);
        tcase_add_test(lesson, answers_show_real_code);
    }
    suite_add_tcase(s, lesson);
    TCase *cli = tcase_create("command line");
    add_bad_input_tests(cli, program, DEMO, bad, nbad);
    tcase_add_test(cli, help_and_version);
    suite_add_tcase(s, cli);
    return demo_test_exit(s, program, run_as);
}

#endif
