/* SPDX-License-Identifier: MIT */
/* vmlab-watch: the second terminal. Follows whatever vmlab demo this user is running (or the PID
 * given) and redraws, whenever something changed, the demo's own mapping from /proc/PID/smaps
 * with the fields that moved marked, and every mapping of the process drawn to scale with its
 * resident part. It only reads /proc: no root needed for your own processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "announce.h"
#include "cli.h"
#include "errors.h"
#include "procfs.h"

enum { OPT_INTERVAL, OPT_FRAMES };

static const struct cli_option options[] = {
    [OPT_INTERVAL] = {"interval", "MS", "how often to look, in milliseconds (default 200)"},
    [OPT_FRAMES] = {"frames", "N", "stop after drawing N frames (default: until Ctrl-C)"},
};

static const struct demo_info info = {
    .name = "vmlab-watch",
    .args = "[PID]",
    .summary = "Follows the running vmlab demo (or PID) from a second terminal: its\n"
               "mapping's smaps fields, marked when they change, and every mapping of\n"
               "the process drawn to scale, '#' resident and '.' not.",
    DEMO_OPTIONS(options),
    .tool = true,
    .exit_status = "0 it followed until Ctrl-C, --frames, or the PID it watched ended; 1 "
                   "writing its output failed; 2 bad usage, or a PID with nothing to watch (no "
                   "such process, a kernel thread, a zombie); 77 it cannot read that process "
                   "(another user's) or has no private place to find the demos' announcements.",
    .examples = "  vmlab-watch              follow whatever demo or tour you run next\n"
                "  vmlab-watch 4242         watch process 4242\n",
};

static unsigned interval_ms = 200;
static unsigned long frames; /* 0: until Ctrl-C */

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)ctx;
    if (index == OPT_INTERVAL)
        interval_ms = (unsigned)cli_count_arg(&info, "--interval", arg, 10, 10000);
    else if (index == OPT_FRAMES)
        frames = (unsigned long)cli_count_arg(&info, "--frames", arg, 1, 1000000);
}

static volatile sig_atomic_t stop;

static void on_signal(int signo)
{
    (void)signo;
    stop = 1;
}

/* ---- one frame, as text ---- */

#define FRAME_MAX 16384
#define MAX_ROWS 48
#define BAR 22

/* A frame is text: text_append cuts what does not fit. */
#define put(frame, ...) text_append((frame), FRAME_MAX, "", __VA_ARGS__)

/* The rows of the terminal the frames go to (a pipe has no limit): a frame
 * taller than the screen scrolls its top, the demo's own mapping (what the
 * projector is for), out of sight. Read for each frame: windows get resized. */
static size_t screen_rows(void)
{
    struct winsize ws;
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 ? ws.ws_row : 24;
}

/* One row of the process map: mappings of the same file are drawn as one. */
struct row {
    uintptr_t start;
    uint64_t size_kb, rss_kb;
    char perms[5], name[40];
    bool is_demo;
};

struct process_map {
    struct row rows[MAX_ROWS];
    size_t nrows, hidden;
    uintptr_t demo_addr;
    struct smaps_entry demo; /* end 0: the demo's mapping is not there */
};

static void visit(const struct smaps_entry *e, void *ctx)
{
    struct process_map *m = ctx;
    uint64_t rss = 0;
    (void)smaps_get(e, "Rss", &rss);
    uint64_t size_kb = (e->end - e->start) / 1024;
    bool is_demo = m->demo_addr >= e->start && m->demo_addr < e->end;
    if (is_demo)
        m->demo = *e;
    const char *slash = strrchr(e->name, '/');
    char name[40];
    snprintf(name, sizeof name, "%.39s", slash ? slash + 1 : e->name[0] ? e->name : "[anon]");
    if ((strcmp(e->perms, "---p") == 0 && !is_demo) || strcmp(e->name, "[vsyscall]") == 0)
        return; /* guard pages, reservations, the kernel's page: nothing to see */
    struct row *last = m->nrows > 0 ? &m->rows[m->nrows - 1] : NULL;
    if (last && e->name[0] == '/' && !is_demo && !last->is_demo && !strcmp(last->name, name)) {
        last->size_kb += size_kb;
        last->rss_kb += rss;
        return;
    }
    if (m->nrows == MAX_ROWS) {
        m->hidden++;
        return;
    }
    struct row *r = &m->rows[m->nrows++];
    *r = (struct row){.start = e->start, .size_kb = size_kb, .rss_kb = rss, .is_demo = is_demo};
    memcpy(r->perms, e->perms, sizeof r->perms);
    snprintf(r->name, sizeof r->name, "%s", name);
}

