/* probe: try one memory access and report what happened instead of dying.
 *
 * A bad access raises SIGSEGV or SIGBUS; the kernel fills in a siginfo that
 * says why (si_code) and where (si_addr). The probe installs a handler that
 * only records those three numbers and jumps back (siglongjmp), so the
 * demo can print them and go on. The handler runs on an alternate signal
 * stack, so that even a stack overflow can be reported. */
#ifndef VMLAB_PROBE_H
#define VMLAB_PROBE_H

#include <stdbool.h>
#include <stdint.h>

struct probe_result {
    bool faulted;     /* false: the access completed */
    int signo;        /* SIGSEGV or SIGBUS */
    int code;         /* si_code: SEGV_MAPERR, SEGV_ACCERR, BUS_ADRERR, SI_KERNEL... */
    uintptr_t addr;   /* si_addr */
    char value;       /* what a read returned, if it did not fault */
};

/* Read or write one byte at addr. Return 0, or -1 if the handlers could not
 * be installed (errno set). A fault is not an error: see r->faulted. */
int probe_read(const void *addr, struct probe_result *r);
int probe_write(void *addr, char value, struct probe_result *r);

/* Runs fn(arg) under the same handlers: for faults that are not a single
 * access (a deep recursion, say). */
int probe_call(void (*fn)(void *), void *arg, struct probe_result *r);

/* "SIGSEGV", "SEGV_ACCERR" ... ; "?" for a code this table does not know. */
const char *probe_signal_name(int signo);
const char *probe_code_name(int signo, int code);
/* One sentence on what the si_code means. */
const char *probe_code_meaning(int signo, int code);

#endif
