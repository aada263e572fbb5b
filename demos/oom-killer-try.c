/* SPDX-License-Identifier: MIT */
/* oom-killer-try: allocate until the OOM killer steps in (demo_info's summary says how). The
 * lesson is the victim's loop, allocate_until_something_gives() below; the supervisor
 * (lib/safety/oom-supervise.c) confines it, watches, and says how it ended. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "confine.h"
#include "errors.h"
#include "lesson-code.h"
#include "machine.h"
#include "narrate.h"
#include "needs.h"
#include "oom-supervise.h"
#include "procfs.h"

enum touch_mode { TOUCH_WRITE, TOUCH_READ, TOUCH_NONE };

/* What the victim's code below needs (set from the options). */
static struct {
    uint64_t count, block, every, limit;
    int adj, fd;
    enum touch_mode touch;
    bool via_mmap, confined;
    size_t page;
} v = {.block = 8192, .adj = 1000, .touch = TOUCH_WRITE, .confined = true};

static int report(int kind, uint64_t i, int err)
{
    oom_victim_report(v.fd, kind, i, err, !v.via_mmap);
    return err;
}

/* ---- The lesson: what the victim runs ----
 * Written once (LESSON_CODE): the victim runs it and its step prints it, as written. */

/* Step 2: volunteer. The OOM killer picks the highest oom_score. */
LESSON_CODE(int, volunteer,
    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    dprintf(fd, "%d", v.adj);
    return close(fd);
)

LESSON_CODE(int, allocate_until_something_gives,
    for (uint64_t i = 1; i <= v.count; i++) {
        char *p = v.via_mmap ? mmap(NULL, v.block, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                             : malloc(v.block);
        if (p == MAP_FAILED || p == NULL)
            return report(OOM_DONE, i, errno);
        if (v.touch == TOUCH_WRITE)
            memset(p, 1, v.block);
        if (v.touch == TOUCH_READ)
            for (size_t off = 0; off < v.block; off += v.page)
                FORCE_READ(p[off]);
        if (i % v.every == 0)
            report(OOM_PROGRESS, i, 0);
    }
    return report(OOM_DONE, v.count, 0);
)

/* The victim's life: confirm the limit, volunteer, wait for step 3, loop, hold until step 4. */
static void run_victim(int records, int go)
{
    char dir[512];
    v.fd = records;
    if (!oom_victim_confined(records, v.limit, v.confined, dir, sizeof dir))
        _exit(3);
    (void)volunteer(); /* what it did is read back: oom_score_adj in the hello */
    oom_victim_hello(records, dir);
    if (oom_victim_wait(go))
        (void)allocate_until_something_gives();
    (void)oom_victim_wait(go);
    _exit(0);
}

/* ---- The supervisor's steps ---- */

static struct narrator n;
static struct confine c;
static struct oom_victim child;
static struct oom_watch w;
static uint64_t requested = 64u << 20, timeout = 60, kills[2], peak;
static bool accept_host_oom, verbose = true, have_kills, have_peak, protected_self;
static int status, kmsg;
static char kmsg_why[256], **args;
static const char *limit_arg; /* --limit as given, or NULL */
static int64_t before[3]; /* the victim's VmSize, VmRSS, VmPTE, read from outside */
static const char *const status_keys[] = {"VmSize", "VmRSS", "VmPTE"};

/* Step 1 is the safety net, not the lesson: what setup did, which limit applies. */
static void confine_victim(void)
{
    oom_explain_confinement(&n, &c);
    CONCLUDE(&n, "limit_option_not_applied", limit_arg && c.kind == CONFINE_INHERITED,
             VALUES(VAL("requested_bytes", requested), VAL("limit_bytes", c.effective.bytes)),
             "--limit %s was not applied: it is for a cgroup this run makes.", limit_arg);
}

static void start_victim(void)
{
    narrate_lesson_before(&n, volunteer_code);
    oom_start(&n, &child, &c, args, run_victim);
    (void)oom_wait_hello(&child, &w, 10000);
    narrate_lesson_after(&n);
}

static void explain_start(void)
{
    if (!w.have_hello) {
        narrate_fact(&n, "refused", "%s", w.refused ? w.hello.text : "no word from the victim");
        return;
    }
    const struct oom_record *h = &w.hello;
    narrate_fact_int(&n, "victim_pid", h->pid);
    narrate_fact(&n, "victim_cgroup", "%s", h->text);
    if (c.kind == CONFINE_SYSTEMD_SCOPE) /* systemd named it: the victim says where it is */
        snprintf(c.dir, sizeof c.dir, "%s", h->text);
    narrate_fact_int(&n, "oom_score", h->oom_score);
    narrate_fact_int(&n, "oom_score_adj", h->oom_score_adj);
    CONCLUDE(&n, "victim_volunteered", h->oom_score_adj == v.adj,
             VALUES(VAL("oom_score_adj", h->oom_score_adj), VAL("oom_score", h->oom_score)),
             "The victim set its oom_score_adj to %lld, so its oom_score is %lld: the OOM killer "
             "picks the highest score.", (long long)h->oom_score_adj, (long long)h->oom_score);
    oom_explain_supervisor(&n, protected_self, h);
}

static void allocate(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)child.pid);
    narrate_lesson_before(&n, allocate_until_something_gives_code);
    for (int i = 0; i < 3; i++) /* from outside, just before the victim starts */
        before[i] = procfs_read_one(path, status_keys[i]);
    oom_watch(&n, &child, timeout, verbose, &w);
    narrate_lesson_after(&n);
}

