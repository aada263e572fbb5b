/* SPDX-License-Identifier: MIT */
/* page-cache: a file's pages in the page cache (the summary in demo_info below says how), on a
 * file the demo deletes as soon as it makes it. After each step mincore over a never-touched
 * mapping of the file draws which pages are cached, smaps of the mapping the lesson writes through
 * says how many are dirty, and /proc/meminfo's Cached, Dirty and Writeback are the machine's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "residency.h"
#include "snapshot-report.h"

#define FILE_PAGES 512   /* 2 MiB of 4 KiB pages: one picture, 8 lines */
#define RANGE_PAGES 64   /* what WILLNEED asks for, and what the write dirties */

/* ---- The lesson ---- */

static char path[PATH_MAX];
static int fd = -1, dc = -1;
static size_t page, len;
static char block[64 * 1024];
static char *m;            /* the mapping the lesson reads and writes through */
static char c;
static ssize_t got, written;

static struct narrator n;

LESSON_FN static void create(void)
{
    LESSON(&n, fd = mkstemp(path);
               if (fd < 0) narrate_fail_errno(&n, "mkstemp", errno);
               unlink(path);
               for (size_t off = 0; off < len; off += sizeof block)
                   written += pwrite(fd, block, sizeof block, (off_t)off);
               fsync(fd);
               posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED););
}

LESSON_FN static void read_one(void) { LESSON(&n, got = pread(fd, &c, 1, 0);); }

LESSON_FN static void fault_random(void)
{
    LESSON(&n, m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
               if (m == MAP_FAILED) narrate_fail_errno(&n, "mmap", errno);
               madvise(m, len, MADV_RANDOM);
               c = FORCE_READ(m[len / 4]););
}

LESSON_FN static void fault_sequential(void)
{
    LESSON(&n, madvise(m, len, MADV_SEQUENTIAL);
               c = FORCE_READ(m[len / 2]););
}

LESSON_FN static void willneed(void)
{
    LESSON(&n, posix_fadvise(fd, (off_t)(len / 8), RANGE_PAGES * page, POSIX_FADV_WILLNEED););
}

LESSON_FN static void write_mapped(void) { LESSON(&n, memset(m, 'w', RANGE_PAGES * page);); }

LESSON_FN static void start_writeback(void)
{
    LESSON(&n, sync_file_range(fd, 0, (off_t)(RANGE_PAGES * page), SYNC_FILE_RANGE_WRITE););
}

LESSON_FN static void flush(void) { LESSON(&n, fsync(fd);); }

LESSON_FN static void dontneed(void)
{
    LESSON(&n, munmap(m, len); m = NULL;
               posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED););
}

LESSON_FN static void read_all(void) { LESSON(&n, posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);); }

LESSON_FN static void drop_caches(void)
{
    LESSON(&n, dc = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
               if (dc < 0) narrate_fail_errno(&n, "open /proc/sys/vm/drop_caches", errno);
               if (write(dc, "1", 1) != 1) narrate_fail_errno(&n, "write drop_caches", errno);
               close(dc););
}

/* ---- What each step measured, and what it shows ---- */

/* /proc/meminfo's keys (system-wide), and the rows they are shown as. */
static const struct { const char *key, *row; } mem[] = {
    {"Cached", "Cached"}, {"Active(file)", "Active_file"}, {"Inactive(file)", "Inactive_file"},
    {"Dirty", "Dirty"}, {"Writeback", "Writeback"}};

static struct {
    struct reading {
        long resident;             /* the file's pages in the page cache (mincore) */
        int64_t file_dirty;        /* smaps of m: Shared_Dirty + Private_Dirty, kB */
        int64_t mem[5];            /* /proc/meminfo's, kB; -1 absent */
        struct snapshot s;         /* m's smaps entry, and the fault counts */
    } before, after;
    char *view;                    /* never touched: for mincore only */
    char picture[FILE_PAGES + 1];
    bool tmpfs;
    long fs_type;
} d;

/* The view is made once step 1 has made the file. Reads may still be in flight when a call
 * returns: the picture is drawn once three readings 20 ms apart agree (at most a second). */
