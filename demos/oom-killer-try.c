/* SPDX-License-Identifier: MIT */
/* oom-killer-try: allocate until the kernel's OOM killer steps in - inside a
 * memory-limited cgroup, never on the machine as a whole.
 *
 * The lesson is the victim's loop, allocate_until_something_gives() below:
 * take a block (malloc or mmap), write it, read it or leave it alone, and
 * again, until the loop ends, an allocation fails, or the OOM killer sends
 * SIGKILL. A supervising parent (lib/safety/oom-supervise.c) starts the victim in
 * a cgroup made by lib/safety/confine.c, watches, and says how it ended. */
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
#include "leftovers.h"
#include "machine.h"
#include "narrate.h"
#include "oom-supervise.h"
#include "procfs.h"

enum touch_mode { TOUCH_WRITE, TOUCH_READ, TOUCH_NONE };

/* What the victim's code below needs. */
struct victim {
    uint64_t count, block, every, limit;
    int adj, fd;
    enum touch_mode touch;
    bool via_mmap, confined;
    size_t page;
};

static int report(const struct victim *v, int kind, uint64_t i, int err)
{
    oom_victim_report(v->fd, kind, i, err, !v->via_mmap);
    return err;
}

/* ---- The lesson: what the victim runs ----
 * Each piece is written once: the victim runs it, and its step prints it,
 * as written, before the Enter that starts it (as LESSON does for code run
 * in place; here the code runs in another process). */
#define VICTIM_CODE(fn, ...)                        \
    static const char fn##_code[] = #__VA_ARGS__;  \
    static LESSON_FN int fn(struct victim *v) { __VA_ARGS__ }

/* Step 2: volunteer. The OOM killer picks the highest oom_score. */
VICTIM_CODE(volunteer,
    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    dprintf(fd, "%d", v->adj);
    return close(fd);
)

/* Step 3: allocate until something gives. */
VICTIM_CODE(allocate_until_something_gives,
    for (uint64_t i = 1; i <= v->count; i++) {
        char *p = v->via_mmap ? mmap(NULL, v->block, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                              : malloc(v->block);
        if (p == MAP_FAILED || p == NULL)
            return report(v, OOM_DONE, i, errno);
        if (v->touch == TOUCH_WRITE)
            memset(p, 1, v->block);
        if (v->touch == TOUCH_READ)
            for (size_t off = 0; off < v->block; off += v->page)
                FORCE_READ(p[off]);
        if (i % v->every == 0)
            report(v, OOM_PROGRESS, i, 0);
    }
    return report(v, OOM_DONE, v->count, 0);
)

/* The victim's life: confirm the limit, volunteer, wait for step 3, run
 * the loop, then hold what it has until step 4 lets it go. */
static void run_victim(void *ctx, int records, int go)
{
    struct victim *v = ctx;
    char dir[512];
    v->fd = records;
    if (!oom_victim_confined(records, v->limit, v->confined, dir, sizeof dir))
        _exit(3);
    (void)volunteer(v); /* what it did is read back: oom_score_adj in the hello */
    oom_victim_hello(records, dir);
    if (oom_victim_wait(go))
        (void)allocate_until_something_gives(v);
    (void)oom_victim_wait(go);
    _exit(0);
}

/* ---- The supervisor's steps ---- */

struct run {
    struct narrator n;
    struct victim v;
    struct confine c;
    struct oom_victim child;
    struct oom_watch w;
    uint64_t requested, timeout, kills[2], peak;
    bool unconfined, accept_host_oom, verbose, have_kills, have_peak, protected_self;
    int status, kmsg;
    char kmsg_why[256];
    int64_t before[3]; /* the victim's VmSize, VmRSS, VmPTE, read from outside */
    char **argv;
};

static const char *const status_keys[] = {"VmSize", "VmRSS", "VmPTE"};

static void observe_victim(void *ctx, bool after)
{
    struct run *r = ctx;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)r->child.pid);
    for (int i = 0; i < 3 && !after; i++)
        r->before[i] = procfs_read_one(path, status_keys[i]);
}

