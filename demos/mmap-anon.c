/* mmap-anon: an anonymous private mapping is only address space until it is
 * touched. Five steps: map, write one byte, read another page, write every
 * page, unmap - and after each, what smaps, meminfo and the fault counters
 * say the kernel did. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "leftovers.h"
#include "narrate.h"
#include "procfs.h"
#include "region.h"
#include "residency.h"
#include "snapshot.h"
#include "touch.h"

#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define THP_PMD_SIZE "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"

enum { OPT_SIZE, OPT_THP };

static const struct cli_option options[] = {
    [OPT_SIZE] = {"size", "SIZE",
                  "how much to map (default 16M; 8K to 1G, since step 4 writes every page)"},
    [OPT_THP] = {"thp", NULL,
                 "ask for transparent huge pages (MADV_HUGEPAGE): one write adds 2 MiB"},
};

static const struct demo_info info = {
    .name = "mmap-anon",
    .summary =
        "Maps private anonymous memory and touches it one step at a time, showing\n"
        "after each step what /proc/self/smaps, /proc/meminfo and the fault counters\n"
        "say: mmap only reserves address space (and commit charge); the first write\n"
        "to a page faults in a zeroed frame; a first read maps the shared zero page.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  mmap-anon                  the five steps on 16 MiB\n"
                "  mmap-anon --step           pause before each step; watch smaps live\n"
                "  mmap-anon --size 64M --json | jq .delta\n"
                "  mmap-anon --thp            the same with a 2 MiB transparent huge page\n",
};

#define MAX_SIZE (UINT64_C(1) << 30)

struct settings {
    uint64_t size;
    bool size_given;
    bool thp;
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    struct settings *s = ctx;
    if (index == OPT_SIZE) {
        s->size = cli_size_arg(&info, "--size", arg, UINT64_C(2) * 4096, MAX_SIZE);
        s->size_given = true;
    } else if (index == OPT_THP) {
        s->thp = true;
    }
}

struct demo {
    struct narrator n;
    size_t page, huge, size;
    long page_kb;
    bool thp;
    char thp_mode[32];      /* "always", "madvise", "never", or "" if absent */
    char *p;
    struct region region;
};

static void take(struct demo *d, struct snapshot *s)
{
    snapshot_take_or_fail(s, (uintptr_t)d->region.addr, &d->n);
}


static int64_t value_of(const struct snapshot *s, const char *key)
{
    int64_t v = 0;
    return snapshot_get(s, key, &v) ? v : -1;
}

/* A system-wide counter moved by `got` kB where this process alone would move
 * it by `want`: say which, from the numbers. */
static void explain_commit(struct demo *d, int64_t got, int64_t want, const char *happened)
{
    int64_t slack = (want < 0 ? -want : want) / 8;
    if (got >= want - slack && got <= want + slack)
        narrate_note(&d->n, "Committed_AS moved by %+lld kB, about the mapping's size: %s",
                     (long long)got, happened);
    else
        narrate_note(&d->n,
                     "Committed_AS moved by %+lld kB, not the %+lld kB this mapping accounts "
                     "for: it is a system-wide counter, and other processes changed it at the "
                     "same time. Run the demo again on a quieter machine to see it alone.",
                     (long long)got, (long long)want);
}

