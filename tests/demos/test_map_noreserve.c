/* SPDX-License-Identifier: MIT */
/* Demo tests for map-noreserve, judged from outside the process: the demo
 * runs with --step --json on a pseudo-terminal and, at every pause, this
 * test reads the demo's /proc/PID/smaps (Size, Rss, VmFlags: "ac" is
 * VM_ACCOUNT, the per-mapping evidence of a commit charge) and status
 * itself, and /proc/meminfo; what each request got is predicted from the
 * kernel's rules and this test's own readings, never from the demo's output.
 *
 *   test_map_noreserve           the lesson in the current mode; under an
 *                                RLIMIT_AS and an RLIMIT_DATA set on the
 *                                demo (prlimit) at its first pause; bad input
 *   test_map_noreserve nobody    as uid 65534
 *   test_map_noreserve mode2     the lesson with overcommit_memory=2 (set here
 *                                for a moment, always restored), and a switch
 *                                to mode 2 at a pause, explained as mode 2's
 *   test_map_noreserve hugetlb   CommitLimit counts every huge-page pool: one
 *                                1 GiB page for a moment, always given back
 *
 * The same requests in modes 0, 1 and 2 are overcommit-modes' (its own test). */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo_test.h"
#include "observe.h"
#include "sysctl.h"
#include "undo.h"
#include "suite.h"

#if defined(__SANITIZE_ADDRESS__)
#define VMLAB_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMLAB_HAS_ASAN 1
#endif
#endif
#ifndef VMLAB_HAS_ASAN
#define VMLAB_HAS_ASAN 0
#endif

static const char *program;
static enum run_as run_as = RUN_AS_SELF;
static int64_t page_kB;

/* ---- reading a step's findings ---- */

/* 1 held, 0 recorded but did not hold, -1 not recorded. */
static int finding(const struct json *step, const char *id)
{
    const struct json *list = json_get(step, "findings");
    for (size_t i = 0; list && i < list->count; i++) {
        const char *fid = json_get_string(&list->items[i], "id");
        const struct json *held = json_get(&list->items[i], "held");
        if (fid && held && strcmp(fid, id) == 0)
            return held->boolean;
    }
    return -1;
}

static int finding2(const struct json *step, const char *key, const char *suffix)
{
    char id[96];
    snprintf(id, sizeof id, "%s_%s", key, suffix);
    return finding(step, id);
}

/* Every sentence rests on a finding that held (or restates numbers). */
static void sentences_rest_on_held_findings(const struct json *step)
{
    const struct json *list = json_get(step, "sentences");
    ck_assert_ptr_nonnull(list);
    for (size_t i = 0; i < list->count; i++) {
        const struct json *f = json_get(&list->items[i], "finding");
        if (f && f->type == JSON_STRING)
            ck_assert_msg(finding(step, f->string) == 1, "step %lld: sentence on '%s', which did not hold",
                          (long long)jint(step, "step"), f->string);
    }
}

/* ---- what the kernel will do, predicted here ---- */

enum { GRANTED, BY_RLIMIT_AS, BY_RLIMIT_DATA, BY_RAM_SWAP, BY_COMMIT_LIMIT, NOTHING, TOUCHED };
static const char *const cause_ids[] = {NULL, "refused_rlimit_as", "refused_rlimit_data",
                                        "refused_larger_than_ram_swap", "refused_over_commit_limit"};

struct expect {
    const char *id;
    int outcome;     /* GRANTED, a cause, NOTHING (no request in the step) or TOUCHED */
    int ac;          /* 1/0: the flag ac on the mapping afterwards */
    bool big;        /* the large request (huge_kB), else the one that fits */
};

struct run_state {
    pid_t pid;
    int64_t spread;             /* the most Committed_AS moved while the demo sat at a pause */
    int64_t huge_kB, fit_kB;
    int noisy;                  /* steps whose Committed_AS others moved by more than the margin */
    char noise[200];
};

/* How many times Committed_AS is sampled at each pause, 5 ms apart: fewer
 * while this test holds the machine in mode 2, to keep that short. */
