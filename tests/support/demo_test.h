/* SPDX-License-Identifier: MIT */
/* demo_test: what every demo test does - run a demo, read its JSON Lines,
 * look up facts, check the usage-error contract - with Check assertions that
 * name what was missing. Expected values always come from the test itself. */
#ifndef VMLAB_TEST_DEMO_TEST_H
#define VMLAB_TEST_DEMO_TEST_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "json.h"
#include "run.h"

#define DEMO_MAX_LINES 256

struct demo_run {
    struct run_result r;
    struct json *lines[DEMO_MAX_LINES];
    int n;
};

/* Whom a demo test runs its demo as, from its first argument: "nobody" is
 * uid 65534, which only root can drop to (else this exits 77, saying so);
 * anything else, the current user. */
enum run_as demo_test_run_as(int argc, char **argv, const char *test);

/* The same, for a test whose "nobody" run, without root, is its plain run
 * again (as the current user) rather than a skip. */
enum run_as demo_test_run_as_if_root(int argc, char **argv);

/* Path of a built demo; for RUN_AS_NOBODY a copy any user can execute. */
const char *demo_program(const char *name, enum run_as as);

/* Runs program --json args...; asserts that stdout is JSON Lines. */
void demo_run_json(struct demo_run *d, const char *program, enum run_as as, const char *const args[]);
void demo_run_free(struct demo_run *d);

/* The object of step N; the final result line. Assert they exist. */
const struct json *demo_step(const struct demo_run *d, int step);
const struct json *demo_result(const struct demo_run *d);

int64_t jint(const struct json *o, const char *path);
const char *jstr(const struct json *o, const char *path);
bool jnull(const struct json *o, const char *path);

/* Asserts the usage-error contract: exit 2, nothing on stdout, one error
 * line "DEMO: ..." naming `names`, then a "Usage: DEMO" line. */
void check_bad_input(const char *program, const char *demo, const char *const args[],
                     const char *names);

/* One bad command line (NULL-terminated) and what its error line must name. */
struct bad_case {
    const char *args[6];
    const char *names;
};
/* Adds to tc one test per case, each check_bad_input(program, demo, ...):
 * the usage-error table most demo tests have. Once per test program. */
void add_bad_input_tests(TCase *tc, const char *program, const char *demo,
                         const struct bad_case *cases, int n);
/* The same, for a table whose size the caller's compiler knows. */
#define ADD_BAD_INPUT_TESTS(tc, program, demo, cases)                                             \
    add_bad_input_tests(tc, program, demo, cases, (int)(sizeof(cases) / sizeof((cases)[0])))

/* When the demo, run plainly with --json, exits 77 (it cannot show its
 * lesson on this build or machine): says so as `who` and exits 77 itself.
 * From main(), before any test. */
void demo_test_skip_if_77(const char *program, const char *who);

/* The end of a demo test's main(): runs the suite, removes the copy of the
 * demo made for RUN_AS_NOBODY, and gives main's exit status. */
int demo_test_exit(Suite *s, const char *program, enum run_as as);

/* A /proc/meminfo field and a /proc/sys/vm value, asserted present. */
uint64_t meminfo(const char *key);
uint64_t vm(const char *name);

/* /proc/sys/vm knobs a demo may change: read them, put them back. */
struct knobs {
    uint64_t overcommit_memory, overcommit_ratio, overcommit_kbytes, nr_hugepages;
};
void knobs_read(struct knobs *k);
bool knobs_equal(const struct knobs *a, const struct knobs *b);
/* Writes back whatever differs, under the vmlab lock: the test's own
 * safety net, which never writes over a vmlab run's change. */
void knobs_restore(const struct knobs *k);

#endif
