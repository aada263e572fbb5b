/* SPDX-License-Identifier: MIT */
/* hugetlb-reserve: MAP_HUGETLB without MAP_NORESERVE reserves a huge page at
 * mmap time, so a successful mmap guarantees the writes; with MAP_NORESERVE
 * and no page left, the first write is a SIGBUS. The demo uses the pages the
 * pool (nr_hugepages) has to spare; only when there are none may root grow
 * it for the run (--setup N), put back on every way out. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "lesson-code.h"
#include "narrate.h"
#include "needs.h"
#include "probe.h"
#include "procfs.h"
#include "residency.h"
#include "snapshot-report.h"
#include "snapshot.h"
#include "sysctl.h"

static struct narrator n;
static size_t page, huge, rest_len; /* base and huge page size; the rest of the pool (bytes) */
static uint64_t setup, total;   /* --setup N; the pool's size it asks for */
static bool own_pool;           /* every spare page is this run's (--setup made them) */
static char *p, *rest, *q;      /* the huge page; the rest of the pool; one more */
static int rc;                  /* sysctl_set's result */
static int64_t free_pages;      /* what step 1 reads without --setup */
static struct probe_result bus; /* how step 6's write ended */

enum { TOTAL, FREE, RSVD, SURP, NPOOL };
static int64_t pool[2][NPOOL];  /* HugePages_* (meminfo), before [0] and after [1] a LESSON */
#define spare_now() (pool[1][FREE] - pool[1][RSVD]) /* free and not reserved, at the last reading */
static void observe(void *ctx, bool after);

/* ---- The lesson ---- */

/* 1. The pool as it is, or (root, --setup, no page to spare) grown for the run. */
LESSON_FN static void look_at_pool(void)
{
    LESSON(&n, free_pages = procfs_read_one("/proc/meminfo", "HugePages_Free"););
}

