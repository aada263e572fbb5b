/* SPDX-License-Identifier: MIT */
/* Demo tests for madvise-pages, with the outside observer: the demo runs
 * with --step --json on a pseudo-terminal and, at every pause, this test
 * reads the process's smaps entry (Rss, LazyFree, Swap) and /proc/meminfo
 * SwapTotal itself, and holds the step's findings against that. The cgroup
 * steps run in a child of the demo: at the pause inside it, the child's own
 * smaps is read. Expected values come from these readings and the --size it
 * passes. /proc/vmstat's pglazyfreed, read around the pressure step, bounds
 * what the demo says the kernel took. A kernel before 5.14, which answers
 * MADV_POPULATE_WRITE with EINVAL, is played by a seccomp filter, and so is
 * a call that fails otherwise (ENOMEM), which leaves step 8 an empty region,
 * or, where MADV_DONTNEED is refused too, a full one.
 *
 *   test_madvise_pages           everything, as the current user
 *   test_madvise_pages nobody    as uid 65534: no cgroup step
 *   test_madvise_pages --populate-write-fails ERRNO PROGRAM ARGS...
 *                                runs PROGRAM with madvise(MADV_POPULATE_WRITE)
 *                                answering ERRNO (a number; EINVAL: as before
 *                                Linux 5.14)
 *   test_madvise_pages --dontneed-and-populate-write-fail ERRNO PROGRAM ARGS...
 *                                the same, and MADV_DONTNEED answers EPERM */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "demo_test.h"
#include "lesson_asserts.h"
#include "observe.h"
#include "procfs.h"
#include "suite.h"

static enum run_as run_as = RUN_AS_SELF;
static const char *program;
static int64_t page_kb;

#define SIZE_KB 1024

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

struct watch {
    pid_t pid;
    bool cgroup_not_run;    /* the cgroup's steps said "Not run" (no cgroup of its own) */
    uintptr_t p, a;         /* the lesson's mappings, from the maps facts */
    pid_t child;            /* the cgroup steps' process */
    char cgroup[512];
    int64_t marked_kb;      /* the child's Rss of a, read before "pressure" */
    int64_t lazy_kb;        /* the child's LazyFree of a, read then too */
    int64_t lazyfreed;      /* /proc/vmstat pglazyfreed, read then too */
    int64_t resident_kb;    /* Rss of p, read before "pageout" */
    int64_t lazy_resident_kb; /* LazyFree of p, read then too */
    int populate_errno;     /* how MADV_POPULATE_WRITE answers: 0, or an errno */
    bool dontneed_refused;  /* MADV_DONTNEED answers EPERM: nothing is freed */
};

static int64_t smaps(pid_t pid, uintptr_t at, const char *key)
{
    return observe_smaps(pid, at, key);
}

/* The child is in the cgroup the demo names, limited as it says. */
static void assert_child_in_cgroup(const struct watch *w)
{
    char path[600], line[256] = "";
    snprintf(path, sizeof path, "/proc/%ld/cgroup", (long)w->child);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    bool inside = false;
    const char *leaf = strrchr(w->cgroup, '/');
    while (leaf && fgets(line, sizeof line, f))
        inside = inside || strstr(line, leaf) != NULL;
    fclose(f);
    ck_assert_msg(inside, "the child is not in %s", w->cgroup);
}

/* The memory the cgroup is charged for, in kB (v2 memory.current, v1
 * memory.usage_in_bytes); -1 if neither can be read. */
static int64_t cgroup_usage_kb(const char *dir)
{
    static const char *const files[] = {"memory.current", "memory.usage_in_bytes"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[700];
        long long bytes;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "re");
        bool read = f && fscanf(f, "%lld", &bytes) == 1;
        if (f)
            fclose(f);
        if (read)
            return bytes / 1024;
    }
    return -1;
}

/* As the demo's cgroup (v2) or one above it says: memory.swap.max 0 there
 * (the nearest such in zero_dir), and whether any of them has the file. */
