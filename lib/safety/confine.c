/* SPDX-License-Identifier: MIT */
/* confine: memory-limited cgroups for the OOM experiments. See confine.h. */
#define _GNU_SOURCE
#include "confine.h"
#include "confine-child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "procfs.h"
#include "runid.h"
#include "sysctl.h"
#include "undo.h"

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return procfs_write_text(path, text);
}

/* Appends one line of what setup did to c->actions (step 1 shows them). */
#define did(c, ...) text_append((c)->actions, sizeof (c)->actions, "\n", __VA_ARGS__)

static bool has_word(const char *dir, const char *name, const char *word)
{
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return procfs_lists_word(path, word);
}

static bool no_swap(void)
{
    return procfs_read_one("/proc/meminfo", "SwapTotal") <= 0;
}

/* ---- cleanup on every way out (registered with lib/safety/undo) ---- */

static char cleanup_dir[512];
/* A v2 delegation's moves (setup_v2_delegated), to undo: paths and text made in advance. */
static char undo_subtree[640], undo_procs[640], undo_leaf[512];
static char undo_pids[CGROUP_MAX_MOVED][24]; /* moved to the leaf, to move back */
static volatile sig_atomic_t undo_npids;

/* Async-signal-safe (kill, waitpid, rmdir, nanosleep, open, write). After the victim's
 * cgroup is gone: -memory in the delegated cgroup, the moved processes back into it
 * (those still alive), the leaf removed. Best effort: a later run's sweep sees the rest. */
static void cleanup(void)
{
    undo_end_child(); /* the child leaves the cgroup first */
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
    if (undo_subtree[0])
        (void)procfs_write_text(undo_subtree, "-memory");
    if (undo_procs[0])
        for (sig_atomic_t i = 0; i < undo_npids; i++)
            (void)procfs_write_text(undo_procs, undo_pids[i]);
    if (undo_leaf[0])
        (void)rmdir(undo_leaf);
    undo_subtree[0] = undo_procs[0] = undo_leaf[0] = '\0';
    undo_npids = 0;
}

void confine_track_child(pid_t pid)
{
    (void)undo_track_child(pid); /* fails only if atexit did: signals are still covered */
}

int confine_run_child(const struct confine *c, int (*run)(void *ctx), void *ctx)
{
    pid_t pid = undo_fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (confine_enter(c) != 0) {
            fprintf(stderr, "cannot join %s: %s\n", c->dir, strerror(errno));
            _exit(1);
        }
        int code = run(ctx);
        (void)fflush(NULL);
        _exit(code);
    }
    confine_track_child(pid);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    confine_track_child(0);
    return status;
}

/* ---- the methods ---- */

/* The cgroup's name says which run made it, across PID namespaces:
 * vmlab-NS-PID-START (lib/safety/runid), so that a sweep never takes the cgroup of
 * a live run in another namespace for a leftover. On failure the caller's tried()
 * removes what was made. */
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
        return -1;
    }
    c->created = true;
    did(c, "mkdir %s", c->dir);
    snprintf(cleanup_dir, sizeof cleanup_dir, "%s", c->dir);
    if (undo_register(cleanup) != 0) { /* from here on, every exit removes it */
        snprintf(why, len, "cannot register the cleanup of %s (atexit)", c->dir);
        return -1;
    }
    return 0;
}

/* echo text > dir/name, and say so in the actions; false (errno set) when
 * the write failed. */
static bool echo(struct confine *c, const char *dir, const char *name, const char *text)
{
    if (write_file(dir, name, text) != 0)
        return false;
    did(c, "echo %s > %s/%s", text, dir, name);
    return true;
}

/* The same for a write the method cannot do without: -1 and why. */
static int must_echo(struct confine *c, const char *dir, const char *name, const char *text,
                     char *why, size_t len)
{
    if (echo(c, dir, name, text))
        return 0;
    snprintf(why, len, "cannot write %s to %s/%s: %s", text, dir, name, strerror(errno));
    return -1;
}

/* Both versions start alike: the victim's cgroup under `parent`, its
 * limit_file set to the limit and read back. */