LESSON_FN static void grow_pool(void)
{
    fprintf(stderr, "hugetlb-reserve: growing the huge-page pool from %lld to %lld pages; it is "
            "put back on exit, Ctrl-C included\n", (long long)(total - setup), (long long)total);
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

/* 6. The same with MAP_NORESERVE: granted, and the write finds no page. The
 *    probe's handlers catch the SIGBUS (lib/kernel/probe), and the demo goes on. */
LESSON_FN static void noreserve_write(void)
{
    LESSON(&n, q = mmap(NULL, huge, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0););
    if (q == MAP_FAILED)
        return;
    LESSON_CAUGHT(&n, &bus, q[0] = 'a';);
}

/* ---- What each step measured, and what it shows ---- */

/* Around each LESSON, [0] before and [1] after: the pool, the mapping, HugetlbPages. */
static struct snapshot at[2];
static int64_t status_kB[2], overcommit; /* HugetlbPages; nr_overcommit_hugepages */
static int64_t spare;           /* pages free and not reserved, before the run */

static const char *const pool_keys[NPOOL] = {"HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
                                             "HugePages_Surp"};

static void observe(void *ctx, bool after)
{
    (void)ctx;
    if (after)
        probe_disarm();
    snapshot_take_or_fail(&at[after], (uintptr_t)p, &n);
    for (int i = 0; i < NPOOL; i++)
        snapshot_get(&at[after], pool_keys[i], &pool[after][i]);
    status_kB[after] = procfs_read_one("/proc/self/status", "HugetlbPages");
    if (!after)
        probe_arm();
}

#define delta(key) (pool[1][key] - pool[0][key])

static void pool_rows(int from, int to)
{
    for (int i = from; i <= to; i++)
        narrate_value(&n, pool_keys[i], "", true, pool[0][i], true, pool[1][i]);
}

#define plural(count) ((count) == 1 ? "" : "s")

/* What mmap said ("granted", or the errno's name: "ENOMEM"), and the pool around it. */
static const char *mmap_outcome(const char *mapped)
{
    static char name[24];
    narrate_fact(&n, "mmap", "%s",
                 mapped != MAP_FAILED ? "granted" : errno_name(n.lesson_errno, name, sizeof name));
    pool_rows(FREE, SURP);
    return name;
}

/* With nr_overcommit_hugepages above 0, a pool with no page to spare grows by itself. */
static bool surplus_made(const char *id, const char *what)
{
    int64_t made = delta(SURP);
    return CONCLUDE(&n, id, made > 0,
                    VALUES(VAL("surp_delta", made), VAL("nr_overcommit_hugepages", overcommit)),
                    "nr_overcommit_hugepages is %lld: with no page spare, the kernel made %lld "
                    "surplus page%s for %s from ordinary free memory.", (long long)overcommit,
                    (long long)made, plural(made), what);
}

static void explain_pool(void)
{
    for (int i = 0; i < NPOOL; i++)
        narrate_fact_int(&n, pool_keys[i], pool[1][i]);
    narrate_fact_int(&n, "Hugepagesize_kB", (int64_t)(huge / 1024));
    narrate_fact_int(&n, "nr_overcommit_hugepages", overcommit);
    CONCLUDE(&n, "pool_has_spare_pages", spare > 0, VALUES(VAL("spare_pages", spare)),
             "The pool has %lld huge page%s of %zu kB free and not reserved: this run maps one "
             "and changes no setting.", (long long)spare, plural(spare), huge / 1024);
    CONCLUDE(&n, "setup_not_needed", setup && spare > 0, VALUES(VAL("setup", setup)),
             "--setup was not needed: the pool is not grown.");
    CONCLUDE(&n, "pool_fixed_size", overcommit == 0, VALUES(VAL("nr_overcommit_hugepages", 0)),
             "nr_overcommit_hugepages is 0: every huge page comes from this pool, sized in "
             "advance by nr_hugepages.");
    CONCLUDE(&n, "pool_may_grow", overcommit > 0,
             VALUES(VAL("nr_overcommit_hugepages", overcommit)),
             "nr_overcommit_hugepages is %lld: with no page spare, the kernel may make that many "
             "surplus pages (HugePages_Surp), memory permitting.", (long long)overcommit);
}

static void explain_grow_pool(void)
{
    if (rc != 0)
        narrate_fail_errno(&n, sysctl_failed_call(), n.lesson_errno);
    pool_rows(TOTAL, SURP);
    int64_t got = delta(TOTAL);
    spare = spare_now();
    own_pool = spare > 0;
    const struct finding_value *asked = VALUES(VAL("asked", setup), VAL("got", got));
    CONCLUDE(&n, "pool_grew", got == (int64_t)setup, asked,
             "The kernel set aside %lld huge page%s of %zu kB: that memory now serves huge pages "
             "only, used or not.", (long long)got, plural(got), huge / 1024);
    CONCLUDE(&n, "pool_grew_less", got < (int64_t)setup, asked,
             "Asked for %llu more huge pages, the kernel found %lld: each needs %zu kB of "
             "contiguous free memory.", (unsigned long long)setup, (long long)got, huge / 1024);
}

static void explain_map(void)
{
    const char *err = mmap_outcome(p);
    if (p == MAP_FAILED) {
        FINDING(&n, "mmap_refused", true, VAL("errno", n.lesson_errno));
        narrate_end_step(&n);
        narrate_finish(&n, RESULT_SKIP, "mmap(MAP_HUGETLB) of one huge page was refused (%s): "
                       "another program took the spare pages, or a hugetlb cgroup limit", err);
    }
    if (at[1].mapped)
        narrate_fact(&n, "maps", "%lx-%lx %s %s", (unsigned long)at[1].entry.start,
                     (unsigned long)at[1].entry.end, at[1].entry.perms, at[1].entry.name);
    /* mincore counts base pages, even in a huge page: drawn as one character. */
    char picture[2];
    long resident = residency_picture_scaled(p, huge, huge / page, picture, sizeof picture);
    if (resident < 0)
        narrate_fail_errno(&n, "mincore", errno);
    narrate_fact_int(&n, "huge_page_kB", (int64_t)(huge / 1024));
    narrate_fact_int(&n, "mincore_resident_base_pages", resident);
    narrate_fact_int(&n, "base_pages", (int64_t)(huge / page));
    CONCLUDE(&n, "reserved_not_taken",
             delta(RSVD) == 1 && delta(FREE) == delta(SURP) && resident == 0,
             VALUES(VAL("rsvd_delta", delta(RSVD)), VAL("free_delta", delta(FREE)),
                    VAL("resident_base_pages", resident)),
             "HugePages_Rsvd +1 and no page taken: mmap reserved one. Nothing is mapped yet "
             "(mincore: 0 of %zu base pages resident), yet the first write is sure to find a page.",
             huge / page);
    surplus_made("surplus_for_reservation", "the reservation");
}

static void explain_write(void)
{
    int64_t huge_kB = (int64_t)(huge / 1024), counted = status_kB[1] - status_kB[0];
    int64_t hugetlb = snapshot_value(&at[1], "Private_Hugetlb");
    int64_t rss = snapshot_value(&at[1], "Rss");
    snapshot_report(&n, &at[0], &at[1], (const char *const[]){"HugePages_Free", "HugePages_Rsvd",
                    "Private_Hugetlb", "Rss", "minor_faults", NULL});
    narrate_value(&n, "status_HugetlbPages", "kB", status_kB[0] >= 0, status_kB[0],
                  status_kB[1] >= 0, status_kB[1]);
    CONCLUDE(&n, "write_took_reserved_page", delta(FREE) == -1 && delta(RSVD) == -1,
             VALUES(VAL("free_delta", delta(FREE)), VAL("rsvd_delta", delta(RSVD))),
             "The write took the reserved page: Free and Rsvd both went down by 1.");
    CONCLUDE(&n, "counted_apart_from_rss", hugetlb == huge_kB && rss == 0 && counted == huge_kB,
             VALUES(VAL("private_hugetlb_kB", hugetlb), VAL("rss_kB", rss),
                    VAL("hugetlb_pages_delta_kB", counted)),
             "smaps counts it as Private_Hugetlb (%lld kB), not in Rss (0 kB), /proc/self/status "
             "as HugetlbPages: pool pages count apart from ordinary memory.", (long long)huge_kB);
}

static void explain_reserve_rest(void)
{
    narrate_fact_int(&n, "spare_pages", (int64_t)(rest_len / huge));
    if (rest == MAP_FAILED)
        narrate_fail_errno(&n, "mmap (every spare huge page)", n.lesson_errno);
    pool_rows(FREE, RSVD);
    CONCLUDE(&n, "no_page_to_spare", spare_now() == 0, VALUES(VAL("free_minus_rsvd", spare_now())),
             "Every free page is now reserved (Free %lld, Rsvd %lld), none in use: no new "
             "reservation can be made.", (long long)pool[1][FREE], (long long)pool[1][RSVD]);
}

static void explain_one_more(void)
{
    int err = q == MAP_FAILED ? n.lesson_errno : 0;
    mmap_outcome(q);
    CONCLUDE(&n, "refused_at_mmap", err == ENOMEM, VALUES(VAL("errno", err)),
             "With no page to reserve, mmap failed with ENOMEM: it refuses now rather than fail "
             "later. That is the guarantee.");
    surplus_made("surplus_for_reservation", "this mapping");
    if (q != MAP_FAILED)
        munmap(q, huge);
}

static void explain_noreserve_write(void)
{
    mmap_outcome(q);
    if (q == MAP_FAILED)
        return;
    narrate_fact(&n, "write", "%s", bus.faulted ? probe_signal_name(bus.signo) : "completed");
    if (bus.faulted) {
        narrate_fact(&n, "si_code", "%s", probe_code_name(bus.signo, bus.code));
        narrate_fact(&n, "si_addr", "0x%llx", (unsigned long long)bus.addr);
    }
    CONCLUDE(&n, "sigbus_at_first_write", bus.signo == SIGBUS && bus.addr == (uintptr_t)q,
             VALUES(VAL("rsvd_delta", delta(RSVD)), VAL("si_code", bus.code)),
             "mmap was granted (MAP_NORESERVE reserves nothing), and the first write got SIGBUS "
             "(%s) at the mapping's first byte: no huge page to give, and hugetlb cannot fall "
             "back to small pages.", probe_code_name(bus.signo, bus.code));
    surplus_made("surplus_at_fault", "the write");
    munmap(q, huge);
}

/* The lesson as a table, one constant a row in its order (counted below). The rows from
 * RESERVE_REST on use the pool up: main runs them only on a pool this run grew. */
enum { POOL, GROW_POOL, MAP, WRITE, RESERVE_REST, ONE_MORE, NORESERVE_WRITE, STEPS };
static const struct narrate_lesson steps[] = {
    {"pool", "Look at the huge-page pool", look_at_pool, explain_pool, NO_QUESTION},
    {"grow_pool", "Grow the huge-page pool for this demo", grow_pool, explain_grow_pool,
     NO_QUESTION},
    {"map", "Map one huge page", map_one, explain_map, "Which pool counter will move?",
     {"HugePages_Free: one is taken", "HugePages_Rsvd: one is promised"},
     {NULL, "reserved_not_taken"}},
    {"write", "Write one byte into it", write_one, explain_write,
     "How much will the mapping's Rss grow?", {"a huge page", "0 kB: huge pages count apart"},
     {NULL, "counted_apart_from_rss"}},
    {"reserve_rest", "Reserve every other spare page of the pool", reserve_rest,
     explain_reserve_rest, NO_QUESTION},
    {"one_more", "Ask for one more page without MAP_NORESERVE", one_more, explain_one_more,
     "No page is left to reserve: what will mmap do?",
     {"map it anyway: a surplus page", "fail with ENOMEM"},
     {"surplus_for_reservation", "refused_at_mmap"}},
    {"noreserve_write", "The same with MAP_NORESERVE, then write", noreserve_write,
     explain_noreserve_write, "With MAP_NORESERVE, what will the first write do?",
     {"get a surplus page", "SIGBUS"}, {"surplus_at_fault", "sigbus_at_first_write"}},
};
_Static_assert(NARRATE_COUNT(steps) == STEPS, "one constant of the step enum per row of steps[]");

/* ---- Options, the pool, and main ---- */

static const struct cli_option options[] = {
    {"setup", "N", "root only, and only if the pool has no free page: add N huge pages to it for "
                   "the demo (1 to 64), put back afterwards"},
};

/* Huge pages at all; and, with --setup, leave to grow the pool (lacking it, the run uses the
 * pages there are). The library takes the vmlab lock and puts the pool back. */
static bool grow_asked;
static const struct demo_need needs[] = {
    {.kind = NEED_HUGETLB},
    {NEED_SYSCTL, "nr_hugepages", .when = &grow_asked, .option = "--setup", .optional = true},
    {0},
};

static const struct demo_info info = {
    .name = "hugetlb-reserve",
    .summary =
        "Maps one huge page with MAP_HUGETLB and follows the pool counters in\n"
        "/proc/meminfo: mmap reserves a page (HugePages_Rsvd), the first write takes\n"
        "it (HugePages_Free). Then, with the pool used up, the two ways to fail:\n"
        "ENOMEM at mmap without MAP_NORESERVE, SIGBUS at the first write with it.",
    DEMO_OPTIONS(options),
    .examples = "  hugetlb-reserve                 uses the free huge pages there are\n"
                "  sudo hugetlb-reserve --setup 2  if there are none, grow the pool by 2\n"
                "  hugetlb-reserve --predict       guess each counter's move, then see\n",
    .needs = needs,
    .lessons = LESSONS(TABLE(steps)),
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)ctx, (void)index; /* --setup is the only option */
    setup = cli_count_arg(&info, "--setup", arg, 1, 64);
    grow_asked = true;
}

