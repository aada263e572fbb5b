/* SPDX-License-Identifier: MIT */
/* Demo tests for mincore-residency, read from outside the demo.
 *
 * The anonymous lesson runs with --step on a pseudo-terminal; at every pause
 * the test reads the demo's pagemap (present bits, and as root the PFN of the
 * shared zero page), smaps (Rss, Size, VmFlags) and stat (minflt) itself and
 * holds the picture, the rows and the findings of the step just finished
 * against that. The --file lessons prepare the page cache and check it with
 * the test's own mincore before the demo runs. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson.h"
#include "observe.h"
#include "suite.h"

static const char *program;
static long page_kb;

/* The test's own picture: a page is resident for mincore exactly when its
 * page-table entry is present (for anonymous memory). */
static size_t pagemap_picture(pid_t pid, uintptr_t addr, size_t pages, char *out)
{
    size_t resident = 0;
    for (size_t i = 0; i < pages; i++) {
        bool present = false;
        uint64_t pfn = 0;
        ck_assert(observe_pagemap(pid, addr + i * (uintptr_t)page_kb * 1024, &present, &pfn));
        out[i] = present ? '#' : '.';
        resident += present;
    }
    out[pages] = '\0';
    return resident;
}

static uint64_t pfn_of(pid_t pid, uintptr_t addr)
{
    bool present = false;
    uint64_t pfn = 0;
    ck_assert(observe_pagemap(pid, addr, &present, &pfn));
    return present ? pfn : 0;
}

/* What the lesson does to pages 0..7: which are resident after each step,
 * and how many of them hold a frame of their own (Rss). */
static const struct {
    const char *id, *resident;
    int rss_pages, faults;
    const char *finding;
} lesson[] = {
    {"map", "", 0, 0, "nothing_resident_after_mmap"},
    {"write_page_0", "#", 1, 1, "each_write_one_page"},
    {"write_pages_3_7", "#..#...#", 3, 2, "each_write_one_page"},
    {"read_page_5", "#..#.#.#", 3, 1, "read_maps_zero_page"},
    {"write_page_5", "#..#.#.#", 4, 1, "write_replaces_zero_page"},
    {"dontneed", "", 0, 0, "dontneed_frees_everything"},
    {"read_after_dontneed", "#", 0, 1, "contents_gone"},
};

static void expected_picture(int k, size_t pages, char *out)
{
    memset(out, '.', pages);
    out[pages] = '\0';
    memcpy(out, lesson[k].resident, strlen(lesson[k].resident));
}

/* Step k (0-based) has run; the demo is paused before step k + 2. */
static void check_from_outside(const struct stepper *s, int k, size_t pages, uint64_t zero_pfn,
                               int64_t minflt_delta)
{
    const struct json *j = stepper_step(s, k + 1);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_get_string(j, "id"), lesson[k].id);
    assert_sentences_rest_on_findings(j);
    pid_t pid = stepper_pid(s);
    uintptr_t p = stepper_maps_start(j);
    ck_assert_uint_ne(p, 0);
    static char seen[4097], want[4097];
    size_t resident = pagemap_picture(pid, p, pages, seen);
    expected_picture(k, pages, want);
    ck_assert_str_eq(seen, want);                              /* the kernel did the lesson */
    ck_assert_str_eq(json_get_string(j, "facts.mincore"), seen); /* one character per page */
    ck_assert_int_eq(jint(j, "facts.resident_pages"), (int64_t)resident);
    ck_assert_int_eq(observe_smaps(pid, p, "Rss"), lesson[k].rss_pages * page_kb);
    ck_assert_int_eq(jint(j, "after.Rss_kB"), observe_smaps(pid, p, "Rss"));
    /* Its own mapping (the guard pages work), with the madvise shown. */
    ck_assert_int_eq(observe_smaps(pid, p, "Size"), (int64_t)pages * page_kb);
    char flags[256];
    ck_assert(observe_vmflags(pid, p, flags, sizeof flags));
    ck_assert_ptr_nonnull(strstr(flags, "nh"));
    ck_assert_int_eq(observe_smaps(pid, p, "AnonHugePages"), 0);
    ck_assert(!held(j, "huge_page_despite_nohugepage"));
    /* The demo's fault window is inside the test's. */
    if (k > 0) {
        ck_assert_int_eq(jint(j, "delta.minor_faults"), lesson[k].faults);
        ck_assert_int_le(jint(j, "delta.minor_faults"), minflt_delta);
    }
    ck_assert_msg(held(j, lesson[k].finding), "step %d: %s", k + 1, lesson[k].finding);
    if (k == 3 && zero_pfn) /* page 5 maps the shared zero page */
        ck_assert_uint_eq(pfn_of(pid, p + 5 * (uintptr_t)page_kb * 1024), zero_pfn);
    if (k == 4 && zero_pfn) /* ...and after the write a frame of its own */
        ck_assert_uint_ne(pfn_of(pid, p + 5 * (uintptr_t)page_kb * 1024), zero_pfn);
}

