/* hugetlb-reserve: MAP_HUGETLB without MAP_NORESERVE reserves a huge page at
 * mmap time, so a successful mmap guarantees the writes; with MAP_NORESERVE
 * and an empty pool, the first write is a SIGBUS.
 *
 * The huge-page pool is a system setting (/proc/sys/vm/nr_hugepages). If it
 * is empty, root can let the demo grow it with --setup N: the original size is
 * put back on every way out, under the vmlab lock. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "leftovers.h"
#include "errors.h"
#include "narrate.h"
#include "probe.h"
#include "procfs.h"
#include "residency.h"
#include "snapshot.h"
#include "sysctl.h"
#include "touch.h"

enum { OPT_SETUP };

static const struct cli_option options[] = {
    [OPT_SETUP] = {"setup", "N", "root only: add N huge pages to the pool for the demo (1 to 64), "
                                 "and put the pool back afterwards"},
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
    .examples = "  hugetlb-reserve                 needs huge pages in the pool already\n"
                "  sudo hugetlb-reserve --setup 2  grow the pool by 2 pages for the demo\n",
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(uint64_t *)ctx = cli_count_arg(&info, "--setup", arg, 1, 64);
}

enum { HP_TOTAL, HP_FREE, HP_RSVD, HP_SURP, HP_SIZE, NPOOL };

struct pool {
    struct procfs_want w[NPOOL];
};

static void read_pool(struct narrator *n, struct pool *p)
{
    static const char *const keys[] = {"HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
                                        "HugePages_Surp", "Hugepagesize"};
    for (int i = 0; i < NPOOL; i++)
        p->w[i] = (struct procfs_want){keys[i], 0, false};
    if (procfs_read_keyed("/proc/meminfo", p->w, NPOOL) != PROCFS_OK)
        narrate_fail_errno(n, "read /proc/meminfo", errno);
}

static const char *const pool_rows[] = {"HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
                                        "HugePages_Surp", NULL};

struct demo {
    struct narrator n;
    size_t huge;          /* bytes */
    bool own_pool;        /* the pool is ours for this run: --setup made it */
};

static int64_t hugetlb_status_kb(void)
{
    return procfs_read_one("/proc/self/status", "HugetlbPages");
}

