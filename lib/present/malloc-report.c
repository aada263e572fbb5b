/* SPDX-License-Identifier: MIT */
/* malloc-report: see malloc-report.h. */
#define _GNU_SOURCE
#include "malloc-report.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "malloc-child.h"

/* Where a block went (by enum malloc_where), and what a free gave back. */
static const struct { const char *id, *said; } went[] = {
    {NULL, "nowhere in its maps"},
    {"other_from_heap_break_moved", "from [heap], and the break moved"},
    {"other_from_heap_no_brk", "from [heap], the break unmoved"},
    {"other_new_mapping", "a new mapping (no mapping held its address before)"},
    {"other_inside_earlier_mapping", "inside a mapping it had before"},
}, gave[] = {
    {"other_free_unmapped", "gave address space back to the kernel"},
    {"other_free_gave_memory", "kept the address space but gave memory back"},
    {"other_free_kept", "gave nothing back to the kernel"},
};

static char other_library[PATH_MAX]; /* what the child preloads, */
static const char *other_name;        /* and what to call it */

static const char *named(const char *prefix, const char *key)
{
    static char name[40];
    snprintf(name, sizeof name, "%s%s", prefix, key);
    return name;
}

/* A side's rows, each key after prefix ("other_" for the child's). */
static void side_rows(struct narrator *n, const struct malloc_side *s, const char *prefix,
                      bool mallinfo)
{
    narrate_fact(n, named(prefix, "brk"), "%#lx -> %#lx", (unsigned long)s->b.brk,
                 (unsigned long)s->a.brk);
    narrate_fact_int(n, named(prefix, "brk_moved_kB"), s->moved);
    narrate_value(n, named(prefix, "VmSize"), "kB", true, s->b.vm_size, true, s->a.vm_size);
    narrate_value(n, named(prefix, "VmRSS"), "kB", true, s->b.vm_rss, true, s->a.vm_rss);
    narrate_value(n, named(prefix, "heap_Size"), "kB", true, s->b.heap_size, true, s->a.heap_size);
    narrate_value(n, named(prefix, "heap_Rss"), "kB", true, s->b.heap_rss, true, s->a.heap_rss);
    narrate_value(n, named(prefix, "minor_faults"), "", true, s->b.minflt, true, s->a.minflt);
    if (s->usable)
        narrate_fact_int(n, named(prefix, "usable_bytes"), s->usable);
    if (mallinfo) {
        narrate_fact_int(n, named(prefix, "mallinfo2_arena_kB"), (int64_t)s->a.mi.arena / 1024);
        narrate_fact_int(n, named(prefix, "mallinfo2_uordblks_kB"),
                         (int64_t)s->a.mi.uordblks / 1024);
        narrate_fact_int(n, named(prefix, "mallinfo2_fordblks_kB"),
                         (int64_t)s->a.mi.fordblks / 1024);
        narrate_fact_int(n, named(prefix, "mallinfo2_hblkhd_kB"), (int64_t)s->a.mi.hblkhd / 1024);
    }
    if (!s->a.mapped)
        return;
    char maps[512];
    smaps_format_header(&s->a.entry, maps, sizeof maps);
    narrate_fact(n, named(prefix, "maps"), "%s", maps);
    narrate_fact(n, named(prefix, "pointer"), "%#lx", (unsigned long)s->a.at);
    /* Before the step, the pointer may have been another block elsewhere. */
    bool same = s->b.mapped && s->b.entry.start == s->a.entry.start;
    narrate_value(n, named(prefix, "Rss"), "kB", same, malloc_view_kb(&s->b, "Rss"), true,
                  malloc_view_kb(&s->a, "Rss"));
    narrate_value(n, named(prefix, "AnonHugePages"), "kB", same,
                  malloc_view_kb(&s->b, "AnonHugePages"), true,
                  malloc_view_kb(&s->a, "AnonHugePages"));
}

const char *malloc_where_said(enum malloc_where where)
{
    return went[where].said;
}

