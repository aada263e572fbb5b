/* SPDX-License-Identifier: MIT */
/* hugetlb-reserve: MAP_HUGETLB without MAP_NORESERVE reserves a huge page at
 * mmap time, so a successful mmap guarantees the writes; with MAP_NORESERVE
 * and no page left, the first write is a SIGBUS.
 *
 * The huge-page pool is a system setting (/proc/sys/vm/nr_hugepages). The
 * demo uses the free pages there are; only when there is none may root let
 * it grow the pool with --setup N, put back on every way out. The lesson
 * comes first, each LESSON(...) printed exactly as written; then what each
 * step's numbers show; then the options. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "leftovers.h"
#include "narrate.h"
#include "probe.h"
#include "procfs.h"
#include "residency.h"
#include "snapshot.h"
#include "sysctl.h"

static struct narrator n;
static size_t page, huge;       /* base and huge page size, bytes */
static uint64_t setup, total;   /* --setup N; the pool's size it asks for */
static bool own_pool;           /* every spare page is this run's (--setup made them) */
static char *p, *rest, *q;      /* the huge page; the rest of the pool; one more */
static size_t rest_len;
static int rc;                  /* sysctl_set's result */
static int64_t free_pages;      /* what step 1 reads without --setup */
static struct probe_result bus; /* how step 6's write ended */

static void observe(void *ctx, bool after);
static int64_t spare_now(void);

/* ---- The lesson ---- */

/* 1. The pool as it is, or (root, --setup, no page to spare) grown for the run. */
LESSON_FN static void look_at_pool(void)
{
    LESSON(&n, free_pages = procfs_read_one("/proc/meminfo", "HugePages_Free"););
}

LESSON_FN static void grow_pool(void)
{
    fprintf(stderr, "hugetlb-reserve: growing the huge-page pool from %llu to %llu pages; it is "
                    "put back on exit, Ctrl-C included\n", (unsigned long long)(total - setup),
            (unsigned long long)total);
    LESSON(&n, rc = sysctl_set("nr_hugepages", total););
}

/* 2. One huge page: mmap reserves it in the pool. */
LESSON_FN static void map_one(void)
{
    LESSON(&n, p = mmap(NULL, huge, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0););
    narrate_watch(&n, (uintptr_t)p);
}

/* 3. The first write takes the reserved page. */
LESSON_FN static void write_one(void)
{
    LESSON(&n, p[0] = 'a';);
}

/* Steps 4 to 6 use up the pool: they run only on one this run made for itself. */

/* 4. Every page still spare, reserved: the pool has none left to promise. */
LESSON_FN static void reserve_rest(void)
{
    rest_len = (size_t)(spare_now() > 0 ? spare_now() : 0) * huge;
    if (rest_len) {
        LESSON(&n, rest = mmap(NULL, rest_len, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0););
    } else { /* nothing left to reserve: read the pool, twice, for the rows */
        observe(NULL, false);
        observe(NULL, true);
    }
}

/* 5. One more: refused at mmap, since no page can be reserved. */
LESSON_FN static void one_more(void)
{
    LESSON(&n, q = mmap(NULL, huge, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0););
}

/* 6. The same with MAP_NORESERVE: granted, and the write finds no page. It
 *    runs with the probe's handlers in place: a SIGBUS is caught and
 *    reported (lib/kernel/probe), and the demo goes on. */
LESSON_FN static void noreserve_write(void)
{
    LESSON(&n, q = mmap(NULL, huge, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0););
    if (q == MAP_FAILED)
        return;
    if (probe_install() != 0)
        narrate_fail_errno(&n, "sigaction", errno);
    if (sigsetjmp(probe_env, 1) == 0)
        LESSON(&n, q[0] = 'a';);
    else
        narrate_lesson_after(&n); /* the LESSON's own "after" was jumped over */
    probe_uninstall();
    probe_outcome(&bus);
}

/* ---- What each step measured, and what it shows ---- */

/* Taken by observe() around each LESSON, [0] before and [1] after: the pool
 * (/proc/meminfo), the mapping's smaps entry and the fault counts; and the
 * process's huge pages as /proc/self/status counts them. */
static struct snapshot at[2];
static int64_t status_kB[2];    /* HugetlbPages */
static uint64_t overcommit;     /* nr_overcommit_hugepages */
static int64_t spare;           /* pages free and not reserved, before the run */
static int lesson_errno;        /* errno just after the lesson's code */

