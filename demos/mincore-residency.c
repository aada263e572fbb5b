/* SPDX-License-Identifier: MIT */
/* mincore-residency: which pages are in memory, page by page, as a picture
 * ('#' resident, '.' not) after each step - and where mincore and smaps
 * disagree (the zero page). With --file, the page cache of a file.
 *
 * For anonymous memory mincore says whether a page-table entry maps a page
 * (the shared zero page too); for a file it says whether the page is in the
 * page cache, whoever read it, mapped here or not. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cli.h"
#include "leftovers.h"
#include "narrate.h"
#include "residency.h"
#include "snapshot.h"

#define MAX_PAGES 4096
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

struct demo {
    struct narrator n;
    size_t page, pages, len, scale;
    char *p;
    struct snapshot before, after;
    char picture[MAX_PAGES + 1];
    long resident, resident_before;
};

static void observe(void *ctx, bool after);
static void report(struct demo *d);
static void explain_write(struct demo *d, size_t count);
static void huge_page_check(struct demo *d);
#define FAIL(call) narrate_fail_errno(&d->n, (call), errno)

/* ---- the lesson: anonymous memory ---- */

LESSON_FN static void map(struct demo *d)
{
    struct narrator *n = &d->n;
    size_t page = d->page, len = d->len;
    char *guard, *p;
    narrate_begin(n, "map", "Map anonymous memory");
    /* A PROT_NONE page on each side keeps p a mapping of its own. */
    LESSON(n, guard = mmap(NULL, len + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
              if (guard == MAP_FAILED) FAIL("mmap");
              p = mmap(guard + page, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
              if (p == MAP_FAILED) FAIL("mmap");
              madvise(p, len, MADV_NOHUGEPAGE););
    d->p = p;
    snapshot_take_or_fail(&d->after, (uintptr_t)p, n); /* the observer read guard's old place */
    report(d);
    if (FINDING(n, "nothing_resident_after_mmap", d->resident == 0,
                VAL("resident_pages", d->resident)))
        narrate_because(n, "nothing_resident_after_mmap",
                        "Nothing is resident: mmap made the mapping, not the memory.");
    narrate_end_step(n);
    narrate_watch(n, (uintptr_t)p);
}

LESSON_FN static void write_first(struct demo *d)
{
    char *p = d->p;
    size_t page = d->page;
    narrate_begin(&d->n, "write_page_0", "Write page 0");
    LESSON(&d->n, p[0 * page] = 1;);
    report(d);
    explain_write(d, 1);
    narrate_end_step(&d->n);
}

LESSON_FN static void write_two(struct demo *d)
{
    char *p = d->p;
    size_t page = d->page;
    narrate_begin(&d->n, "write_pages_3_7", "Write pages 3 and 7");
    LESSON(&d->n, p[3 * page] = 1; p[7 * page] = 1;);
    report(d);
    explain_write(d, 2);
    narrate_end_step(&d->n);
}

LESSON_FN static void read_untouched(struct demo *d)
{
    struct narrator *n = &d->n;
    char *p = d->p, value;
    size_t page = d->page;
    narrate_begin(n, "read_page_5", "Read page 5, never touched");
    LESSON(n, value = FORCE_READ(p[5 * page]););
    report(d);
    narrate_fact_int(n, "value_read", value);
    int64_t rss = snapshot_delta0(&d->before, &d->after, "Rss");
    if (FINDING(n, "read_maps_zero_page",
                rss == 0 && d->resident == d->resident_before + 1,
                VAL("rss_delta_kB", rss), VAL("resident_pages", d->resident), VAL("value", value)))
        narrate_because(n, "read_maps_zero_page",
                        "Page 5 is now resident for mincore, yet Rss did not grow: the read mapped the shared zero "
                        "page. For anonymous memory mincore reports whether a page-table entry "
                        "maps a page; smaps counts only frames that belong to this mapping, and "
                        "the zero page belongs to no one.");
    huge_page_check(d);
    narrate_end_step(n);
}

LESSON_FN static void write_read_page(struct demo *d)
{
    struct narrator *n = &d->n;
    char *p = d->p;
    size_t page = d->page;
    narrate_begin(n, "write_page_5", "Write page 5");
    LESSON(n, p[5 * page] = 1;);
    report(d);
    int64_t rss = snapshot_delta0(&d->before, &d->after, "Rss");
    if (FINDING(n, "write_replaces_zero_page",
                d->resident == d->resident_before && rss == (int64_t)(page / 1024),
                VAL("rss_delta_kB", rss), VAL("resident_pages", d->resident)))
        narrate_because(n, "write_replaces_zero_page",
                        "The picture did not change - page 5 was already mapped - but Rss grew "
                        "by one page: the write faulted (copy-on-write) and replaced the zero "
                        "page with a frame of its own.");
    narrate_end_step(n);
}

LESSON_FN static void throw_away(struct demo *d)
{
    struct narrator *n = &d->n;
    char *p = d->p;
    size_t len = d->len;
    narrate_begin(n, "dontneed", "Throw the pages away");
    LESSON(n, if (madvise(p, len, MADV_DONTNEED) != 0) FAIL("madvise"););
    report(d);
    int64_t rss = -1;
    snapshot_get(&d->after, "Rss", &rss);
    if (FINDING(n, "dontneed_frees_everything", rss == 0 && d->resident == 0,
                VAL("rss_kB", rss), VAL("resident_pages", d->resident)))
        narrate_because(n, "dontneed_frees_everything",
                        "No page is resident and Rss is 0 kB: the frames went back to the kernel. The "
                        "mapping itself is still there.");
    narrate_end_step(n);
}

LESSON_FN static void read_after(struct demo *d)
{
    struct narrator *n = &d->n;
    char *p = d->p, value;
    narrate_begin(n, "read_after_dontneed", "Read page 0 again");
    LESSON(n, value = FORCE_READ(p[0]););
    report(d);
    narrate_fact_int(n, "value_read", value);
    int64_t rss = snapshot_delta0(&d->before, &d->after, "Rss");
    if (FINDING(n, "contents_gone", value == 0 && rss == 0 && d->resident == 1,
                VAL("value", value), VAL("rss_delta_kB", rss)))
        narrate_because(n, "contents_gone",
                        "p[0] was 1 and reads 0 now, and page 0 is resident again with Rss still 0: "
                        "the read mapped the zero page. For private anonymous memory "
                        "MADV_DONTNEED throws the contents away.");
    narrate_end_step(n);
}

static void (*const anonymous_steps[])(struct demo *) = {
    map, write_first, write_two, read_untouched, write_read_page, throw_away, read_after,
};

/* ---- how the numbers are taken and explained ---- */

static void observe(void *ctx, bool after)
{
    struct demo *d = ctx;
    snapshot_take_or_fail(after ? &d->after : &d->before, (uintptr_t)d->p, &d->n);
    if (!after)
        d->resident_before = d->resident;
}

/* The picture and the rows of a step; the picture lives in d until the next
 * step, as narrate_picture needs. */
static void measure(struct demo *d)
{
    d->resident = residency_picture_scaled(d->p, d->len, d->scale, d->picture, sizeof d->picture);
    if (d->resident < 0)
        FAIL("mincore");
}

static void picture(struct demo *d)
{
    measure(d);
    long r = d->resident;
    narrate_picture(&d->n, "mincore", d->picture);
    narrate_fact_int(&d->n, "resident_pages", r);
    narrate_fact_int(&d->n, "pages", (int64_t)d->pages);
    if (d->scale > 1)
        narrate_fact(&d->n, "legend", "one character per %zu pages: '#' all resident, '+' some, "
                                      "'.' none", d->scale);
}

static void report(struct demo *d)
{
    if (d->after.mapped) {
        char maps[512];
        smaps_format_header(&d->after.entry, maps, sizeof maps);
        narrate_fact(&d->n, "maps", "%s", maps);
    }
    picture(d);
    snapshot_report(&d->n, &d->before, &d->after, (const char *const[]){"Rss", "minor_faults", NULL});
}

static void explain_write(struct demo *d, size_t count)
{
    int64_t rss = snapshot_delta0(&d->before, &d->after, "Rss");
    int64_t faults = snapshot_delta0(&d->before, &d->after, "minor_faults");
    if (FINDING(&d->n, "each_write_one_page",
                rss == (int64_t)(count * d->page / 1024) &&
                    d->resident == d->resident_before + (long)count,
                VAL("rss_delta_kB", rss), VAL("minor_faults", faults),
                VAL("new_resident_pages", d->resident - d->resident_before)))
        narrate_because(&d->n, "each_write_one_page",
                        "Each write faulted in one page: %zu more page%s resident, and Rss grew "
                        "by exactly as much (%lld kB).", count, count == 1 ? "" : "s", (long long)rss);
    huge_page_check(d);
}

/* THP "always" may still put a huge page here if MADV_NOHUGEPAGE was lost. */
static void huge_page_check(struct demo *d)
{
    int64_t huge = 0;
    snapshot_get(&d->after, "AnonHugePages", &huge);
    if (FINDING(&d->n, "huge_page_despite_nohugepage", huge > 0, VAL("anon_huge_pages_kB", huge)))
        narrate_because(&d->n, "huge_page_despite_nohugepage",
                        "A %lld kB huge page arrived despite MADV_NOHUGEPAGE: one fault filled "
                        "many pages.", (long long)huge);
}

/* ---- --file: the page cache ---- */

/* Linux 5.0 and later report page-cache residency only to someone who owns
 * the file or could open it for writing (or has CAP_FOWNER); anyone else gets
 * "all resident", so mincore cannot be used to spy on other users' reads. */
static bool mincore_shows_truth(const char *path, const struct stat *st)
{
    return st->st_uid == geteuid() || faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0 ||
           geteuid() == 0;
}

static const struct demo_info info;

struct file_lesson {
    const char *path;
    int fd;
    bool truthful, tmpfs;
    size_t file_pages;
};

static void file_picture(struct demo *d, const struct file_lesson *f)
{
    if (f->truthful)
        picture(d);
    else
        measure(d); /* not drawn: it would be a lie */
}

LESSON_FN static bool file_map(struct demo *d, struct file_lesson *f)
{
    struct narrator *n = &d->n;
    size_t len = d->len;
    int fd = f->fd;
    char *p;
    narrate_begin(n, "map_file", "Map the file read-only");
    narrate_fact(n, "file", "%s", f->path);
    narrate_fact_int(n, "file_pages", (int64_t)f->file_pages);
    LESSON(n, p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
              if (p == MAP_FAILED) FAIL("mmap"););
    d->p = p;
    file_picture(d, f);
    if (f->file_pages > d->pages)
        narrate_note(n, "Only the first %zu of its %zu pages are drawn.", d->pages, f->file_pages);
    if (FINDING(n, "others_file_all_resident", !f->truthful && d->resident == (long)d->pages,
                VAL("resident_pages", d->resident), VAL("pages", d->pages))) {
        narrate_because(n, "others_file_all_resident",
                        "mincore said all %ld pages are resident, and that says nothing: you "
                        "neither own %s nor may write it, so since Linux 5.0 mincore reports "
                        "every page of it as resident, whatever the page cache holds - "
                        "otherwise it would show which pages other users have read (a side "
                        "channel). Try a file of your own, e.g. cp %s ~/copy.",
                        d->resident, f->path, f->path);
        narrate_end_step(n);
        return false;
    }
    if (!f->truthful) { /* a kernel before 5.0 tells the truth to anyone */
        narrate_note(n, "mincore reports %ld of %zu pages resident.", d->resident, d->pages);
        narrate_end_step(n);
        return false;
    }
    if (FINDING(n, "cached_before_touch", d->resident > 0, VAL("resident_pages", d->resident)))
        narrate_because(n, "cached_before_touch",
                        "%ld of %zu pages are in the page cache although this program has not "
                        "touched the mapping: an earlier read or write of the file, by any "
                        "process, brought them in.", d->resident, d->pages);
    else if (FINDING(n, "nothing_cached", d->resident == 0, VAL("resident_pages", 0)))
        narrate_because(n, "nothing_cached", "None of its pages is in the page cache.");
    narrate_end_step(n);
    narrate_watch(n, (uintptr_t)p);
    return true;
}

LESSON_FN static void file_drop(struct demo *d, const struct file_lesson *f)
{
    struct narrator *n = &d->n;
    int fd = f->fd, rc;
    long before = d->resident;
    narrate_begin(n, "fadvise_dontneed", "Ask the kernel to drop the file's cached pages");
    LESSON(n, rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED););
    if (rc != 0)
        narrate_fail_errno(n, "posix_fadvise", rc);
    file_picture(d, f);
    narrate_fact(n, "file_system", "%s", f->tmpfs ? "tmpfs" : "not tmpfs");
    if (FINDING(n, "tmpfs_ignores_dontneed", f->tmpfs && d->resident == before,
                VAL("resident_before", before), VAL("resident_after", d->resident)))
        narrate_because(n, "tmpfs_ignores_dontneed",
                        "The file is on tmpfs (statfs says so): there the page cache is the "
                        "file's only copy, with no disk behind it, and the kernel ignores "
                        "POSIX_FADV_DONTNEED. All %ld cached pages stay.", d->resident);
    else if (FINDING(n, "nothing_to_drop", before == 0 && d->resident == 0,
                     VAL("resident_before", 0), VAL("resident_after", 0)))
        narrate_because(n, "nothing_to_drop", "Nothing was cached, so nothing was dropped.");
    else if (FINDING(n, "every_page_dropped", before > 0 && d->resident == 0,
                     VAL("resident_before", before), VAL("resident_after", 0)))
        narrate_because(n, "every_page_dropped",
                        "All %ld cached pages were dropped: they were clean (the disk has the "
                        "same data) and no process had them mapped.", before);
    else if (FINDING(n, "some_pages_stayed", d->resident > 0,
                     VAL("resident_before", before), VAL("resident_after", d->resident)))
        narrate_because(n, "some_pages_stayed",
                        "%ld of %ld cached pages stayed. DONTNEED drops only clean pages that "
                        "no process maps; dirty pages (written, not yet on disk: sync writes "
                        "them), mapped and locked pages stay.", d->resident, before);
    narrate_end_step(n);
}

LESSON_FN static void file_read(struct demo *d, const struct file_lesson *f)
{
    struct narrator *n = &d->n;
    char *p = d->p, value;
    size_t page = d->page, middle = d->pages / 2;
    long before = d->resident;
    unsigned char vec = 0;
    if (mincore(p + middle * page, page, &vec) != 0)
        FAIL("mincore");
    bool was_cached = vec & 1;
    narrate_begin(n, "read_middle", "Read one byte in the middle of the file");
    narrate_fact_int(n, "middle", (int64_t)middle);
    LESSON(n, value = FORCE_READ(p[middle * page]););
    (void)value;
    file_picture(d, f);
    long more = d->resident - before;
    if (FINDING(n, "already_cached", was_cached, VAL("new_pages", more)))
        narrate_because(n, "already_cached",
                        "Page %zu was already in the page cache: the read found it there and "
                        "read nothing from disk.", middle);
    else if (FINDING(n, "readahead", more > 1, VAL("new_pages", more)))
        narrate_because(n, "readahead",
                        "One byte was read, and %ld pages came into the page cache: the fault "
                        "read page %zu and the kernel's readahead read its neighbours too, "
                        "betting that the program will read on.", more, middle);
    else if (FINDING(n, "one_page_read", more == 1, VAL("new_pages", more)))
        narrate_because(n, "one_page_read", "Exactly that one page came into the page cache.");
    narrate_end_step(n);
}

static void run_file(struct demo *d, const char *path, const struct cli_common *common)
{
    struct file_lesson f = {.path = path};
    struct stat st;
    struct statfs sfs;
    f.fd = open(path, O_RDONLY | O_CLOEXEC);
    bool ok = f.fd >= 0 && fstat(f.fd, &st) == 0;
    int err = errno;
    f.truthful = ok && mincore_shows_truth(path, &st);
    narrate_init(&d->n, info.name, common, f.truthful ? 3 : 1);
    if (!ok)
        narrate_fail_errno(&d->n, f.fd < 0 ? "open" : "fstat", err);
    if (!S_ISREG(st.st_mode) || st.st_size == 0)
        narrate_finish(&d->n, RESULT_FAIL, "%s is not a regular file with data in it", path);
    narrate_intro(&d->n, "mincore-residency (PID %ld): the page cache of %s", (long)getpid(), path);
    f.tmpfs = fstatfs(f.fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
    f.file_pages = ((size_t)st.st_size + d->page - 1) / d->page;
    d->pages = f.file_pages < MAX_PAGES * d->scale ? f.file_pages : MAX_PAGES * d->scale;
    d->len = d->pages * d->page;
    if (file_map(d, &f)) {
        file_drop(d, &f);
        file_read(d, &f);
    }
    munmap(d->p, d->len);
    close(f.fd);
}

/* ---- options ---- */

enum { OPT_PAGES, OPT_FILE, OPT_SCALE };

static const struct cli_option options[] = {
    [OPT_PAGES] = {"pages", "N", "how many pages to map (default 16; 8 to 4096)"},
    [OPT_FILE] = {"file", "PATH", "show the page-cache residency of a file instead"},
    [OPT_SCALE] = {"scale", "N", "one character per N pages (default 1; 1 to 512), with a legend"},
};

static const struct demo_info info = {
    .name = "mincore-residency",
    .summary =
        "Draws which pages of a mapping are resident, one character per page ('#'\n"
        "resident, '.' not), 64 to a line, after each step: writes fault pages in, a\n"
        "read maps the shared zero page (resident for mincore, not counted in Rss),\n"
        "MADV_DONTNEED throws pages and their contents away. With --file, the same\n"
        "picture for a file's pages in the page cache (what fincore and vmtouch show).",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  mincore-residency                  16 anonymous pages\n"
                "  mincore-residency --pages 64 --step\n"
                "  mincore-residency --file ~/copy-of-a-file --scale 8\n",
};

struct settings {
    uint64_t pages, scale;
    const char *file;
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    struct settings *s = ctx;
    if (index == OPT_PAGES)
        s->pages = cli_count_arg(&info, "--pages", arg, 8, MAX_PAGES);
    else if (index == OPT_SCALE)
        s->scale = cli_count_arg(&info, "--scale", arg, 1, 512);
    else if (index == OPT_FILE) {
        if (arg[0] == '\0')
            cli_usage_error(&info, "--file: the path is empty");
        s->file = arg;
    }
}

int main(int argc, char **argv)
{
    struct settings set = {.pages = 16, .scale = 1};
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &set);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);

    static struct demo d;
    d.page = (size_t)sysconf(_SC_PAGESIZE);
    d.pages = (size_t)set.pages;
    d.len = d.pages * d.page;
    d.scale = (size_t)set.scale;
    if (set.file) {
        run_file(&d, set.file, &common);
        narrate_finish(&d.n, RESULT_OK, "page-cache residency of %s, as mincore reported it",
                       set.file);
    }
    narrate_init(&d.n, info.name, &common,
                 (int)(sizeof anonymous_steps / sizeof anonymous_steps[0]));
    narrate_observe(&d.n, observe, &d);
    narrate_intro(&d.n, "mincore-residency (PID %ld): %zu pages of %zu KiB; '#' resident, '.' not.",
                  (long)getpid(), d.pages, d.page / 1024);
    for (size_t i = 0; i < sizeof anonymous_steps / sizeof anonymous_steps[0]; i++)
        anonymous_steps[i](&d);
    narrate_finish(&d.n, RESULT_OK, "%zu pages: written, read, written, thrown away, read; every "
                                    "picture was drawn from mincore in this run.", d.pages);
}
