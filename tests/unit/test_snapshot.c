/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/kernel/snapshot.c and lib/kernel/residency.c against the
 * running kernel: a guarded mapping is one VMA, one write is one page and one
 * minor fault, and reading /proc in between is not counted as the step's. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guarded.h"
#include "residency.h"
#include "snapshot-report.h"
#include "snapshot.h"
#include "suite.h"

static long page_kb(void)
{
    return sysconf(_SC_PAGESIZE) / 1024;
}

static char *map_guarded(size_t len)
{
    char *p = guarded_map(len);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* The measured write: volatile so that it happens exactly once, and out of
 * ASan's reach, whose check of shadow memory would fault on its own. */
__attribute__((no_sanitize("address"))) static void write_once(char *p, char value)
{
    *(volatile char *)p = value;
}

START_TEST(guarded_mapping_is_its_own_vma)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *p = map_guarded(8 * page);
    struct smaps_entry e;
    ck_assert_int_eq(smaps_read_entry((uintptr_t)p, &e), PROCFS_OK);
    ck_assert_uint_eq(e.start, (uintptr_t)p);
    ck_assert_uint_eq(e.end, (uintptr_t)p + 8 * page);
    /* The guard pages on both sides are PROT_NONE. */
    ck_assert_int_eq(smaps_read_entry((uintptr_t)p - 1, &e), PROCFS_OK);
    ck_assert_str_eq(e.perms, "---p");
    ck_assert_int_eq(smaps_read_entry((uintptr_t)p + 8 * page, &e), PROCFS_OK);
    ck_assert_str_eq(e.perms, "---p");
    guarded_release(p, 8 * page);
    ck_assert_int_eq(smaps_read_entry((uintptr_t)p, &e), PROCFS_NOT_FOUND);
}
END_TEST

START_TEST(one_write_one_page_one_fault)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *p = map_guarded(4 * page);
    madvise(p, 4 * page, MADV_NOHUGEPAGE);
    struct snapshot before, after;
    /* Warm up: the first capture may fault stdio's buffers in. */
    ck_assert_int_eq(snapshot_take(&before, (uintptr_t)p), PROCFS_OK);
    ck_assert_int_eq(snapshot_take(&before, (uintptr_t)p), PROCFS_OK);
    write_once(p + 100, 1);
    ck_assert_int_eq(snapshot_take(&after, (uintptr_t)p), PROCFS_OK);
    ck_assert_int_eq(snapshot_delta0(&before, &after, "Rss"), page_kb());
    ck_assert_int_eq(snapshot_delta0(&before, &after, "Private_Dirty"), page_kb());
    ck_assert_int_eq(snapshot_delta0(&before, &after, "minor_faults"), 1);
    ck_assert_int_eq(snapshot_delta0(&before, &after, "major_faults"), 0);
    /* Nothing touched in between: no faults, however much /proc was read.
     * (Back to back: an assertion in between could fault in its own code.) */
    struct snapshot again1, again2;
    ck_assert_int_eq(snapshot_take(&again1, (uintptr_t)p), PROCFS_OK);
    ck_assert_int_eq(snapshot_take(&again2, (uintptr_t)p), PROCFS_OK);
    ck_assert_int_eq(snapshot_delta0(&again1, &again2, "minor_faults"), 0);
    int64_t v;
    ck_assert(snapshot_get(&after, "Committed_AS", &v));
    ck_assert_int_gt(v, 0);
    ck_assert(!snapshot_get(&after, "NoSuchCounter", &v));
    guarded_release(p, 4 * page);
}
END_TEST

START_TEST(replaced_mapping_has_no_before)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *p = guarded_reserve(4 * page);
    ck_assert_ptr_nonnull(p);
    struct snapshot before, after;
    ck_assert_int_eq(snapshot_take(&before, (uintptr_t)p), PROCFS_OK);
    ck_assert(before.mapped); /* the PROT_NONE reservation */
    ck_assert_ptr_eq(guarded_fill(p, 4 * page), p);
    ck_assert_int_eq(snapshot_take(&after, (uintptr_t)p), PROCFS_OK);
    /* The reservation's Size (with its guard pages, 6 pages) is another
     * mapping's: no delta against it, where there would be -2 pages. */
    ck_assert_int_eq(snapshot_delta0(&before, &after, "Size"), 0);
    int64_t size;
    ck_assert(snapshot_get(&after, "Size", &size));
    ck_assert_int_eq(size, 4 * page_kb());
    guarded_release(p, 4 * page);
}
END_TEST

/* What a demo reads and concludes from snapshots: a counter or -1, one row and its move,
 * and the two findings on a fresh and on an unmapped mapping. */
START_TEST(values_rows_and_findings)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *p = map_guarded(4 * page);
    struct snapshot before, after;
    ck_assert_int_eq(snapshot_take(&before, (uintptr_t)p), PROCFS_OK);
    ck_assert_int_eq(snapshot_take(&after, (uintptr_t)p), PROCFS_OK);
    ck_assert_int_eq(snapshot_value(&after, "Size"), 4 * page_kb());
    ck_assert_int_eq(snapshot_value(&after, "Rss"), 0);
    ck_assert_int_eq(snapshot_value(&after, "No_such_key"), -1);
    char *out = NULL;
    size_t len = 0;
    struct narrator n;
    narrate_init(&n, "demo-x", &(struct cli_common){.json = true}, 2);
    n.out = open_memstream(&out, &len);
    narrate_begin(&n, "map", "Map");
    ck_assert_int_eq(snapshot_row(&n, &before, &after, "Size"), 0);
    snapshot_explain_not_resident(&n, &after, 4 * page_kb());
    ck_assert(narrate_held(&n, "mapped_not_resident"));
    snapshot_explain_gone(&n, &after);
    ck_assert(!narrate_held(&n, "mapping_gone"));
    narrate_end_step(&n);
    narrate_begin(&n, "unmap", "Unmap");
    guarded_release(p, 4 * page);
    ck_assert_int_eq(snapshot_take(&after, (uintptr_t)p), PROCFS_OK);
    snapshot_explain_gone(&n, &after);
    ck_assert(narrate_held(&n, "mapping_gone"));
    narrate_end_step(&n);
    fclose(n.out);
    ck_assert_ptr_nonnull(strstr(out, "\"Size_kB\""));
    free(out);
}
END_TEST

START_TEST(residency_zero_page_and_writes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *p = map_guarded(8 * page);
    madvise(p, 8 * page, MADV_NOHUGEPAGE);
    char picture[16];
    ck_assert_int_eq(residency_picture(p, 8 * page, picture, sizeof picture), 0);
    ck_assert_str_eq(picture, "........");
    p[0] = 1;
    p[3 * page] = 1;
    (void)*(volatile char *)(p + 5 * page); /* read: the zero page */
    ck_assert_int_eq(residency_picture(p, 8 * page, picture, sizeof picture), 3);
    ck_assert_str_eq(picture, "#..#.#..");
    ck_assert_int_eq(residency_picture(p, 8 * page, picture, 8), -1); /* no room for NUL */
    guarded_release(p, 8 * page);
}
END_TEST

static Suite *snapshot_suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("kernel");
    tcase_add_test(tc, guarded_mapping_is_its_own_vma);
    tcase_add_test(tc, one_write_one_page_one_fault);
    tcase_add_test(tc, replaced_mapping_has_no_before);
    tcase_add_test(tc, residency_zero_page_and_writes);
    tcase_add_test(tc, values_rows_and_findings);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed = run_suite(snapshot_suite());
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