static int make_limited(struct confine *c, const char *parent, const char *limit_file,
                        uint64_t limit, char *why, size_t len)
{
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)limit);
    if (make_dir(c, parent, why, len) != 0 || must_echo(c, c->dir, limit_file, text, why, len) != 0)
        return -1;
    if (!cgroup_read(c->dir, limit_file, &c->limit) || c->limit > limit) {
        snprintf(why, len, "%s in %s did not take the limit", limit_file, c->dir);
        return -1;
    }
    return 0;
}

/* The victim's cgroup under `parent`, which hands it the memory controller:
 * memory.max, no swap, and the whole group killed together. */
static int setup_v2(struct confine *c, const char *parent, uint64_t limit, char *why, size_t len)
{
    if (make_limited(c, parent, "memory.max", limit, why, len) != 0)
        return -1;
    c->swap_limited = echo(c, c->dir, "memory.swap.max", "0") || no_swap();
    (void)echo(c, c->dir, "memory.oom.group", "1"); /* kill the whole group: no survivors */
    c->kind = CONFINE_V2;
    return 0;
}

/* As root on the v2 root: enable +memory there (the root cgroup may have
 * processes and still hand out controllers), then the victim's cgroup. */
static int setup_v2_root(struct confine *c, const char *mount, uint64_t limit, char *why, size_t len)
{
    if (!has_word(mount, "cgroup.subtree_control", "memory") &&
        must_echo(c, mount, "cgroup.subtree_control", "+memory", why, len) != 0)
        return -1;
    return setup_v2(c, mount, limit, why, len);
}

/* May uid write path? By ownership and mode, as the kernel would check it,
 * but for a uid given (root: always), so that tests can ask for anyone. */
static bool may_write(const char *path, uid_t uid)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    return uid == 0 || (st.st_uid == uid && (st.st_mode & S_IWUSR)) || (st.st_mode & S_IWOTH);
}

int cgroup_plan_delegation(const char *mount, const char *rel, uid_t uid, pid_t self,
                           struct cgroup_delegation *plan, char *why, size_t len)
{
    memset(plan, 0, sizeof *plan);
    cgroup_dir(plan->own, sizeof plan->own, mount, rel);
    if (!has_word(plan->own, "cgroup.controllers", "memory")) {
        snprintf(why, len, "the memory controller is not delegated to %s (not in its "
                           "cgroup.controllers)", plan->own);
        return -1;
    }
    static const char *const mine[] = {"", "/cgroup.procs", "/cgroup.subtree_control"};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++) {
        char path[640];
        snprintf(path, sizeof path, "%s%s", plan->own, mine[i]);
        if (!may_write(path, uid)) {
            snprintf(why, len, "your cgroup %s is not delegated to you (%s is not yours to write)",
                     plan->own, path);
            return -1;
        }
    }
    if (has_word(plan->own, "cgroup.subtree_control", "memory"))
        return 0; /* already handed to the children: a child can be limited */
    /* No internal processes: own may enable +memory for its children only
     * when no process lives in own itself. They all move to a leaf of their
     * own first, as systemd does with a delegated unit's processes: this
     * one, and whatever else of this user's was started there (the shell,
     * the tour). They stay inside the same delegated subtree, under no new
     * limit, and go back when the lesson ends. */
    char path[640], line[64];
    snprintf(path, sizeof path, "%s/cgroup.procs", plan->own);
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(why, len, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    plan->pids[plan->npids++] = (long)self;
    bool too_many = false;
    while (fgets(line, sizeof line, f)) {
        long pid = strtol(line, NULL, 10);
        if (pid <= 0 || pid == (long)self)
            continue;
        if (plan->npids == CGROUP_MAX_MOVED)
            too_many = true;
        else
            plan->pids[plan->npids++] = pid;
    }
    (void)fclose(f); /* read-only: nothing to lose */
    if (too_many) {
        snprintf(why, len, "your cgroup %s holds more than %d processes: cgroup v2 lets a cgroup "
                           "with processes in it hand no memory controller to its children, and "
                           "this demo moves at most %d of them to a leaf", plan->own,
                 CGROUP_MAX_MOVED, CGROUP_MAX_MOVED);
        return -1;
    }
    plan->move_to_leaf = true;
    plan->enable_memory = true;
    return 0;
}

/* A cgroup v2 subtree this user owns: a systemd unit with Delegate=, a
 * container with its own cgroup namespace, a user's scope. */
