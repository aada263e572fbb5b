/* sysctl: temporary /proc/sys/vm changes with a lock, a state file and
 * restore on every exit path. See sysctl.h for the life of a change. */
#define _GNU_SOURCE
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "procfs.h"

#define MAX_SAVED 8

/* The candidates for the lock and the record, in order (see sysctl.h). */
static const char *const state_dirs[] = {VMLAB_RUN_DIR, "/dev/shm/vmlab", "/tmp/vmlab"};
#define NSTATE_DIRS (sizeof state_dirs / sizeof state_dirs[0])

static char state_dir[64];
static char lock_path[96];
static char state_path[96];

struct saved {
    char name[40];
    char path[80];
    char value[24];   /* the original, formatted for write() */
    size_t len;
    bool skip;        /* restored through its partner (ratio/kbytes) */
    int order;        /* overcommit_memory 0, ratio/kbytes 1, the rest 2 */
};

static struct saved saved[MAX_SAVED];
static char failed_call[160] = "sysctl";
static volatile sig_atomic_t nsaved;
static int lock_fd = -1;
static pid_t owner;
static bool armed;

static int write_knob(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, len);
    int saved_errno = errno;
    close(fd);
    errno = saved_errno;
    return n == (ssize_t)len ? 0 : -1;
}

int sysctl_write(const char *name, uint64_t value)
{
    char path[96], text[24];
    if (strchr(name, '/')) {
        errno = EINVAL;
        return -1;
    }
    snprintf(path, sizeof path, "/proc/sys/vm/%s", name);
    int len = snprintf(text, sizeof text, "%llu\n", (unsigned long long)value);
    return write_knob(path, text, (size_t)len);
}

static int order_of(const char *name)
{
    if (strcmp(name, "overcommit_memory") == 0)
        return 0;
    if (strcmp(name, "overcommit_ratio") == 0 || strcmp(name, "overcommit_kbytes") == 0)
        return 1;
    return 2;
}

/* Async-signal-safe: only open/write/close/unlink and plain loads. */
void sysctl_restore(void)
{
    if (nsaved == 0 || getpid() != owner)
        return;
    for (int order = 0; order <= 2; order++)
        for (int i = 0; i < nsaved; i++)
            if (saved[i].order == order && !saved[i].skip)
                write_knob(saved[i].path, saved[i].value, saved[i].len);
    unlink(state_path);
    nsaved = 0;
}

static void restore_at_exit(void)
{
    sysctl_restore();
}

static void restore_on_signal(int signo)
{
    int saved_errno = errno;
    sysctl_restore();
    /* Die of the same signal, so that the shell sees what happened. */
    (void)signal(signo, SIG_DFL);
    raise(signo);
    /* raise() returns: every signal is blocked in this handler, so the
     * signal stays pending and kills us as soon as the handler returns. */
    // cppcheck-suppress unreachableCode
    errno = saved_errno;
}

static int arm(void)
{
    if (armed)
        return 0;
    if (atexit(restore_at_exit) != 0)
        return -1; /* no restore at exit: then no change at all */
    armed = true;
    static const int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = restore_on_signal;
    sigfillset(&sa.sa_mask); /* no second signal inside the restore */
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigaction(signals[i], &sa, NULL);
    return 0;
}

/* Adds name=value (the original) to the table; decides the ratio/kbytes
 * partner rule once both are in. */
static int remember(const char *name, uint64_t value)
{
    for (int i = 0; i < nsaved; i++)
        if (strcmp(saved[i].name, name) == 0)
            return 0;
    if (nsaved == MAX_SAVED) {
        errno = ENOSPC;
        return -1;
    }
    struct saved *s = &saved[nsaved];
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->path, sizeof s->path, "/proc/sys/vm/%s", name);
    s->len = (size_t)snprintf(s->value, sizeof s->value, "%llu\n", (unsigned long long)value);
    s->order = order_of(name);
    s->skip = false;
    nsaved = nsaved + 1;

    /* Of the pair, restore only the one in force: kbytes if it was set. */
    struct saved *ratio = NULL, *kbytes = NULL;
    for (int i = 0; i < nsaved; i++) {
        if (strcmp(saved[i].name, "overcommit_ratio") == 0)
            ratio = &saved[i];
        else if (strcmp(saved[i].name, "overcommit_kbytes") == 0)
            kbytes = &saved[i];
    }
    if (ratio && kbytes) {
        bool kbytes_in_force = strcmp(kbytes->value, "0\n") != 0;
        kbytes->skip = !kbytes_in_force;
        ratio->skip = kbytes_in_force;
    }
    return 0;
}

