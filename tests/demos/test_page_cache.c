/* SPDX-License-Identifier: MIT */
/* Demo tests for page-cache.
 *
 * The outside observer: the demo runs with --step --json on a pseudo-
 * terminal; at every pause this test opens the demo's file itself (through
 * /proc/PID/fd: the file is deleted at once), maps it, and counts its pages
 * in the page cache with mincore; it reads the dirty kB of the demo's mapping
 * from /proc/PID/smaps, and holds each step's rows and findings against
 * those readings.
 *
 *   test_page_cache           everything, as the current user
 *   test_page_cache nobody    as uid 65534 (--drop-caches is a 77 there) */
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
    uintptr_t m;             /* the lesson's mapping, from step 3 */
    long resident[12];       /* our mincore count at the pause before step N */
    int64_t dirty[12];       /* the mapping's dirty kB then (-1: no mapping) */
};

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
    int64_t s = observe_smaps(w->pid, w->m, "Shared_Dirty"), p = observe_smaps(w->pid, w->m, "Private_Dirty");
    return s < 0 || p < 0 ? -1 : s + p;
}

static void check_step(struct watch *w, const struct json *st, int n)
{
    const char *id = jstr(st, "id");
    assert_lesson_step_in(st, VMLAB_DEMO_SOURCE);
    long now = w->resident[n + 1], before = w->resident[n], more = now - before;
    ck_assert_int_eq(jint(st, "facts.resident_settled"), now);
    if (strcmp(id, "create") == 0) {
        ck_assert_int_eq(held(st, "file_on_disk_only"), !w->tmpfs && now == 0);
        ck_assert_int_eq(held(st, "tmpfs_cache_is_the_file"), w->tmpfs && now == w->pages);
        ck_assert(held(st, w->tmpfs ? "tmpfs_cache_is_the_file" : "file_on_disk_only"));
    } else if (strcmp(id, "read_one") == 0) {
        ck_assert_int_eq(held(st, "readahead"), more > 1);
        ck_assert_int_eq(held(st, "one_page_read"), more == 1);
        ck_assert_int_eq(held(st, "nothing_new"), more == 0);
        if (w->tmpfs)
            ck_assert_int_eq(more, 0);
    } else if (strcmp(id, "fault_random") == 0) {
        w->m = hex_fact(st, "facts.mapping", false);
        ck_assert_int_eq(observe_smaps(w->pid, w->m, "Size"), w->pages * 4);
        ck_assert_int_eq(held(st, "random_no_readahead"), more == 1);
        w->dirty[n + 1] = own_dirty(w);
    } else if (strcmp(id, "fault_sequential") == 0) {
        ck_assert_int_eq(held(st, "sequential_reads_ahead"), more > 1);
    } else if (strcmp(id, "willneed") == 0) {
        ck_assert_int_eq(held(st, "willneed_reads_range"), more == 64);
        ck_assert_int_le(more, 64); /* nothing but the range it named */
        const struct json *fin = json_path(st, "facts.fincore_pages");
        if (fin)
            ck_assert_int_eq(fin->integer, now);
    } else if (strcmp(id, "write_mapped") == 0) {
        ck_assert_int_eq(jint(st, "after.file_dirty_kB"), w->dirty[n + 1]);
        ck_assert_int_eq(held(st, "file_pages_dirty"), w->dirty[n + 1] - w->dirty[n] == 256);
        ck_assert(held(st, "file_pages_dirty"));
    } else if (strcmp(id, "start_writeback") == 0) {
        ck_assert_int_eq(jint(st, "after.file_dirty_kB"), w->dirty[n + 1]);
        ck_assert_int_eq(held(st, "handed_to_disk"), !w->tmpfs && w->dirty[n + 1] == 0);
        ck_assert_int_eq(held(st, "tmpfs_no_writeback"), w->tmpfs && w->dirty[n + 1] == w->dirty[n]);
    } else if (strcmp(id, "fsync") == 0) {
        ck_assert_int_eq(jint(st, "after.file_dirty_kB"), w->dirty[n + 1]);
        ck_assert_int_eq(held(st, "file_clean"), !w->tmpfs && w->dirty[n + 1] == 0);
        if (!w->tmpfs)
            ck_assert_int_eq(w->dirty[n + 1], 0);
    } else if (strcmp(id, "dontneed") == 0) {
        ck_assert_int_eq(held(st, "every_page_dropped"), !w->tmpfs && before > 0 && now == 0);
        ck_assert_int_eq(held(st, "tmpfs_keeps_pages"), w->tmpfs && now == before);
        ck_assert_int_eq(now, w->tmpfs ? w->pages : 0);
    } else {
        ck_abort_msg("step %d has an unknown id %s", n, id);
    }
}

