/* SPDX-License-Identifier: MIT */
/* oom-supervise: the victim's reports, its start and the kernel log. See
 * oom-supervise.h. */
#define _GNU_SOURCE
#include "oom-supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "procfs.h"
#include "undo.h"

/* oom_score, oom_score_adj, dmesg_restrict; -1 when unreadable. */
static int64_t read_int(const char *path)
{
    int64_t v;
    return procfs_read_number(path, &v) == PROCFS_OK ? v : -1;
}

/* ---- in the victim ---- */

static struct timespec clock_start;

/* A record of this process, all else zero. */
static struct oom_record record(int kind)
{
    struct oom_record r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.pid = getpid();
    return r;
}

static int64_t ms_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void send_record(int fd, const struct oom_record *r)
{
    ssize_t n = write(fd, r, sizeof *r);
    (void)n; /* the supervisor reads what arrives; nothing to do if it went away */
}

static void fill_status(struct oom_record *r)
{
    struct procfs_want w[] = {{"VmSize", 0, false}, {"VmRSS", 0, false}, {"VmPTE", 0, false}};
    procfs_read_keyed("/proc/self/status", w, 3);
    r->vmsize_kb = w[0].present ? (int64_t)w[0].value : -1;
    r->vmrss_kb = w[1].present ? (int64_t)w[1].value : -1;
    r->vmpte_kb = w[2].present ? (int64_t)w[2].value : -1;
    r->t_ms = clock_start.tv_sec ? ms_since(&clock_start) : 0;
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

bool oom_victim_args(const struct demo_info *info, int *argc, char ***argv, int *records, int *go)
{
    char **args = *argv;
    if (*argc < 4 || strcmp(args[1], "--vmlab-victim") != 0)
        return false;
    *records = (int)strtol(args[2], NULL, 10);
    *go = (int)strtol(args[3], NULL, 10);
    struct stat a, b; /* only oom_start writes this command line, with two pipes */
    if (*records < 3 || *go < 3 || fstat(*records, &a) != 0 || fstat(*go, &b) != 0 ||
        !S_ISFIFO(a.st_mode) || !S_ISFIFO(b.st_mode))
        cli_usage_error(info, "--vmlab-victim: for this program's own victim, not by hand");
    args[3] = args[0]; /* its options follow, args[3] standing for the program */
    *argv = args + 3;
    *argc -= 3;
    return true;
}

bool oom_victim_confined(int fd, uint64_t max_bytes, bool confined, char *dir, size_t dirlen)
{
    struct oom_record r = record(OOM_REFUSED);
    dir[0] = '\0';
    if (!confined || confine_verify_self(max_bytes, dir, dirlen, r.text, sizeof r.text) == 0)
        return true;
    send_record(fd, &r);
    return false;
}

void oom_victim_hello(int fd, const char *dir)
{
    struct oom_record r = record(OOM_HELLO);
    r.oom_score = read_int("/proc/self/oom_score");
    r.oom_score_adj = read_int("/proc/self/oom_score_adj");
    fill_status(&r);
    snprintf(r.text, sizeof r.text, "%s", dir);
    send_record(fd, &r);
}

bool oom_victim_wait(int go)
{
    char byte;
    if (read(go, &byte, 1) != 1)
        return false;
    if (!clock_start.tv_sec)
        clock_gettime(CLOCK_MONOTONIC, &clock_start);
    return true;
}

void oom_victim_report(int fd, int kind, uint64_t iteration, int err, bool heap)
{
    struct oom_record r = record(kind);
    r.iteration = iteration;
    r.err = err;
    fill_status(&r);
    if (heap)
        heap_line(r.text, sizeof r.text);
    send_record(fd, &r);
}

/* ---- in the supervisor ---- */

void oom_start(struct narrator *n, struct oom_victim *v, const struct confine *c, char **argv,
               void (*run)(int records, int go))
{
    int fds[2], go[2];
    if (pipe2(fds, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0)
        narrate_fail_errno(n, "pipe", errno);
    v->pid = undo_fork(); /* it dies with the supervisor */
    if (v->pid < 0)
        narrate_fail_errno(n, "fork", errno);
    if (v->pid == 0) {
        close(fds[0]);
        close(go[1]);
        static const int deadly[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
        for (size_t i = 0; i < sizeof deadly / sizeof deadly[0]; i++)
            (void)signal(deadly[i], SIG_DFL); /* the victim dies of these like any program */
        struct oom_record r = record(OOM_REFUSED);
        const char *failed = "write cgroup.procs";
        if (c->kind == CONFINE_SYSTEMD_SCOPE) {
            /* Re-run this program inside a new scope, as the victim. */
            char prop[64], fdtext[16], gotext[16];
            const char *args[64] = {"systemd-run", "--user", "--scope", "--quiet", "-p", prop,
                                    "-p", "MemorySwapMax=0", "--", "/proc/self/exe",
                                    "--vmlab-victim", fdtext, gotext};
            int k = 13;
            snprintf(prop, sizeof prop, "MemoryMax=%llu", (unsigned long long)c->limit);
            snprintf(fdtext, sizeof fdtext, "%d", fds[1]);
            snprintf(gotext, sizeof gotext, "%d", go[0]);
            fcntl(fds[1], F_SETFD, 0); /* keep the pipes across exec */
            fcntl(go[0], F_SETFD, 0);
            for (int i = 1; argv[i] && k < 62; i++)
                args[k++] = argv[i];
            args[k] = NULL;
            execvp("systemd-run", (char *const *)args);
            failed = "execvp systemd-run";
        } else if (confine_enter(c) == 0) {
            run(fds[1], go[0]);
            _exit(0);
        }
        errno_describe(failed, errno, r.text, sizeof r.text); /* it never started: it says why */
        send_record(fds[1], &r);
        _exit(3);
    }
    close(fds[1]);
    close(go[0]);
    v->records = fds[0];
    v->go = go[1];
    confine_track_child(v->pid);
}

bool oom_wait_hello(struct oom_victim *v, struct oom_watch *w, int timeout_ms)
{
    struct pollfd p = {v->records, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) > 0 &&
        read(v->records, &w->hello, sizeof w->hello) == (ssize_t)sizeof w->hello) {
        w->have_hello = w->hello.kind == OOM_HELLO;
        w->refused = w->hello.kind == OOM_REFUSED;
    }
    return w->have_hello;
}

static void append_sample(struct oom_watch *w, const struct oom_record *r)
{
    const int64_t values[4] = {r->t_ms, r->vmsize_kb, r->vmrss_kb, r->vmpte_kb};
    for (int s = 0; s < 4; s++)
        w->series[s][w->nsamples] = values[s];
    w->nsamples++;
}

/* Keeps at most OOM_MAX_SAMPLES - 1 reports, evenly thinned: when full,
 * every other one goes and only every (twice as many)th is kept. True: r was kept. */
static bool add_sample(struct oom_watch *w, const struct oom_record *r, size_t *stride, size_t *seen)
{
    if ((*seen)++ % *stride != 0)
        return false;
    if (w->nsamples == OOM_MAX_SAMPLES - 1) {
        for (int s = 0; s < 4; s++)
            for (size_t i = 0; i < w->nsamples; i += 2)
                w->series[s][i / 2] = w->series[s][i];
        w->nsamples = (w->nsamples + 1) / 2;
        *stride *= 2;
    }
    append_sample(w, r);
    return true;
}

static void show_progress(struct narrator *n, const struct oom_record *r)
{
    /* within 80 columns: VmSize of 8 x 1 GiB still fits 7 digits */
    narrate_live(n, "%7llu blocks %5lld ms: VmSize %7lld VmRSS %7lld VmPTE %5lld kB",
                 (unsigned long long)r->iteration, (long long)r->t_ms, (long long)r->vmsize_kb,
                 (long long)r->vmrss_kb, (long long)r->vmpte_kb);
    if (r->text[0])
        narrate_live(n, "  %s", r->text);
}

void oom_watch(struct narrator *n, struct oom_victim *v, uint64_t timeout_s, bool verbose,
               struct oom_watch *w)
{
    struct timespec start;
    size_t stride = 1, seen = 0;
    (void)signal(SIGPIPE, SIG_IGN); /* a victim killed during the pause: EPIPE, not death */
    if (write(v->go, "g", 1) != 1 && errno != EPIPE)
        narrate_fail_errno(n, "write (start the victim)", errno);
    clock_gettime(CLOCK_MONOTONIC, &start);
    w->host_available_before_kb = procfs_read_one("/proc/meminfo", "MemAvailable");
    w->host_available_lowest_kb = w->host_available_before_kb;
    bool last_kept = false;
    while (!w->done) {
        struct pollfd p = {v->records, POLLIN, 0};
        int ready = poll(&p, 1, 100);
        int64_t avail = procfs_read_one("/proc/meminfo", "MemAvailable");
        if (avail >= 0 && avail < w->host_available_lowest_kb)
            w->host_available_lowest_kb = avail;
        if (ready > 0) {
            struct oom_record r;
            ssize_t got = read(v->records, &r, sizeof r);
            if (got == 0)
                break; /* the victim is gone: its end of the pipe closed */
            if (got != (ssize_t)sizeof r || (r.kind != OOM_PROGRESS && r.kind != OOM_DONE))
                continue;
            w->last = r;
            w->have_last = true;
            w->done = r.kind == OOM_DONE;
            last_kept = add_sample(w, &r, &stride, &seen);
            if (verbose && r.kind == OOM_PROGRESS) /* the end is the step's own rows */
                show_progress(n, &r);
        }
        if (!w->done && ms_since(&start) >= (int64_t)timeout_s * 1000) {
            w->timed_out = true;
            kill(v->pid, SIGKILL);
            break;
        }
    }
    if (w->have_last && !last_kept) /* the series ends with the last report */
        append_sample(w, &w->last);
}

int oom_kmsg_open(char *why, size_t len)
{
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        char err[96];
        errno_describe("open /dev/kmsg", errno, err, sizeof err);
        int64_t restricted = read_int("/proc/sys/kernel/dmesg_restrict");
        snprintf(why, len, "%s%s; how the victim ended comes from waitpid and the cgroup instead",
                 err, restricted == 1 ? " (kernel.dmesg_restrict is 1: only root may read the "
                                        "kernel log)" : "");
        return -1;
    }
    lseek(fd, 0, SEEK_END);
    return fd;
}

void oom_kmsg_read(int fd, long pid, struct oom_kmsg *k)
{
    char rec[2048], killed[48], pat2[48], pat3[48], reaped[48];
    snprintf(killed, sizeof killed, "Killed process %ld ", pid);
    snprintf(pat2, sizeof pat2, "pid=%ld,", pid);
    snprintf(pat3, sizeof pat3, "pid=%ld ", pid);
    snprintf(reaped, sizeof reaped, "reaped process %ld ", pid);
    memset(k, 0, sizeof *k);
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
        if (!strstr(msg, killed) && !strstr(msg, pat2) && !strstr(msg, pat3) && !strstr(msg, reaped))
            continue;
        if (strstr(msg, killed))
            k->killed_lines++;
        bool again = false;
        for (size_t i = 0; i < k->nlines && !again; i++)
            again = strcmp(k->lines[i], msg) == 0;
        if (again)
            k->repeats++;
        else if (k->nlines < OOM_KMSG_LINES)
            snprintf(k->lines[k->nlines++], sizeof k->lines[0], "%.511s", msg);
    }
}

