/* oom-killer-try: allocate until the kernel's OOM killer steps in - inside a
 * memory-limited cgroup, never on the machine as a whole. A supervising
 * parent sets up the cgroup, starts the victim, watches its progress through
 * a pipe, and afterwards says how it ended, what the cgroup counted and what
 * the kernel wrote in its log about it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "leftovers.h"
#include "confine.h"
#include "errors.h"
#include "narrate.h"
#include "procfs.h"
#include "touch.h"

enum { OPT_LIMIT, OPT_BLOCK, OPT_TOUCH, OPT_VIA, OPT_ADJ, OPT_TIMEOUT, OPT_UNCONFINED, OPT_YES };
enum touch_mode { TOUCH_WRITE, TOUCH_READ, TOUCH_NONE };

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
        "Allocates memory block by block until something gives: the loop ends, an\n"
        "allocation fails, or the kernel's OOM killer kills the process. The victim\n"
        "runs in a cgroup with a memory limit (64M by default), so only the limit can\n"
        "run out, never the machine. Then it says how the victim ended (SIGKILL is\n"
        "status 137 in a shell), what the cgroup counted (oom_kill, peak usage), and\n"
        "the kernel's own report of the kill from /dev/kmsg.\n"
        "The original exercise's arguments still work: COUNT allocations,\n"
        "FORCE-PAGE-FAULT 1 to write each block (0: do not touch it), VERBOSE 1 to\n"
        "print progress.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  sudo oom-killer-try                      write until killed, in 64 MiB\n"
                "  sudo oom-killer-try 100000 0             malloc without touching\n"
                "  sudo oom-killer-try --via mmap --touch none\n"
                "  sudo oom-killer-try --via mmap --touch read --block 2M\n",
};

struct settings {
    uint64_t limit, block, count, adj, timeout;
    enum touch_mode touch;
    bool via_mmap, verbose, unconfined, yes, count_given;
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    struct settings *s = ctx;
    char quoted[64];
    switch (index) {
    case OPT_LIMIT: s->limit = cli_size_arg(&info, "--limit", arg, 16u << 20, 1u << 30); break;
    case OPT_BLOCK: s->block = cli_size_arg(&info, "--block", arg, 4096, 64u << 20); break;
    case OPT_ADJ: s->adj = cli_count_arg(&info, "--oom-score-adj", arg, 0, 1000); break;
    case OPT_TIMEOUT: s->timeout = cli_count_arg(&info, "--timeout", arg, 1, 600); break;
    case OPT_UNCONFINED: s->unconfined = true; break;
    case OPT_YES: s->yes = true; break;
    case OPT_TOUCH:
        if (strcmp(arg, "write") == 0) s->touch = TOUCH_WRITE;
        else if (strcmp(arg, "read") == 0) s->touch = TOUCH_READ;
        else if (strcmp(arg, "none") == 0) s->touch = TOUCH_NONE;
        else {
            cli_quote(arg, quoted, sizeof quoted);
            cli_usage_error(&info, "--touch: '%s' is not write, read or none", quoted);
        }
        break;
    case OPT_VIA:
        if (strcmp(arg, "malloc") == 0) s->via_mmap = false;
        else if (strcmp(arg, "mmap") == 0) s->via_mmap = true;
        else {
            cli_quote(arg, quoted, sizeof quoted);
            cli_usage_error(&info, "--via: '%s' is not malloc or mmap", quoted);
        }
        break;
    }
}

/* ---- the victim ---- */

enum record_kind { REC_HELLO, REC_PROGRESS, REC_DONE, REC_REFUSED };

/* One message from the victim: smaller than PIPE_BUF, so each write is
 * atomic, and every record written before a SIGKILL can still be read. */
struct record {
    int kind;
    int err;                     /* REC_DONE: errno of the failed allocation, or 0 */
    long pid;
    int64_t oom_score, oom_score_adj;
    uint64_t iteration;
    uint64_t vmsize_kb, vmrss_kb, vmpte_kb;
    char text[600];              /* REC_HELLO: cgroup dir; REC_PROGRESS: [heap] line; REFUSED: why */
};

