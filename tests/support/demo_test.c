/* SPDX-License-Identifier: MIT */
/* demo_test: helpers shared by the demo tests. */
#define _GNU_SOURCE
#include "demo_test.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"
#include "suite.h"
#include "sysctl.h"

enum run_as demo_test_run_as(int argc, char **argv, const char *test)
{
    if (argc < 2 || strcmp(argv[1], "nobody") != 0)
        return RUN_AS_SELF;
    if (geteuid() != 0) {
        fprintf(stderr, "%s nobody: needs root to drop to uid 65534\n", test);
        exit(77);
    }
    return RUN_AS_NOBODY;
}

enum run_as demo_test_run_as_if_root(int argc, char **argv)
{
    bool nobody = argc > 1 && strcmp(argv[1], "nobody") == 0 && geteuid() == 0;
    return nobody ? RUN_AS_NOBODY : RUN_AS_SELF;
}

const char *demo_program(const char *name, enum run_as as)
{
    static char paths[8][PATH_MAX];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, PATH_MAX, "%s/%s", demo_dir(), name);
    if (as == RUN_AS_NOBODY) {
        /* Called from main(), outside any test: no Check assertion here. */
        const char *copy = copy_for_nobody(path);
        if (!copy) {
            fprintf(stderr, "cannot copy %s to a directory uid 65534 may enter\n", path);
            exit(EXIT_FAILURE);
        }
        snprintf(path, PATH_MAX, "%s", copy);
    }
    return path;
}

