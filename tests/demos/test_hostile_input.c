/* SPDX-License-Identifier: MIT */
/* Every program against hostile command lines: empty strings, negative and
 * zero values, floats, hex, numbers past 64 bits, absurd sizes, unknown
 * suffixes and options, repeated options, missing values, a 64 KiB argument,
 * bytes that are not UTF-8. Each must end with exit status 2, one error line
 * that names the problem and one usage line on stderr, nothing on stdout
 * (even with --json), no signal, no sanitizer report. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_test.h"
#include "suite.h"

struct program {
    const char *name;
    const char *const options[6];   /* options that take a number or size */
    const char *valid_zero;          /* an option for which "0" is a valid value */
    bool positional;                 /* hostile values also as the first argument */
};

static const struct program programs[] = {
    {"mmap-anon", {"--size"}, NULL, false},
    {"mincore-residency", {"--pages"}, NULL, false},
    {"map-noreserve", {"--size", "--fit-size"}, NULL, false},
    {"overcommit-modes", {"--size", "--fit-size"}, NULL, false},
    {"hugetlb-reserve", {"--setup"}, NULL, false},
    {"protnone-dirty", {"--pages"}, NULL, false},
    {"segv-pgfault", {NULL}, NULL, true},
    {"kernel-address", {NULL}, NULL, true},
    {"oom-killer-try", {"--limit", "--block", "--oom-score-adj", "--timeout"}, "--oom-score-adj", true},
    {"page-walk", {"--gib"}, NULL, false},
    {"page-cache", {"--dir"}, NULL, false},
    {"page-writeback", {"--dir"}, NULL, false},
    {"tour", {NULL}, NULL, false},
};
#define NPROGRAMS (sizeof programs / sizeof programs[0])

static char long_value[64 * 1024 + 1];
static char long_option[64 * 1024 + 3];

static const char *const values[] = {
    "", "-1", "0", "1e3", "0x", "0x10", "18446744073709551616", "99999999T", "1.5M", "12Q", "4KiB",
    " 8", long_value, "\xff\xfe\x80",
};
#define NVALUES (sizeof values / sizeof values[0])

struct hostile {
    const struct program *program;
    const char *args[4];
    const char *names;   /* the error line must contain this */
};

static struct hostile cases[512];
static int ncases;

static void add(const struct program *p, const char *a, const char *b, const char *c, const char *names)
{
    struct hostile *h = &cases[ncases++];
    h->program = p;
    h->args[0] = a;
    h->args[1] = b;
    h->args[2] = c;
    h->args[3] = NULL;
    h->names = names;
}

static void build_cases(void)
{
    memset(long_value, '9', sizeof long_value - 1);
    long_option[0] = long_option[1] = '-';
    memset(long_option + 2, 'x', sizeof long_option - 3);
    for (size_t p = 0; p < NPROGRAMS; p++) {
        const struct program *pr = &programs[p];
        for (size_t o = 0; o < 6 && pr->options[o]; o++) {
            for (size_t v = 0; v < NVALUES; v++) {
                if (pr->valid_zero && strcmp(pr->valid_zero, pr->options[o]) == 0 &&
                    strcmp(values[v], "0") == 0)
                    continue;
                /* "-1" after an option is its value, as getopt reads it */
                add(pr, pr->options[o], values[v], NULL, pr->options[o]);
            }
            add(pr, pr->options[o], NULL, NULL, pr->options[o]);                 /* missing value */
            add(pr, pr->options[o], "16", pr->options[o], pr->options[o]);       /* repeated */
        }
        /* As the first argument: a case name for segv-pgfault and kernel-address,
         * a COUNT for oom-killer-try. ("-1" would be read as an option: covered below.) */
        bool by_case = strcmp(pr->name, "segv-pgfault") == 0 ||
                       strcmp(pr->name, "kernel-address") == 0;
        for (size_t v = 0; pr->positional && v < NVALUES; v++)
            if (values[v][0] != '-')
                add(pr, values[v], NULL, NULL, by_case ? "is not a case" : "COUNT");
        if (pr->positional && by_case)
            add(pr, strcmp(pr->name, "segv-pgfault") == 0 ? "u" : "k", "r", "x", "too many");
        else if (pr->positional)
            add(pr, "1", "1", "2", "VERBOSE");
        add(pr, "--nope", NULL, NULL, "--nope");
        add(pr, "--json", NULL, NULL, "--json");          /* the runner adds one --json: twice */
        add(pr, "--color", NULL, NULL, "--color");
        add(pr, "--color=", NULL, NULL, "--color");
        add(pr, "--color=sometimes", NULL, NULL, "--color");
        add(pr, long_option, NULL, NULL, "--xxxx");
        add(pr, "--\xff", NULL, NULL, "\\xff");
        add(pr, "--json=1", NULL, NULL, "takes no value");
        add(pr, "-x", NULL, NULL, "unknown option '-x'");
    }
}

START_TEST(hostile)
{
    const struct hostile *h = &cases[_i];
    const char *argv[8] = {demo_program(h->program->name, RUN_AS_SELF)};
    int argc = 1;
    for (int i = 0; i < 3 && h->args[i]; i++)
        argv[argc++] = h->args[i];
    argv[argc++] = "--json";
    argv[argc] = NULL;
    struct run_result r;
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    char what[96];
    snprintf(what, sizeof what, "%s %.20s %.20s", h->program->name, h->args[0],
             h->args[1] ? h->args[1] : "");
    ck_assert_msg(r.signal == 0, "%s: killed by signal %d", what, r.signal);
    ck_assert_msg(!strstr(r.err, "Sanitizer") && !strstr(r.err, "runtime error"), "%s: %s", what, r.err);
    ck_assert_msg(r.exit_code == 2, "%s: exit %d, stderr: %.300s", what, r.exit_code, r.err);
    ck_assert_msg(r.out_len == 0, "%s: stdout: %.200s", what, r.out);
    ck_assert_msg(count_lines(r.err) == 2, "%s: want 2 lines on stderr: %.400s", what, r.err);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: ", h->program->name);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "%s: %.300s", what, r.err);
    const char *nl = strchr(r.err, '\n');
    ck_assert_msg(nl - r.err < 300, "%s: the error line is %ld bytes long", what, (long)(nl - r.err));
    ck_assert_msg(memmem(r.err, (size_t)(nl - r.err), h->names, strlen(h->names)) != NULL,
                  "%s: the error line does not name '%s': %.300s", what, h->names, r.err);
    snprintf(prefix, sizeof prefix, "Usage: %s", h->program->name);
    ck_assert_msg(strncmp(nl + 1, prefix, strlen(prefix)) == 0, "%s: %.300s", what, r.err);
    run_result_free(&r);
}
END_TEST

int main(void)
{
    build_cases();
    Suite *s = suite_create("hostile input");
    TCase *tc = tcase_create("every program");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, hostile, 0, ncases);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
