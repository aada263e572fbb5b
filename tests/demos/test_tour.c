/* SPDX-License-Identifier: MIT */
/* Demo tests for the guided tour: it runs every demo, passes --json on, and
 * its own summary agrees with how each demo ended. */
#define _GNU_SOURCE
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "run.h"
#include "suite.h"

#define MAX_LINES 256

static char tour[PATH_MAX];

START_TEST(tour_json_is_all_json)
{
    struct run_result r;
    const char *argv[] = {tour, "--json", NULL};
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    struct json *lines[MAX_LINES];
    char err[512];
    int n = parse_json_lines(r.out, lines, MAX_LINES, err, sizeof err);
    ck_assert_msg(n > 0, "%s", err);
    int results = 0, ok = 0;
    for (int i = 0; i < n - 1; i++) {
        const char *result = json_get_string(lines[i], "result");
        if (result) {
            results++;
            ok += strcmp(result, "ok") == 0;
            ck_assert_str_ne(json_get_string(lines[i], "demo"), "tour");
        }
    }
    /* The tour ends with its own line, and every stop with a result line. */
    ck_assert_str_eq(json_get_string(lines[n - 1], "demo"), "tour");
    ck_assert_str_eq(json_get_string(lines[n - 1], "result"), "ok");
    ck_assert_int_ge(results, 2);
    char want[64];
    snprintf(want, sizeof want, "%d stop%s ran", ok, ok == 1 ? "" : "s");
    ck_assert_msg(strstr(json_get_string(lines[n - 1], "reason"), want) != NULL,
                  "summary '%s' does not say '%s'", json_get_string(lines[n - 1], "reason"), want);
    free_json_lines(lines, n);
    run_result_free(&r);
}
END_TEST

START_TEST(tour_plain_names_each_stop)
{
    struct run_result r;
    const char *argv[] = {tour, "--color=never", NULL};
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    /* Every stop, in order, each followed by its demo's first step. */
    const char *at = strstr(r.out, "==== Stop 1 of ");
    ck_assert_ptr_nonnull(at);
    int stops = atoi(at + strlen("==== Stop 1 of "));
    ck_assert_int_ge(stops, 8);
    ck_assert_ptr_nonnull(strstr(at, "mmap-anon"));
    for (int i = 1; i <= stops; i++) {
        char header[48];
        snprintf(header, sizeof header, "==== Stop %d of %d: ", i, stops);
        const char *next = strstr(at, header);
        ck_assert_msg(next != NULL, "no '%s' after stop %d", header, i - 1);
        at = next + strlen(header);
    }
    ck_assert_ptr_nonnull(strstr(r.out, "[1/"));
    run_result_free(&r);
}
END_TEST

START_TEST(tour_refuses_arguments)
{
    struct run_result r;
    const char *argv[] = {tour, "--size", "4K", NULL};
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_int_eq(count_lines(r.err), 2);
    run_result_free(&r);
    /* --predict without a terminal (stdin is /dev/null): a usage error before
     * any stop, not one failure per demo. */
    const char *predict[] = {tour, "--predict", NULL};
    ck_assert_int_eq(run_program(predict, RUN_AS_SELF, &r), 0);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_int_eq(count_lines(r.err), 2);
    ck_assert_ptr_null(strstr(r.out, "Stop 1"));
    run_result_free(&r);
}
END_TEST

int main(void)
{
    snprintf(tour, sizeof tour, "%s/tour", demo_dir());
    Suite *s = suite_create("tour");
    TCase *tc = tcase_create("tour");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tour_json_is_all_json);
    tcase_add_test(tc, tour_plain_names_each_stop);
    tcase_add_test(tc, tour_refuses_arguments);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
