/* SPDX-License-Identifier: MIT */
/* hugetlb-reserve: MAP_HUGETLB without MAP_NORESERVE reserves a huge page at
 * mmap time, so a successful mmap guarantees the writes; with MAP_NORESERVE
 * and no page left, the first write is a SIGBUS.
 *
 * The huge-page pool is a system setting (/proc/sys/vm/nr_hugepages). The
 * demo uses the free pages there are; only when there is none may root let
 * it grow the pool with --setup N, put back on every way out. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "leftovers.h"
#include "narrate.h"
#include "probe.h"
#include "procfs.h"
#include "sysctl.h"

enum { TOTAL, FREE, RSVD, SURP, NPOOL };
static const char *const pool_keys[NPOOL] = {"HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
                                             "HugePages_Surp"};

/* What the observer reads around each lesson line: [0] before, [1] after. */
struct reading {
    int64_t pool[NPOOL];
    int64_t private_hugetlb_kB, rss_kB, hugetlb_pages_kB, minflt;
};

struct demo {
    struct narrator n;
    size_t page, huge;        /* base and huge page size, bytes */
    uint64_t setup;           /* --setup N */
    uint64_t overcommit;      /* nr_overcommit_hugepages */
    int64_t spare;            /* pages free and not reserved, before the run */
    bool own_pool;            /* every spare page is this run's (--setup made them) */
    char *p, *rest, *q;       /* the huge page; the rest of the pool; one more */
    size_t rest_len;
    struct reading at[2];
};

static const struct demo_info info; /* the command line, at the end */

/* ---- The lesson ---- */

LESSON_FN static void look_at_pool(struct demo *d)
{
    int64_t free_pages;
    LESSON(&d->n, free_pages = procfs_read_one("/proc/meminfo", "HugePages_Free"););
    (void)free_pages; /* the observer reads the whole pool around it */
}

LESSON_FN static int grow_pool(struct demo *d)
{
    int rc;
    uint64_t total = (uint64_t)d->at[0].pool[TOTAL] + d->setup;
    LESSON(&d->n, rc = sysctl_set("nr_hugepages", total););
    return rc;
}

LESSON_FN static void map_one(struct demo *d)
{
    char *p;
    size_t huge = d->huge;
    LESSON(&d->n, p = mmap(NULL, huge, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0););
    d->p = p;
}

LESSON_FN static void write_one(struct demo *d)
{
    char *p = d->p;
    LESSON(&d->n, p[0] = 'a';);
}

LESSON_FN static void reserve_rest(struct demo *d)
{
    char *rest;
    size_t rest_len = d->rest_len;
    LESSON(&d->n, rest = mmap(NULL, rest_len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0););
    d->rest = rest;
}

LESSON_FN static void one_more(struct demo *d)
{
    char *q;
    size_t huge = d->huge;
    LESSON(&d->n, q = mmap(NULL, huge, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0););
    d->q = q;
}

LESSON_FN static void one_more_noreserve(struct demo *d)
{
    char *q;
    size_t huge = d->huge;
    LESSON(&d->n, q = mmap(NULL, huge, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0););
    d->q = q;
}

/* The write runs with the probe's handlers in place: a SIGBUS is caught
 * and reported (lib/kernel/probe), and the demo goes on. */
LESSON_FN static void write_noreserve(struct demo *d)
{
    char *q = d->q;
    LESSON(&d->n, q[0] = 'a';);
}

/* ---- How the numbers are read and explained ---- */