static int drift_samples = 10;

/* Committed_AS sampled while the demo is paused: what others move it by. */
static void sample_drift(struct run_state *st)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < drift_samples; i++) {
        int64_t c = observe_meminfo("Committed_AS");
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    }
    if (hi - lo > st->spread)
        st->spread = hi - lo;
}

/* Checks step `e` (already printed) against the live process. */
static void check_step(struct run_state *st, const struct json *step, const struct expect *e)
{
    sentences_rest_on_held_findings(step);
    if (e->outcome == NOTHING) {
        ck_assert_ptr_null(json_path(step, "facts.result"));
        return;
    }
    if (e->outcome == TOUCHED) { /* three bytes written: three pages, seen from outside */
        uintptr_t addr = stepper_maps_start(step);
        ck_assert_msg(addr != 0, "touch: no maps fact");
        ck_assert_int_eq(observe_smaps(st->pid, addr, "Rss"), 3 * page_kB);
        ck_assert_int_eq(jint(step, "after.Rss_kB"), 3 * page_kB);
        ck_assert_int_eq(jint(step, "delta.Rss_kB"), 3 * page_kB);
        ck_assert_int_eq(finding(step, "three_pages_resident"), 1);
        return;
    }
    const char *result = jstr(step, "facts.result");
    if (e->outcome != GRANTED) {
        ck_assert_msg(strcmp(result, "ENOMEM") == 0, "%s: want a refusal, got %s", e->id, result);
        ck_assert_msg(finding2(step, e->id, cause_ids[e->outcome]) == 1, "%s: the refusal is not "
                      "explained by %s: %s", e->id, cause_ids[e->outcome], jstr(step, "note"));
        for (int c = BY_RLIMIT_AS; c < NOTHING; c++) /* and by nothing else */
            if (c != e->outcome)
                ck_assert_int_ne(finding2(step, e->id, cause_ids[c]), 1);
        return;
    }
    ck_assert_msg(strcmp(result, "granted") == 0, "%s: want granted, got %s: %s", e->id, result, jstr(step, "note"));
    uintptr_t addr = stepper_maps_start(step);
    ck_assert_msg(addr != 0, "%s: no maps fact", e->id);
    int64_t len = e->big ? st->huge_kB : st->fit_kB;
    ck_assert_int_eq(observe_smaps(st->pid, addr, "Size"), len);
    ck_assert_int_eq(jint(step, "after.Size_kB"), len);
    ck_assert_int_eq(jint(step, "after.Rss_kB"), observe_smaps(st->pid, addr, "Rss"));
    char flags[160];
    ck_assert(observe_vmflags(st->pid, addr, flags, sizeof flags));
    bool ac = strstr(flags, " ac") != NULL || strncmp(flags, "ac", 2) == 0;
    ck_assert_msg(ac == (e->ac == 1), "%s: VmFlags '%s', want ac %d", e->id, flags, e->ac);
    ck_assert_int_eq(finding2(step, e->id, ac ? "charged" : "not_charged"), 1);
    ck_assert_int_ne(finding2(step, e->id, ac ? "not_charged" : "charged"), 1);
    /* Committed_AS is system-wide: the demo's change is the charge (the
     * mapping's size, or 0) plus what others did meanwhile, bounded by what
     * they did while it sat at its pauses, with a margin. */
    int64_t delta = jint(step, "after.Committed_AS_kB") - jint(step, "before.Committed_AS_kB");
    int64_t want = ac ? len : 0;
    int64_t tol = 2 * st->spread + 64 * page_kB;
    if (llabs(delta - want) > tol) { /* another process's charge or release, or a wrong row */
        st->noisy++;
        snprintf(st->noise, sizeof st->noise, "%s: Committed_AS moved by %lld kB, want %lld +- %lld",
                 e->id, (long long)delta, (long long)want, (long long)tol);
    }
}

/* Runs the lesson on a pty and checks every step from outside. `limit`
 * (RLIMIT_AS or RLIMIT_DATA, or -1) is set on the demo at its first pause,
 * to `room` kB above what it uses then. */
