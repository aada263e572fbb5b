/* Demo tests for mmap-anon: run the program with --json and check what it
 * reports against what the kernel must do. The expected numbers come from
 * the size this test asks for and the page size, never from the output.
 *
 *   test_mmap_anon            everything, as the current user
 *   test_mmap_anon nobody     the lesson again as uid 65534 (root drops to it;
 *                             anyone else already is unprivileged)
 */
#define _GNU_SOURCE
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "suite.h"

#define SIZE_MB 64

static enum run_as run_as = RUN_AS_SELF;
static const char *program;

static long page_kb(void)
{
    return sysconf(_SC_PAGESIZE) / 1024;
}

#define get jint

/* Committed_AS is system-wide: allow other processes some noise around the
 * charge this demo alone makes. CTest serialises the demo tests. */
static void assert_about(int64_t got, int64_t want, const char *what)
{
    int64_t slack = 8 * 1024;
    ck_assert_msg(got >= want - slack && got <= want + slack, "%s moved by %lld kB, want %lld",
                  what, (long long)got, (long long)want);
}

static void check_lesson(const char *size_arg, int64_t size_kb)
{
    struct demo_run d;
    const char *const extra[] = {"--size", size_arg, NULL};
    demo_run_json(&d, program, run_as, extra);
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    long pk = page_kb();
    int64_t pages = size_kb / pk;

    ck_assert_int_eq(d.n, 6); /* five steps and the result */
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(json_get_string(d.lines[i], "demo"), "mmap-anon");
        ck_assert_int_eq(get(d.lines[i], "step"), i + 1);
        ck_assert_ptr_nonnull(json_get_string(d.lines[i], "code"));
        ck_assert_ptr_nonnull(json_get_string(d.lines[i], "note"));
    }
    ck_assert_str_eq(json_get_string(d.lines[5], "result"), "ok");

    const struct json *map = d.lines[0], *w1 = d.lines[1], *rd = d.lines[2], *wall = d.lines[3],
                      *unmap = d.lines[4];
    /* 1: mmap gives address space and commit charge, no memory. */
    ck_assert_int_eq(get(map, "after.Size_kB"), size_kb);
    ck_assert_int_eq(get(map, "after.Rss_kB"), 0);
    assert_about(get(map, "delta.Committed_AS_kB"), size_kb, "Committed_AS at mmap");
    const char *maps = json_get_string(map, "facts.maps");
    ck_assert_ptr_nonnull(maps);
    ck_assert_ptr_nonnull(strstr(maps, " rw-p "));
    ck_assert_ptr_nonnull(strstr(json_get_string(map, "facts.VmFlags"), "nh"));
    /* 2: one write, one page, one minor fault. */
    ck_assert_int_eq(get(w1, "before.Rss_kB"), 0);
    ck_assert_int_eq(get(w1, "after.Rss_kB"), pk);
    ck_assert_int_eq(get(w1, "delta.Private_Dirty_kB"), pk);
    ck_assert_int_eq(get(w1, "delta.minor_faults"), 1);
    /* 3: a read of an untouched page faults but maps the zero page. */
    ck_assert_int_eq(get(rd, "delta.Rss_kB"), 0);
    ck_assert_int_eq(get(rd, "delta.minor_faults"), 1);
    ck_assert_str_eq(json_get_string(rd, "facts.value read"), "0");
    ck_assert_ptr_nonnull(strstr(json_get_string(rd, "facts.mincore"), "is resident"));
    /* 4: every page written: Rss is the size; one fault per page but page 0. */
    ck_assert_int_eq(get(wall, "after.Rss_kB"), size_kb);
    ck_assert_int_eq(get(wall, "after.Private_Dirty_kB"), size_kb);
    ck_assert_int_eq(get(wall, "delta.minor_faults"), pages - 1);
    /* 5: munmap returns the charge; the mapping is gone. */
    ck_assert_int_eq(json_path(unmap, "after.Rss_kB")->type, JSON_NULL);
    assert_about(get(unmap, "delta.Committed_AS_kB"), -size_kb, "Committed_AS at munmap");
    demo_run_free(&d);
}

START_TEST(lesson_default_size)
{
    check_lesson("16M", 16 * 1024);
}
END_TEST

START_TEST(lesson_larger_size)
{
    check_lesson("64M", SIZE_MB * 1024);
}
END_TEST

START_TEST(lesson_odd_size_rounds_to_pages)
{
    /* 10000 bytes is 3 pages (on 4 KiB pages) */
    long pk = page_kb();
    int64_t pages = (10000 + pk * 1024 - 1) / (pk * 1024);
    check_lesson("10000", pages * pk);
}
END_TEST

static const char *thp_mode(char *buf, size_t len)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    buf[0] = '\0';
    if (!f)
        return buf;
    char line[128];
    if (fgets(line, sizeof line, f)) {
        char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;
        if (open && close && (size_t)(close - open) < len) {
            memcpy(buf, open + 1, (size_t)(close - open - 1));
            buf[close - open - 1] = '\0';
        }
    }
    fclose(f);
    return buf;
}

