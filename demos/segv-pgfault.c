/* segv-pgfault: good and bad page faults. The MMU traps on every access it
 * cannot complete; the kernel decides. A good fault is fixed up and counted;
 * a bad one becomes a signal whose siginfo says why (si_code) and where
 * (si_addr). Each case runs in a child process of its own and reports back. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "leftovers.h"
#include "errors.h"
#include "narrate.h"
#include "probe.h"
#include "procfs.h"
#include "touch.h"
#include "worker.h"

/* The address from the original exercise: it looks like a kernel address,
 * but bits 48-63 are not copies of bit 47, so it is not canonical. */
#define SEED_KERNEL_ADDRESS UINT64_C(0xffff0a8700100000)
/* The start of the x86-64 kernel text mapping: canonical, kernel half. */
#define CANONICAL_KERNEL_ADDRESS UINT64_C(0xffffffff81000000)

enum { OPT_ALL };

static const struct cli_option options[] = {
    [OPT_ALL] = {"all", NULL, "run every case, each in its own child, and print a table"},
};

static const struct demo_info info = {
    .name = "segv-pgfault",
    .args = "[CASE | u|k r|w]",
    .summary =
        "Makes one memory access that the MMU cannot complete and shows what the\n"
        "kernel made of it: a minor fault it fixes up, or a signal (SIGSEGV, SIGBUS)\n"
        "whose si_code says why and si_addr says where. Cases: good-fault, null-read,\n"
        "unmapped-read, unmapped-write, text-write, protnone-read, kernel-read,\n"
        "kernel-write, noncanonical-read, stack-overflow, file-past-end, pkey-read.\n"
        "The original exercise's form also works: u|k (user or kernel address) and\n"
        "r|w (read or write). With no case, every case runs (as --all).",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  segv-pgfault --all          every case, one table\n"
                "  segv-pgfault text-write     write to the program's own code\n"
                "  segv-pgfault k r            the original exercise's kernel read\n",
};

struct result {
    bool ran;             /* false: this machine cannot show the case */
    bool faulted;
    int signo, code;
    uint64_t target;      /* the address the case accessed */
    uint64_t fault_addr;  /* si_addr */
    int64_t minflt;       /* good-fault: the counter's change */
    int64_t depth;        /* stack-overflow: bytes of stack used */
    int64_t stack_limit;  /* RLIMIT_STACK in force */
    char why_not[160];
};

struct fault_case {
    const char *name, *title, *code;
    void (*run)(struct result *);
};

static void probe_or_die(int rc)
{
    if (rc != 0)
        _exit(100); /* sigaction failed: reported by the parent */
}

static void read_at(struct result *r, uint64_t addr)
{
    struct probe_result p;
    r->target = addr;
    probe_or_die(probe_read((const void *)(uintptr_t)addr, &p));
    r->faulted = p.faulted;
    r->signo = p.signo;
    r->code = p.code;
    r->fault_addr = p.addr;
}

static void write_at(struct result *r, uint64_t addr)
{
    struct probe_result p;
    r->target = addr;
    probe_or_die(probe_write((void *)(uintptr_t)addr, 1, &p));
    r->faulted = p.faulted;
    r->signo = p.signo;
    r->code = p.code;
    r->fault_addr = p.addr;
}

