/* SPDX-License-Identifier: MIT */
/* The undo record cannot be turned against the machine (issue 15).
 *
 * Every vmlab program, run as root, first repairs what a killed run left:
 * it reads the undo record and writes /proc/sys/vm. Here each hostile record
 * we know is planted - the issue's own, unknown knobs, huge and negative
 * values, long lines, symlinks, a FIFO, a directory, a hard link, the wrong
 * owner or mode, another boot, a live run, a stale record after a
 * deliberate change - and every program is run over it. The test proves,
 * from outside, that no knob outside the record's own legitimate undo was
 * written (its content and its mtime), that nothing hangs (every run is
 * killed after 15 s and that is a failure), and that each refusal is
 * reported on stderr.
 *
 * Never against the machine's real settings: the test runs in a private
 * mount namespace where /proc/sys/vm is a tmpfs copy and /run, /dev/shm and
 * /tmp are empty tmpfs mounts of its own. Root only (77 otherwise), and 77
 * when the namespace cannot be made (a container without CAP_SYS_ADMIN). */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "ptydrive.h"
#include "run.h"
#include "runid.h"
#include "suite.h"

#define FAKE_VM "/run/fake-proc-sys-vm" /* the copy bound over /proc/sys/vm */
#define VM "/proc/sys/vm"
#define DIR_ "/run/vmlab"
#define RECORD DIR_ "/saved-state"
#define TMPFS_MAGIC_ 0x01021994L
#define OLD_TIME 1000000000 /* every knob's mtime before a run: a write moves it */
#define HANG_SECONDS 15
#define MAX_KNOBS 160
#define NAME_MAX_ 64

/* The programs, as root, with arguments that run quickly (the OOM demo
 * allocates 16 blocks in its cgroup and ends: also under ASan); the last two
 * change a knob themselves (their own change and its undo are allowed). */
static const struct program {
    const char *name;
    const char *args[4];
    const char *own_knob; /* the knob the program itself changes, or NULL */
} programs[] = {
    {"mmap-anon", {"--size", "8K"}, NULL},
    {"mincore-residency", {NULL}, NULL},
    {"protnone-dirty", {NULL}, NULL},
    {"segv-pgfault", {"null-read"}, NULL},
    {"kernel-address", {"kernel-read"}, NULL},
    {"oom-killer-try", {"16"}, NULL}, /* 16 blocks: its cgroup, no OOM kill */
    {"page-walk", {"--gib", "4"}, NULL},
    {"page-cache", {NULL}, NULL},
    {"page-writeback", {NULL}, NULL},
    {"map-noreserve", {NULL}, NULL},
    {"hugetlb-reserve", {NULL}, NULL},
    {"overcommit-modes", {NULL}, "overcommit_memory"},
    {"hugetlb-reserve", {"--setup", "1"}, "nr_hugepages"},
};
#define NPROGRAMS (sizeof programs / sizeof programs[0])

/* ---- the fake /proc/sys/vm ---- */

struct knob {
    char name[64];
    char text[64];    /* the content before the run */
    struct timespec mtime;
};
static struct knob knobs[MAX_KNOBS];
static int nknobs;
static char boot[40];
static uint64_t om, hp; /* overcommit_memory and nr_hugepages as the copy starts */

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void get(const char *path, char *text, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, len - 1) : -1;
    if (fd >= 0)
        close(fd);
    text[n > 0 ? n : 0] = '\0';
}

static void set_knob(const char *name, uint64_t value)
{
    char path[128], text[32];
    snprintf(path, sizeof path, FAKE_VM "/%s", name);
    snprintf(text, sizeof text, "%llu\n", (unsigned long long)value);
    put(path, text);
}

static uint64_t knob_value(const char *name)
{
    char path[128], text[64];
    snprintf(path, sizeof path, VM "/%s", name);
    get(path, text, sizeof text);
    return strtoull(text, NULL, 10);
}

/* Makes the namespace: private mounts, empty /run /dev/shm /tmp, and a copy
 * of /proc/sys/vm over the real one. Returns a reason on failure. */