static void observe(void *ctx, bool after)
{
    struct demo *d = ctx;
    struct reading *r = &d->at[after];
    struct rusage ru;
    int saved = errno; /* the lesson's errno is the lesson's: keep it */
    if (after) {
        probe_disarm();
        getrusage(RUSAGE_SELF, &ru);
        r->minflt = ru.ru_minflt;
    }
    struct procfs_want w[NPOOL];
    for (int i = 0; i < NPOOL; i++)
        w[i] = (struct procfs_want){pool_keys[i], 0, false};
    enum procfs_status st = procfs_read_keyed("/proc/meminfo", w, NPOOL);
    for (int i = 0; i < NPOOL; i++)
        r->pool[i] = st == PROCFS_OK && w[i].present ? (int64_t)w[i].value : -1;
    struct smaps_entry e;
    uint64_t v;
    bool mapped = d->p && d->p != MAP_FAILED && smaps_read_entry((uintptr_t)d->p, &e) == PROCFS_OK;
    r->private_hugetlb_kB = mapped && smaps_get(&e, "Private_Hugetlb", &v) ? (int64_t)v : -1;
    r->rss_kB = mapped && smaps_get(&e, "Rss", &v) ? (int64_t)v : -1;
    r->hugetlb_pages_kB = procfs_read_one("/proc/self/status", "HugetlbPages");
    if (!after) {
        getrusage(RUSAGE_SELF, &ru);
        r->minflt = ru.ru_minflt;
        probe_arm();
    }
    errno = saved;
}

static int64_t delta(const struct demo *d, int key)
{
    return d->at[1].pool[key] - d->at[0].pool[key];
}

static void pool_rows(struct demo *d, bool surp)
{
    for (int i = FREE; i <= (surp ? SURP : RSVD); i++)
        narrate_value(&d->n, pool_keys[i], "", d->at[0].pool[i] >= 0, d->at[0].pool[i],
                      d->at[1].pool[i] >= 0, d->at[1].pool[i]);
}

static void row(struct demo *d, const char *key, int64_t before, int64_t after)
{
    narrate_value(&d->n, key, "kB", before >= 0, before, after >= 0, after);
}

/* The surplus rule: with nr_overcommit_hugepages above 0, a pool with no
 * page to spare grows by itself, up to that many pages. */
static bool surplus_made(struct demo *d, const char *id, const char *what)
{
    if (!FINDING(&d->n, id, delta(d, SURP) > 0, VAL("surp_delta", delta(d, SURP)),
                 VAL("nr_overcommit_hugepages", d->overcommit)))
        return false;
    narrate_because(&d->n, id, "The pool had no page to spare, and nr_overcommit_hugepages is %llu: "
                    "the kernel created %lld surplus page%s for %s (HugePages_Surp %+lld), from "
                    "ordinary free memory.", (unsigned long long)d->overcommit,
                    (long long)delta(d, SURP), delta(d, SURP) == 1 ? "" : "s", what,
                    (long long)delta(d, SURP));
    return true;
}

