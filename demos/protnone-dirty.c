/* SPDX-License-Identifier: MIT */
/* protnone-dirty: whether a page is in memory and whether the program may
 * touch it are two separate things - and so is what it is charged.
 *
 * Steps 1-4: write some pages, take all access away with mprotect(PROT_NONE),
 * watch a read fail with SEGV_ACCERR while smaps still counts the pages, give
 * access back and find the data intact.
 * Steps 5-9: the commit charge (Committed_AS, and the mapping's own "ac" flag
 * in smaps VmFlags) of five states: reserved, read-write untouched, untouched
 * then PROT_NONE, written, written then PROT_NONE. Since Linux 6.7 mprotect
 * gives the charge back when the mapping was never faulted (it has no
 * anon_vma yet, so no page can hold data); once written, it keeps it. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "budget.h"
#include "leftovers.h"
#include "narrate.h"
#include "probe.h"
#include "procfs.h"
#include "residency.h"
#include "snapshot.h"

struct demo {
    struct narrator n;
    size_t page, pages, len, size;  /* len: the written pages; size: the charge lesson */
    long page_kb;
    const char *size_why;
    char *guard, *p;                 /* steps 1-4 */
    char *area, *c, *w;              /* steps 5-9 */
    uintptr_t watch;                 /* the mapping the observer reads */
    struct snapshot before, after;   /* around the last LESSON */
    int64_t committed_before, committed_after;
    char picture[1025];
    struct state {
        const char *id, *what;
        char perms[5];
        bool accounted;
        int64_t rss_kb, committed_change_kb;
    } states[5];
};

static void observe(void *ctx, bool after);
static void report(struct demo *d, const char *const *rows);
static void state_record(struct demo *d, int i, int64_t change_kb);
static int64_t committed_change(const struct demo *d);
static bool accounted(const struct snapshot *s);
#define FAIL(call) narrate_fail_errno(&d->n, (call), errno)

/* ---- the lesson ---- */