/* Fields of the demo's mapping worth watching, in this order. */
static const char *const watched[] = {"Size", "Rss", "Pss", "Private_Clean", "Private_Dirty",
                                      "Shared_Dirty", "Anonymous", "AnonHugePages",
                                      "Private_Hugetlb", "Swap", "Locked", NULL};

/* What the last frame of process pid showed; a mark stays on a field until the next change. */
struct previous {
    long pid;
    uintptr_t start;
    uint64_t values[16];
    bool present[16], marked[16];
};

static void draw_demo(char *f, const struct smaps_entry *e, struct previous *prev,
                      bool color)
{
    char size[32];
    format_size(e->end - e->start, size, sizeof size);
    put(f, "The demo's mapping %lx-%lx %s (%s)\n", (unsigned long)e->start,
        (unsigned long)e->end, e->perms, size);
    bool same = prev->start == e->start, changed[16] = {false}, any = false;
    for (size_t i = 0; watched[i]; i++) {
        uint64_t value = 0;
        bool present = smaps_get(e, watched[i], &value);
        changed[i] = same && present && (!prev->present[i] || prev->values[i] != value);
        any = any || changed[i];
    }
    int col = 0;
    for (size_t i = 0; watched[i]; i++) {
        if (any || !same)
            prev->marked[i] = changed[i];
        prev->present[i] = smaps_get(e, watched[i], &prev->values[i]);
        if (!prev->present[i])
            continue;
        put(f, "  %-15s %10llu kB %s", watched[i], (unsigned long long)prev->values[i],
            prev->marked[i] ? (color ? "\033[7m*\033[0m" : "*") : " ");
        if (++col % 2 == 0)
            put(f, "\n");
    }
    if (col % 2)
        put(f, "\n");
    put(f, "  VmFlags: %s\n", e->has_vmflags ? e->vmflags : "(not shown by this kernel)");
    prev->start = e->start;
}

/* The rows that fit in room lines (0: all), the demo's own among them, and a
 * line that says how many did not. */
static void draw_rows(char *f, const struct process_map *m, size_t room)
{
    uint64_t largest = 1;
    size_t demo_row = m->nrows;
    for (size_t i = 0; i < m->nrows; i++) {
        if (m->rows[i].size_kb > largest)
            largest = m->rows[i].size_kb;
        if (m->rows[i].is_demo)
            demo_row = i;
    }
    /* The rows drawn: all, or what fits above the last line's count. */
    size_t keep = room > 0 && m->nrows + (m->hidden > 0) > room ? room - 1 : m->nrows;
    /* The first keep rows, or where the demo's row is below them, one fewer and it. */
    bool demo_below = demo_row < m->nrows && demo_row >= keep && keep > 0;
    char scale[32];
    format_size(largest * 1024, scale, sizeof scale);
    put(f, "Every mapping, to scale (a full bar is %s; '#' resident):\n", scale);
    size_t hidden = m->hidden;
    for (size_t i = 0; i < m->nrows; i++) {
        const struct row *r = &m->rows[i];
        if (demo_below ? i >= keep - 1 && i != demo_row : i >= keep) {
            hidden++;
            continue;
        }
        char bar[BAR + 1], size[16], rss[16];
        size_t width = (size_t)((r->size_kb * BAR + largest - 1) / largest);
        if (width == 0)
            width = 1;
        size_t full = r->size_kb ? (size_t)(r->rss_kb * width / r->size_kb) : 0;
        if (r->rss_kb > 0 && full == 0)
            full = 1;
        memset(bar, '#', full);
        memset(bar + full, '.', width - full);
        bar[width] = '\0';
        format_size(r->size_kb * 1024, size, sizeof size);
        format_size(r->rss_kb * 1024, rss, sizeof rss);
        put(f, "%c %012lx %s %-16.16s %9s %-22s %s\n", r->is_demo ? '>' : ' ',
            (unsigned long)r->start, r->perms, r->name, size, bar, rss);
    }
    if (hidden)
        put(f, "  (%zu more mappings not shown)\n", hidden);
}