/* After the victim ended (step 4): what its cgroup counted. */
static void observe_cgroup(void *ctx, bool after)
{
    struct run *r = ctx;
    if (!after || !r->c.dir[0])
        return;
    r->have_kills = r->have_kills && confine_oom_kills(r->c.dir, &r->kills[1]);
    r->have_peak = confine_peak(r->c.dir, &r->peak);
}

/* Step 1 is the safety net, not the lesson: lib/safety/oom-supervise.c says what
 * setup did and which limit applies (or that there is none). */
static void step_confine(struct run *r)
{
    oom_explain_confinement(&r->n, &r->c);
}

static void step_start(struct run *r)
{
    struct narrator *n = &r->n;
    narrate_lesson_before(n, volunteer_code);
    oom_start(n, &r->child, &r->c, r->argv, run_victim, &r->v);
    bool hello = oom_wait_hello(&r->child, &r->w, 10000);
    narrate_lesson_after(n);
    if (!hello) {
        narrate_fact(n, "refused", "%s", r->w.refused ? r->w.hello.text : "no word from the victim");
        return;
    }
    const struct oom_record *h = &r->w.hello;
    narrate_fact_int(n, "victim_pid", h->pid);
    narrate_fact(n, "victim_cgroup", "%s", h->text);
    if (r->c.kind == CONFINE_SYSTEMD_SCOPE) /* systemd named it: the victim says where it is */
        snprintf(r->c.dir, sizeof r->c.dir, "%s", h->text);
    narrate_fact_int(n, "oom_score", h->oom_score);
    narrate_fact_int(n, "oom_score_adj", h->oom_score_adj);
    if (FINDING(n, "victim_volunteered", h->oom_score_adj == r->v.adj,
                VAL("oom_score_adj", h->oom_score_adj), VAL("oom_score", h->oom_score)))
        narrate_because(n, "victim_volunteered", "The victim set its oom_score_adj to %lld, so its "
                        "oom_score is %lld: when memory runs out, the OOM killer picks the highest "
                        "score.", (long long)h->oom_score_adj, (long long)h->oom_score);
    oom_explain_supervisor(n, r->protected_self, h);
}