static int setup_v2_delegated(struct confine *c, const char *mount, const char *rel, uint64_t limit,
                              char *why, size_t len)
{
    struct cgroup_delegation plan;
    pid_t self = getpid();
    if (cgroup_plan_delegation(mount, rel, geteuid(), self, &plan, why, len) != 0)
        return -1;
    snprintf(c->delegated, sizeof c->delegated, "%s", plan.own);
    if (plan.move_to_leaf) {
        char leaf[512];
        snprintf(leaf, sizeof leaf, "%.470s/vmlab-%ld-supervisor", plan.own, (long)self);
        if (mkdir(leaf, 0755) != 0) {
            snprintf(why, len, "cannot create %s: %s", leaf, strerror(errno));
            return -1;
        }
        did(c, "mkdir %s", leaf);
        snprintf(undo_leaf, sizeof undo_leaf, "%s", leaf);
        (void)undo_register(cleanup); /* from here on, every exit undoes the moves */
        snprintf(undo_procs, sizeof undo_procs, "%s/cgroup.procs", plan.own);
        for (size_t i = 0; i < plan.npids; i++) {
            char pid[24];
            snprintf(pid, sizeof pid, "%ld", plan.pids[i]);
            if (write_file(leaf, "cgroup.procs", pid) != 0) {
                if (errno == ESRCH && i > 0)
                    continue; /* it ended meanwhile */
                snprintf(why, len, "cannot move PID %s to %s: %s", pid, leaf, strerror(errno));
                return -1;
            }
            snprintf(undo_pids[undo_npids], sizeof undo_pids[0], "%s", pid);
            undo_npids = undo_npids + 1;
            did(c, "echo %s > %s/cgroup.procs%s", pid, leaf,
                plan.pids[i] == (long)self ? "   (this process)" : "   (another of yours)");
        }
    }
    if (plan.enable_memory) {
        if (must_echo(c, plan.own, "cgroup.subtree_control", "+memory", why, len) != 0)
            return -1;
        snprintf(undo_subtree, sizeof undo_subtree, "%s/cgroup.subtree_control", plan.own);
    }
    return setup_v2(c, plan.own, limit, why, len);
}

static int setup_v1(struct confine *c, const char *own, uint64_t limit, char *why, size_t len)
{
    char parent[512], text[32];
    uint64_t disabled;
    cgroup_dir(parent, sizeof parent, CGROUP_V1_MEMORY, own);
    snprintf(text, sizeof text, "%llu", (unsigned long long)limit);
    if (make_limited(c, parent, "memory.limit_in_bytes", limit, why, len) != 0)
        return -1;
    /* memsw (memory + swap) exists only with swap accounting; it must not be
     * set below memory.limit_in_bytes, so it comes second. */
    c->swap_limited = echo(c, c->dir, "memory.memsw.limit_in_bytes", text) || no_swap();
    (void)echo(c, c->dir, "memory.oom_control", "0"); /* the OOM killer on, not a hang */
    if (!cgroup_read_key(c->dir, "memory.oom_control", "oom_kill_disable", &disabled) || disabled) {
        snprintf(why, len, "%s has the OOM killer disabled: the child would hang, not die", c->dir);
        return -1;
    }
    c->kind = CONFINE_V1;
    return 0;
}

/* /proc/cgroups: "memory HIERARCHY NUM_CGROUPS ENABLED". Without the file
 * (or the line), guess from what is mounted rather than blame the kernel. */
static void read_proc_cgroups(struct confine_env *env)
{
    env->memory_enabled = true;
    env->memory_on_v1 = env->v1_mounted;
    FILE *f = fopen("/proc/cgroups", "re");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "memory", 6) != 0 || (line[6] != ' ' && line[6] != '\t'))
            continue;
        char *end;
        unsigned long hierarchy = strtoul(line + 6, &end, 10);
        (void)strtoul(end, &end, 10); /* the number of cgroups */
        unsigned long enabled = strtoul(end, NULL, 10);
        env->memory_enabled = enabled != 0;
        env->memory_on_v1 = hierarchy != 0;
    }
    if (f)
        (void)fclose(f); /* read-only: nothing to lose */
}

