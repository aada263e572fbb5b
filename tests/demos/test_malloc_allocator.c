/* SPDX-License-Identifier: MIT */
/* Demo tests for malloc-brk --allocator and malloc-free --allocator (the
 * demo is argv[1]): the child that runs the same steps under LD_PRELOAD of
 * another malloc, judged from outside. The demo runs
 * with --step --json on a pseudo-terminal; at every pause we read the
 * child's /proc/PID/maps and status ourselves: the preloaded library is
 * mapped there, the child's VmSize and [heap] are what the other_ rows say,
 * and each block is where the demo says (a new mapping, one the child had
 * before the step, or [heap]) by our own reading of its maps before and
 * after the step. Also: a bad PATH exits 2, a name whose library is missing
 * exits 77 with the apt line, and the --json output follows the schema.
 * Needs libjemalloc2 or libmimalloc2.0 (sh tests/ensure-deps.sh test);
 * without either it exits 77 and says so. */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson_checks.h"
#include "observe.h"
#include "suite.h"

static const char *program, *demo; /* demo: "malloc-brk" or "malloc-free" */

/* Debian puts them next to libc (/usr/lib/<multiarch>); the test finds that
 * directory itself, from where its own libc is mapped, not from the demo. */
static const struct { const char *name, *file, *package; } libs[] = {
    {"jemalloc", "libjemalloc.so.2", "libjemalloc2"},
    {"mimalloc", "libmimalloc.so.2", "libmimalloc2.0"},
};
static char lib_path[2][PATH_MAX + 32];
static bool installed[2];

static void find_libs(void)
{
    Dl_info at = {0};
    char dir[PATH_MAX] = "/usr/lib";
    void *in_libc = dlsym(RTLD_DEFAULT, "gnu_get_libc_version");
    if (in_libc && dladdr(in_libc, &at) && at.dli_fname && strrchr(at.dli_fname, '/')) {
        snprintf(dir, sizeof dir, "%s%s", strncmp(at.dli_fname, "/usr/", 5) ? "/usr" : "",
                 at.dli_fname);
        *strrchr(dir, '/') = '\0';
    }
    for (int i = 0; i < 2; i++) {
        snprintf(lib_path[i], sizeof lib_path[i], "%s/%s", dir, libs[i].file);
        installed[i] = access(lib_path[i], R_OK) == 0;
    }
}

#define MAX_VMAS 512
struct child_seen {          /* our reading of the child at one pause */
    int64_t vm_size, heap_size;
    struct vma vmas[MAX_VMAS];
    int nvmas;
    bool has_library;
};

static void read_child(pid_t pid, const char *library, struct child_seen *c)
{
    char path[64], line[512];
    c->vm_size = observe_status(pid, "VmSize");
    c->heap_size = 0;
    c->nvmas = 0;
    c->has_library = false;
    snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f) && c->nvmas < MAX_VMAS) {
        unsigned long long s, e;
        int used = 0;
        if (sscanf(line, "%llx-%llx %*s %*s %*s %*s%n", &s, &e, &used) < 2)
            continue;
        struct vma *v = &c->vmas[c->nvmas++];
        v->start = (uintptr_t)s;
        v->end = (uintptr_t)e;
        const char *name = line + used;
        while (*name == ' ')
            name++;
        snprintf(v->name, sizeof v->name, "%.*s", (int)strcspn(name, "\n"), name);
        if (strcmp(v->name, library) == 0)
            c->has_library = true;
        if (strcmp(v->name, "[heap]") == 0)
            c->heap_size = (int64_t)(e - s) / 1024;
    }
    fclose(f);
}

static const struct vma *covering(const struct child_seen *c, uintptr_t at)
{
    for (int i = 0; i < c->nvmas; i++)
        if (at >= c->vmas[i].start && at < c->vmas[i].end)
            return &c->vmas[i];
    return NULL;
}

static bool heap_1m; /* step malloc_1m's block is in the child's [heap], by our reading */

/* Step N's claims about the child, against our readings at the pauses
 * before (b) and after (a) it. */
