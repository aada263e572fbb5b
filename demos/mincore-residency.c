/* mincore-residency: which pages are in memory, page by page, as a picture
 * ('#' resident, '.' not) before and after each step - and where mincore and
 * smaps disagree (the zero page). With --file, the page cache of a file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "leftovers.h"
#include "narrate.h"
#include "region.h"
#include "residency.h"
#include "snapshot.h"
#include "touch.h"

enum { OPT_PAGES, OPT_FILE };

static const struct cli_option options[] = {
    [OPT_PAGES] = {"pages", "N", "how many pages to map (default 16; 8 to 4096)"},
    [OPT_FILE] = {"file", "PATH", "show the page-cache residency of a file instead"},
};

static const struct demo_info info = {
    .name = "mincore-residency",
    .summary =
        "Draws which pages of a mapping are resident, one character per page ('#'\n"
        "resident, '.' not), before and after each step: writes fault pages in, a\n"
        "read maps the shared zero page (resident for mincore, not counted in Rss),\n"
        "MADV_DONTNEED throws pages and their contents away. With --file, the same\n"
        "picture for a file's pages in the page cache (what fincore and vmtouch show).",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  mincore-residency                  16 anonymous pages\n"
                "  mincore-residency --pages 64 --step\n"
                "  mincore-residency --file /usr/bin/bash\n",
};

struct settings {
    uint64_t pages;
    const char *file;
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    struct settings *s = ctx;
    if (index == OPT_PAGES)
        s->pages = cli_count_arg(&info, "--pages", arg, 8, 4096);
    else if (index == OPT_FILE) {
        if (arg[0] == '\0')
            cli_usage_error(&info, "--file: the path is empty");
        s->file = arg;
    }
}

#define MAX_PICTURE 4096

struct demo {
    struct narrator n;
    size_t page, pages, len;
    char *p;
    struct region region;
    char picture[MAX_PICTURE + 1];
};

static long picture_of(struct demo *d, size_t pages)
{
    long resident = residency_picture(d->p, pages * d->page, d->picture, sizeof d->picture);
    if (resident < 0)
        narrate_fail_errno(&d->n, "mincore", errno);
    return resident;
}

/* The snapshot rows every anonymous step shows, and the picture after it. */
static void report(struct demo *d, const struct snapshot *before, const struct snapshot *after)
{
    long resident = picture_of(d, d->pages);
    narrate_picture(&d->n, "mincore", d->picture);
    narrate_fact(&d->n, "resident pages", "%ld of %zu", resident, d->pages);
    snapshot_report(&d->n, before, after, (const char *const[]){"Rss", "minor_faults", NULL});
}

static void write_pages(struct demo *d, const char *title, const char *code, const size_t *which,
                        size_t count)
{
    struct snapshot before, after;
    narrate_step(&d->n, title, code);
    snapshot_take_or_fail(&before, (uintptr_t)d->p, &d->n);
    for (size_t i = 0; i < count; i++)
        touch_write(d->p + which[i] * d->page, 1);
    snapshot_take_or_fail(&after, (uintptr_t)d->p, &d->n);
    report(d, &before, &after);
    int64_t rss = snapshot_delta0(&before, &after, "Rss");
    long page_kb = (long)(d->page / 1024);
    if (rss == (int64_t)count * page_kb)
        narrate_note(&d->n, "Each write faulted in one page: %zu more '#', and Rss grew by "
                            "exactly %zu page%s (%lld kB).",
                     count, count, count == 1 ? "" : "s", (long long)rss);
    else
        narrate_note(&d->n, "%zu page%s written; Rss grew by %lld kB.", count,
                     count == 1 ? "" : "s", (long long)rss);
    narrate_end_step(&d->n);
}