void confine_explain_missing(const struct confine_env *env, char *why, size_t len)
{
    char demo[256]; /* the command that runs this program again, where the student is */
    run_again_command(demo, sizeof demo);
    static const char container[] = "or run it in a container limited from outside "
                                    "(docker run -m 128m --memory-swap 128m ...)";
    const char *failure = env->failure[0] ? env->failure : "no cgroup of yours is delegated to you";
    if (!env->memory_enabled)
        snprintf(why, len, "this kernel has no memory cgroup controller enabled (/proc/cgroups): "
                           "boot it with cgroup_enable=memory");
    else if (env->memory_on_v1 && !env->v1_mounted)
        snprintf(why, len, "the memory controller belongs to cgroup v1 here, and no v1 memory "
                           "hierarchy is mounted: %smount -t cgroup -o memory none "
                           "/sys/fs/cgroup/memory", env->root ? "" : "as root, ");
    else if (!env->memory_on_v1 && !env->v2_mounted)
        snprintf(why, len, "cgroup2 is not mounted, and this kernel's memory controller is not "
                           "on cgroup v1: %smount -t cgroup2 none /sys/fs/cgroup",
                 env->root ? "" : "as root, ");
    else if (env->root)
        snprintf(why, len, "%s, although running as root: give it a writable memory cgroup "
                           "hierarchy, %s", env->failure[0] ? env->failure
                                                            : "no memory cgroup could be created",
                 container);
    else if (env->memory_on_v1)
        snprintf(why, len, "the memory controller is cgroup v1 here, where only root may create a "
                           "cgroup: sudo %s, %s", demo, container);
    else if (env->systemd_user)
        snprintf(why, len, "%s: systemd-run --user --scope -p Delegate=yes %s", failure, demo);
    else
        snprintf(why, len, "%s, and there is no systemd user session (systemd-run --user) to "
                           "delegate one: log in to a session and run systemd-run --user --scope "
                           "-p Delegate=yes %s, %s", failure, demo, container);
}

/* Starts over: nothing made, no limit known. */
static void reset(struct confine *c)
{
    memset(c, 0, sizeof *c);
    c->effective.bytes = UINT64_MAX;
}

/* A method's outcome rc: 0, or -1 with its reason kept for the 77 and what it made undone. */
static int tried(struct confine *c, struct confine_env *env, int rc, const char *reason)
{
    if (rc == 0)
        return 0;
    if (!env->failure[0])
        snprintf(env->failure, sizeof env->failure, "%.500s", reason);
    confine_teardown(c);
    reset(c);
    return -1;
}