static void run_anonymous(size_t pages)
{
    char arg[16];
    snprintf(arg, sizeof arg, "%zu", pages);
    const char *argv[] = {program, "--step", "--json", "--pages", arg, NULL};
    struct stepper s;
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    uint64_t zero = observe_zero_pfn();
    int64_t minflt[16] = {0};
    int n, pauses = 0;
    while ((n = stepper_wait(&s)) != 0) {
        ck_assert_int_eq(n, ++pauses); /* one LESSON a step */
        minflt[n] = observe_minflt(stepper_pid(&s));
        if (n >= 2)
            check_from_outside(&s, n - 2, pages, zero, minflt[n] - minflt[n - 1]);
        ck_assert(stepper_go(&s));
    }
    ck_assert_int_eq(pauses, 7);
    /* The last step ends the run, so only its own numbers are left. */
    const struct json *last = stepper_step(&s, 7);
    ck_assert_ptr_nonnull(last);
    static char want[4097];
    expected_picture(6, pages, want);
    ck_assert_str_eq(json_get_string(last, "facts.mincore"), want);
    ck_assert_int_eq(jint(last, "facts.value_read"), 0);
    ck_assert_int_eq(jint(last, "after.Rss_kB"), 0);
    ck_assert(held(last, "contents_gone"));
    /* Issue 9 item 16: the read is its own step, after the DONTNEED step's
     * picture and rows, and each step's code is the code that ran. */
    ck_assert_ptr_null(strstr(json_get_string(stepper_step(&s, 6), "code"), "p[0]"));
    ck_assert_ptr_nonnull(strstr(json_get_string(last, "code"), "p[0]"));
    const char *map_code = json_get_string(stepper_step(&s, 1), "code");
    ck_assert_ptr_nonnull(strstr(map_code, "guard = mmap(NULL, len + 2 * page, PROT_NONE"));
    ck_assert_ptr_nonnull(strstr(map_code, "MAP_FIXED"));
    ck_assert_ptr_nonnull(strstr(map_code, "madvise(p, len, MADV_NOHUGEPAGE)"));
    ck_assert_str_eq(json_get_string(stepper_result(&s), "result"), "ok");
    int status = stepper_finish(&s);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(anonymous_from_outside)
{
    run_anonymous(16);
}
END_TEST

/* Issue 9 item 3: pictures stopped at 511 pages while "4096 of 4096" was
 * printed. Every picture has one character per page. */
START_TEST(picture_of_4096_pages_is_whole)
{
    run_anonymous(4096);
}
END_TEST

START_TEST(scaled_picture_has_a_legend)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF,
                  (const char *const[]){"--pages", "100", "--scale", "8", NULL});
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    const struct json *three = demo_step(&d, 3); /* pages 0, 3 and 7: one character, some */
    ck_assert_str_eq(jstr(three, "facts.mincore"), "+............");
    ck_assert_int_eq(jint(three, "facts.resident_pages"), 3);
    ck_assert_ptr_nonnull(strstr(jstr(three, "facts.legend"), "8 pages"));
    demo_run_free(&d);
}
END_TEST

/* ---- --file ---- */

static char file_path[PATH_MAX];

/* A file of `pages` pages in dir; written back and dropped from the page
 * cache when `cold`, else left as written (cached, maybe dirty). */
static void make_file(const char *dir, size_t pages, bool cold)
{
    snprintf(file_path, sizeof file_path, "%s/mincore-test-XXXXXX", dir);
    int fd = mkstemp(file_path);
    ck_assert_int_ge(fd, 0);
    char block[4096];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)(i * 7);
    for (size_t i = 0; i < pages * (size_t)page_kb / 4; i++)
        ck_assert_int_eq(write(fd, block, sizeof block), (ssize_t)sizeof block);
    if (cold) {
        ck_assert_int_eq(fsync(fd), 0);
        ck_assert_int_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    }
    ck_assert_int_eq(fchmod(fd, 0644), 0);
    close(fd);
}

/* The test's own count of the file's pages in the page cache. */
static long cached_pages(const char *path, size_t pages)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    size_t len = pages * (size_t)page_kb * 1024;
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    unsigned char vec[4096];
    ck_assert_int_eq(mincore(p, len, vec), 0);
    long n = 0;
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    munmap(p, len);
    close(fd);
    return n;
}

static bool on_tmpfs(const char *dir)
{
    struct statfs s;
    return statfs(dir, &s) == 0 && s.f_type == 0x01021994;
}

/* A disk directory the test may write: the demo directory, unless tmpfs. */
static const char *disk_dir(void)
{
    return on_tmpfs(demo_dir()) ? "/var/tmp" : demo_dir();
}

