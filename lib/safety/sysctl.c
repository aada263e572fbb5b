/* SPDX-License-Identifier: MIT */
/* sysctl: temporary /proc/sys/vm changes with a lock, an undo record and
 * restore on every exit path. See sysctl.h for the life of a change and
 * sysctl_record.h for what the record may hold. */
#define _GNU_SOURCE
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "procfs.h"
#include "sysctl_record.h"
#include "undo.h"

/* The lock and the undo record live in the first usable one of these, all emptied at
 * boot on most systems; a record of another boot is discarded. */
static const char *const state_dirs[] = {"/run/vmlab", "/dev/shm/vmlab", "/tmp/vmlab"};
#define NSTATE_DIRS (sizeof state_dirs / sizeof state_dirs[0])
#define RECORD_NAME "saved-state"

static char state_dir[64];
static char state_path[96];
static char demo_name[32] = "vmlab";
static char failed_call[256] = "sysctl";
static int lock_fd = -1;
static pid_t owner; /* the process that took the lock: only it puts back */

/* This run's changes, as the record on disk has them; nchanged of them are
 * put back (0 once they are, and in a forked child). */
static struct sysctl_record changes;
static volatile sig_atomic_t nchanged;
static volatile sig_atomic_t restore_failed;

/* ---- putting a record back: at exit and in a signal handler (only open, read, write,
 * close, and string functions), and in the next run's repair ---- */

static void say(const char *text)
{
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored; /* nothing more to do if stderr is gone */
}

/* v in decimal, then a short `tail` (snprintf is not async-signal-safe). */
static char *decimal(uint64_t v, const char *tail, char buf[32])
{
    char digits[21];
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(buf, digits + i, sizeof digits - i);
    memcpy(buf + sizeof digits - i, tail, strlen(tail) + 1);
    return buf;
}

/* What putting one knob back came to. */
enum put_back { NOTHING_TO_DO, PUT_BACK, CHANGED_SINCE, UNREADABLE, FAILED };

/* Puts back each of the n knobs that still holds what its run left, overcommit_memory
 * first, and tells `tell` how each went, with what it held. False when one could not
 * be put back. */
static bool put_back_all(const struct record_knob *knobs, int n,
                         void (*tell)(const struct record_knob *k, enum put_back how,
                                      uint64_t now, void *ctx), void *ctx)
{
    bool ok = true;
    for (int later = 0; later <= 1; later++)
        for (int i = 0; i < n; i++) {
            const struct record_knob *k = &knobs[i];
            char path[sizeof "/proc/sys/vm/" + sizeof k->name] = "/proc/sys/vm/", text[32];
            int64_t now, back;
            enum put_back how = NOTHING_TO_DO;
            if ((strcmp(k->name, "overcommit_memory") != 0) != later)
                continue;
            memcpy(path + sizeof "/proc/sys/vm/" - 1, k->name, sizeof k->name);
            if (procfs_read_number(path, &now) != PROCFS_OK || now < 0)
                how = UNREADABLE;
            else if (record_may_restore(k, (uint64_t)now))
                how = procfs_write_text(path, decimal(k->original, "\n", text)) == 0 &&
                              procfs_read_number(path, &back) == PROCFS_OK &&
                              back == (int64_t)k->original ? PUT_BACK : FAILED;
            else if ((uint64_t)now != k->original)
                how = CHANGED_SINCE;
            ok = ok && how != UNREADABLE && how != FAILED;
            tell(k, how, (uint64_t)now, ctx);
        }
    return ok;
}

int sysctl_write(const char *name, uint64_t value)
{
    char path[96], text[24];
    if (name[0] == '\0' || strchr(name, '/') || strlen(name) > 40) {
        errno = EINVAL;
        return -1;
    }
    snprintf(path, sizeof path, "/proc/sys/vm/%s", name);
    snprintf(text, sizeof text, "%" PRIu64 "\n", value);
    return procfs_write_text(path, text);
}