static int write_state_file(void)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s.new", state_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    fprintf(f, "pid %ld\n", (long)getpid());
    for (int i = 0; i < nsaved; i++)
        fprintf(f, "%s %s", saved[i].name, saved[i].value);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, state_path);
}

const char *sysctl_failed_call(void)
{
    return failed_call;
}

int sysctl_set(const char *name, uint64_t value)
{
    if (lock_fd < 0 || strchr(name, '/')) {
        errno = EINVAL;
        return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old); /* the table changes: no restore now */
    int rc = 0;
    bool pair = order_of(name) == 1;
    const char *names[2] = {name, NULL};
    if (pair) {
        names[0] = "overcommit_ratio";
        names[1] = "overcommit_kbytes";
    }
    for (int i = 0; i < 2 && names[i] && rc == 0; i++) {
        uint64_t original;
        if (procfs_read_vm_sysctl(names[i], &original) != PROCFS_OK || remember(names[i], original) != 0) {
            snprintf(failed_call, sizeof failed_call, "read /proc/sys/vm/%s", names[i]);
            rc = -1;
        }
    }
    if (rc == 0 && (rc = write_state_file()) != 0)
        snprintf(failed_call, sizeof failed_call, "write %s (the record of original values)", state_path);
    if (rc == 0 && (rc = sysctl_write(name, value)) != 0)
        snprintf(failed_call, sizeof failed_call, "write /proc/sys/vm/%s", name);
    int saved_errno = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = saved_errno;
    return rc;
}

/* Reads a state file left by a run that did not finish, restores it. */
static void repair(char *repaired, size_t len)
{
    FILE *f = fopen(state_path, "re");
    repaired[0] = '\0';
    if (!f)
        return;
    char line[96], list[256] = "";
    long pid = 0;
    while (fgets(line, sizeof line, f)) {
        /* "name value" - anything else is not ours and is skipped */
        char *space = strchr(line, ' '), *end;
        if (!space || space == line || (size_t)(space - line) >= 40)
            continue;
        *space = '\0';
        const char *name = line;
        errno = 0;
        unsigned long long value = strtoull(space + 1, &end, 10);
        if (errno || end == space + 1 || (*end != '\n' && *end != '\0'))
            continue;
        if (strcmp(name, "pid") == 0) {
            pid = (long)value;
            continue;
        }
        if (strchr(name, '/') || remember(name, value) != 0)
            continue;
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s=%llu", used ? ", " : "", name, value);
    }
    (void)fclose(f); /* read-only: nothing to lose */
    owner = getpid();
    sysctl_restore();
    unlink(state_path); /* also when it held nothing to restore */
    snprintf(repaired, len,
             "restored %s, left changed by vmlab run PID %ld, which was killed before it "
             "could put them back",
             list[0] ? list : "nothing (the state file was empty)", pid);
}

/* A directory vmlab may trust: a real directory (not a symlink), owned by
 * this user, closed to everyone else. */
static bool trusted_dir(const struct stat *st)
{
    return S_ISDIR(st->st_mode) && st->st_uid == geteuid() && (st->st_mode & 0077) == 0;
}

/* Picks the first usable candidate, creating it (0700) when missing. An
 * existing candidate that is not trusted stops the search: errno EPERM and
 * `why` says which and what to do. No usable one: errno EROFS and `why`
 * lists what was tried. */
