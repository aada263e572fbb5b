/* SPDX-License-Identifier: MIT */
/* Unit tests for the undo record (lib/safety/sysctl_record), run identities
 * (lib/safety/runid) and sysctl_may_change (lib/safety/sysctl): the strict parser against
 * every hostile record we know, the allow-list's ranges, compare-before-
 * restore, the command a user without root is told to run (as vmlab and the
 * tour start a program, quoted, cut only between arguments), and - where this
 * machine allows - may_change as an ordinary user, in a rootless user namespace
 * and with /proc/sys or every state directory read-only (each in a private
 * mount namespace: the host is never touched). */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "procfs.h"
#include "runid.h"
#include "suite.h"
#include "sysctl.h"
#include "sysctl_record.h"

#define BOOT "5b1c0a52-9a55-4c42-a3c1-51d2c3e0a6f7"
#define HEAD "vmlab undo record 1\nboot " BOOT "\nrun 4026531836-27264-912345\n"

static bool parses(const char *text, struct sysctl_record *r, char *why, size_t len)
{
    return record_parse(text, strlen(text), r, why, len);
}

START_TEST(record_round_trip)
{
    struct sysctl_record r, back;
    char text[RECORD_MAX_BYTES], why[256];
    ck_assert_msg(parses(HEAD "knob overcommit_memory 0 1\nknob nr_hugepages 0 0 2\nend\n", &r, why,
                         sizeof why), "%s", why);
    ck_assert_str_eq(r.boot, BOOT);
    ck_assert_uint_eq(r.run.pidns, 4026531836u);
    ck_assert_uint_eq(r.run.pid, 27264);
    ck_assert_uint_eq(r.run.start, 912345);
    ck_assert_int_eq(r.nknobs, 2);
    ck_assert_str_eq(r.knobs[1].name, "nr_hugepages");
    ck_assert_int_eq(r.knobs[1].nset, 2);
    ck_assert_uint_eq(r.knobs[1].set[1], 2);
    size_t n = record_format(&r, text, sizeof text);
    ck_assert_uint_gt(n, 0);
    ck_assert_str_eq(text, HEAD "knob overcommit_memory 0 1\nknob nr_hugepages 0 0 2\nend\n");
    ck_assert(record_parse(text, n, &back, why, sizeof why));
    ck_assert_mem_eq(&r, &back, sizeof r);
}
END_TEST

/* Each of these is refused whole: `reason` is a word the refusal names. */
static const struct {
    const char *text, *reason;
} hostile[] = {
    /* the record of the issue, in the format of the old version */
    {"pid 4242\novercommit_memory 2\novercommit_ratio 0\npanic_on_oom 1\nnr_hugepages 100000\n"
     "min_free_kbytes 99999999\n", "version"},
    {"vmlab undo record 2\nboot " BOOT "\nrun 1-2-3\nknob overcommit_memory 0 1\nend\n", "version"},
    {HEAD "knob panic_on_oom 0 1\nend\n", "panic_on_oom"},
    {HEAD "knob min_free_kbytes 67584 99999999\nend\n", "min_free_kbytes"},
    {HEAD "knob overcommit_ratio 50 0\nend\n", "overcommit_ratio"},
    {HEAD "knob ../../kernel/panic 0 1\nend\n", "vmlab changes"},
    {HEAD "knob overcommit_memory 3 1\nend\n", "outside"},
    {HEAD "knob overcommit_memory 0 7\nend\n", "outside"},
    {HEAD "knob overcommit_memory -1 1\nend\n", "plain number"},
    {HEAD "knob overcommit_memory 18446744073709551615 1\nend\n", "outside"},
    {HEAD "knob overcommit_memory 18446744073709551616 1\nend\n", "plain number"},
    {HEAD "knob overcommit_memory +0 1\nend\n", "plain number"},
    {HEAD "knob overcommit_memory  0 1\nend\n", "plain number"},
    {HEAD "knob overcommit_memory 0 1 2 0\nend\n", "one or two"},
    {HEAD "knob overcommit_memory 0x0 1\nend\n", "plain number"},
    {HEAD "knob overcommit_memory 0 1 \nend\n", "one or two"},
    /* a pool that "restoring" would grow, or shrink by more than vmlab grows it */
    {HEAD "knob nr_hugepages 100000 2\nend\n", "outside"},
    {HEAD "knob nr_hugepages 0 100000\nend\n", "outside"},
    {HEAD "knob overcommit_memory 0 1\nknob overcommit_memory 0 2\nend\n", "twice"},
    {HEAD "knob overcommit_memory 0 1\nknob nr_hugepages 0 2\nknob nr_hugepages 0 2\nend\n", "vmlab writes"},
    {HEAD "end\n", "line 4"},
    {HEAD "knob overcommit_memory 0 1\n", "cut"},
    {HEAD "knob overcommit_memory 0 1\nend", "cut"},
    {HEAD "knob overcommit_memory 0 1\nend\nknob nr_hugepages 0 2\n", "after"},
    {HEAD "overcommit_memory 0 1\nend\n", "vmlab writes"},
    {"vmlab undo record 1\nboot nope\nrun 1-2-3\nknob overcommit_memory 0 1\nend\n", "line 2"},
    {"vmlab undo record 1\nboot " BOOT "\nrun 27264\nknob overcommit_memory 0 1\nend\n", "line 3"},
    {"vmlab undo record 1\nboot " BOOT "\nrun 1-0-3\nknob overcommit_memory 0 1\nend\n", "line 3"},
    {"vmlab undo record 1\nboot " BOOT "\nrun 1--2-3\nknob overcommit_memory 0 1\nend\n", "line 3"},
    {"", "cut"},
    {"\n", "version"},
};