static void explain_allocate(void)
{
    if (!w.have_last)
        return;
    const struct oom_record *last = &w.last;
    int64_t after[3] = {last->vmsize_kb, last->vmrss_kb, last->vmpte_kb};
    for (int i = 0; i < 3; i++)
        narrate_value(&n, status_keys[i], "kB", before[i] >= 0, before[i], true, after[i]);
    narrate_fact_int(&n, "last_iteration", (int64_t)last->iteration);
    narrate_fact_int(&n, "last_report_ms", last->t_ms);
    oom_watch_facts(&n, &w);
    if (last->text[0])
        narrate_fact(&n, "heap", "%s", last->text);
    long long space = after[0] - before[0], rss = after[1] - before[1], pte = after[2] - before[2];
    long long page = (long long)v.page, page_kb = page / 1024, blocks = (long long)last->iteration;
    if (v.touch == TOUCH_WRITE)
        CONCLUDE(&n, "written_pages_resident", rss >= space * 3 / 4,
                 VALUES(VAL("vmrss_delta_kB", rss), VAL("vmsize_delta_kB", space)),
                 "Every page written got a frame of its own: VmRSS grew by %lld kB with %lld kB "
                 "of address space.", rss, space);
    else if (!v.via_mmap)
        CONCLUDE(&n, "malloc_dirtied_a_page_per_block", rss >= blocks * page_kb * 3 / 4,
                 VALUES(VAL("vmrss_delta_kB", rss), VAL("blocks", blocks), VAL("page_kB", page_kb)),
                 "VmRSS rose by %lld kB over %lld blocks the loop never wrote: malloc writes a "
                 "header before every chunk, so each block dirtied at least a page.", rss, blocks);
    else
        CONCLUDE(&n, "untouched_rss_stayed", rss * 8 < (long long)(v.limit / 1024),
                 VALUES(VAL("vmrss_delta_kB", rss), VAL("vmsize_delta_kB", space)),
                 "VmSize grew by %lld kB, VmRSS by only %lld kB: %s", space, rss,
                 v.touch == TOUCH_READ ? "a read of a page never written maps the shared zero "
                 "page, no frame of its own." : "untouched memory gets no frames.");
    if (v.touch != TOUCH_READ)
        return;
    /* A page-table page of 8-byte entries maps page/8 pages (4 KiB pages: 4 KiB per 2 MiB). */
    long long maps_kb = page / 8 * page / 1024, expect = space * 8 / page;
    struct machine m;
    machine_read(&m);
    if (!CONCLUDE(&n, "read_costs_page_tables",
                  pte * 2 >= expect && pte <= 2 * expect + 8 && expect > 0,
                  VALUES(VAL("vmpte_delta_kB", pte), VAL("vmsize_delta_kB", space),
                         VAL("expected_kB", expect)),
                  "Each page read still needs a page-table entry: VmPTE grew by %lld kB for %lld "
                  "kB (one %lld kB table page per %lld kB: %lld kB), and page tables are charged "
                  "to the cgroup too.", pte, space, page_kb, maps_kb, expect))
        CONCLUDE(&n, "read_few_page_tables", pte * 2 < expect,
                 VALUES(VAL("vmpte_delta_kB", pte), VAL("vmsize_delta_kB", space),
                        VAL("expected_kB", expect), VAL("thp_always", !strcmp(m.thp, "always"))),
                 "VmPTE grew by only %lld kB for %lld kB read, under half the %lld kB of one "
                 "table page per %lld kB (THP is '%s' here).", pte, space, expect, maps_kb,
                 m.thp[0] ? m.thp : "absent");
}

