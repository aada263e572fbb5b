/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "file-pages.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "procfs.h"
#include "residency.h"
#include "snapshot-report.h"

/* /proc/meminfo's keys (system-wide), and the rows they are shown as. */
static const struct { const char *key, *row; } mem[FP_MEMINFO] = {
    {"Cached", "Cached"}, {"Active(file)", "Active_file"}, {"Inactive(file)", "Inactive_file"},
    {"Dirty", "Dirty"}, {"Writeback", "Writeback"}};

/* The view is made once step 1 has made the file. Reads may still be in flight when a call
 * returns: the picture is drawn once three readings 20 ms apart agree (at most a second). */
static void observe(void *ctx, bool after)
{
    struct file_pages *f = ctx;
    struct narrator *n = f->n;
    if (!f->view && *f->fd >= 0) {
        f->view = mmap(NULL, f->len, PROT_READ, MAP_SHARED, *f->fd, 0);
        if (f->view == MAP_FAILED)
            narrate_fail_errno(n, "mmap", errno);
    }
    struct file_reading *r = after ? &f->after : &f->before;
    r->resident = f->view ? residency_picture(f->view, f->len, f->picture, sizeof f->picture) : -1;
    for (int i = 0; i < FP_MEMINFO; i++)
        r->mem[i] = procfs_read_one("/proc/meminfo", mem[i].key);
    snapshot_take_or_fail(&r->s, (uintptr_t)*f->map, n);
    long long sd = snapshot_value(&r->s, "Shared_Dirty");
    long long pd = snapshot_value(&r->s, "Private_Dirty");
    r->file_dirty = sd < 0 || pd < 0 ? -1 : sd + pd;
    if (!after)
        return;
    long now = f->after.resident, settled = now;
    for (int same = 0, waited = 0; same < 3 && waited < 1000; waited += 20) {
        usleep(20000);
        long again = residency_picture(f->view, f->len, f->picture, sizeof f->picture);
        same = again == settled ? same + 1 : 0;
        settled = again;
    }
    narrate_picture(n, "mincore", f->picture);
    narrate_fact_int(n, "resident_settled", settled);
    narrate_value(n, "resident_pages", "", f->before.resident >= 0, f->before.resident, true, now);
    narrate_value(n, "file_dirty", "kB", f->before.file_dirty >= 0, f->before.file_dirty,
                  f->after.file_dirty >= 0, f->after.file_dirty);
    for (int i = 0; i < FP_MEMINFO; i++)
        narrate_value(n, mem[i].row, "kB", f->before.mem[i] >= 0, f->before.mem[i],
                      f->after.mem[i] >= 0, f->after.mem[i]);
    snapshot_row(n, &f->before.s, &f->after.s, "major_faults");
    CONCLUDE(n, "reads_completed_later", settled > now,
             VALUES(VAL("resident_pages", now), VAL("resident_settled", settled)),
             "%ld more pages showed up a moment later (%ld in all): the call returned with reads "
             "in flight, and mincore counts a page once its read is done.", settled - now, settled);
    f->after.resident = settled; /* what the explanation counts */
}

bool file_pages_dir_given(const char *arg)
{
    struct stat st;
    return arg[0] && strlen(arg) <= PATH_MAX - 64 && stat(arg, &st) == 0 && S_ISDIR(st.st_mode);
}

void file_pages_start(struct file_pages *f, const char *given, const char *also)
{
    const char *dirs[] = {given ? given : getenv("TMPDIR"), "/var/tmp", "/tmp"};
    for (size_t i = 0; i < (given ? 1 : 3) && (!f->path[0] || f->tmpfs); i++) {
        struct statfs s;
        if (!dirs[i] || !dirs[i][0] || access(dirs[i], W_OK | X_OK) != 0 || statfs(dirs[i], &s) != 0
            || (f->path[0] && s.f_type == TMPFS_MAGIC))
            continue;
        f->tmpfs = s.f_type == TMPFS_MAGIC;
        f->fs_type = (long)s.f_type;
        snprintf(f->path, sizeof f->path, "%s/vmlab-%s-XXXXXX", dirs[i], f->n->demo);
    }
    if (!f->path[0])
        narrate_finish(f->n, RESULT_SKIP, "%s", given ? "--dir: this process may not write there"
                                                      : "no writable directory among $TMPDIR, "
                                                        "/var/tmp and /tmp: give one with --dir");
    narrate_observe(f->n, observe, f);
    narrate_intro(f->n, "%s (PID %ld): a %zu KiB file in %.*s (%s).%s", f->n->demo, (long)getpid(),
                  f->len / 1024, (int)(strrchr(f->path, '/') - f->path), f->path,
                  f->tmpfs ? "tmpfs" : "disk-backed", also);
}

void file_pages_finish(struct file_pages *f)
{
    munmap(f->view, f->len);
    close(*f->fd);
    narrate_finish(f->n, RESULT_OK, "the file is gone with its last descriptor; every number "
                                    "above was measured in this run.");
}

void file_pages_explain_create(struct file_pages *f, ssize_t written)
{
    struct narrator *n = f->n;
    if (written != (ssize_t)f->len)
        narrate_fail_errno(n, "pwrite", n->lesson_errno);
    narrate_fact(n, "file", "%s (deleted)", f->path);
    narrate_fact_int(n, "fd", *f->fd);
    narrate_fact(n, "watch_view", "%p", (void *)f->view);
    narrate_fact_int(n, "pages", FILE_PAGES);
    narrate_fact(n, "file_system", "%s", f->tmpfs ? "tmpfs" : "disk-backed");
    narrate_fact(n, "f_type", "%#lx", f->fs_type);
    narrate_watch(n, (uintptr_t)f->view);
    long now = f->after.resident;
    CONCLUDE(n, "file_on_disk_only", !f->tmpfs && now == 0, VALUES(VAL("resident_pages", now)),
             "fsync wrote it, then POSIX_FADV_DONTNEED dropped its clean pages (no privilege "
             "needed): the file is on disk only.");
    CONCLUDE(n, "tmpfs_cache_is_the_file", f->tmpfs && now == FILE_PAGES,
             VALUES(VAL("resident_pages", now)), "On tmpfs the page cache IS the file: all %ld "
             "pages stay, no disk to drop them to.", now);
}

long file_pages_fincore(const struct file_pages *f)
{
    char cmd[128], out[64];
    snprintf(cmd, sizeof cmd, "/usr/bin/fincore --noheadings --raw --output PAGES /proc/%ld/fd/%d "
             "2>/dev/null", (long)getpid(), *f->fd);
    FILE *p = popen(cmd, "r"); // NOLINT(cert-env33-c): a fixed command line
    bool read = p && fgets(out, sizeof out, p);
    return p && pclose(p) == 0 && read ? strtol(out, NULL, 10) : -1;
}