static void observe(void *ctx, bool after)
{
    (void)ctx;
    if (!d.view && fd >= 0) {
        d.view = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        if (d.view == MAP_FAILED)
            narrate_fail_errno(&n, "mmap", errno);
    }
    struct reading *r = after ? &d.after : &d.before;
    r->resident = d.view ? residency_picture(d.view, len, d.picture, sizeof d.picture) : -1;
    for (int i = 0; i < 5; i++)
        r->mem[i] = procfs_read_one("/proc/meminfo", mem[i].key);
    snapshot_take_or_fail(&r->s, (uintptr_t)m, &n);
    long long sd = snapshot_value(&r->s, "Shared_Dirty");
    long long pd = snapshot_value(&r->s, "Private_Dirty");
    r->file_dirty = sd < 0 || pd < 0 ? -1 : sd + pd;
    if (!after)
        return;
    long now = d.after.resident, settled = now;
    for (int same = 0, waited = 0; same < 3 && waited < 1000; waited += 20) {
        usleep(20000);
        long again = residency_picture(d.view, len, d.picture, sizeof d.picture);
        same = again == settled ? same + 1 : 0;
        settled = again;
    }
    narrate_picture(&n, "mincore", d.picture);
    narrate_fact_int(&n, "resident_settled", settled);
    narrate_value(&n, "resident_pages", "", d.before.resident >= 0, d.before.resident, true, now);
    narrate_value(&n, "file_dirty", "kB", d.before.file_dirty >= 0, d.before.file_dirty,
                  d.after.file_dirty >= 0, d.after.file_dirty);
    for (int i = 0; i < 5; i++)
        narrate_value(&n, mem[i].row, "kB", d.before.mem[i] >= 0, d.before.mem[i],
                      d.after.mem[i] >= 0, d.after.mem[i]);
    snapshot_row(&n, &d.before.s, &d.after.s, "major_faults");
    CONCLUDE(&n, "reads_completed_later", settled > now,
             VALUES(VAL("resident_pages", now), VAL("resident_settled", settled)),
             "%ld more pages showed up a moment later (%ld in all): the call returned with reads "
             "in flight, and mincore counts a page once its read is done.", settled - now, settled);
    d.after.resident = settled; /* what the explanation counts */
}

static void explain_create(void)
{
    if (written != (ssize_t)len)
        narrate_fail_errno(&n, "pwrite", n.lesson_errno);
    narrate_fact(&n, "file", "%s (deleted)", path);
    narrate_fact_int(&n, "fd", fd);
    narrate_fact(&n, "watch_view", "%p", (void *)d.view);
    narrate_fact_int(&n, "pages", FILE_PAGES);
    narrate_fact(&n, "file_system", "%s", d.tmpfs ? "tmpfs" : "disk-backed");
    narrate_fact(&n, "f_type", "%#lx", d.fs_type);
    narrate_watch(&n, (uintptr_t)d.view);
    long now = d.after.resident;
    CONCLUDE(&n, "file_on_disk_only", !d.tmpfs && now == 0, VALUES(VAL("resident_pages", now)),
             "fsync wrote it, then POSIX_FADV_DONTNEED dropped its clean pages (no privilege "
             "needed): the file is on disk only.");
    CONCLUDE(&n, "tmpfs_cache_is_the_file", d.tmpfs && now == FILE_PAGES,
             VALUES(VAL("resident_pages", now)), "On tmpfs the page cache IS the file: all %ld "
             "pages stay, no disk to drop them to.", now);
}

static void explain_read_one(void)
{
    long more = d.after.resident - d.before.resident;
    if (got != 1)
        narrate_fail_errno(&n, "pread", n.lesson_errno);
    CONCLUDE(&n, "readahead", more > 1, VALUES(VAL("new_pages", more)), "One byte asked for, "
             "%ld pages came in: the kernel read ahead, betting that the program reads on.", more);
    CONCLUDE(&n, "one_page_read", more == 1, VALUES(VAL("new_pages", 1)),
             "Exactly one page came in.");
    CONCLUDE(&n, "nothing_new", more == 0, VALUES(VAL("new_pages", 0)),
             "The page was cached already: no read.");
}