static void end_victim(void)
{
    LESSON(&n, close(child.go); waitpid(child.pid, &status, 0););
    confine_track_child(0);
    have_kills = have_kills && oom_kill_count(&c, &kills[1]);
    have_peak = c.dir[0] && confine_peak(c.dir, &peak);
}

static void explain_ending(void)
{
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    long long killed = have_kills ? (long long)(kills[1] - kills[0]) : -1;
    narrate_fact_int(&n, "exit_status", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    narrate_fact_int(&n, "signal", sig);
    if (have_kills)
        narrate_value(&n, "oom_kill", "", true, (int64_t)kills[0], true, (int64_t)kills[1]);
    if (have_peak)
        narrate_fact_int(&n, "peak_bytes", (int64_t)peak);
    struct oom_kmsg k;
    oom_kmsg_facts(&n, kmsg, kmsg_why, child.pid, &k);
    /* A machine-wide counter names no victim: there the kernel's own line must. */
    bool oom_kill = sig == SIGKILL && killed >= 1 && !w.timed_out;
    bool named = v.confined || k.killed_lines >= 1;
    if (!CONCLUDE(&n, "oom_killed_victim", oom_kill && named,
                  VALUES(VAL("signal", sig), VAL("oom_kill_delta", killed),
                         VAL("system_wide", !v.confined), VAL("kill_lines", k.killed_lines)),
                  "The OOM killer killed the victim (%s%s) with SIGKILL, which cannot be caught: "
                  "no last word; a shell shows status 137 (128 + 9).", oom_kill_counter(&c),
                  v.confined ? " says so" : " rose, and the kernel's line names it"))
        CONCLUDE(&n, "oom_kill_not_named", oom_kill && !named,
                 VALUES(VAL("oom_kill_delta", killed), VAL("kill_lines", k.killed_lines)),
                 "The victim died of SIGKILL and /proc/vmstat's oom_kill rose by %lld, but that "
                 "counter is the whole machine's and no kernel line read here names the victim: "
                 "an OOM kill is likely, not shown.", killed);
    /* In a cgroup made here only the victim lives; elsewhere each rise needs a line naming it. */
    bool only_victim = c.created || k.killed_lines == killed;
    CONCLUDE(&n, "counted_more_than_once", sig == SIGKILL && killed > 1 && only_victim,
             VALUES(VAL("oom_kill_delta", killed), VAL("kill_lines", k.killed_lines),
                    VAL("cgroup_made_here", c.created)),
             "oom_kill rose by %lld for this one victim: the OOM killer ran again while it was "
             "still exiting, before its memory was freed, and counted each time%s.",
             killed, k.repeats ? "; kernel lines repeated word for word are shown once" : "");
    CONCLUDE(&n, "killed_not_by_oom", sig != 0 && killed == 0 && !w.timed_out,
             VALUES(VAL("signal", sig), VAL("oom_kill_delta", killed)),
             "The victim died of signal %d, but %s did not move: something else sent it.", sig,
             oom_kill_counter(&c));
    CONCLUDE(&n, "timed_out", w.timed_out, VALUES(VAL("timeout_s", timeout)),
             "The victim was still allocating after %llu s (--timeout); the supervisor killed it.",
             (unsigned long long)timeout);
    const struct oom_record *last = &w.last;
    bool done = w.done && sig == 0;
    char name[32];
    CONCLUDE(&n, "allocation_failed", done && last->err != 0,
             VALUES(VAL("errno", last->err), VAL("iteration", last->iteration)),
             "An allocation itself failed at iteration %llu (%s): the address space or the "
             "commit limit ran out before the memory did.", (unsigned long long)last->iteration,
             errno_name(last->err, name, sizeof name));
    CONCLUDE(&n, "loop_finished", done && last->err == 0,
             VALUES(VAL("iterations", last->iteration), VAL("vmrss_kB", last->vmrss_kb),
                    VAL("limit_bytes", v.limit)),
             "The loop finished all %llu iterations (%lld kB resident, limit %llu bytes): nothing "
             "ran out.", (unsigned long long)last->iteration, (long long)last->vmrss_kb,
             (unsigned long long)v.limit);
    if (have_peak)
        CONCLUDE(&n, "peak_within_limit", peak <= v.limit,
                 VALUES(VAL("peak_bytes", peak), VAL("limit_bytes", v.limit)),
                 "The cgroup peaked at %llu bytes, within the limit.", (unsigned long long)peak);
}

/* The lesson's steps, in order; --unconfined replaces the first. */
static const struct narrate_lesson steps[] = {
    {"confine", "Confine the victim in a memory-limited cgroup", confine_victim, NULL, NO_QUESTION},
    {"start_victim", "Start the victim: it volunteers for the OOM killer", start_victim,
     explain_start, NO_QUESTION},
    {"allocate", "Allocate until something gives", allocate, explain_allocate, NO_QUESTION},
    {"ending", "How it ended", end_victim, explain_ending, NO_QUESTION},
};
static const struct narrate_lesson no_cgroup = {"no_cgroup", "No cgroup (--unconfined)",
                                                confine_victim, NULL, NO_QUESTION};

/* ---- Options, then the run ---- */

enum { OPT_LIMIT, OPT_BLOCK, OPT_TOUCH, OPT_VIA, OPT_ADJ, OPT_TIMEOUT, OPT_UNCONFINED, OPT_YES };
static const struct cli_option options[] = {
    [OPT_LIMIT] = {"limit", "SIZE", "the limit of the cgroup it makes (default 64M; 16M to 1G)"},
    [OPT_BLOCK] = {"block", "SIZE", "bytes per allocation (default 8K, as the original; 4K to 64M)"},
    [OPT_TOUCH] = {"touch", "HOW", "what to do with each block: write (default), read or none"},
    [OPT_VIA] = {"via", "CALL", "how to allocate: malloc (default) or mmap"},
    [OPT_ADJ] = {"oom-score-adj", "N", "the victim's oom_score_adj, 0 to 1000 (default 1000)"},
    [OPT_TIMEOUT] = {"timeout", "SECONDS", "stop the victim after this long (default 60; 1 to 600)"},
    [OPT_UNCONFINED] = {"unconfined", NULL, "no cgroup: for a disposable VM only; needs --i-accept-host-oom"},
    [OPT_YES] = {"i-accept-host-oom", NULL, "confirms --unconfined: the whole machine may run out of memory"},
};
/* The victim in a memory cgroup of --limit bytes (not with --unconfined), and an OOM that
 * kills one process, never panics the machine. The library checks, creates, removes. */
static const struct demo_need needs[] = {
    {NEED_MEMORY_CGROUP, "the victim", .when = &v.confined, .limit = &requested, .cgroup = &c},
    {.kind = NEED_OOM_KILLS_ONE},
    {0},
};

static const struct demo_info info = {
    .name = "oom-killer-try",
    .args = "[COUNT [FORCE-PAGE-FAULT 0|1 [VERBOSE 0|1]]]",
    .summary = "Allocates block by block until something gives: the loop ends, an allocation\n"
               "fails, or the OOM killer kills it - inside a memory-limited cgroup, so only the\n"
               "limit can run out, never the machine. Then: how it ended, what the cgroup\n"
               "counted, what the kernel logged. The original's arguments still work: COUNT\n"
               "allocations, FORCE-PAGE-FAULT 1 writes each block (0: not), VERBOSE 1 progress.",
    DEMO_OPTIONS(options),
    .examples = "  sudo oom-killer-try                      write until killed, in 64 MiB\n"
                "  sudo oom-killer-try 100000 0             malloc without touching\n"
                "  sudo oom-killer-try --via mmap --touch none\n"
                "  sudo oom-killer-try --via mmap --touch read --block 2M\n",
    .needs = needs,
    .draws = DRAWS_GROWTH,
};

static const char *const touches[] = {"write", "read", "none", NULL};
static const char *const vias[] = {"malloc", "mmap", NULL};

/* Which of names arg is, or a usage error that lists them. */
static int choice(const char *option, const char *arg, const char *const names[], const char *list)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(arg, names[i]) == 0)
            return i;
    char quoted[64];
    cli_quote(arg, quoted, sizeof quoted);
    cli_usage_error(&info, "%s: '%s' is not %s", option, quoted, list);
}

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)ctx;
    switch (index) {
    case OPT_LIMIT: limit_arg = arg; break;
    case OPT_BLOCK: v.block = cli_size_arg(&info, "--block", arg, 4096, 64u << 20); break;
    case OPT_ADJ: v.adj = (int)cli_count_arg(&info, "--oom-score-adj", arg, 0, 1000); break;
    case OPT_TIMEOUT: timeout = cli_count_arg(&info, "--timeout", arg, 1, 600); break;
    case OPT_UNCONFINED: v.confined = false; break;
    case OPT_YES: accept_host_oom = true; break;
    case OPT_TOUCH: v.touch = choice("--touch", arg, touches, "write, read or none"); break;
    case OPT_VIA: v.via_mmap = choice("--via", arg, vias, "malloc or mmap") == 1; break;
    }
}