int confine_setup(struct confine *c, const char *demo, uint64_t limit, char *why, size_t len)
{
    (void)demo; /* its 77 names the command line that runs it again, not a bare name */
    char reason[1024];
    struct confine_env env;
    struct cgroup_self s;
    reset(c);
    memset(&env, 0, sizeof env);
    cgroup_self(&s);
    const char *mount = s.v2_mount;
    env.root = geteuid() == 0;
    env.v1_mounted = s.v1_mounted;
    read_proc_cgroups(&env);
    env.v2_mounted = mount != NULL;
    env.v2_memory = mount && has_word(mount, "cgroup.controllers", "memory");
    env.systemd_user = mount && strcmp(mount, "/sys/fs/cgroup") == 0 &&
                       access("/usr/bin/systemd-run", X_OK) == 0 && getenv("XDG_RUNTIME_DIR");

    /* The child reads its cgroup's limit back as this process reads its
     * own (confine_verify_self): where that cannot be done, no method can
     * be verified. */
    if (s.limit.unknown[0]) {
        snprintf(why, len, "cannot read which memory cgroup this process is in: %s",
                 s.limit.unknown);
        return -1;
    }
    /* 1. cgroup v2 as root, at the root; 2. in a subtree this user owns
     * (a container's own cgroup namespace, a unit with Delegate=); s.rel is the
     * memory hierarchy's: v2's where its root lists memory. */
    int rc = -1;
    if (env.v2_memory && env.root)
        rc = tried(c, &env, setup_v2_root(c, mount, limit, reason, sizeof reason), reason);
    if (rc != 0 && env.v2_memory && s.rel[0])
        rc = tried(c, &env, setup_v2_delegated(c, mount, s.rel, limit, reason, sizeof reason),
                   reason);
    /* 3. cgroup v1 as root. */
    if (rc != 0 && env.root && env.v1_mounted)
        rc = tried(c, &env, setup_v1(c, s.rel, limit, reason, sizeof reason), reason);
    /* 4. A systemd user scope, which the child enters by exec. */
    if (rc != 0 && !env.root && env.v2_memory && env.systemd_user) {
        c->kind = CONFINE_SYSTEMD_SCOPE;
        c->limit = limit;
        c->swap_limited = true; /* MemorySwapMax=0; the child verifies what it got */
        did(c, "systemd-run --user --scope -p MemoryMax=%llu -p MemorySwapMax=0 -- (the victim)",
            (unsigned long long)limit);
        return 0;
    }
    /* 5. Already confined from outside: stay in this cgroup. */
    if (rc != 0 && s.limit.bytes > CONFINE_INHERITED_MAX) {
        confine_explain_missing(&env, why, len);
        return -1;
    }
    if (rc != 0) {
        c->kind = CONFINE_INHERITED;
        snprintf(c->dir, sizeof c->dir, "%s", s.dir);
        c->effective = s.limit;
        c->limit = UINT64_MAX;
        if (!cgroup_read(s.dir, "memory.max", &c->limit))
            (void)cgroup_read(s.dir, "memory.limit_in_bytes", &c->limit);
        /* Swap is capped only by memsw no larger than the limit in force, which may be
         * an ancestor's, smaller than this cgroup's own. */
        c->swap_limited = no_swap() || cgroup_swap_capped(s.dir, c->effective.bytes);
    }
    if (c->kind == CONFINE_V1 || (c->kind == CONFINE_V2 && mount)) { /* made under the mount */
        const char *root = c->kind == CONFINE_V1 ? CGROUP_V1_MEMORY : mount;
        (void)cgroup_effective_limit(root, c->dir + strlen(root), c->kind == CONFINE_V1,
                                     &c->effective);
    }
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

int confine_verify_self(uint64_t max_bytes, char *dir, size_t dirlen, char *why, size_t len)
{
    struct cgroup_self s;
    cgroup_self(&s);
    snprintf(dir, dirlen, "%s", s.dir);
    if (s.limit.bytes <= max_bytes)
        return 0;
    if (s.limit.unknown[0])
        snprintf(why, len, "this process's memory limit cannot be read (%s); refusing to allocate "
                           "without a limit of at most %llu bytes", s.limit.unknown,
                 (unsigned long long)max_bytes);
    else
        snprintf(why, len, "this process's cgroup (%s) has %s; refusing to allocate without a "
                           "limit of at most %llu bytes", s.dir[0] ? s.dir : "none found",
                 s.limit.bytes == UINT64_MAX ? "no memory limit, nor has any cgroup above it"
                                             : "a larger memory limit",
                 (unsigned long long)max_bytes);
    return -1;
}

bool confine_oom_kills(const char *dir, uint64_t *count)
{
    return cgroup_read_key(dir, "memory.events", "oom_kill", count) ||
           cgroup_read_key(dir, "memory.oom_control", "oom_kill", count);
}

bool confine_peak(const char *dir, uint64_t *bytes)
{
    return cgroup_read(dir, "memory.peak", bytes) ||
           cgroup_read(dir, "memory.max_usage_in_bytes", bytes);
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
    ssize_t n = procfs_read_text(path, text, sizeof text);
    if (n < 0)
        return errno == ENOENT;
    if (n == 0 || !runid_parse_stat(text, &state, &start))
        return false;
    if (state == 'Z' || state == 'X')
        return true;
    /* A kernel thread has no command line. */
    snprintf(path, sizeof path, "/proc/%s/cmdline", pid_text);
    return procfs_read_text(path, text, 2) == 0;
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
        if (rmdir(path) == 0) /* only an empty cgroup can be removed */
            text_append(report, len, "; ", "removed %s, left by a vmlab run that has ended", path);
    }
    closedir(d);
}

void confine_sweep_leftovers(char *report, size_t len)
{
    struct cgroup_self s;
    report[0] = '\0';
    cgroup_self(&s);
    if (s.v2_mount)
        sweep_dir(s.v2_mount, report, len);
    if (s.v1_mounted)
        sweep_dir(s.dir, report, len);
}