static void step_map(struct demo *d)
{
    struct narrator *n = &d->n;
    struct snapshot before, after;
    char size_text[32], code[256], maps[512];
    format_size(d->size, size_text, sizeof size_text);
    snprintf(code, sizeof code,
             "p = mmap(hint, %s, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | "
             "MAP_FIXED, -1, 0); madvise(p, %s, %s);",
             size_text, size_text, d->thp ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE");
    narrate_step(n, "Map private anonymous memory", code);

    take(d, &before);
    d->p = region_map(&d->region, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d->p == MAP_FAILED)
        narrate_fail_errno(n, "mmap", errno);
    bool advised = madvise(d->p, d->size, d->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) == 0;
    int advise_errno = errno;
    take(d, &after);
    if (!after.mapped)
        narrate_finish(n, RESULT_FAIL, "the new mapping is missing from /proc/self/smaps");

    smaps_format_header(&after.entry, maps, sizeof maps);
    narrate_fact(n, "maps", "%s", maps);
    narrate_fact(n, "VmFlags", "%s", after.entry.vmflags);
    snapshot_report(n, &before, &after, (const char *const[]){"Size", "Rss", "Committed_AS", NULL});

    int64_t size_kb = value_of(&after, "Size"), rss_kb = value_of(&after, "Rss");
    narrate_note(n, "The kernel created a VMA of %lld kB%s.", (long long)size_kb,
                 rss_kb == 0 ? ", but put no memory behind it: Rss is 0 kB" : "");
    if (rss_kb > 0)
        narrate_note(n, "Rss is already %lld kB: something touched the region.", (long long)rss_kb);
    explain_commit(d, snapshot_delta0(&before, &after, "Committed_AS"), (int64_t)(d->size / 1024),
                   "a private writable mapping is charged against the commit limit when it is "
                   "made, before any page exists.");
    if (!advised) {
        char msg[64];
        snprintf(msg, sizeof msg, "%s", strerror(advise_errno));
        narrate_note(n, "madvise failed (%s): this kernel has no transparent huge pages, so "
                        "there is nothing to turn on or off.", msg);
    }
    narrate_end_step(n);
}

static void explain_first_write(struct demo *d, int64_t rss, int64_t thp_kb, int64_t faults)
{
    struct narrator *n = &d->n;
    long huge_kb = (long)(d->huge / 1024);
    if (rss == d->page_kb)
        narrate_note(n, "The first write faulted (%lld minor fault%s: no disk involved). The "
                        "kernel took one free %ld KiB frame, filled it with zeroes and mapped "
                        "it: Rss and Private_Dirty grew by exactly one page.",
                     (long long)faults, faults == 1 ? "" : "s", d->page_kb);
    else if (thp_kb == huge_kb)
        narrate_note(n, "One write, %lld fault%s, and Rss grew by %lld kB: the kernel mapped a "
                        "whole %ld kB transparent huge page (AnonHugePages), zeroed in one go.",
                     (long long)faults, faults == 1 ? "" : "s", (long long)rss, huge_kb);
    else
        narrate_note(n, "The first write faulted (%lld minor fault%s) and Rss grew by %lld kB, "
                        "not one %ld kB page: this kernel maps larger folios here (mTHP).",
                     (long long)faults, faults == 1 ? "" : "s", (long long)rss, d->page_kb);
    if (d->thp && thp_kb != huge_kb) {
        if (strcmp(d->thp_mode, "never") == 0)
            narrate_note(n, "No huge page: THP is set to 'never' in %s, so MADV_HUGEPAGE has "
                            "no effect. As root: echo madvise > %s",
                         THP_ENABLED, THP_ENABLED);
        else
            narrate_note(n, "No huge page although THP is '%s': the kernel found no free "
                            "%ld kB block and fell back to small pages (thp_fault_fallback in "
                            "/proc/vmstat counts this).",
                         d->thp_mode, huge_kb);
    }
}

static void step_write_one(struct demo *d)
{
    struct narrator *n = &d->n;
    struct snapshot before, after;
    narrate_step(n, "Write one byte into the first page", "p[16] = 'a';");
    take(d, &before);
    touch_write(d->p + 16, 'a');
    take(d, &after);
    snapshot_report(n, &before, &after,
                    d->thp ? (const char *const[]){"Rss", "Private_Dirty", "AnonHugePages",
                                                   "minor_faults", NULL}
                           : (const char *const[]){"Rss", "Private_Dirty", "minor_faults", NULL});
    explain_first_write(d, snapshot_delta0(&before, &after, "Rss"),
                        snapshot_delta0(&before, &after, "AnonHugePages"),
                        snapshot_delta0(&before, &after, "minor_faults"));
    narrate_end_step(n);
}

static void step_read_other(struct demo *d)
{
    struct narrator *n = &d->n;
    struct snapshot before, after;
    size_t offset = d->size / 2 / d->page * d->page;
    char code[96], picture[4];
    snprintf(code, sizeof code, "char c = p[%zu];   /* page %zu, never touched */", offset,
             offset / d->page);
    narrate_step(n, "Read one byte of another, untouched page", code);
    take(d, &before);
    char c = touch_read(d->p + offset);
    take(d, &after);
    long resident = residency_picture(d->p + offset, d->page, picture, sizeof picture);
    if (resident < 0)
        narrate_fail_errno(n, "mincore", errno);

    narrate_fact(n, "value read", "%d", c);
    narrate_fact(n, "mincore", "page %zu is %s", offset / d->page,
                 resident ? "resident" : "not resident");
    snapshot_report(n, &before, &after, (const char *const[]){"Rss", "minor_faults", NULL});

    int64_t rss = snapshot_delta0(&before, &after, "Rss");
    int64_t faults = snapshot_delta0(&before, &after, "minor_faults");
    if (rss == 0 && faults >= 1 && resident)
        narrate_note(n, "The read faulted (%lld minor fault%s) and returned 0, yet Rss did not "
                        "grow: the kernel mapped the shared zero page, one read-only page of "
                        "zeroes that all processes share. mincore counts the page as present; "
                        "smaps does not count the zero page in Rss.",
                     (long long)faults, faults == 1 ? "" : "s");
    else if (rss > 0)
        narrate_note(n, "The read faulted and Rss grew by %lld kB: this kernel gave the read a "
                        "page of its own (the zero page is not used for this mapping%s).",
                     (long long)rss, d->thp ? ", e.g. use_zero_page is 0 for THP" : "");
    else
        narrate_note(n, "%lld minor fault%s, Rss %+lld kB, mincore says %s.", (long long)faults,
                     faults == 1 ? "" : "s", (long long)rss, resident ? "resident" : "not resident");
    narrate_end_step(n);
}

static void step_write_all(struct demo *d)
{
    struct narrator *n = &d->n;
    struct snapshot before, after;
    char code[128];
    size_t pages = d->size / d->page;
    snprintf(code, sizeof code, "for (size_t off = 0; off < size; off += %zu) p[off] = 1;",
             d->page);
    narrate_step(n, "Write every page", code);
    take(d, &before);
    touch_write_every(d->p, d->size, d->page, 1);
    take(d, &after);
    snapshot_report(n, &before, &after,
                    d->thp ? (const char *const[]){"Size", "Rss", "Private_Dirty", "AnonHugePages",
                                                   "minor_faults", NULL}
                           : (const char *const[]){"Size", "Rss", "Private_Dirty", "minor_faults",
                                                   NULL});
    int64_t size_kb = value_of(&after, "Size"), rss_kb = value_of(&after, "Rss");
    int64_t faults = snapshot_delta0(&before, &after, "minor_faults");
    if (rss_kb == size_kb)
        narrate_note(n, "Every page now has a frame of its own: Rss equals Size (%lld kB).",
                     (long long)rss_kb);
    else
        narrate_note(n, "Rss is %lld kB of a Size of %lld kB.", (long long)rss_kb,
                     (long long)size_kb);
    if (!d->thp && faults == (int64_t)pages - 1)
        narrate_note(n, "%lld minor faults for %zu pages: every page faulted once except the "
                        "one written in step 2, and the zero-page one faulted again to get a "
                        "private copy (copy-on-write).",
                     (long long)faults, pages);
    else
        narrate_note(n, "%lld minor faults for %zu pages%s.", (long long)faults, pages,
                     d->thp ? ": with huge pages, one fault can map 512 pages at once" : "");
    narrate_end_step(n);
}

static void step_unmap(struct demo *d)
{
    struct narrator *n = &d->n;
    struct snapshot before, after;
    char code[64], size_text[32];
    format_size(d->size, size_text, sizeof size_text);
    snprintf(code, sizeof code, "munmap(p, %s);", size_text);
    narrate_step(n, "Unmap it", code);
    take(d, &before);
    if (munmap(d->p, d->size) != 0)
        narrate_fail_errno(n, "munmap", errno);
    take(d, &after);
    snapshot_report(n, &before, &after, (const char *const[]){"Rss", "Committed_AS", NULL});
    narrate_note(n, "The mapping is gone from smaps%s.",
                 after.mapped ? " (something else is mapped there now)" : "");
    explain_commit(d, snapshot_delta0(&before, &after, "Committed_AS"), -(int64_t)(d->size / 1024),
                   "the commit charge is returned along with the frames.");
    narrate_end_step(n);
}

static size_t thp_pmd_size(void)
{
    uint64_t size = 0;
    FILE *f = fopen(THP_PMD_SIZE, "re");
    if (f) {
        if (procfs_parse_number(f, &size) != PROCFS_OK)
            size = 0;
        (void)fclose(f); /* read-only: nothing to lose */
    }
    return size ? (size_t)size : 2u << 20;
}

int main(int argc, char **argv)
{
    struct settings set = {.size = 16u << 20};
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &set);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);

    struct demo d = {.thp = set.thp};
    d.page = (size_t)sysconf(_SC_PAGESIZE);
    d.page_kb = (long)(d.page / 1024);
    d.huge = thp_pmd_size();
    if (procfs_read_choice(THP_ENABLED, d.thp_mode, sizeof d.thp_mode) != PROCFS_OK)
        d.thp_mode[0] = '\0';

    size_t unit = d.thp ? d.huge : d.page;
    if (d.thp && set.size < 2 * d.huge) {
        if (set.size_given)
            cli_usage_error(&info, "--size: with --thp it must be at least %zu kB (two huge "
                                   "pages: one to write, one to read)", 2 * d.huge / 1024);
        set.size = 2 * d.huge;
    }
    d.size = (size_t)((set.size + unit - 1) / unit * unit);
    cli_check_fits(&info, "--size", d.size, 2); /* step 4 writes every page */

    narrate_init(&d.n, info.name, &common, 5);
    if (d.thp && d.thp_mode[0] == '\0')
        narrate_finish(&d.n, RESULT_SKIP, "this kernel has no transparent huge pages (%s is "
                                          "missing); run without --thp", THP_ENABLED);

    char size_text[32];
    format_size(d.size, size_text, sizeof size_text);
    narrate_intro(&d.n,
                  "mmap-anon (PID %ld): %s of private anonymous memory, %zu pages of %ld KiB.%s\n"
                  "Transparent huge pages here: %s%s.\n"
                  "The region sits between two PROT_NONE guard pages so that it stays a mapping\n"
                  "of its own (see lib/region.h).",
                  (long)getpid(), size_text, d.size / d.page, d.page_kb,
                  d.size != set.size ? " (--size rounded up to whole pages.)" : "",
                  d.thp_mode[0] ? d.thp_mode : "not built in",
                  d.thp ? "; this run asks for them with MADV_HUGEPAGE"
                        : "; this run opts out with MADV_NOHUGEPAGE");

    if (region_reserve(&d.region, d.size, d.thp ? d.huge : 0) != 0)
        narrate_fail_errno(&d.n, "mmap (PROT_NONE reservation)", errno);

    step_map(&d);
    narrate_watch(&d.n, (uintptr_t)d.p);
    step_write_one(&d);
    step_read_other(&d);
    step_write_all(&d);
    step_unmap(&d);
    region_release(&d.region);

    narrate_finish(&d.n, RESULT_OK,
                   "%s mapped, then faulted in page by page; every number above was measured "
                   "in this run.", size_text);
}