/* Step 1's row: the pool as it is, or grown. A run that may grow it holds the vmlab lock
 * (demo_start took it) and decides under it: a pool another vmlab run grew is not spare. */
static int first_step(void)
{
    const char *lacks = need_lacking(NEED_SYSCTL, "nr_hugepages");
    const char *why = lacks ? lacks : "--setup was not given (as root: --setup 2)";
    bool may_grow = setup && !lacks;
    observe(NULL, true); /* the pool (under the lock, when this run may grow it) */
    spare = spare_now();
    if (spare > 0 || (overcommit > 0 && !may_grow))
        return POOL;
    if (!may_grow)
        narrate_finish(&n, RESULT_SKIP, "the huge-page pool has no page to spare (HugePages_Free "
                       "%lld, Rsvd %lld); %s. An administrator can fill it once for everyone: "
                       "echo %lld > /proc/sys/vm/nr_hugepages", (long long)pool[1][FREE],
                       (long long)pool[1][RSVD], why, (long long)pool[1][TOTAL] + 2);
    total = (uint64_t)pool[1][TOTAL] + setup;
    return GROW_POOL;
}

int main(int argc, char **argv)
{
    struct cli_common common;
    int first_arg = cli_parse(argc, argv, &info, &common, on_option, NULL);
    cli_no_positionals(&info, argc, argv, first_arg);
    int64_t huge_kB = procfs_read_one("/proc/meminfo", "Hugepagesize");
    huge = huge_kB > 0 ? (size_t)huge_kB * 1024 : 0;
    if (setup && huge) /* 64 pages of 1 GiB would be most of a machine */
        cli_check_fits(&info, "--setup", setup * huge, 4);
    demo_start(&n, &info, &common, 1 + STEPS - MAP); /* step 1 is one of the rows before MAP */
    n.row_page_kb = 0; /* "+512 pages" would not be what one huge page is */
    page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t knob;
    if (procfs_read_vm_sysctl("nr_overcommit_hugepages", &knob) == PROCFS_OK)
        overcommit = (int64_t)knob;
    narrate_observe(&n, observe, NULL);
    narrate_intro(&n, "hugetlb-reserve (PID %ld): huge-page reservations.", (long)getpid());
    int first = first_step();
    narrate_run(&n, &steps[first], 1);
    if (first == GROW_POOL && !own_pool)
        narrate_finish(&n, RESULT_SKIP, "the kernel found no %zu kB of contiguous free memory to "
                       "add a huge page to the pool; try again after a reboot", huge / 1024);
    narrate_run(&n, &steps[MAP], (own_pool ? STEPS : RESERVE_REST) - MAP);
    for (int i = RESERVE_REST; i < STEPS && !own_pool; i++) {
        narrate_begin(&n, steps[i].id, steps[i].title); /* the pool is not this run's to use up */
        CONCLUDE(&n, "pool_not_this_runs", true, VALUES(VAL("spare_pages_before_run", spare)),
                 "Not run: this run did not grow the pool, and others may count on its pages. To "
                 "see both failures, run as root with --setup where no page is spare.");
        narrate_end_step(&n);
    }
    if (rest_len)
        munmap(rest, rest_len);
    munmap(p, huge);
    narrate_finish(&n, RESULT_OK, "one huge page reserved at mmap and taken at the first write%s",
                   own_pool ? "; the pool is back to its original size" : "");
}
