/* SPDX-License-Identifier: MIT */
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
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "procfs.h"

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

sigjmp_buf probe_env;
static volatile sig_atomic_t probe_armed;
/* An alternate stack, so the handler can run when the fault is a stack
 * overflow. Static: allocated once, never freed, never faults mid-probe. */
static char alt_stack[64 * 1024];
static volatile struct probe_result probe_seen; /* what the last window saw */

static void probe_handler(int signo, siginfo_t *info, void *context)
{
    (void)context;
    if (!probe_armed) {
        /* Not ours: die of the signal as if no handler were installed. */
        (void)signal(signo, SIG_DFL);
        raise(signo);
        return;
    }
    char here; /* where this frame is: on the alternate stack or not */
    probe_seen.faulted = true;
    probe_seen.on_altstack = (uintptr_t)&here >= (uintptr_t)alt_stack &&
                             (uintptr_t)&here < (uintptr_t)alt_stack + sizeof alt_stack;
    probe_seen.signo = signo;
    probe_seen.code = info->si_code;
    probe_seen.addr = (uintptr_t)info->si_addr;
    /* si_pkey is filled in only for a protection-key fault: the key of the
     * page that refused the access (the VMA's key), not the rights. */
    probe_seen.pkey = signo == SIGSEGV && info->si_code == SEGV_PKUERR ? (int)info->si_pkey : -1;
    probe_armed = 0;
    siglongjmp(probe_env, 1);
}

static struct sigaction old_segv, old_bus;
static stack_t old_stack;

int probe_install(void)
{
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
    if (sigaltstack(&ss, &old_stack) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = probe_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) != 0)
        goto fail_stack;
    if (sigaction(SIGBUS, &sa, &old_bus) != 0)
        goto fail_segv;
    probe_seen = (struct probe_result){.pkey = -1};
    return 0;
fail_segv:
    sigaction(SIGSEGV, &old_segv, NULL);
fail_stack:;
    int saved = errno;
    sigaltstack(&old_stack, NULL);
    errno = saved;
    return -1;
}

void probe_arm(void)
{
    probe_seen = (struct probe_result){.pkey = -1};
    probe_armed = 1;
}

void probe_disarm(void)
{
    probe_armed = 0;
}

void probe_uninstall(void)
{
    probe_armed = 0;
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    sigaltstack(&old_stack, NULL);
}

void probe_outcome(struct probe_result *r)
{
    *r = probe_seen;
}

int probe_call(void (*fn)(void *), void *arg, struct probe_result *r)
{
    if (probe_install() != 0) {
        memset(r, 0, sizeof *r);
        return -1;
    }
    /* savemask = 1: the jump also restores the signal mask, which the
     * kernel changed on the way into the handler. */
    if (sigsetjmp(probe_env, 1) == 0) {
        probe_arm();
        fn(arg);
        probe_disarm();
    }
    probe_uninstall();
    probe_outcome(r);
    return 0;
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
    {0, SI_KERNEL, "SI_KERNEL", "the CPU raised a general protection fault, not a page fault, so the kernel has no address to report"},
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

bool probe_cpu_flag(const char *flag)
{
    static char line[16384];
    bool found = false;
    FILE *f = fopen("/proc/cpuinfo", "re");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        const char *colon = strchr(line, ':');
        line[strcspn(line, "\n")] = '\0';
        found = colon && procfs_has_word(colon + 1, flag, ' ');
        break;
    }
    if (f)
        (void)fclose(f);
    return found;
}

void probe_paging(struct probe_paging *pg)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    pg->la57 = probe_cpu_flag("la57");
    pg->lass = probe_cpu_flag("lass");
    void *p = mmap((void *)((uintptr_t)1 << 50), page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pg->hint_honoured = p != MAP_FAILED && (uintptr_t)p >= (uintptr_t)1 << 47;
    if (p != MAP_FAILED)
        munmap(p, page);
    pg->va_bits = pg->la57 && pg->hint_honoured ? 57 : 48;
}

bool probe_canonical(uint64_t addr, int va_bits)
{
    uint64_t top = addr >> (va_bits - 1);
    return top == 0 || top == UINT64_MAX >> (va_bits - 1);
}

uintptr_t probe_mapping_below(uintptr_t addr)
{
    static char line[4096 + 256];
    uintptr_t best = 0;
    FILE *f = fopen("/proc/self/maps", "re");
    while (f && fgets(line, sizeof line, f)) {
        char *dash;
        (void)strtoul(line, &dash, 16); /* the start; "start-end perms ..." */
        if (dash == line || *dash != '-')
            continue; /* the rest of a line longer than the buffer */
        uintptr_t end = strtoul(dash + 1, NULL, 16);
        if (end <= addr && end > best)
            best = end;
    }
    if (f)
        (void)fclose(f);
    return best;
}

int64_t probe_stack_guard_gap(void)
{
    char cmdline[4096];
    (void)procfs_read_text("/proc/cmdline", cmdline, sizeof cmdline); /* "" when unreadable */
    const char *s = strstr(cmdline, "stack_guard_gap=");
    int64_t pages = s ? strtoll(s + 16, NULL, 10) : 256;
    return pages * (int64_t)sysconf(_SC_PAGESIZE);
}
