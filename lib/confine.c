/* confine: memory-limited cgroups for the OOM experiments. See confine.h. */
#define _GNU_SOURCE
#include "confine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "procfs.h"
#include "runid.h"
#include "undo.h"

#define CGROUP2_MAGIC 0x63677270L
#define CGROUP1_MAGIC 0x27e0ebL
#define V1_MEMORY "/sys/fs/cgroup/memory"

static bool is_fs(const char *path, long magic)
{
    struct statfs s;
    return statfs(path, &s) == 0 && (long)s.f_type == magic;
}

/* The cgroup2 mount: pure v2, or the "unified" one of a hybrid setup. */
static const char *v2_mount(void)
{
    if (is_fs("/sys/fs/cgroup", CGROUP2_MAGIC))
        return "/sys/fs/cgroup";
    if (is_fs("/sys/fs/cgroup/unified", CGROUP2_MAGIC))
        return "/sys/fs/cgroup/unified";
    return NULL;
}

void cgroup_parse_membership(FILE *in, char *v2, size_t v2len, char *v1_memory, size_t v1len)
{
    char line[1024];
    v2[0] = v1_memory[0] = '\0';
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        /* hierarchy-ID:controller-list:path */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c2[1] != '/')
            continue;
        *c1 = '\0'; /* line: the hierarchy ID */
        *c2 = '\0'; /* c1 + 1: the controllers */
        const char *controllers = c1 + 1, *path = c2 + 1;
        if (strcmp(line, "0") == 0 && controllers[0] == '\0') {
            snprintf(v2, v2len, "%s", path);
            continue;
        }
        /* "memory" as a whole word in a comma-separated list */
        for (const char *s = controllers; (s = strstr(s, "memory")) != NULL; s += 6) {
            bool starts = s == controllers || s[-1] == ',';
            bool ends = s[6] == '\0' || s[6] == ',';
            if (starts && ends) {
                snprintf(v1_memory, v1len, "%s", path);
                break;
            }
        }
    }
}

