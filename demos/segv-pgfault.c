/* SPDX-License-Identifier: MIT */
/* segv-pgfault: good and bad page faults in user space. The MMU traps on
 * every access it cannot complete; the kernel decides. A good fault is fixed
 * up and counted; a bad one becomes a signal whose siginfo says why (si_code)
 * and where (si_addr). Each case runs in a child of its own
 * (lib/present/fault-cases); its access is the LESSON line in the switch
 * below. Then come the explanation and the options. Addresses user space may
 * never touch (the kernel's half, the non-canonical hole): kernel-address. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "fault-cases.h"
#include "narrate.h"
#include "needs.h"
#include "probe.h"
#include "procfs.h"

/* ---- The lesson: one access a case ---- */

enum {
    GOOD_FAULT, NULL_READ, UNMAPPED_READ, UNMAPPED_WRITE, TEXT_WRITE, PROTNONE_READ,
    STACK_OVERFLOW, FILE_PAST_END, PKEY_READ, NCASES
};

static const struct fault_case cases[NCASES] = { /* in the order of the enum above */
    {"good-fault", "A good fault: the first write to a fresh page", 0, true},
    {"null-read", "Read address 0 (NULL)", 0, false},
    {"unmapped-read", "Read a page that munmap just removed", 0, false},
    {"unmapped-write", "Write a page that munmap just removed", 0, true},
    {"text-write", "Write into the program's own code", 0, true},
    {"protnone-read", "Read a PROT_NONE page", 0, false},
    {"stack-overflow", "Recurse until the stack cannot grow", 0, true},
    {"file-past-end", "Read past the end of a mapped file", 0, false},
    {"pkey-read", "Read a page whose protection key forbids access", 0, false},
};

static struct narrator n;

/* What the explanation needs to know about the case, set in its child.
 * Static: the lesson changes it between sigsetjmp and a fault's jump. */
static struct trial {
    volatile uintptr_t target; /* the address the lesson touches (grow_stack: its deepest) */
    const char *not_run;     /* the call that stopped the case before its lesson */
    int err;
    int pkey;                /* pkey-read: the key given to the page */
    int64_t file_size;       /* file-past-end: bytes in the file */
    int64_t stack_limit;     /* stack-overflow: RLIMIT_STACK in force */
} t = {.pkey = -1};
static size_t page;

/* A case's setup: it worked, or the case is not run and says which call
 * failed (pkey_alloc, without protection keys). */
static bool set_up(bool ok, const char *call)
{
    t.not_run = ok ? NULL : call;
    t.err = ok ? 0 : errno;
    return ok;
}

/* The address the lesson will touch, where it is found only as the case runs
 * (other titles name theirs). With --step it is shown before the pause: after
 * it, the child that could be looked at is gone. */
static void aim(uintptr_t target)
{
    t.target = target;
    if (n.pause)
        narrate_live(&n, "The access will go to 0x%llx.", (unsigned long long)target);
}

/* Each frame writes to its buffer, so that its pages are really touched, then
 * keeps its address in t.target (volatile: in that order; never dereferenced). */
// NOLINTBEGIN(clang-analyzer-core.StackAddressEscape)
LESSON_FN static void grow_stack(long depth)
{
    volatile char frame[1024];
    frame[0] = 1;
    t.target = (uintptr_t)&frame[0];
    if (depth < LONG_MAX) /* never false: the stack ends long before */
        grow_stack(depth + 1);
    frame[1] = frame[0]; /* not a tail call */
}
// NOLINTEND(clang-analyzer-core.StackAddressEscape)

/* Each case's access, to what no correct program touches: no sanitizer may
 * get there first (UBSan would stop at the NULL read, ASan at its shadow). */