static void step_pool(struct demo *d)
{
    struct narrator *n = &d->n;
    char why[512] = "--setup was not given (as root: --setup 2)";
    /* A run that may grow the pool takes the vmlab lock first and decides
     * under it: a pool another vmlab run grew for itself is not spare. */
    bool may_grow = d->setup && sysctl_may_change("nr_hugepages", why, sizeof why) == 0;
    if (may_grow) {
        char repaired[512];
        if (sysctl_begin(info.name, repaired, sizeof repaired) != 0)
            narrate_fail_errno(n, "take the vmlab lock", errno);
        if (repaired[0])
            fprintf(stderr, "%s: %s\n", info.name, repaired);
        observe(d, true); /* the pool again, under the lock */
        d->spare = d->at[1].pool[FREE] - d->at[1].pool[RSVD];
    }
    if (d->spare > 0 || (d->overcommit > 0 && !may_grow)) {
        narrate_begin(n, "pool", "Look at the huge-page pool");
        look_at_pool(d);
        for (int i = 0; i < NPOOL; i++)
            narrate_fact_int(n, pool_keys[i], d->at[1].pool[i]);
        narrate_fact_int(n, "Hugepagesize_kB", (int64_t)(d->huge / 1024));
        narrate_fact_int(n, "nr_overcommit_hugepages", (int64_t)d->overcommit);
        if (FINDING(n, "pool_has_spare_pages", d->spare > 0, VAL("spare_pages", d->spare)))
            narrate_because(n, "pool_has_spare_pages", "The pool has %lld huge page%s of %zu kB "
                            "free and not reserved: this run maps one and changes no setting.",
                            (long long)d->spare, d->spare == 1 ? "" : "s", d->huge / 1024);
        if (FINDING(n, "setup_not_needed", d->setup && d->spare > 0, VAL("setup", d->setup)))
            narrate_because(n, "setup_not_needed", "--setup was not needed: the pool is not grown.");
        if (FINDING(n, "pool_fixed_size", d->overcommit == 0, VAL("nr_overcommit_hugepages", 0)))
            narrate_because(n, "pool_fixed_size", "nr_overcommit_hugepages is 0: every huge page "
                            "comes from this pool, sized in advance by nr_hugepages.");
        if (FINDING(n, "pool_may_grow", d->overcommit > 0,
                    VAL("nr_overcommit_hugepages", d->overcommit)))
            narrate_because(n, "pool_may_grow", "nr_overcommit_hugepages is %llu: when the pool "
                            "has no page to spare, the kernel may create up to that many surplus "
                            "pages on demand (HugePages_Surp), if it finds the memory.",
                            (unsigned long long)d->overcommit);
        narrate_end_step(n);
        return;
    }
    if (!may_grow)
        narrate_finish(n, RESULT_SKIP, "the huge-page pool has no page to spare (HugePages_Free "
                       "%lld, Rsvd %lld) and %s. An administrator can fill it once for everyone: "
                       "echo %lld > /proc/sys/vm/nr_hugepages", (long long)d->at[1].pool[FREE],
                       (long long)d->at[1].pool[RSVD], why, (long long)d->at[1].pool[TOTAL] + 2);
    narrate_begin(n, "grow_pool", "Grow the huge-page pool for this demo");
    observe(d, false);
    fprintf(stderr, "%s: growing the huge-page pool from %lld to %lld pages; it is put back on "
                    "exit, Ctrl-C included\n", info.name, (long long)d->at[0].pool[TOTAL],
            (long long)d->at[0].pool[TOTAL] + (long long)d->setup);
    if (grow_pool(d) != 0)
        narrate_fail_errno(n, sysctl_failed_call(), errno);
    narrate_value(n, pool_keys[TOTAL], "", true, d->at[0].pool[TOTAL], true, d->at[1].pool[TOTAL]);
    pool_rows(d, true);
    int64_t got = delta(d, TOTAL);
    d->spare = d->at[1].pool[FREE] - d->at[1].pool[RSVD];
    d->own_pool = d->spare > 0;
    if (FINDING(n, "pool_grew", got == (int64_t)d->setup, VAL("asked", d->setup), VAL("got", got)))
        narrate_because(n, "pool_grew", "The kernel set aside %lld huge page%s of %zu kB. That "
                        "memory now serves huge pages only, whether or not a program uses it.",
                        (long long)got, got == 1 ? "" : "s", d->huge / 1024);
    if (FINDING(n, "pool_grew_less", got < (int64_t)d->setup, VAL("asked", d->setup), VAL("got", got)))
        narrate_because(n, "pool_grew_less", "Asked for %llu more huge pages, the kernel found "
                        "%lld: each needs %zu kB of contiguous free memory.",
                        (unsigned long long)d->setup, (long long)got, d->huge / 1024);
    narrate_end_step(n);
    if (d->spare <= 0)
        narrate_finish(n, RESULT_SKIP, "the kernel could not add a free huge page to the pool "
                       "(no %zu kB of contiguous free memory); try again after a reboot",
                       d->huge / 1024);
}

