/* SPDX-License-Identifier: MIT */
/* Demo tests for page-writeback: a file's pages written through a mapping are dirty, written
 * back, clean, dropped (the observer: file_pages_test.h).
 *
 *   test_page_writeback           everything, as the current user
 *   test_page_writeback nobody    as uid 65534 (--drop-caches is a 77 there) */
#define DEMO "page-writeback"
#define STEPS 5
#define HELP_OPTION "--drop-caches"
#include "file_pages_test.h"

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
        ck_assert_int_eq(held(st, "tmpfs_no_writeback"),
                         w->tmpfs && w->dirty[n + 1] == w->dirty[n]);
        if (w->tmpfs) /* nothing of this file is written back: the machine's Writeback is not it */
            ck_assert(!held(st, "writeback_in_flight"));
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
    if (geteuid() != 0 || run_as == RUN_AS_NOBODY || access("/dev/shm", W_OK) != 0)
        return;
    /* On tmpfs the pages are the file: never gone, so never read again, and drop_caches
     * leaves every one (the count of the run's own mincore view of them). */
    demo_run_json(&d, program, run_as,
                  (const char *const[]){"--drop-caches", "--dir", "/dev/shm", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert(held(demo_step(&d, STEPS + 1), "tmpfs_pages_never_left"));
    ck_assert(!held(demo_step(&d, STEPS + 1), "whole_file_cached"));
    const struct json *last = demo_step(&d, STEPS + 2);
    assert_sentences_rest_on_findings(last);
    ck_assert_int_eq(jint(last, "facts.resident_settled"), jint(demo_step(&d, 1), "facts.pages"));
    ck_assert(held(last, "tmpfs_survives_drop_caches"));
    ck_assert(!held(last, "drop_caches_emptied_file"));
    demo_run_free(&d);
}
END_TEST

static const struct bad_case bad_cases[] = {
    FILE_PAGES_BAD_CASES,
    {{"--drop-caches=1"}, "--drop-caches"},
};

int main(int argc, char **argv)
{
    const TTest *const extra[] = {drop_caches_as_root, NULL};
    return file_pages_suite(argc, argv, "test_page_writeback", extra, bad_cases,
                            (int)(sizeof bad_cases / sizeof bad_cases[0]));
}