/* What the kernel will do with step `step` (1-based) in overcommit mode
 * `mode`, under the limit the scenario sets on the demo. */
enum scenario { PLAIN, UNDER_RLIMIT_AS, UNDER_RLIMIT_DATA };

static struct expect expected(enum scenario sc, int step, int64_t mode, bool q_granted)
{
    static const char *const ids[] = {"budget", "huge", "huge_noreserve", "touch", "fit",
                                      "fit_noreserve", "reserve", "commit", "release"};
    int by_limit = sc == UNDER_RLIMIT_AS ? BY_RLIMIT_AS : sc == UNDER_RLIMIT_DATA ? BY_RLIMIT_DATA : GRANTED;
    struct expect e = {ids[step - 1], GRANTED, 0, step >= 2 && step <= 4};
    switch (step) {
    case 2: /* larger than RAM + swap, charged if granted */
        e.outcome = by_limit ? by_limit : mode == 0 ? BY_RAM_SWAP : mode == 1 ? GRANTED : BY_COMMIT_LIMIT;
        e.ac = 1;
        break;
    case 3: /* the same with MAP_NORESERVE: only mode 2 counts it */
        e.outcome = by_limit ? by_limit : mode == 2 ? BY_COMMIT_LIMIT : GRANTED;
        break;
    case 4:
        e.outcome = q_granted ? TOUCHED : NOTHING;
        break;
    case 5: case 8: e.ac = 1; break;
    case 6: e.ac = mode == 2; break;
    case 9: e.outcome = NOTHING; break;
    default: break;
    }
    return e;
}

static int run_observed_once(const char *const args[], int limit, int64_t room, enum scenario sc,
                             char *noise, size_t len);

/* Committed_AS is a sum over the whole machine, and overcommit_memory is the
 * machine's: a run in which another process moved Committed_AS past the
 * margin during a step, or switched the mode around one, is run again, and
 * the second run must be clean. Everything else must hold both times. */
static void run_observed(const char *const args[], int limit, int64_t room, enum scenario sc)
{
    char noise[200];
    if (run_observed_once(args, limit, room, sc, noise, sizeof noise) == 0)
        return;
    fprintf(stderr, "another process disturbed the run (%s): running again\n", noise);
    ck_assert_msg(run_observed_once(args, limit, room, sc, noise, sizeof noise) == 0, "twice: %s", noise);
}

