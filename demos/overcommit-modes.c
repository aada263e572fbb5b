/* SPDX-License-Identifier: MIT */
/* overcommit-modes: the same four requests under each overcommit policy.
 *
 * The lesson is the functions just below, in the order they run: step 1
 * reads what this machine can grant; then, for modes 0, 1 and 2 in turn, the
 * demo sets /proc/sys/vm/overcommit_memory and a worker process asks for more
 * than RAM + swap and for a size that fits, each with and without
 * MAP_NORESERVE, reading smaps and meminfo just before and after each request.
 * Root only: the need is declared below, and the library puts the mode back
 * on every way out. map-noreserve is the same lesson in this machine's mode. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "commit.h"
#include "errors.h"
#include "lesson-code.h"
#include "narrate.h"
#include "needs.h"
#include "overcommit-report.h"
#include "overcommit.h"
#include "procfs.h"
#include "sysctl.h"
#include "worker.h"

/* ---- The lesson ---- */

static struct narrator narrator;
static struct narrator *const n = &narrator;
static struct grant g;       /* what this machine can grant, read in step 1 */
static uint64_t huge, fit;   /* the request larger than RAM + swap, and one that fits */

LESSON_FN static void read_budget(void)
{
    LESSON(n, grant_read(&g););
}

/* One reading, just before or just after a request (kB). */
struct view {
    int64_t mode, committed, vm_size, vm_data;
    bool mapped, ac;           /* smaps has an entry at the address; its VmFlags has "ac" */
};

struct outcome {
    bool granted;
    int err;
    struct view before, after;
};

static void look(struct view *v, const void *addr);

/* One request of the worker, read just before and just after. */
#define MEASURED(o, call)                                                   \
    do {                                                                    \
        look(&(o).before, NULL);                                            \
        void *got_ = (call);                                                \
        (o).granted = got_ != MAP_FAILED;                                   \
        (o).err = errno;                                                    \
        look(&(o).after, (o).granted ? got_ : NULL);                        \
    } while (0)

static struct outcome in_mode[4]; /* the worker fills its copy, and worker_run sends it back */

/* What the worker asks for, in the mode just set; each mode's step shows it. Its mappings go
 * with it. */
