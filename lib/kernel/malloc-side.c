/* SPDX-License-Identifier: MIT */
/* malloc-side: see malloc-side.h. */
#define _GNU_SOURCE
#include "malloc-side.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "undo.h"

#ifdef VMLAB_GLIBC_MALLOC
#include <malloc.h>
#endif

static const char *const symbols[CALLS] = {"malloc", "mallopt", "malloc_trim", "mallinfo2",
                                           "gnu_get_libc_version"};
static const struct { const char *name, *file, *package; } known[] = {
    {"jemalloc", "libjemalloc.so.2", "libjemalloc2"},
    {"mimalloc", "libmimalloc.so.2", "libmimalloc2.0"},
};

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

static struct range { uintptr_t start, end; } before[1024]; /* the mappings before the step */
static size_t nbefore;
static pid_t child = -1;  /* until it is reaped */
static int sock = -1;     /* the parent's end, or the child's */
static char other_library[PATH_MAX]; /* the parent's: what the child preloads, */
static const char *other_name;        /* and what to call it */

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
    struct rusage ru;
    (void)getrusage(RUSAGE_SELF, &ru);
    v->minflt = ru.ru_minflt;
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

void malloc_side_who_serves(struct malloc_side *s)
{
    for (int k = 0; k < CALLS; k++) {
        Dl_info at;
        void *sym = dlsym(RTLD_DEFAULT, symbols[k]);
        snprintf(s->from[k], sizeof s->from[k], "%s",
                 sym && dladdr(sym, &at) && at.dli_fname ? at.dli_fname : "(not found)");
    }
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

/* The child's findings every step shares (malloc-side.h: malloc_side_explain_both). */
static void other_findings(struct narrator *n, const struct malloc_side *o, bool freeing)
{
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

int malloc_side_find_library(const char *arg, char *path, size_t path_size, char *name,
                             size_t name_size, char *why, size_t why_size)
{
    char libc[PATH_MAX], dir[PATH_MAX + 8], file[PATH_MAX + 80], quoted[128], real[PATH_MAX];
    const char *slash = strrchr(arg, '/');
    snprintf(name, name_size, "%s", slash ? slash + 1 : arg);
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        if (strcmp(arg, known[k].name) != 0)
            continue;
        Dl_info at;
        void *sym = dlsym(RTLD_DEFAULT, symbols[CALL_LIBC]);
        snprintf(libc, sizeof libc, "%s", sym && dladdr(sym, &at) && at.dli_fname ?
                 at.dli_fname : "/lib/libc.so.6");
        snprintf(dir, sizeof dir, "%s%s", strncmp(libc, "/usr/", 5) ? "/usr" : "", libc);
        *strrchr(dir, '/') = '\0';
        if (getenv("VMLAB_ALLOCATOR_DIR"))
            snprintf(dir, sizeof dir, "%s", getenv("VMLAB_ALLOCATOR_DIR"));
        snprintf(file, sizeof file, "%s/%s", dir, known[k].file);
        if (access(file, R_OK) != 0) {
            snprintf(why, why_size, "%s is not installed (no %s). As root: apt-get install %s",
                     arg, file, known[k].package);
            return EXIT_CANNOT;
        }
        arg = file;
    }
    cli_quote(arg, quoted, sizeof quoted);
    /* An ELF shared object: anything else under LD_PRELOAD stops the child's loader. */
    Elf64_Ehdr h;
    FILE *f = realpath(arg, real) ? fopen(real, "rbe") : NULL;
    int err = errno;
    bool elf = f && fread(&h, sizeof h, 1, f) == 1 && memcmp(h.e_ident, ELFMAG, SELFMAG) == 0;
    if (!f) {
        snprintf(why, why_size, "'%s': %s", quoted, strerror(err));
        return EXIT_USAGE;
    }
    (void)fclose(f);
    if (!elf || h.e_type != ET_DYN) {
        snprintf(why, why_size, "'%s' is not a shared library", quoted);
        return EXIT_USAGE;
    }
    snprintf(path, path_size, "%s", real);
    return EXIT_OK;
}

/* On every way out, Ctrl-C included: no child outlives the demo. */
static void end_child(void)
{
    if (child > 0) {
        (void)kill(child, SIGKILL);
        (void)waitpid(child, NULL, 0);
        child = -1;
    }
}

int malloc_side_child_start(const char *env_name, const char *arg, const char *library,
                            const char **failed)
{
    int sv[2];
    char how[256], preload[PATH_MAX + 16], *env[256];
    extern char **environ;
    size_t k = 0, name_len = strlen(env_name);
    for (char **e = environ; *e && k < sizeof env / sizeof env[0] - 3; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) != 0 &&
            !(strncmp(*e, env_name, name_len) == 0 && (*e)[name_len] == '='))
            env[k++] = *e;
    *failed = "socketpair";
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return errno;
    (void)fcntl(sv[1], F_SETFD, 0); /* the child's end stays open across exec */
    snprintf(how, sizeof how, "%s=%d,%s", env_name, sv[1], arg);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", library);
    env[k++] = how;
    env[k++] = preload;
    env[k] = NULL;
    *failed = "atexit";
    int err = undo_register(end_child) != 0 ? errno : 0;
    if (!err) {
        char *argv[] = {program_invocation_short_name, NULL};
        *failed = "posix_spawn";
        err = posix_spawn(&child, "/proc/self/exe", NULL, NULL, argv, env);
    }
    (void)close(sv[1]);
    if (err) {
        (void)close(sv[0]);
        child = -1;
        return err;
    }
    sock = sv[0];
    return 0;
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

pid_t malloc_side_child_pid(void)
{
    return child;
}

bool malloc_side_child_ask(int step, struct malloc_side *side)
{
    return (step < 0 || send(sock, &step, sizeof step, MSG_NOSIGNAL) == (ssize_t)sizeof step) &&
           recv(sock, side, sizeof *side, 0) == (ssize_t)sizeof *side;
}

int malloc_side_child_end(void)
{
    int status = -1;
    (void)close(sock);
    sock = -1;
    if (child > 0 && waitpid(child, &status, 0) != child)
        status = -1;
    child = -1; /* reaped */
    return status;
}

void malloc_side_observe(struct narrator *n, struct malloc_side *mine, bool after, uintptr_t at,
                         struct malloc_side *theirs)
{
    char why[200];
    if (!malloc_side_look(mine, after, at, why, sizeof why))
        narrate_finish(n, RESULT_FAIL, "%s", why);
    /* The child takes the same step now, between our numbers and our words. */
    if (after && child > 0 && !malloc_side_child_ask(n->step - 1, &theirs[n->step - 1]))
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
    if (child <= 0)
        return;
    const struct malloc_side *o = &theirs[n->step - 1];
    there(o);
    side_rows(n, o, "other_", mallinfo);
    other_findings(n, o, freeing);
}

const char *malloc_side_child_arg(const char *value)
{
    char *end;
    errno = 0;
    long fd = strtol(value, &end, 10);
    return errno == 0 && end != value && fd >= 0 && fd <= INT_MAX && *end == ',' ? end + 1 : NULL;
}

noreturn void malloc_side_child_serve(const char *value, const struct malloc_side *side,
                                      int nsteps, void (*step)(int i))
{
    int i = -1;
    if (!malloc_side_child_arg(value))
        _exit(EXIT_USAGE);
    sock = (int)strtol(value, NULL, 10);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed parent cannot end it otherwise */
    if (getppid() == 1)
        _exit(EXIT_OK);
    while (send(sock, side, sizeof *side, MSG_NOSIGNAL) == (ssize_t)sizeof *side &&
           recv(sock, &i, sizeof i, 0) == (ssize_t)sizeof i && i >= 0 && i < nsteps)
        step(i);
    _exit(EXIT_OK);
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
