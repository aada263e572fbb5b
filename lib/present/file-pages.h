/* SPDX-License-Identifier: MIT */
/* file-pages: where page-cache and page-writeback read a file's pages in the page cache.
 * After each step mincore over a view of the file that nothing touches draws which pages are
 * cached (lib/kernel/residency), smaps of the mapping the lesson writes through says how many
 * are dirty, and /proc/meminfo's Cached, Active(file), Inactive(file), Dirty and Writeback are
 * the machine's. Also: the directory the file is made in, its step 1's findings, and fincore. */
#ifndef VMLAB_FILE_PAGES_H
#define VMLAB_FILE_PAGES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "narrate.h"
#include "snapshot.h"

#define FILE_PAGES 512 /* 2 MiB of 4 KiB pages: one picture, 8 lines */

/* --dir, for a demo's options table (file_pages_dir_given checks what was typed). */
#define FILE_PAGES_DIR_OPTION                                                                   \
    {"dir", "DIR", "make the file in DIR (default: the first of $TMPDIR, /var/tmp and /tmp "   \
                   "that is not tmpfs, else the first writable one)"}

/* /proc/meminfo's rows, in the order they are shown. */
enum file_pages_meminfo { FP_CACHED, FP_ACTIVE_FILE, FP_INACTIVE_FILE, FP_DIRTY, FP_WRITEBACK,
                          FP_MEMINFO };

struct file_pages {
    struct narrator *n;
    const int *fd;          /* the lesson's descriptor of the file, -1 until step 1 makes it */
    char *const *map;       /* the lesson's mapping of it, NULL where there is none */
    size_t len;
    char path[PATH_MAX];    /* mkstemp's template, in the chosen directory */
    bool tmpfs;
    long fs_type;
    char *view;             /* never touched: for mincore only */
    struct file_reading {
        long resident;      /* the file's pages in the page cache (mincore), settled after */
        int64_t file_dirty; /* smaps of *map: Shared_Dirty + Private_Dirty, kB; -1 no mapping */
        int64_t mem[FP_MEMINFO]; /* kB; -1 absent */
        struct snapshot s;  /* *map's smaps entry, and the fault counts */
    } before, after;
    char picture[FILE_PAGES + 1];
};

/* Whether --dir's argument is a directory that exists (and fits a path). */
bool file_pages_dir_given(const char *arg);

/* Fills f->path with DIR/vmlab-DEMO-XXXXXX for `given` (--dir), else the first of $TMPDIR,
 * /var/tmp and /tmp that this process may write and that is not tmpfs, else the first writable
 * one; ends the run (77) where there is none. Then watches the file after every step, and says
 * where it is made (the intro, then `also`). */
void file_pages_start(struct file_pages *f, const char *given, const char *also);

/* The end of a run: the view unmapped, the file closed (and so gone), the closing line. */
noreturn void file_pages_finish(struct file_pages *f);

/* Step 1's facts and findings (file_on_disk_only, tmpfs_cache_is_the_file): the file made,
 * `written` bytes of it, flushed and dropped. */
void file_pages_explain_create(struct file_pages *f, ssize_t written);

/* fincore (util-linux) over the same file: its count of cached pages; -1 where it is not
 * installed. */
long file_pages_fincore(const struct file_pages *f);

#endif