static void send_record(int fd, struct record *r)
{
    ssize_t n = write(fd, r, sizeof *r);
    (void)n; /* the parent reads what arrives; nothing to do if it went away */
}

/* A signed number file such as oom_score_adj; -1 when unreadable. */
static int64_t read_proc_number(const char *path)
{
    FILE *f = fopen(path, "re");
    long long v = -1;
    if (f) {
        char text[32];
        if (fgets(text, sizeof text, f)) {
            char *end;
            errno = 0;
            long long x = strtoll(text, &end, 10);
            if (errno == 0 && end != text && (*end == '\n' || *end == '\0'))
                v = x;
        }
        (void)fclose(f); /* read-only: nothing to lose */
    }
    return v;
}

/* The [heap] of /proc/self/maps, read directly (the original exercise ran
 * "cat | awk"). After fork() the inherited part of the heap cannot merge
 * with what brk adds later, so the heap may be several lines: report the
 * whole range and how many mappings it took. */
static void heap_line(char *out, size_t len)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[512];
    unsigned long start = 0, end = 0, lo, hi;
    int parts = 0;
    out[0] = '\0';
    while (f && fgets(line, sizeof line, f)) {
        char *rest;
        if (!strstr(line, "[heap]"))
            continue;
        lo = strtoul(line, &rest, 16);
        if (*rest != '-')
            continue;
        hi = strtoul(rest + 1, &rest, 16);
        if (*rest != ' ')
            continue;
        if (parts++ == 0)
            start = lo;
        end = hi;
    }
    if (f)
        (void)fclose(f); /* read-only: nothing to lose */
    if (parts)
        snprintf(out, len, "[heap] %lx-%lx, %lu kB in %d mapping%s", start, end, (end - start) / 1024,
                 parts, parts == 1 ? "" : "s");
}

static void fill_status(struct record *r, bool with_heap)
{
    struct procfs_want w[] = {{"VmSize", 0, false}, {"VmRSS", 0, false}, {"VmPTE", 0, false}};
    procfs_read_keyed("/proc/self/status", w, 3);
    r->vmsize_kb = w[0].value;
    r->vmrss_kb = w[1].value;
    r->vmpte_kb = w[2].value;
    if (with_heap)
        heap_line(r->text, sizeof r->text);
}

static void touch_block(char *p, size_t block, enum touch_mode touch)
{
    if (touch == TOUCH_WRITE)
        memset(p, 1, block);
    else if (touch == TOUCH_READ)
        for (size_t off = 0; off < block; off += 4096)
            touch_read(p + off);
}

/* fd: records to the supervisor; go: one byte from it when the allocation
 * step begins (with --step, after the person pressed Enter). */
static void victim(const struct settings *s, int fd, int go, bool confined)
{
    struct record r;
    memset(&r, 0, sizeof r);
    r.pid = getpid();
    if (confined) {
        char dir[512], why[sizeof r.text];
        if (confine_verify_self(s->limit, dir, sizeof dir, why, sizeof why) != 0) {
            r.kind = REC_REFUSED;
            snprintf(r.text, sizeof r.text, "%s", why);
            send_record(fd, &r);
            _exit(3);
        }
        snprintf(r.text, sizeof r.text, "%s", dir);
    }
    /* Volunteer as the victim: the kernel picks the highest oom_score. */
    char adj[16];
    snprintf(adj, sizeof adj, "%llu", (unsigned long long)s->adj);
    int fdadj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fdadj >= 0) {
        if (write(fdadj, adj, strlen(adj)) < 0) { /* reported below: the value read back */ }
        close(fdadj);
    }
    r.kind = REC_HELLO;
    r.oom_score = read_proc_number("/proc/self/oom_score");
    r.oom_score_adj = read_proc_number("/proc/self/oom_score_adj");
    fill_status(&r, false);
    send_record(fd, &r);
    char start;
    if (read(go, &start, 1) != 1)
        _exit(0); /* the supervisor is gone, or called it off */

    /* About eight reports before the limit is reached, whatever the count. */
    uint64_t every = s->limit / s->block / 8 ? s->limit / s->block / 8 : 1;
    for (uint64_t i = 1; i <= s->count; i++) {
        char *p;
        if (s->via_mmap) {
            p = mmap(NULL, s->block, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                p = NULL;
        } else {
            p = malloc(s->block);
        }
        if (!p) {
            r.kind = REC_DONE;
            r.err = errno ? errno : ENOMEM;
            r.iteration = i;
            fill_status(&r, !s->via_mmap);
            send_record(fd, &r);
            _exit(0);
        }
        touch_block(p, s->block, s->touch);
        if (i % every == 0) {
            r.kind = REC_PROGRESS;
            r.iteration = i;
            fill_status(&r, !s->via_mmap);
            send_record(fd, &r);
        }
    }
    r.kind = REC_DONE;
    r.err = 0;
    r.iteration = s->count;
    fill_status(&r, !s->via_mmap);
    send_record(fd, &r);
    _exit(0);
}