static void run_anonymous(struct demo *d)
{
    struct narrator *n = &d->n;
    struct snapshot before, after;
    char code[160];
    long page_kb = (long)(d->page / 1024);

    /* 1: map */
    snprintf(code, sizeof code,
             "p = mmap(NULL, %zu * %zu, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);",
             d->pages, d->page);
    narrate_step(n, "Map anonymous memory", code);
    if (region_reserve(&d->region, d->len, 0) != 0)
        narrate_fail_errno(n, "mmap (PROT_NONE reservation)", errno);
    snapshot_take_or_fail(&before, (uintptr_t)d->region.addr, n);
    d->p = region_map(&d->region, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d->p == MAP_FAILED)
        narrate_fail_errno(n, "mmap", errno);
    madvise(d->p, d->len, MADV_NOHUGEPAGE); /* one page per fault, whatever THP says */
    snapshot_take_or_fail(&after, (uintptr_t)d->p, n);
    report(d, &before, &after);
    narrate_note(n, "%s", picture_of(d, d->pages) == 0
                              ? "Nothing is resident: mmap made the mapping, not the memory."
                              : "Some pages are already resident, before any access.");
    narrate_end_step(n);
    narrate_watch(n, (uintptr_t)d->p);

    /* 2, 3: writes */
    write_pages(d, "Write page 0", "p[0 * page] = 1;", (const size_t[]){0}, 1);
    write_pages(d, "Write pages 3 and 7", "p[3 * page] = 1; p[7 * page] = 1;",
                (const size_t[]){3, 7}, 2);

    /* 4: read an untouched page */
    narrate_step(n, "Read page 5, never touched", "char c = p[5 * page];");
    snapshot_take_or_fail(&before, (uintptr_t)d->p, n);
    char c = touch_read(d->p + 5 * d->page);
    snapshot_take_or_fail(&after, (uintptr_t)d->p, n);
    report(d, &before, &after);
    narrate_fact(n, "value read", "%d", c);
    int64_t rss = snapshot_delta0(&before, &after, "Rss");
    bool shown = d->picture[5] == '#';
    if (shown && rss == 0)
        narrate_note(n, "Page 5 is now '#', yet Rss did not grow: the read mapped the shared zero "
                        "page. mincore reports any page that is mapped; smaps counts only frames "
                        "that belong to this mapping, and the zero page belongs to no one.");
    else
        narrate_note(n, "Page 5 is %s and Rss moved by %lld kB.", shown ? "'#'" : "'.'",
                     (long long)rss);
    narrate_end_step(n);

    /* 5: write the zero-page page */
    narrate_step(n, "Write page 5", "p[5 * page] = 1;");
    snapshot_take_or_fail(&before, (uintptr_t)d->p, n);
    touch_write(d->p + 5 * d->page, 1);
    snapshot_take_or_fail(&after, (uintptr_t)d->p, n);
    report(d, &before, &after);
    rss = snapshot_delta0(&before, &after, "Rss");
    if (rss == page_kb)
        narrate_note(n, "The picture did not change - page 5 was already mapped - but Rss grew "
                        "by one page: the write faulted (copy-on-write) and replaced the zero "
                        "page with a frame of its own.");
    else
        narrate_note(n, "Rss moved by %lld kB.", (long long)rss);
    narrate_end_step(n);

    /* 6: throw it all away */
    narrate_step(n, "Throw the pages away, then read page 0",
                 "madvise(p, size, MADV_DONTNEED); char c = p[0];");
    snapshot_take_or_fail(&before, (uintptr_t)d->p, n);
    if (madvise(d->p, d->len, MADV_DONTNEED) != 0)
        narrate_fail_errno(n, "madvise(MADV_DONTNEED)", errno);
    snapshot_take_or_fail(&after, (uintptr_t)d->p, n);
    report(d, &before, &after);
    char first = touch_read(d->p);
    narrate_fact(n, "p[0] now", "%d (it was 1 before MADV_DONTNEED)", first);
    rss = 0;
    snapshot_get(&after, "Rss", &rss);
    if (rss == 0 && first == 0)
        narrate_note(n, "All '.' and Rss is 0 kB: the frames went back to the kernel. The mapping "
                        "is still there, and a read gets zeroes: for private anonymous memory "
                        "MADV_DONTNEED throws the contents away.");
    else
        narrate_note(n, "Rss is %lld kB and p[0] reads %d.", (long long)rss, first);
    narrate_end_step(n);
    region_release(&d->region);
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

static void file_step(struct demo *d, const char *title, const char *code)
{
    narrate_step(&d->n, title, code);
}

static long file_picture(struct demo *d, bool truthful)
{
    long resident = picture_of(d, d->pages);
    if (truthful) {
        narrate_picture(&d->n, "mincore", d->picture);
        narrate_fact(&d->n, "resident pages", "%ld of %zu", resident, d->pages);
    }
    return resident;
}

static void run_file(struct demo *d, const char *path)
{
    struct narrator *n = &d->n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        narrate_fail_errno(n, "open", errno);
    struct stat st;
    if (fstat(fd, &st) != 0)
        narrate_fail_errno(n, "fstat", errno);
    if (!S_ISREG(st.st_mode) || st.st_size == 0)
        narrate_finish(n, RESULT_FAIL, "%s is not a regular file with data in it", path);
    size_t file_pages = ((size_t)st.st_size + d->page - 1) / d->page;
    d->pages = file_pages < MAX_PICTURE ? file_pages : MAX_PICTURE;
    d->len = d->pages * d->page;
    bool truthful = mincore_shows_truth(path, &st);

    char code[160];
    snprintf(code, sizeof code, "p = mmap(NULL, %zu, PROT_READ, MAP_SHARED, fd, 0);", d->len);
    file_step(d, "Map the file read-only", code);
    d->p = mmap(NULL, d->len, PROT_READ, MAP_SHARED, fd, 0);
    if (d->p == MAP_FAILED)
        narrate_fail_errno(n, "mmap", errno);
    narrate_fact(n, "file", "%s, %lld bytes, %zu pages%s", path, (long long)st.st_size,
                 file_pages, file_pages > d->pages ? " (the first 4096 are shown)" : "");
    long resident = file_picture(d, truthful);
    if (!truthful) {
        narrate_note(n, "You neither own %s nor may write it, so since Linux 5.0 mincore "
                        "reports every page of it as resident, whatever the page cache holds: "
                        "otherwise it would show which pages other users have read (a side "
                        "channel). Try a file of your own, e.g. cp %s ~/copy.",
                     path, path);
        narrate_end_step(n);
        munmap(d->p, d->len);
        close(fd);
        return;
    }
    narrate_note(n, "%ld of %zu pages are in the page cache, although this program has not "
                    "touched the mapping yet: they were read before, by some process.",
                 resident, d->pages);
    narrate_end_step(n);
    narrate_watch(n, (uintptr_t)d->p);

    file_step(d, "Ask the kernel to drop the file's cached pages",
              "posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);");
    int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (rc != 0)
        narrate_fail_errno(n, "posix_fadvise", rc);
    resident = file_picture(d, truthful);
    if (resident == 0)
        narrate_note(n, "Every page was dropped: they were clean (the disk has the same data) "
                        "and no process had them mapped.");
    else
        narrate_note(n, "%ld pages are still cached. Clean pages that nobody has mapped can be "
                        "dropped at once; dirty pages (not yet written back) and pages mapped "
                        "by some process stay.",
                     resident);
    narrate_end_step(n);

    size_t middle = d->pages / 2;
    snprintf(code, sizeof code, "char c = p[%zu];   /* one byte of page %zu */", middle * d->page,
             middle);
    file_step(d, "Read one byte in the middle of the file", code);
    long before = resident;
    touch_read(d->p + middle * d->page);
    resident = file_picture(d, truthful);
    if (resident - before > 1)
        narrate_note(n, "One byte was read, and %ld more pages are cached now: the page fault "
                        "read the page and the kernel's readahead read its neighbours too, "
                        "betting that the program will read on.",
                     resident - before);
    else
        narrate_note(n, "%ld more page%s cached now.", resident - before,
                     resident - before == 1 ? "" : "s");
    narrate_end_step(n);
    munmap(d->p, d->len);
    close(fd);
}

int main(int argc, char **argv)
{
    struct settings set = {.pages = 16};
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &set);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);

    struct demo d = {0};
    d.page = (size_t)sysconf(_SC_PAGESIZE);
    d.pages = (size_t)set.pages;
    d.len = d.pages * d.page;
    narrate_init(&d.n, info.name, &common, set.file ? 3 : 6);
    if (set.file) {
        narrate_intro(&d.n, "mincore-residency (PID %ld): the page cache of %s", (long)getpid(),
                      set.file);
        run_file(&d, set.file);
        narrate_finish(&d.n, RESULT_OK, "page-cache residency of %s, as mincore reported it",
                       set.file);
    }
    narrate_intro(&d.n, "mincore-residency (PID %ld): %zu pages of %zu KiB; '#' resident, '.' not.",
                  (long)getpid(), d.pages, d.page / 1024);
    run_anonymous(&d);
    narrate_finish(&d.n, RESULT_OK, "%zu pages: written, read, written, thrown away; every "
                                    "picture was drawn from mincore in this run.", d.pages);
}