static const char *make_namespace(void)
{
    static char why[256];
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(why, sizeof why, "cannot make a private mount namespace: %s", strerror(errno));
        return why;
    }
    const char *mine[] = {"/run", "/dev/shm", "/tmp"};
    for (int i = 0; i < 3; i++)
        if (mount("tmpfs", mine[i], "tmpfs", 0, "mode=0755") != 0) {
            snprintf(why, sizeof why, "cannot mount a tmpfs on %s: %s", mine[i], strerror(errno));
            return why;
        }
    chmod("/tmp", 01777);
    chmod("/dev/shm", 01777);
    if (mkdir(FAKE_VM, 0755) != 0)
        return "cannot make " FAKE_VM;
    DIR *d = opendir(VM);
    if (!d)
        return "cannot list " VM;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char from[300], to[300];
        static char text[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(from, sizeof from, VM "/%s", e->d_name);
        snprintf(to, sizeof to, FAKE_VM "/%s", e->d_name);
        get(from, text, sizeof text); /* write-only knobs (drop_caches) stay empty */
        int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
            return "cannot copy " VM;
        close(fd);
    }
    closedir(d);
    if (mount(FAKE_VM, VM, NULL, MS_BIND, NULL) != 0) {
        snprintf(why, sizeof why, "cannot bind a copy over " VM ": %s", strerror(errno));
        return why;
    }
    struct statfs s;
    if (statfs(VM, &s) != 0 || (long)s.f_type != TMPFS_MAGIC_)
        return VM " is not the copy";
    return NULL;
}

/* Refuses to go on unless /proc/sys/vm is the copy: the real one is never
 * a target of this test. */
static void assert_on_the_copy(void)
{
    struct statfs s;
    ck_assert_msg(statfs(VM, &s) == 0 && (long)s.f_type == TMPFS_MAGIC_, VM " is not the tmpfs copy");
}

/* Remembers every knob's content and sets its mtime far back. */
static void snapshot_knobs(void)
{
    DIR *d = opendir(FAKE_VM);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    nknobs = 0;
    while ((e = readdir(d)) != NULL && nknobs < MAX_KNOBS) {
        char path[400];
        if (e->d_name[0] == '.' || strlen(e->d_name) >= NAME_MAX_)
            continue;
        struct knob *k = &knobs[nknobs++];
        snprintf(k->name, sizeof k->name, "%.63s", e->d_name);
        snprintf(path, sizeof path, FAKE_VM "/%s", e->d_name);
        get(path, k->text, sizeof k->text);
        struct timespec times[2] = {{OLD_TIME, 0}, {OLD_TIME, 0}};
        ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
        k->mtime = times[1];
    }
    closedir(d);
}

/* Every knob holds what it held, and was not written (mtime), except: when
 * `restored`, overcommit_memory and nr_hugepages must now hold want[0] and
 * want[1]; `own` may have been written by the program itself but must be
 * back to what it held. */
static void assert_knobs(const char *when, bool restored, const uint64_t want[2], const char *own)
{
    for (int i = 0; i < nknobs; i++) {
        const struct knob *k = &knobs[i];
        char path[300], text[64];
        struct stat st;
        snprintf(path, sizeof path, FAKE_VM "/%.63s", k->name);
        get(path, text, sizeof text);
        ck_assert_int_eq(stat(path, &st), 0);
        bool written = st.st_mtim.tv_sec != k->mtime.tv_sec;
        bool is_restored = restored && (strcmp(k->name, "overcommit_memory") == 0 ||
                                        strcmp(k->name, "nr_hugepages") == 0);
        if (is_restored) {
            uint64_t w = strcmp(k->name, "overcommit_memory") == 0 ? want[0] : want[1];
            ck_assert_msg(strtoull(text, NULL, 10) == w, "%s: %s holds %s, want %llu restored", when,
                          k->name, text, (unsigned long long)w);
            continue;
        }
        ck_assert_msg(strcmp(text, k->text) == 0, "%s: %s changed from %s to %s", when, k->name, k->text,
                      text);
        ck_assert_msg(!written || (own && strcmp(own, k->name) == 0), "%s: %s was written", when, k->name);
    }
}

/* ---- running a program with a deadline ---- */

struct outcome {
    int status;
    bool hung;
    char err[16384];
};