/* The child's findings every step shares (malloc-report.h: malloc_side_explain_both). */
static void other_findings(struct narrator *n, const struct malloc_side *o, bool freeing)
{
    pid_t child = malloc_side_child_pid();
    if (n->step == 1) {
        narrate_fact_int(n, "other_pid", child);
        narrate_fact(n, "other_malloc_from", "%s", o->from[CALL_MALLOC]);
        CONCLUDE(n, "other_allocator_serves_malloc",
                 strcmp(o->from[CALL_MALLOC], other_library) == 0, VALUES(VAL("other_pid", child)),
                 "In the child dladdr finds malloc in the preloaded library: %s serves it. The "
                 "other_ numbers are that process's own, measured as ours.", other_name);
    }
    for (enum malloc_where k = HEAP_BRK; o->usable && k <= EARLIER_MAPPING; k++)
        CONCLUDE(n, went[k].id, o->where == k,
                 VALUES(VAL("usable_bytes", o->usable), VAL("vm_size_delta_kB", o->vm),
                        VAL("vm_rss_delta_kB", o->rss), VAL("brk_moved_kB", o->moved)),
                 "Under %s the block is %s: VmSize %+lld kB, VmRSS %+lld kB, %lld bytes set "
                 "aside (malloc_usable_size).", other_name, went[k].said, (long long)o->vm,
                 (long long)o->rss, (long long)o->usable);
    int g = o->vm < 0 ? 0 : o->rss < 0 ? 1 : 2;
    for (int k = 0; freeing && k < 3; k++)
        CONCLUDE(n, gave[k].id, g == k,
                 VALUES(VAL("vm_size_delta_kB", o->vm), VAL("vm_rss_delta_kB", o->rss)),
                 "Under %s this free %s: VmSize %+lld kB, VmRSS %+lld kB.", other_name,
                 gave[k].said, (long long)o->vm, (long long)o->rss);
}

const char *malloc_side_start_other(struct narrator *n, const struct demo_info *info,
                                    const char *env_name, const char *allocator, const char *arg,
                                    struct malloc_side *first, char *name, size_t name_size)
{
    const char *path = other_library;
    char why[PATH_MAX + 256];
    const char *failed;
    int found = malloc_side_find_library(allocator, other_library, sizeof other_library, name,
                                         name_size, why, sizeof why);
    other_name = name;
    if (found == EXIT_CANNOT)
        narrate_finish(n, RESULT_SKIP, "%s", why);
    if (found != EXIT_OK)
        cli_usage_error(info, "--allocator: %s", why);
    int err = malloc_side_child_start(env_name, arg, path, &failed);
    if (err)
        narrate_fail_errno(n, failed, err);
    if (!malloc_side_child_ask(-1, first))
        cli_usage_error(info, "--allocator: the child under LD_PRELOAD=%s ended before it "
                        "started", path);
    if (strcmp(first->from[CALL_MALLOC], path) != 0)
        cli_usage_error(info, "--allocator: %s does not replace malloc: under LD_PRELOAD, malloc "
                        "is still %s's", path, first->from[CALL_MALLOC]);
    return path;
}

void malloc_side_observe(struct narrator *n, struct malloc_side *mine, bool after, uintptr_t at,
                         struct malloc_side *theirs)
{
    char why[200];
    if (!malloc_side_look(mine, after, at, why, sizeof why))
        narrate_finish(n, RESULT_FAIL, "%s", why);
    /* The child takes the same step now, between our numbers and our words. */
    if (after && malloc_side_child_pid() > 0 &&
        !malloc_side_child_ask(n->step - 1, &theirs[n->step - 1]))
        narrate_finish(n, RESULT_FAIL, "the child under %s stopped answering at step %d",
                       other_name, n->step);
}

void malloc_side_explain_both(struct narrator *n, const struct malloc_side *mine,
                              const struct malloc_side *theirs, bool mallinfo, bool freeing,
                              void (*there)(const struct malloc_side *o))
{
    side_rows(n, mine, "", mallinfo);
    if (n->step == 1)
        narrate_fact(n, "malloc_from", "%s", mine->from[CALL_MALLOC]);
    if (malloc_side_child_pid() <= 0)
        return;
    const struct malloc_side *o = &theirs[n->step - 1];
    there(o);
    side_rows(n, o, "other_", mallinfo);
    other_findings(n, o, freeing);
}

static struct narrator *child_narrator;
static const struct narrate_lesson *child_steps;

static void child_step(int i)
{
    child_narrator->step = i + 1;
    child_narrator->code[0] = '\0';
    child_steps[i].lesson();
}

noreturn void malloc_side_child_run(struct narrator *n, const char *demo, const char *value,
                                    narrate_observer observe, struct malloc_side *side,
                                    const struct narrate_lesson *steps, int nsteps)
{
    narrate_init(n, demo, &(struct cli_common){.json = true, .color = COLOR_NEVER}, nsteps);
    n->out = stderr; /* should it fail, never into the parent's --json */
    narrate_observe(n, observe, NULL);
    observe(NULL, false); /* as in the parent, before its first step */
    malloc_side_who_serves(side);
    child_narrator = n;
    child_steps = steps;
    malloc_side_child_serve(value, side, nsteps, child_step);
}