static void observe(void *ctx, bool after)
{
    (void)ctx;
    int saved = errno; /* the lesson's errno is the lesson's: keep it */
    if (after) {
        lesson_errno = saved;
        probe_disarm();
    }
    snapshot_take_or_fail(&at[after], (uintptr_t)p, &n);
    status_kB[after] = procfs_read_one("/proc/self/status", "HugetlbPages");
    if (!after)
        probe_arm();
    errno = saved;
}

enum { TOTAL, FREE, RSVD, SURP, NPOOL };
static const char *const pool_keys[NPOOL] = {"HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
                                             "HugePages_Surp"};

/* A counter of reading [side] (a pool's or an smaps field), -1 when absent. */
static int64_t get(int side, const char *key)
{
    int64_t v = -1;
    return snapshot_get(&at[side], key, &v) ? v : -1;
}
#define pool(side, key) get(side, pool_keys[key])

static int64_t delta(int key)
{
    return snapshot_delta0(&at[0], &at[1], pool_keys[key]);
}

/* Free and not reserved, at the last reading. */
static int64_t spare_now(void)
{
    return pool(1, FREE) - pool(1, RSVD);
}

static void row(const char *key, const char *unit, int64_t before, int64_t after)
{
    narrate_value(&n, key, unit, before >= 0, before, after >= 0, after);
}

static void pool_rows(int from, int to)
{
    for (int i = from; i <= to; i++)
        row(pool_keys[i], "", pool(0, i), pool(1, i));
}

static const char *plural(int64_t count)
{
    return count == 1 ? "" : "s";
}

/* What mmap said, as a fact: "granted", or the errno's name ("ENOMEM"). */
static const char *mmap_fact(const char *mapped)
{
    static char name[24];
    narrate_fact(&n, "mmap", "%s", mapped != MAP_FAILED ? "granted"
                                                        : errno_name(lesson_errno, name, sizeof name));
    return name;
}

/* The surplus rule: with nr_overcommit_hugepages above 0, a pool with no
 * page to spare grows by itself, up to that many pages. */
static bool surplus_made(const char *id, const char *what)
{
    int64_t made = delta(SURP);
    if (!FINDING(&n, id, made > 0, VAL("surp_delta", made),
                 VAL("nr_overcommit_hugepages", overcommit)))
        return false;
    narrate_because(&n, id, "The pool had no page to spare, and nr_overcommit_hugepages is %llu: "
                    "the kernel created %lld surplus page%s for %s (HugePages_Surp %+lld), from "
                    "ordinary free memory.", (unsigned long long)overcommit, (long long)made,
                    plural(made), what, (long long)made);
    return true;
}

static void explain_pool(void)
{
    for (int i = 0; i < NPOOL; i++)
        narrate_fact_int(&n, pool_keys[i], pool(1, i));
    narrate_fact_int(&n, "Hugepagesize_kB", (int64_t)(huge / 1024));
    narrate_fact_int(&n, "nr_overcommit_hugepages", (int64_t)overcommit);
    if (FINDING(&n, "pool_has_spare_pages", spare > 0, VAL("spare_pages", spare)))
        narrate_because(&n, "pool_has_spare_pages", "The pool has %lld huge page%s of %zu kB "
                        "free and not reserved: this run maps one and changes no setting.",
                        (long long)spare, plural(spare), huge / 1024);
    if (FINDING(&n, "setup_not_needed", setup && spare > 0, VAL("setup", setup)))
        narrate_because(&n, "setup_not_needed", "--setup was not needed: the pool is not grown.");
    if (FINDING(&n, "pool_fixed_size", overcommit == 0, VAL("nr_overcommit_hugepages", 0)))
        narrate_because(&n, "pool_fixed_size", "nr_overcommit_hugepages is 0: every huge page "
                        "comes from this pool, sized in advance by nr_hugepages.");
    if (FINDING(&n, "pool_may_grow", overcommit > 0, VAL("nr_overcommit_hugepages", overcommit)))
        narrate_because(&n, "pool_may_grow", "nr_overcommit_hugepages is %llu: when the pool "
                        "has no page to spare, the kernel may create up to that many surplus "
                        "pages on demand (HugePages_Surp), if it finds the memory.",
                        (unsigned long long)overcommit);
}