static void step_map(struct demo *d)
{
    struct narrator *n = &d->n;
    narrate_begin(n, "map", "Map one huge page");
    map_one(d);
    if (d->p == MAP_FAILED) {
        int err = errno;
        char name[24];
        narrate_fact(n, "mmap", "%s", errno_name(err, name, sizeof name));
        pool_rows(d, true);
        FINDING(n, "mmap_refused", true, VAL("errno", err));
        narrate_end_step(n);
        narrate_finish(n, RESULT_SKIP, "mmap(MAP_HUGETLB) of one huge page was refused (%s), "
                       "although the pool had %lld page%s to spare: another program took them "
                       "first, or a hugetlb cgroup limit applies", name, (long long)d->spare,
                       d->spare == 1 ? "" : "s");
    }
    struct smaps_entry e;
    if (smaps_read_entry((uintptr_t)d->p, &e) == PROCFS_OK)
        narrate_fact(n, "maps", "%lx-%lx %s %s", (unsigned long)e.start, (unsigned long)e.end,
                     e.perms, e.name);
    /* mincore wants one byte per base page, even for a huge page. */
    size_t pages = d->huge / d->page;
    unsigned char *vec = calloc(pages, 1);
    if (!vec || mincore(d->p, d->huge, vec) != 0)
        narrate_fail_errno(n, vec ? "mincore" : "calloc", errno);
    int64_t resident = 0;
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    free(vec);
    narrate_fact_int(n, "huge_page_kB", (int64_t)(d->huge / 1024));
    narrate_fact_int(n, "mincore_resident_base_pages", resident);
    narrate_fact_int(n, "base_pages", (int64_t)pages);
    pool_rows(d, true);
    bool reserved = delta(d, RSVD) == 1 && delta(d, FREE) == delta(d, SURP);
    if (FINDING(n, "reserved_not_taken", reserved && resident == 0, VAL("rsvd_delta", delta(d, RSVD)),
                VAL("free_delta", delta(d, FREE)), VAL("resident_base_pages", resident)))
        narrate_because(n, "reserved_not_taken", "HugePages_Rsvd went up by 1 and no page was "
                        "taken: mmap reserved a page from the pool. Nothing is mapped yet (mincore: "
                        "0 of %zu base pages resident), but the first write is now sure to find a "
                        "page.", pages);
    surplus_made(d, "surplus_for_reservation", "the reservation");
    narrate_end_step(n);
    narrate_watch(n, (uintptr_t)d->p);
}

static void step_write(struct demo *d)
{
    struct narrator *n = &d->n;
    narrate_begin(n, "write", "Write one byte into it");
    write_one(d);
    struct reading *b = &d->at[0], *a = &d->at[1];
    pool_rows(d, false);
    row(d, "Private_Hugetlb", b->private_hugetlb_kB, a->private_hugetlb_kB);
    row(d, "Rss", b->rss_kB, a->rss_kB);
    row(d, "status_HugetlbPages", b->hugetlb_pages_kB, a->hugetlb_pages_kB);
    narrate_value(n, "minor_faults", "", true, b->minflt, true, a->minflt);
    int64_t huge_kB = (int64_t)(d->huge / 1024);
    if (FINDING(n, "write_took_reserved_page", delta(d, FREE) == -1 && delta(d, RSVD) == -1,
                VAL("free_delta", delta(d, FREE)), VAL("rsvd_delta", delta(d, RSVD))))
        narrate_because(n, "write_took_reserved_page", "The write took the reserved page: Free "
                        "and Rsvd both went down by 1.");
    if (FINDING(n, "counted_apart_from_rss", a->private_hugetlb_kB == huge_kB && a->rss_kB == 0 &&
                a->hugetlb_pages_kB - b->hugetlb_pages_kB == huge_kB,
                VAL("private_hugetlb_kB", a->private_hugetlb_kB), VAL("rss_kB", a->rss_kB),
                VAL("hugetlb_pages_delta_kB", a->hugetlb_pages_kB - b->hugetlb_pages_kB)))
        narrate_because(n, "counted_apart_from_rss", "smaps counts it as Private_Hugetlb (%lld "
                        "kB), not in Rss (0 kB), and /proc/self/status as HugetlbPages: pool "
                        "pages are counted apart from ordinary memory.", (long long)huge_kB);
    narrate_end_step(n);
}