static bool swap_max_zero_above(pid_t pid, char *zero_dir, size_t len, bool *seen)
{
    char path[64], line[512], dir[800] = "";
    snprintf(path, sizeof path, "/proc/%ld/cgroup", (long)pid);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    bool v1_memory = false;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        v1_memory = v1_memory || strstr(line, ":memory:") != NULL;
        if (strncmp(line, "0::", 3) == 0)
            snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", strcmp(line + 3, "/") ? line + 3 : "");
    }
    fclose(f);
    *seen = false;
    if (v1_memory) /* the memory controller is v1's: no memory.swap.max */
        return false;
    while (dir[0]) {
        long long swap_max = -1;
        char file[840];
        snprintf(file, sizeof file, "%s/memory.swap.max", dir);
        FILE *m = fopen(file, "re");
        if (m) {
            *seen = true;
            if (fscanf(m, "%lld", &swap_max) != 1) /* "max" */
                swap_max = -1;
            fclose(m);
        }
        if (swap_max == 0) {
            snprintf(zero_dir, len, "%s", dir);
            return true;
        }
        char *slash = strrchr(dir, '/');
        if (strcmp(dir, "/sys/fs/cgroup") == 0 || !slash)
            break;
        *slash = '\0'; /* the parent */
    }
    return false;
}

/* pageout_kept_with_swap's reason, as this test reads the cgroups itself:
 * memory.swap.max 0 in the demo's cgroup or above it is named; where no
 * cgroup has the file (cgroup v1), no word of it. */
static void assert_swap_reason(pid_t pid, const struct json *st)
{
    char zero_dir[800] = "";
    bool seen, zero = swap_max_zero_above(pid, zero_dir, sizeof zero_dir, &seen);
    ck_assert_int_eq(finding_value(st, "pageout_kept_with_swap", "cgroup_swap_max_zero"), zero);
    if (!held(st, "pageout_kept_with_swap"))
        return;
    const char *note = jstr(st, "note");
    ck_assert_int_eq(strstr(note, "memory.swap.max") != NULL, seen);
    if (zero)
        ck_assert_ptr_nonnull(strstr(note, zero_dir));
}

/* A cgroup step that did not run: it says so, and ran no code. */
static bool cgroup_step_not_run(const struct json *st)
{
    if (!held(st, "not_run_without_cgroup"))
        return false;
    ck_assert_str_eq(jstr(st, "code"), "");
    ck_assert_msg(strncmp(jstr(st, "note"), "Not run: ", 9) == 0, "%s", jstr(st, "note"));
    return true;
}

