/* SPDX-License-Identifier: MIT */
/* map-noreserve: ask for more memory than there is. A private writable mapping is a promise the
 * kernel counts in Committed_AS and marks "ac" (VM_ACCOUNT) in smaps; MAP_NORESERVE asks it not
 * to count. A refusal is explained only by a limit measured to be in its way: RLIMIT_AS,
 * RLIMIT_DATA, or the rule of this machine's overcommit mode (overcommit-modes makes the same
 * requests in modes 0, 1 and 2). The lesson is the nine LESSONs just below, in order. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "commit.h"
#include "errors.h"
#include "narrate.h"
#include "needs.h"
#include "overcommit-report.h"
#include "overcommit.h"
#include "procfs.h"
#include "snapshot-report.h"

/* ---- The lesson ---- */

static struct narrator narrator;
static struct narrator *const n = &narrator;
static struct grant g;          /* what this machine can grant, read in step 1 */
static uint64_t huge, fit;      /* the request larger than RAM + swap, and one that fits */
static char *p, *q, *r, *s, *t; /* the lesson's mappings; MAP_FAILED until granted */
static int rc;                  /* mprotect's result */

/* Where each mapping asks to go (a hint, not MAP_FIXED): 8 TiB apart from 32 TiB up, where
 * nothing else is mapped (AddressSanitizer's regions included), so that each stays a VMA of
 * its own: merged with a neighbour of the same flags, its smaps Size would not be the request's. */
static void *far_apart(int slot)
{
    return (void *)((uintptr_t)(3 + slot) << 43);
}

LESSON_FN static void read_budget(void) { LESSON(n, grant_read(&g);); }

LESSON_FN static void ask_huge(void)
{
    LESSON(n, p = mmap(far_apart(1), huge, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0););
}

LESSON_FN static void ask_huge_noreserve(void)
{
    LESSON(n, q = mmap(far_apart(2), huge, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0););
}

LESSON_FN static void touch(void)
{
    if (q != MAP_FAILED) /* else there is nothing to write into: the explanation says so */
        LESSON(n, madvise(q, huge, MADV_NOHUGEPAGE);
                  q[0] = 1; q[huge / 2] = 1; q[huge - 1] = 1;);
}

LESSON_FN static void ask_fit(void)
{
    LESSON(n, r = mmap(far_apart(3), fit, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0););
}

LESSON_FN static void ask_fit_noreserve(void)
{
    LESSON(n, s = mmap(far_apart(4), fit, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0););
}

LESSON_FN static void reserve(void)
{
    LESSON(n, t = mmap(far_apart(5), fit, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0););
}

LESSON_FN static void commit(void)
{
    if (t != MAP_FAILED) /* else there is nothing to make writable */
        LESSON(n, rc = mprotect(t, fit, PROT_READ | PROT_WRITE););
}

static void unmap_if_mapped(void *at, size_t len)
{
    if (at != MAP_FAILED)
        munmap(at, len);
}

LESSON_FN static void release(void)
{
    LESSON(n, unmap_if_mapped(p, huge); unmap_if_mapped(q, huge); unmap_if_mapped(r, fit);
              unmap_if_mapped(s, fit); unmap_if_mapped(t, fit););
}

/* ---- How the numbers are read ---- */

/* The step's mapping (smaps, Committed_AS, faults) and what the overcommit
 * checks read, just before and just after its LESSON (kB). */
static struct view {
    struct snapshot s;
    int64_t mode, committed, vm_size, vm_data;
    bool ac;                   /* the mapping's VmFlags has "ac" */
} before, after;
static int64_t page_kB;

/* A request, and which of the kernel's checks apply to it (mm/vma.c, mm/mprotect.c, mm/util.c). */
static const struct request {
    const char *key;           /* the step's id and its findings' prefix */
    char **mapping;            /* the variable of the lesson that holds it */
    bool big, noreserve;
    bool new_space;            /* mmap adds address space (RLIMIT_AS); mprotect does not */
    bool writable;             /* private and writable: RLIMIT_DATA and the commit charge */
} requests[] = {
    {"huge", &p, true, false, true, true},   {"huge_noreserve", &q, true, true, true, true},
    {"fit", &r, false, false, true, true},   {"fit_noreserve", &s, false, true, true, true},
    {"reserve", &t, false, false, true, false}, {"commit", &t, false, false, false, true},
};

