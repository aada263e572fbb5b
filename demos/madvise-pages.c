/* SPDX-License-Identifier: MIT */
/* madvise-pages: telling the kernel what to do with pages you already have. MADV_DONTNEED frees
 * them now; MADV_FREE only marks them for the kernel to take when it needs memory (shown in a
 * small cgroup); MADV_POPULATE_WRITE fills them untouched; MADV_PAGEOUT pushes them to swap, if
 * any (mlock-pages keeps them resident). The lesson is just below, in the order it runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "confine-child.h"
#include "errors.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "snapshot-report.h"
#include "snapshot.h"

/* ---- The lesson ---- */

static char *guard, *p, *a, *b;
static uint64_t size, page, least; /* bytes: --size, as the budget allows; a page; 4 in 1/4 */
static const size_t asize = (size_t)48 << 20, bsize = (size_t)64 << 20; /* in the cgroup */
static int rc, cold, zeros; /* the calls' results; how many pages of a read back as zero */
static struct narrator n;

LESSON_FN static void map(void)
{
    LESSON(&n, guard = mmap(NULL, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           if (guard == MAP_FAILED) narrate_fail_errno(&n, "mmap", errno);
           p = mmap(guard + page, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
           if (p == MAP_FAILED) narrate_fail_errno(&n, "mmap", errno);
           madvise(p, size, MADV_NOHUGEPAGE););
}

/* Pages to give advice about: MADV_DONTNEED has something to free. */
LESSON_FN static void write_every_page(void)
{
    LESSON(&n, for (size_t off = 0; off < size; off += page) p[off] = 1;);
}

LESSON_FN static void dontneed(void) { LESSON(&n, rc = madvise(p, size, MADV_DONTNEED);); }

LESSON_FN static void lazy_free(void)
{
    LESSON(&n, for (size_t off = 0; off < size; off += page) p[off] = 1;
           rc = madvise(p, size, MADV_FREE););
}

/* In a child inside a small memory cgroup: its pages are charged there. */
LESSON_FN static void free_in_cgroup(void)
{
    LESSON(&n, a = mmap(NULL, asize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           madvise(a, asize, MADV_NOHUGEPAGE);
           for (size_t off = 0; off < asize; off += page) a[off] = 1;
           rc = madvise(a, asize, MADV_FREE););
}

LESSON_FN static void pressure(void)
{
    LESSON(&n, b = mmap(NULL, bsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           for (size_t off = 0; off < bsize; off += page) b[off] = 1;
           for (size_t off = 0; off < asize; off += page) zeros += FORCE_READ(a[off]) == 0;);
}

/* Before Linux 5.14 the kernel does not know MADV_POPULATE_WRITE (EINVAL):
 * there a program fills its pages the old way, by writing each one. */
LESSON_FN static void populate(void)
{
    LESSON(&n, madvise(p, size, MADV_DONTNEED);
           rc = madvise(p, size, MADV_POPULATE_WRITE);
           if (rc != 0 && errno == EINVAL)
               for (size_t off = 0; off < size; off += page) p[off] = 1;);
}

LESSON_FN static void pageout(void)
{
    LESSON(&n, cold = madvise(p, size, MADV_COLD);
           rc = madvise(p, size, MADV_PAGEOUT););
}

LESSON_FN static void unmap(void) { LESSON(&n, munmap(p, size); munmap(guard, size + 2 * page);); }

/* ---- What each step measured, and what it shows ---- */

static struct {
    struct snapshot before, after;
    long long size_kb;
    struct confine c;
} d;

/* ctx: the mapping whose smaps the rows come from (&p; &a in the child). */
static void observe(void *ctx, bool after)
{
    snapshot_take_or_fail(after ? &d.after : &d.before, (uintptr_t)*(char **)ctx, &n);
}

static long long delta(const char *key) { return snapshot_delta0(&d.before, &d.after, key); }
static long long after(const char *key) { return snapshot_value(&d.after, key); }

/* The step's rows: these smaps keys always, then whatever else moved. */
#define ROWS(...) snapshot_report(&n, &d.before, &d.after, (const char *const[]){__VA_ARGS__, NULL})

/* A kernel older than the flag: the call answers EINVAL. */
static void unsupported(const char *id, const char *flag, const char *version)
{
    CONCLUDE(&n, id, rc != 0 && n.lesson_errno == EINVAL, VALUES(VAL("errno", n.lesson_errno)),
             "madvise answered EINVAL: %s needs Linux %s or later.", flag, version);
}

static void explain_map(void)
{
    narrate_watch(&n, (uintptr_t)p);
    snapshot_maps_fact(&n, &d.after.entry);
    narrate_fact_int(&n, "size_kB", d.size_kb);
    ROWS("Size", "Rss");
    snapshot_explain_not_resident(&n, &d.after, d.size_kb);
}

static void explain_write_every_page(void)
{
    ROWS("Rss");
    CONCLUDE(&n, "every_page_has_a_frame", after("Rss") == d.size_kb,
             VALUES(VAL("rss_kB", after("Rss")), VAL("size_kB", after("Size"))),
             "Every page now has a frame of its own: Rss is the whole %lld kB.", d.size_kb);
}

static void explain_dontneed(void)
{
    ROWS("Rss");
    CONCLUDE(&n, "dontneed_freed_now", rc == 0 && after("Rss") == 0 && delta("Rss") < 0,
             VALUES(VAL("rss_kB", after("Rss")), VAL("rss_delta_kB", delta("Rss"))),
             "MADV_DONTNEED gave the frames back at once: Rss fell by %lld kB to 0. The mapping "
             "stays; a read would now see zeroes.", -delta("Rss"));
}

static void explain_free(void)
{
    ROWS("Rss", "LazyFree");
    long long rss = after("Rss"), lazy = after("LazyFree");
    unsupported("free_unsupported", "MADV_FREE", "4.5");
    CONCLUDE(&n, "free_only_marks", rc == 0 && rss == d.size_kb && lazy > 0,
             VALUES(VAL("rss_kB", rss), VAL("lazyfree_kB", lazy)),
             "MADV_FREE freed nothing yet: Rss is still %lld kB. It marked the pages (LazyFree "
             "%lld of %lld kB): the kernel may take them when it needs memory, and a write before "
             "then cancels the mark.", rss, lazy, d.size_kb);
}

static void explain_free_in_cgroup(void)
{
    long long limit_kb = (long long)(d.c.limit / 1024), lazy = after("LazyFree");
    const char *usage_file = d.c.kind == CONFINE_V1 ? "memory.usage_in_bytes" : "memory.current";
    uint64_t usage = 0;
    long long usage_kb = cgroup_read(d.c.dir, usage_file, &usage) ? (long long)(usage / 1024) : -1;
    narrate_fact_int(&n, "pid", (int64_t)getpid());
    snapshot_maps_fact(&n, &d.after.entry);
    narrate_fact(&n, "cgroup", "%s", d.c.dir);
    narrate_fact_int(&n, "cgroup_limit_kB", limit_kb);
    ROWS("Size", "Rss", "LazyFree");
    CONCLUDE(&n, "marked_in_cgroup",
             rc == 0 && after("Rss") == (long long)(asize / 1024) && lazy > 0 &&
                 usage_kb >= (long long)(asize / 1024),
             VALUES(VAL("lazyfree_kB", lazy), VAL("limit_kB", limit_kb),
                    VAL("cgroup_usage_kB", usage_kb)),
             "This child (PID %ld) runs in a cgroup limited to %lld kB: it wrote %zu kB and marked "
             "them with MADV_FREE (LazyFree %lld kB). They are still resident, and still count "
             "against its limit: the cgroup's %s is %lld kB.",
             (long)getpid(), limit_kb, asize / 1024, lazy, usage_file, usage_kb);
}

static void explain_pressure(void)
{
    narrate_fact_int(&n, "pages_read_as_zero", zeros);
    ROWS("Rss", "LazyFree");
    long long gone_kb = -delta("Rss"), page_kb = (long long)(page / 1024);
    /* Pages the kernel takes while the reading loop runs were read before they went:
     * Rss may fall by more than the pages that read as zero, never by less. */
    CONCLUDE(&n, "lazyfree_taken_under_pressure", zeros > 0 && zeros * page_kb <= gone_kb,
             VALUES(VAL("rss_delta_kB", -gone_kb), VAL("pages_read_as_zero", zeros)),
             "Writing %zu kB more pushed the cgroup to its limit, and the kernel took marked "
             "pages instead of failing: Rss of the marked region fell by %lld kB, and %lld "
             "pages read back as zeroes, as MADV_FREE allows: no swap, no write-back.",
             bsize / 1024, gone_kb, (long long)zeros);
}

static void explain_populate(void)
{
    ROWS("Rss");
    unsupported("populate_unsupported", "MADV_POPULATE_WRITE", "5.14");
    CONCLUDE(&n, "populated_by_writing",
             rc != 0 && n.lesson_errno == EINVAL && after("Rss") == d.size_kb,
             VALUES(VAL("rss_kB", after("Rss")), VAL("minor_faults", delta("minor_faults"))),
             "So this program wrote every page itself instead, as before 5.14: Rss is the whole "
             "%lld kB again (%lld faults counted).", after("Rss"), delta("minor_faults"));
    char failure[120];
    errno_describe("madvise(MADV_POPULATE_WRITE)", n.lesson_errno, failure, sizeof failure);
    CONCLUDE(&n, "populate_failed", rc != 0 && n.lesson_errno != EINVAL,
             VALUES(VAL("errno", n.lesson_errno), VAL("rss_kB", after("Rss"))),
             "%s. %s %lld of %lld kB are resident.", failure,
             after("Rss") < d.size_kb ? "Only" : "Yet all", after("Rss"), d.size_kb);
    CONCLUDE(&n, "populated_without_touching", rc == 0 && after("Rss") == d.size_kb,
             VALUES(VAL("rss_kB", after("Rss")), VAL("minor_faults", delta("minor_faults"))),
             "Freed first with MADV_DONTNEED, then MADV_POPULATE_WRITE: every page is resident "
             "and writable again (Rss %lld kB), with no access by this program. The kernel "
             "faulted them in itself (%lld faults counted).", after("Rss"), delta("minor_faults"));
}

/* Why pages stay although the machine has swap: swap is full (zram may be), or memory.swap.max
 * is 0 in this process's cgroup or one above it, up to the mount (a systemd slice, a container's
 * pod: it holds for every cgroup below). Where no cgroup has the file (cgroup v1 has none, nor
 * v2's root), nothing is said of it. why: those sentences; returns whether memory.swap.max is 0. */
static bool swap_refused(long long swap_free_kb, char *why, size_t len)
{
    struct cgroup_self self;
    cgroup_self(&self);
    char dir[512] = ""; /* the cgroup read, then the nearest one with memory.swap.max 0 */
    if (!self.v1_mounted && self.v2_mount)
        snprintf(dir, sizeof dir, "%s", self.dir);
    bool seen = false, zero = false;
    while (dir[0]) {
        uint64_t swap_max;
        bool read = cgroup_read(dir, "memory.swap.max", &swap_max);
        seen = seen || read;
        zero = read && swap_max == 0;
        char *slash = strrchr(dir, '/');
        if (zero || !slash || (size_t)(slash - dir) < strlen(self.v2_mount))
            break;
        *slash = '\0'; /* the parent */
    }
    int used = snprintf(why, len, "%s", swap_free_kb == 0 ? " Swap is full (SwapFree 0 kB)." : "");
    bool own = strcmp(dir, self.dir) == 0;
    if (zero)
        snprintf(why + used, len - (size_t)used, " This process's cgroup (%s) may not swap: "
                 "memory.swap.max is 0 in %s%s.", self.dir, own ? "it" : dir,
                 own ? "" : ", which contains it");
    else if (seen)
        snprintf(why + used, len - (size_t)used, " Not because of memory.swap.max: not 0 in this "
                 "process's cgroup (%s) nor in any above it.", self.dir);
    return zero;
}

static void explain_pageout(void)
{
    long long swap_kb = procfs_read_one("/proc/meminfo", "SwapTotal");
    long long swap_free_kb = procfs_read_one("/proc/meminfo", "SwapFree");
    long long resident = snapshot_value(&d.before, "Rss");
    narrate_fact_int(&n, "swap_total_kB", swap_kb);
    narrate_fact_int(&n, "madv_cold_result", cold);
    ROWS("Rss", "Swap");
    CONCLUDE(&n, "pageout_not_all_resident", resident != d.size_kb,
             VALUES(VAL("rss_before_kB", resident), VAL("size_kB", d.size_kb)),
             "When this step began, only %lld of the %lld kB were resident: what follows is "
             "about those alone.", resident, d.size_kb);
    unsupported("pageout_unsupported", "MADV_PAGEOUT", "5.4");
    bool kept = rc == 0 && resident == d.size_kb && delta("Rss") == 0 && delta("Swap") == 0;
    CONCLUDE(&n, "pageout_without_swap_kept", kept && swap_kb == 0,
             VALUES(VAL("swap_total_kB", swap_kb), VAL("rss_delta_kB", delta("Rss"))),
             "This machine has no swap (SwapTotal 0 kB): dirty anonymous pages have nowhere to "
             "go, so MADV_COLD and MADV_PAGEOUT left all of them (Rss unchanged).");
    char why[1200];
    bool capped = swap_refused(swap_free_kb, why, sizeof why);
    CONCLUDE(&n, "pageout_kept_with_swap", kept && swap_kb > 0,
             VALUES(VAL("swap_total_kB", swap_kb), VAL("swap_free_kB", swap_free_kb),
                    VAL("cgroup_swap_max_zero", capped)),
             "This machine has swap (SwapTotal %lld kB, %lld kB free), yet MADV_PAGEOUT wrote "
             "none of these pages to it: Rss unchanged, Swap 0 kB.%s", swap_kb, swap_free_kb, why);
    CONCLUDE(&n, "pageout_to_swap", rc == 0 && delta("Swap") > 0,
             VALUES(VAL("swap_delta_kB", delta("Swap")), VAL("rss_delta_kB", delta("Rss"))),
             "MADV_PAGEOUT wrote %lld kB to swap now, not when memory runs short: Rss fell by "
             "%lld kB.", delta("Swap"), -delta("Rss"));
}

static void explain_unmap(void) { snapshot_explain_gone(&n, &d.after); }

/* The steps in the order they run; with --predict, the choice whose finding held is the answer. */
static const struct narrate_lesson freeing[] = {
    {"map", "Map private anonymous memory, with guard pages", map, explain_map, NO_QUESTION},
    {"write_every_page", "Write every page", write_every_page, explain_write_every_page,
     NO_QUESTION},
    {"dontneed", "MADV_DONTNEED", dontneed, explain_dontneed, "Rss just after MADV_DONTNEED?",
     {"unchanged", "0 kB", "somewhere between"}, {NULL, "dontneed_freed_now"}},
    {"free", "Write every page, then MADV_FREE", lazy_free, explain_free,
     "Every page written again, then MADV_FREE. Rss after?",
     {"the whole region", "0 kB", "somewhere between"}, {"free_only_marks"}},
};
static const struct narrate_lesson in_cgroup[] = {
    {"free_in_cgroup", "In a small cgroup: write, then MADV_FREE", free_in_cgroup,
     explain_free_in_cgroup, NO_QUESTION},
    {"pressure", "In the cgroup: need more memory", pressure, explain_pressure, NO_QUESTION},
};
static const struct narrate_lesson filling[] = {
    {"populate_write", "MADV_POPULATE_WRITE", populate, explain_populate, NO_QUESTION},
    {"pageout", "MADV_COLD, then MADV_PAGEOUT", pageout, explain_pageout, NO_QUESTION},
    {"unmap", "Unmap it", unmap, explain_unmap, NO_QUESTION},
};

static int run_in_cgroup(void *ctx)
{
    narrate_observe(&n, observe, ctx);
    narrate_run(&n, in_cgroup, NARRATE_COUNT(in_cgroup));
    return n.bug[0] ? EXIT_RUNTIME : EXIT_OK;
}

/* ---- Options, sizes and the machine ---- */

static const struct cli_option options[] = {
    {"size", "SIZE", "how much to map (default 4M; less if this process's memory allows less; "
                     "64K to 64M)"},
};

static struct budget budget; /* what this process may use, read by demo_start */
static const struct demo_need needs[] = {
    {NEED_MEMORY, .limit = &least, .budget = &budget}, /* four pages in a quarter */
    {0},
};

static const struct demo_info info = {
    .name = "madvise-pages",
    .needs = needs,
    .summary = "Frees, marks and fills anonymous memory with madvise, showing after each call\n"
               "what smaps says (Rss, LazyFree, Swap). MADV_FREE's pages are shown going under\n"
               "pressure in a small memory cgroup (as root).",
    DEMO_OPTIONS(options),
    .examples = "  madvise-pages              every step on 4 MiB\n"
                "  madvise-pages --step       pause before each step\n",
    .lessons = LESSONS(TABLE(freeing), TABLE(in_cgroup), TABLE(filling)),
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(uint64_t *)ctx = cli_size_arg(&info, "--size", arg, UINT64_C(64) << 10, UINT64_C(64) << 20);
}

/* The cgroup's steps, in a child in a 96 MiB cgroup of its own (root; an extra, not a need).
 * Without one they keep their numbers and say why not: step 7 is step 7 for root and student. */
static void cgroup_steps(void)
{
    const uint64_t cgroup_limit = UINT64_C(96) << 20;
    char why[512], not_run[640];
    bool fits = budget_allows(&budget, cgroup_limit, 2, why, sizeof why);
    bool own = fits && confine_setup(&d.c, info.name, cgroup_limit, why, sizeof why) == 0;
    if (own && d.c.kind != CONFINE_V1 && d.c.kind != CONFINE_V2) {
        confine_teardown(&d.c);
        own = false;
        snprintf(why, sizeof why, "only a cgroup of its own will do (as root), so that the "
                                  "pressure falls on nothing else");
    }
    snprintf(not_run, sizeof not_run, "this needs a memory cgroup of its own, limited to 96 MiB: "
             "%s%s", fits ? "" : "it does not fit: ", why);
    for (int i = 0; i < NARRATE_COUNT(in_cgroup) && !own; i++) {
        narrate_begin(&n, in_cgroup[i].id, in_cgroup[i].title);
        CONCLUDE(&n, "not_run_without_cgroup", true, VALUES(VAL("euid", geteuid())),
                 "Not run: %s.", i == 0 ? not_run : "it needs the cgroup of the step before");
        narrate_end_step(&n);
    }
    if (!own)
        return;
    int status = confine_run_child(&d.c, run_in_cgroup, &a);
    if (status < 0)
        narrate_fail_errno(&n, "fork", errno);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        narrate_finish(&n, RESULT_FAIL, "the child in the cgroup %s (status %#x)",
                       WIFSIGNALED(status) ? "was killed by a signal" : "failed", status);
    n.step += NARRATE_COUNT(in_cgroup);
    confine_teardown(&d.c);
}

int main(int argc, char **argv)
{
    uint64_t asked = 0;
    struct cli_common common;
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, on_option, &asked));
    page = (uint64_t)sysconf(_SC_PAGESIZE);
    least = 16 * page;
    demo_start(&n, &info, &common,
               NARRATE_COUNT(freeing) + NARRATE_COUNT(in_cgroup) + NARRATE_COUNT(filling));
    char why[400];
    if (budget_choose_size(&budget, asked, UINT64_C(4) << 20, page, 4, 4, &size, why, sizeof why) ==
        BUDGET_REFUSED)
        cli_usage_error(&info, "--size: more than this process may use: %s", why);
    d.size_kb = (long long)(size / 1024);
    narrate_observe(&n, observe, &p);
    char size_text[32];
    format_size(size, size_text, sizeof size_text);
    narrate_intro(&n, "madvise-pages (PID %ld): %s of private anonymous memory.", (long)getpid(),
                  size_text);
    narrate_run(&n, freeing, NARRATE_COUNT(freeing));
    cgroup_steps();
    narrate_run(&n, filling, NARRATE_COUNT(filling));
    narrate_finish(&n, RESULT_OK, "%s freed, marked and filled; every number above was measured "
                                  "in this run.", size_text);
}