START_TEST(record_hostile_refused)
{
    struct sysctl_record r;
    char why[256];
    ck_assert_msg(!parses(hostile[_i].text, &r, why, sizeof why), "accepted: %s", hostile[_i].text);
    ck_assert_msg(strstr(why, hostile[_i].reason) != NULL, "case %d: '%s' does not name '%s'", _i, why,
                  hostile[_i].reason);
}
END_TEST

/* A value hidden after a line longer than any vmlab writes is not read as
 * a line of its own; nor is a NUL byte, nor a file longer than any record. */
START_TEST(record_long_and_binary_refused)
{
    struct sysctl_record r;
    char text[4096], why[256];
    int n = snprintf(text, sizeof text, HEAD "knob overcommit_memory 0 1%0200d\nknob nr_hugepages 0 9\nend\n", 0);
    ck_assert(!record_parse(text, (size_t)n, &r, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "longer"));

    char nul[] = HEAD "knob overcommit_memory 0 1\nend\n";
    size_t len = strlen(nul);
    nul[len - 6] = '\0';
    ck_assert(!record_parse(nul, len, &r, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "NUL"));

    memset(text, '\n', sizeof text);
    ck_assert(!record_parse(text, sizeof text, &r, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "bytes"));
}
END_TEST

START_TEST(allow_list_ranges)
{
    ck_assert(record_knob_allowed("overcommit_memory"));
    ck_assert(record_knob_allowed("nr_hugepages"));
    ck_assert(!record_knob_allowed("overcommit_ratio"));
    ck_assert(!record_knob_allowed("panic_on_oom"));
    ck_assert(!record_knob_allowed(""));
    ck_assert(record_set_allowed("overcommit_memory", 0, 2));
    ck_assert(!record_set_allowed("overcommit_memory", 0, 3));
    ck_assert(record_set_allowed("nr_hugepages", 10, 74));
    ck_assert(!record_set_allowed("nr_hugepages", 10, 75));
    ck_assert(!record_set_allowed("nr_hugepages", 10, 9));
    ck_assert(!record_set_allowed("nr_hugepages", UINT64_MAX, UINT64_MAX));
}
END_TEST

/* Compare before restoring: only a knob that still holds what the run set. */
START_TEST(restore_only_what_the_run_left)
{
    struct record_knob mode = {"overcommit_memory", 0, {1, 2}, 2};
    ck_assert(record_may_restore(&mode, 1));
    ck_assert(record_may_restore(&mode, 2));
    ck_assert(!record_may_restore(&mode, 0)); /* already back */
    mode.nset = 1;
    ck_assert(!record_may_restore(&mode, 2)); /* someone else set 2 */

    /* The pool: back down only from what the run asked for or less. */
    struct record_knob pool = {"nr_hugepages", 0, {2}, 1};
    ck_assert(record_may_restore(&pool, 2));
    ck_assert(record_may_restore(&pool, 1)); /* the kernel granted fewer */
    ck_assert(!record_may_restore(&pool, 0));
    ck_assert(!record_may_restore(&pool, 512)); /* an administrator grew it since */
}
END_TEST

