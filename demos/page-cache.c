/* SPDX-License-Identifier: MIT */
/* page-cache: how a file's pages come into the page cache when it is read (the summary in
 * demo_info below says how), on a file the demo deletes as soon as it makes it. After each step
 * mincore over a never-touched mapping of the file draws which pages are cached
 * (lib/present/file-pages; page-writeback writes them back and drops them). */
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

#define RANGE_PAGES 64   /* what WILLNEED asks for */

/* ---- The lesson ---- */

static int fd = -1;
static size_t page, len;
static char block[64 * 1024];
static char *m;            /* the mapping the lesson reads through */
static char c;
static ssize_t got, written;

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

LESSON_FN static void read_one(void) { LESSON(&n, got = pread(fd, &c, 1, 0);); }

LESSON_FN static void fault_random(void)
{
    LESSON(&n, m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
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

/* ---- What each step measured, and what it shows (the rows: lib/present/file-pages) ---- */

static void explain_create(void) { file_pages_explain_create(&d, written); }

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
    CONCLUDE(&n, "tmpfs_read_pages_dirty", d.tmpfs && d.after.file_dirty > 0,
             VALUES(VAL("file_dirty_before_kB", d.after.file_dirty)), "On tmpfs even pages only "
             "read are dirty (file_dirty %lld kB): no disk copy to be clean against.",
             (long long)d.after.file_dirty);
}

static void explain_willneed(void)
{
    long more = d.after.resident - d.before.resident, fin = file_pages_fincore(&d);
    long now = d.after.resident;
    if (!CONCLUDE(&n, "willneed_reads_range", more == RANGE_PAGES, VALUES(VAL("new_pages", more)),
                  "POSIX_FADV_WILLNEED brought in the %d pages it named; this process read none.",
                  RANGE_PAGES))
        CONCLUDE(&n, "willneed_found_cached", more == 0 && now == d.before.resident,
                 VALUES(VAL("new_pages", more), VAL("resident_pages", now)),
                 "The %d pages it named were cached already (%ld of the file's pages are): "
                 "nothing to read%s.", RANGE_PAGES, now,
                 d.tmpfs ? ", on tmpfs they are the file" : "");
    if (fin >= 0) {
        narrate_fact_int(&n, "fincore_pages", fin);
        CONCLUDE(&n, "fincore_agrees", fin == now, VALUES(VAL("fincore_pages", fin),
                 VAL("resident_pages", now)), "fincore (util-linux) counts the same %ld pages: it "
                 "asks mincore too.", fin);
    }
}

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
};

/* ---- Options and the machine ---- */

static const struct cli_option options[] = {FILE_PAGES_DIR_OPTION};

static const struct demo_info info = {
    .name = "page-cache",
    .summary = "Makes a 2 MiB file and shows its pages in the page cache, page by page,\n"
               "as it is read: a read brings in more than it asked for (readahead),\n"
               "MADV_RANDOM and MADV_SEQUENTIAL change that, POSIX_FADV_WILLNEED reads\n"
               "ahead on request. (page-writeback: dirty pages, written back, dropped.)",
    DEMO_OPTIONS(options),
    .examples = "  page-cache                 the five steps\n"
                "  page-cache --dir /dev/shm  the same on tmpfs\n",
    .draws = DRAWS_RESIDENCY,
    .lessons = LESSONS(TABLE(steps)),
};

static const char *dir_given;

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)ctx;
    (void)index;
    if (!file_pages_dir_given(arg))
        cli_usage_error(&info, "--dir: give a directory that exists");
    dir_given = arg;
}

int main(int argc, char **argv)
{
    struct cli_common common;
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, on_option, NULL));
    page = (size_t)sysconf(_SC_PAGESIZE);
    len = d.len = FILE_PAGES * page;
    demo_start(&n, &info, &common, NARRATE_COUNT(steps));
    memset(block, 'v', sizeof block);
    file_pages_start(&d, dir_given, "");
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    file_pages_finish(&d);
}
