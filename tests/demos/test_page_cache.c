/* SPDX-License-Identifier: MIT */
/* Demo tests for page-cache: a file's pages come into the page cache as it is read
 * (the observer: file_pages_test.h).
 *
 *   test_page_cache           everything, as the current user
 *   test_page_cache nobody    as uid 65534 */
#include "file_pages_test.h"

#define STEPS 5

static void check_step(struct watch *w, const struct json *st, int n)
{
    const char *id = jstr(st, "id");
    long now = w->resident[n + 1], before = w->resident[n], more = now - before;
    if (strcmp(id, "create") == 0) {
        check_create(w, st, now);
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
    } else {
        ck_abort_msg("step %d has an unknown id %s", n, id);
    }
}

START_TEST(lesson_on_disk)
{
    if (disk_dir())
        observed_lesson(disk_dir(), false, STEPS);
}
END_TEST

START_TEST(lesson_on_tmpfs)
{
    if (shm_writable())
        observed_lesson("/dev/shm", true, STEPS);
}
END_TEST

START_TEST(lesson_runs)
{
    lesson_runs_plain(STEPS);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "page-cache", VMLAB_DEMO_SOURCE), STEPS);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--dir", ""}, "--dir"},
    {{"--dir", "/tmp", "--dir", "/tmp"}, "--dir"},
    {{"--dir"}, "--dir"},
    {{"--drop-caches"}, "--drop-caches"}, /* page-writeback's */
    {{"--bogus"}, "--bogus"},
    {{"extra"}, "extra"},
};

START_TEST(help_and_version)
{
    help_names("Usage: page-cache", "--dir");
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
