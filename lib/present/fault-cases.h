/* SPDX-License-Identifier: MIT */
/* fault-cases: how a demo of bad accesses (segv-pgfault, kernel-address) runs
 * its cases. Each case is a step run in a child process of its own
 * (lib/safety/worker), its access caught by lib/kernel/probe, so that the
 * demo goes on whatever the access did. The access itself (the LESSON) and
 * what it shows stay in the demo: it gives its access and explanation. */
#ifndef VMLAB_FAULT_CASES_H
#define VMLAB_FAULT_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "cli.h"
#include "narrate.h"
#include "probe.h"
#include "procfs.h"

struct fault_case {
    const char *name, *title; /* "null-read": the step's id is the name with '_' for '-' */
    uint64_t addr;            /* the address the access names, when it is a constant */
    bool write;               /* the access writes (else it reads) */
};

/* What a case's child saw of its access. */
struct fault_outcome {
    struct probe_result r; /* the signal, where it faulted */
    int64_t minflt[2];     /* the child's minor faults just before and after the access */
};

/* Runs cases[from] to cases[to - 1], each a step in a child of its own: there
 * access(&which) under the probe (the case's LESSON is in it), then the fact
 * "case" and explain(which, &outcome). Then ends the run: status 1 where a
 * child ended without a result. */
noreturn void fault_cases_run(struct narrator *n, const struct fault_case *cases, int from, int to,
                              void (*access)(void *which),
                              void (*explain)(int which, const struct fault_outcome *o));

/* The facts every case shows: the address, the mapping that covers it (into
 * *e; false: none), the signal and, for a fault, si_code, si_addr, si_pkey. */
bool fault_case_facts(struct narrator *n, uintptr_t address, const struct probe_result *r,
                      struct smaps_entry *e);

/* The original exercise's form: `letter` (u, a user address; k, a kernel
 * one) and r|w, which name cases[read] and the write after it. */
struct fault_exercise {
    const char *letter, *meaning;
    int read;
};

/* The command line (cli_parse, with info's one option --all) and the cases it
 * names, as [*from, *to): every case (none given, or --all), one by name, or
 * the exercise's two letters. Anything else is a usage error (exit 2). */
void fault_cases_parse(int argc, char **argv, const struct demo_info *info,
                       struct cli_common *common, const struct fault_case *cases, int ncases,
                       const struct fault_exercise *exercise, int *from, int *to);

#endif