static void step_allocate(struct run *r)
{
    struct narrator *n = &r->n;
    struct oom_watch *w = &r->w;
    narrate_observe(n, observe_victim, r);
    narrate_lesson_before(n, allocate_until_something_gives_code);
    (void)signal(SIGPIPE, SIG_IGN); /* a victim killed during the pause: EPIPE, not death */
    if (write(r->child.go, "g", 1) != 1 && errno != EPIPE)
        narrate_fail_errno(n, "write (start the victim)", errno);
    oom_watch(n, &r->child, r->timeout, r->verbose, w);
    narrate_lesson_after(n);
    narrate_observe(n, observe_cgroup, r);
    if (!w->have_last)
        return;
    const struct oom_record *last = &w->last;
    int64_t after[3] = {last->vmsize_kb, last->vmrss_kb, last->vmpte_kb};
    for (int i = 0; i < 3; i++)
        narrate_value(n, status_keys[i], "kB", r->before[i] >= 0, r->before[i], true, after[i]);
    narrate_fact_int(n, "last_iteration", (int64_t)last->iteration);
    narrate_fact_int(n, "last_report_ms", last->t_ms);
    oom_watch_facts(n, w);
    if (last->text[0])
        narrate_fact(n, "heap", "%s", last->text);
    int64_t rss = last->vmrss_kb - r->before[1], pte = last->vmpte_kb - r->before[2];
    int64_t space = last->vmsize_kb - r->before[0], limit_kb = (int64_t)(r->v.limit / 1024);
    int64_t page_kb = (int64_t)r->v.page / 1024, blocks = (int64_t)last->iteration;
    if (r->v.touch == TOUCH_WRITE && FINDING(n, "written_pages_resident", rss >= space * 3 / 4,
                                             VAL("vmrss_delta_kB", rss), VAL("vmsize_delta_kB", space)))
        narrate_because(n, "written_pages_resident", "Every page written got a frame of its own: "
                        "VmRSS grew by %lld kB with %lld kB of address space.", (long long)rss,
                        (long long)space);
    if (r->v.touch != TOUCH_WRITE && !r->v.via_mmap &&
        FINDING(n, "malloc_dirtied_a_page_per_block", rss >= blocks * page_kb * 3 / 4,
                VAL("vmrss_delta_kB", rss), VAL("blocks", blocks), VAL("page_kB", page_kb)))
        narrate_because(n, "malloc_dirtied_a_page_per_block", "VmRSS rose by %lld kB over %lld "
                        "blocks the loop never wrote: malloc writes a header in front of every "
                        "chunk it hands out, so each block dirtied at least one page.",
                        (long long)rss, (long long)blocks);
    bool stayed = rss * 8 < limit_kb, read = r->v.touch == TOUCH_READ;
    if (r->v.touch != TOUCH_WRITE && r->v.via_mmap &&
        FINDING(n, "untouched_rss_stayed", stayed, VAL("vmrss_delta_kB", rss),
                VAL("vmsize_delta_kB", space)))
        narrate_because(n, "untouched_rss_stayed", "VmSize grew by %lld kB, VmRSS by only %lld kB: "
                        "%s", (long long)space, (long long)rss, read ? "a read of a page never "
                        "written maps the shared zero page, no frame of its own." : "memory that is "
                        "never touched gets no frames.");
    if (r->v.touch != TOUCH_READ)
        return;
    /* A page-table page of 8-byte entries maps page/8 pages: with 4 KiB
     * pages, 4 KiB of table per 2 MiB (1/512). */
    int64_t page = (int64_t)r->v.page, expect = space * 8 / page;
    struct machine m;
    machine_read(&m);
    if (FINDING(n, "read_costs_page_tables", pte * 2 >= expect && pte <= 2 * expect + 8 && expect > 0,
                VAL("vmpte_delta_kB", pte), VAL("vmsize_delta_kB", space), VAL("expected_kB", expect)))
        narrate_because(n, "read_costs_page_tables", "Each page read still needs an entry in a "
                        "page table: VmPTE grew by %lld kB for %lld kB of address space (one %lld kB "
                        "page-table page per %lld kB would be %lld kB), and page tables are charged "
                        "to the cgroup too.", (long long)pte, (long long)space, (long long)page / 1024,
                        (long long)(page / 8 * page / 1024), (long long)expect);
    else if (FINDING(n, "read_few_page_tables", pte * 2 < expect, VAL("vmpte_delta_kB", pte),
                     VAL("vmsize_delta_kB", space), VAL("expected_kB", expect),
                     VAL("thp_always", strcmp(m.thp, "always") == 0)))
        narrate_because(n, "read_few_page_tables", "VmPTE grew by only %lld kB for %lld kB read, "
                        "less than half the %lld kB of one page-table page per %lld kB (THP is '%s' "
                        "here).", (long long)pte, (long long)space, (long long)expect,
                        (long long)(page / 8 * page / 1024),
                        m.thp[0] ? m.thp : "absent");
}