static int64_t minflt_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static void case_good(struct result *r)
{
    char *p = mmap(NULL, (size_t)2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(101);
    /* A valid access cannot raise a signal: no probe, nothing but the write
     * between the two readings. The first write warms up the code path. */
    touch_write(p + 4096, 1);
    int64_t before = minflt_now();
    touch_write(p, 1);
    r->minflt = minflt_now() - before;
    r->target = (uintptr_t)p;
}

static void case_null(struct result *r)
{
    read_at(r, 0);
}

/* An address that was mapped a moment ago and is not any more. */
static uint64_t unmapped_address(void)
{
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(101);
    munmap(p, 4096);
    return (uintptr_t)p + 16;
}

static void case_unmapped_read(struct result *r)
{
    read_at(r, unmapped_address());
}

static void case_unmapped_write(struct result *r)
{
    write_at(r, unmapped_address());
}

static void case_text_write(struct result *r)
{
    write_at(r, (uintptr_t)&case_text_write);
}

static void case_protnone(struct result *r)
{
    void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(101);
    read_at(r, (uintptr_t)p);
}

static void case_kernel_read(struct result *r)
{
    read_at(r, CANONICAL_KERNEL_ADDRESS);
}

static void case_kernel_write(struct result *r)
{
    write_at(r, CANONICAL_KERNEL_ADDRESS);
}

static void case_noncanonical(struct result *r)
{
    read_at(r, SEED_KERNEL_ADDRESS);
}

static volatile uintptr_t stack_lowest;

/* Recurses until the stack cannot grow. Each frame writes to its buffer so
 * that the pages are really touched, and remembers how deep it got (an
 * address kept only to be compared, never used as a pointer). */
// NOLINTBEGIN(clang-analyzer-core.StackAddressEscape)
__attribute__((noinline, no_sanitize_address)) static void recurse(void *arg)
{
    volatile char frame[1024];
    long *calls = arg;
    frame[0] = 1;
    stack_lowest = (uintptr_t)&frame[0];
    if (++*calls < (1L << 40)) /* never reached: the stack ends long before */
        recurse(arg);
    frame[1] = frame[0]; /* not a tail call */
}
// NOLINTEND(clang-analyzer-core.StackAddressEscape)

static void case_stack(struct result *r)
{
    /* Never more than 8 MiB, whatever the shell allows: an unlimited stack
     * would let this child take all the memory there is. */
    struct rlimit rl;
    getrlimit(RLIMIT_STACK, &rl);
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (8u << 20)) {
        rl.rlim_cur = 8u << 20;
        setrlimit(RLIMIT_STACK, &rl);
    }
    r->stack_limit = (int64_t)rl.rlim_cur;
    volatile char here = 0; /* marks where the stack stands now */
    uintptr_t start = (uintptr_t)&here;
    stack_lowest = start;
    struct probe_result p;
    static long calls;
    probe_or_die(probe_call(recurse, &calls, &p));
    r->faulted = p.faulted;
    r->signo = p.signo;
    r->code = p.code;
    r->fault_addr = p.addr;
    r->target = stack_lowest;
    r->depth = (int64_t)(start - stack_lowest);
}

static void case_file_past_end(struct result *r)
{
    /* A one-page file mapped as two pages: the second page has no file
     * behind it. memfd: no temporary file on disk. */
    int fd = memfd_create("vmlab-short-file", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 4096) != 0)
        _exit(101);
    char *p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        _exit(101);
    read_at(r, (uintptr_t)(p + 4096));
}

static void case_pkey(struct result *r)
{
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(101);
    touch_write(p, 1);
    int key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
    if (key < 0) {
        char name[24];
        snprintf(r->why_not, sizeof r->why_not,
                 "pkey_alloc failed with %s: this CPU (or kernel) has no memory protection keys",
                 errno_name(errno, name, sizeof name));
        return;
    }
    if (pkey_mprotect(p, 4096, PROT_READ | PROT_WRITE, key) != 0) {
        snprintf(r->why_not, sizeof r->why_not, "pkey_mprotect: %s", strerror(errno));
        return;
    }
    read_at(r, (uintptr_t)p);
}

static const struct fault_case cases[] = {
    {"good-fault", "A good fault: first touch of a fresh page", "p = mmap(4096, PROT_READ | PROT_WRITE); p[0] = 1;", case_good},
    {"null-read", "Read address 0 (NULL)", "char c = *(char *)0;", case_null},
    {"unmapped-read", "Read a user address where nothing is mapped", "munmap(p, 4096); char c = p[16];", case_unmapped_read},
    {"unmapped-write", "Write a user address where nothing is mapped", "munmap(p, 4096); p[16] = 1;", case_unmapped_write},
    {"text-write", "Write into the program's own code", "*(char *)&some_function = 1;", case_text_write},
    {"protnone-read", "Read a PROT_NONE page", "p = mmap(4096, PROT_NONE); char c = p[0];", case_protnone},
    {"kernel-read", "Read a kernel address (canonical)", "char c = *(char *)0xffffffff81000000;", case_kernel_read},
    {"kernel-write", "Write a kernel address (canonical)", "*(char *)0xffffffff81000000 = 1;", case_kernel_write},
    {"noncanonical-read", "Read the exercise's 'kernel' address 0xffff0a8700100000", "char c = *(char *)0xffff0a8700100000;", case_noncanonical},
    {"stack-overflow", "Recurse until the stack cannot grow", "void f(void) { char frame[1024]; f(); }", case_stack},
    {"file-past-end", "Read past the end of a mapped file", "ftruncate(fd, 4096); p = mmap(8192, MAP_SHARED, fd); char c = p[4096];", case_file_past_end},
    {"pkey-read", "Read a page whose protection key forbids access", "pkey_mprotect(p, 4096, PROT_READ | PROT_WRITE, pkey_alloc(0, PKEY_DISABLE_ACCESS)); char c = p[0];", case_pkey},
};
#define NCASES (sizeof cases / sizeof cases[0])

