/* Demo tests for mincore-residency: the pictures it draws must match the
 * pages this test knows were touched, and --file must tell the truth about
 * the page cache or say why it cannot. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo_test.h"
#include "suite.h"

static const char *program;
static long page_kb;

/* The picture of `pages` pages with the listed ones resident. */
static const char *picture(size_t pages, const int *resident, size_t n)
{
    static char buf[4097];
    memset(buf, '.', pages);
    buf[pages] = '\0';
    for (size_t i = 0; i < n; i++)
        buf[resident[i]] = '#';
    return buf;
}

START_TEST(anonymous_pictures)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, NULL);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    ck_assert_int_eq(d.n, 7);
    ck_assert_str_eq(jstr(demo_step(&d, 1), "facts.mincore"), picture(16, NULL, 0));
    ck_assert_int_eq(jint(demo_step(&d, 1), "after.Rss_kB"), 0);
    ck_assert_str_eq(jstr(demo_step(&d, 2), "facts.mincore"), picture(16, (int[]){0}, 1));
    ck_assert_int_eq(jint(demo_step(&d, 2), "delta.Rss_kB"), page_kb);
    ck_assert_str_eq(jstr(demo_step(&d, 3), "facts.mincore"), picture(16, (int[]){0, 3, 7}, 3));
    ck_assert_int_eq(jint(demo_step(&d, 3), "delta.Rss_kB"), 2 * page_kb);
    ck_assert_int_eq(jint(demo_step(&d, 3), "delta.minor_faults"), 2);
    /* The read: '#' for mincore, nothing for Rss. */
    const struct json *rd = demo_step(&d, 4);
    ck_assert_str_eq(jstr(rd, "facts.mincore"), picture(16, (int[]){0, 3, 5, 7}, 4));
    ck_assert_int_eq(jint(rd, "delta.Rss_kB"), 0);
    ck_assert_int_eq(jint(rd, "delta.minor_faults"), 1);
    ck_assert_str_eq(jstr(rd, "facts.value read"), "0");
    /* The write to the zero-page page: same picture, one more page of Rss. */
    const struct json *wr = demo_step(&d, 5);
    ck_assert_str_eq(jstr(wr, "facts.mincore"), picture(16, (int[]){0, 3, 5, 7}, 4));
    ck_assert_int_eq(jint(wr, "delta.Rss_kB"), page_kb);
    ck_assert_int_eq(jint(wr, "delta.minor_faults"), 1);
    /* MADV_DONTNEED: nothing resident, contents gone. */
    const struct json *gone = demo_step(&d, 6);
    ck_assert_str_eq(jstr(gone, "facts.mincore"), picture(16, NULL, 0));
    ck_assert_int_eq(jint(gone, "after.Rss_kB"), 0);
    ck_assert_int_eq(strncmp(jstr(gone, "facts.p[0] now"), "0 ", 2), 0);
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "ok");
    demo_run_free(&d);
}
END_TEST

START_TEST(more_pages)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--pages", "100", NULL});
    ck_assert_int_eq(d.r.exit_code, 0);
    ck_assert_str_eq(jstr(demo_step(&d, 3), "facts.mincore"), picture(100, (int[]){0, 3, 7}, 3));
    demo_run_free(&d);
}
END_TEST

/* A file of our own on a disk file system, written back, so that its pages
 * can be dropped from the cache. */
static char file_path[PATH_MAX];

static void make_file(const char *dir, size_t pages)
{
    snprintf(file_path, sizeof file_path, "%s/mincore-test-XXXXXX", dir);
    int fd = mkstemp(file_path);
    ck_assert_int_ge(fd, 0);
    char block[4096];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)(i * 7);
    for (size_t i = 0; i < pages * (size_t)page_kb / 4; i++)
        ck_assert_int_eq(write(fd, block, sizeof block), (ssize_t)sizeof block);
    ck_assert_int_eq(fsync(fd), 0);
    ck_assert_int_eq(fchmod(fd, 0644), 0);
    close(fd);
}

START_TEST(file_page_cache)
{
    make_file(demo_dir(), 64);
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--file", file_path, NULL});
    unlink(file_path);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    /* After POSIX_FADV_DONTNEED the clean, unmapped pages are gone... */
    ck_assert_str_eq(jstr(demo_step(&d, 2), "facts.mincore"), picture(64, NULL, 0));
    /* ...and reading one byte of page 32 brings it back, with readahead. */
    const char *after = jstr(demo_step(&d, 3), "facts.mincore");
    ck_assert_uint_eq(strlen(after), 64);
    ck_assert_int_eq(after[32], '#');
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
    make_file(dir, 16);
    struct demo_run d;
    demo_run_json(&d, copy, RUN_AS_NOBODY, (const char *const[]){"--file", file_path, NULL});
    unlink(file_path);
    remove_copy(copy);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    const struct json *s1 = demo_step(&d, 1);
    ck_assert_ptr_null(json_path(s1, "facts.mincore"));
    ck_assert_ptr_nonnull(strstr(jstr(s1, "note"), "side"));
    demo_run_free(&d);
}
END_TEST

static const struct { const char *args[4]; const char *names; } bad[] = {
    {{"--pages", "7"}, "--pages"},   {{"--pages", "4097"}, "--pages"},
    {{"--pages", "1e3"}, "--pages"}, {{"--pages", "8K"}, "--pages"},
    {{"--file", ""}, "--file"},      {{"--pages"}, "--pages"},
    {{"--nope"}, "--nope"},
};

START_TEST(bad_input)
{
    check_bad_input(program, "mincore-residency", bad[_i].args, bad[_i].names);
}
END_TEST

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
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, anonymous_pictures);
    tcase_add_test(tc, more_pages);
    tcase_add_test(tc, file_page_cache);
    if (geteuid() == 0) /* needs a file owned by someone else than the demo's user */
        tcase_add_test(tc, file_of_someone_else);
    tcase_add_loop_test(tc, bad_input, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, missing_file_is_a_runtime_error);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
