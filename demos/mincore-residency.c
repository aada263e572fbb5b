/* SPDX-License-Identifier: MIT */
/* mincore-residency: which pages are in memory, as a picture ('#' resident,
 * '.' not) after each step, and where mincore and smaps disagree (the zero
 * page). With --file, which pages of a file are in the page cache, whoever
 * read them (lib/kernel/residency.h says what mincore reports for each). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cli.h"
#include "narrate.h"
#include "needs.h"
#include "residency.h"
#include "snapshot-report.h"
#include "snapshot.h"

#define MAX_PAGES 4096
#define FAIL(call) narrate_fail_errno(&n, (call), errno)

static struct narrator n;
static size_t page, pages, len;  /* the page size; the mapping in pages (0: --pages not given) */
static char *guard, *p;          /* the PROT_NONE reservation; the mapping inside it */
static char value;               /* what a read step read */

/* ---- The lesson: anonymous memory ---- */

/* A PROT_NONE page on each side keeps p a mapping of its own. */
LESSON_FN static void map(void)
{
    LESSON(&n, guard = mmap(NULL, len + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
               if (guard == MAP_FAILED) FAIL("mmap");
               p = mmap(guard + page, len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
               if (p == MAP_FAILED) FAIL("mmap");
               madvise(p, len, MADV_NOHUGEPAGE););
    narrate_watch(&n, (uintptr_t)p);
}

LESSON_FN static void write_page_0(void) { LESSON(&n, p[0 * page] = 1;); }
LESSON_FN static void write_pages_3_7(void) { LESSON(&n, p[3 * page] = 1; p[7 * page] = 1;); }
LESSON_FN static void read_page_5(void) { LESSON(&n, value = FORCE_READ(p[5 * page]);); }
LESSON_FN static void write_page_5(void) { LESSON(&n, p[5 * page] = 1;); }

LESSON_FN static void throw_away(void)
{
    LESSON(&n, if (madvise(p, len, MADV_DONTNEED) != 0) FAIL("madvise"););
}

LESSON_FN static void read_page_0(void) { LESSON(&n, value = FORCE_READ(p[0]);); }

/* ---- What each step measured, and what it shows ---- */

static struct {
    size_t scale;                   /* pages per character of the picture (--scale) */
    struct snapshot before, after;  /* around each LESSON */
    char picture[MAX_PAGES + 1];    /* lives until the next step, as narrate_picture needs */
    long resident, resident_before; /* after this step's LESSON, and after the one before */
} d = {.scale = 1};

#define delta(key) snapshot_delta0(&d.before, &d.after, (key))

/* The picture after a step: drawn, or for a file mincore lies about only counted. */
static void picture(bool drawn)
{
    d.resident_before = d.resident;
    d.resident = residency_picture_scaled(p, len, d.scale, d.picture, sizeof d.picture);
    if (d.resident < 0)
        FAIL("mincore");
    if (!drawn)
        return;
    narrate_picture(&n, "mincore", d.picture);
    narrate_fact_int(&n, "resident_pages", d.resident);
    narrate_fact_int(&n, "pages", (int64_t)pages);
    if (d.scale > 1)
        narrate_fact(&n, "legend", "one character per %zu pages: '#' all resident, '+' some, "
                                   "'.' none", d.scale);
}

/* Around each anonymous LESSON; right after it, what every anonymous step shows: the
 * mapping, the picture, Rss and faults. */
static void observe(void *ctx, bool after)
{
    (void)ctx;
    snapshot_take_or_fail(after ? &d.after : &d.before, (uintptr_t)p, &n);
    if (!after)
        return;
    if (d.after.mapped)
        snapshot_maps_fact(&n, &d.after.entry);
    picture(true);
    snapshot_report(&n, &d.before, &d.after, (const char *const[]){"Rss", "minor_faults", NULL});
}

/* THP "always" may still put a huge page here if MADV_NOHUGEPAGE was lost. */
static void huge_page_check(void)
{
    int64_t huge = 0;
    snapshot_get(&d.after, "AnonHugePages", &huge);
    CONCLUDE(&n, "huge_page_despite_nohugepage", huge > 0, VALUES(VAL("anon_huge_pages_kB", huge)),
             "A %lld kB huge page arrived despite MADV_NOHUGEPAGE: one fault filled many pages.",
             (long long)huge);
}

static void explain_map(void)
{
    CONCLUDE(&n, "nothing_resident_after_mmap", d.resident == 0,
             VALUES(VAL("resident_pages", d.resident)),
             "Nothing is resident: mmap made the mapping, not the memory.");
}

static void explain_write(void)
{
    int64_t rss = delta("Rss"), faults = delta("minor_faults");
    long more = d.resident - d.resident_before;
    size_t written = strcmp(n.id, "write_page_0") == 0 ? 1 : 2; /* the pages this step wrote */
    CONCLUDE(&n, "each_write_one_page",
             rss == (int64_t)(written * page / 1024) && more == (long)written,
             VALUES(VAL("rss_delta_kB", rss), VAL("minor_faults", faults),
                    VAL("new_resident_pages", more)),
             "Each write faulted in one page: %zu more page%s resident, and Rss grew by exactly "
             "as much (%lld kB).", written, written == 1 ? "" : "s", (long long)rss);
    huge_page_check();
}

static void explain_read_page_5(void)
{
    narrate_fact_int(&n, "value_read", value);
    int64_t rss = delta("Rss");
    CONCLUDE(&n, "read_maps_zero_page", rss == 0 && d.resident == d.resident_before + 1,
             VALUES(VAL("rss_delta_kB", rss), VAL("resident_pages", d.resident),
                    VAL("value", value)),
             "Page 5 is resident for mincore, yet Rss did not grow: the read mapped the shared "
             "zero page. For anonymous memory mincore reports whether a page-table entry maps a "
             "page; smaps counts only this mapping's own frames, and the zero page is no one's.");
    huge_page_check();
}

static void explain_write_page_5(void)
{
    int64_t rss = delta("Rss");
    CONCLUDE(&n, "write_replaces_zero_page",
             d.resident == d.resident_before && rss == (int64_t)(page / 1024),
             VALUES(VAL("rss_delta_kB", rss), VAL("resident_pages", d.resident)),
             "The picture did not change (page 5 was mapped already), but Rss grew by one "
             "page: a copy-on-write fault replaced the zero page with a frame of its own.");
}

static void explain_throw_away(void)
{
    long long rss = snapshot_value(&d.after, "Rss");
    CONCLUDE(&n, "dontneed_frees_everything", rss == 0 && d.resident == 0,
             VALUES(VAL("rss_kB", rss), VAL("resident_pages", d.resident)),
             "No page is resident and Rss is 0 kB: the frames went back to the kernel. The "
             "mapping itself is still there.");
}

static void explain_read_page_0(void)
{
    narrate_fact_int(&n, "value_read", value);
    int64_t rss = delta("Rss");
    CONCLUDE(&n, "contents_gone", value == 0 && rss == 0 && d.resident == 1,
             VALUES(VAL("value", value), VAL("rss_delta_kB", rss)),
             "p[0] was 1 and reads 0 now, and page 0 is resident again with Rss still 0: the read "
             "mapped the zero page. MADV_DONTNEED threw the private anonymous contents away.");
}

static const struct narrate_lesson anonymous[] = {
    {"map", "Map anonymous memory", map, explain_map, NO_QUESTION},
    {"write_page_0", "Write page 0", write_page_0, explain_write, NO_QUESTION},
    {"write_pages_3_7", "Write pages 3 and 7", write_pages_3_7, explain_write,
     "How many more pages will be resident?", {"none yet", "two", "a huge page's worth"},
     {NULL, "each_write_one_page", "huge_page_despite_nohugepage"}},
    {"read_page_5", "Read page 5, never touched", read_page_5, explain_read_page_5,
     "What will this read change?", {"nothing", "the picture, not Rss", "the picture and Rss"},
     {NULL, "read_maps_zero_page"}},
    {"write_page_5", "Write page 5", write_page_5, explain_write_page_5,
     "What will this write change?", {"nothing", "Rss, not the picture", "the picture and Rss"},
     {NULL, "write_replaces_zero_page"}},
    {"dontneed", "Throw the pages away", throw_away, explain_throw_away,
     "How many stay resident?", {"those written", "none"}, {NULL, "dontneed_frees_everything"}},
    {"read_after_dontneed", "Read page 0 again", read_page_0, explain_read_page_0,
     "What will p[0] read?", {"1, as written before", "0"}, {NULL, "contents_gone"}},
};

/* ---- --file: the page cache ---- */

static const char *path;         /* --file */
static int fd, rc;               /* the file; posix_fadvise's result */
static size_t middle;            /* the page step 3 reads */

static struct {
    bool truthful, tmpfs;        /* mincore tells this user the truth; the file is on tmpfs */
    size_t file_pages;
    bool middle_cached;          /* before step 3's read */
} f;

LESSON_FN static void map_file(void)
{
    LESSON(&n, p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
               if (p == MAP_FAILED) FAIL("mmap"););
    narrate_watch(&n, (uintptr_t)p);
}

LESSON_FN static void drop_cache(void)
{
    LESSON(&n, rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED););
}

LESSON_FN static void read_middle(void)
{
    unsigned char vec = 0;
    if (mincore(p + middle * page, page, &vec) != 0)
        FAIL("mincore");
    f.middle_cached = vec & 1;
    LESSON(&n, value = FORCE_READ(p[middle * page]););
}

static void explain_map_file(void)
{
    narrate_fact(&n, "file", "%s", path);
    narrate_fact_int(&n, "file_pages", (int64_t)f.file_pages);
    picture(f.truthful); /* not drawn when it would be a lie */
    if (f.file_pages > pages)
        narrate_note(&n, "Only the first %zu of its %zu pages are drawn.", pages, f.file_pages);
    if (CONCLUDE(&n, "others_file_all_resident", !f.truthful && d.resident == (long)pages,
                 VALUES(VAL("resident_pages", d.resident), VAL("pages", pages)),
                 "mincore said all %ld pages are resident, which says nothing: you neither own %s "
                 "nor may write it, so since Linux 5.0 mincore reports all its pages resident, "
                 "whatever the page cache holds, lest it show which pages other users read (a "
                 "side channel). Try a file of your own: cp %s ~/copy.", d.resident, path, path))
        return;
    const struct finding_value *resident = VALUES(VAL("resident_pages", d.resident));
    if (!f.truthful) /* a kernel before 5.0 tells the truth to anyone */
        narrate_note(&n, "mincore reports %ld of %zu pages resident.", d.resident, pages);
    else if (!CONCLUDE(&n, "cached_before_touch", d.resident > 0, resident,
                       "%ld of %zu pages are in the page cache although this program has not "
                       "touched the mapping: an earlier read or write of the file, by any "
                       "process, brought them in.", d.resident, pages))
        CONCLUDE(&n, "nothing_cached", d.resident == 0, resident,
                 "None of its pages is in the page cache.");
}

static void explain_drop_cache(void)
{
    if (rc != 0)
        narrate_fail_errno(&n, "posix_fadvise", rc);
    picture(true);
    long before = d.resident_before;
    narrate_fact(&n, "file_system", "%s", f.tmpfs ? "tmpfs" : "not tmpfs");
    const struct finding_value *counts =
        VALUES(VAL("resident_before", before), VAL("resident_after", d.resident));
    (void)(CONCLUDE(&n, "tmpfs_ignores_dontneed", f.tmpfs && d.resident == before, counts,
                    "The file is on tmpfs (statfs says so): there the page cache is the file's "
                    "only copy, with no disk behind it, and the kernel ignores "
                    "POSIX_FADV_DONTNEED. All %ld cached pages stay.", d.resident) ||
           CONCLUDE(&n, "nothing_to_drop", before == 0 && d.resident == 0, counts,
                    "Nothing was cached, so nothing was dropped.") ||
           CONCLUDE(&n, "every_page_dropped", before > 0 && d.resident == 0, counts,
                    "All %ld cached pages were dropped: they were clean (the disk has the same "
                    "data) and no process had them mapped.", before) ||
           CONCLUDE(&n, "some_pages_stayed", d.resident > 0, counts,
                    "%ld of %ld cached pages stayed. DONTNEED drops only clean pages that no "
                    "process maps; dirty pages (written, not yet on disk: sync writes them), "
                    "mapped and locked pages stay.", d.resident, before));
}

static void explain_read_middle(void)
{
    narrate_fact_int(&n, "middle", (int64_t)middle);
    picture(true);
    long more = d.resident - d.resident_before;
    const struct finding_value *new_pages = VALUES(VAL("new_pages", more));
    (void)(CONCLUDE(&n, "already_cached", f.middle_cached, new_pages,
                    "Page %zu was already in the page cache: the read found it there and read "
                    "nothing from disk.", middle) ||
           CONCLUDE(&n, "readahead", more > 1, new_pages,
                    "One byte was read, and %ld pages came into the page cache: the fault read "
                    "page %zu, readahead its neighbours (betting the program reads on).", more,
                    middle) ||
           CONCLUDE(&n, "one_page_read", more == 1, new_pages,
                    "Exactly that one page came into the page cache."));
}

/* Steps 2 and 3 only where mincore tells the truth (explain_map_file). */
static const struct narrate_lesson file_steps[] = {
    {"map_file", "Map the file read-only", map_file, explain_map_file, NO_QUESTION},
    {"fadvise_dontneed", "Ask the kernel to drop the file's cached pages", drop_cache,
     explain_drop_cache, "Which cached pages will POSIX_FADV_DONTNEED drop?",
     {"all of them", "some", "none: tmpfs keeps them", "none: none was cached"},
     {"every_page_dropped", "some_pages_stayed", "tmpfs_ignores_dontneed", "nothing_to_drop"}},
    {"read_middle", "Read one byte in the middle of the file", read_middle, explain_read_middle,
     "How many pages will it bring into the cache?", {"none: cached already", "one", "more"},
     {"already_cached", "one_page_read", "readahead"}},
};

/* ---- Options and main ---- */

enum { OPT_PAGES, OPT_FILE, OPT_SCALE };

static const struct cli_option options[] = {
    [OPT_PAGES] = {"pages", "N", "how many pages to map (default 16; 8 to 4096)"},
    [OPT_FILE] = {"file", "PATH", "show the page-cache residency of a file instead"},
    [OPT_SCALE] = {"scale", "N", "one character per N pages (default 1; 1 to 512), with a legend"},
};

static const struct demo_info info = {
    .name = "mincore-residency",
    .summary = "Draws which pages of a mapping are resident, one character per page ('#'\n"
               "resident, '.' not), 64 to a line, after each step: writes fault pages in, a\n"
               "read maps the shared zero page (resident for mincore, not counted in Rss),\n"
               "MADV_DONTNEED throws pages and their contents away. With --file, the same\n"
               "picture for a file's pages in the page cache (what fincore and vmtouch show).",
    DEMO_OPTIONS(options),
    .examples = "  mincore-residency                  16 anonymous pages\n"
                "  mincore-residency --pages 64 --step\n"
                "  mincore-residency --file ~/copy-of-a-file --scale 8\n",
    .draws = DRAWS_RESIDENCY,
    .lessons = LESSONS(TABLE(anonymous)), /* --file: run_file's */
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)ctx;
    if (index == OPT_PAGES)
        pages = (size_t)cli_count_arg(&info, "--pages", arg, 8, MAX_PAGES);
    else if (index == OPT_SCALE)
        d.scale = (size_t)cli_count_arg(&info, "--scale", arg, 1, 512);
    else if (index == OPT_FILE && arg[0] == '\0')
        cli_usage_error(&info, "--file: the path is empty");
    else if (index == OPT_FILE)
        path = arg;
}

