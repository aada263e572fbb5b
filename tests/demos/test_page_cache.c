/* SPDX-License-Identifier: MIT */
/* Demo tests for page-cache: a file's pages come into the page cache as it is read
 * (the observer: file_pages_test.h).
 *
 *   test_page_cache           everything, as the current user
 *   test_page_cache nobody    as uid 65534 */
#define DEMO "page-cache"
#define STEPS 5
#define HELP_OPTION "--dir"
#include "file_pages_test.h"

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
        ck_assert_int_eq(held(st, "willneed_found_cached"), more == 0);
        ck_assert_int_le(more, 64); /* nothing but the range it named */
        const struct json *fin = json_path(st, "facts.fincore_pages");
        if (fin)
            ck_assert_int_eq(fin->integer, now);
    } else {
        ck_abort_msg("step %d has an unknown id %s", n, id);
    }
    if (strncmp(id, "fault_", 6) == 0) /* read, never written: dirty on tmpfs alone */
        ck_assert_int_eq(held(st, "tmpfs_read_pages_dirty"), w->tmpfs && w->dirty[n + 1] > 0);
}

static const struct bad_case bad_cases[] = {
    FILE_PAGES_BAD_CASES,
    {{"--drop-caches"}, "--drop-caches"}, /* page-writeback's */
};

int main(int argc, char **argv)
{
    static const TTest *const none[] = {NULL};
    return file_pages_suite(argc, argv, "test_page_cache", none, bad_cases,
                            (int)(sizeof bad_cases / sizeof bad_cases[0]));
}