static void explain_grow_pool(void)
{
    if (rc != 0)
        narrate_fail_errno(&n, sysctl_failed_call(), lesson_errno);
    pool_rows(TOTAL, SURP);
    int64_t got = delta(TOTAL);
    spare = spare_now();
    own_pool = spare > 0;
    if (FINDING(&n, "pool_grew", got == (int64_t)setup, VAL("asked", setup), VAL("got", got)))
        narrate_because(&n, "pool_grew", "The kernel set aside %lld huge page%s of %zu kB. That "
                        "memory now serves huge pages only, whether or not a program uses it.",
                        (long long)got, plural(got), huge / 1024);
    if (FINDING(&n, "pool_grew_less", got < (int64_t)setup, VAL("asked", setup), VAL("got", got)))
        narrate_because(&n, "pool_grew_less", "Asked for %llu more huge pages, the kernel found "
                        "%lld: each needs %zu kB of contiguous free memory.",
                        (unsigned long long)setup, (long long)got, huge / 1024);
}

static void explain_map(void)
{
    if (p == MAP_FAILED) {
        const char *err = mmap_fact(p);
        pool_rows(FREE, SURP);
        FINDING(&n, "mmap_refused", true, VAL("errno", lesson_errno));
        narrate_end_step(&n);
        narrate_finish(&n, RESULT_SKIP, "mmap(MAP_HUGETLB) of one huge page was refused (%s), "
                       "although the pool had %lld page%s to spare: another program took them "
                       "first, or a hugetlb cgroup limit applies", err, (long long)spare,
                       plural(spare));
    }
    const struct smaps_entry *e = &at[1].entry;
    if (at[1].mapped)
        narrate_fact(&n, "maps", "%lx-%lx %s %s", (unsigned long)e->start, (unsigned long)e->end,
                     e->perms, e->name);
    /* mincore counts base pages, even in a huge page: 262144 in one of 1 GiB. */
    static char picture[(1 << 18) + 1];
    size_t pages = huge / page;
    long resident = residency_picture(p, huge, picture, sizeof picture);
    if (resident < 0)
        narrate_fail_errno(&n, "mincore", errno);
    narrate_fact_int(&n, "huge_page_kB", (int64_t)(huge / 1024));
    narrate_fact_int(&n, "mincore_resident_base_pages", resident);
    narrate_fact_int(&n, "base_pages", (int64_t)pages);
    pool_rows(FREE, SURP);
    bool reserved = delta(RSVD) == 1 && delta(FREE) == delta(SURP) && resident == 0;
    if (FINDING(&n, "reserved_not_taken", reserved, VAL("rsvd_delta", delta(RSVD)),
                VAL("free_delta", delta(FREE)), VAL("resident_base_pages", resident)))
        narrate_because(&n, "reserved_not_taken", "HugePages_Rsvd went up by 1 and no page was "
                        "taken: mmap reserved a page from the pool. Nothing is mapped yet "
                        "(mincore: 0 of %zu base pages resident), but the first write is now sure "
                        "to find a page.", pages);
    surplus_made("surplus_for_reservation", "the reservation");
}

static void explain_write(void)
{
    int64_t huge_kB = (int64_t)(huge / 1024), hugetlb = get(1, "Private_Hugetlb");
    int64_t rss = get(1, "Rss"), counted = status_kB[1] - status_kB[0];
    pool_rows(FREE, RSVD);
    row("Private_Hugetlb", "kB", get(0, "Private_Hugetlb"), hugetlb);
    row("Rss", "kB", get(0, "Rss"), rss);
    row("status_HugetlbPages", "kB", status_kB[0], status_kB[1]);
    row("minor_faults", "", at[0].minflt_end, at[1].minflt_start);
    if (FINDING(&n, "write_took_reserved_page", delta(FREE) == -1 && delta(RSVD) == -1,
                VAL("free_delta", delta(FREE)), VAL("rsvd_delta", delta(RSVD))))
        narrate_because(&n, "write_took_reserved_page", "The write took the reserved page: Free "
                        "and Rsvd both went down by 1.");
    if (FINDING(&n, "counted_apart_from_rss", hugetlb == huge_kB && rss == 0 && counted == huge_kB,
                VAL("private_hugetlb_kB", hugetlb), VAL("rss_kB", rss),
                VAL("hugetlb_pages_delta_kB", counted)))
        narrate_because(&n, "counted_apart_from_rss", "smaps counts it as Private_Hugetlb (%lld "
                        "kB), not in Rss (0 kB), and /proc/self/status as HugetlbPages: pool "
                        "pages are counted apart from ordinary memory.", (long long)huge_kB);
}

