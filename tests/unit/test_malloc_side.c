/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/kernel/malloc-side.c: where a block is by this process's
 * own maps (heap or a new mapping), which library serves a call, how
 * --allocator's argument becomes a library (or a clear refusal), the child's
 * argument, and the child itself: spawned, asked, and reaped, no process
 * left behind. The child is this test program again (VMLAB_TEST_SIDE_CHILD). */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "malloc-child.h"
#include "malloc-report.h"
#include "malloc-side.h"
#include "suite.h"

#define CHILD_ENV "VMLAB_TEST_SIDE_CHILD"

static struct malloc_side side;
static char *blocks[2];

/* The child's steps: step i mallocs 1 MiB (a mapping under glibc's threshold). */
static void child_step(int i)
{
    char why[200];
    (void)malloc_side_look(&side, false, 0, why, sizeof why);
    blocks[i] = malloc(1 << 20);
    (void)malloc_side_look(&side, true, (uintptr_t)blocks[i], why, sizeof why);
}

START_TEST(child_arg_is_after_the_fd)
{
    ck_assert_str_eq(malloc_side_child_arg("3,1024"), "1024");
    ck_assert_str_eq(malloc_side_child_arg("12,"), "");
    ck_assert_ptr_null(malloc_side_child_arg("3"));
    ck_assert_ptr_null(malloc_side_child_arg(",3"));
    ck_assert_ptr_null(malloc_side_child_arg("-1,3"));
    ck_assert_ptr_null(malloc_side_child_arg("x,3"));
}
END_TEST

START_TEST(library_found_or_refused)
{
    char path[PATH_MAX], name[64], why[PATH_MAX + 256], libc[PATH_MAX];
    malloc_side_who_serves(&side);
    ck_assert_ptr_nonnull(realpath(side.from[CALL_LIBC], libc));
    ck_assert_int_eq(malloc_side_find_library(side.from[CALL_LIBC], path, sizeof path, name,
                                              sizeof name, why, sizeof why), EXIT_OK);
    ck_assert_str_eq(path, libc);
    ck_assert_str_eq(name, strrchr(side.from[CALL_LIBC], '/') + 1);
    ck_assert_int_eq(malloc_side_find_library("/no/such/lib.so", path, sizeof path, name,
                                              sizeof name, why, sizeof why), EXIT_USAGE);
    ck_assert_msg(strstr(why, "No such file"), "%s", why);
    ck_assert_int_eq(malloc_side_find_library("/proc/self/status", path, sizeof path, name,
                                              sizeof name, why, sizeof why), EXIT_USAGE);
    ck_assert_msg(strstr(why, "is not a shared library"), "%s", why);
    setenv("VMLAB_ALLOCATOR_DIR", "/nonexistent-vmlab-dir", 1);
    ck_assert_int_eq(malloc_side_find_library("jemalloc", path, sizeof path, name, sizeof name,
                                              why, sizeof why), EXIT_CANNOT);
    unsetenv("VMLAB_ALLOCATOR_DIR");
    ck_assert_str_eq(name, "jemalloc");
    ck_assert_msg(strstr(why, "/nonexistent-vmlab-dir/libjemalloc.so.2") &&
                      strstr(why, "apt-get install libjemalloc2"), "%s", why);
}
END_TEST

START_TEST(glibcs_there_needs_another_malloc)
{
    struct malloc_side s = {0};
    strcpy(s.from[CALL_LIBC], "/lib/libc.so.6");
    strcpy(s.from[CALL_TRIM], "/lib/libc.so.6");
    strcpy(s.from[CALL_MALLOC], "/lib/libc.so.6");
    ck_assert(!malloc_side_glibcs_there(&s, CALL_TRIM));
    strcpy(s.from[CALL_MALLOC], "/lib/libjemalloc.so.2");
    ck_assert(malloc_side_glibcs_there(&s, CALL_TRIM));
    strcpy(s.from[CALL_TRIM], "/lib/libjemalloc.so.2");
    ck_assert(!malloc_side_glibcs_there(&s, CALL_TRIM));
}
END_TEST