static void check_other(const struct json *st, const struct child_seen *b,
                        const struct child_seen *a)
{
    const char *id = jstr(st, "id");
    assert_sentences_rest_on_findings(st);
    ck_assert_msg(a->has_library, "%s: the library is not in the child's maps", id);
    ck_assert_int_eq(jint(st, "after.other_VmSize_kB"), a->vm_size);
    ck_assert_int_eq(jint(st, "after.other_heap_Size_kB"), a->heap_size);
    const char *pointer = json_get_string(st, "facts.other_pointer");
    if (json_path(st, "facts.other_usable_bytes") && pointer) {
        uintptr_t at = hex_fact(st, "facts.other_pointer", false);
        const struct vma *now = covering(a, at), *then = covering(b, at);
        ck_assert_msg(now != NULL, "%s: no mapping of the child holds %s", id, pointer);
        bool heap = strcmp(now->name, "[heap]") == 0;
        ck_assert_int_eq(held(st, "other_inside_earlier_mapping"), !heap && then != NULL);
        ck_assert_int_eq(held(st, "other_new_mapping"), !heap && then == NULL);
        bool said_heap = held(st, "other_from_heap_break_moved") ||
                         held(st, "other_from_heap_no_brk");
        ck_assert_int_eq(said_heap, heap);
        ck_assert_int_eq(hex_fact(st, "facts.other_maps", false), now->start);
        if (strcmp(id, "malloc_1m") == 0)
            heap_1m = heap;
        /* glibc's dynamic threshold would move the second 1 MiB into [heap]: it did not */
        if (strcmp(id, "again_1m") == 0)
            ck_assert_int_eq(held(st, "other_no_dynamic_threshold"), heap == heap_1m);
    }
    if (strncmp(id, "free", 4) == 0) { /* what free gave back, by VmSize as we read it */
        ck_assert_int_eq(held(st, "other_free_unmapped"), a->vm_size < b->vm_size);
        ck_assert(held(st, "other_free_unmapped") || held(st, "other_free_gave_memory") ||
                  held(st, "other_free_kept"));
    }
    /* The calls that are glibc's, whatever serves malloc. */
    if (strcmp(id, "again_1m") == 0) /* neither jemalloc nor mimalloc moved it */
        ck_assert(held(st, "other_no_dynamic_threshold"));
    if (strcmp(id, "fixed_threshold") == 0)
        ck_assert(held(st, "other_mallopt_is_glibcs"));
    if (strcmp(id, "fill_heap") == 0) {
        ck_assert(held(st, "other_mallinfo2_is_glibcs"));
        ck_assert_int_lt(jint(st, "facts.other_mallinfo2_uordblks_kB"), 1024);
    }
    if (strcmp(id, "trim") == 0)
        ck_assert(held(st, "other_malloc_trim_is_glibcs"));
}

struct walk {
    const char *library;
    pid_t child;                     /* the demo's one child, read from /proc */
    struct child_seen seen[40];
};

/* The demo's only child, as /proc lists it (the child exists before step 1). */
static pid_t only_child(pid_t parent)
{
    char path[96];
    long kid = 0, more = 0;
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)parent, (long)parent);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    int got = fscanf(f, "%ld %ld", &kid, &more);
    fclose(f);
    ck_assert_msg(got == 1, "%s: %d children", path, got);
    return (pid_t)kid;
}

/* At the pause before step `next`: the child as we read it now, and step
 * next - 1's claims about it. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    struct walk *w = ctx;
    ck_assert_int_lt(next, 40);
    if (next == 1)
        w->child = only_child(stepper_pid(s));
    if (next == 2) { /* step 1 names the child and the library serving its malloc */
        ck_assert(held(ended, "other_allocator_serves_malloc"));
        ck_assert_str_eq(jstr(ended, "facts.other_malloc_from"), w->library);
        ck_assert_int_eq(jint(ended, "facts.other_pid"), w->child);
    }
    read_child(w->child, w->library, &w->seen[next]);
    if (next > 2)
        check_other(ended, &w->seen[next - 1], &w->seen[next]);
}