/* Steps 4 to 6 use up the pool: only one this run made for itself. */
static bool pool_is_ours(struct demo *d)
{
    struct narrator *n = &d->n;
    if (FINDING(n, "pool_not_this_runs", !d->own_pool, VAL("spare_pages_before_run", d->spare)))
        narrate_because(n, "pool_not_this_runs", "Not run: the pool had pages to spare before "
                        "this run, and other programs may count on them. To see both failures, "
                        "run as root with --setup on a machine whose pool has no free page.");
    return d->own_pool;
}

static void step_reserve_rest(struct demo *d)
{
    struct narrator *n = &d->n;
    narrate_begin(n, "reserve_rest", "Reserve every other spare page of the pool");
    if (pool_is_ours(d)) {
        int64_t left = d->at[1].pool[FREE] - d->at[1].pool[RSVD];
        d->rest_len = (size_t)(left > 0 ? left : 0) * d->huge;
        narrate_fact_int(n, "spare_pages", left);
        if (d->rest_len) {
            reserve_rest(d);
        } else { /* nothing left to reserve: read the pool, twice, for the rows */
            observe(d, false);
            observe(d, true);
        }
        if (d->rest == MAP_FAILED)
            narrate_fail_errno(n, "mmap (every spare huge page)", errno);
        pool_rows(d, false);
        int64_t spare = d->at[1].pool[FREE] - d->at[1].pool[RSVD];
        if (FINDING(n, "no_page_to_spare", spare == 0, VAL("free_minus_rsvd", spare)))
            narrate_because(n, "no_page_to_spare", "Now every free page is reserved (Free %lld, "
                            "Rsvd %lld), though none is in use: no new reservation can be made.",
                            (long long)d->at[1].pool[FREE], (long long)d->at[1].pool[RSVD]);
    }
    narrate_end_step(n);
}

static void step_one_more(struct demo *d)
{
    struct narrator *n = &d->n;
    narrate_begin(n, "one_more", "Ask for one more page without MAP_NORESERVE");
    if (pool_is_ours(d)) {
        one_more(d);
        int err = d->q == MAP_FAILED ? errno : 0;
        char name[24];
        narrate_fact(n, "mmap", "%s", err ? errno_name(err, name, sizeof name) : "granted");
        pool_rows(d, true);
        if (FINDING(n, "refused_at_mmap", err == ENOMEM, VAL("errno", err)))
            narrate_because(n, "refused_at_mmap", "With no page to reserve, mmap failed with "
                            "ENOMEM: it refuses now rather than fail later. That is the guarantee.");
        if (!surplus_made(d, "surplus_for_reservation", "this mapping") && !err)
            narrate_note(n, "mmap was granted.");
        if (d->q != MAP_FAILED)
            munmap(d->q, d->huge);
    }
    narrate_end_step(n);
}

static void step_noreserve_write(struct demo *d)
{
    struct narrator *n = &d->n;
    narrate_begin(n, "noreserve_write", "The same with MAP_NORESERVE, then write");
    if (pool_is_ours(d)) {
        one_more_noreserve(d);
        char name[24];
        narrate_fact(n, "mmap", "%s", d->q == MAP_FAILED ? errno_name(errno, name, sizeof name)
                                                         : "granted");
        if (d->q == MAP_FAILED) {
            narrate_note(n, "Even with MAP_NORESERVE the mmap was refused.");
            narrate_end_step(n);
            return;
        }
        struct probe_result r;
        if (probe_install() != 0)
            narrate_fail_errno(n, "sigaction", errno);
        if (sigsetjmp(probe_env, 1) == 0)
            write_noreserve(d);
        else
            narrate_lesson_after(n); /* the LESSON's own "after" was jumped over */
        probe_uninstall();
        probe_outcome(&r);
        narrate_fact(n, "write", "%s", r.faulted ? probe_signal_name(r.signo) : "completed");
        if (r.faulted) {
            narrate_fact(n, "si_code", "%s", probe_code_name(r.signo, r.code));
            narrate_fact(n, "si_addr", "0x%llx", (unsigned long long)r.addr);
        }
        pool_rows(d, true);
        if (FINDING(n, "sigbus_at_first_write", r.signo == SIGBUS && r.addr == (uintptr_t)d->q,
                    VAL("rsvd_delta", delta(d, RSVD)), VAL("si_code", r.code)))
            narrate_because(n, "sigbus_at_first_write", "mmap was granted - MAP_NORESERVE reserves "
                            "nothing - and the first write got SIGBUS (%s) at the mapping's first "
                            "byte: no huge page to give, and a hugetlb mapping cannot fall back to "
                            "small pages. The demo caught the signal and went on.",
                            probe_code_name(r.signo, r.code));
        if (!surplus_made(d, "surplus_at_fault", "the write") && !r.faulted)
            narrate_note(n, "The write completed.");
        munmap(d->q, d->huge);
    }
    narrate_end_step(n);
}

