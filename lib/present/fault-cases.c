/* SPDX-License-Identifier: MIT */
/* fault-cases: each case of a demo of bad accesses in a child of its own (see fault-cases.h). */
#define _GNU_SOURCE
#include "fault-cases.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker.h"

/* What the case's child needs, set before the fork. */
static struct {
    struct narrator *n;
    const struct fault_case *cases;
    void (*access)(void *which);
    void (*explain)(int which, const struct fault_outcome *o);
    struct fault_outcome o;
} run;

static void observe(void *ctx, bool after)
{
    struct rusage ru;
    (void)ctx;
    if (after)
        probe_disarm(); /* the window closes first: nothing after the lesson is caught */
    getrusage(RUSAGE_SELF, &ru);
    run.o.minflt[after] = ru.ru_minflt;
}

/* Runs in the case's own child (lib/safety/worker); sends back the first
 * sentence said without its finding, if any. */
static void run_case(void *arg, void *bug)
{
    int which = *(const int *)arg;
    struct narrator *n = run.n;
    /* A forked child maps the program's code page by page as it first runs
     * it: run the path after the lesson (the observer's too) once now, so that
     * a good fault's window counts the write's fault and no code fault of its own. */
    narrate_observe(n, observe, NULL);
    narrate_lesson_after(n);
    if (n->pause) /* the process to look at during the pause is this child, not the demo */
        narrate_live(n, "This case runs in PID %ld, a child: cat /proc/%ld/maps", (long)getpid(),
                     (long)getpid());
    /* Caught from the case's start: its setup makes no access that faults. */
    if (probe_call(run.access, arg, &run.o.r) != 0)
        _exit(100); /* sigaction failed: the parent reports a case without result */
    if (run.o.r.faulted)
        narrate_lesson_after(n); /* the LESSON's own "after" was jumped over */
    narrate_fact(n, "case", "%s", run.cases[which].name);
    run.explain(which, &run.o);
    narrate_end_step(n);
    snprintf(bug, sizeof n->bug, "%s", n->bug);
}

void fault_cases_run(struct narrator *n, const struct fault_case *cases, int from, int to,
                     void (*access)(void *which),
                     void (*explain)(int which, const struct fault_outcome *o))
{
    int failures = 0, count = to - from;
    run.n = n;
    run.cases = cases;
    run.access = access;
    run.explain = explain;
    narrate_intro(n, "%s (PID %ld): %d case%s, each in a child process of its own.", n->demo,
                  (long)getpid(), count, count == 1 ? "" : "s");
    for (int which = from; which < to; which++) {
        char id[32], bug[sizeof n->bug];
        int status = 0;
        snprintf(id, sizeof id, "%s", cases[which].name); /* the step's id: good_fault */
        for (char *dash = strchr(id, '-'); dash; dash = strchr(dash, '-'))
            *dash = '_';
        narrate_begin(n, id, cases[which].title);
        if (worker_run(run_case, &which, bug, sizeof bug, &status) != 0) {
            failures++;
            bool killed = WIFSIGNALED(status);
            narrate_fact(n, "child", "%s %d", killed ? "killed by signal" : "exit status",
                         killed ? WTERMSIG(status) : WEXITSTATUS(status));
            narrate_note(n, "The case's child process ended without sending a result.");
            narrate_end_step(n);
        } else if (bug[0] && !n->bug[0]) {
            snprintf(n->bug, sizeof n->bug, "%s", bug);
        }
    }
    if (failures)
        narrate_finish(n, RESULT_FAIL, "%d case%s ended without a result", failures,
                       failures == 1 ? "" : "s");
    narrate_finish(n, RESULT_OK, "%d case%s; every signal and si_code above is what the kernel "
                                 "reported in this run", count, count == 1 ? "" : "s");
}

bool fault_case_facts(struct narrator *n, uintptr_t address, const struct probe_result *r,
                      struct smaps_entry *e)
{
    bool mapped = smaps_read_entry(address, e) == PROCFS_OK;
    narrate_fact(n, "address", "0x%llx", (unsigned long long)address);
    narrate_fact(n, "mapping", "%s%s%s", mapped ? e->perms : "none",
                 mapped && e->name[0] ? " " : "", mapped ? e->name : "");
    narrate_fact(n, "signal", "%s", probe_signal_name(r->faulted ? r->signo : 0));
    if (r->faulted) {
        narrate_fact(n, "si_code", "%s", probe_code_name(r->signo, r->code));
        narrate_fact(n, "si_addr", "0x%llx", (unsigned long long)r->addr);
        if (r->pkey >= 0)
            narrate_fact_int(n, "si_pkey", r->pkey);
    }
    return mapped;
}

static void on_all(void *ctx, size_t index, const char *arg)
{
    (void)index, (void)arg; /* --all is the only option, a flag */
    *(bool *)ctx = true;
}

void fault_cases_parse(int argc, char **argv, const struct demo_info *info,
                       struct cli_common *common, const struct fault_case *cases, int ncases,
                       const struct fault_exercise *exercise, int *from, int *to)
{
    bool all = false;
    int first = cli_parse(argc, argv, info, common, on_all, &all), npos = argc - first;
    char **arg = argv + first, q[2][64];
    if (npos > 2)
        cli_usage_error(info, "too many arguments: give one case, or %s and r|w", exercise->letter);
    if (all && npos > 0)
        cli_usage_error(info, "--all runs every case: give it no case");
    *from = 0;
    *to = ncases;
    if (npos == 0)
        return;
    for (int i = 0; i < npos; i++)
        cli_quote(arg[i], q[i], sizeof q[i]);
    for (int i = 0; npos == 1 && i < ncases; i++)
        if (strcmp(cases[i].name, arg[0]) == 0) {
            *to = (*from = i) + 1;
            return;
        }
    if (npos == 1)
        cli_usage_error(info, "'%s' is not a case (see --help for the list)", q[0]);
    bool write = strcmp(arg[1], "w") == 0;
    if (strcmp(arg[0], exercise->letter) != 0)
        cli_usage_error(info, "'%s' is not %s (%s)", q[0], exercise->letter, exercise->meaning);
    if (!write && strcmp(arg[1], "r") != 0)
        cli_usage_error(info, "'%s' is not r (read) or w (write)", q[1]);
    *to = (*from = exercise->read + write) + 1; /* each read's write comes next */
}