static const struct request *request_of_step(void)
{
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
        if (strcmp(requests[i].key, n->id) == 0)
            return &requests[i];
    return NULL;
}

/* The observer LESSON calls around each lesson line: reads the step's mapping (the touch
 * step's is q's) into before or after; vmlab-watch shows it from then on. */
static void observe(void *ctx, bool ended)
{
    (void)ctx;
    const struct request *rq = request_of_step();
    char *at = rq ? *rq->mapping : strcmp(n->id, "touch") == 0 ? q : MAP_FAILED;
    struct view *v = ended ? &after : &before;
    uint64_t mode;
    snapshot_take_or_fail(&v->s, at != MAP_FAILED ? (uintptr_t)at : 0, n);
    v->mode = procfs_read_vm_sysctl("overcommit_memory", &mode) == PROCFS_OK ? (int64_t)mode : -1;
    v->committed = snapshot_value(&v->s, "Committed_AS");
    v->vm_size = procfs_read_one("/proc/self/status", "VmSize");
    v->vm_data = procfs_read_one("/proc/self/status", "VmData");
    v->ac = v->s.mapped && smaps_has_flag(&v->s.entry, "ac");
    if (ended && at != MAP_FAILED)
        narrate_watch(n, (uintptr_t)at);
}

static void show_rows(void)
{
    snapshot_row(n, &before.s, &after.s, "Committed_AS");
    if (before.s.mapped || after.s.mapped) {
        snapshot_row(n, &before.s, &after.s, "Size");
        snapshot_row(n, &before.s, &after.s, "Rss");
        snapshot_row(n, &before.s, &after.s, "minor_faults");
    }
    narrate_fact_int(n, "vm_size_kB", after.vm_size); /* address space: what RLIMIT_AS limits */
    if (after.s.mapped) {
        snapshot_maps_fact(n, &after.s.entry);
        narrate_fact_int(n, "ac_flag", after.ac);
    }
}

/* ---- How they are explained ---- */

static uint64_t asked[OVERCOMMIT_OPTIONS]; /* --size, --fit-size; 0: not given */

static void explain_budget(void)
{
    commit_grant_facts(n, &g);

    /* CommitLimit as mm/util.c vm_commit_limit() computes it, in whole pages */
    const char *how = g.overcommit_kbytes > 0 ? "overcommit_kbytes + SwapTotal"
                      : "(MemTotal - Hugetlb, every huge-page pool) x overcommit_ratio / 100 "
                        "+ SwapTotal";
    int64_t pages = g.overcommit_kbytes > 0 ? g.overcommit_kbytes / page_kB
                    : (g.mem_total / page_kB - g.hugetlb / page_kB) * g.overcommit_ratio / 100;
    int64_t formula = (pages + (g.swap_total > 0 ? g.swap_total : 0) / page_kB) * page_kB;
    narrate_fact_int(n, "commit_limit_computed_kB", formula);
    if (!CONCLUDE(n, "commit_limit_formula_matches", formula == g.commit_limit,
                  VALUES(VAL("computed_kB", formula), VAL("kernel_kB", g.commit_limit),
                         VAL("hugetlb_kB", g.hugetlb)),
                  "CommitLimit = %s = %lld kB, the kernel's figure.", how, (long long)formula))
        narrate_note(n, "Recomputed from the formula, CommitLimit is %lld kB; the kernel shows "
                     "%lld kB.", (long long)formula, (long long)g.commit_limit);
    int64_t mode = g.overcommit_memory;
    CONCLUDE(n, "mode_read", mode >= 0 && mode <= 2, VALUES(VAL("overcommit_memory", mode)),
             "This machine is in mode %lld (%s).", (long long)mode,
             mode == 0 ? "heuristic: it refuses a single request larger than RAM + swap and "
                         "grants the rest; CommitLimit is not enforced"
             : mode == 1 ? "always grant: it grants every request; CommitLimit is not enforced"
                         : "never overcommit: it refuses a request that would take Committed_AS "
                           "past CommitLimit, less small reserves");

    overcommit_explain_sizes(n, &g, false, asked, &huge, &fit);
}

