/* protnone-dirty: memory can be resident and dirty, yet inaccessible.
 * Write some pages, take all access away with mprotect(PROT_NONE), watch a
 * read fail with SEGV_ACCERR while smaps still counts the pages, give access
 * back and find the data intact. Then the four states of a page side by side. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "leftovers.h"
#include "narrate.h"
#include "probe.h"
#include "procfs.h"
#include "region.h"
#include "residency.h"
#include "snapshot.h"
#include "touch.h"

enum { OPT_PAGES };

static const struct cli_option options[] = {
    [OPT_PAGES] = {"pages", "N", "how many pages to map and write (default 4; 1 to 1024)"},
};

static const struct demo_info info = {
    .name = "protnone-dirty",
    .summary =
        "Writes a few pages, then removes all access with mprotect(PROT_NONE): the\n"
        "pages stay resident and dirty (smaps, mincore), but a read is refused with\n"
        "SIGSEGV / SEGV_ACCERR. Access comes back with mprotect, data intact. Ends\n"
        "with four small mappings side by side: reserved, committed, resident and\n"
        "dirty, dirty but inaccessible.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  protnone-dirty\n  protnone-dirty --pages 16 --step\n",
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(uint64_t *)ctx = cli_count_arg(&info, "--pages", arg, 1, 1024);
}

struct demo {
    struct narrator n;
    size_t page, pages, len;
    long page_kb;
    char *p;
    struct region region;
};

/* Adds the mincore picture; returns how many pages are resident. */
static long add_picture(struct demo *d, char *p, size_t len)
{
    char picture[1100];
    long resident = residency_picture(p, len, picture, sizeof picture);
    if (resident < 0)
        narrate_fail_errno(&d->n, "mincore", errno);
    narrate_picture(&d->n, "mincore", picture);
    return resident;
}

static void add_maps(struct demo *d, const struct snapshot *s)
{
    char maps[512];
    if (!s->mapped)
        return;
    smaps_format_header(&s->entry, maps, sizeof maps);
    narrate_fact(&d->n, "maps", "%s", maps);
}

/* A distinct byte per page, so that "the data is still there" can be checked. */
static char pattern(size_t i)
{
    return (char)('A' + i % 26);
}

static void step_write(struct demo *d)
{
    struct narrator *n = &d->n;
    struct snapshot before, after;
    narrate_step(n, "Map and write every page", "p = mmap(..., PROT_READ | PROT_WRITE, ...); "
                                                "for each page i: p[i * page] = 'A' + i;");
    if (region_reserve(&d->region, d->len, 0) != 0)
        narrate_fail_errno(n, "mmap (PROT_NONE reservation)", errno);
    d->p = region_map(&d->region, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d->p == MAP_FAILED)
        narrate_fail_errno(n, "mmap", errno);
    madvise(d->p, d->len, MADV_NOHUGEPAGE);
    snapshot_take_or_fail(&before, (uintptr_t)d->p, n);
    for (size_t i = 0; i < d->pages; i++)
        touch_write(d->p + i * d->page, pattern(i));
    snapshot_take_or_fail(&after, (uintptr_t)d->p, n);
    add_maps(d, &after);
    add_picture(d, d->p, d->len);
    snapshot_report(n, &before, &after, (const char *const[]){"Rss", "Private_Dirty", NULL});
    narrate_note(n, "%zu pages written: Rss and Private_Dirty are %lld kB and %lld kB.", d->pages,
                 (long long)snapshot_delta0(&before, &after, "Rss"),
                 (long long)snapshot_delta0(&before, &after, "Private_Dirty"));
    narrate_end_step(n);
    narrate_watch(n, (uintptr_t)d->p);
}