/* ---- the supervisor ---- */

static const char *touch_name(enum touch_mode t)
{
    return t == TOUCH_WRITE ? "write" : t == TOUCH_READ ? "read" : "none";
}

static int64_t mem_available_kb(void)
{
    return procfs_read_one("/proc/meminfo", "MemAvailable");
}

/* /dev/kmsg from now on: opened before the victim starts, positioned at the
 * end, so that only what the kernel says afterwards is read. */
static int open_kmsg(char *why, size_t len)
{
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        char err[96];
        errno_describe("open /dev/kmsg", errno, err, sizeof err);
        uint64_t restricted = 0;
        FILE *f = fopen("/proc/sys/kernel/dmesg_restrict", "re");
        if (f) {
            if (procfs_parse_number(f, &restricted) != PROCFS_OK)
                restricted = 0;
            (void)fclose(f); /* read-only: nothing to lose */
        }
        snprintf(why, len, "%s%s; how the victim ended comes from waitpid and the cgroup instead",
                 err, restricted ? " (kernel.dmesg_restrict is 1: only root may read the kernel log)"
                                 : "");
        return -1;
    }
    lseek(fd, 0, SEEK_END);
    return fd;
}

/* The log lines about one PID: "Killed process PID", "pid=PID,", "reaped process PID". */
static void kmsg_lines(int fd, long pid, struct narrator *n)
{
    char rec[2048], pat1[48], pat2[48], pat3[48];
    snprintf(pat1, sizeof pat1, "process %ld ", pid);
    snprintf(pat2, sizeof pat2, "pid=%ld,", pid);
    snprintf(pat3, sizeof pat3, "pid=%ld ", pid);
    int found = 0;
    for (int tries = 0; tries < 4096; tries++) {
        ssize_t len = read(fd, rec, sizeof rec - 1);
        if (len < 0 && errno == EPIPE)
            continue; /* overwritten records: skip on */
        if (len <= 0)
            break;
        rec[len] = '\0';
        char *msg = strchr(rec, ';'); /* "prio,seq,usec,flags;message\n" */
        if (!msg)
            continue;
        msg++;
        msg[strcspn(msg, "\n")] = '\0';
        if (strstr(msg, pat1) || strstr(msg, pat2) || strstr(msg, pat3)) {
            char key[24];
            snprintf(key, sizeof key, "kernel_%d", ++found);
            narrate_fact(n, key, "%s", msg);
        }
    }
    narrate_fact_int(n, "kernel_lines", found);
}

struct outcome {
    struct record hello, last;
    bool have_hello, have_last, refused, timed_out;
    int status;
    int64_t min_available_kb;
};

static void print_progress(struct narrator *n, const struct record *r, bool via_mmap)
{
    narrate_live(n, "iteration %8llu: VmSize %8llu kB  VmRSS %7llu kB  VmPTE %5llu kB",
                 (unsigned long long)r->iteration, (unsigned long long)r->vmsize_kb,
                 (unsigned long long)r->vmrss_kb, (unsigned long long)r->vmpte_kb);
    if (!via_mmap && r->text[0])
        narrate_live(n, "  %s", r->text);
}