static void step_ending(struct run *r)
{
    struct narrator *n = &r->n;
    LESSON(n, close(r->child.go); waitpid(r->child.pid, &r->status, 0););
    confine_track_child(0);
    int sig = WIFSIGNALED(r->status) ? WTERMSIG(r->status) : 0;
    int64_t kills = r->have_kills ? (int64_t)(r->kills[1] - r->kills[0]) : -1;
    narrate_fact_int(n, "exit_status", WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1);
    narrate_fact_int(n, "signal", sig);
    if (r->have_kills)
        narrate_value(n, "oom_kill", "", true, (int64_t)r->kills[0], true, (int64_t)r->kills[1]);
    if (r->have_peak)
        narrate_fact_int(n, "peak_bytes", (int64_t)r->peak);
    struct oom_kmsg k;
    oom_kmsg_facts(n, r->kmsg, r->kmsg_why, r->child.pid, &k);
    if (FINDING(n, "oom_killed_victim", sig == SIGKILL && kills >= 1, VAL("signal", sig),
                VAL("oom_kill_delta", kills)))
        narrate_because(n, "oom_killed_victim", "The OOM killer chose the victim and killed it with "
                        "SIGKILL: the cgroup's oom_kill counter says so. SIGKILL cannot be caught, "
                        "so the program printed nothing more; a shell would show status 137 "
                        "(128 + 9).");
    /* Only the victim lives in a cgroup made here; elsewhere, the kernel's
     * lines must name the victim as often as the counter rose. */
    bool only_victim = r->c.created || k.killed_lines == kills;
    if (FINDING(n, "counted_more_than_once", sig == SIGKILL && kills > 1 && only_victim,
                VAL("oom_kill_delta", kills), VAL("kill_lines", k.killed_lines),
                VAL("cgroup_made_here", r->c.created)))
        narrate_because(n, "counted_more_than_once", "oom_kill rose by %lld for this one victim: "
                        "the OOM killer ran again while the victim was still exiting, before its "
                        "memory was freed, and counted each time%s.", (long long)kills,
                        k.repeats ? "; its kernel lines repeated word for word are shown once" : "");
    if (FINDING(n, "killed_not_by_oom", sig != 0 && kills == 0 && !r->w.timed_out,
                VAL("signal", sig), VAL("oom_kill_delta", kills)))
        narrate_because(n, "killed_not_by_oom", "The victim died of signal %d, but the cgroup "
                        "counted no OOM kill: something else sent it.", sig);
    if (FINDING(n, "timed_out", r->w.timed_out, VAL("timeout_s", r->timeout)))
        narrate_because(n, "timed_out", "The victim was still allocating after %llu s (--timeout); "
                        "the supervisor killed it.", (unsigned long long)r->timeout);
    const struct oom_record *last = &r->w.last;
    bool done = r->w.done && sig == 0;
    if (FINDING(n, "allocation_failed", done && last->err != 0, VAL("errno", last->err),
                VAL("iteration", last->iteration))) {
        char name[32];
        narrate_because(n, "allocation_failed", "An allocation itself failed at iteration %llu "
                        "(%s): the address space or the commit limit ran out before the memory did.",
                        (unsigned long long)last->iteration, errno_name(last->err, name, sizeof name));
    }
    if (FINDING(n, "loop_finished", done && last->err == 0, VAL("iterations", last->iteration),
                VAL("vmrss_kB", last->vmrss_kb), VAL("limit_bytes", r->v.limit)))
        narrate_because(n, "loop_finished", "The loop finished all %llu iterations with %lld kB "
                        "resident under a limit of %llu bytes: nothing ran out.",
                        (unsigned long long)last->iteration, (long long)last->vmrss_kb,
                        (unsigned long long)r->v.limit);
    if (r->have_peak && FINDING(n, "peak_within_limit", r->peak <= r->v.limit,
                                VAL("peak_bytes", r->peak), VAL("limit_bytes", r->v.limit)))
        narrate_because(n, "peak_within_limit", "The cgroup's peak usage, %llu bytes, stayed "
                        "within the limit.", (unsigned long long)r->peak);
}

/* The lesson's steps, in order; --unconfined replaces the first. */
struct step {
    const char *id, *title;
    void (*fn)(struct run *r);
};
static const struct step steps[] = {
    {"confine", "Confine the victim in a memory-limited cgroup", step_confine},
    {"start_victim", "Start the victim: it volunteers for the OOM killer", step_start},
    {"allocate", "Allocate until something gives", step_allocate},
    {"ending", "How it ended", step_ending},
};
static const struct step no_cgroup = {"no_cgroup", "No cgroup (--unconfined)", step_confine};

/* ---- Options, then the run ---- */