LESSON_FN __attribute__((no_sanitize("undefined"))) static void access_case(void *arg)
{
    int which = *(const int *)arg;
    struct rlimit rl;
    int fd, key;
    /* A fresh private page, not touched yet: most cases touch it. */
    char *p = mmap(NULL, page, which == PROTNONE_READ ? PROT_NONE : PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!set_up(p != MAP_FAILED, "mmap"))
        return;
    switch (which) {
    case GOOD_FAULT:
    case PROTNONE_READ:
        aim((uintptr_t)p);
        if (which == GOOD_FAULT)
            LESSON(&n, p[0] = 1;);
        else
            LESSON(&n, FORCE_READ(p[0]););
        break;
    case NULL_READ:
        LESSON(&n, FORCE_READ(*(char *)NULL);); // NOLINT(clang-analyzer-core.NullDereference)
        break;
    case UNMAPPED_READ: /* a page that was mapped a moment ago and is not any more */
    case UNMAPPED_WRITE:
        if (!set_up(munmap(p, page) == 0, "munmap"))
            break;
        aim((uintptr_t)p + 16);
        if (which == UNMAPPED_READ)
            LESSON(&n, FORCE_READ(p[16]););
        else
            LESSON(&n, p[16] = 1;);
        break;
    case TEXT_WRITE:
        p = (char *)(uintptr_t)&access_case; /* this very function's code */
        aim((uintptr_t)p);
        LESSON(&n, p[0] = 1;);
        break;
    case STACK_OVERFLOW:
        /* Never more than 8 MiB, whatever the shell allows: an unlimited stack
         * would let this child take all the memory there is. */
        getrlimit(RLIMIT_STACK, &rl);
        if (rl.rlim_cur > (8u << 20)) /* RLIM_INFINITY too: it is the largest value */
            rl.rlim_cur = 8u << 20;
        if (!set_up(setrlimit(RLIMIT_STACK, &rl) == 0, "setrlimit(RLIMIT_STACK)"))
            break;
        t.stack_limit = (int64_t)rl.rlim_cur;
        LESSON(&n, grow_stack(1););
        break;
    case FILE_PAST_END:
        fd = memfd_create("vmlab-short-file", MFD_CLOEXEC); /* a file of one page */
        if (!set_up(fd >= 0 && ftruncate(fd, (off_t)page) == 0, "memfd_create, ftruncate"))
            break;
        p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, 0); /* mapped as two */
        if (!set_up(p != MAP_FAILED, "mmap"))
            break;
        t.file_size = (int64_t)page;
        aim((uintptr_t)p + page);
        LESSON(&n, FORCE_READ(p[page]););
        break;
    case PKEY_READ:
        p[0] = 1; /* present: what refuses the read below is not a missing page */
        aim((uintptr_t)p);
        t.pkey = key = pkey_alloc(0, 0); /* a key that allows everything, for now */
        if (set_up(key >= 0, "pkey_alloc") &&
            set_up(pkey_mprotect(p, page, PROT_READ | PROT_WRITE, key) == 0, "pkey_mprotect"))
            LESSON(&n, pkey_set(key, PKEY_DISABLE_ACCESS); FORCE_READ(p[0]););
        break;
    }
}

/* ---- How the numbers are explained ---- */

