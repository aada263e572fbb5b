/* probe: SIGSEGV/SIGBUS caught with sigaction(SA_SIGINFO) + siglongjmp.
 *
 * The handler is async-signal-safe: it stores into a static struct and
 * leaves with siglongjmp. Nothing is printed, allocated or locked in it. */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "touch.h"

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

static sigjmp_buf probe_env;
static volatile sig_atomic_t probe_armed;
static volatile struct {
    int signo, code;
    uintptr_t addr;
} probe_seen;

static void probe_handler(int signo, siginfo_t *info, void *context)
{
    (void)context;
    if (!probe_armed) {
        /* Not ours: die of the signal as if no handler were installed. */
        (void)signal(signo, SIG_DFL);
        raise(signo);
        return;
    }
    probe_seen.signo = signo;
    probe_seen.code = info->si_code;
    probe_seen.addr = (uintptr_t)info->si_addr;
    probe_armed = 0;
    siglongjmp(probe_env, 1);
}

/* An alternate stack, so the handler can run when the fault is a stack
 * overflow. Static: allocated once, never freed, never faults mid-probe. */
static char alt_stack[64 * 1024];

struct saved_handlers {
    struct sigaction segv, bus;
    stack_t stack;
};

static int install(struct saved_handlers *old)
{
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
    if (sigaltstack(&ss, &old->stack) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = probe_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old->segv) != 0 || sigaction(SIGBUS, &sa, &old->bus) != 0)
        return -1;
    return 0;
}

static void uninstall(const struct saved_handlers *old)
{
    sigaction(SIGSEGV, &old->segv, NULL);
    sigaction(SIGBUS, &old->bus, NULL);
    sigaltstack(&old->stack, NULL);
}

enum access { ACCESS_READ, ACCESS_WRITE, ACCESS_CALL };

static int probe(enum access kind, void *addr, char value, void (*fn)(void *), void *arg,
                 struct probe_result *r)
{
    struct saved_handlers old;
    memset(r, 0, sizeof *r);
    if (install(&old) != 0) {
        int saved = errno;
        uninstall(&old);
        errno = saved;
        return -1;
    }
    /* savemask = 1: the jump also restores the signal mask, which the
     * kernel changed on the way into the handler. */
    if (sigsetjmp(probe_env, 1) == 0) {
        probe_armed = 1;
        if (kind == ACCESS_READ)
            r->value = touch_read(addr);
        else if (kind == ACCESS_WRITE)
            touch_write(addr, value);
        else
            fn(arg);
        probe_armed = 0;
    } else {
        r->faulted = true;
        r->signo = probe_seen.signo;
        r->code = probe_seen.code;
        r->addr = probe_seen.addr;
    }
    uninstall(&old);
    return 0;
}

int probe_read(const void *addr, struct probe_result *r)
{
    return probe(ACCESS_READ, (void *)addr, 0, NULL, NULL, r);
}

int probe_write(void *addr, char value, struct probe_result *r)
{
    return probe(ACCESS_WRITE, addr, value, NULL, NULL, r);
}

int probe_call(void (*fn)(void *), void *arg, struct probe_result *r)
{
    return probe(ACCESS_CALL, NULL, 0, fn, arg, r);
}

const char *probe_signal_name(int signo)
{
    switch (signo) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case 0: return "none";
    default: return "?";
    }
}

struct code_info {
    int signo, code;
    const char *name, *meaning;
};

static const struct code_info codes[] = {
    {SIGSEGV, SEGV_MAPERR, "SEGV_MAPERR", "no mapping covers the address"},
    {SIGSEGV, SEGV_ACCERR, "SEGV_ACCERR", "the address is mapped, but its protection forbids this access"},
    {SIGSEGV, SEGV_PKUERR, "SEGV_PKUERR", "a memory protection key forbids this access"},
    {SIGBUS, BUS_ADRALN, "BUS_ADRALN", "the address is not aligned as the access requires"},
    {SIGBUS, BUS_ADRERR, "BUS_ADRERR", "the address is mapped, but there is no memory behind it to give (past the end of a file, or no huge page left)"},
    {SIGBUS, BUS_OBJERR, "BUS_OBJERR", "the object behind the mapping reported a hardware error"},
    {SIGBUS, BUS_MCEERR_AR, "BUS_MCEERR_AR", "a hardware memory error was consumed"},
    {0, SI_KERNEL, "SI_KERNEL", "the CPU raised a general protection fault (e.g. a non-canonical address); the kernel cannot say which address"},
    {0, SI_USER, "SI_USER", "another process sent the signal with kill()"},
};

static const struct code_info *find_code(int signo, int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if ((codes[i].signo == signo || codes[i].signo == 0) && codes[i].code == code)
            return &codes[i];
    return NULL;
}

const char *probe_code_name(int signo, int code)
{
    const struct code_info *c = find_code(signo, code);
    return c ? c->name : "?";
}

const char *probe_code_meaning(int signo, int code)
{
    const struct code_info *c = find_code(signo, code);
    return c ? c->meaning : "a code this program does not know";
}