static const struct fault_case *find_case(const char *name)
{
    for (size_t i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0)
            return &cases[i];
    return NULL;
}

/* Runs in the case's own child process (lib/worker). */
static void run_case(void *arg, void *result)
{
    const struct fault_case *c = arg;
    struct result *r = result;
    r->ran = true;
    c->run(r);
    if (r->why_not[0])
        r->ran = false;
}

static const char *reason(const struct fault_case *c, const struct result *r)
{
    if (!r->faulted)
        return strcmp(c->name, "good-fault") == 0
                   ? "a good fault: the page was valid but not present; the kernel mapped a "
                     "zeroed frame and the write was retried"
                   : "the access completed";
    if (r->signo == SIGSEGV && r->code == SI_KERNEL)
        return "a general protection fault, not a page fault: bits 48-63 of a 64-bit address "
               "must all equal bit 47 (a canonical address); this one is not, so the CPU "
               "refuses it before any page table is consulted, and cannot say which address";
    if (strcmp(c->name, "kernel-read") == 0 || strcmp(c->name, "kernel-write") == 0)
        return "a page fault on a canonical kernel address: user mode may not touch the "
               "kernel half, and the kernel reports the address";
    if (strcmp(c->name, "stack-overflow") == 0)
        return "the stack reached RLIMIT_STACK and could not grow into the guard gap; the "
               "handler ran on an alternate signal stack (sigaltstack), since the normal one "
               "was full";
    if (strcmp(c->name, "null-read") == 0)
        return "nothing is mapped at 0: the lowest addresses of every process are kept unmapped "
               "(vm.mmap_min_addr, below) so that NULL pointers fault";
    return probe_code_meaning(r->signo, r->code);
}

/* The facts and the explanation of a case whose step has begun. */
static void report_case(struct narrator *n, const struct fault_case *c, const struct result *r,
                        int rc, int status)
{
    if (rc != 0) {
        narrate_fact(n, "child", "%s %d", WIFSIGNALED(status) ? "killed by signal" : "exit status",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        narrate_note(n, "The case could not report: its child process ended without a result.");
        narrate_end_step(n);
        return;
    }
    narrate_fact(n, "case", "%s", c->name);
    if (!r->ran) {
        narrate_fact(n, "signal", "not shown");
        narrate_note(n, "Not on this machine: %s.", r->why_not);
        narrate_end_step(n);
        return;
    }
    narrate_fact(n, "address", "0x%llx", (unsigned long long)r->target);
    narrate_fact(n, "signal", "%s", probe_signal_name(r->faulted ? r->signo : 0));
    if (r->faulted) {
        narrate_fact(n, "si_code", "%s", probe_code_name(r->signo, r->code));
        narrate_fact(n, "si_addr", "0x%llx", (unsigned long long)r->fault_addr);
    }
    if (strcmp(c->name, "good-fault") == 0)
        narrate_fact_int(n, "minor_faults", r->minflt);
    uint64_t min_addr;
    if (strcmp(c->name, "null-read") == 0 && procfs_read_vm_sysctl("mmap_min_addr", &min_addr) == PROCFS_OK)
        narrate_fact_int(n, "vm.mmap_min_addr", (int64_t)min_addr);
    if (strcmp(c->name, "stack-overflow") == 0) {
        narrate_fact_int(n, "stack_used_bytes", r->depth);
        narrate_fact_int(n, "RLIMIT_STACK_bytes", r->stack_limit);
    }
    narrate_note(n, "%s.", reason(c, r));
    if (strcmp(c->name, "good-fault") == 0 && !r->faulted)
        narrate_note(n, "The minor-fault counter moved by %+lld; no signal was sent.",
                     (long long)r->minflt);
    if (strcmp(c->name, "stack-overflow") == 0 && r->faulted)
        narrate_note(n, "It got %lld KiB deep of a %lld KiB limit.", (long long)(r->depth / 1024),
                     (long long)(r->stack_limit / 1024));
    if (strcmp(c->name, "noncanonical-read") == 0 && r->faulted)
        narrate_note(n, "The original exercise calls this address a kernel address; compare the "
                        "kernel-read case, a canonical kernel address: SEGV_MAPERR, with the "
                        "address in si_addr.");
    narrate_end_step(n);
}

static void print_table(struct narrator *n, const struct fault_case *const *list,
                        const struct result *results, size_t count)
{
    char table[8192];
    size_t used = (size_t)snprintf(table, sizeof table, "%-18s %-8s %-12s %-18s %s\n", "case",
                                   "signal", "si_code", "si_addr", "address");
    for (size_t i = 0; i < count && used < sizeof table; i++) {
        const struct result *r = &results[i];
        char addr[24] = "-", fault[24] = "-";
        if (r->ran) {
            snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)r->target);
            if (r->faulted)
                snprintf(fault, sizeof fault, "0x%llx", (unsigned long long)r->fault_addr);
        }
        used += (size_t)snprintf(table + used, sizeof table - used, "%-18s %-8s %-12s %-18s %s\n",
                                 list[i]->name,
                                 !r->ran ? "n/a" : probe_signal_name(r->faulted ? r->signo : 0),
                                 r->ran && r->faulted ? probe_code_name(r->signo, r->code) : "-",
                                 fault, addr);
    }
    narrate_intro(n, "Summary:\n%s", table);
}

