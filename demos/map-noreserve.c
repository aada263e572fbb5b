/* map-noreserve: a mapping far larger than RAM + swap, with and without
 * MAP_NORESERVE, and what the overcommit policy makes of each. With
 * --all-modes (root), the same requests under overcommit modes 0, 1 and 2,
 * the original settings restored on every way out. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "leftovers.h"
#include "errors.h"
#include "narrate.h"
#include "procfs.h"
#include "snapshot.h"
#include "sysctl.h"
#include "touch.h"
#include "worker.h"

enum { OPT_SIZE, OPT_FIT_SIZE, OPT_ALL_MODES };

static const struct cli_option options[] = {
    [OPT_SIZE] = {"size", "SIZE", "the request larger than RAM + swap (default 1T; 1G to 64T)"},
    [OPT_FIT_SIZE] = {"fit-size", "SIZE", "a request that fits, to compare charges (default 1G; 1M to 4G)"},
    [OPT_ALL_MODES] = {"all-modes", NULL, "root only: repeat under overcommit modes 0, 1 and 2, then restore"},
};

static const struct demo_info info = {
    .name = "map-noreserve",
    .summary =
        "Asks for a private mapping far larger than RAM + swap, with and without\n"
        "MAP_NORESERVE, and shows what the overcommit policy (/proc/sys/vm/\n"
        "overcommit_memory) made of each request and what it charged to Committed_AS.\n"
        "Nothing large is ever written: only a few pages are touched.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  map-noreserve                    1 TiB, in the mode this machine is in\n"
                "  sudo map-noreserve --all-modes   modes 0, 1 and 2 in turn, then restored\n",
};

struct settings {
    uint64_t size, fit;
    bool all_modes;
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    struct settings *s = ctx;
    if (index == OPT_SIZE)
        s->size = cli_size_arg(&info, "--size", arg, 1ull << 30, 64ull << 40);
    else if (index == OPT_FIT_SIZE)
        s->fit = cli_size_arg(&info, "--fit-size", arg, 1ull << 20, 4ull << 30);
    else
        s->all_modes = true;
}

struct policy {
    uint64_t mode, ratio, kbytes;
    struct procfs_want mem[7];
};

enum { MEM_TOTAL, SWAP_TOTAL, HP_TOTAL, HP_SIZE, COMMIT_LIMIT, COMMITTED, MEM_AVAILABLE };

static void read_policy(struct narrator *n, struct policy *p)
{
    static const char *const keys[] = {"MemTotal", "SwapTotal", "HugePages_Total", "Hugepagesize",
                                        "CommitLimit", "Committed_AS", "MemAvailable"};
    for (int i = 0; i < 7; i++)
        p->mem[i] = (struct procfs_want){keys[i], 0, false};
    if (procfs_read_vm_sysctl("overcommit_memory", &p->mode) != PROCFS_OK ||
        procfs_read_vm_sysctl("overcommit_ratio", &p->ratio) != PROCFS_OK)
        narrate_fail_errno(n, "read /proc/sys/vm/overcommit_*", errno);
    if (procfs_read_vm_sysctl("overcommit_kbytes", &p->kbytes) != PROCFS_OK)
        p->kbytes = 0; /* before Linux 3.14 there was only the ratio */
    if (procfs_read_keyed("/proc/meminfo", p->mem, 7) != PROCFS_OK)
        narrate_fail_errno(n, "read /proc/meminfo", errno);
}

static const char *mode_name(uint64_t mode)
{
    return mode == 0 ? "heuristic" : mode == 1 ? "always grant" : mode == 2 ? "never overcommit" : "?";
}

static int64_t committed_kb(void)
{
    return procfs_read_one("/proc/meminfo", "Committed_AS");
}

/* One request: its errno (0 if granted) and what it charged. */
struct trial {
    int err;
    int64_t charged_kb;
};

