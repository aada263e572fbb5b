/* SPDX-License-Identifier: MIT */
/* Every program run as an unprivileged user (uid 65534; root drops to it,
 * anyone else already is): it shows its lesson (exit 0) or says why it
 * cannot here and what would enable it (exit 77) - never a crash, never a
 * change to /proc/sys/vm, never a cgroup made. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_test.h"
#include "suite.h"

static const char *const programs[] = {"mmap-anon", "mincore-residency", "map-noreserve",
                                       "overcommit-modes", "hugetlb-reserve", "protnone-dirty",
                                       "segv-pgfault", "kernel-address", "oom-killer-try", "malloc-brk", "malloc-free",
                                       "stack-growth", "fork-cow", "vfork-spawn", "page-walk",
                                       "page-cache", "page-writeback", "mlock-pages", "madvise-pages", "fault-cost",
                                       "huge-fault-cost", "tour"};
#define NPROGRAMS (sizeof programs / sizeof programs[0])

struct run {
    const char *program;
    const char *args[3];
};

static const struct run runs[] = {
    {"mmap-anon", {NULL}},
    {"mmap-anon", {"--thp"}},
    {"mincore-residency", {NULL}},
    {"mincore-residency", {"--file", "/etc/passwd"}},
    {"map-noreserve", {NULL}},
    {"overcommit-modes", {NULL}},
    {"hugetlb-reserve", {NULL}},
    {"hugetlb-reserve", {"--setup", "2"}},
    {"protnone-dirty", {NULL}},
    {"segv-pgfault", {"--all"}},
    {"kernel-address", {"--all"}},
    {"oom-killer-try", {NULL}},
    {"malloc-brk", {NULL}},
    {"malloc-free", {NULL}},
    {"stack-growth", {NULL}},
    {"fork-cow", {NULL}},
    {"vfork-spawn", {NULL}},
    {"page-walk", {NULL}},
    {"page-cache", {NULL}},
    {"page-writeback", {NULL}},
    {"page-writeback", {"--drop-caches"}},
    {"mlock-pages", {NULL}},
    {"madvise-pages", {NULL}},
    {"fault-cost", {"--quick"}},
    {"huge-fault-cost", {"--quick"}},
    {"tour", {NULL}},
};
#define NRUNS (sizeof runs / sizeof runs[0])

static char dir[PATH_MAX - 64];   /* every program copied here, so the tour finds them */
static enum run_as as = RUN_AS_SELF;

/* The vmlab-PID cgroups that exist now, as one string to compare. */
static void cgroups_now(char *out, size_t len)
{
    static const char *const parents[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    out[0] = '\0';
    for (size_t p = 0; p < 2; p++) {
        DIR *d = opendir(parents[p]);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL)
            if (strncmp(e->d_name, "vmlab-", 6) == 0) {
                size_t used = strlen(out);
                snprintf(out + used, len - used, "%s ", e->d_name);
            }
        if (d)
            closedir(d);
    }
}

START_TEST(lesson_or_reason)
{
    const struct run *r = &runs[_i];
    char path[PATH_MAX], before_cg[4096], after_cg[4096];
    snprintf(path, sizeof path, "%s/%s", dir, r->program);
    struct knobs before, after;
    knobs_read(&before);
    cgroups_now(before_cg, sizeof before_cg);
    struct demo_run d;
    demo_run_json(&d, path, as, r->args);
    knobs_read(&after);
    cgroups_now(after_cg, sizeof after_cg);
    knobs_restore(&before);
    const char *what = r->args[0] ? r->args[0] : "";
    ck_assert_msg(d.r.exit_code == 0 || d.r.exit_code == 77, "%s %s: exit %d: %s", r->program,
                  what, d.r.exit_code, d.r.err);
    ck_assert_msg(!strstr(d.r.err, "Sanitizer") && !strstr(d.r.err, "runtime error"), "%s", d.r.err);
    const char *result = jstr(demo_result(&d), "result");
    ck_assert_str_eq(result, d.r.exit_code == 0 ? "ok" : "skip");
    if (d.r.exit_code == 77) {
        /* the reason says what would make it work */
        const char *reason = jstr(demo_result(&d), "reason");
        ck_assert_msg(strstr(reason, "root") || strstr(reason, "sudo") || strstr(reason, "echo") ||
                      strstr(reason, "cmake"),
                      "%s %s: the reason names no way to enable it: %s", r->program, what, reason);
    }
    ck_assert_msg(knobs_equal(&before, &after), "%s %s changed /proc/sys/vm", r->program, what);
    ck_assert_msg(strcmp(before_cg, after_cg) == 0, "%s %s left cgroups: %s", r->program, what, after_cg);
    demo_run_free(&d);
}
END_TEST

/* A stop that cannot run without root names the command that would run it,
 * as one the student can type where they are: the tour, started by its path
 * (as after the README's build), names each stop by its path, never by a bare
 * name or `vmlab NAME`, which are not on PATH before an install. */
START_TEST(tour_names_commands_that_run_here)
{
    char tour[PATH_MAX];
    snprintf(tour, sizeof tour, "%s/tour", dir);
    struct run_result r;
    ck_assert_int_eq(run_program((const char *const[]){tour, "--color=never", NULL}, as, &r), 0);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    int commands = 0;
    for (const char *at = strstr(r.err, "sudo "); at; at = strstr(at + 1, "sudo ")) {
        char word[PATH_MAX] = "";
        ck_assert_int_eq(sscanf(at + 5, "%4095[^ ,;\n]", word), 1);
        ck_assert_msg(word[0] == '/' && access(word, X_OK) == 0,
                      "'%s' is not a program here: %.120s", word, at);
        commands++;
    }
    if (geteuid() == 0) /* as nobody: overcommit-modes and hugetlb-reserve --setup 2 at least */
        ck_assert_msg(commands >= 2, "no command named: %s", r.err);
    run_result_free(&r);
}
END_TEST

int main(void)
{
    if (geteuid() == 0)
        as = RUN_AS_NOBODY;
    const char *first = demo_program(programs[0], as); /* makes the directory */
    snprintf(dir, sizeof dir, "%s", first);
    *strrchr(dir, '/') = '\0';
    for (size_t i = 1; i < NPROGRAMS; i++) {
        char src[PATH_MAX];
        snprintf(src, sizeof src, "%s/%s", demo_dir(), programs[i]);
        if (as == RUN_AS_NOBODY && !copy_program_into(dir, src)) {
            fprintf(stderr, "cannot copy %s\n", src);
            return EXIT_FAILURE;
        }
    }
    Suite *s = suite_create("unprivileged");
    TCase *tc = tcase_create("every program");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, lesson_or_reason, 0, (int)NRUNS);
    tcase_add_test(tc, tour_names_commands_that_run_here);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    if (as == RUN_AS_NOBODY) {
        for (size_t i = 0; i < NPROGRAMS; i++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dir, programs[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
