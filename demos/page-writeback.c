/* SPDX-License-Identifier: MIT */
/* page-writeback: how a file's pages written through a mapping become dirty, are written back
 * and dropped from the page cache (the summary in demo_info below says how), on a file the demo
 * deletes as soon as it makes it. After each step mincore over a never-touched mapping of the
 * file draws which pages are cached, smaps of the mapping the lesson writes through says how many
 * are dirty, and /proc/meminfo's Dirty and Writeback are the machine's (lib/present/file-pages;
 * page-cache reads the file in). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "file-pages.h"
#include "narrate.h"
#include "needs.h"

#define RANGE_PAGES 64   /* what the write dirties */

/* ---- The lesson ---- */

static int fd = -1, dc = -1;
static size_t page, len;
static char block[64 * 1024];
static char *m;            /* the mapping the lesson writes through */
static ssize_t written;

static struct narrator n;
static struct file_pages d = {.n = &n, .fd = &fd, .map = &m};
static char *const path = d.path;

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

LESSON_FN static void write_mapped(void)
{
    LESSON(&n, m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
               if (m == MAP_FAILED) narrate_fail_errno(&n, "mmap", errno);
               memset(m, 'w', RANGE_PAGES * page););
}

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

/* ---- What each step measured, and what it shows (the rows: lib/present/file-pages) ---- */

static void explain_create(void) { file_pages_explain_create(&d, written); }

/* Before the write there was no mapping (file_dirty -1): nothing of it was dirty. */
static void explain_write(void)
{
    int64_t want = (int64_t)(RANGE_PAGES * page / 1024), was = d.before.file_dirty;
    int64_t grew = d.after.file_dirty - (was < 0 ? 0 : was);
    narrate_fact(&n, "mapping", "%p", (void *)m);
    CONCLUDE(&n, "file_pages_dirty", grew == want,
             VALUES(VAL("file_dirty_delta_kB", grew), VAL("written_kB", want)),
             "The %lld kB written are dirty (file_dirty, from smaps): newer than %s. Dirty in "
             "/proc/meminfo is the whole machine's.", (long long)grew,
             d.tmpfs ? "nothing: tmpfs has no disk" : "the disk");
}