START_TEST(file_dropped_then_readahead)
{
    make_file(disk_dir(), 64, false);
    int fd = open(file_path, O_RDONLY);
    ck_assert_int_eq(fsync(fd), 0); /* clean, still cached */
    close(fd);
    ck_assert_int_eq(cached_pages(file_path, 64), 64);
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--file", file_path, NULL});
    unlink(file_path);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    ck_assert(held(demo_step(&d, 1), "cached_before_touch"));
    ck_assert_int_eq(jint(demo_step(&d, 1), "facts.resident_pages"), 64);
    const struct json *drop = demo_step(&d, 2);
    ck_assert_str_eq(jstr(drop, "facts.mincore"),
                     "................................................................");
    ck_assert(held(drop, "every_page_dropped"));
    const char *after = jstr(demo_step(&d, 3), "facts.mincore");
    ck_assert_uint_eq(strlen(after), 64);
    ck_assert_int_eq(after[32], '#');
    ck_assert(held(demo_step(&d, 3), "readahead") || held(demo_step(&d, 3), "one_page_read"));
    demo_run_free(&d);
}
END_TEST

/* Issue 9 item 4: with nothing cached, no "they were read before" and no
 * "every page was dropped". */
START_TEST(file_nothing_cached)
{
    make_file(disk_dir(), 32, true);
    ck_assert_int_eq(cached_pages(file_path, 32), 0);
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--file", file_path, NULL});
    unlink(file_path);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    const struct json *map = demo_step(&d, 1), *drop = demo_step(&d, 2);
    ck_assert_int_eq(jint(map, "facts.resident_pages"), 0);
    ck_assert(held(map, "nothing_cached"));
    ck_assert(!held(map, "cached_before_touch"));
    ck_assert(held(drop, "nothing_to_drop"));
    ck_assert(!held(drop, "every_page_dropped"));
    demo_run_free(&d);
}
END_TEST

/* Issue 9 item 4: a file just written, not yet written back: its pages are
 * dirty, and DONTNEED leaves them; the demo must not say "read before". */
START_TEST(file_just_written)
{
    make_file(disk_dir(), 32, false);
    ck_assert_int_eq(cached_pages(file_path, 32), 32);
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--file", file_path, NULL});
    unlink(file_path);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    ck_assert(held(demo_step(&d, 1), "cached_before_touch"));
    ck_assert_ptr_null(strstr(jstr(demo_step(&d, 1), "note"), "read before"));
    /* Dirty pages stay unless writeback happened to run in between. */
    const struct json *drop = demo_step(&d, 2);
    ck_assert(held(drop, "some_pages_stayed") || held(drop, "every_page_dropped"));
    demo_run_free(&d);
}
END_TEST

/* Issue 9 item 4: on tmpfs POSIX_FADV_DONTNEED does nothing, and the demo
 * says tmpfs, not dirty pages. */
START_TEST(file_on_tmpfs)
{
    make_file("/dev/shm", 16, false);
    ck_assert_int_eq(cached_pages(file_path, 16), 16);
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--file", file_path, NULL});
    ck_assert_int_eq(cached_pages(file_path, 16), 16); /* still all there */
    unlink(file_path);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    const struct json *drop = demo_step(&d, 2);
    ck_assert_str_eq(jstr(drop, "facts.file_system"), "tmpfs");
    ck_assert(held(drop, "tmpfs_ignores_dontneed"));
    ck_assert_ptr_null(strstr(jstr(drop, "note"), "dirty"));
    ck_assert(held(demo_step(&d, 3), "already_cached"));
    demo_run_free(&d);
}
END_TEST

START_TEST(file_of_someone_else)
{
    /* As uid 65534, a root-owned file it cannot write: since Linux 5.0 mincore
     * says "all resident", and the demo must say so instead of drawing it. */
    const char *copy = demo_program("mincore-residency", RUN_AS_NOBODY);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", copy);
    *strrchr(dir, '/') = '\0'; /* the copy's directory: uid 65534 may enter it */
    make_file(dir, 16, true);
    ck_assert_int_eq(cached_pages(file_path, 16), 0); /* the truth, read as root */
    struct demo_run d;
    demo_run_json(&d, copy, RUN_AS_NOBODY, (const char *const[]){"--file", file_path, NULL});
    unlink(file_path);
    remove_copy(copy);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    ck_assert_int_eq(d.n, 2); /* one step and the result */
    const struct json *s1 = demo_step(&d, 1);
    ck_assert_ptr_null(json_path(s1, "facts.mincore"));
    ck_assert(held(s1, "others_file_all_resident"));
    demo_run_free(&d);
}
END_TEST

/* ---- --predict ---- */