START_TEST(thp_one_write_two_megabytes)
{
    char mode[32];
    thp_mode(mode, sizeof mode);
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--thp", NULL});
    if (mode[0] == '\0') {
        ck_assert_int_eq(d.r.exit_code, 77); /* no THP in this kernel: a clean skip */
        demo_run_free(&d);
        return;
    }
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert_int_eq(d.n, 6);
    const struct json *w1 = d.lines[1];
    ck_assert_ptr_nonnull(strstr(json_get_string(d.lines[0], "facts.VmFlags"), "hg"));
    if (strcmp(mode, "never") == 0) {
        ck_assert_int_eq(get(w1, "delta.AnonHugePages_kB"), 0);
        ck_assert_ptr_nonnull(strstr(json_get_string(w1, "note"), "never"));
    } else {
        /* madvise or always: one write maps a whole PMD-sized page. */
        FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
        long long pmd = 0;
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fscanf(f, "%lld", &pmd), 1);
        fclose(f);
        ck_assert_int_eq(get(w1, "delta.AnonHugePages_kB"), pmd / 1024);
        ck_assert_int_eq(get(w1, "delta.Rss_kB"), pmd / 1024);
        ck_assert_int_eq(get(w1, "delta.minor_faults"), 1);
    }
    demo_run_free(&d);
}
END_TEST

/* ---- the command line ---- */

struct bad_case {
    const char *args[5];
    const char *names; /* the error line must contain this */
};

static const struct bad_case bad_cases[] = {
    {{"--size", "0"}, "--size"},
    {{"--size", "-1"}, "--size"},
    {{"--size", "12Q"}, "--size"},
    {{"--size", "99999999T"}, "--size"},
    {{"--size", "4K"}, "--size"},   /* one page: nothing to read in step 3 */
    {{"--size", "2G"}, "--size"},   /* would write 2 GiB */
    {{"--size"}, "--size"},
    {{"--size", "16M", "--size", "8M"}, "--size"},
    {{"--bogus"}, "--bogus"},
    {{"extra"}, "extra"},
    {{"--color=sometimes"}, "--color"},
    {{"--thp", "--size", "2M"}, "--size"},
};

START_TEST(bad_input_exits_2)
{
    check_bad_input(program, "mmap-anon", bad_cases[_i].args, bad_cases[_i].names);
}
END_TEST

START_TEST(help_and_version)
{
    struct run_result r;
    const char *help[] = {program, "--help", NULL};
    ck_assert_int_eq(run_program(help, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Usage: mmap-anon"));
    ck_assert_ptr_nonnull(strstr(r.out, "--size SIZE"));
    ck_assert_ptr_nonnull(strstr(r.out, "--step"));
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
    const char *argv[] = {program, "--step", "--color=never", NULL};
    ck_assert_int_eq(run_program(argv, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "not pausing"));
    ck_assert_ptr_nonnull(strstr(r.out, "[5/5] Unmap it"));
    ck_assert_ptr_null(strchr(r.out, '\033'));
    run_result_free(&r);
}
END_TEST

START_TEST(plain_output_shows_measured_numbers)
{
    struct run_result r;
    const char *argv[] = {program, "--size", "8K", NULL};
    ck_assert_int_eq(run_program(argv, run_as, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    char want[64];
    snprintf(want, sizeof want, "0 kB -> %ld kB", page_kb());
    ck_assert_ptr_nonnull(strstr(r.out, want));
    ck_assert_ptr_nonnull(strstr(r.out, "zero page"));
    ck_assert_ptr_nonnull(strstr(r.out, "Done:"));
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

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "nobody") == 0 && geteuid() == 0)
        run_as = RUN_AS_NOBODY;
    program = demo_program("mmap-anon", run_as);

    Suite *s = suite_create(run_as == RUN_AS_NOBODY ? "mmap-anon as nobody" : "mmap-anon");
    TCase *lesson = tcase_create("lesson");
    tcase_set_timeout(lesson, 30);
    tcase_add_test(lesson, lesson_default_size);
    tcase_add_test(lesson, lesson_larger_size);
    tcase_add_test(lesson, lesson_odd_size_rounds_to_pages);
    tcase_add_test(lesson, thp_one_write_two_megabytes);
    suite_add_tcase(s, lesson);
    TCase *cli = tcase_create("command line");
    tcase_set_timeout(cli, 30);
    tcase_add_loop_test(cli, bad_input_exits_2, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(cli, help_and_version);
    tcase_add_test(cli, step_without_terminal_does_not_wait);
    tcase_add_test(cli, plain_output_shows_measured_numbers);
    tcase_add_test(cli, lost_output_is_a_failure);
    suite_add_tcase(s, cli);

    int failed = run_suite(s);
    if (run_as == RUN_AS_NOBODY)
        remove_copy(program);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
