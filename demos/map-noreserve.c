/* SPDX-License-Identifier: MIT */
/* map-noreserve: ask for more memory than there is.
 *
 * A private writable mapping is a promise the kernel counts in Committed_AS;
 * smaps marks such a mapping with the flag "ac" (VM_ACCOUNT). The lesson: a
 * request far larger than RAM + swap, with and without MAP_NORESERVE; three
 * bytes written into what was granted; a request that fits, with and without
 * the flag; a PROT_NONE reservation made writable with mprotect; all given
 * back. With --all-modes (root), the four requests again in overcommit modes
 * 0, 1 and 2, the setting restored on every way out.
 *
 * Sizes come from what this machine can grant (lib/kernel/grant; step 1 says which
 * limit chose them), and a refusal is explained only by a limit measured to
 * be in its way: RLIMIT_AS, RLIMIT_DATA, or the rule of the mode in force. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "budget.h"
#include "leftovers.h"
#include "narrate.h"
#include "procfs.h"
#include "sysctl.h"
#include "worker.h"

/* One reading, just before or just after a lesson line (kB unless noted). */
struct view {
    int64_t mode, committed, vm_size, vm_data, minflt, size, rss;
    bool mapped, ac;           /* smaps has an entry at the address; its VmFlags has "ac" */
    char maps[160];
};

struct outcome {
    bool granted;
    int err;
    struct view before, after;
};

/* A request, and which of the kernel's checks apply to it (mm/vma.c,
 * mm/mprotect.c, mm/util.c). */
struct request {
    const char *key;           /* "huge", "fit_noreserve": its findings' prefix */
    uint64_t len;
    bool noreserve;
    bool new_space;            /* mmap adds address space (RLIMIT_AS); mprotect does not */
    bool writable;             /* private and writable: RLIMIT_DATA and the commit charge */
};

struct demo {
    struct narrator n;
    struct grant g;
    int64_t page_kB;
    uint64_t huge, fit, size_opt, fit_opt;
    bool all_modes;
    char *p, *q, *r, *s, *t;   /* the lesson's mappings; MAP_FAILED until granted */
    int rc;
    void *const *watch;        /* the variable holding the mapping the observer reads */
    struct outcome o;
};

static void explain_budget(struct demo *d);
static void verdict(struct demo *d, const struct request *rq, const struct outcome *o, bool brief);
static void show_rows(struct demo *d);

/* ---- The lesson, in the order it runs ---- */

/* Where each mapping of the lesson asks to go (a hint, not MAP_FIXED): 8 TiB
 * apart from 32 TiB up, where nothing else is mapped (AddressSanitizer's
 * regions included), so that each stays a VMA of its own. Next to a mapping
 * with the same flags it would merge into one smaps entry, whose Size would
 * no longer be the request's. */
static void *far_apart(int slot)
{
    return (void *)((uintptr_t)(3 + slot) << 43);
}

LESSON_FN static void step_budget(struct demo *d)
{
    LESSON(&d->n, grant_read(&d->g););
    explain_budget(d);
}

LESSON_FN static void step_huge(struct demo *d)
{
    d->watch = (void *const *)&d->p;
    LESSON(&d->n, d->p = mmap(far_apart(1), d->huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0););
    d->o.granted = d->p != MAP_FAILED;
    verdict(d, &(struct request){"huge", d->huge, false, true, true}, &d->o, false);
}

LESSON_FN static void step_huge_noreserve(struct demo *d)
{
    d->watch = (void *const *)&d->q;
    LESSON(&d->n, d->q = mmap(far_apart(2), d->huge, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0););
    d->o.granted = d->q != MAP_FAILED;
    verdict(d, &(struct request){"huge_noreserve", d->huge, true, true, true}, &d->o, false);
}

LESSON_FN static void step_touch(struct demo *d)
{
    if (FINDING(&d->n, "nothing_to_write", d->q == MAP_FAILED, VAL("huge_kB", d->huge / 1024))) {
        narrate_because(&d->n, "nothing_to_write", "Not run: the MAP_NORESERVE request of the step "
                        "before was refused, so there is no mapping to write into.");
        return;
    }
    d->watch = (void *const *)&d->q;
    LESSON(&d->n, madvise(d->q, d->huge, MADV_NOHUGEPAGE);
                  d->q[0] = 1; d->q[d->huge / 2] = 1; d->q[d->huge - 1] = 1;);
    show_rows(d);
    int64_t rss = d->o.after.rss - d->o.before.rss;
    if (FINDING(&d->n, "three_pages_resident", rss == 3 * d->page_kB, VAL("rss_delta_kB", rss),
                VAL("size_kB", d->o.after.size),
                VAL("committed_delta_kB", d->o.after.committed - d->o.before.committed)))
        narrate_because(&d->n, "three_pages_resident", "Three bytes written, three pages of memory "
                        "taken: Rss grew by %lld kB in a mapping of %lld kB. Memory is used only "
                        "where it is written.", (long long)rss, (long long)d->o.after.size);
}