/* e: the stack's mapping, where the deepest frame was. */
static void explain_stack(const struct probe_result *r, const struct smaps_entry *e)
{
    uintptr_t fault_page = r->addr & ~(uintptr_t)(page - 1), below = probe_mapping_below(e->start);
    int64_t size = (int64_t)(e->end - e->start), needed = (int64_t)(e->end - fault_page);
    int64_t gap = (int64_t)(fault_page - below), guard = probe_stack_guard_gap();
    bool below_stack = r->signo == SIGSEGV && r->code == SEGV_MAPERR && r->addr < e->start;
    narrate_fact_int(&n, "stack_vma_bytes", size);
    narrate_fact_int(&n, "RLIMIT_STACK_bytes", t.stack_limit);
    CONCLUDE(&n, "stack_reached_rlimit", below_stack && needed > t.stack_limit,
             VALUES(VAL("stack_with_fault_page_kB", needed / 1024),
                    VAL("rlimit_stack_kB", t.stack_limit / 1024)),
             "The stack is %lld KiB; the page of si_addr would make it %lld KiB, past "
             "RLIMIT_STACK (%lld KiB): the kernel refused to grow it, SEGV_MAPERR just below it.",
             (long long)size / 1024, (long long)needed / 1024, (long long)t.stack_limit / 1024);
    CONCLUDE(&n, "stack_reached_guard_gap", below_stack && below && gap < guard,
             VALUES(VAL("gap_below_kB", gap / 1024), VAL("stack_guard_gap_kB", guard / 1024)),
             "The mapping below the stack ends %lld KiB under the faulting page, inside the "
             "stack guard gap (%lld KiB): the kernel refused to grow the stack into it.",
             (long long)gap / 1024, (long long)guard / 1024);
    CONCLUDE(&n, "handler_on_alternate_stack", r->on_altstack,
             VALUES(VAL("on_altstack", r->on_altstack)), "The handler ran on an alternate "
             "signal stack (sigaltstack), as it must: the normal stack could not grow.");
}

/* One explanation for every case: what the address was, what the kernel
 * sent, and which rule that shows. */
static void explain(int which, const struct fault_outcome *o)
{
    const struct probe_result *r = &o->r;
    if (t.not_run) { /* the case did not get to its access: which call stopped it, and why */
        char name[24];
        bool ospke = probe_cpu_flag("ospke");
        narrate_fact(&n, "signal", "not shown");
        CONCLUDE(&n, "case_not_run", true, VALUES(VAL("errno", t.err)),
                 "Not run: %s failed with %s.", t.not_run, errno_name(t.err, name, sizeof name));
        if (strcmp(t.not_run, "pkey_alloc") == 0)
            CONCLUDE(&n, "no_protection_keys", !ospke, VALUES(VAL("pku_cpu_flag",
                     probe_cpu_flag("pku")), VAL("ospke_cpu_flag", ospke)), "/proc/cpuinfo lists "
                     "no ospke flag: this CPU, or this kernel, offers no memory protection keys.");
        return;
    }
    struct smaps_entry e;
    bool mapped = fault_case_facts(&n, t.target, r, &e);
    if (!r->faulted) {
        int64_t faults = o->minflt[1] - o->minflt[0];
        narrate_value(&n, "minor_faults", "", true, o->minflt[0], true, o->minflt[1]);
        if (!CONCLUDE(&n, "good_fault", faults == 1 && mapped, VALUES(VAL("minor_faults", faults)),
                      "A good fault: the mapping allows the write, but the page was not there "
                      "yet; the kernel took one minor fault, mapped a zeroed frame and retried "
                      "the write. No signal."))
            narrate_note(&n, "The access completed; the minor-fault counter moved by %+lld.",
                         (long long)faults);
        return;
    }
    if (which == STACK_OVERFLOW) {
        if (mapped)
            explain_stack(r, &e);
        return;
    }
    bool segv = r->signo == SIGSEGV; /* si_code values repeat across signals */
    bool at_target = r->addr == t.target, write = cases[which].write;
    bool forbids = mapped && (write ? e.perms[1] != 'w' : e.perms[0] != 'r');
    int64_t offset = mapped ? (int64_t)(e.offset + (t.target - e.start)) : -1; /* in the file */
    bool told =
        CONCLUDE(&n, "no_mapping", segv && r->code == SEGV_MAPERR && !mapped && at_target,
                 VALUES(VAL("si_addr_is_address", at_target)),
                 "No mapping covers 0x%llx, so the kernel had nothing to fault in: SEGV_MAPERR, "
                 "with the address in si_addr.", (unsigned long long)t.target) ||
        CONCLUDE(&n, "mapping_forbids_access",
                 segv && r->code == SEGV_ACCERR && forbids && at_target,
                 VALUES(VAL("readable", e.perms[0] == 'r'), VAL("writable", e.perms[1] == 'w')),
                 "A mapping covers the address (%s), but it does not allow %s: SEGV_ACCERR, with "
                 "the address in si_addr.", e.perms, write ? "writing" : "reading") ||
        CONCLUDE(&n, "past_end_of_file", r->signo == SIGBUS && r->code == BUS_ADRERR && mapped &&
                 t.file_size > 0 && offset >= t.file_size,
                 VALUES(VAL("offset_in_file", offset), VAL("file_size_bytes", t.file_size)),
                 "The mapping is readable, but the file behind it ends at byte %lld and this is "
                 "byte %lld: no page to give, so SIGBUS (BUS_ADRERR), not SIGSEGV.",
                 (long long)t.file_size, (long long)offset) ||
        CONCLUDE(&n, "protection_key_denied", segv && r->code == SEGV_PKUERR &&
                 r->pkey == t.pkey && at_target && !forbids,
                 VALUES(VAL("pkey", t.pkey), VAL("si_pkey", r->pkey)),
                 "The page is mapped %s and was written before the key was set, yet the read was "
                 "refused: pkey_set wrote this thread's PKRU register to deny the page's key, %d "
                 "(si_pkey). No system call, no page-table change.", e.perms, t.pkey);
    if (!told)
        narrate_note(&n, "%s: %s.", probe_code_name(r->signo, r->code),
                     probe_code_meaning(r->signo, r->code));
    uint64_t min_addr;
    if (t.target == 0 && procfs_read_vm_sysctl("mmap_min_addr", &min_addr) == PROCFS_OK) {
        narrate_fact_int(&n, "mmap_min_addr", (int64_t)min_addr);
        CONCLUDE(&n, "mmap_min_addr_keeps_zero_free", min_addr > 0,
                 VALUES(VAL("mmap_min_addr", min_addr)),
                 "vm.mmap_min_addr is %llu: no process may map below it, so that a kernel bug "
                 "that follows a NULL pointer cannot find data a program put at address 0.",
                 (unsigned long long)min_addr);
    }
}