/* Builds the frame for pid; false (errno set) when its smaps cannot be read:
 * the process is gone (ENOENT), not ours (EACCES), or has no memory (ENODATA:
 * a zombie's or a kernel thread's smaps is empty). */
static bool build(char *f, long pid, const struct announcement *a, bool announced,
                  struct previous *prev, bool color, size_t rows)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/smaps", pid);
    FILE *in = fopen(path, "re");
    if (!in)
        return false;
    static struct process_map m;
    m = (struct process_map){.demo_addr = announced ? a->addr : 0};
    enum procfs_status st = smaps_parse_each(in, visit, &m);
    (void)fclose(in); /* read-only: nothing to lose */
    if (st != PROCFS_OK) {
        errno = st == PROCFS_NOT_FOUND ? ENODATA : ENOENT;
        return false;
    }
    f[0] = '\0';
    char head[256];
    if (announced)
        snprintf(head, sizeof head, "vmlab-watch: %s, PID %ld, step %d/%d: %s", a->demo, pid,
                 a->step, a->steps, a->title);
    else
        snprintf(head, sizeof head, "vmlab-watch: PID %ld", pid);
    put(f, "%.80s\n\n", head); /* 80 columns: a long title is cut */
    if (m.demo.end)
        draw_demo(f, &m.demo, prev, color);
    else if (announced && a->addr)
        put(f, "The demo's mapping at %lx is gone (unmapped).\n", (unsigned long)a->addr);
    put(f, "\n");
    /* The mappings get what the screen has left below the lines so far and their title line,
     * less the line the cursor sits on. */
    size_t used = 2;
    for (const char *c = f; *c; c++)
        used += *c == '\n';
    draw_rows(f, &m, rows == 0 ? 0 : rows > used + 1 ? rows - used : 1);
    return true;
}

static noreturn void refuse_others(long pid)
{
    fprintf(stderr, "vmlab-watch: cannot read /proc/%ld/smaps: %s\n", pid,
            geteuid() == 0 ? "permission denied even to root (another container's process, or "
                             "a security module says no)"
                           : "it belongs to another user; run vmlab-watch as that user (or as "
                             "root)");
    exit(EXIT_CANNOT);
}

/* The command name, state and flags of /proc/PID/stat, which anyone may read unless
 * /proc is mounted hidepid=1 (then EACCES/EPERM: the process exists); 0 or the errno. */
static int read_stat(long pid, char *comm, size_t len, char *state, unsigned long *flags)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (procfs_read_text(path, line, sizeof line) < 0)
        return errno;
    const char *open = strchr(line, '('), *close = strrchr(line, ')');
    /* After the name: state ppid pgrp session tty_nr tpgid flags. */
    int at = 0;
    if (!open || !close || close < open ||
        sscanf(close + 1, " %c %*d %*d %*d %*d %*d %n", state, &at) != 1 || at == 0)
        return ESRCH; /* it ended while we read */
    snprintf(comm, len, "%.*s", (int)(close - open - 1), open + 1);
    *flags = strtoul(close + 1 + at, NULL, 10);
    return 0;
}