/* ---- where the lock and the record live ---- */

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
    char tried[512] = "", e[24];
    for (size_t i = 0; i < NSTATE_DIRS; i++) {
        const char *dir = state_dirs[i];
        struct stat st;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            text_append(tried, sizeof tried, ", ", "%s (%s)", dir, errno_name(errno, e, sizeof e));
            continue;
        }
        if (lstat(dir, &st) != 0 || !trusted_dir(&st)) {
            snprintf(why, len, "%s exists but is not vmlab's own (a directory of this user, mode "
                               "0700): remove it (rm -r %s) if nothing else uses it", dir, dir);
            errno = EPERM;
            return -1;
        }
        if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) != 0) { /* e.g. remounted read-only */
            text_append(tried, sizeof tried, ", ", "%s (%s)", dir, errno_name(errno, e, sizeof e));
            continue;
        }
        snprintf(state_dir, sizeof state_dir, "%s", dir);
        snprintf(state_path, sizeof state_path, "%s/" RECORD_NAME, dir);
        return 0;
    }
    snprintf(why, len, "there is no place to keep vmlab's lock and undo record: %s; make one of "
                       "them writable for root, e.g. mount -t tmpfs -o mode=0755 tmpfs /run", tried);
    errno = EROFS;
    return -1;
}

/* Takes dir/lock, a regular file of this user (never through a symlink, never a FIFO or
 * device: O_NONBLOCK, so that opening one cannot hang), waiting at most `seconds` (0: no
 * limit). Its descriptor, or -1 with errno: EWOULDBLOCK when another run kept it. */
static int take_lock(const char *dir, int seconds)
{
    char path[96];
    struct stat st;
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
        errno = EPERM;
    } else if ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EWOULDBLOCK && seconds == 0) {
        cli_notice(demo_name, "another vmlab demo is changing system settings; waiting for it");
        while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
            ;
    }
    for (int i = 0; rc != 0 && errno == EWOULDBLOCK && i < seconds * 20; i++) {
        struct timespec ts = {0, 50000000L}; /* 50 ms */
        nanosleep(&ts, NULL);
        rc = flock(fd, LOCK_EX | LOCK_NB);
    }
    if (rc == 0)
        return fd;
    int err = errno;
    close(fd);
    errno = err;
    return -1;
}

/* Appends `arg` to the command in buf after a space, quoted where a shell
 * would split or expand it. False, and buf as it was, where it does not fit
 * with `spare` bytes still free after it. */
static bool append_word(char *buf, size_t len, const char *arg, size_t spare)
{
    char word[4 * 4096 + 3]; /* an argument read from /proc/self/cmdline, every byte a quote */
    size_t at = strlen(buf), n = 0;
    bool plain = arg[0] && strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789_-+=.,:/@%") == strlen(arg);
    if (!plain)
        word[n++] = '\'';
    for (const char *c = arg; *c && n < sizeof word - 5; c++) {
        if (*c == '\'') /* only in a quoted word: closed, an escaped quote, opened again */
            n += (size_t)snprintf(word + n, sizeof word - n, "'\\''");
        else
            word[n++] = *c;
    }
    if (!plain)
        word[n++] = '\'';
    word[n] = '\0';
    if (at + (at > 0) + n + spare >= len)
        return false;
    snprintf(buf + at, len - at, "%s%s", at > 0 ? " " : "", word);
    return true;
}

void run_again_command(char *buf, size_t len)
{
    static const char more[] = " ...";
    char args[4096];
    ssize_t n = procfs_read_text("/proc/self/cmdline", args, sizeof args);
    bool cut = (size_t)n == sizeof args - 1; /* more may follow what was read */
    if (n <= 0) { /* the name it was started with is all there is */
        snprintf(args, sizeof args, "%s", program_invocation_name);
        n = (ssize_t)strlen(args) + 1;
    }
    buf[0] = '\0';
    if (!strchr(args, '/'))
        (void)append_word(buf, len, "vmlab", 0);
    for (const char *a = args; a < args + n; a += strlen(a) + 1) {
        size_t end = (size_t)(a - args) + strlen(a); /* where its NUL is */
        bool whole = end < (size_t)n, last = !cut && end + 1 >= (size_t)n;
        if (whole && append_word(buf, len, a, last ? 0 : strlen(more)))
            continue;
        if (a == args) /* not even the program's name fits: the name, cut */
            snprintf(buf, len, "%s", program_invocation_short_name);
        else
            text_append(buf, len, "", "%s", more);
        return;
    }
    if (cut)
        text_append(buf, len, "", "%s", more);
}