static void check_step(struct watch *w, const struct json *st)
{
    assert_lesson_step(st);
    const char *id = jstr(st, "id");
    if ((strcmp(id, "free_in_cgroup") == 0 || strcmp(id, "pressure") == 0) &&
        cgroup_step_not_run(st)) {
        ck_assert_msg(strcmp(id, "pressure") != 0 || w->cgroup_not_run,
                      "pressure did not run, though free_in_cgroup did");
        w->cgroup_not_run = true;
    } else if (strcmp(id, "map") == 0) {
        w->p = stepper_maps_start(st);
        ck_assert(w->p != 0);
        ck_assert_int_eq(smaps(w->pid, w->p, "Size"), SIZE_KB);
        ck_assert_int_eq(smaps(w->pid, w->p, "Rss"), 0);
        ck_assert(held(st, "mapped_not_resident"));
    } else if (strcmp(id, "write_every_page") == 0) {
        ck_assert_int_eq(smaps(w->pid, w->p, "Rss"), SIZE_KB);
        ck_assert(held(st, "every_page_has_a_frame"));
    } else if (strcmp(id, "dontneed") == 0) {
        ck_assert_int_eq(smaps(w->pid, w->p, "Rss"), w->dontneed_refused ? SIZE_KB : 0);
        ck_assert_int_eq(smaps(w->pid, w->p, "Size"), SIZE_KB);
        ck_assert_int_eq(held(st, "dontneed_freed_now"), !w->dontneed_refused);
    } else if (strcmp(id, "free") == 0) {
        int64_t lazy = smaps(w->pid, w->p, "LazyFree");
        ck_assert_int_eq(smaps(w->pid, w->p, "Rss"), SIZE_KB);
        ck_assert_int_gt(lazy, 0);
        ck_assert_int_le(lazy, SIZE_KB);
        ck_assert(held(st, "free_only_marks"));
    } else if (strcmp(id, "free_in_cgroup") == 0) {
        /* The child waits at the pause before "pressure": read it. */
        w->child = (pid_t)jint(st, "facts.pid");
        w->a = stepper_maps_start(st);
        snprintf(w->cgroup, sizeof w->cgroup, "%s", jstr(st, "facts.cgroup"));
        ck_assert(w->child != w->pid && w->a != 0);
        int64_t size = smaps(w->child, w->a, "Size");
        w->marked_kb = smaps(w->child, w->a, "Rss");
        ck_assert_int_eq(w->marked_kb, size);
        w->lazy_kb = smaps(w->child, w->a, "LazyFree");
        ck_assert_int_gt(w->lazy_kb, 0);
        ck_assert_int_eq(smaps(w->pid, w->a, "Size"), -1); /* the child's, not the demo's */
        ck_assert(held(st, "marked_in_cgroup"));
        assert_child_in_cgroup(w);
        /* "still count against its limit": the cgroup is charged for them */
        ck_assert_int_ge(cgroup_usage_kb(w->cgroup), w->marked_kb);
        w->lazyfreed = observe_vmstat("pglazyfreed");
        ck_assert_int_ge(w->lazyfreed, 0);
    } else if (strcmp(id, "pressure") == 0) {
        /* Every page the demo says read back as zero was discarded by the
         * kernel as lazily freed: pglazyfreed (system-wide, so perhaps more)
         * rose by at least as many while the step ran, and they came from
         * the pages marked lazy-free (LazyFree when the step began): only
         * those may come back as zero. */
        int64_t zeros = jint(st, "facts.pages_read_as_zero");
        int64_t lazyfreed = observe_vmstat("pglazyfreed") - w->lazyfreed;
        ck_assert_int_gt(zeros, 0);
        ck_assert_msg(lazyfreed >= zeros, "pglazyfreed rose by %lld, yet %lld pages read as zero",
                      (long long)lazyfreed, (long long)zeros);
        ck_assert_msg(zeros * page_kb <= w->lazy_kb, "%lld pages read as zero, but only %lld kB "
                      "were marked", (long long)zeros, (long long)w->lazy_kb);
        ck_assert_msg(held(st, "lazyfree_taken_under_pressure"), "Rss fell by %lld kB, %lld pages "
                      "read as zero", -(long long)jint(st, "delta.Rss_kB"), (long long)zeros);
    } else if (strcmp(id, "populate_write") == 0) {
        /* MADV_POPULATE_WRITE, or where it is unknown, a write to each page */
        bool known = w->populate_errno == 0, unknown = w->populate_errno == EINVAL;
        w->resident_kb = smaps(w->pid, w->p, "Rss");
        w->lazy_resident_kb = smaps(w->pid, w->p, "LazyFree");
        ck_assert_int_eq(w->resident_kb, known || unknown || w->dontneed_refused ? SIZE_KB : 0);
        ck_assert_int_eq(held(st, "populated_without_touching"), known);
        ck_assert_int_eq(held(st, "populate_unsupported"), unknown);
        ck_assert_int_eq(held(st, "populated_by_writing"), unknown);
        ck_assert_int_eq(held(st, "populate_failed"), !known && !unknown);
        if (held(st, "populate_failed")) /* "Only" where not all of it is resident */
            ck_assert_int_eq(strstr(jstr(st, "note"), " Only ") != NULL,
                             w->resident_kb < SIZE_KB);
    } else if (strcmp(id, "pageout") == 0) {
        int64_t swap = observe_meminfo("SwapTotal"), rss = smaps(w->pid, w->p, "Rss");
        int64_t swapped = smaps(w->pid, w->p, "Swap");
        bool all = w->resident_kb == SIZE_KB, ran = !held(st, "pageout_unsupported");
        ck_assert_int_eq(jint(st, "facts.swap_total_kB"), swap);
        ck_assert_int_eq(held(st, "pageout_not_all_resident"), !all);
        if (swap == 0 && w->lazy_resident_kb == 0) /* lazy-free pages may go without swap */
            ck_assert_int_eq(rss, w->resident_kb);
        bool kept = ran && all && rss == w->resident_kb && swapped == 0;
        ck_assert_int_eq(held(st, "pageout_without_swap_kept"), kept && swap == 0);
        ck_assert_int_eq(held(st, "pageout_kept_with_swap"), kept && swap > 0);
        ck_assert_int_eq(held(st, "pageout_to_swap"), swapped > 0);
        assert_swap_reason(w->pid, st);
    } else {
        ck_abort_msg("unknown step id %s", id);
    }
}