static void step_pool(struct demo *d, uint64_t setup)
{
    struct narrator *n = &d->n;
    struct pool before, after;
    read_pool(n, &before);
    if (!before.w[HP_SIZE].present)
        narrate_finish(n, RESULT_SKIP, "this kernel has no huge pages (no Hugepagesize in "
                                       "/proc/meminfo: CONFIG_HUGETLBFS is off)");
    d->huge = (size_t)before.w[HP_SIZE].value * 1024;
    uint64_t total = before.w[HP_TOTAL].value, free_pages = before.w[HP_FREE].value;

    if (setup == 0) {
        narrate_step(n, "Look at the huge-page pool", "grep HugePages_ /proc/meminfo");
        struct snapshot s;
        snapshot_take_or_fail(&s, 0, n);
        snapshot_report(n, &s, &s, pool_rows);
        if (free_pages == 0)
            narrate_finish(n, RESULT_SKIP,
                           "the huge-page pool has no free page (HugePages_Total %llu, Free 0). "
                           "As root, run this demo with --setup 2, or grow the pool yourself: "
                           "echo %llu > /proc/sys/vm/nr_hugepages (and put back %llu afterwards)",
                           (unsigned long long)total, (unsigned long long)total + 2,
                           (unsigned long long)total);
        narrate_note(n, "The pool has %llu huge page%s of %zu kB, %llu free. Huge pages come only "
                        "from this pool, which the administrator sizes in advance.",
                     (unsigned long long)total, total == 1 ? "" : "s", d->huge / 1024,
                     (unsigned long long)free_pages);
        narrate_end_step(n);
        return;
    }

    char code[96];
    snprintf(code, sizeof code, "echo %llu > /proc/sys/vm/nr_hugepages   /* was %llu */",
             (unsigned long long)total + (unsigned long long)setup, (unsigned long long)total);
    narrate_step(n, "Grow the huge-page pool for this demo", code);
    if (geteuid() != 0)
        narrate_finish(n, RESULT_SKIP, "--setup changes /proc/sys/vm/nr_hugepages and needs root: "
                                       "sudo %s --setup %llu", info.name, (unsigned long long)setup);
    char repaired[512];
    if (sysctl_begin(info.name, repaired, sizeof repaired) != 0)
        narrate_fail_errno(n, "take the vmlab lock in " VMLAB_RUN_DIR, errno);
    if (repaired[0])
        fprintf(stderr, "%s: %s\n", info.name, repaired);
    struct snapshot s0, s1;
    snapshot_take_or_fail(&s0, 0, n);
    /* Read the pool again under the lock: another run may have changed it. */
    read_pool(n, &before);
    total = before.w[HP_TOTAL].value;
    fprintf(stderr, "%s: growing the huge-page pool from %llu to %llu pages; it is put back on "
                    "exit, Ctrl-C included\n",
            info.name, (unsigned long long)total, (unsigned long long)total + (unsigned long long)setup);
    if (sysctl_set("nr_hugepages", total + setup) != 0)
        narrate_fail_errno(n, sysctl_failed_call(), errno);
    snapshot_take_or_fail(&s1, 0, n);
    snapshot_report(n, &s0, &s1, (const char *const[]){"HugePages_Total", "HugePages_Free",
                                                       "HugePages_Rsvd", "HugePages_Surp",
                                                       "Hugetlb", NULL});
    read_pool(n, &after);
    uint64_t got = after.w[HP_TOTAL].value - total;
    if (got < setup)
        narrate_note(n, "Asked for %llu more huge pages, the kernel found %llu: it needs %zu kB "
                        "of contiguous free memory for each, and memory is fragmented.",
                     (unsigned long long)setup, (unsigned long long)got, d->huge / 1024);
    else
        narrate_note(n, "The kernel set aside %llu huge page%s of %zu kB: Hugetlb in /proc/meminfo "
                        "moved by %+lld kB. That memory now serves huge pages only, whether or "
                        "not a program uses it.",
                     (unsigned long long)got, got == 1 ? "" : "s", d->huge / 1024,
                     (long long)snapshot_delta0(&s0, &s1, "Hugetlb"));
    narrate_end_step(n);
    if (after.w[HP_FREE].value == 0)
        narrate_finish(n, RESULT_SKIP, "the kernel could not add a free huge page to the pool "
                                       "(memory too fragmented); try again after a reboot");
    d->own_pool = before.w[HP_FREE].value == 0; /* every free page is ours */
}