#define ID(suffix) (snprintf(id, sizeof id, "%s_%s", rq->key, (suffix)), id)

/* Records the checks tests[0..count) of the request a as the step's findings, and says the last
 * (the one that held and explains it) from the figures those checks read. */
static void explain_checks(const struct request *rq, const struct overcommit_ask *a,
                           const struct overcommit_test *tests, size_t count)
{
    char id[64];
    for (size_t i = 0; i < count; i++)
        narrate_finding(n, ID(tests[i].name), tests[i].held, tests[i].values);
    switch (tests[count - 1].which) {
    case OVERCOMMIT_RLIMIT_AS:
        narrate_because(n, id, "RLIMIT_AS (ulimit -v) refused it: this process has %lld kB of "
                        "address space (VmSize) and may have %lld kB; %lld kB more do not fit.%s",
                        (long long)a->vm_size, (long long)g.rlimit_as, (long long)a->size,
                        a->noreserve ? " RLIMIT_AS counts address space, charged or not: "
                                        "MAP_NORESERVE does not help." : "");
        break;
    case OVERCOMMIT_RLIMIT_DATA:
        narrate_because(n, id, "RLIMIT_DATA (ulimit -d) refused it: private writable memory "
                        "(VmData, %lld kB) plus the request would pass %lld kB.",
                        (long long)a->vm_data, (long long)g.rlimit_data);
        break;
    case OVERCOMMIT_MODE_CHANGED:
        narrate_because(n, id, "overcommit_memory changed from %lld to %lld while this request "
                        "ran (another program changed it), so which mode's rule decided cannot "
                        "be told.", (long long)a->mode_before, (long long)a->mode_after);
        break;
    case OVERCOMMIT_RAM_SWAP:
        narrate_because(n, id, "Mode 0 refuses a single request larger than RAM + swap (%lld kB): "
                        "no process could ever fill it.%s", (long long)overcommit_ram_swap(&g),
                        overcommit_mode0_by_total(&g) ? "" : " (This kernel, before 5.2, "
                        "compares with an estimate of free memory, smaller still.)");
        break;
    case OVERCOMMIT_FREE_ESTIMATE:
        narrate_because(n, id, "Before Linux 5.2, mode 0 compares each request with an estimate "
                        "of free memory (free pages, page cache, free swap, reclaimable slab); "
                        "within RAM + swap, this request failed that.");
        break;
    case OVERCOMMIT_COMMIT_LIMIT:
        narrate_because(n, id, "Mode 2 refuses a request once Committed_AS (%lld kB) plus the "
                        "request would reach what it allows this process: CommitLimit (%lld kB) "
                        "less admin_reserve_kbytes (unless CAP_SYS_ADMIN) and min(VmSize / 32, "
                        "user_reserve_kbytes), here %lld kB.%s", (long long)a->committed,
                        (long long)g.commit_limit,
                        (long long)overcommit_mode2_allows(&g, a->vm_size),
                        a->noreserve ? " It ignores MAP_NORESERVE." : "");
        break;
    default:
        narrate_because(n, id, "None of the limits this demo reads (RLIMIT_AS, RLIMIT_DATA, the "
                        "rule of mode %lld) explains it.", (long long)a->mode_before);
    }
}

/* The findings and sentences of the step's request (ids prefixed with its key,
 * "huge_charged"): granted, and charged or not (the flag ac in smaps is the
 * evidence, Committed_AS only a system-wide sum); or refused, and by which
 * limit this run measured to be in the way. */