static void own_membership(char *v2, size_t v2len, char *v1, size_t v1len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    v2[0] = v1[0] = '\0';
    if (f) {
        cgroup_parse_membership(f, v2, v2len, v1, v1len);
        (void)fclose(f); /* read-only: nothing to lose */
    }
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = (ssize_t)strlen(text);
    ssize_t n = write(fd, text, (size_t)len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == len ? 0 : -1;
}

static bool file_exists(const char *dir, const char *name)
{
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* A limit file: a number, or "max" (no limit: *value = UINT64_MAX). */
static bool read_limit(const char *dir, const char *name, uint64_t *value)
{
    char path[640], text[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(text, sizeof text, f) != NULL;
    (void)fclose(f); /* read-only: nothing to lose */
    if (!ok)
        return false;
    if (strncmp(text, "max", 3) == 0) {
        *value = UINT64_MAX;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text)
        return false;
    *value = v;
    return true;
}

static bool has_word(const char *dir, const char *name, const char *word)
{
    char path[640], text[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool found = false;
    /* One line of space-separated words, e.g. "cpu memory pids". */
    if (fgets(text, sizeof text, f))
        for (char *save = NULL, *w = strtok_r(text, " \n", &save); w && !found;
             w = strtok_r(NULL, " \n", &save))
            found = strcmp(w, word) == 0;
    (void)fclose(f); /* read-only: nothing to lose */
    return found;
}

static uint64_t swap_total_kb(void)
{
    int64_t kb = procfs_read_one("/proc/meminfo", "SwapTotal");
    return kb > 0 ? (uint64_t)kb : 0;
}

/* ---- cleanup on every way out (registered with lib/undo) ---- */

static char cleanup_dir[512];
static volatile pid_t tracked_child;

/* Async-signal-safe: kill, waitpid, rmdir, nanosleep. */
static void cleanup(void)
{
    pid_t child = tracked_child;
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        tracked_child = 0;
    }
    if (cleanup_dir[0]) {
        /* A task that just died may take a moment to leave the cgroup. */
        for (int i = 0; i < 200; i++) {
            if (rmdir(cleanup_dir) == 0 || errno != EBUSY)
                break;
            struct timespec ts = {0, 10000000L}; /* 10 ms */
            nanosleep(&ts, NULL);
        }
        cleanup_dir[0] = '\0';
    }
}

static int arm(const char *dir)
{
    snprintf(cleanup_dir, sizeof cleanup_dir, "%s", dir);
    return undo_register(cleanup);
}

void confine_track_child(pid_t pid)
{
    tracked_child = pid;
    if (pid > 0)
        (void)undo_register(cleanup); /* fails only if atexit did: signals are still covered */
}

/* ---- the methods ---- */

/* The cgroup's name says which run made it, across PID namespaces:
 * vmlab-NS-PID-START (lib/runid), so that a sweep never takes the cgroup of
 * a live run in another namespace for a leftover. */
static int make_dir(struct confine *c, const char *parent, char *why, size_t len)
{
    struct runid me;
    char name[80];
    if (runid_self(&me) != 0 || !runid_format(&me, name, sizeof name)) {
        snprintf(why, len, "cannot read this process's PID namespace and start time from /proc");
        return -1;
    }
    snprintf(c->dir, sizeof c->dir, "%s/vmlab-%s", parent, name);
    if (mkdir(c->dir, 0755) != 0) {
        char err[160];
        errno_describe("mkdir", errno, err, sizeof err);
        snprintf(why, len, "cannot create %s (%s)", c->dir, err);
        c->dir[0] = '\0';
        return -1;
    }
    c->created = true;
    if (arm(c->dir) != 0) { /* from here on, every exit removes it */
        snprintf(why, len, "cannot register the cleanup of %s (atexit)", c->dir);
        (void)rmdir(c->dir);
        c->dir[0] = '\0';
        c->created = false;
        return -1;
    }
    return 0;
}

static int setup_v2(struct confine *c, const char *mount, uint64_t limit, char *why, size_t len)
{
    char text[32];
    if (!has_word(mount, "cgroup.controllers", "memory")) {
        snprintf(why, len, "the cgroup v2 hierarchy at %s has no memory controller", mount);
        return -1;
    }
    if (!has_word(mount, "cgroup.subtree_control", "memory") &&
        write_file(mount, "cgroup.subtree_control", "+memory") != 0) {
        snprintf(why, len, "cannot enable the memory controller in %s/cgroup.subtree_control: %s",
                 mount, strerror(errno));
        return -1;
    }
    if (make_dir(c, mount, why, len) != 0)
        return -1;
    snprintf(text, sizeof text, "%llu", (unsigned long long)limit);
    if (write_file(c->dir, "memory.max", text) != 0) {
        snprintf(why, len, "cannot write %s/memory.max: %s", c->dir, strerror(errno));
        return -1;
    }
    c->swap_limited = write_file(c->dir, "memory.swap.max", "0") == 0 || swap_total_kb() == 0;
    write_file(c->dir, "memory.oom.group", "1"); /* kill the whole group: no survivors */
    if (!read_limit(c->dir, "memory.max", &c->limit) || c->limit > limit) {
        snprintf(why, len, "memory.max in %s did not take the limit", c->dir);
        return -1;
    }
    c->kind = CONFINE_V2;
    return 0;
}

static int setup_v1(struct confine *c, const char *own, uint64_t limit, char *why, size_t len)
{
    char parent[512], text[32];
    snprintf(parent, sizeof parent, "%s%s", V1_MEMORY, strcmp(own, "/") == 0 ? "" : own);
    if (make_dir(c, parent, why, len) != 0)
        return -1;
    snprintf(text, sizeof text, "%llu", (unsigned long long)limit);
    if (write_file(c->dir, "memory.limit_in_bytes", text) != 0) {
        snprintf(why, len, "cannot write %s/memory.limit_in_bytes: %s", c->dir, strerror(errno));
        return -1;
    }
    /* memsw (memory + swap) exists only with swap accounting; it must not be
     * set below memory.limit_in_bytes, so it comes second. */
    c->swap_limited = (file_exists(c->dir, "memory.memsw.limit_in_bytes") &&
                       write_file(c->dir, "memory.memsw.limit_in_bytes", text) == 0) ||
                      swap_total_kb() == 0;
    write_file(c->dir, "memory.oom_control", "0"); /* the OOM killer on, not a hang */
    struct procfs_want w = {"oom_kill_disable", 1, false};
    char path[640];
    snprintf(path, sizeof path, "%s/memory.oom_control", c->dir);
    if (procfs_read_pairs(path, &w, 1) != PROCFS_OK || !w.present || w.value != 0) {
        snprintf(why, len, "%s has the OOM killer disabled: the child would hang, not die", c->dir);
        return -1;
    }
    if (!read_limit(c->dir, "memory.limit_in_bytes", &c->limit) || c->limit > limit) {
        snprintf(why, len, "memory.limit_in_bytes in %s did not take the limit", c->dir);
        return -1;
    }
    c->kind = CONFINE_V1;
    return 0;
}

int confine_setup(struct confine *c, const char *demo, uint64_t limit, char *why, size_t len)
{
    char v2[256], v1[256], first[1024] = "";
    memset(c, 0, sizeof *c);
    own_membership(v2, sizeof v2, v1, sizeof v1);
    const char *mount = v2_mount();
    bool root = geteuid() == 0;

    if (root && mount && has_word(mount, "cgroup.controllers", "memory")) {
        if (setup_v2(c, mount, limit, first, sizeof first) == 0)
            goto check_swap;
        confine_teardown(c);
    }
    if (root && v1[0] && is_fs(V1_MEMORY, CGROUP1_MAGIC)) {
        char reason[1024];
        if (setup_v1(c, v1, limit, reason, sizeof reason) == 0)
            goto check_swap;
        confine_teardown(c);
        if (!first[0])
            snprintf(first, sizeof first, "%s", reason);
    }
    if (!root && mount && strcmp(mount, "/sys/fs/cgroup") == 0 && access("/usr/bin/systemd-run", X_OK) == 0 &&
        getenv("XDG_RUNTIME_DIR")) {
        c->kind = CONFINE_SYSTEMD_SCOPE;
        c->limit = limit;
        c->swap_limited = true; /* MemorySwapMax=0; the child verifies what it got */
        return 0;
    }
    /* Already confined from outside: stay in this cgroup. */
    char own[512], reason[512];
    if (confine_verify_self(CONFINE_INHERITED_MAX, own, sizeof own, reason, sizeof reason) == 0) {
        uint64_t swap_max = UINT64_MAX;
        c->kind = CONFINE_INHERITED;
        snprintf(c->dir, sizeof c->dir, "%s", own);
        if (!read_limit(own, "memory.max", &c->limit) &&
            !read_limit(own, "memory.limit_in_bytes", &c->limit))
            c->limit = limit;
        c->swap_limited = swap_total_kb() == 0 ||
                          (read_limit(own, "memory.swap.max", &swap_max) && swap_max == 0) ||
                          (read_limit(own, "memory.memsw.limit_in_bytes", &swap_max) &&
                           swap_max <= c->limit);
        goto check_swap;
    }
    if (!first[0]) {
        if (!root && v1[0])
            snprintf(first, sizeof first, "the memory controller is cgroup v1 here (%s), where only "
                                          "root may create a cgroup", V1_MEMORY);
        else if (!root)
            snprintf(first, sizeof first, "no cgroup this user may create: no systemd user session "
                                          "(systemd-run --user) to delegate one");
        else
            snprintf(first, sizeof first, "this machine has no memory cgroup controller mounted");
    }
    snprintf(why, len, "%s. Run it as root (sudo %s ...), or as a user with a systemd session on a "
                       "cgroup v2 system, or in a container limited from outside: docker run -m 64m "
                       "--memory-swap 64m ...", first, demo);
    return -1;

check_swap:
    if (!c->swap_limited) {
        c->kind = CONFINE_NONE;
        snprintf(why, len, "swap is on and %s cannot limit it (boot with swapaccount=1, or turn swap "
                           "off): the child could push the machine into swap", c->dir);
        confine_teardown(c);
        return -1;
    }
    return 0;
}

int confine_enter(const struct confine *c)
{
    char pid[32];
    if (c->kind != CONFINE_V1 && c->kind != CONFINE_V2)
        return 0;
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    return write_file(c->dir, "cgroup.procs", pid);
}

int confine_scope_argv(const struct confine *c, const char **argv, size_t max, char *buf, size_t len)
{
    if (max < 9) {
        errno = ENOSPC;
        return -1;
    }
    int n = snprintf(buf, len, "MemoryMax=%llu", (unsigned long long)c->limit);
    if (n < 0 || (size_t)n >= len) {
        errno = ENOSPC;
        return -1;
    }
    const char *fixed[] = {"systemd-run", "--user", "--scope", "--quiet", "-p", buf, "-p",
                           "MemorySwapMax=0", NULL};
    for (size_t i = 0; i < 9; i++)
        argv[i] = fixed[i];
    return 8;
}

int confine_verify_self(uint64_t max_bytes, char *dir, size_t dirlen, char *why, size_t len)
{
    char v2[256], v1[256];
    own_membership(v2, sizeof v2, v1, sizeof v1);
    const char *mount = v2_mount();
    uint64_t limit = UINT64_MAX;
    dir[0] = '\0';
    if (v1[0] && is_fs(V1_MEMORY, CGROUP1_MAGIC)) {
        snprintf(dir, dirlen, "%s%s", V1_MEMORY, strcmp(v1, "/") == 0 ? "" : v1);
        if (!read_limit(dir, "memory.limit_in_bytes", &limit))
            limit = UINT64_MAX;
    } else if (v2[0] && mount) {
        snprintf(dir, dirlen, "%s%s", mount, strcmp(v2, "/") == 0 ? "" : v2);
        if (!read_limit(dir, "memory.max", &limit))
            limit = UINT64_MAX;
    }
    if (limit > max_bytes) {
        /* v1 writes "no limit" as the largest page-aligned 63-bit number */
        bool unlimited = limit >= (UINT64_C(1) << 62);
        snprintf(why, len, "this process's cgroup (%s) has %s; refusing to allocate without a limit "
                           "of at most %llu bytes", dir[0] ? dir : "none found",
                 unlimited ? "no memory limit" : "a larger memory limit",
                 (unsigned long long)max_bytes);
        return -1;
    }
    return 0;
}

static bool read_pair(const char *dir, const char *file, const char *key, uint64_t *value)
{
    char path[640];
    struct procfs_want w = {key, 0, false};
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (procfs_read_pairs(path, &w, 1) != PROCFS_OK || !w.present)
        return false;
    *value = w.value;
    return true;
}

bool confine_oom_kills(const char *dir, uint64_t *count)
{
    return read_pair(dir, "memory.events", "oom_kill", count) ||
           read_pair(dir, "memory.oom_control", "oom_kill", count);
}

bool confine_peak(const char *dir, uint64_t *bytes)
{
    return read_limit(dir, "memory.peak", bytes) || read_limit(dir, "memory.max_usage_in_bytes", bytes);
}

void confine_teardown(struct confine *c)
{
    /* Only a cgroup made here is removed: never an inherited one. */
    if (c->created && !cleanup_dir[0])
        snprintf(cleanup_dir, sizeof cleanup_dir, "%s", c->dir);
    cleanup(); /* kills a tracked child first */
    c->dir[0] = '\0';
    c->created = false;
}

/* A cgroup named by an older vmlab: "vmlab-PID". Its PID was of the
 * namespace it ran in, which we cannot know; it is a leftover only when no
 * process has that PID here, or a zombie or a kernel thread (never a run of
 * vmlab) has it. */
static bool legacy_gone(const char *pid_text)
{
    char path[300], text[512], state;
    uint64_t start;
    snprintf(path, sizeof path, "/proc/%s/stat", pid_text);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return false;
    text[n] = '\0';
    if (!runid_parse_stat(text, &state, &start))
        return false;
    if (state == 'Z' || state == 'X')
        return true;
    /* A kernel thread has no command line. */
    snprintf(path, sizeof path, "/proc/%s/cmdline", pid_text);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, text, 1);
    close(fd);
    return n == 0;
}

static void sweep_dir(const char *parent, char *report, size_t len)
{
    DIR *d = opendir(parent);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *tail = e->d_name + 6;
        struct runid id;
        bool gone;
        if (strncmp(e->d_name, "vmlab-", 6) != 0)
            continue;
        if (runid_parse(tail, &id))
            gone = runid_state(&id) == RUNID_GONE; /* alive, or cannot tell: leave it */
        else if (tail[0] && strspn(tail, "0123456789") == strlen(tail) && strlen(tail) < 12)
            gone = legacy_gone(tail);
        else
            continue; /* not a name vmlab gives */
        if (!gone)
            continue;
        char path[640];
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        if (rmdir(path) == 0) { /* only an empty cgroup can be removed */
            size_t used = strlen(report);
            snprintf(report + used, len - used, "%sremoved %s, left by a vmlab run that has ended",
                     used ? "; " : "", path);
        }
    }
    closedir(d);
}

void confine_sweep_leftovers(char *report, size_t len)
{
    char v2[256], v1[256];
    report[0] = '\0';
    own_membership(v2, sizeof v2, v1, sizeof v1);
    const char *mount = v2_mount();
    if (mount)
        sweep_dir(mount, report, len);
    if (v1[0] && is_fs(V1_MEMORY, CGROUP1_MAGIC)) {
        char parent[512];
        snprintf(parent, sizeof parent, "%s%s", V1_MEMORY, strcmp(v1, "/") == 0 ? "" : v1);
        sweep_dir(parent, report, len);
    }
}