/* Steps 4 to 6 on a pool that is not this run's: said, and nothing else. */
static void not_this_runs_pool(void)
{
    if (FINDING(&n, "pool_not_this_runs", !own_pool, VAL("spare_pages_before_run", spare)))
        narrate_because(&n, "pool_not_this_runs", "Not run: the pool had pages to spare before "
                        "this run, and other programs may count on them. To see both failures, "
                        "run as root with --setup on a machine whose pool has no free page.");
}

static void explain_reserve_rest(void)
{
    not_this_runs_pool();
    narrate_fact_int(&n, "spare_pages", (int64_t)(rest_len / huge));
    if (rest == MAP_FAILED)
        narrate_fail_errno(&n, "mmap (every spare huge page)", lesson_errno);
    pool_rows(FREE, RSVD);
    if (FINDING(&n, "no_page_to_spare", spare_now() == 0, VAL("free_minus_rsvd", spare_now())))
        narrate_because(&n, "no_page_to_spare", "Now every free page is reserved (Free %lld, "
                        "Rsvd %lld), though none is in use: no new reservation can be made.",
                        (long long)pool(1, FREE), (long long)pool(1, RSVD));
}

static void explain_one_more(void)
{
    not_this_runs_pool();
    int err = q == MAP_FAILED ? lesson_errno : 0;
    mmap_fact(q);
    pool_rows(FREE, SURP);
    if (FINDING(&n, "refused_at_mmap", err == ENOMEM, VAL("errno", err)))
        narrate_because(&n, "refused_at_mmap", "With no page to reserve, mmap failed with "
                        "ENOMEM: it refuses now rather than fail later. That is the guarantee.");
    if (!surplus_made("surplus_for_reservation", "this mapping") && !err)
        narrate_note(&n, "mmap was granted.");
    if (q != MAP_FAILED)
        munmap(q, huge);
}

static void explain_noreserve_write(void)
{
    not_this_runs_pool();
    mmap_fact(q);
    if (q == MAP_FAILED) {
        narrate_note(&n, "Even with MAP_NORESERVE the mmap was refused.");
        return;
    }
    narrate_fact(&n, "write", "%s", bus.faulted ? probe_signal_name(bus.signo) : "completed");
    if (bus.faulted) {
        narrate_fact(&n, "si_code", "%s", probe_code_name(bus.signo, bus.code));
        narrate_fact(&n, "si_addr", "0x%llx", (unsigned long long)bus.addr);
    }
    pool_rows(FREE, SURP);
    if (FINDING(&n, "sigbus_at_first_write", bus.signo == SIGBUS && bus.addr == (uintptr_t)q,
                VAL("rsvd_delta", delta(RSVD)), VAL("si_code", bus.code)))
        narrate_because(&n, "sigbus_at_first_write", "mmap was granted - MAP_NORESERVE reserves "
                        "nothing - and the first write got SIGBUS (%s) at the mapping's first "
                        "byte: no huge page to give, and a hugetlb mapping cannot fall back to "
                        "small pages. The demo caught the signal and went on.",
                        probe_code_name(bus.signo, bus.code));
    if (!surplus_made("surplus_at_fault", "the write") && !bus.faulted)
        narrate_note(&n, "The write completed.");
    munmap(q, huge);
}

/* The lesson as tables: step 1 is one of two, chosen by the pool (first_step);
 * steps 4 to 6 run as they are only on a pool this run grew (main). */
static const struct narrate_lesson first[] = {
    {"pool", "Look at the huge-page pool", look_at_pool, explain_pool, NO_QUESTION},
    {"grow_pool", "Grow the huge-page pool for this demo", grow_pool, explain_grow_pool,
     NO_QUESTION},
};
static const struct narrate_lesson steps[] = {
    {"map", "Map one huge page", map_one, explain_map, NO_QUESTION},
    {"write", "Write one byte into it", write_one, explain_write, NO_QUESTION},
};
static const struct narrate_lesson used_up[] = {
    {"reserve_rest", "Reserve every other spare page of the pool", reserve_rest,
     explain_reserve_rest, NO_QUESTION},
    {"one_more", "Ask for one more page without MAP_NORESERVE", one_more, explain_one_more,
     NO_QUESTION},
    {"noreserve_write", "The same with MAP_NORESERVE, then write", noreserve_write,
     explain_noreserve_write, NO_QUESTION},
};