LESSON_CODE(void, four_requests,
    MEASURED(in_mode[0], mmap(NULL, huge, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    MEASURED(in_mode[1], mmap(NULL, huge, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    MEASURED(in_mode[2], mmap(NULL, fit, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    MEASURED(in_mode[3], mmap(NULL, fit, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
)

static void four_requests_worker(void *arg, void *result)
{
    (void)arg;
    (void)result; /* in_mode itself: worker_run is given it */
    sysctl_child_after_fork(); /* the supervisor alone restores */
    four_requests();
}

static int switched_to, switched, worked, worker_status;
static bool too_close;           /* to mode 2: not switched */
static uint64_t ended_at;        /* too close: overcommit_memory read after mode 1's end */
static int64_t in_force_ms, committed_at_switch, mode2_limit;

/* The step of the mode its id names ("mode_2"). */
LESSON_FN static void switch_mode(void)
{
    int mode = n->id[strlen("mode_")] - '0';
    /* In mode 2 every program's request past the limit is refused: switch
     * only when this machine is far from it (the explanation says so). */
    switched_to = mode;
    committed_at_switch = procfs_read_one("/proc/meminfo", "Committed_AS");
    mode2_limit = overcommit_mode2_allows(&g, procfs_read_one("/proc/self/status", "VmSize"));
    too_close = mode == 2 && committed_at_switch + 2 * (int64_t)(fit / 1024) > mode2_limit / 2;
    if (too_close) { /* mode 1's step left its mode in force: it ends here, as mode 2's would */
        LESSON(n, switched = sysctl_set("overcommit_memory", (uint64_t)g.overcommit_memory););
        if (procfs_read_vm_sysctl("overcommit_memory", &ended_at) != PROCFS_OK)
            ended_at = UINT64_MAX; /* not read: nothing is said of it */
        return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* After mode 2, the mode goes back at once, not when the run ends. */
    LESSON_AROUND(n, switched = sysctl_set("overcommit_memory", (uint64_t)mode);
                     if (switched == 0) worked = worker_run(four_requests_worker, NULL,
                                                            in_mode, sizeof in_mode,
                                                            &worker_status);,
                  four_requests,
                  if (mode == 2) sysctl_set("overcommit_memory", (uint64_t)g.overcommit_memory););
    clock_gettime(CLOCK_MONOTONIC, &t1);
    in_force_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

static uint64_t mode_now; /* read by the last step, after its pause */
static enum procfs_status read_status;

/* A step of its own, so that --step pauses after mode 2's step: from a second
 * terminal, the mode in force between the lesson and the end of the run. */
LESSON_FN static void read_mode_again(void)
{
    LESSON(n, read_status = procfs_read_vm_sysctl("overcommit_memory", &mode_now););
}

/* ---- How the numbers are read ---- */

static void look(struct view *v, const void *addr)
{
    uint64_t mode;
    v->mode = procfs_read_vm_sysctl("overcommit_memory", &mode) == PROCFS_OK ? (int64_t)mode : -1;
    v->committed = procfs_read_one("/proc/meminfo", "Committed_AS");
    v->vm_size = procfs_read_one("/proc/self/status", "VmSize");
    v->vm_data = procfs_read_one("/proc/self/status", "VmData");
    struct smaps_entry e;
    v->mapped = addr && smaps_read_entry((uintptr_t)addr, &e) == PROCFS_OK;
    v->ac = v->mapped && smaps_has_flag(&e, "ac");
}

/* ---- How they are explained ---- */

static uint64_t asked[OVERCOMMIT_OPTIONS]; /* --size, --fit-size; 0: not given */

static void explain_budget(void)
{
    commit_grant_facts(n, &g);
    CONCLUDE(n, "mode_read", g.overcommit_memory >= 0 && g.overcommit_memory <= 2,
             VALUES(VAL("overcommit_memory", g.overcommit_memory)),
             "This machine is in mode %lld.",
             (long long)g.overcommit_memory);

    /* fit is chosen from what mode 2 would grant, since this demo enters mode 2 */
    overcommit_explain_sizes(n, &g, true, asked, &huge, &fit);
}

/* The worker's requests; each key is its findings' prefix ("huge_charged"),
 * the same ids as map-noreserve's steps of that name. */
static const struct request {
    const char *key;
    bool big, noreserve;
} requests[] = {
    {"huge", true, false}, {"huge_noreserve", true, true},
    {"fit", false, false}, {"fit_noreserve", false, true},
};

#define ID(suffix) (snprintf(id, sizeof id, "%s_%s", rq->key, (suffix)), id)
#define FIND(suffix, held, values) narrate_finding(n, ID(suffix), (held), (values))

/* One request as the worker saw it: its findings, and one short line. Granted,
 * and charged or not (the flag ac in smaps is the evidence, Committed_AS only a
 * system-wide sum); or refused, and by which limit this run measured to be in
 * the way. */
static void judge(const struct request *rq, const struct outcome *oc)
{
    const struct view *b = &oc->before, *a = &oc->after;
    uint64_t bytes = rq->big ? huge : fit;
    int64_t len = (int64_t)(bytes / 1024), mode = b->mode;
    const struct overcommit_ask ask = {len, b->mode, a->mode, b->committed, b->vm_size, b->vm_data,
                                       true, true, rq->noreserve};
    struct overcommit_test tests[OVERCOMMIT_CHECKS];
    char id[64], text[64], what[32];
    format_size(bytes, what, sizeof what);
    narrate_fact(n, rq->key, "%s",
                 oc->granted ? "granted" : errno_name(oc->err, text, sizeof text));
    if (oc->granted) {
        if (!FIND(a->ac ? "charged" : "not_charged", a->mapped,
                  VALUES(VAL("size_kB", len), VAL("ac", a->ac),
                         VAL("committed_delta_kB", a->committed - b->committed),
                         VAL("overcommit_memory", mode))))
            return; /* smaps did not show it: no claim */
        narrate_because(n, id, "%s: granted, %s.", rq->key,
                        a->ac ? "charged (ac)" : "not charged (no ac)");
        /* vmlab runs wait for the lock this run holds, but a program outside vmlab
         * may still write the mode while a request runs: then its rule cannot tell. */
        if (a->ac && overcommit_mode_changed(&ask, tests))
            FIND(tests[0].name, true, tests[0].values);
        else if (a->ac && rq->noreserve)
            CONCLUDE(n, ID("noreserve_ignored"), mode == 2, VALUES(VAL("overcommit_memory", mode)),
                     "MAP_NORESERVE made no difference: mode 2 charges every private writable "
                     "mapping.");
        return;
    }
    static const char *const by[OVERCOMMIT_CHECKS] = {
        [OVERCOMMIT_RLIMIT_AS] = "RLIMIT_AS",
        [OVERCOMMIT_RLIMIT_DATA] = "RLIMIT_DATA",
        [OVERCOMMIT_MODE_CHANGED] = "a rule that cannot be told (the mode changed meanwhile)",
        [OVERCOMMIT_RAM_SWAP] = "mode 0, as larger than RAM + swap",
        [OVERCOMMIT_FREE_ESTIMATE] = "mode 0's estimate of free memory",
        [OVERCOMMIT_COMMIT_LIMIT] = "mode 2, as past what it allows",
        [OVERCOMMIT_UNEXPLAINED] = "none of the limits this demo reads",
    };
    size_t count = overcommit_refusal(&g, &ask, tests);
    for (size_t i = 0; i < count; i++)
        FIND(tests[i].name, tests[i].held, tests[i].values);
    /* id: the finding recorded last, the one that held and explains the refusal */
    narrate_because(n, id, "%s (%s): refused by %s.", rq->key, what, by[tests[count - 1].which]);
}

static void explain_mode(void)
{
    int mode = switched_to;
    if (mode == 2 &&
        CONCLUDE(n, "mode2_too_close", too_close,
                 VALUES(VAL("committed_kB", committed_at_switch),
                        VAL("requests_kB", 2 * (fit / 1024)), VAL("allowed_kB", mode2_limit)),
                 "No requests in mode 2: Committed_AS (%lld kB) and the two requests that fit "
                 "would pass half of what mode 2 allows (%lld kB), and other programs' requests "
                 "could then be refused.", (long long)committed_at_switch,
                 (long long)mode2_limit)) {
        if (switched != 0)
            narrate_fail_errno(n, sysctl_failed_call(), n->lesson_errno);
        const int64_t own = g.overcommit_memory, now = (int64_t)ended_at;
        if (!CONCLUDE(n, "mode1_ended", now == own && own != 1,
                      VALUES(VAL("overcommit_memory", now)), "Instead, mode 1 ends here: "
                      "overcommit_memory reads %lld again, this machine's own.", (long long)now))
            CONCLUDE(n, "mode1_is_own", now == own && own == 1,
                     VALUES(VAL("overcommit_memory", now)),
                     "overcommit_memory stays 1: mode 1 is this machine's own.");
        return;
    }
    if (switched != 0)
        narrate_fail_errno(n, sysctl_failed_call(), n->lesson_errno);
    if (worked != 0)
        narrate_finish(n, RESULT_FAIL, "the mode %d worker ended without a result (wait status "
                       "%#x)", mode, worker_status);
    for (int i = 0; i < 4; i++)
        judge(&requests[i], &in_mode[i]);
    if (mode == 2)
        CONCLUDE(n, "mode2_in_force", g.overcommit_memory != 2,
                 VALUES(VAL("in_force_ms", in_force_ms), VAL("allowed_kB", mode2_limit),
                        VAL("committed_kB", committed_at_switch)),
                 "Mode 2 was in force for about %lld ms, for every program: a request that would "
                 "have taken Committed_AS (%lld kB at the switch) to about %lld kB would have "
                 "been refused.", (long long)in_force_ms, (long long)committed_at_switch,
                 (long long)mode2_limit);
}

static void explain_restored(void)
{
    if (read_status != PROCFS_OK)
        narrate_finish(n, RESULT_FAIL, "cannot read /proc/sys/vm/overcommit_memory: %s",
                       procfs_strerror(read_status));
    const int64_t now = (int64_t)mode_now, own = g.overcommit_memory;
    if (!CONCLUDE(n, "mode_restored", now == own,
                  VALUES(VAL("overcommit_memory", now), VAL("overcommit_memory_at_start", own)),
                  "overcommit_memory reads %lld again, this machine's own mode (step 1).",
                  (long long)now))
        CONCLUDE(n, "mode_not_restored", now != own,
                 VALUES(VAL("overcommit_memory", now), VAL("overcommit_memory_at_start", own)),
                 "overcommit_memory still reads %lld, not this machine's mode %lld (step 1).",
                 (long long)now, (long long)own);
}

/* ---- The steps, the options, the run ---- */

static const struct narrate_lesson steps[] = {
    {"budget", "What this machine can grant", read_budget, explain_budget, NO_QUESTION},
    {"mode_0", "Overcommit mode 0 (heuristic)", switch_mode, explain_mode, NO_QUESTION},
    {"mode_1", "Overcommit mode 1 (always grant)", switch_mode, explain_mode,
     "Mode 1 grants all: is the huge request charged?", {"no: nothing is", "yes: it has ac"},
     {"huge_not_charged", "huge_charged"}},
    {"mode_2", "Overcommit mode 2 (never overcommit)", switch_mode, explain_mode,
     "The huge request with MAP_NORESERVE: granted?",
     {"yes: MAP_NORESERVE escapes the charge", "no: mode 2 charges it anyway"},
     {"huge_noreserve_charged|huge_noreserve_not_charged",
      "huge_noreserve_refused_over_commit_limit"}},
    {"restored", "The machine's mode, read again", read_mode_again, explain_restored, NO_QUESTION},
};

/* Every run switches modes: the library checks that it may, and puts the mode back. */
static const struct demo_need needs[] = {
    {NEED_SYSCTL, .name = "overcommit_memory"},
    {0},
};

static const struct demo_info info = {
    .name = "overcommit-modes",
    .summary =
        "Sets each overcommit policy in turn (/proc/sys/vm/overcommit_memory 0, 1\n"
        "and 2) and, in a worker process, asks for a private mapping far larger\n"
        "than RAM + swap and for one that fits, each with and without MAP_NORESERVE:\n"
        "what each policy grants, refuses and charges (the flag ac in smaps).\n"
        "Root only; the original mode is put back on every way out.",
    DEMO_OPTIONS(overcommit_options),
    .examples = "  sudo overcommit-modes          modes 0, 1 and 2, then the mode restored\n"
                "  sudo overcommit-modes --step   pause before each step\n"
                "  sudo overcommit-modes --predict  guess modes 1 and 2, then see\n",
    .needs = needs,
    .lessons = LESSONS(TABLE(steps)),
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    overcommit_option(&info, index, arg, ctx);
}

int main(int argc, char **argv)
{
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, asked);
    cli_no_positionals(&info, argc, argv, first);
    demo_start(n, &info, &common, NARRATE_COUNT(steps));
    narrate_intro(n, "overcommit-modes (PID %ld): what each overcommit policy makes of requests "
                  "for more memory than this machine has, and of requests that fit.",
                  (long)getpid());
    narrate_run(n, steps, NARRATE_COUNT(steps));
    narrate_finish(n, RESULT_OK, "requests of %llu kB and %llu kB with and without MAP_NORESERVE "
                   "in modes 0, 1%s; overcommit_memory %llu at the end, %s",
                   (unsigned long long)(huge / 1024), (unsigned long long)(fit / 1024),
                   too_close ? " (none in 2: too close to its limit)" : " and 2",
                   (unsigned long long)mode_now, (int64_t)mode_now == g.overcommit_memory ?
                   "this machine's own" : "not this machine's own (step 5)");
}