static void step_protnone(struct demo *d)
{
    struct narrator *n = &d->n;
    struct snapshot before, after;
    narrate_step(n, "Take all access away, then try to read", "mprotect(p, size, PROT_NONE); char c = p[0];");
    snapshot_take_or_fail(&before, (uintptr_t)d->p, n);
    if (mprotect(d->p, d->len, PROT_NONE) != 0)
        narrate_fail_errno(n, "mprotect(PROT_NONE)", errno);
    snapshot_take_or_fail(&after, (uintptr_t)d->p, n);
    struct probe_result r;
    if (probe_read(d->p, &r) != 0)
        narrate_fail_errno(n, "sigaction", errno);
    add_maps(d, &after);
    long resident = add_picture(d, d->p, d->len);
    snapshot_report(n, &before, &after, (const char *const[]){"Rss", "Private_Dirty", NULL});
    narrate_fact(n, "read", "%s", r.faulted ? probe_signal_name(r.signo) : "completed");
    if (r.faulted) {
        narrate_fact(n, "si_code", "%s", probe_code_name(r.signo, r.code));
        narrate_fact(n, "si_addr", "%p", (void *)r.addr);
        narrate_fact(n, "si_addr is p", "%s", r.addr == (uintptr_t)d->p ? "yes" : "no");
    }
    int64_t rss = 0;
    snapshot_get(&after, "Rss", &rss);
    bool accerr = r.faulted && r.signo == SIGSEGV && r.code == SEGV_ACCERR;
    if (resident == (long)d->pages && snapshot_delta0(&before, &after, "Rss") == 0)
        narrate_note(n, "The maps line now reads %s, yet Rss is still %lld kB and every page is "
                        "still '#': the frames and their data stay where they were; only the "
                        "page-table entries lost their permissions.",
                     after.entry.perms, (long long)rss);
    else
        narrate_note(n, "The maps line now reads %s; Rss is %lld kB and %ld of %zu pages are "
                        "resident.", after.entry.perms, (long long)rss, resident, d->pages);
    if (accerr)
        narrate_note(n, "The read raised SIGSEGV with si_code SEGV_ACCERR (%s) at %p. The demo "
                        "caught it.",
                     probe_code_meaning(r.signo, r.code), (void *)r.addr);
    else
        narrate_note(n, "The read %s.", r.faulted ? probe_code_name(r.signo, r.code) : "completed");
    narrate_end_step(n);
}

static void step_restore(struct demo *d)
{
    struct narrator *n = &d->n;
    narrate_step(n, "Give access back and check the data",
                 "mprotect(p, size, PROT_READ | PROT_WRITE); compare p[i * page] with 'A' + i;");
    if (mprotect(d->p, d->len, PROT_READ | PROT_WRITE) != 0)
        narrate_fail_errno(n, "mprotect(PROT_READ | PROT_WRITE)", errno);
    size_t intact = 0;
    for (size_t i = 0; i < d->pages; i++)
        intact += touch_read(d->p + i * d->page) == pattern(i);
    narrate_fact_int(n, "pages intact", (int64_t)intact);
    narrate_fact_int(n, "pages checked", (int64_t)d->pages);
    narrate_note(n, "%zu of %zu pages still hold what was written before PROT_NONE%s.", intact,
                 d->pages, intact == d->pages ? ": protection never touched the data" : "");
    narrate_end_step(n);
    region_release(&d->region);
}

/* ---- the four states ---- */

struct state {
    const char *key, *what;
    int64_t charged_kb, rss_kb, dirty_kb;
    int64_t protnone_change_kb; /* Committed_AS across the later mprotect(PROT_NONE) */
    char perms[5];
};

static int64_t committed_kb(void)
{
    return procfs_read_one("/proc/meminfo", "Committed_AS");
}