static int run_observed_once(const char *const args[], int limit, int64_t room, enum scenario sc,
                             char *noise, size_t len)
{
    enum { NSTEPS = 9 };
    const char *argv[8] = {program, "--step", "--json"};
    for (int i = 0; args && args[i] && i < 4; i++)
        argv[3 + i] = args[i];
    struct stepper s;
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    struct run_state st = {.pid = stepper_pid(&s)};
    int next, seen = 0;
    int64_t limit_kB = -1, vm_at_limit = 0, mode_before = -1;
    bool q_granted = false;
    while ((next = stepper_wait(&s)) > 0) {
        if (next == 1 && limit >= 0) {
            vm_at_limit = observe_status(st.pid, limit == RLIMIT_AS ? "VmSize" : "VmData");
            limit_kB = vm_at_limit + room;
            struct rlimit rl = {(rlim_t)limit_kB * 1024, (rlim_t)limit_kB * 1024};
            ck_assert_int_eq(prlimit(st.pid, limit, &rl, NULL), 0);
        }
        int64_t mode_now = (int64_t)vm("overcommit_memory");
        sample_drift(&st);
        /* every step printed since the last pause, checked while its mappings live */
        while (seen < NSTEPS && stepper_step(&s, seen + 1)) {
            const struct json *step = stepper_step(&s, seen + 1);
            struct expect e = expected(sc, seen + 1, mode_now, q_granted);
            ck_assert_str_eq(jstr(step, "id"), e.id);
            if (seen == 0) {
                st.huge_kB = jint(step, "facts.huge_kB");
                st.fit_kB = jint(step, "facts.fit_kB");
                int64_t ram_swap = observe_meminfo("MemTotal") + observe_meminfo("SwapTotal");
                ck_assert_int_gt(st.huge_kB, ram_swap);
                ck_assert_int_le(st.fit_kB, observe_meminfo("MemTotal") / 8);
                ck_assert_int_le(st.fit_kB, 1 << 20);
                if (limit_kB >= 0) /* sized from the limit: room for three such mappings */
                    ck_assert_int_le(3 * st.fit_kB, room);
            } else if (mode_before != mode_now || finding2(step, e.id, "mode_changed") == 1) {
                st.noisy++; /* the mode changed around this step: no one rule to hold it to */
                snprintf(st.noise, sizeof st.noise, "%s: overcommit_memory %lld -> %lld", e.id,
                         (long long)mode_before, (long long)mode_now);
            } else {
                check_step(&st, step, &e);
            }
            if (seen + 1 == 3)
                q_granted = json_path(step, "facts.result") && strcmp(jstr(step, "facts.result"), "granted") == 0;
            seen++;
        }
        mode_before = mode_now;
        stepper_go(&s);
    }
    const struct json *result = stepper_result(&s);
    ck_assert_msg(result != NULL, "no result line: %s", s.pty.screen);
    ck_assert_str_eq(jstr(result, "result"), "ok");
    ck_assert_msg(seen == NSTEPS - 1, "checked %d steps of %d", seen, NSTEPS);
    int status = stepper_finish(&s);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    snprintf(noise, len, "%s", st.noise);
    return st.noisy;
}

START_TEST(lesson_observed_from_outside)
{
    run_observed(NULL, -1, 0, PLAIN);
}
END_TEST

/* ulimit -v, as a student's shell may have it: both large requests are
 * refused by RLIMIT_AS (named, not blamed on the overcommit mode), and the
 * request that fits is sized from the room left, so the rest is granted. */
START_TEST(rlimit_as_is_named_and_sizes_follow_it)
{
    run_observed(NULL, RLIMIT_AS, 200000, UNDER_RLIMIT_AS);
}
END_TEST

/* ulimit -d: private writable mappings (MAP_NORESERVE ones too) count in
 * RLIMIT_DATA; a PROT_NONE reservation does not, until mprotect. */
START_TEST(rlimit_data_is_named)
{
    run_observed(NULL, RLIMIT_DATA, 100000, UNDER_RLIMIT_DATA);
}
END_TEST

/* The lesson as uid 65534: the same requests, the same grants. */
START_TEST(lesson_unprivileged)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, NULL);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    for (int i = 1; i <= 9; i++)
        sentences_rest_on_held_findings(demo_step(&d, i));
    ck_assert_str_eq(jstr(demo_step(&d, 5), "facts.result"), "granted");
    ck_assert_str_eq(jstr(demo_step(&d, 8), "facts.result"), "granted");
    demo_run_free(&d);
}
END_TEST

static const struct bad_case bad[] = {
    {{"--size", "0"}, "--size"},           {{"--size", "12Q"}, "--size"},
    {{"--size", "99999999T"}, "--size"},   {{"--fit-size", "8G"}, "--fit-size"},
    {{"--fit-size", "1K"}, "--fit-size"},
    {{"--all-modes"}, "--all-modes"}, /* overcommit-modes' now: an unknown option here */
    {{"mode2"}, "mode2"},
};

/* ---- mode 2, for a moment (root) ---- */

/* The test changes overcommit_memory as the demos do (lib/safety/sysctl): under
 * the vmlab lock, so that no other vmlab run changes or reads it as its own
 * meanwhile, with the original value recorded and put back on every way
 * out. main() takes the lock; the tests run in its process (CK_FORK=no). */
static uint64_t mode_before;

static void set_mode(uint64_t mode)
{
    ck_assert_msg(sysctl_set("overcommit_memory", mode) == 0, "%s: %s", sysctl_failed_call(), strerror(errno));
}

