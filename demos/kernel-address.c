/* SPDX-License-Identifier: MIT */
/* kernel-address: addresses user space may never touch. An x86-64 address
 * has 64 bits, but the MMU translates only 48 of them (4-level paging) or 57
 * (5-level); an address is canonical when the bits above those are copies of
 * the highest one. The lower canonical half is user space, the upper one the
 * kernel's: a user access there is a page fault the kernel refuses, and one
 * to a non-canonical address is no page fault at all. Each case runs in a
 * child of its own (lib/present/fault-cases); its access is the LESSON line
 * in the switch below. Then come the explanation and the options. Faults in
 * user space (NULL, unmapped, read-only, the stack): segv-pgfault. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

#include "cli.h"
#include "fault-cases.h"
#include "narrate.h"
#include "needs.h"
#include "probe.h"

/* ---- The lesson: one access a case ---- */

enum { KERNEL_READ, KERNEL_WRITE, NONCANONICAL_READ, EXERCISE_READ, EXERCISE_WRITE, NCASES };

static const struct fault_case cases[NCASES] = { /* in the order of the enum above */
    {"kernel-read", "Read the kernel's code address 0xffffffff81000000", 0xffffffff81000000, false},
    {"kernel-write", "Write the same kernel address", 0xffffffff81000000, true},
    {"noncanonical-read", "Read 0x8000000000000000, canonical in no paging mode",
     0x8000000000000000, false},
    {"exercise-read", "Read the exercise's 'kernel' address 0xffff0a8700100000",
     0xffff0a8700100000, false},
    {"exercise-write", "Write the same exercise address", 0xffff0a8700100000, true},
};

static struct narrator n;

/* Each case's access, to what no correct program touches: no sanitizer may
 * get there first (ASan would stop at its shadow). 0xffffffff81000000, x86-64
 * kernel code, is canonical in 4- and 5-level paging, 0x8000000000000000 in
 * neither, the exercise's 0xffff0a8700100000 only in 5-level. Each constant is
 * loaded right before its access (the table holds it for the explanation),
 * never kept in %rbp across a call: through %rbp or %rsp a non-canonical
 * address is a stack-segment fault (#SS, SIGBUS). */
LESSON_FN __attribute__((no_sanitize("undefined"))) static void access_case(void *arg)
{
    switch (*(const int *)arg) {
    case KERNEL_READ:
        LESSON(&n, FORCE_READ(*(char *)0xffffffff81000000););
        break;
    case KERNEL_WRITE:
        LESSON(&n, *(char *)0xffffffff81000000 = 1;);
        break;
    case NONCANONICAL_READ:
        LESSON(&n, FORCE_READ(*(char *)0x8000000000000000););
        break;
    case EXERCISE_READ:
        LESSON(&n, FORCE_READ(*(char *)0xffff0a8700100000););
        break;
    case EXERCISE_WRITE:
        LESSON(&n, *(char *)0xffff0a8700100000 = 1;);
        break;
    }
}

/* ---- How the numbers are explained ---- */