/* Both fault steps: a read through the mapping, with the advice its lesson gave. */
static void explain_fault(void)
{
    bool random = strcmp(n.id, "fault_random") == 0;
    long more = d.after.resident - d.before.resident;
    int64_t maj = snapshot_delta0(&d.before.s, &d.after.s, "major_faults");
    if (random)
        narrate_fact(&n, "mapping", "%p", (void *)m);
    CONCLUDE(&n, random ? "random_no_readahead" : "sequential_reads_ahead",
             random ? more == 1 : more > 1,
             VALUES(VAL("new_pages", more), VAL("major_faults", maj)),
             "With %s the fault read %ld page%s (%lld major fault): %s.",
             random ? "MADV_RANDOM" : "MADV_SEQUENTIAL", more, random ? "" : "s", (long long)maj,
             random ? "the one it needed, no readahead" : "it read ahead of the byte");
    CONCLUDE(&n, "fault_found_page_cached", more == 0, VALUES(VAL("new_pages", 0)),
             "The page was cached already: the fault only mapped it.");
}

/* fincore (util-linux) over the same file; -1 where it is not installed (sh exits 127). */
static long fincore_pages(void)
{
    char cmd[128], out[64];
    snprintf(cmd, sizeof cmd, "/usr/bin/fincore --noheadings --raw --output PAGES /proc/%ld/fd/%d "
             "2>/dev/null", (long)getpid(), fd);
    FILE *p = popen(cmd, "r"); // NOLINT(cert-env33-c): a fixed command line
    bool read = p && fgets(out, sizeof out, p);
    return p && pclose(p) == 0 && read ? strtol(out, NULL, 10) : -1;
}

static void explain_willneed(void)
{
    long more = d.after.resident - d.before.resident, fin = fincore_pages(), now = d.after.resident;
    CONCLUDE(&n, "willneed_reads_range", more == RANGE_PAGES, VALUES(VAL("new_pages", more)),
             "POSIX_FADV_WILLNEED brought in the %d pages it named; this process read none.",
             RANGE_PAGES);
    if (fin >= 0) {
        narrate_fact_int(&n, "fincore_pages", fin);
        CONCLUDE(&n, "fincore_agrees", fin == now, VALUES(VAL("fincore_pages", fin),
                 VAL("resident_pages", now)), "fincore (util-linux) counts the same %ld pages: it "
                 "asks mincore too.", fin);
    }
}

static void explain_write(void)
{
    int64_t want = (int64_t)(RANGE_PAGES * page / 1024), was = d.before.file_dirty;
    int64_t grew = d.after.file_dirty - was;
    CONCLUDE(&n, "file_pages_dirty", grew == want,
             VALUES(VAL("file_dirty_delta_kB", grew), VAL("written_kB", want)),
             "The %lld kB written are dirty (file_dirty, from smaps): newer than %s. Dirty in "
             "/proc/meminfo is the whole machine's.", (long long)grew,
             d.tmpfs ? "nothing: tmpfs has no disk" : "the disk");
    CONCLUDE(&n, "tmpfs_read_pages_dirty", d.tmpfs && was > 0,
             VALUES(VAL("file_dirty_before_kB", was)), "On tmpfs even the pages only read were "
             "dirty (%lld kB): no disk copy to be clean against.", (long long)was);
}

static void explain_writeback(void)
{
    int64_t wb = d.after.mem[4], was = d.before.file_dirty, now = d.after.file_dirty;
    CONCLUDE(&n, "handed_to_disk", !d.tmpfs && was > 0 && now == 0,
             VALUES(VAL("file_dirty_before_kB", was), VAL("file_dirty_after_kB", now)),
             "SYNC_FILE_RANGE_WRITE started the writeback without waiting: the pages are no "
             "longer dirty (file_dirty 0 kB), on their way to the disk or there already.");
    CONCLUDE(&n, "writeback_in_flight", wb > 0, VALUES(VAL("writeback_kB", wb)),
             "Writeback shows %lld kB in flight just after (the whole machine's).", (long long)wb);
    CONCLUDE(&n, "tmpfs_no_writeback", d.tmpfs && now == was, VALUES(VAL("file_dirty_kB", now)),
             "On tmpfs nothing is written anywhere: the pages stay dirty.");
}