static int choose_state_dir(char *why, size_t len)
{
    char tried[512] = "";
    for (size_t i = 0; i < NSTATE_DIRS; i++) {
        const char *dir = state_dirs[i];
        int made = mkdir(dir, 0700);
        int err = errno;
        struct stat st;
        if (made != 0 && err != EEXIST) {
            size_t used = strlen(tried);
            char e[24];
            snprintf(tried + used, sizeof tried - used, "%s%s (%s)", used ? ", " : "", dir,
                     errno_name(err, e, sizeof e));
            continue;
        }
        if (lstat(dir, &st) != 0 || !trusted_dir(&st)) {
            snprintf(why, len, "%s exists but is not vmlab's own (a directory of this user, mode "
                               "0700): remove it (rm -r %s) if nothing else uses it", dir, dir);
            errno = EPERM;
            return -1;
        }
        if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) != 0) { /* e.g. remounted read-only */
            size_t used = strlen(tried);
            char e[24];
            snprintf(tried + used, sizeof tried - used, "%s%s (%s)", used ? ", " : "", dir,
                     errno_name(errno, e, sizeof e));
            continue;
        }
        snprintf(state_dir, sizeof state_dir, "%s", dir);
        snprintf(lock_path, sizeof lock_path, "%s/lock", dir);
        snprintf(state_path, sizeof state_path, "%s/saved-state", dir);
        return 0;
    }
    snprintf(why, len, "there is no place to keep vmlab's lock and undo record: %s; make one of "
                       "them writable for root, e.g. mount -t tmpfs -o mode=0755 tmpfs /run", tried);
    errno = EROFS;
    return -1;
}

const char *sysctl_state_dir(void)
{
    return state_dir;
}

static int take_lock(const char *demo)
{
    char why[640];
    if (choose_state_dir(why, sizeof why) != 0)
        return -1;
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock_fd < 0)
        return -1;
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            return -1;
        fprintf(stderr, "%s: another vmlab demo is changing system settings; waiting for it\n", demo);
        while (flock(lock_fd, LOCK_EX) != 0)
            if (errno != EINTR)
                return -1;
    }
    return 0;
}

int sysctl_may_change(const char *name, char *why, size_t len)
{
    char path[96];
    why[0] = '\0';
    if (name[0] == '\0' || strchr(name, '/') || strlen(name) > 40) {
        snprintf(why, len, "\"%s\" is not a /proc/sys/vm setting vmlab changes", name);
        return -1;
    }
    if (geteuid() != 0) {
        snprintf(why, len, "changing /proc/sys/vm/%s needs root: run the demo with sudo", name);
        return -1;
    }
    snprintf(path, sizeof path, "/proc/sys/vm/%s", name);
    /* Opening for writing writes nothing, and meets every check a write would. */
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        char buf[24];
        const char *e = errno_name(err, buf, sizeof buf);
        if (err == EROFS)
            snprintf(why, len, "/proc/sys is read-only here (a container): vm.%s can only be changed "
                               "from outside, on the host (sysctl -w vm.%s=VALUE) or by starting the "
                               "container with --privileged", name, name);
        else if (err == EACCES || err == EPERM)
            snprintf(why, len, "this root may not write /proc/sys/vm/%s (%s): it is root only inside a "
                               "user namespace (a rootless container), and the setting belongs to the "
                               "host; run the demo as root on the host (sudo)", name, e);
        else if (err == ENOENT)
            snprintf(why, len, "this kernel has no /proc/sys/vm/%s (is /proc mounted? mount -t proc "
                               "proc /proc)", name);
        else
            snprintf(why, len, "cannot open /proc/sys/vm/%s for writing (%s)", name, e);
        return -1;
    }
    close(fd);
    if (choose_state_dir(why, len) != 0)
        return -1;
    return 0;
}

int sysctl_begin(const char *demo, char *repaired, size_t len)
{
    owner = getpid();
    if (take_lock(demo) != 0) {
        int saved_errno = errno;
        if (lock_fd >= 0)
            close(lock_fd);
        lock_fd = -1;
        errno = saved_errno;
        return -1;
    }
    repair(repaired, len);
    if (arm() != 0) {
        sysctl_end();
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void sysctl_end(void)
{
    sysctl_restore();
    if (lock_fd >= 0) {
        close(lock_fd); /* releases the flock */
        lock_fd = -1;
    }
}

int sysctl_repair_leftovers(const char *demo, char *repaired, size_t len)
{
    repaired[0] = '\0';
    bool left = false;
    for (size_t i = 0; i < NSTATE_DIRS && !left; i++) {
        char path[96];
        snprintf(path, sizeof path, "%s/saved-state", state_dirs[i]);
        left = access(path, F_OK) == 0;
    }
    if (!left)
        return 0; /* the common case: nothing left, no lock needed */
    if (sysctl_begin(demo, repaired, len) != 0)
        return -1;
    sysctl_end();
    return 0;
}

void sysctl_child_after_fork(void)
{
    owner = 0; /* restore() checks the PID: this process restores nothing */
    if (lock_fd >= 0) {
        close(lock_fd);
        lock_fd = -1;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}