static void explain_writeback(void)
{
    int64_t wb = d.after.mem[FP_WRITEBACK], was = d.before.file_dirty, now = d.after.file_dirty;
    CONCLUDE(&n, "handed_to_disk", !d.tmpfs && was > 0 && now == 0,
             VALUES(VAL("file_dirty_before_kB", was), VAL("file_dirty_after_kB", now)),
             "SYNC_FILE_RANGE_WRITE started the writeback without waiting: the pages are no "
             "longer dirty (file_dirty 0 kB), on their way to the disk or there already.");
    CONCLUDE(&n, "writeback_in_flight", !d.tmpfs && wb > d.before.mem[FP_WRITEBACK],
             VALUES(VAL("writeback_kB", wb)),
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
    long was = d.before.resident, now = d.after.resident;
    if (!CONCLUDE(&n, "tmpfs_pages_never_left", d.tmpfs && was == FILE_PAGES && now == was,
                  VALUES(VAL("resident_pages", now)),
                  "All %ld pages were cached still: on tmpfs they never left.", now))
        CONCLUDE(&n, "whole_file_cached", now == FILE_PAGES, VALUES(VAL("resident_pages", now)),
                 "All %ld pages are cached again.", now);
}

static void explain_drop_caches(void)
{
    long was = d.before.resident, now = d.after.resident;
    long long cached = (long long)(d.after.mem[FP_CACHED] - d.before.mem[FP_CACHED]);
    CONCLUDE(&n, "drop_caches_emptied_file", was > 0 && now == 0,
             VALUES(VAL("resident_before", was), VAL("resident_after", now)),
             "All %ld cached pages of the file are gone, with every clean cached page of the "
             "machine (Cached %+lld kB). An action, not a setting: nothing to undo.", was, cached);
    CONCLUDE(&n, "tmpfs_survives_drop_caches", d.tmpfs && was > 0 && now == was,
             VALUES(VAL("resident_after", now), VAL("cached_delta_kB", cached)),
             "The file's %ld pages stay (Cached %+lld kB, the machine's clean pages): on tmpfs "
             "they are the file, not a copy of one on disk. Nothing to undo.", now, cached);
}

/* The lesson as a table, and what --drop-caches adds after it. */
static const struct narrate_lesson steps[] = {
    {"create", "Make a file, flush it, drop it from memory", create, explain_create, NO_QUESTION},
    {"write_mapped", "Map it, write 64 pages through the mapping", write_mapped, explain_write,
     NO_QUESTION},
    {"start_writeback", "Start writing them back", start_writeback, explain_writeback, NO_QUESTION},
    {"fsync", "Wait for the disk: fsync", flush, explain_flush, NO_QUESTION},
    {"dontneed", "Unmap, then POSIX_FADV_DONTNEED", dontneed, explain_dontneed, NO_QUESTION},
};
static const struct narrate_lesson dropping[] = {
    {"read_all", "Read it all in: POSIX_FADV_WILLNEED", read_all, explain_read_all, NO_QUESTION},
    {"drop_caches", "Drop every clean cached page of the machine", drop_caches,
     explain_drop_caches, NO_QUESTION},
};

/* ---- Options and the machine ---- */

enum { OPT_DROP, OPT_DIR };
static const struct cli_option options[] = {
    [OPT_DIR] = FILE_PAGES_DIR_OPTION,
    [OPT_DROP] = {"drop-caches", NULL, "as root, two more steps: read the file in, then write 1 to "
                                      "/proc/sys/vm/drop_caches (every clean cached page goes)"},
};

/* --drop-caches writes a file only root may write (nothing to put back afterwards). The lesson's
 * memory is page cache and shared file mappings: neither rlimits nor the commit charge count
 * them, so no NEED_MEMORY. */
static bool drop;
static const struct demo_need needs[] = {
    {NEED_WRITE, "/proc/sys/vm/drop_caches", .when = &drop, .option = "--drop-caches"},
    {0},
};

static const struct demo_info info = {
    .name = "page-writeback",
    .summary = "Makes a 2 MiB file and shows its pages in the page cache, page by page,\n"
               "as it is written: a write through a mapping makes pages dirty,\n"
               "writeback and fsync make them clean, and POSIX_FADV_DONTNEED drops\n"
               "clean pages. (page-cache: how pages come in when a file is read.)",
    DEMO_OPTIONS(options),
    .examples = "  page-writeback                 the five steps\n"
                "  page-writeback --dir /dev/shm  the same on tmpfs\n"
                "  sudo page-writeback --drop-caches\n",
    .needs = needs,
    .draws = DRAWS_RESIDENCY,
    .lessons = LESSONS(TABLE(steps), TABLE(dropping)),
};

static const char *dir_given;

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)ctx;
    if (index == OPT_DROP)
        drop = true;
    else if (!file_pages_dir_given(arg))
        cli_usage_error(&info, "--dir: give a directory that exists");
    else
        dir_given = arg;
}

int main(int argc, char **argv)
{
    struct cli_common common;
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, on_option, NULL));
    page = (size_t)sysconf(_SC_PAGESIZE);
    len = d.len = FILE_PAGES * page;
    demo_start(&n, &info, &common, NARRATE_COUNT(steps) + (drop ? NARRATE_COUNT(dropping) : 0));
    memset(block, 'v', sizeof block);
    file_pages_start(&d, dir_given, drop ? "\nIts last step drops every clean cached page of "
                                           "this machine." : "");
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    if (drop)
        narrate_run(&n, dropping, NARRATE_COUNT(dropping));
    file_pages_finish(&d);
}