static void supervise(struct narrator *n, const struct settings *s, int fd, pid_t pid,
                      struct outcome *o)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    o->min_available_kb = mem_available_kb();
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, 100);
        int64_t avail = mem_available_kb();
        if (avail >= 0 && avail < o->min_available_kb)
            o->min_available_kb = avail;
        if (ready > 0) {
            struct record r;
            ssize_t got = read(fd, &r, sizeof r);
            if (got == 0)
                break; /* the victim is gone: its end of the pipe closed */
            if (got != (ssize_t)sizeof r)
                continue;
            if (r.kind == REC_HELLO) {
                o->hello = r;
                o->have_hello = true;
            } else if (r.kind == REC_REFUSED) {
                o->hello = r;
                o->refused = true;
            } else {
                o->last = r;
                o->have_last = true;
                if (s->verbose)
                    print_progress(n, &r, s->via_mmap);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= (time_t)s->timeout) {
            o->timed_out = true;
            kill(pid, SIGKILL);
        }
    }
    while (waitpid(pid, &o->status, 0) < 0 && errno == EINTR)
        ;
    confine_track_child(0);
}

static void step_confine(struct narrator *n, const struct settings *s, struct confine *c)
{
    char limit[32], why[1024], code[160];
    format_size(s->limit, limit, sizeof limit);
    snprintf(code, sizeof code, "mkdir <cgroup>/vmlab-PID; echo %llu > memory limit; echo PID > cgroup.procs",
             (unsigned long long)s->limit);
    narrate_step(n, "Confine the victim in a memory-limited cgroup", code);
    if (s->unconfined) {
        c->kind = CONFINE_NONE;
        narrate_fact(n, "method", "none (--unconfined)");
        narrate_note(n, "No cgroup: the victim can use all the memory of this machine before the OOM "
                        "killer chooses, and it may choose another process.");
        narrate_end_step(n);
        return;
    }
    if (confine_setup(c, info.name, s->limit, why, sizeof why) != 0)
        narrate_finish(n, RESULT_SKIP, "cannot confine the victim: %s", why);
    static const char *const methods[] = {"none", "cgroup v2", "cgroup v1", "systemd user scope",
                                          "inherited (this process's own cgroup is limited)"};
    narrate_fact(n, "method", "%s", methods[c->kind]);
    if (c->dir[0])
        narrate_fact(n, "cgroup", "%s", c->dir);
    narrate_fact_int(n, "limit_bytes", (int64_t)c->limit);
    narrate_fact(n, "swap", "%s", c->swap_limited ? "limited (or no swap)" : "not limited");
    if (c->kind == CONFINE_SYSTEMD_SCOPE)
        narrate_note(n, "systemd will create a scope with MemoryMax=%s for the victim; the victim "
                        "checks the limit itself before it allocates anything.", limit);
    else if (c->kind == CONFINE_INHERITED)
        narrate_note(n, "This program already runs in a cgroup limited to %llu bytes (a container "
                        "or a service with a memory limit), so the victim stays in it; it is the "
                        "OOM killer's first choice there, with oom_score_adj 1000. The victim reads "
                        "the limit back itself before it allocates anything.",
                     (unsigned long long)c->limit);
    else
        narrate_note(n, "The kernel confirmed a limit of %llu bytes (%s): the victim can use that "
                        "much memory and no more. The victim also reads the limit back itself and "
                        "refuses to start without it.",
                     (unsigned long long)c->limit, limit);
    narrate_end_step(n);
}