/* The restore runs in a signal handler (lib/safety/undo), and so do the
 * parsers it calls: none may ask the locale. glibc's isdigit() and the rest
 * of <ctype.h> read the locale's table through __ctype_b_loc(), which is
 * not async-signal-safe; this program's own __ctype_b_loc stands in for
 * glibc's (the library is linked statically into it) and counts the calls. */
static int ctype_calls;

const unsigned short **__ctype_b_loc(void);
const unsigned short **__ctype_b_loc(void)
{
    static const unsigned short **(*glibc)(void);
    ctype_calls++;
    if (!glibc)
        *(void **)&glibc = dlsym(RTLD_NEXT, "__ctype_b_loc");
    return glibc();
}

START_TEST(restore_path_asks_no_locale)
{
    struct sysctl_record r;
    char why[256];
    int64_t v;
    ctype_calls = 0;
    ck_assert_int_eq(procfs_parse_number("123\n", 4, &v), PROCFS_OK); /* read_knob's parser */
    ck_assert_int_eq(v, 123);
    ck_assert_msg(parses(HEAD "knob overcommit_memory 0 1\nknob nr_hugepages 0 0 2\nend\n", &r, why,
                         sizeof why), "%s", why);
    ck_assert(record_may_restore(&r.knobs[0], 1));
    ck_assert_int_eq(ctype_calls, 0);
}
END_TEST