/* Starts argv (--step --json) and, at each pause, checks every step that ended since the last
 * one against what we read now. A step that runs no code has no pause of its own: only the
 * cgroup's steps that did not run may end without one. Returns the number of the last pause. */
static int walk(struct stepper *s, const char *const argv[], struct watch *w)
{
    ck_assert_int_eq(stepper_start(s, argv), 0);
    int next, checked = 0;
    while ((next = stepper_wait(s)) > 0) {
        ck_assert_int_gt(next, checked);
        w->pid = stepper_pid(s);
        /* The pause passed last was before step checked + 1; the steps after it had none. */
        for (int ended = checked + 1; ended < next; ended++) {
            const struct json *st = stepper_step(s, ended);
            ck_assert_msg(st != NULL, "step %d ended without its JSON line", ended);
            check_step(w, st);
            ck_assert_msg(ended == checked + 1 || held(st, "not_run_without_cgroup"),
                          "step %d ran without a pause", ended);
        }
        checked = next - 1;
        ck_assert(stepper_go(s));
    }
    return checked + 1;
}

/* Whether the first line of file lists word (cgroup.controllers). */
static bool lists(const char *file, const char *word)
{
    char buf[256] = "";
    FILE *f = fopen(file, "re");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    for (char *w = strtok(buf, " \n"); w; w = strtok(NULL, " \n"))
        if (strcmp(w, word) == 0)
            return true;
    return false;
}

/* Makes an empty cgroup under parent and removes it at once; why not, if not. */
static bool try_mkdir(const char *parent, char *why, size_t len)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/test_madvise_pages-%ld", parent, (long)getpid());
    if (mkdir(dir, 0755) == 0)
        return rmdir(dir) == 0;
    snprintf(why, len, "this test cannot create %s: %s", dir, strerror(errno));
    return false;
}

/* As root's demo does at cgroup v2's root (lib/safety/confine.c,
 * setup_v2_root): hand the memory controller to the root's children with the
 * same "+memory" write where it does not yet, then a child made there must
 * have memory.max. The write can fail where mkdir works: EBUSY at a
 * container's cgroup-namespace root that holds processes, EACCES or EROFS
 * where the tree is not ours. What the write enabled stays on, as the demo
 * leaves it: taking it back could pull it from under a demo running now. */