static void explain_flush(void)
{
    int64_t now = d.after.file_dirty;
    CONCLUDE(&n, "file_clean", !d.tmpfs && now == 0, VALUES(VAL("file_dirty_kB", now)),
             "fsync returned once the disk had every page: the file is clean, and its %ld pages "
             "stay cached for the next reader.", d.after.resident);
    CONCLUDE(&n, "tmpfs_fsync_nothing", d.tmpfs && now == d.before.file_dirty,
             VALUES(VAL("file_dirty_kB", now)), "On tmpfs fsync has nowhere to write: file_dirty "
             "stays %lld kB.", (long long)now);
}

static void explain_dontneed(void)
{
    long was = d.before.resident, now = d.after.resident;
    CONCLUDE(&n, "every_page_dropped", !d.tmpfs && was > 0 && now == 0,
             VALUES(VAL("resident_before", was), VAL("resident_after", now)),
             "All %ld cached pages were dropped: unmapped and clean, the kernel may forget them "
             "(the disk has the same data).", was);
    CONCLUDE(&n, "tmpfs_keeps_pages", d.tmpfs && now == was, VALUES(VAL("resident_after", now)),
             "On tmpfs the pages are the file: nothing was dropped.");
}

static void explain_read_all(void)
{
    CONCLUDE(&n, "whole_file_cached", d.after.resident == FILE_PAGES,
             VALUES(VAL("resident_pages", d.after.resident)),
             "All %ld pages are cached again.", d.after.resident);
}

static void explain_drop_caches(void)
{
    long was = d.before.resident, now = d.after.resident;
    long long cached = (long long)(d.after.mem[0] - d.before.mem[0]);
    CONCLUDE(&n, "drop_caches_emptied_file", was > 0 && now == 0,
             VALUES(VAL("resident_before", was), VAL("resident_after", now)),
             "All %ld cached pages of the file are gone, with every clean cached page of the "
             "machine (Cached %+lld kB). An action, not a setting: nothing to undo.", was, cached);
}

/* The lesson as a table; its last two rows run only with --drop-caches. */
static const struct narrate_lesson steps[] = {
    {"create", "Make a file, flush it, drop it from memory", create, explain_create, NO_QUESTION},
    {"read_one", "Read one byte", read_one, explain_read_one,
     "How many pages of the file does reading one byte bring in?",
     {"none", "exactly one", "more than one"}, {"nothing_new", "one_page_read", "readahead"}},
    {"fault_random", "Map it, MADV_RANDOM, read a byte a quarter in", fault_random, explain_fault,
     NO_QUESTION},
    {"fault_sequential", "MADV_SEQUENTIAL, read a byte half-way", fault_sequential,
     explain_fault, NO_QUESTION},
    {"willneed", "POSIX_FADV_WILLNEED on 64 pages", willneed, explain_willneed, NO_QUESTION},
    {"write_mapped", "Write 64 pages through the mapping", write_mapped, explain_write,
     NO_QUESTION},
    {"start_writeback", "Start writing them back", start_writeback, explain_writeback, NO_QUESTION},
    {"fsync", "Wait for the disk: fsync", flush, explain_flush, NO_QUESTION},
    {"dontneed", "Unmap, then POSIX_FADV_DONTNEED", dontneed, explain_dontneed, NO_QUESTION},
    {"read_all", "Read it all in: POSIX_FADV_WILLNEED", read_all, explain_read_all, NO_QUESTION},
    {"drop_caches", "Drop every clean cached page of the machine", drop_caches,
     explain_drop_caches, NO_QUESTION},
};

/* ---- Options, the directory and the machine ---- */

enum { OPT_DROP, OPT_DIR };
static const struct cli_option options[] = {
    [OPT_DIR] = {"dir", "DIR", "make the file in DIR (default: the first of $TMPDIR, /var/tmp "
                               "and /tmp that is not tmpfs, else the first writable one)"},
    [OPT_DROP] = {"drop-caches", NULL, "as root, a last step: write 1 to /proc/sys/vm/"
                                      "drop_caches (drops every clean cached page of the machine)"},
};