/* The machine in mode 2: the large requests refused past the limit (as
 * mode 2's, not mode 0's), MAP_NORESERVE charged anyway, and the request
 * that fits and the PROT_NONE -> mprotect steps granted. */
START_TEST(lesson_in_mode_2)
{
    set_mode(2);
    run_observed(NULL, -1, 0, PLAIN); /* the rules of mode 2, read at each pause */
    set_mode(mode_before);
}
END_TEST

/* A run holds no lock: when the mode changes between its steps (here at a
 * pause, from 0 to 2), the refusal is explained by the mode in force when
 * the request ran, read around the request, not by the one read at start. */
START_TEST(mode_read_at_the_request)
{
    set_mode(0);
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    int next;
    while ((next = stepper_wait(&s)) > 0) {
        if (next == 2)
            set_mode(2);
        if (next == 3)
            set_mode(0);
        stepper_go(&s);
    }
    set_mode(mode_before);
    const struct json *budget = stepper_step(&s, 1), *huge = stepper_step(&s, 2);
    ck_assert_ptr_nonnull(huge);
    ck_assert_int_eq(jint(budget, "facts.overcommit_memory"), 0);
    ck_assert_str_eq(jstr(huge, "facts.result"), "ENOMEM");
    ck_assert_msg(finding(huge, "huge_refused_over_commit_limit") == 1, "%s", jstr(huge, "note"));
    ck_assert_int_ne(finding(huge, "huge_refused_larger_than_ram_swap"), 1);
    ck_assert_ptr_null(strstr(jstr(huge, "note"), "Mode 0"));
    int status = stepper_finish(&s);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}
END_TEST

/* ---- every huge-page pool (root) ---- */

#define GIGANTIC "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"

static int64_t read_knob_file(const char *path)
{
    FILE *f = fopen(path, "re");
    long long v = -1;
    if (f && fscanf(f, "%lld", &v) != 1)
        v = -1;
    if (f)
        fclose(f);
    return v;
}

static bool write_knob_file(const char *path, int64_t v)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return false;
    fprintf(f, "%lld\n", (long long)v);
    return fclose(f) == 0;
}

/* The pool's size as it was, written back on every way out (lib/safety/undo:
 * exit and SIGINT/TERM/HUP/QUIT), async-signal-safe and once. */
static char gigantic_before_text[24];
static size_t gigantic_before_len;

static void give_back_gigantic(void)
{
    if (gigantic_before_len == 0)
        return;
    int fd = open(GIGANTIC, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, gigantic_before_text, gigantic_before_len) < 0) {
            /* nothing more can be done from here */
        }
        close(fd);
    }
    gigantic_before_len = 0;
}

/* One 1 GiB page (main put it in the pool), not the default size:
 * CommitLimit drops by its share, and the demo's formula must count it. */
START_TEST(commit_limit_counts_every_pool)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, NULL);
    int64_t hugetlb = observe_meminfo("Hugetlb"), limit = observe_meminfo("CommitLimit");
    int64_t total = observe_meminfo("MemTotal"), swap = observe_meminfo("SwapTotal");
    /* this test's own formula, in pages as the kernel counts (mm/util.c) */
    uint64_t ratio = vm("overcommit_ratio"), kbytes = vm("overcommit_kbytes");
    int64_t want = kbytes ? (int64_t)kbytes / page_kB * page_kB + swap
                          : (total / page_kB - hugetlb / page_kB) * (int64_t)ratio / 100 * page_kB + swap;
    ck_assert_int_eq(want, limit);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    const struct json *budget = demo_step(&d, 1);
    ck_assert_int_ge(hugetlb, 1 << 20);
    ck_assert_int_eq(jint(budget, "facts.hugetlb_kB"), hugetlb);
    ck_assert_int_eq(jint(budget, "facts.commit_limit_computed_kB"), limit);
    ck_assert_int_eq(finding(budget, "commit_limit_formula_matches"), 1);
    demo_run_free(&d);
}
END_TEST