static int leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, "vmlab-page-cache-", 17) == 0;
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
    check_step(w, ended, next - 1);
}

static void observed_lesson(const char *dir, bool tmpfs)
{
    const char *argv[] = {program, "--step", "--json", "--dir", dir, NULL};
    struct watch w = {.dir = dir, .left = leftovers(dir), .tmpfs = tmpfs};
    struct stepper s;
    ck_assert_int_eq(lesson_step_through(&s, argv, at_pause, &w), 9);
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
    observed_lesson(dir, false);
}
END_TEST

START_TEST(lesson_on_tmpfs)
{
    if (!is_tmpfs("/dev/shm") || access("/dev/shm", W_OK) != 0)
        return;
    observed_lesson("/dev/shm", true);
}
END_TEST

START_TEST(drop_caches_as_root)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--drop-caches", NULL});
    if (geteuid() != 0 || run_as == RUN_AS_NOBODY) {
        ck_assert_int_eq(d.r.exit_code, 77);
        ck_assert_int_eq(d.n, 1); /* said before any step */
        ck_assert_ptr_nonnull(strstr(jstr(demo_result(&d), "reason"), "drop_caches"));
    } else {
        ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
        ck_assert(held(demo_step(&d, 10), "whole_file_cached"));
        const struct json *last = demo_step(&d, 11);
        ck_assert_str_eq(jstr(last, "id"), "drop_caches");
        assert_sentences_rest_on_findings(last);
        ck_assert_int_eq(jint(last, "facts.resident_settled"), 0);
        ck_assert(held(last, "drop_caches_emptied_file"));
    }
    demo_run_free(&d);
}
END_TEST

START_TEST(lesson_runs)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, NULL);
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    for (int i = 1; i <= 9; i++)
        assert_sentences_rest_on_findings(demo_step(&d, i));
    demo_run_free(&d);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "page-cache", VMLAB_DEMO_SOURCE), 9);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--dir", ""}, "--dir"},
    {{"--dir", "/tmp", "--dir", "/tmp"}, "--dir"},
    {{"--dir"}, "--dir"},
    {{"--drop-caches=1"}, "--drop-caches"},
    {{"--bogus"}, "--bogus"},
    {{"extra"}, "extra"},
};

START_TEST(help_and_version)
{
    struct run_result r;
    const char *help[] = {program, "--help", NULL};
    ck_assert_int_eq(run_program(help, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Usage: page-cache"));
    ck_assert_ptr_nonnull(strstr(r.out, "--drop-caches"));
    run_result_free(&r);
}
END_TEST

int main(int argc, char **argv)
{
    run_as = demo_test_run_as(argc, argv, "test_page_cache");
    program = demo_program("page-cache", run_as);
    Suite *s = suite_create(run_as == RUN_AS_NOBODY ? "page-cache as nobody" : "page-cache");
    TCase *lesson = tcase_create("lesson");
    tcase_set_timeout(lesson, 60);
    tcase_add_test(lesson, lesson_runs);
    tcase_add_test(lesson, drop_caches_as_root);
    if (run_as == RUN_AS_SELF) {
        tcase_add_test(lesson, lesson_on_disk);
        tcase_add_test(lesson, lesson_on_tmpfs);
        tcase_add_test(lesson, answers_show_real_code);
    }
    suite_add_tcase(s, lesson);
    TCase *cli = tcase_create("command line");
    ADD_BAD_INPUT_TESTS(cli, program, "page-cache", bad_cases);
    tcase_add_test(cli, help_and_version);
    suite_add_tcase(s, cli);
    return demo_test_exit(s, program, run_as);
}