static void measure_state(struct demo *d, struct state *s, struct region *r, int prot, bool write,
                          bool then_protnone)
{
    if (region_reserve(r, d->len, 0) != 0)
        narrate_fail_errno(&d->n, "mmap (PROT_NONE reservation)", errno);
    int64_t c0 = committed_kb();
    char *p = region_map(r, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        narrate_fail_errno(&d->n, "mmap", errno);
    s->charged_kb = committed_kb() - c0;
    madvise(p, d->len, MADV_NOHUGEPAGE);
    if (write)
        touch_write_every(p, d->len, d->page, 1);
    int64_t c1 = committed_kb();
    if (then_protnone && mprotect(p, d->len, PROT_NONE) != 0)
        narrate_fail_errno(&d->n, "mprotect", errno);
    s->protnone_change_kb = committed_kb() - c1;
    struct smaps_entry e;
    uint64_t v = 0;
    if (smaps_read_entry((uintptr_t)p, &e) != PROCFS_OK)
        narrate_fail_errno(&d->n, "read /proc/self/smaps", errno);
    s->rss_kb = smaps_get(&e, "Rss", &v) ? (int64_t)v : -1;
    s->dirty_kb = smaps_get(&e, "Private_Dirty", &v) ? (int64_t)v : -1;
    memcpy(s->perms, e.perms, sizeof s->perms);
}

static void step_states(struct demo *d)
{
    struct narrator *n = &d->n;
    narrate_step(n, "Four states of a page, side by side",
                 "four mappings of the same size: PROT_NONE; read-write untouched; read-write "
                 "written; written then PROT_NONE");
    struct state states[4] = {
        {"reserved", "reserved (PROT_NONE, never touched)", 0, 0, 0, 0, ""},
        {"committed", "committed (read-write, never touched)", 0, 0, 0, 0, ""},
        {"dirty", "resident and dirty (read-write, written)", 0, 0, 0, 0, ""},
        {"dirty_protnone", "dirty but inaccessible (written, then PROT_NONE)", 0, 0, 0, 0, ""},
    };
    struct region r[4];
    measure_state(d, &states[0], &r[0], PROT_NONE, false, false);
    measure_state(d, &states[1], &r[1], PROT_READ | PROT_WRITE, false, false);
    measure_state(d, &states[2], &r[2], PROT_READ | PROT_WRITE, true, false);
    measure_state(d, &states[3], &r[3], PROT_READ | PROT_WRITE, true, true);
    for (int i = 0; i < 4; i++) {
        char key[48];
        narrate_fact(n, states[i].key, "%s: %s, charged %+lld kB, Rss %lld kB, Private_Dirty %lld kB",
                     states[i].what, states[i].perms, (long long)states[i].charged_kb,
                     (long long)states[i].rss_kb, (long long)states[i].dirty_kb);
        snprintf(key, sizeof key, "%s_charged_kB", states[i].key);
        narrate_fact_int(n, key, states[i].charged_kb);
        snprintf(key, sizeof key, "%s_Rss_kB", states[i].key);
        narrate_fact_int(n, key, states[i].rss_kb);
        region_release(&r[i]);
    }
    narrate_fact_int(n, "dirty_protnone_mprotect_change_kB", states[3].protnone_change_kb);
    int64_t size_kb = (int64_t)(d->len / 1024);
    bool as_taught = states[0].charged_kb == 0 && states[1].charged_kb == size_kb &&
                     states[2].charged_kb == size_kb && states[1].rss_kb == 0 &&
                     states[2].rss_kb == size_kb && states[3].rss_kb == size_kb;
    if (as_taught)
        narrate_note(n, "Only the read-write mappings were charged to Committed_AS at mmap (%+lld kB "
                        "each, nothing for PROT_NONE); only the written ones hold frames (Rss %lld "
                        "kB). Taking access away from the last one moved Committed_AS by %+lld kB: "
                        "%s It is resident and dirty, and no access is allowed: residency and "
                        "permission are separate things.",
                     (long long)size_kb, (long long)size_kb, (long long)states[3].protnone_change_kb,
                     states[3].protnone_change_kb == 0
                         ? "the charge stays, because the data is still there and access may return."
                         : "the counter moved (other processes, or a kernel that uncharges).");
    else
        narrate_note(n, "The four states measured as listed above. Committed_AS is system-wide, so "
                        "other processes may have moved the charges; run it again on a quiet "
                        "machine to see each mapping's own.");
    narrate_end_step(n);
}

int main(int argc, char **argv)
{
    uint64_t pages = 4;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &pages);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);

    struct demo d = {0};
    d.page = (size_t)sysconf(_SC_PAGESIZE);
    d.page_kb = (long)(d.page / 1024);
    d.pages = (size_t)pages;
    d.len = d.pages * d.page;
    narrate_init(&d.n, info.name, &common, 4);
    narrate_intro(&d.n, "protnone-dirty (PID %ld): %zu pages of %zu KiB.", (long)getpid(), d.pages,
                  d.page / 1024);
    step_write(&d);
    step_protnone(&d);
    step_restore(&d);
    step_states(&d);
    narrate_finish(&d.n, RESULT_OK, "resident, dirty and inaccessible at once, measured in this run");
}