START_TEST(runid_text)
{
    struct runid id;
    char text[80];
    ck_assert(runid_parse("4026531836-3-123", &id));
    ck_assert(runid_format(&id, text, sizeof text));
    ck_assert_str_eq(text, "4026531836-3-123");
    const char *bad[] = {"", "3", "1-2", "1-2-3-4", "1-2-x", "-1-2-3", "1-+2-3", "1-2-3 ", "1-0-3",
                         "1-2-99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!runid_parse(bad[i], &id), "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(stat_start_time_after_the_name)
{
    char state;
    uint64_t start;
    /* A name with ") " in it must not shift the fields. */
    const char *stat = "42 (a) b) Z 1 42 42 0 -1 4194560 97 0 0 0 0 0 0 0 20 0 1 0 777 1 2 3\n";
    ck_assert(runid_parse_stat(stat, &state, &start));
    ck_assert_int_eq(state, 'Z');
    ck_assert_uint_eq(start, 777);
    ck_assert(!runid_parse_stat("42 (cut) S 1 2", &state, &start));
    ck_assert(!runid_parse_stat("no name", &state, &start));
}
END_TEST

/* This process is alive, a PID that is free is gone, a zombie is gone, and
 * our own PID with another start time (the PID reused) is gone. */
START_TEST(live_zombie_and_reused)
{
    struct runid me, other;
    ck_assert_int_eq(runid_self(&me), 0);
    ck_assert_int_eq(runid_state(&me), RUNID_ALIVE);
    other = me;
    other.start++;
    ck_assert_int_eq(runid_state(&other), RUNID_GONE);

    uint64_t start;
    pid_t pid = start_zombie(&start); /* not reaped yet */
    other = me;
    other.pid = (uint64_t)pid;
    other.start = start;
    ck_assert_int_eq(runid_state(&other), RUNID_GONE);
    waitpid(pid, NULL, 0);
    ck_assert_int_eq(runid_state(&other), RUNID_GONE);
}
END_TEST

/* A run in a PID namespace of its own: seen from outside it is alive under
 * its namespace and inner PID (1), although host PID 1 is another process. */
START_TEST(another_pid_namespace)
{
    if (geteuid() != 0)
        return; /* unshare(CLONE_NEWPID) needs root: covered in CI */
    struct runid id;
    pid_t outer = start_pid1_of_new_namespace(&id);
    struct runid me;
    ck_assert_int_eq(runid_self(&me), 0);
    ck_assert_uint_ne(id.pidns, me.pidns);
    ck_assert_uint_eq(id.pid, 1);
    ck_assert_int_eq(runid_state(&id), RUNID_ALIVE);
    /* the same PID in our namespace is someone else */
    struct runid same_pid = {me.pidns, id.pid, id.start};
    ck_assert_int_eq(runid_state(&same_pid), RUNID_GONE);
    /* The inner run dies with the outer one (PR_SET_PDEATHSIG); then it
     * is gone, seen from here, although its namespace numbering is unknown. */
    kill(outer, SIGKILL);
    waitpid(outer, NULL, 0);
    enum runid_state st = RUNID_ALIVE;
    for (int i = 0; i < 1000 && st == RUNID_ALIVE; i++) {
        usleep(2000);
        st = runid_state(&id);
    }
    ck_assert_int_eq(st, RUNID_GONE);
}
END_TEST

/* ---- sysctl_may_change, in each machine this test can make ---- */

/* Runs may_change in a child set up by `how`; returns its sentence, or ""
 * when it allowed the change. */
enum setup { AS_NOBODY, ROOTLESS_USERNS, PROC_SYS_READ_ONLY, NO_WRITABLE_STATE_DIR, STATE_DIR_NOT_OURS,
             FALLBACK_STATE_DIR };

static void run_setup(enum setup how, char *out, size_t len)
{
    int from_child;
    pid_t pid = fork_to_pipe(&from_child);
    if (pid == 0) {
        char why[1024] = "";
        int ok = 0;
        if (how == AS_NOBODY) {
            ok = setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
                 setresuid(65534, 65534, 65534) == 0;
        } else if (how == ROOTLESS_USERNS) {
            ok = setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
                 setresuid(65534, 65534, 65534) == 0 && unshare(CLONE_NEWUSER) == 0;
            int fd = ok ? open("/proc/self/uid_map", O_WRONLY) : -1;
            ok = fd >= 0 && write(fd, "0 65534 1\n", 10) == 10;
            if (fd >= 0)
                close(fd);
            if (!ok)
                _exit(77); /* user namespaces are off on this kernel */
        } else {
            ok = unshare(CLONE_NEWNS) == 0 && mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0;
            if (ok && how == PROC_SYS_READ_ONLY)
                ok = mount("/proc/sys", "/proc/sys", "none", MS_BIND, NULL) == 0 &&
                     mount("none", "/proc/sys", "none", MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) == 0;
            const char *dirs[] = {"/run", "/dev/shm", "/tmp"};
            for (int i = 0; ok && i < 3; i++) {
                if (how == NO_WRITABLE_STATE_DIR || (how == FALLBACK_STATE_DIR && i == 0))
                    ok = mount("tmpfs", dirs[i], "tmpfs", MS_RDONLY, NULL) == 0;
                else /* a private, empty place: never the host's */
                    ok = mount("tmpfs", dirs[i], "tmpfs", 0, NULL) == 0;
            }
            if (ok && how == STATE_DIR_NOT_OURS)
                ok = mkdir("/run/vmlab", 0777) == 0 && chmod("/run/vmlab", 0777) == 0;
        }
        if (!ok)
            _exit(3);
        int rc = sysctl_may_change("nr_hugepages", why, sizeof why);
        /* Where it made its lock directory: the first place it could. */
        const char *made[] = {"/run/vmlab", "/dev/shm/vmlab", "/tmp/vmlab"};
        for (int i = 0; rc == 0 && i < 3; i++)
            if (access(made[i], F_OK) == 0) {
                snprintf(why, sizeof why, "allowed in %s", made[i]);
                break;
            }
        ssize_t w = write(STDOUT_FILENO, why, strlen(why) + 1);
        _exit(w > 0 ? 0 : 1);
    }
    int status = child_output(from_child, pid, out, len);
    ck_assert_msg(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 77),
                  "setup %d: status %#x", how, status);
    if (WEXITSTATUS(status) == 77)
        out[0] = '\0';
}

START_TEST(may_change_says_what_is_missing)
{
    static const struct {
        enum setup how;
        const char *says;
    } cases[] = {
        {AS_NOBODY, "needs root: sudo "},
        {ROOTLESS_USERNS, "user namespace"},
        {PROC_SYS_READ_ONLY, "/proc/sys is read-only"},
        {NO_WRITABLE_STATE_DIR, "no place to keep"},
        {STATE_DIR_NOT_OURS, "not vmlab's own"},
        {FALLBACK_STATE_DIR, "allowed in /dev/shm/vmlab"},
    };
    char why[1024];
    if (geteuid() != 0) { /* the rest needs root to set up */
        ck_assert_int_eq(sysctl_may_change("nr_hugepages", why, sizeof why), -1);
        ck_assert_ptr_nonnull(strstr(why, "needs root"));
        return;
    }
    run_setup(cases[_i].how, why, sizeof why);
    if (cases[_i].how == ROOTLESS_USERNS && !why[0])
        return; /* no user namespaces here */
    ck_assert_msg(strstr(why, cases[_i].says) != NULL, "case %d: '%s' does not say '%s'", _i, why,
                  cases[_i].says);
    /* Each refusal names the command that would enable it: as nobody, this
     * very program's. */
    if (cases[_i].how == AS_NOBODY)
        ck_assert_msg(strstr(why, program_invocation_short_name), "'%s' does not name %s", why,
                      program_invocation_short_name);
    if (cases[_i].how != FALLBACK_STATE_DIR)
        ck_assert_msg(strstr(why, "sudo") || strstr(why, "sysctl -w") || strstr(why, "mount") ||
                      strstr(why, "rm -r"), "no command in '%s'", why);
}
END_TEST

/* ---- the command a user without root is given ---- */

#define NEEDS_ROOT "changing /proc/sys/vm/nr_hugepages needs root: sudo "
#define WHY_LEN_ENV "TEST_SYSCTL_WHY_LEN" /* set: this binary is the program asking */

/* What this binary does when run_as_program() starts it: asks as nobody,
 * with a `why` of the given size, and writes the sentence to stdout. */
static int ask_as_program(const char *why_len)
{
    char why[8192];
    size_t len = strtoul(why_len, NULL, 10);
    if (len == 0 || len > sizeof why)
        return 3;
    if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
                           setresuid(65534, 65534, 65534) != 0))
        return 3;
    if (sysctl_may_change("nr_hugepages", why, len) != -1)
        return 4;
    return fputs(why, stdout) >= 0 && fflush(stdout) == 0 ? 0 : 5;
}