/* --file: the file's pages (as many as the picture holds) in the page cache. */
static void run_file(struct cli_common *common)
{
    struct stat st;
    struct statfs sfs;
    char quoted[128];
    cli_quote(path, quoted, sizeof quoted);
    /* A path that is there but no regular file with data (a directory, a device, a FIFO,
     * whose open would wait) is bad input; a file open() refuses (missing, unreadable for
     * this user) is a call that failed (exit 1), as the lab sheet says. */
    if (stat(path, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size == 0))
        cli_usage_error(&info, "--file: %s is not a regular file with data in it", quoted);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 && fstat(fd, &st) == 0;
    int err = errno;
    /* Since Linux 5.0 mincore tells the page cache's truth only to the file's owner, a writer
     * or CAP_FOWNER; anyone else gets "all resident", so it cannot spy on others' reads. */
    f.truthful = ok && (st.st_uid == geteuid() || geteuid() == 0 ||
                        faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0);
    common->lessons = LESSONS(TABLE(file_steps)); /* --answers: this lesson's questions */
    demo_start(&n, &info, common, f.truthful ? NARRATE_COUNT(file_steps) : 1);
    if (!ok)
        narrate_fail_errno(&n, fd < 0 ? "open" : "fstat", err);
    if (!S_ISREG(st.st_mode) || st.st_size == 0) /* it changed since stat */
        narrate_finish(&n, RESULT_FAIL, "%s is not a regular file with data in it", quoted);
    narrate_intro(&n, "mincore-residency (PID %ld): the page cache of %s", (long)getpid(), path);
    f.tmpfs = fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
    f.file_pages = ((size_t)st.st_size + page - 1) / page;
    pages = f.file_pages < MAX_PAGES * d.scale ? f.file_pages : MAX_PAGES * d.scale;
    len = pages * page;
    middle = pages / 2;
    narrate_run(&n, file_steps, f.truthful ? NARRATE_COUNT(file_steps) : 1);
    munmap(p, len);
    close(fd);
    narrate_finish(&n, RESULT_OK, "page-cache residency of %s, as mincore reported it", path);
}

int main(int argc, char **argv)
{
    struct cli_common common;
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, on_option, NULL));
    page = (size_t)sysconf(_SC_PAGESIZE);
    if (path && pages)
        cli_usage_error(&info, "--pages and --file do not go together: the file's size decides "
                               "how many pages are drawn");
    if (path)
        run_file(&common);
    pages = pages ? pages : 16; /* --pages' default */
    len = pages * page;
    demo_start(&n, &info, &common, NARRATE_COUNT(anonymous));
    narrate_observe(&n, observe, NULL);
    narrate_intro(&n, "mincore-residency (PID %ld): %zu pages of %zu KiB; '#' resident, '.' not.",
                  (long)getpid(), pages, page / 1024);
    narrate_run(&n, anonymous, NARRATE_COUNT(anonymous));
    narrate_finish(&n, RESULT_OK, "%zu pages: written, read, written, thrown away, read; every "
                                  "picture was drawn from mincore in this run.", pages);
}