int sysctl_may_change(const char *name, char *why, size_t len)
{
    char path[96];
    why[0] = '\0';
    if (!record_knob_allowed(name)) {
        snprintf(why, len, "\"%.40s\" is not a /proc/sys/vm setting vmlab changes", name);
        return -1;
    }
    if (geteuid() != 0) {
        /* The command gets what room the sentence leaves, and is never cut inside. */
        int at = snprintf(why, len, "changing /proc/sys/vm/%s needs root: sudo ", name);
        if (at > 0 && (size_t)at < len)
            run_again_command(why + at, len - (size_t)at);
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
    return choose_state_dir(why, len);
}

/* ---- this run's record ---- */

/* Writes the record whole: a new file, then rename() over the old one, so
 * that a reader finds the old record or the new one, never half of one. */
static int write_record(void)
{
    char text[RECORD_MAX_BYTES], tmp[112];
    size_t len = record_format(&changes, text, sizeof text);
    if (len == 0) {
        errno = ENOSPC;
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.new", state_path);
    (void)unlink(tmp); /* whatever is there (ours from a killed run, or a trap) */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, len);
    int err = n == (ssize_t)len ? 0 : (n < 0 ? errno : EIO);
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (err == 0 && rename(tmp, state_path) == 0)
        return 0;
    err = err ? err : errno;
    (void)unlink(tmp);
    errno = err;
    return -1;
}

/* This run's own undo, on stderr (with write: it may run in a signal handler). */
static void tell_stderr(const struct record_knob *k, enum put_back how, uint64_t now, void *ctx)
{
    char number[32];
    (void)ctx;
    if (how == CHANGED_SINCE) {
        say(demo_name), say(": left /proc/sys/vm/"), say(k->name), say(" at ");
        say(decimal(now, "", number));
        say(": it no longer holds what this run set, someone changed it meanwhile\n");
    } else if (how == UNREADABLE || how == FAILED) {
        say(demo_name), say(": FAILED to put back /proc/sys/vm/"), say(k->name), say(" (it was ");
        say(decimal(k->original, "", number));
        say("); it is left changed\n");
    }
}

/* Async-signal-safe: puts back what this run changed; the record goes only when
 * everything is back, else it stays for the next run. */
static void restore_action(void)
{
    if (nchanged == 0)
        return;
    if (put_back_all(changes.knobs, nchanged, tell_stderr, NULL))
        unlink(state_path);
    else
        restore_failed = 1;
    nchanged = 0;
}

const char *sysctl_failed_call(void)
{
    return failed_call;
}

/* `name`'s place in the table; a knob new to it has `now` for its original. */
static struct record_knob *find_or_add(const char *name, uint64_t now)
{
    for (int i = 0; i < changes.nknobs; i++)
        if (strcmp(changes.knobs[i].name, name) == 0)
            return &changes.knobs[i];
    if (changes.nknobs == RECORD_MAX_KNOBS)
        return NULL; /* not reached: the allow-list has no more knobs */
    struct record_knob *k = &changes.knobs[changes.nknobs++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    k->original = k->set[0] = now;
    k->nset = 1;
    return k;
}

int sysctl_set(const char *name, uint64_t value)
{
    if (lock_fd < 0 || !record_knob_allowed(name)) {
        snprintf(failed_call, sizeof failed_call, "change /proc/sys/vm/%s (%s)", name,
                 lock_fd < 0 ? "without the vmlab lock" : "not a setting vmlab changes");
        errno = EINVAL;
        return -1;
    }
    sigset_t old = undo_block(); /* the table changes: no restore now */
    struct record_knob *k = NULL;
    uint64_t now = 0;
    int rc = -1;
    if (procfs_read_vm_sysctl(name, &now) != PROCFS_OK) {
        snprintf(failed_call, sizeof failed_call, "read /proc/sys/vm/%s", name);
    } else if ((k = find_or_add(name, now)) == NULL) {
        errno = ENOSPC;
    } else if (!record_set_allowed(name, k->original, value) ||
               !record_set_allowed(name, k->original, now)) {
        snprintf(failed_call, sizeof failed_call, "change /proc/sys/vm/%s from %" PRIu64 " to %" PRIu64
                 " (outside what vmlab may undo from its original %" PRIu64 ")", name, now, value,
                 k->original);
        errno = ERANGE;
    } else {
        /* While the write is under way the knob holds either value. */
        k->set[0] = now;
        k->set[1] = value;
        k->nset = now == value ? 1 : 2;
        nchanged = changes.nknobs;
        if ((rc = write_record()) != 0)
            snprintf(failed_call, sizeof failed_call, "write %s (the record of original values)", state_path);
        else if ((rc = sysctl_write(name, value)) != 0)
            snprintf(failed_call, sizeof failed_call, "write /proc/sys/vm/%s", name);
    }
    int saved_errno = errno;
    if (k && (rc == 0 || k->nset == 2)) {
        /* Now the knob holds one value; record it (a failure here only
         * leaves the wider record, which is still right). */
        uint64_t got;
        if (procfs_read_vm_sysctl(name, &got) == PROCFS_OK &&
            record_set_allowed(name, k->original, got)) {
            k->set[0] = got;
            k->nset = 1;
            (void)write_record();
        }
    }
    errno = saved_errno;
    undo_unblock(&old);
    return rc;
}

/* ---- repairing what a killed run left ---- */

/* One more thing the repair did or refused, for its report. */
#define add(report, len, ...) text_append(report, len, "; ", __VA_ARGS__)

/* A repair's report, and the values it put back, for one sentence. */
struct repair {
    char *report;
    size_t len;
    const char *run;
    char restored[160];
};

static void tell_report(const struct record_knob *k, enum put_back how, uint64_t now, void *ctx)
{
    struct repair *r = ctx;
    if (how == UNREADABLE)
        add(r->report, r->len, "FAILED to read /proc/sys/vm/%s: %s was not restored", k->name,
            k->name);
    else if (how == FAILED)
        add(r->report, r->len, "FAILED to restore %s=%" PRIu64 " (%s); it holds %" PRIu64, k->name,
            k->original, strerror(errno), now);
    else if (how == PUT_BACK)
        text_append(r->restored, sizeof r->restored, ", ", "%s=%" PRIu64 " (was %" PRIu64 ")",
                    k->name, k->original, now);
    else if (how == CHANGED_SINCE)
        add(r->report, r->len, "left %s=%" PRIu64 " as it is: the killed vmlab run %s set %" PRIu64
                               ", so someone has changed it since", k->name, now, r->run,
            k->set[k->nset - 1]);
}

/* Reads dir's record, if there is one, and puts back what it allows. The
 * caller holds dir's lock. */
static void repair_dir(const char *dir, char *report, size_t len)
{
    char path[96], text[RECORD_MAX_BYTES + 1], why[256], refused[264] = "", boot[40], run[80];
    struct stat st;
    snprintf(path, sizeof path, "%s/" RECORD_NAME, dir);
    if (lstat(path, &st) != 0)
        return; /* the common case: nothing left */
    /* Only a file vmlab could have written: never through a symlink, never
     * a FIFO (opening one could hang), a directory or a device. */
    struct sysctl_record r = {.nknobs = 0}; /* filled by record_parse where nothing is refused */
    ssize_t n;
    int fd = -1;
    if (S_ISREG(st.st_mode))
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 07777) != 0600 || st.st_nlink != 1) {
        const char *what = S_ISLNK(st.st_mode) ? "a symlink" : S_ISFIFO(st.st_mode) ? "a FIFO"
                           : S_ISDIR(st.st_mode) ? "a directory" : !S_ISREG(st.st_mode) ? "not a regular file"
                           : "not a file of this user with mode 0600 and one link";
        snprintf(refused, sizeof refused, ": it is %s, not what vmlab writes", what);
    } else if ((n = read(fd, text, sizeof text)) < 0 ||
               !record_parse(text, (size_t)n, &r, why, sizeof why)) {
        snprintf(refused, sizeof refused, " (%s)", n < 0 ? strerror(errno) : why);
    }
    if (fd >= 0)
        close(fd);
    if (refused[0]) {
        /* Moved aside: kept for a look, but not read again by every run. */
        char aside[128];
        snprintf(aside, sizeof aside, "%s.refused", path);
        add(report, len, "refused the undo record %s%s; nothing was restored", path, refused);
        if (rename(path, aside) == 0)
            add(report, len, "moved it to %s", aside);
        else
            add(report, len, "could not move it aside (%s): remove it by hand (rm -r %s)",
                strerror(errno), path);
        return;
    }
    runid_format(&r.run, run, sizeof run);
    if (!runid_boot_id(boot, sizeof boot) || strcmp(boot, r.boot) != 0) {
        add(report, len, "discarded the undo record of vmlab run %s from an earlier boot (the reboot "
                         "reset what it changed)", run);
        unlink(path);
        return;
    }
    if (runid_state(&r.run) == RUNID_ALIVE) {
        add(report, len, "left the undo record %s alone: vmlab run %s is still running", path, run);
        return;
    }
    struct repair how = {report, len, run, ""};
    bool ok = put_back_all(r.knobs, r.nknobs, tell_report, &how);
    if (how.restored[0])
        add(report, len, "restored %s, left changed by vmlab run %s, which was killed before it could "
                         "put them back", how.restored, run);
    if (ok)
        unlink(path);
}