/* Starts this binary again with `argv` (argv[0] as vmlab, the tour or a
 * shell would pass it) and returns what it was told, in `out`. */
static void run_as_program(const char *const argv[], size_t why_len, char *out, size_t len)
{
    char self[4096], number[24];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    snprintf(number, sizeof number, "%zu", why_len);
    int from_child;
    pid_t pid = fork_to_pipe(&from_child);
    if (pid == 0) {
        setenv(WHY_LEN_ENV, number, 1);
        execv(self, (char *const *)argv);
        _exit(127);
    }
    int status = child_output(from_child, pid, out, len);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %#x", argv[0], status);
}

/* Longer than what /proc/self/cmdline is read into, with a quote in every
 * word: cut anywhere, it would leave a quote open. */
static char long_arg[6000];

static const struct {
    const char *argv[6];
    size_t why_len;
    const char *command; /* what follows "sudo " */
} commands[] = {
    /* vmlab and the tour start a program of libexec/vmlab/ by its name alone */
    {{"overcommit-modes", "--step"}, 1024, "vmlab overcommit-modes --step"},
    {{"hugetlb-reserve", "--setup", "2"}, 1024, "vmlab hugetlb-reserve --setup 2"},
    /* a shell, by its path */
    {{"build/dev/demos/overcommit-modes", "--json"}, 1024, "build/dev/demos/overcommit-modes --json"},
    /* quoted where a shell would split or expand */
    {{"d", "a b", "it's", "", "$HOME*"}, 1024, "vmlab d 'a b' 'it'\\''s' '' '$HOME*'"},
    /* what does not fit is left out with what follows, and " ..." says so */
    {{"d", "--size", long_arg, "--step"}, 1024, "vmlab d --size ..."},
    {{"demos/d", "a b", long_arg}, 1024, "demos/d 'a b' ..."},
    {{"d", "it's", "c d"}, sizeof NEEDS_ROOT + sizeof "vmlab d 'it'\\''s' 'c d'" - 1,
     "vmlab d 'it'\\''s' 'c d'"},
    {{"d", "it's", "c d"}, sizeof NEEDS_ROOT + sizeof "vmlab d 'it'\\''s' 'c d'" - 2,
     "vmlab d 'it'\\''s' ..."},
    {{"d", "it's", "c d"}, sizeof NEEDS_ROOT + sizeof "vmlab d 'it'\\''s' ..." - 2, "vmlab d ..."},
};