LESSON_FN static void write_pages(struct demo *d)
{
    struct narrator *n = &d->n;
    size_t page = d->page, len = d->len, pages = d->pages;
    char *guard, *p;
    narrate_begin(n, "write_pages", "Map some pages and write every one");
    /* A PROT_NONE page on each side keeps p a mapping of its own. */
    LESSON(n, guard = mmap(NULL, len + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
              if (guard == MAP_FAILED) FAIL("mmap");
              p = mmap(guard + page, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
              if (p == MAP_FAILED) FAIL("mmap");
              madvise(p, len, MADV_NOHUGEPAGE););
    d->guard = guard;
    d->p = p;
    d->watch = (uintptr_t)p;
    LESSON(n, for (size_t i = 0; i < pages; i++) p[i * page] = (char)('A' + i % 26););
    report(d, (const char *const[]){"Rss", "Private_Dirty", NULL});
    int64_t rss = snapshot_delta0(&d->before, &d->after, "Rss");
    if (FINDING(n, "every_page_resident_and_dirty",
                rss == (int64_t)(d->len / 1024) &&
                    snapshot_delta0(&d->before, &d->after, "Private_Dirty") == rss,
                VAL("rss_delta_kB", rss), VAL("size_kB", d->len / 1024)))
        narrate_because(n, "every_page_resident_and_dirty",
                        "Each write faulted in one page: Rss and Private_Dirty grew by the "
                        "whole %zu kB.", d->len / 1024);
    narrate_end_step(n);
    narrate_watch(n, (uintptr_t)p);
}

LESSON_FN static void take_access_away(struct demo *d)
{
    struct narrator *n = &d->n;
    char *p = d->p;
    size_t len = d->len;
    narrate_begin(n, "take_access_away", "Take all access away");
    LESSON(n, if (mprotect(p, len, PROT_NONE) != 0) FAIL("mprotect"););
    report(d, (const char *const[]){"Rss", "Private_Dirty", NULL});
    long resident = residency_picture(p, len, d->picture, sizeof d->picture);
    if (resident < 0)
        FAIL("mincore");
    narrate_picture(n, "mincore", d->picture);
    narrate_fact_int(n, "resident_pages", resident);
    bool ac = accounted(&d->after);
    if (FINDING(n, "still_resident_and_dirty",
                strcmp(d->after.entry.perms, "---p") == 0 && resident == (long)d->pages &&
                    snapshot_delta0(&d->before, &d->after, "Rss") == 0 &&
                    snapshot_delta0(&d->before, &d->after, "Private_Dirty") == 0,
                VAL("resident_pages", resident), VAL("pages", d->pages),
                VAL("rss_delta_kB", snapshot_delta0(&d->before, &d->after, "Rss"))))
        narrate_because(n, "still_resident_and_dirty",
                        "The maps line reads ---p, yet Rss and Private_Dirty did not move and "
                        "mincore still draws every page '#': the frames and their data stay; "
                        "only the page-table entries lost their permissions.");
    if (FINDING(n, "written_mapping_keeps_charge", accounted(&d->before) && ac,
                VAL("accounted_before", accounted(&d->before)), VAL("accounted_after", ac),
                VAL("committed_as_change_kB", committed_change(d))))
        narrate_because(n, "written_mapping_keeps_charge",
                        "It stays charged: VmFlags keeps 'ac' (accounted), because it was written "
                        "(Committed_AS, system-wide, moved by %+lld kB meanwhile).",
                        (long long)committed_change(d));
    narrate_end_step(n);
}

LESSON_FN static void read_refused(struct demo *d)
{
    struct narrator *n = &d->n;
    char *p = d->p;
    struct probe_result r;
    narrate_begin(n, "read_refused", "Try to read a page with no access");
    LESSON(n, if (probe_read(p, &r) != 0) FAIL("sigaction"););
    narrate_fact(n, "signal", "%s", r.faulted ? probe_signal_name(r.signo) : "none");
    narrate_fact(n, "si_code", "%s", r.faulted ? probe_code_name(r.signo, r.code) : "none");
    narrate_fact(n, "si_addr", "%p", (void *)r.addr);
    bool accerr = r.faulted && r.signo == SIGSEGV && r.code == SEGV_ACCERR;
    if (FINDING(n, "read_refused_accerr", accerr && r.addr == (uintptr_t)p,
                VAL("faulted", r.faulted), VAL("signo", r.signo), VAL("si_code", r.code),
                VAL("si_addr_is_p", r.addr == (uintptr_t)p)))
        narrate_because(n, "read_refused_accerr",
                        "probe_read read p[0] under a SIGSEGV handler: SEGV_ACCERR (%s) at p "
                        "itself. The page is there; the permission is not.",
                        probe_code_meaning(r.signo, r.code));
    narrate_end_step(n);
}

LESSON_FN static void access_back(struct demo *d)
{
    struct narrator *n = &d->n;
    char *p = d->p;
    size_t page = d->page, len = d->len, pages = d->pages, intact = 0;
    narrate_begin(n, "access_back", "Give access back and check the data");
    LESSON(n, if (mprotect(p, len, PROT_READ | PROT_WRITE) != 0) FAIL("mprotect");
              for (size_t i = 0; i < pages; i++) intact += p[i * page] == (char)('A' + i % 26););
    narrate_fact_int(n, "pages_intact", (int64_t)intact);
    narrate_fact_int(n, "pages_checked", (int64_t)pages);
    if (FINDING(n, "data_intact", intact == pages, VAL("pages_intact", intact),
                VAL("pages", pages)))
        narrate_because(n, "data_intact", "All %zu pages still hold what was written before "
                                          "PROT_NONE: protection never touched the data.", pages);
    narrate_end_step(n);
    munmap(d->guard, len + 2 * page);
}

LESSON_FN static void reserve(struct demo *d)
{
    struct narrator *n = &d->n;
    size_t page = d->page, size = d->size;
    char *area;
    narrate_begin(n, "reserve", "Reserve address space: PROT_NONE, never touched");
    narrate_fact_int(n, "size_kB", (int64_t)(size / 1024));
    narrate_fact(n, "size_chosen", "%s", d->size_why);
    LESSON(n, area = mmap(NULL, 2 * size + 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
              if (area == MAP_FAILED) FAIL("mmap"););
    d->area = area;
    d->watch = (uintptr_t)area;
    /* The observer read the old address: the smaps entry again, at area. */
    snapshot_take_or_fail(&d->after, (uintptr_t)area, n);
    state_record(d, 0, committed_change(d));
    report(d, (const char *const[]){"Rss", NULL});
    int64_t change = committed_change(d);
    if (FINDING(n, "reservation_not_charged", !accounted(&d->after),
                VAL("accounted", accounted(&d->after)), VAL("committed_as_change_kB", change)))
        narrate_because(n, "reservation_not_charged",
                        "%zu kB of address space and no 'ac' flag: a mapping no one may write "
                        "needs no commit charge (Committed_AS moved by %+lld kB, other "
                        "processes included).", (2 * size + 3 * page) / 1024, (long long)change);
    narrate_end_step(n);
}

LESSON_FN static void commit(struct demo *d)
{
    struct narrator *n = &d->n;
    size_t page = d->page, size = d->size;
    char *area = d->area, *c;
    narrate_begin(n, "commit", "Map read-write inside it, never touched");
    d->watch = (uintptr_t)(area + page);
    LESSON(n, c = mmap(area + page, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
              if (c == MAP_FAILED) FAIL("mmap"););
    d->c = c;
    state_record(d, 1, committed_change(d));
    report(d, (const char *const[]){"Rss", NULL});
    int64_t change = committed_change(d), size_kb = (int64_t)(size / 1024);
    if (FINDING(n, "read_write_charged", accounted(&d->after) && change > size_kb / 2,
                VAL("accounted", accounted(&d->after)), VAL("committed_as_change_kB", change),
                VAL("size_kB", size_kb)))
        narrate_because(n, "read_write_charged",
                        "Rss is 0, yet the mapping is charged: VmFlags shows 'ac' and "
                        "Committed_AS moved by %+lld kB for its %lld kB (the difference, %+lld "
                        "kB, is other processes). A private writable page may be written at "
                        "any time, so the kernel promises it now.",
                        (long long)change, (long long)size_kb, (long long)(change - size_kb));
    narrate_end_step(n);
}

LESSON_FN static void untouched_protnone(struct demo *d)
{
    struct narrator *n = &d->n;
    size_t size = d->size;
    char *c = d->c;
    narrate_begin(n, "untouched_protnone", "Take access away from the untouched mapping");
    LESSON(n, if (mprotect(c, size, PROT_NONE) != 0) FAIL("mprotect"););
    state_record(d, 2, committed_change(d));
    report(d, (const char *const[]){"Rss", NULL});
    int64_t change = committed_change(d), size_kb = (int64_t)(size / 1024);
    int64_t others = change + size_kb;
    if (FINDING(n, "untouched_charge_dropped",
                accounted(&d->before) && !accounted(&d->after) && change < -size_kb / 2,
                VAL("accounted_after", accounted(&d->after)), VAL("committed_as_change_kB", change),
                VAL("size_kB", size_kb)))
        narrate_because(n, "untouched_charge_dropped",
                        "The charge came back: 'ac' is gone and Committed_AS moved by %+lld kB "
                        "(%+lld kB of it other processes). Never written, the mapping has no "
                        "anon_vma, so no page of it can hold data: mprotect_fixup (Linux 6.7 "
                        "and later) drops VM_ACCOUNT.", (long long)change, (long long)others);
    else if (FINDING(n, "untouched_charge_kept", accounted(&d->after),
                     VAL("accounted_after", 1), VAL("committed_as_change_kB", change)))
        narrate_because(n, "untouched_charge_kept",
                        "The charge stayed ('ac' is still there): this kernel keeps it even for "
                        "a mapping that was never written; Linux 6.7 and later drop it.");
    if (FINDING(n, "merged_into_reservation",
                d->after.entry.start < (uintptr_t)c && d->after.entry.end > (uintptr_t)c + size,
                VAL("vma_kB", (d->after.entry.end - d->after.entry.start) / 1024)))
        narrate_because(n, "merged_into_reservation",
                        "Nothing tells it from the reservation around it any more: the kernel "
                        "merged them into one ---p mapping.");
    narrate_end_step(n);
}

LESSON_FN static void written_protnone(struct demo *d)
{
    struct narrator *n = &d->n;
    size_t page = d->page, size = d->size;
    char *area = d->area, *w;
    narrate_begin(n, "written_protnone", "Map read-write, write one byte, take access away");
    d->watch = (uintptr_t)(area + size + 2 * page);
    LESSON(n, w = mmap(area + size + 2 * page, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
              if (w == MAP_FAILED) FAIL("mmap");
              madvise(w, size, MADV_NOHUGEPAGE););
    d->w = w;
    int64_t mapped = committed_change(d);
    LESSON(n, w[0] = 1;);
    state_record(d, 3, mapped + committed_change(d));
    int64_t huge = 0;
    snapshot_get(&d->after, "AnonHugePages", &huge);
    LESSON(n, if (mprotect(w, size, PROT_NONE) != 0) FAIL("mprotect"););
    state_record(d, 4, committed_change(d));
    report(d, (const char *const[]){"Rss", NULL});
    int64_t change = committed_change(d);
    if (FINDING(n, "written_charge_kept", accounted(&d->after),
                VAL("accounted_after", accounted(&d->after)), VAL("committed_as_change_kB", change),
                VAL("rss_kB", d->states[3].rss_kb)))
        narrate_because(n, "written_charge_kept",
                        "One write was enough: the fault gave the mapping an anon_vma, so "
                        "mprotect keeps the whole %zu kB charged ('ac' stays; Committed_AS "
                        "moved by %+lld kB, other processes included). Its pages may hold data, "
                        "and access may come back.", size / 1024, (long long)change);
    if (FINDING(n, "huge_page_despite_nohugepage", huge > 0, VAL("anon_huge_pages_kB", huge)))
        narrate_because(n, "huge_page_despite_nohugepage",
                        "A %lld kB huge page arrived despite MADV_NOHUGEPAGE.", (long long)huge);
    narrate_end_step(n);
}

LESSON_FN static void side_by_side(struct demo *d)
{
    struct narrator *n = &d->n;
    size_t page = d->page, size = d->size;
    char *area = d->area;
    narrate_begin(n, "side_by_side", "Five states side by side, then unmap them");
    for (int i = 0; i < 5; i++) {
        const struct state *s = &d->states[i];
        narrate_fact(n, s->id, "%s: %s, %s, Rss %lld kB; the calls that made it moved Committed_AS %+lld kB", s->what, s->perms,
                     s->accounted ? "charged (ac)" : "not charged", (long long)s->rss_kb,
                     (long long)s->committed_change_kb);
    }
    d->watch = (uintptr_t)area + size + 2 * page;
    LESSON(n, munmap(area, 2 * size + 3 * page););
    int64_t change = committed_change(d), size_kb = (int64_t)(size / 1024);
    int64_t still = (d->states[2].accounted ? size_kb : 0) + (d->states[4].accounted ? size_kb : 0);
    narrate_value(n, "Committed_AS", "kB", d->committed_before >= 0, d->committed_before,
                  d->committed_after >= 0, d->committed_after);
    if (FINDING(n, "unmap_returns_what_stayed_charged",
                change < 0 && (change + still) * 4 > -size_kb && (change + still) * 4 < size_kb,
                VAL("committed_as_change_kB", change), VAL("still_charged_kB", still)))
        narrate_because(n, "unmap_returns_what_stayed_charged",
                        "munmap gave back what was still charged, %lld kB (Committed_AS moved "
                        "by %+lld kB): the rule is the 'ac' flag, not the protection. Reserved "
                        "costs nothing; read-write is charged at mmap; PROT_NONE returns the "
                        "charge only if no page was ever faulted.", (long long)still,
                        (long long)change);
    narrate_end_step(n);
}

/* ---- how the numbers are taken ---- */

/* Committed_AS is read next to the code, the smaps entry around it. */
static void observe(void *ctx, bool after)
{
    struct demo *d = ctx;
    if (!after) {
        snapshot_take_or_fail(&d->before, d->watch, &d->n);
        d->committed_before = procfs_read_one("/proc/meminfo", "Committed_AS");
    } else {
        d->committed_after = procfs_read_one("/proc/meminfo", "Committed_AS");
        snapshot_take_or_fail(&d->after, d->watch, &d->n);
    }
}

static int64_t committed_change(const struct demo *d)
{
    return d->committed_after - d->committed_before;
}

/* The mapping's own charge: VM_ACCOUNT, shown as "ac" in smaps VmFlags. */
static bool accounted(const struct snapshot *s)
{
    return s->mapped && smaps_has_flag(&s->entry, "ac");
}

static void report(struct demo *d, const char *const *rows)
{
    if (d->after.mapped) {
        char maps[512];
        smaps_format_header(&d->after.entry, maps, sizeof maps);
        narrate_fact(&d->n, "maps", "%s", maps);
        narrate_fact(&d->n, "vmflags", "%s", d->after.entry.vmflags);
    }
    snapshot_report(&d->n, &d->before, &d->after, rows);
    narrate_value(&d->n, "Committed_AS", "kB", d->committed_before >= 0, d->committed_before,
                  d->committed_after >= 0, d->committed_after);
}

/* One of the five states, as the last LESSON left it; change_kb is what
 * the calls that made it moved Committed_AS by. */
static void state_record(struct demo *d, int i, int64_t change_kb)
{
    static const char *const what[5][2] = {
        {"reserved", "reserved (PROT_NONE, never touched)"},
        {"committed", "read-write, never touched"},
        {"committed_protnone", "read-write, never touched, then PROT_NONE"},
        {"written", "read-write, one byte written"},
        {"written_protnone", "read-write, one byte written, then PROT_NONE"},
    };
    struct state *s = &d->states[i];
    s->id = what[i][0];
    s->what = what[i][1];
    memcpy(s->perms, d->after.mapped ? d->after.entry.perms : "?", 5);
    s->accounted = accounted(&d->after);
    s->rss_kb = 0;
    snapshot_get(&d->after, "Rss", &s->rss_kb);
    s->committed_change_kb = change_kb;
}

/* ---- options and sizes ---- */

enum { OPT_PAGES };

static const struct cli_option options[] = {
    [OPT_PAGES] = {"pages", "N", "how many pages to write in steps 1-4 (default 4; 1 to 1024)"},
};

static const struct demo_info info = {
    .name = "protnone-dirty",
    .summary =
        "Writes a few pages, then removes all access with mprotect(PROT_NONE): the\n"
        "pages stay resident and dirty (smaps, mincore), but a read is refused with\n"
        "SIGSEGV / SEGV_ACCERR; access comes back with the data intact. Then the\n"
        "commit charge of five states: reserved; read-write untouched; untouched then\n"
        "PROT_NONE (the charge comes back, Linux 6.7+); written; written then PROT_NONE\n"
        "(the charge stays). The size (up to 1 GiB) is chosen from what this machine\n"
        "can grant; nothing larger than one page is ever written.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  protnone-dirty\n  protnone-dirty --pages 16 --step\n",
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(uint64_t *)ctx = cli_count_arg(&info, "--pages", arg, 1, 1024);
}

int main(int argc, char **argv)
{
    uint64_t pages = 4;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &pages);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);

    static struct demo d;
    d.page = (size_t)sysconf(_SC_PAGESIZE);
    d.page_kb = (long)(d.page / 1024);
    d.pages = (size_t)pages;
    d.len = d.pages * d.page;
    static void (*const steps[])(struct demo *) = {
        write_pages, take_access_away, read_refused, access_back,
        reserve, commit, untouched_protnone, written_protnone, side_by_side,
    };
    narrate_init(&d.n, info.name, &common, (int)(sizeof steps / sizeof steps[0]));
    /* Up to 1 GiB, so that its charge stands out from other programs' noise;
     * two such mappings and a reservation around them. */
    char why[256];
    if (grant_charge_size(1 << 20, 2, &d.size, why, sizeof why) != 0)
        narrate_finish(&d.n, RESULT_SKIP, "%s", why);
    d.size_why = why;
    narrate_observe(&d.n, observe, &d);
    narrate_intro(&d.n, "protnone-dirty (PID %ld): %zu pages of %zu KiB written; the charge "
                        "lesson maps %zu kB (%s).", (long)getpid(), d.pages, d.page / 1024,
                  d.size / 1024, why);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        steps[i](&d);
    narrate_finish(&d.n, RESULT_OK, "resident, dirty and inaccessible at once; the charge "
                                    "follows 'ac', measured in this run");
}