LESSON_FN static void step_fit(struct demo *d)
{
    d->watch = (void *const *)&d->r;
    LESSON(&d->n, d->r = mmap(far_apart(3), d->fit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0););
    d->o.granted = d->r != MAP_FAILED;
    verdict(d, &(struct request){"fit", d->fit, false, true, true}, &d->o, false);
}

LESSON_FN static void step_fit_noreserve(struct demo *d)
{
    d->watch = (void *const *)&d->s;
    LESSON(&d->n, d->s = mmap(far_apart(4), d->fit, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0););
    d->o.granted = d->s != MAP_FAILED;
    verdict(d, &(struct request){"fit_noreserve", d->fit, true, true, true}, &d->o, false);
}

LESSON_FN static void step_reserve(struct demo *d)
{
    d->watch = (void *const *)&d->t;
    LESSON(&d->n, d->t = mmap(far_apart(5), d->fit, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0););
    d->o.granted = d->t != MAP_FAILED;
    verdict(d, &(struct request){"reserve", d->fit, false, true, false}, &d->o, false);
}

LESSON_FN static void step_commit(struct demo *d)
{
    if (FINDING(&d->n, "nothing_to_commit", d->t == MAP_FAILED, VAL("fit_kB", d->fit / 1024))) {
        narrate_because(&d->n, "nothing_to_commit", "Not run: the reservation of the step before "
                        "was refused, so there is nothing to make writable.");
        return;
    }
    d->watch = (void *const *)&d->t;
    LESSON(&d->n, d->rc = mprotect(d->t, d->fit, PROT_READ | PROT_WRITE););
    d->o.granted = d->rc == 0;
    verdict(d, &(struct request){"commit", d->fit, false, false, true}, &d->o, false);
}

static void unmap_if_mapped(void *p, size_t len)
{
    if (p != MAP_FAILED)
        munmap(p, len);
}

LESSON_FN static void step_release(struct demo *d)
{
    int granted = (d->p != MAP_FAILED) + (d->q != MAP_FAILED) + (d->r != MAP_FAILED) +
                  (d->s != MAP_FAILED) + (d->t != MAP_FAILED);
    d->watch = NULL;
    LESSON(&d->n, unmap_if_mapped(d->p, d->huge); unmap_if_mapped(d->q, d->huge);
                  unmap_if_mapped(d->r, d->fit); unmap_if_mapped(d->s, d->fit);
                  unmap_if_mapped(d->t, d->fit););
    show_rows(d);
    narrate_fact_int(&d->n, "unmapped", granted);
    narrate_note(&d->n, "%d of the 5 requests were granted, and those mappings are now gone; Committed_AS moved by %+lld "
                 "kB (other processes' changes included).", granted,
                 (long long)(d->o.after.committed - d->o.before.committed));
}

/* ---- --all-modes: the four requests in a worker, in each mode ---- */

struct mode_result {
    struct outcome o[4];
};

static const char *const mode_keys[4] = {"huge", "huge_noreserve", "fit", "fit_noreserve"};

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

/* Runs in a worker process, in the mode the supervisor has just set. The
 * mappings stay until the worker exits. */