enum { OPT_LIMIT, OPT_BLOCK, OPT_TOUCH, OPT_VIA, OPT_ADJ, OPT_TIMEOUT, OPT_UNCONFINED, OPT_YES };
static const struct cli_option options[] = {
    [OPT_LIMIT] = {"limit", "SIZE", "the cgroup's memory limit (default 64M; 16M to 1G)"},
    [OPT_BLOCK] = {"block", "SIZE", "bytes per allocation (default 8K, as the original; 4K to 64M)"},
    [OPT_TOUCH] = {"touch", "HOW", "what to do with each block: write (default), read or none"},
    [OPT_VIA] = {"via", "CALL", "how to allocate: malloc (default) or mmap"},
    [OPT_ADJ] = {"oom-score-adj", "N", "the victim's oom_score_adj, 0 to 1000 (default 1000)"},
    [OPT_TIMEOUT] = {"timeout", "SECONDS", "stop the victim after this long (default 60; 1 to 600)"},
    [OPT_UNCONFINED] = {"unconfined", NULL, "no cgroup: for a disposable VM only; needs --i-accept-host-oom"},
    [OPT_YES] = {"i-accept-host-oom", NULL, "confirms --unconfined: the whole machine may run out of memory"},
};
static const struct demo_info info = {
    .name = "oom-killer-try",
    .args = "[COUNT [FORCE-PAGE-FAULT 0|1 [VERBOSE 0|1]]]",
    .summary =
        "Allocates block by block until something gives: the loop ends, an allocation\n"
        "fails, or the OOM killer kills it - inside a memory-limited cgroup, so only the\n"
        "limit can run out, never the machine. Then: how it ended, what the cgroup\n"
        "counted, what the kernel logged. The original's arguments still work: COUNT\n"
        "allocations, FORCE-PAGE-FAULT 1 writes each block (0: not), VERBOSE 1 progress.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  sudo oom-killer-try                      write until killed, in 64 MiB\n"
                "  sudo oom-killer-try 100000 0             malloc without touching\n"
                "  sudo oom-killer-try --via mmap --touch none\n"
                "  sudo oom-killer-try --via mmap --touch read --block 2M\n",
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    struct run *r = ctx;
    static const char *const touches[] = {"write", "read", "none"};
    char quoted[64];
    switch (index) {
    case OPT_LIMIT: r->requested = cli_size_arg(&info, "--limit", arg, 16u << 20, 1u << 30); break;
    case OPT_BLOCK: r->v.block = cli_size_arg(&info, "--block", arg, 4096, 64u << 20); break;
    case OPT_ADJ: r->v.adj = (int)cli_count_arg(&info, "--oom-score-adj", arg, 0, 1000); break;
    case OPT_TIMEOUT: r->timeout = cli_count_arg(&info, "--timeout", arg, 1, 600); break;
    case OPT_UNCONFINED: r->unconfined = true; break;
    case OPT_YES: r->accept_host_oom = true; break;
    case OPT_TOUCH:
        for (int t = 0; t <= TOUCH_NONE; t++)
            if (strcmp(arg, touches[t]) == 0) {
                r->v.touch = (enum touch_mode)t;
                return;
            }
        cli_quote(arg, quoted, sizeof quoted);
        cli_usage_error(&info, "--touch: '%s' is not write, read or none", quoted);
    case OPT_VIA:
        if (strcmp(arg, "malloc") != 0 && strcmp(arg, "mmap") != 0) {
            cli_quote(arg, quoted, sizeof quoted);
            cli_usage_error(&info, "--via: '%s' is not malloc or mmap", quoted);
        }
        r->v.via_mmap = strcmp(arg, "mmap") == 0;
        break;
    }
}

/* Options and the original's COUNT [FORCE-PAGE-FAULT [VERBOSE]]; argv[0]
 * is this program (or, in a systemd scope, the victim's first argument). */