static struct trial try_map(uint64_t size, int extra_flags, void **keep)
{
    struct trial t;
    int64_t before = committed_kb();
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
    t.err = p == MAP_FAILED ? errno : 0;
    t.charged_kb = committed_kb() - before;
    if (p != MAP_FAILED) {
        if (keep)
            *keep = p;
        else
            munmap(p, size);
    }
    return t;
}

static void step_policy(struct narrator *n, const struct policy *p)
{
    narrate_step(n, "Read the overcommit policy",
                 "read /proc/sys/vm/overcommit_{memory,ratio,kbytes} and /proc/meminfo");
    narrate_fact(n, "overcommit_memory", "%llu (%s)", (unsigned long long)p->mode, mode_name(p->mode));
    narrate_fact_int(n, "overcommit_ratio", (int64_t)p->ratio);
    narrate_fact_int(n, "overcommit_kbytes", (int64_t)p->kbytes);
    static const char *const shown[] = {"MemTotal_kB", "SwapTotal_kB", "HugePages_Total",
                                        "Hugepagesize_kB", "CommitLimit_kB", "Committed_AS_kB"};
    for (int i = 0; i < 6; i++)
        if (p->mem[i].present)
            narrate_fact_int(n, shown[i], (int64_t)p->mem[i].value);

    /* The kernel's formula (mm/util.c, vm_commit_limit), in pages. */
    uint64_t page_kb = (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
    uint64_t limit_kb;
    char formula[160];
    if (p->kbytes) {
        limit_kb = p->kbytes + p->mem[SWAP_TOTAL].value;
        snprintf(formula, sizeof formula, "overcommit_kbytes + SwapTotal = %llu + %llu",
                 (unsigned long long)p->kbytes, (unsigned long long)p->mem[SWAP_TOTAL].value);
    } else {
        uint64_t huge_kb = p->mem[HP_TOTAL].value * p->mem[HP_SIZE].value;
        uint64_t ram_pages = (p->mem[MEM_TOTAL].value - huge_kb) / page_kb;
        limit_kb = ram_pages * p->ratio / 100 * page_kb + p->mem[SWAP_TOTAL].value;
        snprintf(formula, sizeof formula,
                 "(MemTotal - huge pages) x overcommit_ratio / 100 + SwapTotal = "
                 "(%llu - %llu) x %llu / 100 + %llu",
                 (unsigned long long)p->mem[MEM_TOTAL].value, (unsigned long long)huge_kb,
                 (unsigned long long)p->ratio, (unsigned long long)p->mem[SWAP_TOTAL].value);
    }
    narrate_fact(n, "CommitLimit formula", "%s", formula);
    narrate_fact_int(n, "CommitLimit_computed_kB", (int64_t)limit_kb);
    uint64_t shown_limit = p->mem[COMMIT_LIMIT].value;
    uint64_t diff = limit_kb > shown_limit ? limit_kb - shown_limit : shown_limit - limit_kb;
    if (diff <= page_kb)
        narrate_note(n, "Recomputed from the formula, CommitLimit is %llu kB: the kernel's figure, "
                        "to the page.", (unsigned long long)limit_kb);
    else
        narrate_note(n, "Recomputed from the formula, CommitLimit would be %llu kB, but the kernel "
                        "shows %llu kB (memory the kernel itself took after boot, or hotplug, can "
                        "explain a difference).",
                     (unsigned long long)limit_kb, (unsigned long long)shown_limit);
    narrate_note(n, "CommitLimit is enforced only in mode 2; in modes 0 and 1 it is just a "
                    "number to compare Committed_AS with. This machine is in mode %llu (%s).",
                 (unsigned long long)p->mode, mode_name(p->mode));
    narrate_end_step(n);
}

static void explain_trial(struct narrator *n, const struct policy *p, const struct trial *t,
                          bool noreserve, uint64_t size)
{
    char err[96], what[32];
    format_size(size, what, sizeof what);
    uint64_t ram_swap_kb = p->mem[MEM_TOTAL].value + p->mem[SWAP_TOTAL].value;
    if (t->err)
        errno_describe("mmap", t->err, err, sizeof err);
    if (!noreserve && p->mode == 0) {
        if (t->err == ENOMEM && size / 1024 > ram_swap_kb)
            narrate_note(n, "Refused (%s). Mode 0 refuses a single request larger than RAM + swap "
                            "(%llu kB): no process could ever use it all.",
                         err, (unsigned long long)ram_swap_kb);
        else if (!t->err)
            narrate_note(n, "Granted, and charged %+lld kB to Committed_AS: mode 0 grants what "
                            "is not obviously impossible.", (long long)t->charged_kb);
        else
            narrate_note(n, "Refused: %s.", err);
    } else if (p->mode == 2) {
        if (t->err)
            narrate_note(n, "Refused (%s). Mode 2 refuses any request that would push Committed_AS "
                            "past CommitLimit%s.",
                         err, noreserve ? ", and it ignores MAP_NORESERVE: every private writable "
                                          "mapping is charged" : "");
        else
            narrate_note(n, "Granted and charged %+lld kB: it fits under CommitLimit%s.",
                         (long long)t->charged_kb, noreserve ? " (mode 2 charged it despite "
                                                               "MAP_NORESERVE)" : "");
    } else if (t->err) {
        narrate_note(n, "Refused: %s.", err);
    } else if (noreserve) {
        narrate_note(n, "Granted, and Committed_AS moved by %+lld kB: with MAP_NORESERVE the "
                        "kernel neither checks nor charges the request. Nothing promises that "
                        "the pages can be had when they are written; if they cannot, the OOM "
                        "killer will pick a victim.",
                     (long long)t->charged_kb);
    } else {
        narrate_note(n, "Granted, and charged %+lld kB: mode %llu (%s) grants every request, "
                        "but still counts it in Committed_AS.",
                     (long long)t->charged_kb, (unsigned long long)p->mode, mode_name(p->mode));
    }
}

static void record_trial(struct narrator *n, const struct trial *t)
{
    char name[24];
    narrate_fact(n, "result", "%s", t->err ? errno_name(t->err, name, sizeof name) : "granted");
    narrate_fact_int(n, "Committed_AS_change_kB", t->charged_kb);
}

/* Mode 0's check is per call: two requests of a little over half of RAM +
 * swap each, together more than the one just refused would need, are both
 * granted. Nothing is written; both are unmapped at once. */
static void show_per_call(struct narrator *n, const struct policy *p)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t half = ((p->mem[MEM_TOTAL].value + p->mem[SWAP_TOTAL].value) * 1024 / 2 + page) / page * page;
    void *a = mmap(NULL, half, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int err_a = a == MAP_FAILED ? errno : 0;
    void *b = mmap(NULL, half, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int err_b = b == MAP_FAILED ? errno : 0;
    if (a != MAP_FAILED)
        munmap(a, half);
    if (b != MAP_FAILED)
        munmap(b, half);
    char what[32], name_a[24], name_b[24];
    format_size(half, what, sizeof what);
    narrate_fact(n, "two halves", "%s and %s, %s each",
                 err_a ? errno_name(err_a, name_a, sizeof name_a) : "granted",
                 err_b ? errno_name(err_b, name_b, sizeof name_b) : "granted", what);
    if (!err_a && !err_b)
        narrate_note(n, "The check is per call: two requests of %s each, together more than RAM + "
                        "swap, were both granted a moment later (and unmapped at once).", what);
}

static void step_huge(struct narrator *n, const struct policy *p, uint64_t size, bool noreserve,
                      void **keep)
{
    char code[160], what[32];
    format_size(size, what, sizeof what);
    snprintf(code, sizeof code, "p = mmap(NULL, %s, PROT_READ | PROT_WRITE, MAP_PRIVATE | "
                                "MAP_ANONYMOUS%s, -1, 0);",
             what, noreserve ? " | MAP_NORESERVE" : "");
    char title[96];
    snprintf(title, sizeof title, "Ask for %s %s MAP_NORESERVE", what, noreserve ? "with" : "without");
    narrate_step(n, title, code);
    struct trial t = try_map(size, noreserve ? MAP_NORESERVE : 0, keep);
    record_trial(n, &t);
    explain_trial(n, p, &t, noreserve, size);
    if (!noreserve && p->mode == 0 && t.err == ENOMEM)
        show_per_call(n, p);
    narrate_end_step(n);
}

static void step_touch(struct narrator *n, char *p, uint64_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    narrate_step(n, "Touch three pages of the huge mapping",
                 "p[0] = 1; p[size / 2] = 1; p[size - 1] = 1;");
    if (!p) {
        narrate_note(n, "Skipped: no huge mapping was granted in this mode, so there is nothing "
                        "to touch.");
        narrate_end_step(n);
        return;
    }
    madvise(p, size, MADV_NOHUGEPAGE);
    struct snapshot before, after;
    snapshot_take_or_fail(&before, (uintptr_t)p, n);
    touch_write(p, 1);
    touch_write(p + size / 2, 1);
    touch_write(p + size - 1, 1);
    snapshot_take_or_fail(&after, (uintptr_t)p, n);
    snapshot_report(n, &before, &after, (const char *const[]){"Size", "Rss", "minor_faults", NULL});
    int64_t rss = snapshot_delta0(&before, &after, "Rss");
    if (rss == 3 * (int64_t)(page / 1024))
        narrate_note(n, "Three pages written, three frames taken: Rss grew by %lld kB out of a "
                        "mapping of %llu kB. Memory is used only where it is written.",
                     (long long)rss, (unsigned long long)(size / 1024));
    else
        narrate_note(n, "Rss grew by %lld kB.", (long long)rss);
    narrate_end_step(n);
    munmap(p, size);
}

static void step_fit(struct narrator *n, const struct policy *p, uint64_t fit)
{
    char code[200], what[32];
    format_size(fit, what, sizeof what);
    snprintf(code, sizeof code, "mmap(NULL, %s, ..., MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); then the "
                                "same with MAP_NORESERVE", what);
    narrate_step(n, "Compare the charge of a request that fits", code);
    struct trial plain = try_map(fit, 0, NULL), nores = try_map(fit, MAP_NORESERVE, NULL);
    char name[24];
    narrate_fact(n, "without MAP_NORESERVE", "%s", plain.err ? errno_name(plain.err, name, sizeof name) : "granted");
    narrate_fact_int(n, "charge_without_kB", plain.charged_kb);
    narrate_fact(n, "with MAP_NORESERVE", "%s", nores.err ? errno_name(nores.err, name, sizeof name) : "granted");
    narrate_fact_int(n, "charge_with_kB", nores.charged_kb);
    narrate_note(n, "Without the flag Committed_AS moved by %+lld kB (the mapping is %llu kB); "
                    "with it, by %+lld kB.%s",
                 (long long)plain.charged_kb, (unsigned long long)(fit / 1024),
                 (long long)nores.charged_kb,
                 nores.charged_kb == 0 ? " The flag opts the mapping out of the accounting."
                 : p->mode == 2        ? " Mode 2 charges both: it ignores MAP_NORESERVE."
                                       : " (Committed_AS is system-wide: other processes moved it too.)");
    narrate_end_step(n);
}

static void step_protnone(struct narrator *n, uint64_t fit)
{
    char what[32];
    format_size(fit, what, sizeof what);
    narrate_step(n, "Reserve with PROT_NONE, then make it writable",
                 "p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); "
                 "mprotect(p, size, PROT_READ | PROT_WRITE);");
    int64_t c0 = committed_kb();
    void *p = mmap(NULL, fit, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        narrate_fail_errno(n, "mmap(PROT_NONE)", errno);
    int64_t c1 = committed_kb();
    int rc = mprotect(p, fit, PROT_READ | PROT_WRITE);
    int err = errno;
    int64_t c2 = committed_kb();
    munmap(p, fit);
    char name[24];
    narrate_fact_int(n, "charge_at_reserve_kB", c1 - c0);
    narrate_fact(n, "mprotect", "%s", rc == 0 ? "granted" : errno_name(err, name, sizeof name));
    narrate_fact_int(n, "charge_at_mprotect_kB", c2 - c1);
    narrate_note(n, "The PROT_NONE reservation of %s moved Committed_AS by %+lld kB%s. mprotect to "
                    "read-write %s: %+lld kB. This is how allocators and language runtimes reserve "
                    "address space cheaply and commit it piece by piece.",
                 what, (long long)(c1 - c0),
                 c1 == c0 ? ": memory that can never be written is not charged" : "",
                 rc == 0 ? "moved it" : "was refused", (long long)(c2 - c1));
    narrate_end_step(n);
}

/* ---- --all-modes ---- */

struct mode_result {
    struct trial huge, huge_noreserve, fit, fit_noreserve;
};

struct mode_sizes {
    uint64_t size, fit;
};

/* Runs in a worker process, under the mode the supervisor just set. */
static void try_four(void *arg, void *result)
{
    const struct mode_sizes *m = arg;
    struct mode_result *r = result;
    sysctl_child_after_fork(); /* the supervisor alone restores */
    /* A test hook: the restore test kills the worker to prove that the
     * supervisor still puts everything back. */
    if (getenv("VMLAB_TEST_KILL_WORKER"))
        raise(SIGKILL);
    r->huge = try_map(m->size, 0, NULL);
    r->huge_noreserve = try_map(m->size, MAP_NORESERVE, NULL);
    r->fit = try_map(m->fit, 0, NULL);
    r->fit_noreserve = try_map(m->fit, MAP_NORESERVE, NULL);
}

static void step_mode(struct narrator *n, uint64_t mode, uint64_t size, uint64_t fit,
                      const struct policy *original)
{
    char title[64], code[96];
    snprintf(title, sizeof title, "Mode %llu (%s)", (unsigned long long)mode, mode_name(mode));
    snprintf(code, sizeof code, "echo %llu > /proc/sys/vm/overcommit_memory; then the same four requests",
             (unsigned long long)mode);
    narrate_step(n, title, code);

    /* Mode 2 makes every process's allocations fail past CommitLimit. Only
     * go there when the machine is far from that line. */
    int64_t committed = committed_kb();
    uint64_t limit = original->mem[COMMIT_LIMIT].value;
    if (mode == 2 && (committed < 0 || (uint64_t)committed + fit / 1024 > limit / 2)) {
        narrate_note(n, "Skipped: Committed_AS (%lld kB) is too close to CommitLimit (%llu kB); "
                        "switching to mode 2 now could make other programs' allocations fail.",
                     (long long)committed, (unsigned long long)limit);
        narrate_end_step(n);
        return;
    }
    if (sysctl_set("overcommit_memory", mode) != 0)
        narrate_fail_errno(n, sysctl_failed_call(), errno);
    struct mode_sizes sizes = {size, fit};
    struct mode_result r;
    int status;
    if (worker_run(try_four, &sizes, &r, sizeof r, &status) != 0)
        narrate_finish(n, RESULT_FAIL, "the mode %llu worker ended without a result (wait status %#x)",
                       (unsigned long long)mode, status);

    char a[24], b[24];
    const struct { const char *key; const struct trial *t; } rows[] = {
        {"huge", &r.huge}, {"huge_noreserve", &r.huge_noreserve},
        {"fit", &r.fit}, {"fit_noreserve", &r.fit_noreserve},
    };
    for (size_t i = 0; i < 4; i++) {
        char key[48];
        narrate_fact(n, rows[i].key, "%s", rows[i].t->err ? errno_name(rows[i].t->err, a, sizeof a) : "granted");
        snprintf(key, sizeof key, "%s_charge_kB", rows[i].key);
        narrate_fact_int(n, key, rows[i].t->charged_kb);
    }
    char s1[32], s2[32];
    format_size(size, s1, sizeof s1);
    format_size(fit, s2, sizeof s2);
    narrate_note(n, "%s: %s; with MAP_NORESERVE: %s. %s: %s; with MAP_NORESERVE: %s.", s1,
                 r.huge.err ? errno_name(r.huge.err, a, sizeof a) : "granted",
                 r.huge_noreserve.err ? errno_name(r.huge_noreserve.err, b, sizeof b) : "granted", s2,
                 r.fit.err ? errno_name(r.fit.err, a, sizeof a) : "granted",
                 r.fit_noreserve.err ? errno_name(r.fit_noreserve.err, b, sizeof b) : "granted");
    if (!r.huge.err && r.huge.charged_kb > 0)
        narrate_note(n, "Even %s was granted without MAP_NORESERVE, and charged: Committed_AS may "
                        "now exceed CommitLimit, which only mode 2 enforces.", s1);
    if (!r.fit_noreserve.err && r.fit_noreserve.charged_kb > 0)
        narrate_note(n, "MAP_NORESERVE made no difference to the charge (%+lld kB): this mode "
                        "ignores the flag and accounts every private writable mapping.",
                     (long long)r.fit_noreserve.charged_kb);
    if (r.huge.err == ENOMEM && r.huge_noreserve.err == 0)
        narrate_note(n, "Only the impossible request without MAP_NORESERVE was refused.");
    narrate_end_step(n);
}

static void run_all_modes(struct narrator *n, uint64_t size, uint64_t fit, const struct policy *p)
{
    char repaired[512];
    if (sysctl_begin(info.name, repaired, sizeof repaired) != 0)
        narrate_fail_errno(n, "take the vmlab lock in " VMLAB_RUN_DIR, errno);
    if (repaired[0])
        fprintf(stderr, "%s: %s\n", info.name, repaired);
    fprintf(stderr, "%s: changing /proc/sys/vm/overcommit_memory for a moment (now %llu); it will "
                    "be put back on exit, Ctrl-C included\n",
            info.name, (unsigned long long)p->mode);
    for (uint64_t mode = 0; mode <= 2; mode++)
        step_mode(n, mode, size, fit, p);
    sysctl_end();
}

int main(int argc, char **argv)
{
    struct settings set = {.size = 1ull << 40, .fit = 1ull << 30};
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &set);
    cli_no_positionals(&info, argc, argv, first);

    struct narrator n;
    bool can_all = set.all_modes && geteuid() == 0;
    narrate_init(&n, info.name, &common, 6 + (can_all ? 3 : 0));
    leftovers_repair(info.name);

    struct policy p;
    read_policy(&n, &p);
    char what[32];
    format_size(set.size, what, sizeof what);
    narrate_intro(&n, "map-noreserve (PID %ld): what the kernel makes of a request for %s of "
                      "memory, in overcommit mode %llu (%s).",
                  (long)getpid(), what, (unsigned long long)p.mode, mode_name(p.mode));
    step_policy(&n, &p);
    step_huge(&n, &p, set.size, false, NULL);
    void *huge = NULL;
    step_huge(&n, &p, set.size, true, &huge);
    step_touch(&n, huge, set.size);
    step_fit(&n, &p, set.fit);
    step_protnone(&n, set.fit);
    if (set.all_modes && !can_all)
        narrate_finish(&n, RESULT_SKIP, "--all-modes changes /proc/sys/vm/overcommit_memory and "
                                        "needs root: sudo %s --all-modes", info.name);
    if (can_all)
        run_all_modes(&n, set.size, set.fit, &p);
    narrate_finish(&n, RESULT_OK, "requests of %s with and without MAP_NORESERVE, measured in "
                                  "mode %llu%s", what, (unsigned long long)p.mode,
                   can_all ? " and in modes 0, 1 and 2 (restored since)" : "");
}