void demo_run_json(struct demo_run *d, const char *program, enum run_as as, const char *const args[])
{
    const char *argv[32] = {program, "--json"};
    int argc = 2;
    for (; args && *args && argc < 31; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    ck_assert_int_eq(run_program(argv, as, &d->r), 0);
    ck_assert_msg(d->r.signal == 0, "%s died of signal %d: %s", program, d->r.signal, d->r.err);
    char err[512];
    d->n = parse_json_lines(d->r.out, d->lines, DEMO_MAX_LINES, err, sizeof err);
    ck_assert_msg(d->n >= 0, "%s: %s", program, err);
}

void demo_run_free(struct demo_run *d)
{
    free_json_lines(d->lines, d->n);
    run_result_free(&d->r);
}

const struct json *demo_step(const struct demo_run *d, int step)
{
    for (int i = 0; i < d->n; i++) {
        int64_t s;
        if (json_get_int(d->lines[i], "step", &s) && s == step)
            return d->lines[i];
    }
    ck_abort_msg("no step %d in the output (exit %d): %s", step, d->r.exit_code, d->r.err);
    return NULL;
}

const struct json *demo_result(const struct demo_run *d)
{
    ck_assert_msg(d->n > 0, "no output at all (exit %d): %s", d->r.exit_code, d->r.err);
    const struct json *last = d->lines[d->n - 1];
    ck_assert_msg(json_get_string(last, "result") != NULL, "the last line is not a result line");
    return last;
}

int64_t jint(const struct json *o, const char *path)
{
    int64_t v;
    ck_assert_msg(json_get_int(o, path, &v), "no integer at %s", path);
    return v;
}

const char *jstr(const struct json *o, const char *path)
{
    const char *s = json_get_string(o, path);
    ck_assert_msg(s != NULL, "no string at %s", path);
    return s;
}

bool jnull(const struct json *o, const char *path)
{
    const struct json *v = json_path(o, path);
    return v && v->type == JSON_NULL;
}

void check_bad_input(const char *program, const char *demo, const char *const args[],
                     const char *names)
{
    const char *argv[16] = {program};
    int argc = 1;
    for (; args && *args && argc < 14; args++)
        argv[argc++] = *args;
    argv[argc++] = "--json";
    argv[argc] = NULL;
    struct run_result r;
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    ck_assert_msg(r.exit_code == 2, "%s %s: exit %d, stderr: %s", demo, argv[1], r.exit_code, r.err);
    ck_assert_msg(r.out_len == 0, "%s %s: stdout not empty: %s", demo, argv[1], r.out);
    ck_assert_msg(count_lines(r.err) == 2, "%s %s: want an error line and a usage line: %s", demo,
                  argv[1], r.err);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: ", demo);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "%s", r.err);
    const char *nl = strchr(r.err, '\n');
    ck_assert_msg(memmem(r.err, (size_t)(nl - r.err), names, strlen(names)) != NULL,
                  "%s: error line does not name '%s': %s", demo, names, r.err);
    snprintf(prefix, sizeof prefix, "Usage: %s", demo);
    ck_assert_msg(strncmp(nl + 1, prefix, strlen(prefix)) == 0, "%s", r.err);
    run_result_free(&r);
}

/* What add_bad_input_tests was given: the tests run after main() set it,
 * in a fork of it (or in it, CK_FORK=no). */
static struct {
    const char *program, *demo;
    const struct bad_case *cases;
} bad_input;

START_TEST(bad_input_exits_2)
{
    const struct bad_case *c = &bad_input.cases[_i];
    check_bad_input(bad_input.program, bad_input.demo, c->args, c->names);
}
END_TEST

void add_bad_input_tests(TCase *tc, const char *program, const char *demo,
                         const struct bad_case *cases, int n)
{
    bad_input.program = program;
    bad_input.demo = demo;
    bad_input.cases = cases;
    tcase_add_loop_test(tc, bad_input_exits_2, 0, n);
}

void demo_test_skip_if_77(const char *program, const char *who)
{
    struct run_result r;
    const char *argv[] = {program, "--json", NULL};
    if (run_program(argv, RUN_AS_SELF, &r) == 0 && r.exit_code == 77) {
        fprintf(stderr, "%s: the demo cannot run here: %s", who, r.out);
        run_result_free(&r);
        exit(77);
    }
    run_result_free(&r);
}

int demo_test_exit(Suite *s, const char *program, enum run_as as)
{
    int failed = run_suite(s);
    if (as == RUN_AS_NOBODY)
        remove_copy(program);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

uint64_t meminfo(const char *key)
{
    struct procfs_want w = {key, 0, false};
    ck_assert_int_eq(procfs_read_keyed("/proc/meminfo", &w, 1), PROCFS_OK);
    ck_assert_msg(w.present, "%s is absent from /proc/meminfo", key);
    return w.value;
}

uint64_t vm(const char *name)
{
    uint64_t v = 0;
    ck_assert_msg(procfs_read_vm_sysctl(name, &v) == PROCFS_OK, "cannot read /proc/sys/vm/%s", name);
    return v;
}

/* Also called from main(), outside any test: no Check assertion here. */
static uint64_t knob(const char *name)
{
    uint64_t v = 0;
    if (procfs_read_vm_sysctl(name, &v) != PROCFS_OK) {
        fprintf(stderr, "cannot read /proc/sys/vm/%s\n", name);
        exit(EXIT_FAILURE);
    }
    return v;
}

void knobs_read(struct knobs *k)
{
    k->overcommit_memory = knob("overcommit_memory");
    k->overcommit_ratio = knob("overcommit_ratio");
    k->overcommit_kbytes = knob("overcommit_kbytes");
    k->nr_hugepages = knob("nr_hugepages");
}

bool knobs_equal(const struct knobs *a, const struct knobs *b)
{
    return a->overcommit_memory == b->overcommit_memory &&
           a->overcommit_ratio == b->overcommit_ratio &&
           a->overcommit_kbytes == b->overcommit_kbytes && a->nr_hugepages == b->nr_hugepages;
}

void knobs_restore(const struct knobs *k)
{
    /* Under the vmlab lock, which a run holds for as long as it has a knob
     * changed: what is read here is then no run's change, and none is
     * written over. Without a usable lock directory no run can hold it. */
    int lock = sysctl_lock(10);
    if (lock < 0 && errno == EWOULDBLOCK) {
        fprintf(stderr, "another vmlab run has held the vmlab lock for 10 s: this test does not "
                        "write over its values\n");
        return;
    }
    struct knobs now;
    knobs_read(&now);
    if (now.overcommit_memory != k->overcommit_memory)
        sysctl_write("overcommit_memory", k->overcommit_memory);
    if (now.overcommit_kbytes != k->overcommit_kbytes || now.overcommit_ratio != k->overcommit_ratio) {
        if (k->overcommit_kbytes)
            sysctl_write("overcommit_kbytes", k->overcommit_kbytes);
        else
            sysctl_write("overcommit_ratio", k->overcommit_ratio);
    }
    if (now.nr_hugepages != k->nr_hugepages)
        sysctl_write("nr_hugepages", k->nr_hugepages);
    if (lock >= 0)
        close(lock);
}