static void step_map_and_write(struct demo *d)
{
    struct narrator *n = &d->n;
    struct snapshot before, after;
    char code[128];
    snprintf(code, sizeof code, "p = mmap(NULL, %zu kB, PROT_READ | PROT_WRITE, MAP_PRIVATE | "
                                "MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);", d->huge / 1024);
    narrate_step(n, "Map one huge page", code);
    snapshot_take_or_fail(&before, 0, n);
    char *p = mmap(NULL, d->huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
                   -1, 0);
    if (p == MAP_FAILED)
        narrate_fail_errno(n, "mmap(MAP_HUGETLB)", errno);
    snapshot_take_or_fail(&after, (uintptr_t)p, n);
    /* before was taken before the mapping existed: compare the pool only. */
    snapshot_report(n, &before, &after, (const char *const[]){"HugePages_Free", "HugePages_Rsvd", NULL});
    char picture[1024];
    long resident = residency_picture(p, d->huge, picture, sizeof picture);
    if (resident < 0)
        narrate_fail_errno(n, "mincore", errno);
    narrate_fact(n, "mincore", "%ld of %zu base pages resident", resident, d->huge / 4096);
    int64_t rsvd = snapshot_delta0(&before, &after, "HugePages_Rsvd");
    int64_t freed = snapshot_delta0(&before, &after, "HugePages_Free");
    if (rsvd == 1 && freed == 0)
        narrate_note(n, "HugePages_Rsvd went up by 1 and Free did not move: mmap reserved a page "
                        "from the pool without taking it. No memory is mapped yet (mincore: %ld "
                        "resident), but the write is now guaranteed to find a page.", resident);
    else
        narrate_note(n, "HugePages_Rsvd moved by %+lld and Free by %+lld.", (long long)rsvd,
                     (long long)freed);
    narrate_end_step(n);
    narrate_watch(n, (uintptr_t)p);

    narrate_step(n, "Write one byte into it", "p[0] = 'a';");
    snapshot_take_or_fail(&before, (uintptr_t)p, n);
    int64_t status_before = hugetlb_status_kb();
    touch_write(p, 'a');
    int64_t status_after = hugetlb_status_kb();
    snapshot_take_or_fail(&after, (uintptr_t)p, n);
    snapshot_report(n, &before, &after,
                    (const char *const[]){"HugePages_Free", "HugePages_Rsvd", "Rss", "Private_Hugetlb",
                                          "minor_faults", NULL});
    if (status_after >= 0)
        narrate_value(n, "status_HugetlbPages", "kB", status_before >= 0, status_before, true,
                      status_after);
    int64_t free_d = snapshot_delta0(&before, &after, "HugePages_Free");
    int64_t rsvd_d = snapshot_delta0(&before, &after, "HugePages_Rsvd");
    int64_t rss = 0, hugetlb = 0;
    snapshot_get(&after, "Rss", &rss);
    snapshot_get(&after, "Private_Hugetlb", &hugetlb);
    if (free_d == -1 && rsvd_d == -1)
        narrate_note(n, "The write took the reserved page: Free and Rsvd both went down by 1.");
    else
        narrate_note(n, "Free moved by %+lld and Rsvd by %+lld.", (long long)free_d, (long long)rsvd_d);
    narrate_note(n, "smaps shows it as Private_Hugetlb (%lld kB), not in Rss (%lld kB): huge "
                    "pages from the pool are counted apart from ordinary memory, also in "
                    "/proc/self/status (HugetlbPages).",
                 (long long)hugetlb, (long long)rss);
    narrate_end_step(n);
    munmap(p, d->huge);
}

/* Takes every free page of the pool into one mapping, so the pool is empty. */
static char *drain_pool(struct demo *d, size_t *len)
{
    struct pool p;
    read_pool(&d->n, &p);
    *len = (size_t)p.w[HP_FREE].value * d->huge;
    if (*len == 0)
        return NULL;
    char *m = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (m == MAP_FAILED)
        narrate_fail_errno(&d->n, "mmap (all free huge pages)", errno);
    for (size_t off = 0; off < *len; off += d->huge)
        touch_write(m + off, 1);
    return m;
}