/* ---- The command line and main ---- */

static const struct cli_option options[] = {
    {"all", NULL, "run every case, each in its own child (the default)"},
};

/* The exercise's u r|w: a page munmap just removed (its k is kernel-address's). */
static const struct fault_exercise exercise = {"u", "a user address; for k, run kernel-address",
                                               UNMAPPED_READ};

static const struct demo_info info = {
    .name = "segv-pgfault",
    .exit_status = "0 every case ran and the output shows what the kernel reported; 1 a case "
                   "ended without a result, or a system call failed (the message names it); "
                   "2 bad usage; 77 this machine cannot show it (the message says why).",
    .args = "[CASE | u r|w]",
    .summary =
        "Makes one memory access that the MMU cannot complete and shows what the\n"
        "kernel made of it: a minor fault it fixes up, or a signal (SIGSEGV, SIGBUS)\n"
        "whose si_code says why and si_addr says where, in user space. Cases:\n"
        "good-fault, null-read, unmapped-read, unmapped-write, text-write,\n"
        "protnone-read, stack-overflow, file-past-end, pkey-read. The original\n"
        "exercise's form also works: u (a user address) and r|w (read or write);\n"
        "its k (kernel address) is kernel-address's. With no case, every case runs\n"
        "(as --all).",
    DEMO_OPTIONS(options),
    .examples = "  segv-pgfault --all          every case\n"
                "  segv-pgfault text-write     write to the program's own code\n"
                "  segv-pgfault u w            the original exercise's user write\n",
};

int main(int argc, char **argv)
{
    struct cli_common common;
    int from, to;
    fault_cases_parse(argc, argv, &info, &common, cases, NCASES, &exercise, &from, &to);
    page = (size_t)sysconf(_SC_PAGESIZE);
    demo_start(&n, &info, &common, to - from);
    fault_cases_run(&n, cases, from, to, access_case, explain);
}
