/* SPDX-License-Identifier: MIT */
/* Demo tests for page-writeback: a file's pages written through a mapping are dirty, written
 * back, clean, dropped (the observer: file_pages_test.h).
 *
 *   test_page_writeback           everything, as the current user
 *   test_page_writeback nobody    as uid 65534 (--drop-caches is a 77 there) */
#include "file_pages_test.h"

#define STEPS 5

static void check_step(struct watch *w, const struct json *st, int n)
{
    const char *id = jstr(st, "id");
    long now = w->resident[n + 1], before = w->resident[n];
    if (strcmp(id, "create") == 0) {
        check_create(w, st, now);
    } else if (strcmp(id, "write_mapped") == 0) {
        w->m = hex_fact(st, "facts.mapping", false);
        ck_assert_int_eq(observe_smaps(w->pid, w->m, "Size"), w->pages * 4);
        w->dirty[n + 1] = own_dirty(w);
        ck_assert_int_eq(jint(st, "after.file_dirty_kB"), w->dirty[n + 1]);
        /* no mapping before it: nothing of it was dirty */
        ck_assert_int_eq(held(st, "file_pages_dirty"), w->dirty[n + 1] == 256);
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
        ck_assert(held(demo_step(&d, STEPS + 1), "whole_file_cached"));
        const struct json *last = demo_step(&d, STEPS + 2);
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
    lesson_runs_plain(STEPS);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "page-writeback", VMLAB_DEMO_SOURCE),
                     STEPS);
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
    help_names("Usage: page-writeback", "--drop-caches");
}
END_TEST

int main(int argc, char **argv)
{
    run_as = demo_test_run_as(argc, argv, "test_page_writeback");
    program = demo_program("page-writeback", run_as);
    Suite *s = suite_create(run_as == RUN_AS_NOBODY ? "page-writeback as nobody"
                                                    : "page-writeback");
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
    ADD_BAD_INPUT_TESTS(cli, program, "page-writeback", bad_cases);
    tcase_add_test(cli, help_and_version);
    suite_add_tcase(s, cli);
    return demo_test_exit(s, program, run_as);
}