static void step_failures(struct demo *d)
{
    struct narrator *n = &d->n;
    char code[160];
    narrate_step(n, "Use up the pool, then ask for one more page without MAP_NORESERVE",
                 "p = mmap(NULL, huge, ..., MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);");
    uint64_t overcommit = 0;
    procfs_read_vm_sysctl("nr_overcommit_hugepages", &overcommit);
    if (!d->own_pool || overcommit != 0) {
        narrate_note(n, "Skipped: %s", overcommit != 0
                                           ? "nr_overcommit_hugepages is not 0, so the kernel would "
                                             "create surplus pages instead of failing."
                                           : "the pool is not this demo's own (it had free pages "
                                             "before), and other programs may be counting on them. "
                                             "Run as root with --setup on a machine whose pool is "
                                             "empty to see both failures.");
        narrate_end_step(n);
        narrate_step(n, "The same with MAP_NORESERVE, then write",
                     "p = mmap(NULL, huge, ..., MAP_HUGETLB | MAP_NORESERVE, -1, 0); p[0] = 'a';");
        narrate_note(n, "Skipped, for the same reason as the step before.");
        narrate_end_step(n);
        return;
    }
    size_t drained_len;
    char *drained = drain_pool(d, &drained_len);
    struct snapshot before, after;
    snapshot_take_or_fail(&before, 0, n);
    void *p = mmap(NULL, d->huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
                   -1, 0);
    int err = p == MAP_FAILED ? errno : 0;
    snapshot_take_or_fail(&after, 0, n);
    snapshot_report(n, &before, &after, (const char *const[]){"HugePages_Free", NULL});
    char name[24];
    narrate_fact(n, "mmap", "%s", err ? errno_name(err, name, sizeof name) : "granted");
    if (err == ENOMEM)
        narrate_note(n, "With HugePages_Free at 0, mmap failed with ENOMEM: it could not reserve "
                        "a page, so it refused now rather than fail later. This is the guarantee.");
    else
        narrate_note(n, "mmap %s.", err ? strerror(err) : "succeeded");
    if (p != MAP_FAILED)
        munmap(p, d->huge);
    narrate_end_step(n);

    snprintf(code, sizeof code, "p = mmap(NULL, huge, ..., MAP_HUGETLB | MAP_NORESERVE, -1, 0); p[0] = 'a';");
    narrate_step(n, "The same with MAP_NORESERVE, then write", code);
    p = mmap(NULL, d->huge, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        narrate_fact(n, "mmap", "%s", errno_name(errno, name, sizeof name));
        narrate_note(n, "Even with MAP_NORESERVE the mmap failed: %s.", strerror(errno));
    } else {
        struct probe_result r;
        if (probe_write(p, 'a', &r) != 0)
            narrate_fail_errno(n, "sigaction", errno);
        narrate_fact(n, "mmap", "granted");
        narrate_fact(n, "write", "%s", r.faulted ? probe_signal_name(r.signo) : "completed");
        if (r.faulted) {
            narrate_fact(n, "si_code", "%s", probe_code_name(r.signo, r.code));
            narrate_fact(n, "si_addr", "%p", (void *)r.addr);
            narrate_note(n, "mmap succeeded - nothing was reserved - and the first write got %s "
                            "(%s) at %p: there was no huge page to give, and the kernel cannot "
                            "fall back to small pages for a hugetlb mapping. The demo caught the "
                            "signal and went on.",
                         probe_signal_name(r.signo), probe_code_name(r.signo, r.code), (void *)r.addr);
        } else {
            narrate_note(n, "The write completed: the kernel found a page after all.");
        }
        munmap(p, d->huge);
    }
    narrate_end_step(n);
    munmap(drained, drained_len);
}

int main(int argc, char **argv)
{
    uint64_t setup = 0;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &setup);
    cli_no_positionals(&info, argc, argv, first);
    int64_t huge_kb = procfs_read_one("/proc/meminfo", "Hugepagesize");
    if (setup && huge_kb > 0) /* 64 pages of 1 GiB would be most of a machine */
        cli_check_fits(&info, "--setup", setup * (uint64_t)huge_kb * 1024, 4);

    struct demo d = {0};
    narrate_init(&d.n, info.name, &common, 5);
    leftovers_repair(info.name);
    narrate_intro(&d.n, "hugetlb-reserve (PID %ld): reservations in the huge-page pool.",
                  (long)getpid());
    step_pool(&d, setup);
    step_map_and_write(&d);
    step_failures(&d);
    sysctl_end();
    narrate_finish(&d.n, RESULT_OK, "one huge page reserved at mmap and taken at the first write%s",
                   setup ? "; the pool is back to its original size" : "");
}