static void four_requests(void *arg, void *result)
{
    const struct demo *d = arg;
    struct mode_result *m = result;
    sysctl_child_after_fork(); /* the supervisor alone restores */
    if (getenv("VMLAB_TEST_KILL_WORKER")) /* safety.restore kills the worker here */
        raise(SIGKILL);
    MEASURED(m->o[0], mmap(NULL, d->huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    MEASURED(m->o[1], mmap(NULL, d->huge, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    MEASURED(m->o[2], mmap(NULL, d->fit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    MEASURED(m->o[3], mmap(NULL, d->fit, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
}

static int64_t mode2_allows(const struct grant *g, int64_t vm_size);

LESSON_FN static void step_mode(struct demo *d, int mode)
{
    /* In mode 2 every program's request past the limit is refused: switch
     * only when this machine is far from it. */
    struct view now;
    look(&now, NULL);
    int64_t allowed = mode2_allows(&d->g, now.vm_size), fits = 2 * (int64_t)(d->fit / 1024);
    if (mode == 2 && FINDING(&d->n, "mode2_too_close", now.committed + fits > allowed / 2,
                             VAL("committed_kB", now.committed), VAL("requests_kB", fits),
                             VAL("allowed_kB", allowed))) {
        narrate_because(&d->n, "mode2_too_close", "Not switched: Committed_AS (%lld kB) and the "
                        "two requests that fit would pass half of what mode 2 allows (%lld kB), "
                        "and other programs' requests could then be refused.",
                        (long long)now.committed, (long long)allowed);
        return;
    }
    struct mode_result m;
    int set = 0, got = 0, status = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    LESSON(&d->n, set = sysctl_set("overcommit_memory", (uint64_t)mode);
                  if (set == 0) got = worker_run(four_requests, d, &m, sizeof m, &status););
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (set != 0)
        narrate_fail_errno(&d->n, sysctl_failed_call(), errno);
    if (got != 0)
        narrate_finish(&d->n, RESULT_FAIL, "the mode %d worker ended without a result (wait status %#x)",
                       mode, status);
    for (int i = 0; i < 4; i++)
        verdict(d, &(struct request){mode_keys[i], i < 2 ? d->huge : d->fit, i % 2, true, true}, &m.o[i], true);
    int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (mode == 2 && FINDING(&d->n, "mode2_in_force", true, VAL("in_force_ms", ms), VAL("allowed_kB", allowed),
                             VAL("committed_kB", now.committed)))
        narrate_because(&d->n, "mode2_in_force", "Mode 2 was in force for about %lld ms, for "
                        "every program: a request that would have taken Committed_AS (%lld kB at "
                        "the switch) to about %lld kB would have been refused.", (long long)ms,
                        (long long)now.committed, (long long)allowed);
}

/* ---- How the numbers are read ---- */

static void look(struct view *v, const void *addr)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    memset(v, 0, sizeof *v);
    v->minflt = ru.ru_minflt;
    uint64_t mode;
    v->mode = procfs_read_vm_sysctl("overcommit_memory", &mode) == PROCFS_OK ? (int64_t)mode : -1;
    v->committed = procfs_read_one("/proc/meminfo", "Committed_AS");
    v->vm_size = procfs_read_one("/proc/self/status", "VmSize");
    v->vm_data = procfs_read_one("/proc/self/status", "VmData");
    struct smaps_entry e;
    uint64_t size = 0, rss = 0;
    if (addr && smaps_read_entry((uintptr_t)addr, &e) == PROCFS_OK) {
        v->mapped = true;
        v->ac = smaps_has_flag(&e, "ac");
        smaps_get(&e, "Size", &size);
        smaps_get(&e, "Rss", &rss);
        smaps_format_header(&e, v->maps, sizeof v->maps);
    }
    v->size = (int64_t)size;
    v->rss = (int64_t)rss;
}

/* The observer LESSON calls around each lesson line. */
static void observe(void *ctx, bool after)
{
    struct demo *d = ctx;
    int err = errno; /* the lesson's own, before anything here changes it */
    const void *addr = d->watch && *d->watch != MAP_FAILED ? *d->watch : NULL;
    look(after ? &d->o.after : &d->o.before, addr);
    d->o.err = err;
    if (after && addr) /* what vmlab-watch shows in a second terminal from the next step on */
        d->n.watch_addr = (uintptr_t)addr;
}

static void show_rows(struct demo *d)
{
    const struct view *b = &d->o.before, *a = &d->o.after;
    narrate_value(&d->n, "Committed_AS", "kB", b->committed >= 0, b->committed, a->committed >= 0, a->committed);
    if (b->mapped || a->mapped) {
        narrate_value(&d->n, "Size", "kB", b->mapped, b->size, a->mapped, a->size);
        narrate_value(&d->n, "Rss", "kB", b->mapped, b->rss, a->mapped, a->rss);
        narrate_value(&d->n, "minor_faults", "", true, b->minflt, true, a->minflt);
    }
    narrate_fact_int(&d->n, "vm_size_kB", a->vm_size); /* address space: what RLIMIT_AS limits */
    if (a->mapped) {
        narrate_fact(&d->n, "maps", "%s", a->maps);
        narrate_fact_int(&d->n, "ac_flag", a->ac);
    }
}

/* ---- How they are explained ---- */

static const char *mode_name(int64_t mode)
{
    return mode == 0 ? "heuristic" : mode == 1 ? "always grant" : mode == 2 ? "never overcommit" : "?";
}

/* What mode 2 lets Committed_AS reach for this process (mm/util.c,
 * __vm_enough_memory): CommitLimit, less admin_reserve_kbytes (waived for
 * CAP_SYS_ADMIN; counted here, to be safe), less min(VmSize / 32,
 * user_reserve_kbytes). */
static int64_t mode2_allows(const struct grant *g, int64_t vm_size)
{
    int64_t user = vm_size / 32 < g->user_reserve_kbytes ? vm_size / 32 : g->user_reserve_kbytes;
    return g->commit_limit - (g->admin_reserve_kbytes > 0 ? g->admin_reserve_kbytes : 0) - (user > 0 ? user : 0);
}

/* CommitLimit as mm/util.c vm_commit_limit() computes it, in pages:
 * (MemTotal - every huge-page pool) x overcommit_ratio / 100 + SwapTotal,
 * or overcommit_kbytes + SwapTotal when overcommit_kbytes is set. */
static int64_t commit_limit_formula(const struct grant *g, int64_t page_kB)
{
    int64_t pages = g->overcommit_kbytes > 0
                        ? g->overcommit_kbytes / page_kB
                        : (g->mem_total / page_kB - g->hugetlb / page_kB) * g->overcommit_ratio / 100;
    return (pages + (g->swap_total > 0 ? g->swap_total : 0) / page_kB) * page_kB;
}

static bool kernel_at_least(const struct grant *g, int major, int minor)
{
    return g->kernel_major > major || (g->kernel_major == major && g->kernel_minor >= minor);
}

/* The request that fits is the smallest of these: granted in every mode,
 * and it leaves nearly all of every limit to others (the lesson holds three
 * such mappings at once). */
static void choose_fit(struct demo *d, char *why, size_t len)
{
    const struct grant *g = &d->g;
    int64_t headroom = mode2_allows(g, g->vm_size) - g->committed_as;
    const struct { bool applies; int64_t kB, of; const char *pre, *post; } c[] = {
        {true, 1 << 20, 1 << 20, "at most ", ", 1 GiB"},
        {g->mem_total > 0, g->mem_total / 8, g->mem_total, "an eighth of MemTotal, ", ""},
        {headroom > 0 || g->overcommit_memory == 2, headroom / 16, headroom, "a sixteenth of the ",
         " that mode 2 would still grant (CommitLimit less reserves, less Committed_AS)"},
        {g->rlimit_as >= 0, (g->rlimit_as - g->vm_size) / 8, g->rlimit_as - g->vm_size,
         "an eighth of the ", " of address space that RLIMIT_AS still allows"},
        {g->rlimit_data >= 0, (g->rlimit_data - g->vm_data) / 8, g->rlimit_data - g->vm_data,
         "an eighth of the ", " that RLIMIT_DATA still allows"},
        {g->cgroup_limit >= 0, g->cgroup_limit / 8, g->cgroup_limit,
         "an eighth of this process's memory cgroup limit, ", ""},
    };
    size_t best = 0;
    for (size_t i = 1; i < sizeof c / sizeof c[0]; i++)
        if (c[i].applies && c[i].kB < c[best].kB)
            best = i;
    int64_t kB = c[best].kB / d->page_kB * d->page_kB;
    d->fit = (uint64_t)(kB > d->page_kB ? kB : d->page_kB) * 1024;
    snprintf(why, len, "%s%lld kB%s", c[best].pre, (long long)c[best].of, c[best].post);
}

static void explain_budget(struct demo *d)
{
    struct narrator *n = &d->n;
    const struct grant *g = &d->g;
    const struct { const char *key; int64_t v; } f[] = {
        {"overcommit_memory", g->overcommit_memory}, {"overcommit_ratio", g->overcommit_ratio},
        {"overcommit_kbytes", g->overcommit_kbytes}, {"mem_total_kB", g->mem_total},
        {"swap_total_kB", g->swap_total}, {"hugetlb_kB", g->hugetlb},
        {"commit_limit_kB", g->commit_limit}, {"committed_as_kB", g->committed_as},
        {"admin_reserve_kbytes", g->admin_reserve_kbytes}, {"user_reserve_kbytes", g->user_reserve_kbytes},
        {"vm_size_kB", g->vm_size}, {"vm_data_kB", g->vm_data}, {"rlimit_as_kB", g->rlimit_as},
        {"rlimit_data_kB", g->rlimit_data}, {"cgroup_limit_kB", g->cgroup_limit},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v >= 0) /* a limit that is not set is left out */
            narrate_fact_int(n, f[i].key, f[i].v);

    int64_t formula = commit_limit_formula(g, d->page_kB);
    narrate_fact_int(n, "commit_limit_computed_kB", formula);
    if (FINDING(n, "commit_limit_formula_matches", formula == g->commit_limit, VAL("computed_kB", formula),
                VAL("kernel_kB", g->commit_limit), VAL("hugetlb_kB", g->hugetlb)))
        narrate_because(n, "commit_limit_formula_matches", g->overcommit_kbytes > 0
                        ? "CommitLimit = overcommit_kbytes + SwapTotal = %lld kB, the kernel's figure."
                        : "CommitLimit = (MemTotal - Hugetlb, every huge-page pool) x overcommit_ratio "
                          "/ 100 + SwapTotal = %lld kB, the kernel's figure.", (long long)formula);
    else
        narrate_note(n, "Recomputed from the formula, CommitLimit is %lld kB; the kernel shows %lld kB.",
                     (long long)formula, (long long)g->commit_limit);
    int64_t mode = g->overcommit_memory;
    if (FINDING(n, "mode_read", mode >= 0 && mode <= 2, VAL("overcommit_memory", mode)))
        narrate_because(n, "mode_read", "This machine is in mode %lld (%s): %s", (long long)mode,
                        mode_name(mode), mode == 0 ? "it refuses a single request larger than RAM + "
                        "swap and grants the rest; CommitLimit is not enforced."
                        : mode == 1 ? "it grants every request; CommitLimit is not enforced."
                        : "it refuses a request that would take Committed_AS past CommitLimit, less "
                          "small reserves.");

    char why_fit[200], huge_s[32], fit_s[32];
    int64_t ram_swap = g->mem_total + (g->swap_total > 0 ? g->swap_total : 0);
    d->huge = d->size_opt;
    if (!d->huge) /* 1 TiB, more on a machine with more than 256 GiB of RAM + swap */
        for (d->huge = 1ull << 40; d->huge / 1024 < 4 * (uint64_t)ram_swap && d->huge < (1ull << 46);)
            d->huge *= 2;
    choose_fit(d, why_fit, sizeof why_fit);
    if (d->fit_opt)
        d->fit = d->fit_opt;
    format_size(d->huge, huge_s, sizeof huge_s);
    format_size(d->fit, fit_s, sizeof fit_s);
    narrate_fact_int(n, "huge_kB", (int64_t)(d->huge / 1024));
    narrate_fact_int(n, "fit_kB", (int64_t)(d->fit / 1024));
    narrate_fact(n, "fit_chosen_as", "%s", d->fit_opt ? "--fit-size" : why_fit);
    if (FINDING(n, "sizes_chosen", true, VAL("huge_kB", d->huge / 1024), VAL("fit_kB", d->fit / 1024),
                VAL("ram_swap_kB", ram_swap)))
        narrate_because(n, "sizes_chosen", "The large request is %s, %s RAM + swap (%lld kB)%s. The "
                        "request that fits is %s: %s.", huge_s,
                        d->huge / 1024 > (uint64_t)ram_swap ? "more than" : "not more than",
                        (long long)ram_swap, d->size_opt ? ", as asked with --size" : "", fit_s,
                        d->fit_opt ? "as asked with --fit-size" : why_fit);
}

/* The findings and sentences of one request: granted, and charged or not
 * (the flag ac in smaps is the evidence, Committed_AS only a system-wide
 * sum); or refused, and by which limit this run measured to be in the way.
 * brief: one short sentence per request (the --all-modes steps). */
static void verdict(struct demo *d, const struct request *rq, const struct outcome *o, bool brief)
{
    struct narrator *n = &d->n;
    const struct grant *g = &d->g;
    const struct view *b = &o->before, *a = &o->after;
    int64_t len = (int64_t)(rq->len / 1024), delta = a->committed - b->committed, mode = b->mode;
    int64_t allowed = mode2_allows(g, b->vm_size), ram_swap = g->mem_total + (g->swap_total > 0 ? g->swap_total : 0);
    bool new_rule = kernel_at_least(g, 5, 2); /* mode 0's rule since commit 8c7829b04c52 */
    char id[64], text[160], what[32];
    format_size(rq->len, what, sizeof what);
#define ID(suffix) (snprintf(id, sizeof id, "%s_%s", rq->key, (suffix)), id)
    if (!brief)
        show_rows(d);
    narrate_fact(n, brief ? rq->key : "result", "%s", o->granted ? "granted" : errno_name(o->err, text, sizeof text));
    /* A run without --all-modes holds no lock: another program may switch
     * the mode while a request runs. The limits of the process still tell
     * (they come first), the overcommit rule then cannot. */
    bool changed = b->mode != a->mode;
#define MODE_CHANGED()                                                                            \
    (FINDING(n, ID("mode_changed"), true, VAL("mode_before", b->mode), VAL("mode_after", a->mode)) && \
     (brief || (narrate_because(n, id, "overcommit_memory changed from %lld to %lld while this "   \
                                "request ran (another program changed it), so which mode's rule " \
                                "decided cannot be told.", (long long)b->mode, (long long)a->mode), 1)))
    if (o->granted) {
        if (!FINDING(n, ID(a->ac ? "charged" : "not_charged"), a->mapped, VAL("size_kB", len), VAL("ac", a->ac),
                     VAL("committed_delta_kB", delta), VAL("overcommit_memory", mode)))
            return; /* smaps did not show it: no claim */
        if (brief)
            narrate_because(n, id, "%s: granted, %s.", rq->key, a->ac ? "charged (ac)" : "not charged (no ac)");
        else if (a->ac)
            narrate_because(n, id, "Granted, and smaps shows the flag ac (VM_ACCOUNT) on it: its %lld kB "
                            "are charged now, before any page is written (Committed_AS moved by %+lld kB, "
                            "other processes included).%s", (long long)len, (long long)delta,
                            rq->new_space ? "" : " So allocators and language runtimes reserve address "
                            "space cheaply with PROT_NONE and commit it piece by piece.");
        else
            narrate_because(n, id, "Granted, and smaps shows no flag ac: %s (Committed_AS moved by "
                            "%+lld kB, other processes included).", rq->writable
                            ? "with MAP_NORESERVE the kernel neither checked nor charged it. Nothing "
                              "promises the pages when they are written: if memory has run out by "
                              "then, the OOM killer picks a victim"
                            : "memory that cannot be written is not charged", (long long)delta);
        if (!a->ac || (changed && MODE_CHANGED()))
            return;
        if (rq->noreserve && FINDING(n, ID("noreserve_ignored"), mode == 2, VAL("overcommit_memory", mode)))
            narrate_because(n, id, "MAP_NORESERVE made no difference: mode 2 charges every private "
                            "writable mapping.");
        if (brief)
            return;
        if (mode == 0 && new_rule && FINDING(n, ID("within_ram_swap"), len <= ram_swap, VAL("size_kB", len),
                                             VAL("ram_swap_kB", ram_swap)))
            narrate_because(n, id, "Mode 0 refuses only a single request larger than RAM + swap "
                            "(%lld kB); this one is not.", (long long)ram_swap);
        if (mode == 1 && FINDING(n, ID("mode1_grants_all"), true, VAL("commit_limit_kB", g->commit_limit)))
            narrate_because(n, id, "Mode 1 grants every request and still counts it: Committed_AS may "
                            "pass CommitLimit (%lld kB), which only mode 2 enforces.", (long long)g->commit_limit);
        if (mode == 2 && FINDING(n, ID("within_commit_limit"), b->committed + len < allowed,
                                 VAL("committed_kB", b->committed), VAL("size_kB", len), VAL("allowed_kB", allowed)))
            narrate_because(n, id, "Mode 2 granted it: Committed_AS (%lld kB) plus the request stays "
                            "below what mode 2 allows this process (%lld kB).", (long long)b->committed,
                            (long long)allowed);
        return;
    }
    if (!brief) {
        errno_describe(rq->new_space ? "mmap" : "mprotect", o->err, text, sizeof text);
        narrate_note(n, "Refused: %s.", text);
    }
    const char *label = "none of the limits this demo reads";
    if (rq->new_space && g->rlimit_as >= 0 &&
        FINDING(n, ID("refused_rlimit_as"), b->vm_size + len > g->rlimit_as, VAL("vm_size_kB", b->vm_size),
                VAL("size_kB", len), VAL("rlimit_as_kB", g->rlimit_as))) {
        label = "RLIMIT_AS";
        snprintf(text, sizeof text, "%s", rq->noreserve ? " RLIMIT_AS counts address space, charged "
                 "or not: MAP_NORESERVE does not help." : "");
        if (!brief)
            narrate_because(n, id, "RLIMIT_AS (ulimit -v) refused it: this process has %lld kB of "
                            "address space (VmSize) and may have %lld kB; %lld kB more do not fit.%s",
                            (long long)b->vm_size, (long long)g->rlimit_as, (long long)len, text);
    } else if (rq->writable && g->rlimit_data >= 0 &&
               FINDING(n, ID("refused_rlimit_data"), b->vm_data + len > g->rlimit_data,
                       VAL("vm_data_kB", b->vm_data), VAL("size_kB", len), VAL("rlimit_data_kB", g->rlimit_data))) {
        label = "RLIMIT_DATA";
        if (!brief)
            narrate_because(n, id, "RLIMIT_DATA (ulimit -d) refused it: private writable memory "
                            "(VmData, %lld kB) plus the request would pass %lld kB.",
                            (long long)b->vm_data, (long long)g->rlimit_data);
    } else if (changed && MODE_CHANGED()) {
        label = "a rule that cannot be told (the mode changed meanwhile)";
    } else if (mode == 0 && rq->writable && !rq->noreserve &&
               FINDING(n, ID("refused_larger_than_ram_swap"), len > ram_swap, VAL("size_kB", len),
                       VAL("ram_swap_kB", ram_swap))) {
        label = "mode 0, as larger than RAM + swap";
        if (!brief)
            narrate_because(n, id, "Mode 0 refuses a single request larger than RAM + swap (%lld kB): "
                            "no process could ever fill it.%s", (long long)ram_swap, new_rule ? ""
                            : " (This kernel, before 5.2, compares with an estimate of free memory, "
                              "smaller still.)");
    } else if (mode == 0 && !new_rule && rq->writable && !rq->noreserve &&
               FINDING(n, ID("refused_free_estimate"), true, VAL("size_kB", len), VAL("ram_swap_kB", ram_swap))) {
        label = "mode 0's estimate of free memory";
        if (!brief)
            narrate_because(n, id, "Before Linux 5.2, mode 0 compares each request with an estimate "
                            "of free memory (free pages, page cache, free swap, reclaimable slab); "
                            "within RAM + swap, this request failed that.");
    } else if (mode == 2 && rq->writable &&
               FINDING(n, ID("refused_over_commit_limit"), b->committed + len >= allowed,
                       VAL("committed_kB", b->committed), VAL("size_kB", len), VAL("allowed_kB", allowed))) {
        label = "mode 2, as past what it allows";
        if (!brief)
            narrate_because(n, id, "Mode 2 refuses a request once Committed_AS (%lld kB) plus the "
                            "request would reach what it allows this process: CommitLimit (%lld kB) "
                            "less admin_reserve_kbytes (unless CAP_SYS_ADMIN) and min(VmSize / 32, "
                            "user_reserve_kbytes), here %lld kB.%s", (long long)b->committed,
                            (long long)g->commit_limit, (long long)allowed,
                            rq->noreserve ? " It ignores MAP_NORESERVE." : "");
    } else if (FINDING(n, ID("refused_unexplained"), true, VAL("overcommit_memory", mode), VAL("size_kB", len))) {
        if (!brief)
            narrate_because(n, id, "None of the limits this demo reads (RLIMIT_AS, RLIMIT_DATA, the "
                            "rule of mode %lld) explains it.", (long long)mode);
    }
    if (brief)
        narrate_because(n, id, "%s (%s): refused by %s.", rq->key, what, label);
#undef MODE_CHANGED
#undef ID
}

/* ---- Options and the order of the steps ---- */

enum { OPT_SIZE, OPT_FIT_SIZE, OPT_ALL_MODES };

static const struct cli_option options[] = {
    [OPT_SIZE] = {"size", "SIZE", "the request larger than RAM + swap (default: 1T, or more where "
                  "RAM + swap is over 256G; 1G to 64T)"},
    [OPT_FIT_SIZE] = {"fit-size", "SIZE", "the request that fits (default: chosen from what this "
                      "machine can grant; 4K to 4G)"},
    [OPT_ALL_MODES] = {"all-modes", NULL, "root only: the requests again in overcommit modes 0, 1 "
                       "and 2, then the setting restored"},
};

static const struct demo_info info = {
    .name = "map-noreserve",
    .summary =
        "Asks for a private mapping far larger than RAM + swap, with and without\n"
        "MAP_NORESERVE, and shows what the overcommit policy (/proc/sys/vm/\n"
        "overcommit_memory) made of each request, what it charged (the flag ac in\n"
        "smaps, Committed_AS), and what a PROT_NONE reservation costs before and after\n"
        "mprotect. Sizes follow what this machine can grant. Only three pages are written.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  map-noreserve                    in the mode this machine is in\n"
                "  sudo map-noreserve --all-modes   then modes 0, 1 and 2 in turn, restored after\n",
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    struct demo *d = ctx;
    if (index == OPT_SIZE)
        d->size_opt = cli_size_arg(&info, "--size", arg, 1ull << 30, 64ull << 40);
    else if (index == OPT_FIT_SIZE)
        d->fit_opt = cli_size_arg(&info, "--fit-size", arg, 4096, 4ull << 30);
    else
        d->all_modes = true;
}

static const struct {
    const char *id, *title;
    void (*fn)(struct demo *d);
} lesson[] = {
    {"budget", "What this machine can grant", step_budget},
    {"huge", "Ask for more than RAM + swap", step_huge},
    {"huge_noreserve", "The same with MAP_NORESERVE", step_huge_noreserve},
    {"touch", "Write three bytes, far apart", step_touch},
    {"fit", "Ask for a size that fits", step_fit},
    {"fit_noreserve", "The same with MAP_NORESERVE", step_fit_noreserve},
    {"reserve", "Reserve address space with PROT_NONE", step_reserve},
    {"commit", "Make the reservation writable", step_commit},
    {"release", "Give it all back", step_release},
};
#define NLESSON ((int)(sizeof lesson / sizeof lesson[0]))

int main(int argc, char **argv)
{
    static struct demo d;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &d);
    cli_no_positionals(&info, argc, argv, first);
    bool all_modes = d.all_modes;

    leftovers_repair(info.name);
    char why[400];
    int may = all_modes ? sysctl_may_change("overcommit_memory", why, sizeof why) : 0;
    narrate_init(&d.n, info.name, &common, may == 0 && all_modes ? NLESSON + 3 : NLESSON);
    if (may != 0) /* before anything is announced */
        narrate_finish(&d.n, RESULT_SKIP, "--all-modes cannot switch overcommit modes here: %s", why);
    narrate_observe(&d.n, observe, &d);
    d.page_kB = sysconf(_SC_PAGESIZE) / 1024;
    d.p = d.q = d.r = d.s = d.t = MAP_FAILED;
    narrate_intro(&d.n, "map-noreserve (PID %ld): what the kernel makes of requests for more memory "
                  "than this machine has, and of requests that fit.", (long)getpid());
    for (int i = 0; i < NLESSON; i++) {
        narrate_begin(&d.n, lesson[i].id, lesson[i].title);
        lesson[i].fn(&d);
        narrate_end_step(&d.n);
    }
    if (all_modes) {
        char repaired[512];
        if (sysctl_begin(info.name, repaired, sizeof repaired) != 0)
            narrate_fail_errno(&d.n, "take the vmlab lock", errno);
        if (repaired[0])
            fprintf(stderr, "%s: %s\n", info.name, repaired);
        fprintf(stderr, "%s: changing /proc/sys/vm/overcommit_memory for a moment (now %lld); it will "
                "be put back on exit, Ctrl-C included\n", info.name, (long long)d.g.overcommit_memory);
        for (int mode = 0; mode <= 2; mode++) {
            char id[8], title[48];
            snprintf(id, sizeof id, "mode_%d", mode);
            snprintf(title, sizeof title, "Overcommit mode %d (%s)", mode, mode_name(mode));
            narrate_begin(&d.n, id, title);
            step_mode(&d, mode);
            narrate_end_step(&d.n);
        }
        if (sysctl_end() != 0) /* said on stderr; the record stays for the next run */
            narrate_finish(&d.n, RESULT_FAIL, "overcommit_memory could not be put back to %lld; the "
                           "next vmlab run will try again", (long long)d.g.overcommit_memory);
    }
    narrate_finish(&d.n, RESULT_OK, "requests of %llu kB and %llu kB with and without MAP_NORESERVE, "
                   "in mode %lld%s", (unsigned long long)(d.huge / 1024), (unsigned long long)(d.fit / 1024),
                   (long long)d.g.overcommit_memory, all_modes ? " and in modes 0, 1 and 2 (restored since)" : "");
}
