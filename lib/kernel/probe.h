/* SPDX-License-Identifier: MIT */
/* probe: make a memory access that may fault, and report what happened
 * instead of dying.
 *
 * A bad access raises SIGSEGV or SIGBUS; the kernel fills in a siginfo that
 * says why (si_code) and where (si_addr). The probe's handler only records
 * those numbers and jumps back (siglongjmp), so the demo can print them and
 * go on. It runs on an alternate signal stack, so that even a stack
 * overflow can be reported.
 *
 * Two ways to use it:
 *   - probe_call: one call, caught (a deep recursion, say);
 *   - the access written inline (a LESSON in a demo), caught by hand:
 *
 *         if (probe_install() != 0) ...fail...;
 *         if (sigsetjmp(probe_env, 1) == 0) {
 *             probe_arm();  p[0] = 1;  probe_disarm();
 *         }
 *         probe_uninstall();
 *         probe_outcome(&r);        r.faulted says whether it jumped
 *
 *   A fault while the probe is not armed is not caught: the process dies of
 *   the signal, as it would without the probe. */
#ifndef VMLAB_PROBE_H
#define VMLAB_PROBE_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

struct probe_result {
    bool faulted;     /* false: the access completed */
    int signo;        /* SIGSEGV or SIGBUS */
    int code;         /* si_code: SEGV_MAPERR, SEGV_ACCERR, BUS_ADRERR, SI_KERNEL... */
    uintptr_t addr;   /* si_addr */
    int pkey;         /* si_pkey, for SEGV_PKUERR; -1 otherwise */
    bool on_altstack; /* the handler ran on the probe's alternate stack */
};

/* Runs fn(arg) under the handlers: for faults that are not a single access (a deep recursion,
 * say). Returns 0, or -1 if the handlers could not be installed (errno set). A fault is not an
 * error: see r->faulted. */
int probe_call(void (*fn)(void *), void *arg, struct probe_result *r);

/* ---- the inline form (see above) ---- */
extern sigjmp_buf probe_env;
/* Installs the SIGSEGV/SIGBUS handlers and the alternate stack. 0 or -1. */
int probe_install(void);
/* Opens and closes the window in which a fault is caught. */
void probe_arm(void);
void probe_disarm(void);
/* Puts the handlers and the stack back as they were. */
void probe_uninstall(void);
/* What the last window saw (faulted false if it never jumped). */
void probe_outcome(struct probe_result *r);

/* ---- what decides the answer for an address ---- */

/* Whether /proc/cpuinfo lists the flag ("la57", "lass", "ospke") for the
 * first CPU (x86's "flags" line). */
bool probe_cpu_flag(const char *flag);

/* The paging mode, as a process can see it: the CPU's la57 flag says it
 * could translate 57-bit addresses (5-level paging); the kernel uses it if
 * it honours a mmap hint above 2^47, which 4-level paging cannot map. */
struct probe_paging {
    bool la57, hint_honoured, lass;
    int va_bits;              /* 57 if both of the above, else 48 */
};
void probe_paging(struct probe_paging *pg);

/* Canonical: bits (va_bits - 1) to 63 all equal. */
bool probe_canonical(uint64_t addr, int va_bits);

/* The end of the highest mapping below addr (/proc/self/maps), 0 if none. */
uintptr_t probe_mapping_below(uintptr_t addr);

/* The gap the kernel keeps below a stack (stack_guard_gap= on the kernel
 * command line, else its default of 256 pages), in bytes. */
int64_t probe_stack_guard_gap(void);

/* "SIGSEGV", "SEGV_ACCERR" ... ; "?" for a code this table does not know. */
const char *probe_signal_name(int signo);
const char *probe_code_name(int signo, int code);
/* One sentence on what the si_code means. */
const char *probe_code_meaning(int signo, int code);

#endif