static void parse(struct run *r, int argc, char **argv, struct cli_common *common)
{
    *r = (struct run){.requested = 64u << 20, .timeout = 60, .verbose = true, .argv = argv,
                      .v = {.block = 8192, .adj = 1000, .confined = true, .touch = TOUCH_WRITE}};
    int first = cli_parse(argc, argv, &info, common, on_option, r);
    int npos = argc - first;
    if (npos > 3)
        cli_usage_error(&info, "too many arguments: COUNT [FORCE-PAGE-FAULT [VERBOSE]]");
    if (npos >= 1)
        r->v.count = cli_count_arg(&info, "COUNT", argv[first], 1, 100000000);
    for (int i = 1; i < npos; i++)
        if (strcmp(argv[first + i], "0") != 0 && strcmp(argv[first + i], "1") != 0)
            cli_usage_error(&info, "%s must be 0 or 1", i == 1 ? "FORCE-PAGE-FAULT" : "VERBOSE");
    if (npos >= 2)
        r->v.touch = argv[first + 1][0] == '1' ? TOUCH_WRITE : TOUCH_NONE;
    if (npos >= 3)
        r->verbose = argv[first + 2][0] == '1';
    r->v.confined = !r->unconfined;
    if (r->unconfined != r->accept_host_oom)
        cli_usage_error(&info, "--unconfined and --i-accept-host-oom go together: the first alone "
                               "could take this machine down");
    r->v.page = (size_t)sysconf(_SC_PAGESIZE);
}

/* The limit the victim must confirm, and a count that overruns it 8 times. */
static void size_the_loop(struct run *r, bool count_given)
{
    r->v.limit = r->c.effective.bytes < r->c.limit ? r->c.effective.bytes : r->c.limit;
    if (r->unconfined || r->c.kind == CONFINE_SYSTEMD_SCOPE)
        r->v.limit = r->requested;
    if (!count_given)
        r->v.count = 8 * r->v.limit / r->v.block;
    r->v.every = r->v.limit / r->v.block / 16 ? r->v.limit / r->v.block / 16 : 1;
}

int main(int argc, char **argv)
{
    static struct run r;
    struct cli_common common;
    /* Re-run inside a systemd scope as "--vmlab-victim FD GOFD options...". */
    bool as_victim = argc > 3 && strcmp(argv[1], "--vmlab-victim") == 0;
    int records = as_victim ? (int)strtol(argv[2], NULL, 10) : -1;
    int go = as_victim ? (int)strtol(argv[3], NULL, 10) : -1;
    if (as_victim)
        argv[3] = argv[0];
    parse(&r, as_victim ? argc - 3 : argc, as_victim ? argv + 3 : argv, &common);
    bool count_given = r.v.count != 0;
    if (as_victim) {
        if (records < 3 || go < 3)
            return EXIT_USAGE; /* only this program writes this command line */
        r.c.limit = r.c.effective.bytes = r.requested;
        size_the_loop(&r, count_given);
        run_victim(&r.v, records, go);
    }
    if (!r.unconfined) /* a limit near all the memory there is would confine nothing */
        cli_check_fits(&info, "--limit", r.requested, 2);
    narrate_init(&r.n, info.name, &common, (int)(sizeof steps / sizeof steps[0]));
    leftovers_repair(info.name);

    oom_refuse_if_panics(&r.n, r.unconfined);
    char why[1024];
    if (!r.unconfined && confine_setup(&r.c, info.name, r.requested, why, sizeof why) != 0)
        narrate_finish(&r.n, RESULT_SKIP, "cannot confine the victim: %s", why);
    size_the_loop(&r, count_given);
    r.have_kills = r.c.dir[0] && confine_oom_kills(r.c.dir, &r.kills[0]);
    r.kmsg = oom_kmsg_open(r.kmsg_why, sizeof r.kmsg_why); /* from now on */
    r.protected_self = oom_protect_self(); /* survive whatever happens to the victim */

    oom_intro(&r.n, r.v.count, r.v.block, r.v.via_mmap ? "mmap" : "malloc",
              r.v.touch == TOUCH_WRITE ? "write" : r.v.touch == TOUCH_READ ? "read" : "none",
              r.unconfined);

    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const struct step *step = i == 0 && r.unconfined ? &no_cgroup : &steps[i];
        narrate_begin(&r.n, step->id, step->title);
        step->fn(&r);
        narrate_end_step(&r.n);
        if (r.w.refused || (i == 1 && !r.w.have_hello))
            break;
    }
    oom_finish(&r.n, &r.c, &r.w, r.child.pid, r.status);
}