/* The PID given had no frame to draw the first time it was looked at: why. */
static noreturn void refuse_pid(long pid, int err)
{
    char comm[64] = "", state = 0;
    unsigned long flags = 0;
    int stat_err = read_stat(pid, comm, sizeof comm, &state, &flags);
    if (stat_err == EACCES || stat_err == EPERM)
        refuse_others(pid);
    if (stat_err != 0)
        cli_usage_error(&info, "no process %ld", pid);
    if (flags & 0x00200000UL) /* PF_KTHREAD */
        cli_usage_error(&info, "PID %ld (%s) is a kernel thread: it has no memory of its own to "
                               "watch", pid, comm);
    if (state == 'Z' || state == 'X')
        cli_usage_error(&info, "PID %ld (%s) has already ended: a zombie, not yet waited for",
                        pid, comm);
    if (err == EACCES || err == EPERM)
        refuse_others(pid);
    cli_usage_error(&info, "PID %ld (%s): nothing to watch (%s)", pid, comm,
                    err == ENODATA ? "its smaps is empty" : strerror(err));
}

/* Demos announce themselves to their own user only: a demo started with sudo is
 * root's, and only a watcher run as root finds it (and may read its smaps). */
static void say_waiting(void)
{
    const struct passwd *pw = getpwuid(geteuid());
    printf("vmlab-watch: waiting for a vmlab demo run by %s (Ctrl-C quits).\n",
           pw ? pw->pw_name : "this user");
    if (geteuid() != 0)
        printf("A demo started with sudo is root's: watch it with sudo too.\n");
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop)
        ;
}

int main(int argc, char **argv)
{
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, NULL);
    if (argc - first > 1)
        cli_usage_error(&info, "takes at most one PID, got %d arguments", argc - first);
    long fixed_pid = first < argc ? (long)cli_count_arg(&info, "PID", argv[first], 1, 4194304) : 0;
    bool tty = isatty(STDOUT_FILENO);
    const char *no_color = getenv("NO_COLOR");
    bool color = common.color == COLOR_ALWAYS ||
                 (common.color == COLOR_AUTO && tty && !(no_color && no_color[0]));

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    char path[512];
    bool have_path = announce_path(path, sizeof path);
    if (!fixed_pid && !have_path) {
        fprintf(stderr, "vmlab-watch: no private place for the demos' announcements "
                        "($XDG_RUNTIME_DIR or /tmp/vmlab-UID); give a PID\n");
        return EXIT_CANNOT;
    }
    static char frame[FRAME_MAX], last[FRAME_MAX];
    struct previous prev = {0};
    unsigned long drawn = 0;
    bool said_waiting = false;
    while (!stop && (frames == 0 || drawn < frames)) {
        struct announcement a;
        bool announced = !fixed_pid && announce_read(path, &a) && kill((pid_t)a.pid, 0) == 0;
        long pid = fixed_pid ? fixed_pid : announced ? a.pid : 0;
        if (pid == 0) {
            if (!said_waiting)
                say_waiting();
            said_waiting = true;
            (void)fflush(stdout);
            sleep_ms(interval_ms);
            continue;
        }
        said_waiting = false;
        if (pid != prev.pid)
            prev = (struct previous){.pid = pid};
        if (!build(frame, pid, &a, announced, &prev, color, tty ? screen_rows() : 0)) {
            if (fixed_pid && (drawn == 0 || errno == EACCES || errno == EPERM))
                refuse_pid(fixed_pid, errno); /* why it has no frame (now) */
            if (fixed_pid) {
                printf("vmlab-watch: PID %ld has ended\n", fixed_pid);
                break;
            }
            sleep_ms(interval_ms);
            continue;
        }
        if (strcmp(frame, last) != 0) {
            if (tty)
                fputs("\033[H\033[2J", stdout);
            else if (drawn)
                fputs("----\n", stdout);
            fputs(frame, stdout);
            (void)fflush(stdout);
            memcpy(last, frame, sizeof last);
            drawn++;
        }
        sleep_ms(interval_ms);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "vmlab-watch: writing failed: %s\n", strerror(errno));
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}