static bool v2_memory_child_possible(const char *root, char *why, size_t len)
{
    char subtree[64], dir[700], max[720];
    snprintf(subtree, sizeof subtree, "%s/cgroup.subtree_control", root);
    if (!lists(subtree, "memory") && procfs_write_text(subtree, "+memory") != 0) {
        snprintf(why, len, "this test cannot hand memory to %s's children: %s", root,
                 strerror(errno));
        return false;
    }
    snprintf(dir, sizeof dir, "%s/test_madvise_pages-%ld", root, (long)getpid());
    if (mkdir(dir, 0755) != 0) {
        snprintf(why, len, "this test cannot create %s: %s", dir, strerror(errno));
        return false;
    }
    snprintf(max, sizeof max, "%s/memory.max", dir);
    bool limited = access(max, F_OK) == 0;
    if (!limited)
        snprintf(why, len, "%s has no memory.max: memory is not enabled for it", dir);
    ck_assert_int_eq(rmdir(dir), 0);
    return limited;
}

/* Can this test itself make a memory cgroup where root's demo would: under
 * cgroup v2's root, which hands out the memory controller, or under its own
 * cgroup in v1's memory hierarchy? Tried, not guessed: in a container
 * without a delegated subtree (/sys/fs/cgroup read-only) it cannot. */