START_TEST(needs_root_names_a_command_that_runs)
{
    char why[8192];
    for (size_t i = 0; i < sizeof long_arg - 1; i++)
        long_arg[i] = "it's "[i % 5];
    char expected[512];
    snprintf(expected, sizeof expected, NEEDS_ROOT "%s", commands[_i].command);
    run_as_program(commands[_i].argv, commands[_i].why_len, why, sizeof why);
    ck_assert_str_eq(why, expected);
}
END_TEST

/* A test's safety net waits for the lock a run holds, and gives up after
 * the time it was given. Check has no skip for one test of a binary: a
 * check not made says why on stderr. */
START_TEST(lock_alone_is_exclusive_and_bounded)
{
    if (geteuid() != 0) {
        fprintf(stderr, "lock_alone_is_exclusive_and_bounded: not checked: the vmlab lock "
                        "directory is root's (run the unit tests as root)\n");
        return;
    }
    /* Bounded: a demo paused at a --step prompt may hold the real lock. */
    int held = sysctl_lock(10);
    if (held < 0 && errno == EWOULDBLOCK) {
        fprintf(stderr, "lock_alone_is_exclusive_and_bounded: not checked: another vmlab run "
                        "(a demo paused with --step?) has held the vmlab lock for 10 s\n");
        return;
    }
    ck_assert_msg(held >= 0, "%s: %s", sysctl_failed_call(), strerror(errno));
    ck_assert_int_eq(sysctl_lock(1), -1);
    ck_assert_int_eq(errno, EWOULDBLOCK);
    close(held);
    int again = sysctl_lock(1);
    ck_assert_int_ge(again, 0);
    close(again);
}
END_TEST

START_TEST(may_change_only_what_vmlab_changes)
{
    char why[256];
    ck_assert_int_eq(sysctl_may_change("panic_on_oom", why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "not a /proc/sys/vm setting vmlab changes"));
    ck_assert_int_eq(sysctl_may_change("../../kernel/panic", why, sizeof why), -1);
}
END_TEST

int main(void)
{
    const char *why_len = getenv(WHY_LEN_ENV);
    if (why_len)
        return ask_as_program(why_len);
    Suite *s = suite_create("sysctl");
    TCase *tc = tcase_create("record");
    tcase_add_test(tc, record_round_trip);
    tcase_add_loop_test(tc, record_hostile_refused, 0, (int)(sizeof hostile / sizeof hostile[0]));
    tcase_add_test(tc, record_long_and_binary_refused);
    tcase_add_test(tc, allow_list_ranges);
    tcase_add_test(tc, restore_only_what_the_run_left);
    tcase_add_test(tc, restore_path_asks_no_locale);
    suite_add_tcase(s, tc);
    TCase *ids = tcase_create("runid");
    tcase_add_test(ids, runid_text);
    tcase_add_test(ids, stat_start_time_after_the_name);
    tcase_add_test(ids, live_zombie_and_reused);
    tcase_add_test(ids, another_pid_namespace);
    suite_add_tcase(s, ids);
    TCase *may = tcase_create("may_change");
    tcase_set_timeout(may, 30); /* the lock test waits up to 10 s for a run that holds it */
    tcase_add_loop_test(may, may_change_says_what_is_missing, 0, 6);
    tcase_add_test(may, may_change_only_what_vmlab_changes);
    tcase_add_test(may, lock_alone_is_exclusive_and_bounded);
    tcase_add_loop_test(may, needs_root_names_a_command_that_runs, 0,
                        (int)(sizeof commands / sizeof commands[0]));
    suite_add_tcase(s, may);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