/* Addresses the user half cannot hold: canonical or not, kernel or LASS. */
static void explain(int which, const struct fault_outcome *o)
{
    const struct probe_result *r = &o->r;
    uint64_t target = cases[which].addr;
    struct smaps_entry e;
    struct probe_paging pg;
    probe_paging(&pg);
    fault_case_facts(&n, target, r, &e);
    if (!r->faulted) {
        narrate_note(&n, "The access completed; the minor-fault counter moved by %+lld.",
                     (long long)(o->minflt[1] - o->minflt[0]));
        return;
    }
    bool canon = probe_canonical(target, pg.va_bits), five = pg.va_bits == 57;
    bool gp = r->signo == SIGSEGV && r->code == SI_KERNEL; /* a general protection fault */
    const char *why = five ? "the CPU has la57 and a mmap hint above 2^47 was honoured"
                      : pg.la57 ? "the CPU has la57, but a mmap hint above 2^47 was not honoured"
                                : "the CPU has no la57 flag";
    narrate_fact_int(&n, "virtual_address_bits", pg.va_bits);
    CONCLUDE(&n, five ? "five_level_paging" : "four_level_paging", true,
             VALUES(VAL("la57_cpu_flag", pg.la57),
                    VAL("hint_above_2_47_honoured", pg.hint_honoured)),
             "This kernel uses %d-level paging (%s): addresses have %d bits, and one is canonical "
             "when bits %d to 63 are all equal.", five ? 5 : 4, why, pg.va_bits, pg.va_bits - 1);
    FINDING(&n, canon ? "address_canonical" : "address_not_canonical", true,
            VAL("virtual_address_bits", pg.va_bits));
    CONCLUDE(&n, "kernel_half_page_fault", canon && r->signo == SIGSEGV &&
             r->code == SEGV_MAPERR && r->addr == target,
             VALUES(VAL("si_addr_is_address", r->addr == target)),
             "So 0x%llx is canonical, in the kernel's half: the CPU looked it up, user mode may "
             "not use kernel pages, and the page fault became SEGV_MAPERR with the address in "
             "si_addr.", (unsigned long long)target);
    CONCLUDE(&n, "noncanonical_general_protection", !canon && gp,
             VALUES(VAL("si_addr_is_zero", r->addr == 0)),
             "So 0x%llx is not canonical: the CPU raised a general protection fault before "
             "reading any page table. A #GP carries no address: SI_KERNEL, si_addr 0.",
             (unsigned long long)target);
    CONCLUDE(&n, "lass_general_protection", canon && gp && pg.lass,
             VALUES(VAL("lass_cpu_flag", pg.lass)),
             "Canonical, yet a general protection fault: with LASS (cpu flag lass) the CPU "
             "refuses user-mode access to the kernel's half before the page walk: SI_KERNEL, "
             "si_addr 0.");
}

/* ---- The command line and main ---- */

static const struct cli_option options[] = {
    {"all", NULL, "run every case, each in its own child (the default)"},
};

/* The exercise's k r|w: both touch the same address, so that only the access
 * differs (its u is segv-pgfault's). */
static const struct fault_exercise exercise = {"k", "a kernel address; for u, run segv-pgfault",
                                               EXERCISE_READ};

/* Canonical addresses and paging modes, as explained here, are x86-64's. */
static const struct demo_need needs[] = {
    {NEED_ARCH, .name = "x86_64"},
    {0},
};

static const struct demo_info info = {
    .name = "kernel-address",
    .exit_status = "0 every case ran and the output shows what the kernel reported; 1 a case "
                   "ended without a result, or a system call failed (the message names it); "
                   "2 bad usage; 77 this machine cannot show it (the message says why).",
    .args = "[CASE | k r|w]",
    .summary =
        "Touches addresses user space may never use - the kernel's half and the\n"
        "non-canonical hole between the halves - and shows what the kernel made of\n"
        "each: SEGV_MAPERR with the address for a canonical kernel address, a\n"
        "general protection fault (SI_KERNEL, si_addr 0) for a non-canonical one\n"
        "(canonical by the paging mode this machine uses) or under LASS. Cases:\n"
        "kernel-read, kernel-write, noncanonical-read, exercise-read,\n"
        "exercise-write. The original exercise's form also works: k (a kernel\n"
        "address) and r|w (read or write); k r and k w touch the same address. With\n"
        "no case, every case runs (as --all).",
    DEMO_OPTIONS(options),
    .needs = needs,
    .examples = "  kernel-address --all          every case\n"
                "  kernel-address noncanonical-read\n"
                "  kernel-address k r            the original exercise's kernel read\n",
};

int main(int argc, char **argv)
{
    struct cli_common common;
    int from, to;
    fault_cases_parse(argc, argv, &info, &common, cases, NCASES, &exercise, &from, &to);
    demo_start(&n, &info, &common, to - from);
    fault_cases_run(&n, cases, from, to, access_case, explain);
}