static bool memory_cgroup_possible(char *why, size_t len)
{
    snprintf(why, len, "no memory controller in cgroup v2's root nor a v1 memory hierarchy");
    static const char *const v2[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    for (size_t i = 0; i < sizeof v2 / sizeof v2[0]; i++) {
        char controllers[64];
        snprintf(controllers, sizeof controllers, "%s/cgroup.controllers", v2[i]);
        if (lists(controllers, "memory") && v2_memory_child_possible(v2[i], why, len))
            return true;
    }
    /* v1: "N:memory:/path" in /proc/self/cgroup (memory possibly with others) */
    char line[512], parent[600];
    FILE *f = fopen("/proc/self/cgroup", "re");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) {
        char *list = strchr(line, ':'), *path = list ? strchr(list + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        path[strcspn(path, "\n")] = '\0';
        for (char *c = strtok(list + 1, ","); c && !found; c = strtok(NULL, ","))
            found = strcmp(c, "memory") == 0;
        if (found)
            snprintf(parent, sizeof parent, "/sys/fs/cgroup/memory%s", path);
    }
    if (f)
        fclose(f);
    return found && try_mkdir(parent, why, len);
}

/* Where the pressure steps do not run, the plain run says why, under their own numbers (those
 * of the lab sheet), and the steps after them keep theirs. */
static void assert_pressure_explained(enum run_as as)
{
    const char *argv[] = {program, "--color=never", "--size", "256K", NULL};
    struct run_result r;
    ck_assert_int_eq(run_program(argv, as, &r), 0);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    const char *five = strstr(r.out, "[5/9] In a small cgroup: write, then MADV_FREE\n");
    const char *six = strstr(r.out, "[6/9] In the cgroup: need more memory\n");
    const char *seven = strstr(r.out, "[7/9] MADV_POPULATE_WRITE\n");
    ck_assert_msg(five && six && seven && five < six && six < seven, "%s", r.out);
    const char *why = strstr(five, "Not run: this needs a memory cgroup");
    ck_assert_msg(why && why < six, "step 5 does not say why it did not run: %s", r.out);
    const char *after = strstr(six, "Not run: ");
    ck_assert_msg(after && after < seven, "step 6 does not say it did not run: %s", r.out);
    run_result_free(&r);
}

/* Whether this kernel knows MADV_POPULATE_WRITE: Linux 5.14 or later. */
static bool kernel_knows_populate_write(void)
{
    struct utsname u;
    int major = 0, minor = 0;
    ck_assert_int_eq(uname(&u), 0);
    ck_assert_int_eq(sscanf(u.release, "%d.%d", &major, &minor), 2);
    return major > 5 || (major == 5 && minor >= 14);
}

/* Steps through the demo with a pause at each step. fail_with: 0, or the
 * errno that MADV_POPULATE_WRITE is made to answer; keep: MADV_DONTNEED
 * answers EPERM too (with fail_with only). */
static void step_through(int fail_with, bool keep)
{
    char size[16], errno_arg[16];
    snprintf(size, sizeof size, "%dK", SIZE_KB);
    snprintf(errno_arg, sizeof errno_arg, "%d", fail_with);
    const char *argv[] = {"/proc/self/exe",
                          keep ? "--dontneed-and-populate-write-fail" : "--populate-write-fails",
                          errno_arg, program,
                          "--step", "--json", "--size", size, NULL};
    struct stepper s;
    struct watch w = {.populate_errno = fail_with, .dontneed_refused = keep};
    if (!fail_with && !kernel_knows_populate_write())
        w.populate_errno = EINVAL;
    int last = walk(&s, fail_with ? argv : argv + 3, &w);
    const struct json *unmap = lesson_last_step(&s, last, "unmap");
    assert_lesson_step(unmap);
    ck_assert(held(unmap, "mapping_gone"));
    lesson_assert_ok_end(&s);
    if (w.cgroup[0]) { /* the cgroup the pressure ran in is gone */
        struct stat sb;
        ck_assert_msg(stat(w.cgroup, &sb) != 0, "%s is still there", w.cgroup);
    } else {
        char why[800] = "not root";
        ck_assert_msg(geteuid() != 0 || !memory_cgroup_possible(why, sizeof why),
                      "as root, where this test could make a memory cgroup, the pressure "
                      "steps did not run");
        ck_assert(w.cgroup_not_run);
        assert_pressure_explained(RUN_AS_SELF);
        fprintf(stderr, "the pressure steps did not run (%s), and the demo said why\n", why);
    }
}

START_TEST(observed_from_outside)
{
    step_through(0, false);
}
END_TEST

/* The demo killed outright (kill -9) at the pause before step 5, where its
 * child already runs in the cgroup: the child dies with it (else it would go
 * on at the terminal, fill the cgroup on Enter, and keep the cgroup from
 * being removed), and the next run of any vmlab program sweeps the cgroup
 * that is left. Started from a shell, as a student would (see
 * pty_start_in_shell). Root with a memory cgroup only: else there is no
 * child. */
START_TEST(sigkill_takes_the_child_along)
{
    static struct pty_child pty;
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); /* the orphan comes to us */
    const char *argv[] = {program, "--step", NULL};
    ck_assert_int_eq(pty_start_in_shell(&pty, argv), 0);
    lesson_pause_before(&pty, 5, 0);
    pid_t demo = observe_child_of(pty.pid), child = demo > 0 ? observe_child_of(demo) : 0;
    if (strncmp(pty.screen + pty.mark, "9", 1) != 0 || child <= 0) {
        kill(pty.pid, SIGKILL);
        (void)pty_finish(&pty);
        fprintf(stderr, "no child in a cgroup here (no memory cgroup?): not checked\n");
        return;
    }
    int status;
    bool ended = orphan_ends_with_parent(demo, child, SIGKILL, &status);
    kill(pty.pid, SIGKILL); /* the shell */
    (void)pty_finish(&pty);
    ck_assert_msg(ended, "the child (PID %ld) outlived its parent's SIGKILL", (long)child);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %#x", status);
    struct demo_run d;
    demo_run_json(&d, demo_program("mmap-anon", RUN_AS_SELF), RUN_AS_SELF,
                  (const char *const[]){"--size", "8K", NULL});
    ck_assert_msg(strstr(d.r.err, "removed") && strstr(d.r.err, "vmlab-"),
                  "no word of the cgroup swept: %s", d.r.err);
    demo_run_free(&d);
}
END_TEST

#ifdef NATIVE_AUDIT_ARCH
/* As on Linux before 5.14: the step writes every page instead, and step 8
 * pages out (or keeps) a full region, not an empty one. */
START_TEST(populate_write_unknown)
{
    step_through(EINVAL, false);
}
END_TEST

/* A failure the step does not mend: step 8 says its region is not all there. */
START_TEST(populate_write_failed)
{
    step_through(ENOMEM, false);
}
END_TEST

/* The same failure where MADV_DONTNEED freed nothing: all of it stays
 * resident, and the step must not say "Only". */