#ifdef VMLAB_GLIBC_MALLOC
START_TEST(where_by_own_maps)
{
    char why[200];
    struct malloc_side s = {0};
    ck_assert(malloc_side_look(&s, false, 0, why, sizeof why));
    char *big = malloc(1 << 20);
    ck_assert(malloc_side_look(&s, true, (uintptr_t)big, why, sizeof why));
    ck_assert_int_eq(s.where, NEW_MAPPING);
    ck_assert_int_ge(s.vm, 1024);
    ck_assert_int_eq(s.moved, 0);
    ck_assert(s.a.mapped && s.a.entry.start <= (uintptr_t)big && (uintptr_t)big < s.a.entry.end);
    ck_assert(malloc_side_look(&s, false, (uintptr_t)big, why, sizeof why));
    char *small = malloc(64);
    ck_assert(malloc_side_look(&s, true, (uintptr_t)small, why, sizeof why));
    ck_assert(s.where == HEAP || s.where == HEAP_BRK);
    ck_assert_str_eq(s.a.entry.name, "[heap]");
    free(small);
    free(big);
}
END_TEST

static bool there_called;

static void there(const struct malloc_side *o)
{
    (void)o;
    there_called = true;
}

/* Without a child: observe measures this process only, and a step's
 * explanation is our rows (malloc_from on step 1), never the child's. */
START_TEST(alone_our_rows_only)
{
    static struct malloc_side theirs[1];
    char *out = NULL;
    size_t len = 0;
    struct narrator n;
    narrate_init(&n, "demo-x", &(struct cli_common){.json = true}, 1);
    n.out = open_memstream(&out, &len);
    malloc_side_who_serves(&side);
    narrate_begin(&n, "malloc_1m", "malloc 1 MiB");
    malloc_side_observe(&n, &side, false, 0, theirs);
    blocks[0] = malloc(1 << 20);
    malloc_side_observe(&n, &side, true, (uintptr_t)blocks[0], theirs);
    malloc_side_explain_both(&n, &side, theirs, false, false, there);
    narrate_end_step(&n);
    fclose(n.out);
    ck_assert(!there_called);
    ck_assert_ptr_nonnull(strstr(out, "\"malloc_from\""));
    ck_assert_ptr_nonnull(strstr(out, "\"VmSize_kB\""));
    ck_assert_ptr_null(strstr(out, "other_"));
    free(out);
    free(blocks[0]);
}
END_TEST

START_TEST(child_answers_and_is_reaped)
{
    const char *failed = NULL;
    struct malloc_side theirs;
    malloc_side_who_serves(&side);
    /* Preloading the C library itself: the child's malloc is still libc's. */
    ck_assert_int_eq(malloc_side_child_start(CHILD_ENV, "x", side.from[CALL_LIBC], &failed), 0);
    pid_t pid = malloc_side_child_pid();
    ck_assert_int_gt(pid, 0);
    ck_assert(malloc_side_child_ask(-1, &theirs));
    ck_assert_str_eq(theirs.from[CALL_MALLOC], side.from[CALL_MALLOC]);
    ck_assert(malloc_side_child_ask(0, &theirs));
    ck_assert_int_eq(theirs.where, NEW_MAPPING);
    ck_assert_int_ge(theirs.vm, 1024);
    ck_assert(malloc_side_child_ask(1, &theirs));
    ck_assert_int_eq(theirs.where, NEW_MAPPING);
    ck_assert_int_eq(malloc_side_child_end(), 0);
    ck_assert_int_eq(malloc_side_child_pid(), -1);
    ck_assert_int_ne(kill(pid, 0), 0); /* reaped: no such process */
}
END_TEST
#endif

int main(void)
{
    const char *how = getenv(CHILD_ENV);
    if (how) {
        malloc_side_who_serves(&side);
        malloc_side_child_serve(how, &side, 2, child_step);
    }
    Suite *s = suite_create("malloc-side");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, child_arg_is_after_the_fd);
    tcase_add_test(tc, library_found_or_refused);
    tcase_add_test(tc, glibcs_there_needs_another_malloc);
#ifdef VMLAB_GLIBC_MALLOC
    tcase_add_test(tc, where_by_own_maps);
    tcase_add_test(tc, child_answers_and_is_reaped);
    tcase_add_test(tc, alone_our_rows_only);
#endif
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