static void explain_request(void)
{
    const struct request *rq = request_of_step();
    if (strcmp(rq->key, "commit") == 0 &&
        CONCLUDE(n, "nothing_to_commit", t == MAP_FAILED, VALUES(VAL("fit_kB", fit / 1024)),
                 "Not run: the reservation of the step before was refused, so there is nothing "
                 "to make writable."))
        return;
    const struct view *b = &before, *a = &after;
    bool granted = rq->new_space ? *rq->mapping != MAP_FAILED : rc == 0;
    int err = n->lesson_errno;
    int64_t len = (int64_t)((rq->big ? huge : fit) / 1024), mode = b->mode;
    int64_t delta = a->committed - b->committed;
    int64_t allowed = overcommit_mode2_allows(&g, b->vm_size), room = overcommit_ram_swap(&g);
    const struct overcommit_ask ask = {len, b->mode, a->mode, b->committed, b->vm_size, b->vm_data,
                                       rq->new_space, rq->writable, rq->noreserve};
    struct overcommit_test tests[OVERCOMMIT_CHECKS];
    char text[160], id[64];
    show_rows();
    narrate_fact(n, "result", "%s", granted ? "granted" : errno_name(err, text, sizeof text));
    if (!granted) {
        errno_describe(rq->new_space ? "mmap" : "mprotect", err, text, sizeof text);
        narrate_note(n, "Refused: %s.", text);
        size_t count = overcommit_refusal(&g, &ask, tests);
        explain_checks(rq, &ask, tests, count);
        return;
    }
    CONCLUDE(n, ID(a->ac ? "charged" : "not_charged"), a->s.mapped,
             VALUES(VAL("size_kB", len), VAL("ac", a->ac), VAL("committed_delta_kB", delta),
                    VAL("overcommit_memory", mode)),
             "Granted, %lld kB; smaps shows %s (Committed_AS moved by %+lld kB, other processes "
             "included).%s", (long long)len,
             a->ac ? "the flag ac (VM_ACCOUNT): charged now, before any page is written"
                   : "no flag ac", (long long)delta,
             a->ac ? (rq->new_space ? "" : " So allocators and language runtimes reserve address "
                      "space cheaply with PROT_NONE and commit it piece by piece.")
             : rq->writable ? " With MAP_NORESERVE the kernel neither checked nor charged it: if "
                              "memory has run out when its pages are written, the OOM killer "
                              "picks a victim."
                            : " Memory that cannot be written is not charged.");
    if (!a->ac)
        return; /* not charged, or not in smaps (no claim): no rule to name */
    if (overcommit_mode_changed(&ask, tests)) {
        explain_checks(rq, &ask, tests, 1);
        return;
    }
    if (rq->noreserve)
        CONCLUDE(n, ID("noreserve_ignored"), mode == 2, VALUES(VAL("overcommit_memory", mode)),
                 "MAP_NORESERVE made no difference: mode 2 charges every private writable "
                 "mapping.");
    if (mode == 0 && overcommit_mode0_by_total(&g))
        CONCLUDE(n, ID("within_ram_swap"), len <= room,
                 VALUES(VAL("size_kB", len), VAL("ram_swap_kB", room)),
                 "Mode 0 refuses only a single request larger than RAM + swap (%lld kB); this one "
                 "is not.", (long long)room);
    if (mode == 1)
        CONCLUDE(n, ID("mode1_grants_all"), true, VALUES(VAL("commit_limit_kB", g.commit_limit)),
                 "Mode 1 grants every request and still counts it: Committed_AS may pass "
                 "CommitLimit (%lld kB), which only mode 2 enforces.", (long long)g.commit_limit);
    if (mode == 2)
        CONCLUDE(n, ID("within_commit_limit"), b->committed + len < allowed,
                 VALUES(VAL("committed_kB", b->committed), VAL("size_kB", len),
                        VAL("allowed_kB", allowed)),
                 "Mode 2 granted it: Committed_AS (%lld kB) plus the request stays below what "
                 "mode 2 allows this process (%lld kB).", (long long)b->committed,
                 (long long)allowed);
}

