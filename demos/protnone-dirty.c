/* SPDX-License-Identifier: MIT */
/* protnone-dirty: whether a page is in memory, whether the program may touch it and what it is
 * charged are three separate things (demo_info's summary, below, says what each step shows).
 * Since Linux 6.7 mprotect gives the charge back when the mapping was never faulted (no anon_vma
 * yet, so no page can hold data); once written, it keeps it. The lesson is the functions just
 * below, in the order the table runs them. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "budget.h"
#include "lesson-code.h"
#include "narrate.h"
#include "needs.h"
#include "probe.h"
#include "procfs.h"
#include "residency.h"
#include "snapshot-report.h"
#include "snapshot.h"

static struct narrator n;
#define FAIL(call) narrate_fail_errno(&n, (call), errno)

/* ---- The lesson ---- */

static size_t page, pages = 4, len, size; /* len: the written pages; size: the charge lesson's */
static char *guard, *p;               /* steps 1-4 */
static char *area, *c, *w;            /* steps 5-9: the reservation, and two mappings in it */
static struct probe_result r;
static char value;                    /* what p[0] held, had the read been allowed */
static size_t intact;
static uintptr_t watch;               /* the mapping the observer reads */

LESSON_FN static void write_pages(void)
{
    /* A PROT_NONE page on each side keeps p a mapping of its own. */
    LESSON(&n, guard = mmap(NULL, len + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
              if (guard == MAP_FAILED) FAIL("mmap");
              p = mmap(guard + page, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
              if (p == MAP_FAILED) FAIL("mmap");
              madvise(p, len, MADV_NOHUGEPAGE););
    watch = (uintptr_t)p;
    LESSON(&n, for (size_t i = 0; i < pages; i++) p[i * page] = (char)('A' + i % 26););
    narrate_watch(&n, watch);
}

LESSON_FN static void take_access_away(void)
{
    LESSON(&n, if (mprotect(p, len, PROT_NONE) != 0) FAIL("mprotect"););
}

/* The probe's handlers, armed by the observer, catch the read's SIGSEGV (lesson-code.h). */
LESSON_FN static void read_refused(void) { LESSON_CAUGHT(&n, &r, value = FORCE_READ(p[0]);); }

LESSON_FN static void access_back(void)
{
    LESSON(&n, if (mprotect(p, len, PROT_READ | PROT_WRITE) != 0) FAIL("mprotect");
              for (size_t i = 0; i < pages; i++) intact += p[i * page] == (char)('A' + i % 26););
    munmap(guard, len + 2 * page); /* steps 1-4 are over */
}

LESSON_FN static void reserve(void)
{
    LESSON(&n, area = mmap(NULL, 2 * size + 3 * page, PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
              if (area == MAP_FAILED) FAIL("mmap"););
    watch = (uintptr_t)area;
}

LESSON_FN static void commit(void)
{
    watch = (uintptr_t)(area + page);
    LESSON(&n, c = mmap(area + page, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
              if (c == MAP_FAILED) FAIL("mmap"););
}

LESSON_FN static void untouched_protnone(void)
{
    LESSON(&n, if (mprotect(c, size, PROT_NONE) != 0) FAIL("mprotect"););
}

LESSON_FN static void written_protnone(void)
{
    watch = (uintptr_t)(area + size + 2 * page);
    LESSON(&n, w = mmap(area + size + 2 * page, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
              if (w == MAP_FAILED) FAIL("mmap");
              madvise(w, size, MADV_NOHUGEPAGE););
    LESSON(&n, w[0] = 1;);
    LESSON(&n, if (mprotect(w, size, PROT_NONE) != 0) FAIL("mprotect"););
}

LESSON_FN static void unmap(void) { LESSON(&n, munmap(area, 2 * size + 3 * page);); }

/* ---- What each step measured ---- */

/* Around each LESSON of the step (three at most): the watched mapping's smaps entry,
 * Committed_AS and the faults, read next to the code. */
static struct seen { struct snapshot before, after; } seen[3];
static int nseen, seen_step;

/* The five states of steps 5-9, as the LESSON that made each left it, and what the calls that
 * made it moved Committed_AS by. */
static struct state {
    struct snapshot at;
    int64_t change_kb;
} states[5];

static char size_why[256], picture[1025];

static void observe(void *ctx, bool after)
{
    (void)ctx;
    if (after)
        probe_disarm(); /* a fault is caught in step 3's LESSON only, not in these reads */
    nseen = seen_step == n.step ? nseen : 0; /* the step's first LESSON starts over */
    seen_step = n.step;
    struct seen *s = &seen[nseen < 3 ? nseen : 2];
    snapshot_take_or_fail(after ? &s->after : &s->before, watch, &n);
    nseen += after;
    if (!after && strcmp(n.id, "read_refused") == 0)
        probe_arm();
}

/* The step's last LESSON, and what it moved. */
static struct seen *last(void)
{
    return &seen[nseen > 0 ? nseen - 1 : 0];
}

static int64_t change(const struct seen *s)
{
    return snapshot_delta0(&s->before, &s->after, "Committed_AS");
}

static int64_t delta(const char *key)
{
    return snapshot_delta0(&last()->before, &last()->after, key);
}

/* The mapping's own charge: VM_ACCOUNT, shown as "ac" in smaps VmFlags. */
static bool accounted(const struct snapshot *s)
{
    return s->mapped && smaps_has_flag(&s->entry, "ac");
}

static void report(const char *const *rows)
{
    const struct seen *s = last();
    if (s->after.mapped) {
        snapshot_maps_fact(&n, &s->after.entry);
        narrate_fact(&n, "vmflags", "%s", s->after.entry.vmflags);
    }
    snapshot_report(&n, &s->before, &s->after, rows);
}

static void explain_write_pages(void)
{
    report((const char *const[]){"Rss", "Private_Dirty", "Committed_AS", NULL});
    int64_t rss = delta("Rss");
    CONCLUDE(&n, "every_page_resident_and_dirty", rss == (int64_t)(len / 1024) &&
                 delta("Private_Dirty") == rss,
             VALUES(VAL("rss_delta_kB", rss), VAL("size_kB", len / 1024)),
             "Each write faulted in one page: Rss and Private_Dirty grew by the whole %zu kB.",
             len / 1024);
}

static void explain_take_access_away(void)
{
    report((const char *const[]){"Rss", "Private_Dirty", "Committed_AS", NULL});
    long resident = residency_picture(p, len, picture, sizeof picture);
    if (resident < 0)
        FAIL("mincore");
    narrate_picture(&n, "mincore", picture);
    narrate_fact_int(&n, "resident_pages", resident);
    const struct seen *s = last();
    CONCLUDE(&n, "still_resident_and_dirty", strcmp(s->after.entry.perms, "---p") == 0 &&
                 resident == (long)pages && delta("Rss") == 0 && delta("Private_Dirty") == 0,
             VALUES(VAL("resident_pages", resident), VAL("pages", pages),
                    VAL("rss_delta_kB", delta("Rss"))),
             "The maps line reads ---p, yet Rss and Private_Dirty did not move and mincore still "
             "draws every page '#': the frames and their data stay; the page-table entries lost "
             "their access.");
    bool ac = accounted(&s->after);
    CONCLUDE(&n, "written_mapping_keeps_charge", accounted(&s->before) && ac,
             VALUES(VAL("accounted_before", accounted(&s->before)), VAL("accounted_after", ac),
                    VAL("committed_as_change_kB", change(s))),
             "It stays charged: VmFlags keeps 'ac' (accounted), because it was written "
             "(Committed_AS, system-wide, moved by %+lld kB meanwhile).", (long long)change(s));
}

static void explain_read_refused(void)
{
    narrate_fact(&n, "signal", "%s", r.faulted ? probe_signal_name(r.signo) : "none");
    narrate_fact(&n, "si_code", "%s", r.faulted ? probe_code_name(r.signo, r.code) : "none");
    narrate_fact(&n, "si_addr", "%p", (void *)r.addr);
    bool accerr = r.faulted && r.signo == SIGSEGV && r.code == SEGV_ACCERR;
    CONCLUDE(&n, "read_refused_accerr", accerr && r.addr == (uintptr_t)p,
             VALUES(VAL("faulted", r.faulted), VAL("signo", r.signo), VAL("si_code", r.code),
                    VAL("si_addr_is_p", r.addr == (uintptr_t)p)),
             "The read of p[0] raised SIGSEGV, caught by the probe's handler: SEGV_ACCERR (%s) at "
             "p itself. The page is there; the permission is not.",
             probe_code_meaning(r.signo, r.code));
}

static void explain_access_back(void)
{
    narrate_fact_int(&n, "pages_intact", (int64_t)intact);
    narrate_fact_int(&n, "pages_checked", (int64_t)pages);
    CONCLUDE(&n, "data_intact", intact == pages,
             VALUES(VAL("pages_intact", intact), VAL("pages", pages)),
             "All %zu pages still hold what was written: PROT_NONE never touched the data.", pages);
}

static void explain_reserve(void)
{
    narrate_fact_int(&n, "size_kB", (int64_t)(size / 1024));
    narrate_fact(&n, "size_chosen", "%s", size_why);
    struct seen *s = last(); /* the observer read the old address: the entry again, at area */
    s->after.mapped = smaps_read_entry((uintptr_t)area, &s->after.entry) == PROCFS_OK;
    states[0] = (struct state){s->after, change(s)};
    report((const char *const[]){"Rss", "Committed_AS", NULL});
    CONCLUDE(&n, "reservation_not_charged", s->after.mapped && !accounted(&s->after),
             VALUES(VAL("accounted", accounted(&s->after)),
                    VAL("committed_as_change_kB", change(s))),
             "%zu kB of address space and no 'ac' flag: a mapping no one may write needs no commit "
             "charge (Committed_AS moved by %+lld kB, other processes included).",
             (2 * size + 3 * page) / 1024, (long long)change(s));
}

static void explain_commit(void)
{
    const struct seen *s = last();
    int64_t moved = change(s), size_kb = (int64_t)(size / 1024);
    states[1] = (struct state){s->after, moved};
    report((const char *const[]){"Rss", "Committed_AS", NULL});
    CONCLUDE(&n, "read_write_charged", accounted(&s->after) && moved > size_kb / 2,
             VALUES(VAL("accounted", accounted(&s->after)), VAL("committed_as_change_kB", moved),
                    VAL("size_kB", size_kb)),
             "Rss is 0, yet the mapping is charged: VmFlags shows 'ac' and Committed_AS moved by "
             "%+lld kB for its %lld kB (%+lld kB of it other processes). A private writable page "
             "may be written at any time, so the kernel promises it now.", (long long)moved,
             (long long)size_kb, (long long)moved - size_kb);
}

static void explain_untouched_protnone(void)
{
    const struct seen *s = last();
    int64_t moved = change(s), size_kb = (int64_t)(size / 1024);
    states[2] = (struct state){s->after, moved};
    report((const char *const[]){"Rss", "Committed_AS", NULL});
    bool dropped = accounted(&s->before) && !accounted(&s->after) && moved < -size_kb / 2;
    (void)(CONCLUDE(&n, "untouched_charge_dropped", dropped,
                    VALUES(VAL("accounted_after", accounted(&s->after)),
                           VAL("committed_as_change_kB", moved), VAL("size_kB", size_kb)),
                    "The charge came back: 'ac' is gone and Committed_AS moved by %+lld kB "
                    "(%+lld kB of it other processes). Never written, the mapping has no "
                    "anon_vma, so no page of it can hold data: mprotect_fixup (Linux 6.7 and "
                    "later) drops VM_ACCOUNT.", (long long)moved, (long long)moved + size_kb) ||
           CONCLUDE(&n, "untouched_charge_kept", accounted(&s->after),
                    VALUES(VAL("accounted_after", 1), VAL("committed_as_change_kB", moved)),
                    "The charge stayed ('ac' is still there): this kernel keeps it even for a "
                    "mapping never written; Linux 6.7 and later drop it."));
    CONCLUDE(&n, "merged_into_reservation", s->after.entry.start < (uintptr_t)c &&
                 s->after.entry.end > (uintptr_t)c + size,
             VALUES(VAL("vma_kB", (s->after.entry.end - s->after.entry.start) / 1024)),
             "Nothing tells it from the reservation around it any more: the kernel merged them "
             "into one ---p mapping.");
}

static void explain_written_protnone(void)
{
    /* Three LESSONs: mmap, the write, mprotect. */
    states[3] = (struct state){seen[1].after, change(&seen[0]) + change(&seen[1])};
    states[4] = (struct state){seen[2].after, change(&seen[2])};
    int64_t moved = change(&seen[2]), rss = snapshot_value(&seen[1].after, "Rss");
    int64_t huge = snapshot_value(&seen[1].after, "AnonHugePages");
    report((const char *const[]){"Rss", "Committed_AS", NULL});
    CONCLUDE(&n, "written_charge_kept", accounted(&seen[2].after),
             VALUES(VAL("accounted_after", accounted(&seen[2].after)),
                    VAL("committed_as_change_kB", moved), VAL("rss_kB", rss)),
             "One write was enough: the fault gave the mapping an anon_vma, so mprotect keeps the "
             "whole %zu kB charged ('ac' stays; Committed_AS moved by %+lld kB, other processes "
             "included). Its pages may hold data, and access may come back.", size / 1024,
             (long long)moved);
    CONCLUDE(&n, "huge_page_despite_nohugepage", huge > 0,
             VALUES(VAL("anon_huge_pages_kB", huge)),
             "A %lld kB huge page arrived despite MADV_NOHUGEPAGE.", (long long)huge);
}

static void explain_unmap(void)
{
    static const char *const what[5][2] = {
        {"reserved", "reserved (PROT_NONE, never touched)"},
        {"committed", "read-write, never touched"},
        {"committed_protnone", "read-write, never touched, then PROT_NONE"},
        {"written", "read-write, one byte written"},
        {"written_protnone", "read-write, one byte written, then PROT_NONE"},
    };
    for (int i = 0; i < 5; i++) {
        const struct snapshot *at = &states[i].at;
        narrate_fact(&n, what[i][0], "%s: %s, %s, Rss %lld kB; the calls that made it moved "
                     "Committed_AS %+lld kB", what[i][1], at->mapped ? at->entry.perms : "?",
                     accounted(at) ? "charged (ac)" : "not charged", snapshot_value(at, "Rss"),
                     (long long)states[i].change_kb);
    }
    int64_t moved = change(last()), size_kb = (int64_t)(size / 1024);
    bool untouched_kept = accounted(&states[2].at); /* kernels before 6.7 keep it */
    int64_t still = size_kb * (untouched_kept + accounted(&states[4].at));
    report((const char *const[]){"Committed_AS", NULL});
    CONCLUDE(&n, "unmap_returns_what_stayed_charged", moved < 0 && (moved + still) * 4 > -size_kb &&
                 (moved + still) * 4 < size_kb,
             VALUES(VAL("committed_as_change_kB", moved), VAL("still_charged_kB", still),
                    VAL("untouched_still_charged", untouched_kept)),
             "munmap gave back what was still charged, %lld kB (Committed_AS moved by %+lld kB): "
             "the rule is the 'ac' flag, not the protection. Reserved costs nothing; read-write is "
             "charged at mmap; PROT_NONE %s.", (long long)still, (long long)moved, untouched_kept
                 ? "keeps the charge on this kernel, even for a mapping never written"
                 : "returns the charge only if no page was ever faulted");
}

/* With --predict a step asks first; the finding beside a choice is the measured one. */
static const struct narrate_lesson steps[] = {
    {"write_pages", "Map some pages and write every one", write_pages, explain_write_pages,
     NO_QUESTION},
    {"take_access_away", "Take all access away", take_access_away, explain_take_access_away,
     "After mprotect(PROT_NONE), what happens to the pages' Rss?",
     {"it drops to 0: the pages are let go", "it stays: the pages are still there"},
     {NULL, "still_resident_and_dirty"}},
    {"read_refused", "Try to read a page with no access", read_refused, explain_read_refused,
     NO_QUESTION},
    {"access_back", "Give access back and check the data", access_back, explain_access_back,
     NO_QUESTION},
    {"reserve", "Reserve address space: PROT_NONE, never touched", reserve, explain_reserve,
     "Is a PROT_NONE reservation charged to Committed_AS?",
     {"yes, its whole size", "no: no one may write it"}, {NULL, "reservation_not_charged"}},
    {"commit", "Map read-write inside it, never touched", commit, explain_commit, NO_QUESTION},
    {"untouched_protnone", "Take access away from the untouched mapping", untouched_protnone,
     explain_untouched_protnone, "Does the never-written mapping stay charged at PROT_NONE?",
     {"yes: the charge stays", "no: the charge comes back"},
     {"untouched_charge_kept", "untouched_charge_dropped"}},
    {"written_protnone", "Map read-write, write one byte, take access away", written_protnone,
     explain_written_protnone, NO_QUESTION},
    {"side_by_side", "Five states side by side, then unmap them", unmap, explain_unmap,
     NO_QUESTION},
};

/* ---- Options and sizes ---- */

static const struct cli_option options[] = {
    {"pages", "N", "how many pages to write in steps 1-4 (default 4; 1 to 1024)"},
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
    DEMO_OPTIONS(options),
    .examples = "  protnone-dirty\n  protnone-dirty --pages 16 --step\n",
    .draws = DRAWS_COMMIT | DRAWS_RESIDENCY,
    .lessons = LESSONS(TABLE(steps)),
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(size_t *)ctx = (size_t)cli_count_arg(&info, "--pages", arg, 1, 1024);
}

int main(int argc, char **argv)
{
    struct cli_common common;
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, on_option, &pages));
    page = (size_t)sysconf(_SC_PAGESIZE);
    len = pages * page;
    demo_start(&n, &info, &common, NARRATE_COUNT(steps));
    /* Up to 1 GiB, so that its charge stands out from other programs' noise; two such mappings
     * and a reservation around them. */
    if (grant_charge_size(1 << 20, 2, &size, size_why, sizeof size_why) != 0)
        narrate_finish(&n, RESULT_SKIP, "%s", size_why);
    narrate_observe(&n, observe, NULL);
    narrate_intro(&n, "protnone-dirty (PID %ld): %zu pages of %zu KiB written; the charge "
                      "lesson maps %zu kB (%s).", (long)getpid(), pages, page / 1024,
                  size / 1024, size_why);
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    narrate_finish(&n, RESULT_OK, "resident, dirty and inaccessible at once; the charge "
                                  "follows 'ac', measured in this run");
}