static const struct fault_case *seed_case(const struct demo_info *i, const char *where,
                                          const char *how)
{
    bool user = strcmp(where, "u") == 0, kernel = strcmp(where, "k") == 0;
    bool rd = strcmp(how, "r") == 0, wr = strcmp(how, "w") == 0;
    char q1[64], q2[64];
    cli_quote(where, q1, sizeof q1);
    cli_quote(how, q2, sizeof q2);
    if (!user && !kernel)
        cli_usage_error(i, "'%s' is not u (user address) or k (kernel address)", q1);
    if (!rd && !wr)
        cli_usage_error(i, "'%s' is not r (read) or w (write)", q2);
    if (user)
        return find_case(rd ? "unmapped-read" : "unmapped-write");
    return find_case(rd ? "noncanonical-read" : "kernel-write");
}

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    (void)arg;
    *(bool *)ctx = true;
}

int main(int argc, char **argv)
{
    bool all = false;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &all);
    int npos = argc - first;
    const struct fault_case *list[NCASES];
    size_t count = 0;
    char quoted[64];

    if (npos > 2)
        cli_usage_error(&info, "too many arguments: give one case, or u|k and r|w");
    if (all && npos > 0)
        cli_usage_error(&info, "--all runs every case: give it no case");
    if (npos == 2) {
        list[count++] = seed_case(&info, argv[first], argv[first + 1]);
    } else if (npos == 1) {
        const struct fault_case *c = find_case(argv[first]);
        if (!c) {
            cli_quote(argv[first], quoted, sizeof quoted);
            cli_usage_error(&info, "'%s' is not a case (see --help for the list)", quoted);
        }
        list[count++] = c;
    } else {
        for (size_t i = 0; i < NCASES; i++)
            list[count++] = &cases[i];
    }

    leftovers_repair(info.name);
    struct narrator n;
    narrate_init(&n, info.name, &common, (int)count);
    narrate_intro(&n, "segv-pgfault (PID %ld): %zu case%s, each in a child process of its own.",
                  (long)getpid(), count, count == 1 ? "" : "s");
    struct result results[NCASES];
    int failures = 0;
    for (size_t i = 0; i < count; i++) {
        int status = 0;
        memset(&results[i], 0, sizeof results[i]);
        narrate_step(&n, list[i]->title, list[i]->code); /* with --step: pause, then run */
        int rc = worker_run(run_case, (void *)list[i], &results[i], sizeof results[i], &status);
        failures += rc != 0;
        report_case(&n, list[i], &results[i], rc, status);
    }
    if (count > 1)
        print_table(&n, list, results, count);
    if (failures)
        narrate_finish(&n, RESULT_FAIL, "%d case%s ended without a result", failures,
                       failures == 1 ? "" : "s");
    narrate_finish(&n, RESULT_OK, "%zu case%s; every signal and si_code above is what the kernel "
                                  "reported in this run", count, count == 1 ? "" : "s");
}