void oom_kmsg_facts(struct narrator *n, int fd, const char *why, long pid, struct oom_kmsg *k)
{
    memset(k, 0, sizeof *k);
    if (fd < 0) {
        narrate_fact(n, "kernel_log", "%s", why);
        return;
    }
    oom_kmsg_read(fd, pid, k);
    for (size_t i = 0; i < k->nlines; i++) {
        char key[32];
        snprintf(key, sizeof key, "kernel_%zu", i + 1);
        narrate_fact(n, key, "%s", k->lines[i]);
    }
    narrate_fact_int(n, "kernel_lines", (int64_t)k->nlines);
    narrate_fact_int(n, "kernel_repeats", k->repeats);
}

/* Step 1's facts: the method, what setup did (did_1..), the cgroup, the
 * limit it set and the effective limit with the file that sets it. */
static void confine_facts(struct narrator *n, const struct confine *c)
{
    static const char *const methods[] = {"none", "cgroup v2", "cgroup v2, delegated", "cgroup v1",
                                          "systemd user scope", "inherited"};
    int method = c->kind == CONFINE_NONE ? 0 : c->kind == CONFINE_V2 ? (c->delegated[0] ? 2 : 1)
               : c->kind == CONFINE_V1 ? 3 : c->kind == CONFINE_SYSTEMD_SCOPE ? 4 : 5;
    narrate_fact(n, "method", "%s", methods[method]);
    char *save = NULL, actions[sizeof c->actions];
    snprintf(actions, sizeof actions, "%s", c->actions);
    int k = 0;
    for (char *line = strtok_r(actions, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char key[16];
        snprintf(key, sizeof key, "did_%d", ++k);
        narrate_fact(n, key, "%s", line);
    }
    if (c->dir[0])
        narrate_fact(n, "cgroup", "%s", c->dir);
    narrate_fact_int(n, "limit_bytes", (int64_t)c->limit);
    if (c->effective.bytes != UINT64_MAX) {
        narrate_fact_int(n, "effective_limit_bytes", (int64_t)c->effective.bytes);
        narrate_fact(n, "effective_limit_set_by", "%s/%s", c->effective.dir, c->effective.file);
    }
}

void oom_watch_facts(struct narrator *n, const struct oom_watch *w)
{
    static const char *const keys[4] = {"samples_t_ms", "samples_VmSize_kB", "samples_VmRSS_kB",
                                        "samples_VmPTE_kB"};
    for (int s = 0; s < 4; s++)
        narrate_series(n, keys[s], w->series[s], w->nsamples);
    narrate_fact_int(n, "host_MemAvailable_before_kB", w->host_available_before_kb);
    narrate_fact_int(n, "host_MemAvailable_lowest_kB", w->host_available_lowest_kb);
}

bool oom_kill_count(const struct confine *c, uint64_t *count)
{
    if (c->kind != CONFINE_NONE)
        return c->dir[0] && confine_oom_kills(c->dir, count);
    struct procfs_want kills = {"oom_kill", 0, false};
    (void)procfs_read_pairs("/proc/vmstat", &kills, 1); /* absent before Linux 4.13 */
    *count = kills.value;
    return kills.present;
}

const char *oom_kill_counter(const struct confine *c)
{
    return c->kind != CONFINE_NONE ? "the cgroup's oom_kill counter"
                                   : "/proc/vmstat's oom_kill, which counts every OOM kill on "
                                     "this machine, another process's too,";
}

bool oom_protect_self(void)
{
    return procfs_write_text("/proc/self/oom_score_adj", "-1000") == 0;
}

void oom_finish(struct narrator *n, struct confine *c, const struct oom_watch *w, pid_t pid,
                int status)
{
    if (!w->have_hello && pid > 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        confine_track_child(0);
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s", c->dir);
    bool made = c->created;
    enum confine_kind kind = c->kind;
    confine_teardown(c);
    if (!w->have_hello)
        narrate_finish(n, RESULT_SKIP, "the victim could not confirm its memory limit: %s",
                       w->refused ? w->hello.text : "it did not report");
    const char *ended = WIFSIGNALED(status) ? "was killed" : "ended by itself";
    if (made)
        narrate_finish(n, RESULT_OK, "the victim %s; its cgroup %s", ended,
                       access(dir, F_OK) == 0 ? "could not be removed" : "is removed");
    if (kind == CONFINE_SYSTEMD_SCOPE)
        narrate_finish(n, RESULT_OK, "the victim %s; systemd removes its scope%s%s", ended,
                       dir[0] ? " " : "", dir);
    if (dir[0])
        narrate_finish(n, RESULT_OK, "the victim %s; the cgroup %s, which this run did not make, is "
                       "left as it was", ended, dir);
    narrate_finish(n, RESULT_OK, "the victim %s; no cgroup was used", ended);
}

void oom_intro(struct narrator *n, uint64_t count, uint64_t block, const char *via, const char *touch,
               bool unconfined)
{
    char size[32];
    format_size(block, size, sizeof size);
    narrate_intro(n, "%s (PID %ld): up to %llu allocations of %s with %s, touch: %s; step 1 says "
                  "which memory limit applies.", n->demo, (long)getpid(), (unsigned long long)count,
                  size, via, touch);
    if (unconfined)
        cli_notice(n->demo, "--unconfined: allocating up to %llu x %s with no cgroup limit; this "
                   "machine may run out of memory", (unsigned long long)count, size);
}

void oom_explain_confinement(struct narrator *n, const struct confine *c)
{
    const struct cgroup_limit *e = &c->effective;
    if (c->kind == CONFINE_NONE) {
        narrate_fact(n, "method", "none (--unconfined)");
        narrate_note(n, "No cgroup: the victim can use all the memory of this machine before the "
                        "OOM killer chooses, and it may choose another process.");
        return;
    }
    confine_facts(n, c);
    if (c->kind == CONFINE_SYSTEMD_SCOPE) {
        narrate_note(n, "systemd makes a scope with MemoryMax=%llu for the victim; the victim reads "
                        "the limit back itself before it allocates anything.",
                     (unsigned long long)c->limit);
        return;
    }
    bool own = strcmp(e->dir, c->dir) == 0 && strcmp(e->file, "hierarchical_memory_limit") != 0;
    if (!CONCLUDE(n, "inherited_limit", c->kind == CONFINE_INHERITED,
                  VALUES(VAL("limit_bytes", e->bytes)),
                  "This program already runs in a cgroup limited to %llu bytes (%s in %s), which "
                  "it did not make: the victim stays in it, and it is left as it was at the end.",
                  (unsigned long long)e->bytes, e->file, e->dir) &&
        !CONCLUDE(n, "limit_as_set", own && e->bytes == c->limit,
                  VALUES(VAL("limit_bytes", c->limit), VAL("effective_limit_bytes", e->bytes)),
                  "The kernel confirmed a limit of %llu bytes: the victim can use that much "
                  "memory and no more. It also reads the limit back itself and refuses to start "
                  "without one.", (unsigned long long)c->limit))
        CONCLUDE(n, "ancestor_limit_applies", e->bytes < c->limit,
                 VALUES(VAL("limit_bytes", c->limit), VAL("effective_limit_bytes", e->bytes)),
                 "This run set a limit of %llu bytes, but %s says %llu bytes (%s): a cgroup's "
                 "memory counts against every ancestor's limit too, so that smaller one is what "
                 "applies.", (unsigned long long)c->limit, e->dir, (unsigned long long)e->bytes,
                 e->file);
}

void oom_explain_supervisor(struct narrator *n, bool protected_self, const struct oom_record *hello)
{
    char mine[512], why[512];
    (void)confine_verify_self(UINT64_MAX, mine, sizeof mine, why, sizeof why);
    int64_t adj = read_int("/proc/self/oom_score_adj");
    int64_t score = read_int("/proc/self/oom_score");
    narrate_fact_int(n, "supervisor_pid", getpid());
    narrate_fact(n, "supervisor_cgroup", "%s", mine);
    narrate_fact_int(n, "supervisor_oom_score_adj", adj);
    narrate_fact_int(n, "supervisor_oom_score", score);
    bool apart = hello->text[0] && strcmp(hello->text, mine) != 0;
    CONCLUDE(n, "supervisor_protected", protected_self && adj == -1000,
             VALUES(VAL("supervisor_oom_score_adj", adj)),
             "The supervisor set its own oom_score_adj to -1000: the OOM killer never chooses it.");
    if (!CONCLUDE(n, "supervisor_outside_victim_cgroup", apart, VALUES(VAL("separate", apart)),
                  "The supervisor lives in %s, outside the victim's cgroup, where this OOM cannot "
                  "reach it.", mine))
        CONCLUDE(n, "supervisor_shares_victim_cgroup", hello->text[0] && !apart,
                 VALUES(VAL("separate", apart)),
                 "The supervisor shares the victim's cgroup %s, so this OOM can reach it too.",
                 mine);
    if (!apart)
        CONCLUDE(n, "victim_scores_higher", hello->oom_score > score,
                 VALUES(VAL("oom_score", hello->oom_score), VAL("supervisor_oom_score", score)),
                 "The victim's oom_score, %lld, is above the supervisor's, %lld: the OOM killer "
                 "takes the victim first.", (long long)hello->oom_score, (long long)score);
}