static void run_bounded(const struct program *p, struct outcome *o)
{
    char path[4096];
    const char *argv[8];
    int argc = 0;
    snprintf(path, sizeof path, "%s/%s", demo_dir(), p->name);
    argv[argc++] = path;
    for (int i = 0; i < 4 && p->args[i]; i++)
        argv[argc++] = p->args[i];
    argv[argc++] = "--json";
    argv[argc] = NULL;
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(fds[1], 2);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    time_t deadline = time(NULL) + HANG_SECONDS;
    o->hung = false;
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int left = (int)(deadline - time(NULL));
        if (left <= 0 || poll(&pfd, 1, left * 1000) == 0) {
            o->hung = true;
            kill(pid, SIGKILL);
            break;
        }
        ssize_t n = read(fds[0], o->err + len, sizeof o->err - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof o->err - 1)
            len = 0; /* keep reading, never block the program */
    }
    o->err[len] = '\0';
    close(fds[0]);
    waitpid(pid, &o->status, 0);
}

/* ---- the records ---- */

static void record_file(const char *path, const char *text, mode_t mode)
{
    put(path, text);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* A record as vmlab writes it, for this boot and a run that has ended. */
static void legit_text(char *buf, size_t len, const char *boot_id, const char *run)
{
    snprintf(buf, len, "vmlab undo record 1\nboot %s\nrun %s\nknob overcommit_memory %llu %llu\n"
                       "knob nr_hugepages %llu %llu\nend\n", boot_id, run, (unsigned long long)om,
             (unsigned long long)(om + 1) % 3, (unsigned long long)hp, (unsigned long long)hp + 2);
}

static void dead_run(char *buf, size_t len)
{
    struct runid me;
    ck_assert_int_eq(runid_self(&me), 0);
    /* our namespace, a PID that no process can have */
    snprintf(buf, len, "%llu-4194304000-1", (unsigned long long)me.pidns);
}

/* The knobs as a killed legitimate run left them. */
static void left_by_the_run(void)
{
    set_knob("overcommit_memory", (om + 1) % 3);
    set_knob("nr_hugepages", hp + 2);
}

/* The record a legitimate run of boot `boot_id` leaves when killed, in text, and the
 * knobs as it left them. */
static void killed_run(char *text, size_t len, const char *boot_id)
{
    char run[64];
    dead_run(run, sizeof run);
    legit_text(text, len, boot_id, run);
    left_by_the_run();
}

enum expect { REFUSED, RESTORED, LEFT_ALONE };

struct hcase {
    const char *name;
    void (*plant)(void);
    enum expect expect;
    const char *says;   /* on stderr of every run */
    bool blocks_changes; /* the state directory itself is unusable: changing programs stop (1) */
    bool record_stays;   /* the record is a live run's */
};

static void plant_issue(void)
{
    record_file(RECORD, "pid 4242\novercommit_memory 2\novercommit_ratio 0\npanic_on_oom 1\n"
                        "nr_hugepages 100000\nmin_free_kbytes 99999999\n", 0600);
}

static void plant_v1_with(const char *knob_line)
{
    char text[1024], run[64];
    dead_run(run, sizeof run);
    snprintf(text, sizeof text, "vmlab undo record 1\nboot %s\nrun %s\n%s\nend\n", boot, run, knob_line);
    record_file(RECORD, text, 0600);
}

static void plant_unknown_knob(void) { plant_v1_with("knob panic_on_oom 0 1"); }
static void plant_min_free(void) { plant_v1_with("knob min_free_kbytes 67584 99999999"); }
static void plant_huge(void) { plant_v1_with("knob nr_hugepages 0 100000"); }
static void plant_negative(void) { plant_v1_with("knob overcommit_memory -1 1"); }
static void plant_too_big(void) { plant_v1_with("knob overcommit_memory 18446744073709551615 1"); }
static void plant_ratio_zero(void) { plant_v1_with("knob overcommit_ratio 50 0"); }

static void plant_long_line(void)
{
    char line[600];
    /* "nr_hugepages 9" hidden after the buffer length of the old parser */
    snprintf(line, sizeof line, "knob overcommit_memory %llu %llu%0200d\nknob nr_hugepages 0 9",
             (unsigned long long)om, (unsigned long long)(om + 1) % 3, 0);
    plant_v1_with(line);
}

static void plant_cut(void)
{
    char text[1024];
    killed_run(text, sizeof text, boot);
    text[strlen(text) - 4] = '\0'; /* without "end\n" */
    record_file(RECORD, text, 0600);
}

static void plant_symlink_to_record(void)
{
    char text[1024];
    killed_run(text, sizeof text, boot);
    record_file("/run/elsewhere", text, 0600);
    ck_assert_int_eq(symlink("/run/elsewhere", RECORD), 0);
}

static void plant_symlink_to_knob(void)
{
    ck_assert_int_eq(symlink(VM "/min_free_kbytes", RECORD), 0);
}

static void plant_fifo(void)
{
    ck_assert_int_eq(mkfifo(RECORD, 0600), 0);
}

static void plant_directory(void)
{
    ck_assert_int_eq(mkdir(RECORD, 0700), 0);
}

static void plant_hard_link(void)
{
    char text[1024];
    killed_run(text, sizeof text, boot);
    record_file(DIR_ "/other", text, 0600);
    ck_assert_int_eq(link(DIR_ "/other", RECORD), 0);
}

static void plant_wrong_mode(void)
{
    char text[1024];
    killed_run(text, sizeof text, boot);
    record_file(RECORD, text, 0644);
}

static void plant_wrong_owner(void)
{
    plant_wrong_mode();
    ck_assert_int_eq(chmod(RECORD, 0600), 0);
    ck_assert_int_eq(chown(RECORD, 65534, 65534), 0);
}

static void plant_nul(void)
{
    char text[1024];
    killed_run(text, sizeof text, boot);
    size_t len = strlen(text);
    text[20] = '\0';
    int fd = open(RECORD, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void plant_large(void)
{
    int fd = open(RECORD, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char block[4096];
    memset(block, '\n', sizeof block);
    for (int i = 0; i < 256; i++)
        ck_assert_int_eq(write(fd, block, sizeof block), (ssize_t)sizeof block);
    close(fd);
}

static void plant_other_boot(void)
{
    char text[1024];
    killed_run(text, sizeof text, "00000000-0000-0000-0000-000000000000");
    record_file(RECORD, text, 0600);
}

static void plant_live_run(void)
{
    char text[1024], run[80];
    struct runid me;
    ck_assert_int_eq(runid_self(&me), 0); /* this test: alive */
    ck_assert(runid_format(&me, run, sizeof run));
    legit_text(text, sizeof text, boot, run);
    left_by_the_run();
    record_file(RECORD, text, 0600);
}

/* Someone set the values deliberately after the run was killed. */
static void plant_stale(void)
{
    char text[1024], run[64];
    dead_run(run, sizeof run);
    legit_text(text, sizeof text, boot, run);
    set_knob("overcommit_memory", (om + 2) % 3);
    set_knob("nr_hugepages", hp + 512);
    record_file(RECORD, text, 0600);
}

static void plant_legit(void)
{
    char text[1024];
    killed_run(text, sizeof text, boot);
    record_file(RECORD, text, 0600);
}

/* A killed run of a machine without /run: its record in the fallback. */
static void plant_legit_in_fallback(void)
{
    char text[1024];
    killed_run(text, sizeof text, boot);
    ck_assert_int_eq(mkdir("/dev/shm/vmlab", 0700), 0);
    record_file("/dev/shm/vmlab/saved-state", text, 0600);
}

static void plant_open_dir(void)
{
    plant_legit();
    ck_assert_int_eq(chmod(DIR_, 0777), 0);
}

static void plant_fifo_lock(void)
{
    plant_legit();
    ck_assert_int_eq(mkfifo(DIR_ "/lock", 0600), 0);
}

static const struct hcase cases[] = {
    {"the issue's record", plant_issue, REFUSED, "refused the undo record", false, false},
    {"an unknown knob", plant_unknown_knob, REFUSED, "panic_on_oom is not one vmlab changes", false, false},
    {"min_free_kbytes", plant_min_free, REFUSED, "min_free_kbytes is not one vmlab changes", false, false},
    {"a huge pool", plant_huge, REFUSED, "outside what vmlab ever sets", false, false},
    {"a negative value", plant_negative, REFUSED, "not a plain number", false, false},
    {"2^64 - 1", plant_too_big, REFUSED, "outside what vmlab ever sets", false, false},
    {"overcommit_ratio 0", plant_ratio_zero, REFUSED, "overcommit_ratio is not one vmlab changes", false, false},
    {"a long line", plant_long_line, REFUSED, "longer than any line", false, false},
    {"a cut record", plant_cut, REFUSED, "cut record", false, false},
    {"a symlink to a record", plant_symlink_to_record, REFUSED, "a symlink", false, false},
    {"a symlink to a knob", plant_symlink_to_knob, REFUSED, "a symlink", false, false},
    {"a FIFO", plant_fifo, REFUSED, "a FIFO", false, false},
    {"a directory", plant_directory, REFUSED, "a directory", false, false},
    {"a hard link", plant_hard_link, REFUSED, "one link", false, false},
    {"mode 0644", plant_wrong_mode, REFUSED, "mode 0600", false, false},
    {"another owner", plant_wrong_owner, REFUSED, "of this user", false, false},
    {"a NUL byte", plant_nul, REFUSED, "NUL", false, false},
    {"1 MiB", plant_large, REFUSED, "more than any record", false, false},
    {"another boot", plant_other_boot, LEFT_ALONE, "earlier boot", false, false},
    {"a live run", plant_live_run, LEFT_ALONE, "is still running", true, true},
    {"stale after a deliberate change", plant_stale, LEFT_ALONE, "someone has changed it since", false, false},
    {"an open directory", plant_open_dir, LEFT_ALONE, "not vmlab's own directory", true, true},
    {"a FIFO as the lock", plant_fifo_lock, LEFT_ALONE, "could not open the lock", true, true},
    {"a legitimate record", plant_legit, RESTORED, "restored overcommit_memory=", false, false},
    {"a legitimate record in /dev/shm", plant_legit_in_fallback, RESTORED, "restored overcommit_memory=", false, false},
};
#define NCASES (sizeof cases / sizeof cases[0])

static void reset(void)
{
    ck_assert_int_eq(system("rm -rf /run/vmlab /dev/shm/vmlab /tmp/vmlab /run/elsewhere"), 0);
    set_knob("overcommit_memory", om);
    set_knob("nr_hugepages", hp);
    ck_assert_int_eq(mkdir(DIR_, 0700), 0);
}

/* Every program over every record: _i = case * NPROGRAMS + program. */
START_TEST(hostile_record)
{
    const struct hcase *c = &cases[_i / NPROGRAMS];
    const struct program *p = &programs[_i % NPROGRAMS];
    char when[160];
    snprintf(when, sizeof when, "%s, %s%s%s", c->name, p->name, p->args[0] ? " " : "",
             p->args[0] ? p->args[0] : "");
    assert_on_the_copy();
    reset();
    c->plant();
    snapshot_knobs();
    struct outcome o;
    run_bounded(p, &o);
    ck_assert_msg(!o.hung, "%s: still running after %d s (killed)", when, HANG_SECONDS);
    ck_assert_msg(WIFEXITED(o.status), "%s: died of signal %d: %s", when, WTERMSIG(o.status), o.err);
    int code = WEXITSTATUS(o.status);
    /* A program that changes a knob itself may stop (1) when the state
     * directory is unusable, or when it refuses to change a knob whose
     * value it could not undo safely: in the copy, nr_hugepages need not
     * agree with the kernel's pool in /proc/meminfo. */
    bool ok = code == 0 || code == 77 ||
              (code == 1 && p->own_knob && (c->blocks_changes || strstr(o.err, "outside what vmlab may undo")));
    ck_assert_msg(ok, "%s: exit %d: %s", when, code, o.err);
    ck_assert_msg(strstr(o.err, c->says) != NULL, "%s: stderr does not say \"%s\": %s", when, c->says, o.err);
    const uint64_t want[2] = {om, hp};
    assert_knobs(when, c->expect == RESTORED, want, p->own_knob);
    struct stat st;
    if (c->record_stays)
        ck_assert_msg(lstat(RECORD, &st) == 0, "%s: the record is gone", when);
    else
        ck_assert_msg(lstat(RECORD, &st) != 0 && lstat("/dev/shm/vmlab/saved-state", &st) != 0,
                      "%s: the record is still there: the next run would say it again", when);
    /* and the next run has nothing more to say about it */
    if (!c->record_stays) {
        snapshot_knobs();
        run_bounded(&programs[0], &o);
        ck_assert_msg(!o.hung && WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "%s: second run", when);
        ck_assert_msg(strstr(o.err, "record") == NULL, "%s: the second run says: %s", when, o.err);
        assert_knobs(when, false, want, NULL);
    }
    if (chmod(DIR_, 0700) != 0 && errno != ENOENT)
        ck_abort_msg("chmod %s", DIR_);
}
END_TEST

/* A write that fails is reported as a failure, never as "restored", and
 * the record stays so that the next run tries again and says so. The knob
 * is made read-only (a read-only bind mount of its copy) while
 * overcommit-modes --step waits, in mode 1, before its mode 2 step, the
 * fourth of five (which it reaches only when Committed_AS is far below
 * CommitLimit). */
START_TEST(failed_write_is_a_failure)
{
    /* overcommit-modes pauses before its mode-2 step only far below CommitLimit */
    if (procfs_read_one("/proc/meminfo", "Committed_AS") >= procfs_read_one("/proc/meminfo", "CommitLimit") / 4) {
        fprintf(stderr, "Committed_AS is not far below CommitLimit: overcommit-modes will not "
                        "enter mode 2 now, so there is no pause before its step 4 to test\n");
        return;
    }
    struct pty_child c;
    char path[4096], knob[] = VM "/overcommit_memory"; /* the bound copy */
    assert_on_the_copy();
    reset();
    snprintf(path, sizeof path, "%s/overcommit-modes", demo_dir());
    const char *argv[] = {path, "--step", NULL};
    ck_assert_int_eq(pty_start(&c, argv), 0);
    /* the budget, then modes 0, 1, 2, then the mode read again: the pause
     * before step 4 is in mode 1 */
    bool paused = pty_wait_for(&c, "Press Enter to run step 1/5");
    for (int step = 2; paused && step <= 4; step++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Press Enter to run step %d/5", step);
        paused = pty_send(&c, "\n") && pty_wait_for(&c, prompt);
    }
    uint64_t mode = knob_value("overcommit_memory");
    bool ro = mount(knob, knob, NULL, MS_BIND, NULL) == 0 &&
              mount(NULL, knob, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) == 0;
    kill(c.pid, SIGTERM);
    bool said = pty_wait_for(&c, "FAILED to put back /proc/sys/vm/overcommit_memory");
    int status = pty_finish(&c);
    umount(knob);
    struct stat st;
    bool kept = lstat(RECORD, &st) == 0;
    const char *seen = c.screen + (c.len > 1500 ? c.len - 1500 : 0); /* Check's messages are short */
    ck_assert_msg(paused, "no pause before step 4: %s", seen);
    ck_assert_msg(ro, "cannot make the copy read-only: %s", strerror(errno));
    ck_assert_uint_eq(mode, 1);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %#x", status);
    ck_assert_msg(said, "the failure was not reported: %s", seen);
    ck_assert_msg(strstr(c.screen, "restored") == NULL, "%s", seen);
    ck_assert_msg(kept, "the record is gone: nobody will put the value back");

    /* Writable again: the next run puts it back and says so. */
    struct outcome o;
    run_bounded(&programs[0], &o);
    ck_assert_msg(strstr(o.err, "restored overcommit_memory=") != NULL, "%s", o.err);
    ck_assert_uint_eq(knob_value("overcommit_memory"), om);
    ck_assert_msg(lstat(RECORD, &st) != 0, "the record is still there");
}
END_TEST

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "planting undo records needs root (a private mount namespace): skipped\n");
        return 77;
    }
    const char *why = make_namespace();
    if (why) {
        fprintf(stderr, "%s: skipped\n", why);
        return 77;
    }
    if (!runid_boot_id(boot, sizeof boot)) {
        fprintf(stderr, "cannot read the boot id: skipped\n");
        return 77;
    }
    om = knob_value("overcommit_memory");
    hp = knob_value("nr_hugepages");
    Suite *s = suite_create("hostile-record");
    TCase *tc = tcase_create("hostile-record");
    tcase_set_timeout(tc, 3 * HANG_SECONDS + 10);
    tcase_add_loop_test(tc, hostile_record, 0, (int)(NCASES * NPROGRAMS));
    suite_add_tcase(s, tc);
    TCase *fail = tcase_create("failed-write");
    tcase_set_timeout(fail, 60);
    tcase_add_test(fail, failed_write_is_a_failure);
    suite_add_tcase(s, fail);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