START_TEST(populate_write_failed_all_resident)
{
    step_through(ENOMEM, true);
}
END_TEST

/* In the process about to exec the demo: madvise(..., MADV_POPULATE_WRITE)
 * answers error, and where dontneed, madvise(..., MADV_DONTNEED) EPERM;
 * every other call runs. */
static void refuse_populate_write(unsigned error, bool dontneed)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 0, 5),
        /* the advice's low 32 bits (both arches are little-endian) */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MADV_POPULATE_WRITE, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA)),
        /* no advice is -1: where dontneed is false, this never matches */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, dontneed ? MADV_DONTNEED : UINT32_MAX, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("test_madvise_pages: seccomp");
        _exit(127);
    }
}
#endif

/* Without a terminal, as the tour runs it. Every run has the same nine steps with the same
 * numbers (the lab sheet's): as nobody, with no cgroup of its own, the cgroup's two say "Not run"
 * and run no code. */
START_TEST(lesson_json)
{
    static const char *const ids[] = {"map", "write_every_page", "dontneed", "free",
                                      "free_in_cgroup", "pressure", "populate_write", "pageout",
                                      "unmap"};
    const int steps = (int)(sizeof ids / sizeof ids[0]);
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--size", "256K", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert_int_eq(d.n, steps + 1); /* and the result line */
    bool not_run[2] = {false, false};
    for (int i = 1; i <= steps; i++) {
        const struct json *st = demo_step(&d, i);
        assert_lesson_step(st);
        ck_assert_str_eq(jstr(st, "id"), ids[i - 1]);
        ck_assert_int_eq(jint(st, "steps"), steps);
        if (i == 5 || i == 6)
            not_run[i - 5] = cgroup_step_not_run(st);
        else
            ck_assert(!held(st, "not_run_without_cgroup"));
    }
    ck_assert_int_eq(not_run[0], not_run[1]);
    if (run_as == RUN_AS_NOBODY) {
        ck_assert_msg(not_run[0], "as nobody, a cgroup step ran");
        assert_pressure_explained(RUN_AS_NOBODY);
    }
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "ok");
    demo_run_free(&d);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real(VMLAB_ANSWERS, "madvise-pages"), 7);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--size", "1K", NULL}, "--size"},
    {{"--size", "1G", NULL}, "--size"},
    {{"--size", NULL}, "--size"},
    {{"--bogus", NULL}, "--bogus"},
};

int main(int argc, char **argv)
{
#ifdef NATIVE_AUDIT_ARCH
    bool keep = argc > 3 && strcmp(argv[1], "--dontneed-and-populate-write-fail") == 0;
    if (argc > 3 && (keep || strcmp(argv[1], "--populate-write-fails") == 0)) {
        refuse_populate_write((unsigned)atoi(argv[2]), keep);
        execv(argv[3], argv + 3);
        perror(argv[3]);
        return 127;
    }
#endif
    run_as = demo_test_run_as_if_root(argc, argv);
    program = demo_program("madvise-pages", run_as);
    page_kb = sysconf(_SC_PAGESIZE) / 1024;
    Suite *s = suite_create(run_as == RUN_AS_NOBODY ? "madvise-pages as nobody" : "madvise-pages");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lesson_json);
    if (run_as == RUN_AS_SELF) {
        tcase_add_test(tc, observed_from_outside);
#ifdef NATIVE_AUDIT_ARCH
        tcase_add_test(tc, populate_write_unknown);
        tcase_add_test(tc, populate_write_failed);
        tcase_add_test(tc, populate_write_failed_all_resident);
#endif
        tcase_add_test(tc, answers_show_real_code);
        if (geteuid() == 0)
            tcase_add_test(tc, sigkill_takes_the_child_along);
    }
    ADD_BAD_INPUT_TESTS(tc, program, "madvise-pages", bad_cases);
    suite_add_tcase(s, tc);
    return demo_test_exit(s, program, run_as);
}