/* The step asked, and the choice it measured is the one whose finding held. */
static void assert_answered(const struct json *step, const char *measured, const char *finding)
{
    const struct json *q = json_get(step, "prediction");
    ck_assert_msg(q != NULL, "step %s asked nothing", jstr(step, "id"));
    ck_assert_str_eq(jstr(q, "measured"), measured);
    ck_assert_str_eq(jstr(q, "finding"), finding);
    ck_assert(held(step, finding));
}

/* The sheet's "Predict first" 1-5, asked where they are measured: the
 * findings that answer them are checked from outside in anonymous_from_outside. */
START_TEST(predictions_anonymous)
{
    static const char *const answered_by[] = {"each_write_one_page", "read_maps_zero_page",
                                              "write_replaces_zero_page",
                                              "dontneed_frees_everything", "contents_gone"};
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--answers", "b,b,b,b,a", NULL});
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    ck_assert_ptr_null(json_get(demo_step(&d, 2), "prediction"));
    for (int k = 0; k < 5; k++)
        assert_answered(demo_step(&d, 3 + k), "b", answered_by[k]);
    ck_assert_int_eq(jint(demo_result(&d), "score.asked"), 5);
    ck_assert_int_eq(jint(demo_result(&d), "score.right"), 4);
    demo_run_free(&d);
}
END_TEST

/* 6 and 7: a clean cached file on disk is dropped whole, then the read brings in
 * one page or more; on tmpfs nothing is dropped and the read finds its page. */
START_TEST(predictions_file)
{
    make_file(disk_dir(), 64, false);
    int fd = open(file_path, O_RDONLY);
    ck_assert_int_eq(fsync(fd), 0); /* clean, still cached */
    close(fd);
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF,
                  (const char *const[]){"--file", file_path, "--answers", "a,b", NULL});
    unlink(file_path);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    assert_answered(demo_step(&d, 2), "a", "every_page_dropped");
    const struct json *read = demo_step(&d, 3);
    if (held(read, "readahead"))
        assert_answered(read, "c", "readahead");
    else
        assert_answered(read, "b", "one_page_read");
    demo_run_free(&d);
    if (!on_tmpfs("/dev/shm") || access("/dev/shm", W_OK) != 0)
        return;
    make_file("/dev/shm", 16, false);
    demo_run_json(&d, program, RUN_AS_SELF,
                  (const char *const[]){"--file", file_path, "--answers", "c,a", NULL});
    unlink(file_path);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    assert_answered(demo_step(&d, 2), "c", "tmpfs_ignores_dontneed");
    assert_answered(demo_step(&d, 3), "a", "already_cached");
    demo_run_free(&d);
}
END_TEST

static const struct bad_case bad[] = {
    {{"--pages", "7"}, "--pages"},   {{"--pages", "4097"}, "--pages"},
    {{"--pages", "1e3"}, "--pages"}, {{"--pages", "8K"}, "--pages"},
    {{"--file", ""}, "--file"},      {{"--pages"}, "--pages"},
    {{"--scale", "0"}, "--scale"},   {{"--scale", "513"}, "--scale"},
    {{"--nope"}, "--nope"},
    /* Review 8: a path that is there but no regular file with data, and --pages beside
     * --file, are bad input; a file open() refuses stays a failed call (exit 1, below). */
    {{"--file", "/tmp"}, "--file"},  {{"--file", "/proc/self/status"}, "--file"},
    {{"--file", "/dev/null"}, "--file"}, {{"--pages", "32", "--file", "/etc/passwd"}, "--pages"},
};

START_TEST(missing_file_is_a_runtime_error)
{
    struct run_result r;
    const char *argv[] = {program, "--file", "/nonexistent/vmlab", NULL};
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    ck_assert_int_eq(r.exit_code, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "open: ENOENT"));
    run_result_free(&r);
}
END_TEST

int main(void)
{
    page_kb = sysconf(_SC_PAGESIZE) / 1024;
    program = demo_program("mincore-residency", RUN_AS_SELF);
    Suite *s = suite_create("mincore-residency");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, anonymous_from_outside);
    tcase_add_test(tc, picture_of_4096_pages_is_whole);
    tcase_add_test(tc, scaled_picture_has_a_legend);
    tcase_add_test(tc, file_dropped_then_readahead);
    tcase_add_test(tc, file_nothing_cached);
    tcase_add_test(tc, file_just_written);
    if (on_tmpfs("/dev/shm") && access("/dev/shm", W_OK) == 0)
        tcase_add_test(tc, file_on_tmpfs);
    if (geteuid() == 0) /* needs a file owned by someone else than the demo's user */
        tcase_add_test(tc, file_of_someone_else);
    tcase_add_test(tc, predictions_anonymous);
    tcase_add_test(tc, predictions_file);
    ADD_BAD_INPUT_TESTS(tc, program, "mincore-residency", bad);
    tcase_add_test(tc, missing_file_is_a_runtime_error);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