/* --drop-caches writes a file only root may write (nothing to put back afterwards). */
static bool drop;
static const struct demo_need needs[] = {
    {NEED_WRITE, "/proc/sys/vm/drop_caches", .when = &drop, .option = "--drop-caches"},
    {0},
};

static const struct demo_info info = {
    .name = "page-cache",
    .summary = "Makes a 2 MiB file and shows its pages in the page cache, page by page:\n"
               "a read brings in more than it asked for (readahead), MADV_RANDOM and\n"
               "MADV_SEQUENTIAL change that, POSIX_FADV_WILLNEED reads ahead on request;\n"
               "a write makes pages dirty, writeback and fsync make them clean, and\n"
               "POSIX_FADV_DONTNEED drops clean pages.",
    DEMO_OPTIONS(options),
    .examples = "  page-cache                the nine steps\n"
                "  page-cache --dir /dev/shm    the same on tmpfs\n"
                "  sudo page-cache --drop-caches\n",
    .needs = needs,
    .draws = DRAWS_RESIDENCY,
    .lessons = LESSONS(TABLE(steps)),
};

static const char *dir_given;

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)ctx;
    struct stat st;
    if (index == OPT_DROP)
        drop = true;
    else if (!arg[0] || strlen(arg) > PATH_MAX - 64 || stat(arg, &st) != 0 || !S_ISDIR(st.st_mode))
        cli_usage_error(&info, "--dir: give a directory that exists");
    else
        dir_given = arg;
}

/* --dir, else its default (the help above): a disk-backed directory this process may write. */
static void choose_dir(void)
{
    const char *dirs[] = {dir_given ? dir_given : getenv("TMPDIR"), "/var/tmp", "/tmp"};
    for (size_t i = 0; i < (dir_given ? 1 : 3) && (!path[0] || d.tmpfs); i++) {
        struct statfs s;
        if (!dirs[i] || !dirs[i][0] || access(dirs[i], W_OK | X_OK) != 0 || statfs(dirs[i], &s) != 0
            || (path[0] && s.f_type == TMPFS_MAGIC))
            continue;
        d.tmpfs = s.f_type == TMPFS_MAGIC;
        d.fs_type = (long)s.f_type;
        snprintf(path, sizeof path, "%s/vmlab-page-cache-XXXXXX", dirs[i]);
    }
}

int main(int argc, char **argv)
{
    struct cli_common common;
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, on_option, NULL));
    demo_start(&n, &info, &common, NARRATE_COUNT(steps) - (drop ? 0 : 2));
    page = (size_t)sysconf(_SC_PAGESIZE);
    len = FILE_PAGES * page;
    memset(block, 'v', sizeof block);
    choose_dir();
    if (!path[0])
        narrate_finish(&n, RESULT_SKIP, "%s", dir_given ? "--dir: this process may not write there"
                                                     : "no writable directory among $TMPDIR, "
                                                       "/var/tmp and /tmp: give one with --dir");
    struct budget b;
    budget_read(&b);
    if (b.bytes != BUDGET_UNLIMITED && b.bytes < 4 * len)
        narrate_finish(&n, RESULT_SKIP, "%s leaves less than 8 MiB for a 2 MiB file's pages",
                       budget_limit_name(b.binding));
    narrate_observe(&n, observe, NULL);
    narrate_intro(&n, "page-cache (PID %ld): a %zu KiB file in %.*s (%s)%s", (long)getpid(),
                  len / 1024, (int)(strrchr(path, '/') - path), path,
                  d.tmpfs ? "tmpfs" : "disk-backed",
                  drop ? ".\nIts last step drops every clean cached page of this machine." : ".");
    narrate_run(&n, steps, n.nsteps);
    munmap(d.view, len);
    close(fd);
    narrate_finish(&n, RESULT_OK, "the file is gone with its last descriptor; every number "
                                  "above was measured in this run.");
}