/* Repairs every candidate directory's record; `held` is the one whose lock
 * this process holds already (or NULL). Another directory's lock is taken
 * only briefly: a run holding it is alive, and its record is not a leftover. */
static void repair_all(const char *held, char *report, size_t len)
{
    for (size_t i = 0; i < NSTATE_DIRS; i++) {
        const char *dir = state_dirs[i];
        char path[96];
        struct stat st;
        snprintf(path, sizeof path, "%s/" RECORD_NAME, dir);
        if (lstat(dir, &st) != 0)
            continue;
        if (!trusted_dir(&st)) {
            if (lstat(path, &st) == 0)
                add(report, len, "did not read %s: %s is not vmlab's own directory (root's, mode 0700), "
                                 "so what it holds may not be vmlab's; remove it (rm -r %s)", path, dir, dir);
            continue;
        }
        if (lstat(path, &st) != 0)
            continue;
        if (held && strcmp(dir, held) == 0) {
            repair_dir(dir, report, len);
            continue;
        }
        int fd = take_lock(dir, 2); /* a run that keeps it longer is alive: not a leftover */
        if (fd < 0 && errno != EWOULDBLOCK)
            add(report, len, "could not open the lock in %s (%s): its undo record was not read", dir,
                strerror(errno));
        if (fd < 0)
            continue;
        repair_dir(dir, report, len);
        close(fd);
    }
}