static void start_victim(struct narrator *n, const struct settings *s, const struct confine *c,
                         int fds[2], int go[2], pid_t *pid, char **argv)
{
    if (pipe2(fds, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0)
        narrate_fail_errno(n, "pipe", errno);
    (void)fflush(NULL); /* nothing buffered twice across fork */
    *pid = fork();
    if (*pid < 0)
        narrate_fail_errno(n, "fork", errno);
    if (*pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        close(go[1]);
        (void)signal(SIGINT, SIG_DFL); /* the victim dies of these like any program */
        (void)signal(SIGTERM, SIG_DFL);
        if (c->kind == CONFINE_SYSTEMD_SCOPE) {
            /* Re-run this program inside a new scope, as the victim. */
            const char *args[64];
            char prop[64], fdtext[16], gotext[16];
            int k = confine_scope_argv(c, args, 64, prop, sizeof prop);
            snprintf(fdtext, sizeof fdtext, "%d", fds[1]);
            snprintf(gotext, sizeof gotext, "%d", go[0]);
            fcntl(fds[1], F_SETFD, 0); /* keep the pipes across exec */
            fcntl(go[0], F_SETFD, 0);
            args[k++] = "--";
            args[k++] = "/proc/self/exe";
            args[k++] = "--vmlab-victim";
            args[k++] = fdtext;
            args[k++] = gotext;
            for (int i = 1; argv[i] && k < 62; i++)
                args[k++] = argv[i];
            args[k] = NULL;
            execvp("systemd-run", (char *const *)args);
            struct record r = {.kind = REC_REFUSED, .pid = getpid()};
            errno_describe("execvp systemd-run", errno, r.text, sizeof r.text);
            send_record(fds[1], &r);
            _exit(3);
        }
        if (confine_enter(c) != 0) {
            struct record r = {.kind = REC_REFUSED, .pid = getpid()};
            errno_describe("write cgroup.procs", errno, r.text, sizeof r.text);
            send_record(fds[1], &r);
            _exit(3);
        }
        victim(s, fds[1], go[0], c->kind != CONFINE_NONE);
    }
    close(fds[1]);
    close(go[0]);
    confine_track_child(*pid);
}

static void describe_ending(struct narrator *n, const struct settings *s, const struct outcome *o,
                            uint64_t oom_kills)
{
    char limit[32], err[96];
    format_size(s->limit, limit, sizeof limit);
    if (o->timed_out) {
        narrate_fact(n, "ended", "stopped after %llu s (--timeout)", (unsigned long long)s->timeout);
        narrate_note(n, "The victim was still allocating when the time ran out; the supervisor "
                        "killed it.");
    } else if (WIFSIGNALED(o->status)) {
        int sig = WTERMSIG(o->status);
        narrate_fact(n, "ended", "killed by %s (a shell shows status %d)",
                     sig == SIGKILL ? "SIGKILL" : strsignal(sig), 128 + sig);
        if (sig == SIGKILL && oom_kills > 0)
            narrate_note(n, "The OOM killer chose the victim and killed it with SIGKILL: the cgroup's "
                            "oom_kill counter says so. SIGKILL cannot be caught, so the program "
                            "printed nothing more; a shell would report exit status 137 (128 + 9).");
        else
            narrate_note(n, "The victim died of signal %d.", sig);
    } else if (o->refused) {
        narrate_fact(n, "ended", "refused to start");
        narrate_fact(n, "why", "%s", o->hello.text);
        narrate_note(n, "The victim did not allocate anything: %s", o->hello.text);
    } else if (o->have_last && o->last.kind == REC_DONE && o->last.err) {
        errno_describe(s->via_mmap ? "mmap" : "malloc", o->last.err, err, sizeof err);
        narrate_fact(n, "ended", "an allocation failed at iteration %llu: %s",
                     (unsigned long long)o->last.iteration, err);
        narrate_note(n, "The allocation itself failed (%s): the address space or the commit limit "
                        "ran out before the memory did.", err);
    } else if (o->have_last && o->last.kind == REC_DONE) {
        narrate_fact(n, "ended", "finished all %llu iterations", (unsigned long long)o->last.iteration);
        if (s->touch == TOUCH_WRITE)
            narrate_note(n, "The loop finished with %llu kB resident under a limit of %s: all it "
                            "wrote fitted, so nothing ran out. A larger COUNT overruns the limit.",
                         (unsigned long long)o->last.vmrss_kb, limit);
        else
            narrate_note(n, "The loop finished: %llu kB of address space, but only %llu kB resident, "
                            "under a limit of %s. Memory that is never written gets no frames of its "
                            "own, so nothing ran out.",
                         (unsigned long long)o->last.vmsize_kb, (unsigned long long)o->last.vmrss_kb,
                         limit);
    } else {
        narrate_fact(n, "ended", "exit status %d", WIFEXITED(o->status) ? WEXITSTATUS(o->status) : -1);
    }
}

static void explain_lesson(struct narrator *n, const struct settings *s, const struct outcome *o)
{
    const struct record *r = &o->last;
    if (!o->have_last)
        return;
    if (s->touch == TOUCH_NONE && !s->via_mmap && WIFSIGNALED(o->status))
        narrate_note(n, "It was killed although it never touched its blocks: malloc writes a header "
                        "in front of every chunk it hands out, so every %llu-byte block dirtied a "
                        "page (VmRSS reached %llu kB). The original exercise expected no kill here.",
                     (unsigned long long)s->block, (unsigned long long)r->vmrss_kb);
    if (s->touch == TOUCH_READ)
        narrate_note(n, "Reading untouched memory maps the shared zero page: VmRSS stayed at %llu kB "
                        "while the page tables grew to VmPTE %llu kB - page tables are memory too, "
                        "charged to the cgroup.",
                     (unsigned long long)r->vmrss_kb, (unsigned long long)r->vmpte_kb);
}

static int run_as_victim(int argc, char **argv);

int main(int argc, char **argv)
{
    if (argc > 3 && strcmp(argv[1], "--vmlab-victim") == 0)
        return run_as_victim(argc, argv);

    struct settings s = {.limit = 64u << 20, .block = 8192, .adj = 1000, .timeout = 60,
                         .touch = TOUCH_WRITE, .verbose = true};
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &s);
    int npos = argc - first;
    if (npos > 3)
        cli_usage_error(&info, "too many arguments: COUNT [FORCE-PAGE-FAULT [VERBOSE]]");
    if (npos >= 1) {
        s.count = cli_count_arg(&info, "COUNT", argv[first], 1, 100000000);
        s.count_given = true;
    }
    if (npos >= 2) {
        if (strcmp(argv[first + 1], "0") != 0 && strcmp(argv[first + 1], "1") != 0)
            cli_usage_error(&info, "FORCE-PAGE-FAULT must be 0 or 1");
        s.touch = argv[first + 1][0] == '1' ? TOUCH_WRITE : TOUCH_NONE;
    }
    if (npos >= 3) {
        if (strcmp(argv[first + 2], "0") != 0 && strcmp(argv[first + 2], "1") != 0)
            cli_usage_error(&info, "VERBOSE must be 0 or 1");
        s.verbose = argv[first + 2][0] == '1';
    }
    if (s.unconfined != s.yes)
        cli_usage_error(&info, "--unconfined and --i-accept-host-oom go together: the first alone "
                               "could take this machine down");
    if (!s.unconfined) /* a limit near all the memory there is would confine nothing */
        cli_check_fits(&info, "--limit", s.limit, 2);
    if (!s.count_given)
        s.count = 8 * s.limit / s.block; /* enough to overrun the limit eight times over */

    struct narrator n;
    narrate_init(&n, info.name, &common, 4);
    leftovers_repair(info.name);

    /* panic_on_oom=2 panics even on a cgroup's OOM; =1 on any other. */
    uint64_t panic = 0;
    procfs_read_vm_sysctl("panic_on_oom", &panic);
    if (panic == 2 || (panic == 1 && s.unconfined))
        narrate_finish(&n, RESULT_SKIP, "vm.panic_on_oom is %llu: an OOM here would panic the whole "
                                        "machine instead of killing one process",
                       (unsigned long long)panic);

    char limit[32], block[32];
    format_size(s.limit, limit, sizeof limit);
    format_size(s.block, block, sizeof block);
    narrate_intro(&n, "oom-killer-try (PID %ld): %llu allocations of %s with %s, touch: %s, in a "
                      "limit of %s.", (long)getpid(), (unsigned long long)s.count, block,
                  s.via_mmap ? "mmap" : "malloc", touch_name(s.touch), limit);
    if (s.unconfined)
        fprintf(stderr, "%s: --unconfined: allocating up to %llu x %s with no cgroup limit; this "
                        "machine may run out of memory\n",
                info.name, (unsigned long long)s.count, block);

    struct confine c;
    memset(&c, 0, sizeof c);
    step_confine(&n, &s, &c);
    if (c.kind != CONFINE_NONE && c.kind != CONFINE_SYSTEMD_SCOPE) {
        /* The limit the kernel confirmed is the one the victim checks, and
         * the one the default count must overrun. */
        s.limit = c.limit;
        if (!s.count_given)
            s.count = 8 * s.limit / s.block;
    }

    /* The supervisor must survive whatever happens to the victim. */
    int adjfd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    bool protected_self = adjfd >= 0 && write(adjfd, "-1000", 5) == 5;
    char adj_err[96];
    errno_describe("write /proc/self/oom_score_adj", errno, adj_err, sizeof adj_err);
    if (adjfd >= 0)
        close(adjfd);

    char kmsg_why[256] = "";
    int kmsg = open_kmsg(kmsg_why, sizeof kmsg_why);
    uint64_t kills_before = 0;
    if (c.dir[0])
        confine_oom_kills(c.dir, &kills_before);

    narrate_step(&n, "Start the victim",
                 "fork(); child: join the cgroup, echo 1000 > /proc/self/oom_score_adj");
    int fds[2], go[2];
    pid_t pid;
    struct outcome o;
    memset(&o, 0, sizeof o);
    int64_t available_before = mem_available_kb();
    start_victim(&n, &s, &c, fds, go, &pid, argv);
    narrate_fact_int(&n, "supervisor_pid", getpid());
    if (protected_self)
        narrate_fact(&n, "supervisor_oom_score_adj", "-1000 (never chosen)");
    else
        narrate_fact(&n, "supervisor_oom_score_adj", "unchanged: %s (it lives outside the victim's "
                                                     "cgroup, where this OOM cannot reach)", adj_err);
    /* Wait for the hello (or a refusal) before describing the victim. */
    struct pollfd p = {fds[0], POLLIN, 0};
    if (poll(&p, 1, 10000) > 0 && read(fds[0], &o.hello, sizeof o.hello) == (ssize_t)sizeof o.hello) {
        o.have_hello = o.hello.kind == REC_HELLO;
        o.refused = o.hello.kind == REC_REFUSED;
    }
    if (o.have_hello) {
        narrate_fact_int(&n, "victim_pid", o.hello.pid);
        narrate_fact_int(&n, "oom_score", o.hello.oom_score);
        narrate_fact_int(&n, "oom_score_adj", o.hello.oom_score_adj);
        if (c.kind == CONFINE_SYSTEMD_SCOPE && o.hello.text[0])
            snprintf(c.dir, sizeof c.dir, "%.511s", o.hello.text);
        narrate_note(&n, "The victim (PID %ld) set its oom_score_adj to %lld, so its oom_score is "
                         "%lld: when memory runs out, the OOM killer picks the highest score.",
                     o.hello.pid, (long long)o.hello.oom_score_adj, (long long)o.hello.oom_score);
    } else if (o.refused) {
        narrate_note(&n, "The victim refused to start: %s", o.hello.text);
    }
    narrate_end_step(&n);

    char code[160];
    snprintf(code, sizeof code, "for (i = 1; i <= %llu; i++) { p = %s(%s);%s }",
             (unsigned long long)s.count, s.via_mmap ? "mmap" : "malloc", block,
             s.touch == TOUCH_WRITE ? " memset(p, 1, size);" : s.touch == TOUCH_READ ? " read each page;" : "");
    narrate_step(&n, "Allocate until something gives", code);
    /* A victim already gone (killed during a --step pause) closed its end:
     * then this write fails with EPIPE instead of killing the supervisor,
     * and the supervisor reports how the victim ended. */
    (void)signal(SIGPIPE, SIG_IGN);
    if (!o.refused && write(go[1], "g", 1) != 1 && errno != EPIPE)
        narrate_fail_errno(&n, "write (start the victim)", errno);
    close(go[1]);
    if (!o.refused)
        supervise(&n, &s, fds[0], pid, &o);
    else {
        while (waitpid(pid, &o.status, 0) < 0 && errno == EINTR)
            ;
        confine_track_child(0);
    }
    close(fds[0]);
    if (o.have_last) {
        narrate_fact_int(&n, "last_iteration", (int64_t)o.last.iteration);
        narrate_fact_int(&n, "VmSize_kB", (int64_t)o.last.vmsize_kb);
        narrate_fact_int(&n, "VmRSS_kB", (int64_t)o.last.vmrss_kb);
        narrate_fact_int(&n, "VmPTE_kB", (int64_t)o.last.vmpte_kb);
        if (!s.via_mmap && o.last.text[0])
            narrate_fact(&n, "heap", "%s", o.last.text);
        narrate_note(&n, "The last report before the end: iteration %llu, VmRSS %llu kB, VmPTE "
                         "%llu kB.", (unsigned long long)o.last.iteration,
                     (unsigned long long)o.last.vmrss_kb, (unsigned long long)o.last.vmpte_kb);
    }
    narrate_end_step(&n);

    narrate_step(&n, "How it ended", "waitpid(victim); read the cgroup's counters and /dev/kmsg");
    uint64_t kills_after = kills_before, peak = 0;
    if (c.dir[0])
        confine_oom_kills(c.dir, &kills_after);
    describe_ending(&n, &s, &o, kills_after - kills_before);
    narrate_fact_int(&n, "exit_status", WIFEXITED(o.status) ? WEXITSTATUS(o.status) : -1);
    narrate_fact_int(&n, "signal", WIFSIGNALED(o.status) ? WTERMSIG(o.status) : 0);
    if (c.dir[0]) {
        narrate_value(&n, "oom_kill", "", true, (int64_t)kills_before, true, (int64_t)kills_after);
        if (confine_peak(c.dir, &peak))
            narrate_fact_int(&n, "peak_bytes", (int64_t)peak);
    }
    narrate_fact_int(&n, "host_MemAvailable_before_kB", available_before);
    narrate_fact_int(&n, "host_MemAvailable_lowest_kB", o.min_available_kb);
    if (kmsg >= 0) {
        kmsg_lines(kmsg, o.have_hello ? o.hello.pid : (long)pid, &n);
        close(kmsg);
    } else {
        narrate_fact(&n, "kernel_log", "%s", kmsg_why);
    }
    explain_lesson(&n, &s, &o);
    narrate_end_step(&n);

    confine_teardown(&c);
    if (o.refused)
        narrate_finish(&n, RESULT_SKIP, "the victim could not confirm its memory limit: %s", o.hello.text);
    narrate_finish(&n, RESULT_OK, "the victim %s; the cgroup is removed",
                   WIFSIGNALED(o.status) ? "was killed" : "ended by itself");
}

/* Re-executed inside a systemd scope: argv is --vmlab-victim FD GOFD, then
 * the original options, parsed again. */
static int run_as_victim(int argc, char **argv)
{
    char *end, *end2;
    long fd = strtol(argv[2], &end, 10), go = strtol(argv[3], &end2, 10);
    if (*end != '\0' || *end2 != '\0' || fd < 3 || fd > 1024 || go < 3 || go > 1024)
        return EXIT_USAGE; /* only this program writes this command line */
    struct settings s = {.limit = 64u << 20, .block = 8192, .adj = 1000, .timeout = 60,
                         .touch = TOUCH_WRITE, .verbose = true};
    struct cli_common common;
    argv[3] = argv[0];
    int first = cli_parse(argc - 3, argv + 3, &info, &common, on_option, &s);
    int npos = argc - 3 - first;
    if (npos >= 1)
        s.count = cli_count_arg(&info, "COUNT", argv[3 + first], 1, 100000000);
    else
        s.count = 8 * s.limit / s.block;
    if (npos >= 2)
        s.touch = argv[3 + first + 1][0] == '1' ? TOUCH_WRITE : TOUCH_NONE;
    victim(&s, (int)fd, (int)go, true);
    return 0;
}