static void explain_touch(void)
{
    if (CONCLUDE(n, "nothing_to_write", q == MAP_FAILED, VALUES(VAL("huge_kB", huge / 1024)),
                 "Not run: the MAP_NORESERVE request of the step before was refused, so there is "
                 "no mapping to write into."))
        return;
    show_rows();
    int64_t rss = snapshot_delta0(&before.s, &after.s, "Rss");
    long long size = snapshot_value(&after.s, "Size");
    CONCLUDE(n, "three_pages_resident", rss == 3 * page_kB,
             VALUES(VAL("rss_delta_kB", rss), VAL("size_kB", size),
                    VAL("committed_delta_kB", after.committed - before.committed)),
             "Three bytes written, three pages of memory taken: Rss grew by %lld kB in a mapping "
             "of %lld kB. Memory is used only where it is written.", (long long)rss, size);
}

static void explain_release(void)
{
    int granted = (p != MAP_FAILED) + (q != MAP_FAILED) + (r != MAP_FAILED) +
                  (s != MAP_FAILED) + (t != MAP_FAILED);
    show_rows();
    narrate_fact_int(n, "unmapped", granted);
    narrate_note(n, "%d of the 5 requests were granted, and those mappings are now gone; "
                 "Committed_AS moved by %+lld kB (other processes' changes included).", granted,
                 (long long)(after.committed - before.committed));
}

/* ---- The steps, the options, the run ---- */

static const struct narrate_lesson steps[] = {
    {"budget", "What this machine can grant", read_budget, explain_budget, NO_QUESTION},
    {"huge", "Ask for more than RAM + swap", ask_huge, explain_request, NO_QUESTION},
    {"huge_noreserve", "The same with MAP_NORESERVE", ask_huge_noreserve, explain_request,
     NO_QUESTION},
    {"touch", "Write three bytes, far apart", touch, explain_touch, NO_QUESTION},
    {"fit", "Ask for a size that fits", ask_fit, explain_request, NO_QUESTION},
    {"fit_noreserve", "The same with MAP_NORESERVE", ask_fit_noreserve, explain_request,
     NO_QUESTION},
    {"reserve", "Reserve address space with PROT_NONE", reserve, explain_request, NO_QUESTION},
    {"commit", "Make the reservation writable", commit, explain_request, NO_QUESTION},
    {"release", "Give it all back", release, explain_release, NO_QUESTION},
};

static const struct demo_info info = {
    .name = "map-noreserve",
    .summary =
        "Asks for a private mapping far larger than RAM + swap, with and without\n"
        "MAP_NORESERVE, and shows what the overcommit policy (/proc/sys/vm/\n"
        "overcommit_memory) made of each request, what it charged (the flag ac in\n"
        "smaps, Committed_AS), and what a PROT_NONE reservation costs before and after\n"
        "mprotect. Sizes follow what this machine can grant. Only three pages are written.",
    DEMO_OPTIONS(overcommit_options),
    .examples = "  map-noreserve           in the mode this machine is in\n"
                "  map-noreserve --step    pause before each call; watch smaps live\n"
                "  (overcommit-modes: the same requests in modes 0, 1 and 2, as root)\n",
    .draws = DRAWS_COMMIT,
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    overcommit_option(&info, index, arg, ctx);
}

int main(int argc, char **argv)
{
    struct cli_common common;
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, on_option, asked));
    demo_start(n, &info, &common, NARRATE_COUNT(steps));
    narrate_observe(n, observe, NULL);
    page_kB = sysconf(_SC_PAGESIZE) / 1024;
    p = q = r = s = t = MAP_FAILED;
    narrate_intro(n, "map-noreserve (PID %ld): what the kernel makes of requests for more memory "
                  "than this machine has, and of requests that fit.", (long)getpid());
    narrate_run(n, steps, NARRATE_COUNT(steps));
    narrate_finish(n, RESULT_OK, "requests of %llu kB and %llu kB with and without MAP_NORESERVE, "
                   "in mode %lld", (unsigned long long)(huge / 1024),
                   (unsigned long long)(fit / 1024), (long long)g.overcommit_memory);
}