int sysctl_lock(int seconds)
{
    char why[640];
    if (choose_state_dir(why, sizeof why) != 0) {
        snprintf(failed_call, sizeof failed_call, "%.150s", why);
        return -1;
    }
    int fd = take_lock(state_dir, seconds);
    if (fd < 0) {
        int err = errno;
        snprintf(failed_call, sizeof failed_call, "take the vmlab lock in %s", state_dir);
        errno = err;
    }
    return fd;
}

/* sysctl_begin gives up: the lock goes, and what failed is kept. */
static int give_up(int err, const char *what)
{
    sysctl_end();
    snprintf(failed_call, sizeof failed_call, "%s", what);
    errno = err;
    return -1;
}

int sysctl_begin(const char *demo, char *repaired, size_t len)
{
    repaired[0] = '\0';
    snprintf(demo_name, sizeof demo_name, "%s", demo);
    if (lock_fd >= 0)
        return 0;
    if ((lock_fd = sysctl_lock(0)) < 0)
        return -1;
    owner = getpid();
    repair_all(state_dir, repaired, len);
    struct stat st;
    if (lstat(state_path, &st) == 0) {
        /* A record this run could not settle (a live run's, one that could
         * not be moved aside, a restore that failed): never write over it. */
        char what[sizeof failed_call];
        snprintf(what, sizeof what, "start a change: the undo record %s of another run is still "
                 "there (see above)", state_path);
        return give_up(EBUSY, what);
    }
    if (undo_register(restore_action) != 0)
        return give_up(ENOMEM, "register the undo (atexit)");
    if (!runid_boot_id(changes.boot, sizeof changes.boot) || runid_self(&changes.run) != 0)
        return give_up(ENOENT, "read this run's boot id and start time from /proc");
    changes.nknobs = 0;
    nchanged = 0;
    return 0;
}

int sysctl_end(void)
{
    if (getpid() != owner)
        return 0; /* a forked child ending: not its to put back */
    sigset_t old = undo_block(); /* the undo handler may not restore half-way too */
    restore_action();
    undo_unblock(&old);
    if (lock_fd >= 0) {
        close(lock_fd); /* releases the flock */
        lock_fd = -1;
    }
    int failed = restore_failed;
    restore_failed = 0;
    return failed ? -1 : 0;
}

void sysctl_repair_leftovers(const char *demo, char *repaired, size_t len)
{
    repaired[0] = '\0';
    snprintf(demo_name, sizeof demo_name, "%s", demo);
    repair_all(NULL, repaired, len);
}

void sysctl_child_after_fork(void)
{
    nchanged = 0; /* it restores nothing (sysctl_end and lib/safety/undo check the PID too) */
    if (lock_fd >= 0) {
        close(lock_fd);
        lock_fd = -1;
    }
}