/* ---- The steps, the command line, and main ---- */

static void (*const steps[])(struct demo *) = {
    step_pool, step_map, step_write, step_reserve_rest, step_one_more, step_noreserve_write,
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

enum { OPT_SETUP };

static const struct cli_option options[] = {
    [OPT_SETUP] = {"setup", "N", "root only, and only if the pool has no free page: add N huge "
                                 "pages to it for the demo (1 to 64), put back afterwards"},
};

static const struct demo_info info = {
    .name = "hugetlb-reserve",
    .summary =
        "Maps one huge page with MAP_HUGETLB and follows the pool counters in\n"
        "/proc/meminfo: mmap reserves a page (HugePages_Rsvd), the first write takes\n"
        "it (HugePages_Free). Then, with the pool used up, the two ways to fail:\n"
        "ENOMEM at mmap without MAP_NORESERVE, SIGBUS at the first write with it.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  hugetlb-reserve                 uses the free huge pages there are\n"
                "  sudo hugetlb-reserve --setup 2  if there are none, grow the pool by 2\n",
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(uint64_t *)ctx = cli_count_arg(&info, "--setup", arg, 1, 64);
}

int main(int argc, char **argv)
{
    static struct demo d;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &d.setup);
    cli_no_positionals(&info, argc, argv, first);
    int64_t huge_kB = procfs_read_one("/proc/meminfo", "Hugepagesize");
    if (d.setup && huge_kB > 0) /* 64 pages of 1 GiB would be most of a machine */
        cli_check_fits(&info, "--setup", d.setup * (uint64_t)huge_kB * 1024, 4);

    narrate_init(&d.n, info.name, &common, NSTEPS);
    leftovers_repair(info.name);
    if (huge_kB <= 0)
        narrate_finish(&d.n, RESULT_SKIP, "this kernel has no huge pages (no Hugepagesize in "
                       "/proc/meminfo: CONFIG_HUGETLBFS is off)");
    d.page = (size_t)sysconf(_SC_PAGESIZE);
    d.huge = (size_t)huge_kB * 1024;
    if (procfs_read_vm_sysctl("nr_overcommit_hugepages", &d.overcommit) != PROCFS_OK)
        d.overcommit = 0;
    narrate_observe(&d.n, observe, &d);
    observe(&d, true);
    d.spare = d.at[1].pool[FREE] - d.at[1].pool[RSVD];
    narrate_intro(&d.n, "hugetlb-reserve (PID %ld): reservations in the huge-page pool.",
                  (long)getpid());
    for (int i = 0; i < NSTEPS; i++)
        steps[i](&d);
    if (d.rest_len)
        munmap(d.rest, d.rest_len);
    munmap(d.p, d.huge);
    if (sysctl_end() != 0) /* said on stderr; the record stays for the next run */
        narrate_finish(&d.n, RESULT_FAIL, "the huge-page pool could not be put back to its "
                                          "original size (see above)");
    narrate_finish(&d.n, RESULT_OK, "one huge page reserved at mmap and taken at the first write%s",
                   d.own_pool ? "; the pool is back to its original size" : "");
}