START_TEST(child_observed)
{
    if (!installed[_i]) {
        fprintf(stderr, "test_malloc_allocator: %s: %s is not installed; apt-get install %s\n",
                demo, libs[_i].name, libs[_i].package);
        return;
    }
    char library[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(lib_path[_i], library));
    const char *argv[] = {program, "--step", "--json", "--allocator", libs[_i].name, NULL};
    struct stepper s;
    static struct walk w; /* static: the readings are large */
    memset(&w, 0, sizeof w);
    w.library = library;
    ck_assert_int_eq(lesson_step_through(&s, argv, at_pause, &w), 9);
    lesson_assert_ok_end(&s);
    ck_assert_msg(w.child > 0 && kill(w.child, 0) != 0, "the child %ld outlived the demo",
                  (long)w.child);
}
END_TEST

START_TEST(bad_path_exits_2)
{
    check_bad_input(program, demo,
                    (const char *const[]){"--allocator", "/no/such/lib.so", NULL}, "--allocator");
    check_bad_input(program, demo,
                    (const char *const[]){"--allocator", VMLAB_DEMO_SOURCE, NULL},
                    "not a shared library");
    /* A real shared library that is not an allocator: the child's malloc is
     * still libc's, which the demo measures and refuses. */
    Dl_info libm;
    ck_assert(dladdr((void *)cos, &libm) && libm.dli_fname);
    check_bad_input(program, demo,
                    (const char *const[]){"--allocator", libm.dli_fname, NULL},
                    "does not replace malloc");
}
END_TEST

START_TEST(missing_library_exits_77)
{
    /* The names are looked up in VMLAB_ALLOCATOR_DIR when it is set. */
    setenv("VMLAB_ALLOCATOR_DIR", "/nonexistent-vmlab-dir", 1);
    struct run_result r;
    const char *argv[] = {program, "--json", "--allocator", libs[_i].name, NULL};
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    ck_assert_msg(r.exit_code == 77, "exit %d: %s", r.exit_code, r.err);
    char apt[64];
    snprintf(apt, sizeof apt, "apt-get install %s\"", libs[_i].package);
    ck_assert_msg(strstr(r.out, "\"result\":\"skip\"") && strstr(r.out, apt), "%s", r.out);
    run_result_free(&r);
    unsetenv("VMLAB_ALLOCATOR_DIR");
}
END_TEST

START_TEST(json_follows_schema)
{
    if (!installed[_i])
        return;
    if (system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null") != 0) {
        fprintf(stderr, "test_malloc_allocator: %s: no python3-jsonschema, schema not checked\n",
                demo);
        return;
    }
    char command[PATH_MAX * 3];
    snprintf(command, sizeof command, "'%s' --json --allocator %s </dev/null | /usr/bin/python3 "
             "'%s' '%s' %s", program, libs[_i].name, VMLAB_VALIDATE, VMLAB_SCHEMA, demo);
    ck_assert_int_eq(system(command), 0);
}
END_TEST

int main(int argc, char **args)
{
    demo = argc > 1 ? args[1] : "malloc-brk";
    program = demo_program(demo, RUN_AS_SELF);
    char who[64];
    snprintf(who, sizeof who, "test_malloc_allocator: %s", demo);
    demo_test_skip_if_77(program, who);
    find_libs();
    if (!installed[0] && !installed[1]) {
        fprintf(stderr, "test_malloc_allocator: %s: neither jemalloc nor mimalloc is installed: "
                        "apt-get install libjemalloc2 libmimalloc2.0\n", demo);
        return 77;
    }
    Suite *s = suite_create(demo);
    TCase *tc = tcase_create("allocator");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, child_observed, 0, 2);
    tcase_add_test(tc, bad_path_exits_2);
    tcase_add_loop_test(tc, missing_library_exits_77, 0, 2);
    tcase_add_loop_test(tc, json_follows_schema, 0, 2);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
