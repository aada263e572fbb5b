/* SPDX-License-Identifier: MIT */
/* malloc-side: see malloc-side.h. */
#define _GNU_SOURCE
#include "malloc-side.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fault-clock.h"

#ifdef VMLAB_GLIBC_MALLOC
#include <malloc.h>
#endif

static const char *const symbols[CALLS] = {"malloc", "mallopt", "malloc_trim", "mallinfo2",
                                           "gnu_get_libc_version"};

static struct range { uintptr_t start, end; } before[1024]; /* the mappings before the step */
static size_t nbefore;

const char *malloc_side_unsupported(void)
{
#ifdef VMLAB_ASAN
    return "this program was built with ASan, whose allocator replaces glibc's malloc; the "
           "lesson is glibc's malloc: build without VMLAB_SANITIZE (cmake --preset dev)";
#else
    return "this C library is not glibc, and the lesson is glibc's malloc (its heap, "
           "thresholds, mallopt, mallinfo2 and malloc_trim)";
#endif
}

/* The break, the faults and mallinfo2: read next to the step's code. */
static void counters(struct malloc_view *v)
{
    v->minflt = minor_faults_now();
    v->brk = (uintptr_t)sbrk(0);
#ifdef VMLAB_GLIBC_MALLOC
    struct mallinfo2 mi = mallinfo2();
    v->mi.arena = mi.arena;
    v->mi.uordblks = mi.uordblks;
    v->mi.fordblks = mi.fordblks;
    v->mi.hblkhd = mi.hblkhd;
    v->mi.keepcost = mi.keepcost;
#endif
}

static void scan(const struct smaps_entry *e, void *ctx)
{
    struct malloc_view *v = ctx;
    uint64_t size = 0, rss = 0;
    if (v->at == UINTPTR_MAX && nbefore < sizeof before / sizeof before[0])
        before[nbefore++] = (struct range){e->start, e->end};
    if (strcmp(e->name, "[heap]") == 0 && smaps_get(e, "Size", &size) &&
        smaps_get(e, "Rss", &rss)) {
        v->heap_size = (int64_t)size;
        v->heap_rss = (int64_t)rss;
    }
}

static enum malloc_where where(const struct malloc_side *s)
{
    bool held_before = false;
    for (size_t k = 0; k < nbefore; k++)
        held_before |= s->a.at >= before[k].start && s->a.at < before[k].end;
    if (!s->a.mapped)
        return NOWHERE;
    if (strcmp(s->a.entry.name, "[heap]") == 0)
        return s->a.brk != s->b.brk ? HEAP_BRK : HEAP;
    return held_before ? EARLIER_MAPPING : NEW_MAPPING;
}

bool malloc_side_look(struct malloc_side *s, bool after, uintptr_t at, char *why, size_t size)
{
    struct malloc_view *v = after ? &s->a : &s->b;
    if (after)
        counters(v);
    v->vm_size = procfs_read_one("/proc/self/status", "VmSize");
    v->vm_rss = procfs_read_one("/proc/self/status", "VmRSS");
    if (v->vm_size < 0 || v->vm_rss < 0) {
        snprintf(why, size, "reading VmSize and VmRSS in /proc/self/status failed");
        return false;
    }
    v->heap_size = v->heap_rss = 0;
    nbefore = after ? nbefore : 0;
    v->at = after ? 0 : UINTPTR_MAX; /* scan records the mappings before the step */
    FILE *f = fopen("/proc/self/smaps", "re");
    enum procfs_status st = PROCFS_IO;
    if (f) {
        st = smaps_parse_each(f, scan, v);
        (void)fclose(f);
    }
    if (st != PROCFS_OK) {
        snprintf(why, size, "reading /proc/self/smaps: %s", procfs_strerror(st));
        return false;
    }
    v->at = at;
    v->mapped = at && smaps_read_entry(at, &v->entry) == PROCFS_OK;
    if (!after) {
        counters(v);
        return true;
    }
    s->vm = s->a.vm_size - s->b.vm_size;
    s->rss = s->a.vm_rss - s->b.vm_rss;
    s->heap_rss = s->a.heap_rss - s->b.heap_rss;
    s->moved = ((int64_t)s->a.brk - (int64_t)s->b.brk) / 1024;
    s->faults = s->a.minflt - s->b.minflt;
    s->where = where(s);
    return true;
}

bool malloc_call_library(enum malloc_call call, char *path, size_t len)
{
    Dl_info at;
    void *sym = dlsym(RTLD_DEFAULT, symbols[call]);
    if (!sym || !dladdr(sym, &at) || !at.dli_fname)
        return false;
    snprintf(path, len, "%s", at.dli_fname);
    return true;
}

void malloc_side_who_serves(struct malloc_side *s)
{
    for (int k = 0; k < CALLS; k++)
        if (!malloc_call_library(k, s->from[k], sizeof s->from[k]))
            snprintf(s->from[k], sizeof s->from[k], "(not found)");
}
bool malloc_side_glibcs_there(const struct malloc_side *s, enum malloc_call call)
{
    return strcmp(s->from[call], s->from[CALL_LIBC]) == 0 &&
           strcmp(s->from[CALL_MALLOC], s->from[CALL_LIBC]) != 0;
}

int64_t malloc_view_kb(const struct malloc_view *v, const char *key)
{
    uint64_t x = 0;
    return v->mapped && smaps_get(&v->entry, key, &x) ? (int64_t)x : 0;
}