int main(int argc, char **argv)
{
    page_kB = sysconf(_SC_PAGESIZE) / 1024;
    const char *role = argc > 1 ? argv[1] : "";
    bool needs_root = strcmp(role, "mode2") == 0 || strcmp(role, "hugetlb") == 0;
    if (needs_root && geteuid() != 0) {
        fprintf(stderr, "%s: changes /proc/sys/vm or the huge-page pool and needs root: skipped\n", role);
        return 77;
    }
    if (strcmp(role, "mode2") == 0) {
        char why[400], repaired[512];
        if (sysctl_may_change("overcommit_memory", why, sizeof why) != 0) {
            fprintf(stderr, "mode2: %s: skipped\n", why);
            return 77;
        }
        if (sysctl_begin("test_map_noreserve", repaired, sizeof repaired) != 0) {
            fprintf(stderr, "mode2: %s: %s\n", sysctl_failed_call(), strerror(errno));
            return 1;
        }
        /* Mode 2 refuses every program's request past CommitLimit: only far from it. */
        int64_t committed = observe_meminfo("Committed_AS"), limit = observe_meminfo("CommitLimit");
        if (committed < 0 || committed > limit / 4) {
            sysctl_end();
            fprintf(stderr, "Committed_AS %lld kB is not far below CommitLimit %lld kB: mode 2 could "
                    "make other programs fail now: skipped\n", (long long)committed, (long long)limit);
            return 77;
        }
        setenv("CK_FORK", "no", 1); /* the lock and the record are this process's */
        drift_samples = 2;
    }
    if (strcmp(role, "hugetlb") == 0) {
        int64_t before = read_knob_file(GIGANTIC);
        if (before < 0 || observe_meminfo("MemAvailable") < 8 * (1 << 20)) {
            fprintf(stderr, "no 1 GiB huge pages here (%s), or less than 8 GiB available: skipped\n", GIGANTIC);
            return 77;
        }
        snprintf(gigantic_before_text, sizeof gigantic_before_text, "%lld\n", (long long)before);
        gigantic_before_len = strlen(gigantic_before_text); /* from here on, put back on every way out */
        if (undo_register(give_back_gigantic) != 0)
            return 1;
        if (!write_knob_file(GIGANTIC, before + 1) || read_knob_file(GIGANTIC) != before + 1) {
            give_back_gigantic();
            fprintf(stderr, "no 1 GiB page could be allocated now (memory too fragmented): skipped\n");
            return 77;
        }
    }
    if (strcmp(role, "nobody") == 0 && geteuid() == 0)
        run_as = RUN_AS_NOBODY;
    program = demo_program("map-noreserve", run_as);
    mode_before = (uint64_t)read_knob_file("/proc/sys/vm/overcommit_memory"); /* no Check assertion outside a test */

    Suite *s = suite_create("map-noreserve");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    if (strcmp(role, "mode2") == 0) {
        /* Under ASan a program cannot start in mode 2: its shadow memory is a
         * MAP_NORESERVE mapping of terabytes, and mode 2 charges it. */
        if (!VMLAB_HAS_ASAN)
            tcase_add_test(tc, lesson_in_mode_2);
        tcase_add_test(tc, mode_read_at_the_request);
    } else if (strcmp(role, "hugetlb") == 0) {
        tcase_add_test(tc, commit_limit_counts_every_pool);
    } else if (run_as == RUN_AS_NOBODY) {
        tcase_add_test(tc, lesson_unprivileged);
    } else {
        tcase_add_test(tc, lesson_observed_from_outside);
        tcase_add_test(tc, rlimit_as_is_named_and_sizes_follow_it);
        tcase_add_test(tc, rlimit_data_is_named);
        ADD_BAD_INPUT_TESTS(tc, program, "map-noreserve", bad);
    }
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    /* whatever happened in the tests: the machine as it was */
    if (strcmp(role, "mode2") == 0 && sysctl_end() != 0)
        failed++;
    give_back_gigantic();
    if (run_as == RUN_AS_NOBODY)
        remove_copy(program);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