/* The limit the victim must confirm, and (without COUNT) a count that overruns it 8 times. */
static void size_the_loop(void)
{
    v.limit = c.effective.bytes < c.limit ? c.effective.bytes : c.limit;
    if (!v.confined || c.kind == CONFINE_SYSTEMD_SCOPE)
        v.limit = requested;
    if (v.count == 0)
        v.count = 8 * v.limit / v.block;
    v.every = v.limit / v.block / 16 ? v.limit / v.block / 16 : 1;
}

int main(int argc, char **argv)
{
    int records, go; /* the victim's pipes, where oom_start re-ran this program in a scope */
    bool as_victim = oom_victim_args(&info, &argc, &argv, &records, &go);
    struct cli_common common;
    args = argv; /* a victim in a systemd scope is started with them */
    int first = cli_parse(argc, argv, &info, &common, on_option, NULL);
    if (limit_arg)
        requested = cli_size_arg(&info, "--limit", limit_arg, 16u << 20, 1u << 30);
    int npos = argc - first;
    if (npos > 3)
        cli_usage_error(&info, "too many arguments: COUNT [FORCE-PAGE-FAULT [VERBOSE]]");
    if (npos >= 1)
        v.count = cli_count_arg(&info, "COUNT", argv[first], 1, 100000000);
    if (npos >= 2)
        v.touch = cli_count_arg(&info, "FORCE-PAGE-FAULT", argv[first + 1], 0, 1) ? TOUCH_WRITE
                                                                                  : TOUCH_NONE;
    if (npos >= 3)
        verbose = cli_count_arg(&info, "VERBOSE", argv[first + 2], 0, 1);
    if (v.confined == accept_host_oom)
        cli_usage_error(&info, "--unconfined and --i-accept-host-oom go together: the first alone "
                               "could take this machine down");
    v.page = (size_t)sysconf(_SC_PAGESIZE);
    if (as_victim) {
        c.limit = c.effective.bytes = requested;
        size_the_loop();
        run_victim(records, go);
    }
    if (v.confined) /* a limit near all the memory there is would confine nothing */
        cli_check_fits(&info, "--limit", requested, 2);
    demo_start(&n, &info, &common, NARRATE_COUNT(steps));
    size_the_loop();
    have_kills = oom_kill_count(&c, &kills[0]);
    kmsg = oom_kmsg_open(kmsg_why, sizeof kmsg_why); /* from now on */
    protected_self = oom_protect_self(); /* survive whatever happens to the victim */

    oom_intro(&n, v.count, v.block, vias[v.via_mmap], touches[v.touch], !v.confined);
    narrate_run(&n, v.confined ? &steps[0] : &no_cgroup, 1);
    narrate_run(&n, &steps[1], 1);
    if (w.have_hello) /* else it refused, or never said a word */
        narrate_run(&n, &steps[2], NARRATE_COUNT(steps) - 2);
    oom_finish(&n, &c, &w, child.pid, status);
}