/* ---- Options, the pool, and main ---- */

static const struct cli_option options[] = {
    {"setup", "N", "root only, and only if the pool has no free page: add N huge pages to it for "
                   "the demo (1 to 64), put back afterwards"},
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
    (void)ctx;
    (void)index; /* --setup is the only option */
    setup = cli_count_arg(&info, "--setup", arg, 1, 64);
}

/* Step 1: the pool as it is, or grown. A run that may grow the pool takes
 * the vmlab lock first and decides under it: a pool another vmlab run grew
 * for itself is not spare. */
static void first_step(void)
{
    char why[512] = "--setup was not given (as root: --setup 2)";
    bool may_grow = setup && sysctl_may_change("nr_hugepages", why, sizeof why) == 0;
    if (may_grow) {
        char repaired[512];
        if (sysctl_begin(info.name, repaired, sizeof repaired) != 0)
            narrate_fail_errno(&n, "take the vmlab lock", errno);
        if (repaired[0])
            fprintf(stderr, "%s: %s\n", info.name, repaired);
        observe(NULL, true); /* the pool again, under the lock */
        spare = spare_now();
    }
    if (spare > 0 || (overcommit > 0 && !may_grow)) {
        narrate_run(&n, &first[0], 1);
        return;
    }
    if (!may_grow)
        narrate_finish(&n, RESULT_SKIP, "the huge-page pool has no page to spare (HugePages_Free "
                       "%lld, Rsvd %lld) and %s. An administrator can fill it once for everyone: "
                       "echo %lld > /proc/sys/vm/nr_hugepages", (long long)pool(1, FREE),
                       (long long)pool(1, RSVD), why, (long long)pool(1, TOTAL) + 2);
    total = (uint64_t)pool(1, TOTAL) + setup;
    narrate_run(&n, &first[1], 1);
    if (spare <= 0)
        narrate_finish(&n, RESULT_SKIP, "the kernel could not add a free huge page to the pool "
                       "(no %zu kB of contiguous free memory); try again after a reboot",
                       huge / 1024);
}

int main(int argc, char **argv)
{
    struct cli_common common;
    int first_arg = cli_parse(argc, argv, &info, &common, on_option, NULL);
    cli_no_positionals(&info, argc, argv, first_arg);
    int64_t huge_kB = procfs_read_one("/proc/meminfo", "Hugepagesize");
    if (setup && huge_kB > 0) /* 64 pages of 1 GiB would be most of a machine */
        cli_check_fits(&info, "--setup", setup * (uint64_t)huge_kB * 1024, 4);

    narrate_init(&n, info.name, &common, 1 + NARRATE_COUNT(steps) + NARRATE_COUNT(used_up));
    leftovers_repair(info.name);
    if (huge_kB <= 0)
        narrate_finish(&n, RESULT_SKIP, "this kernel has no huge pages (no Hugepagesize in "
                       "/proc/meminfo: CONFIG_HUGETLBFS is off)");
    page = (size_t)sysconf(_SC_PAGESIZE);
    huge = (size_t)huge_kB * 1024;
    if (procfs_read_vm_sysctl("nr_overcommit_hugepages", &overcommit) != PROCFS_OK)
        overcommit = 0;
    narrate_observe(&n, observe, NULL);
    observe(NULL, true);
    spare = spare_now();
    narrate_intro(&n, "hugetlb-reserve (PID %ld): reservations in the huge-page pool.",
                  (long)getpid());
    first_step();
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    for (int i = 0; i < NARRATE_COUNT(used_up) && !own_pool; i++) {
        narrate_begin(&n, used_up[i].id, used_up[i].title);
        not_this_runs_pool();
        narrate_end_step(&n);
    }
    if (own_pool)
        narrate_run(&n, used_up, NARRATE_COUNT(used_up));
    if (rest_len)
        munmap(rest, rest_len);
    munmap(p, huge);
    if (sysctl_end() != 0) /* said on stderr; the record stays for the next run */
        narrate_finish(&n, RESULT_FAIL, "the huge-page pool could not be put back to its "
                                        "original size (see above)");
    narrate_finish(&n, RESULT_OK, "one huge page reserved at mmap and taken at the first write%s",
                   own_pool ? "; the pool is back to its original size" : "");
}
