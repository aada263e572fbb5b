/* SPDX-License-Identifier: MIT */
/* overcommit-report: the overcommit demos' options, their two sizes explained,
 * and a refused request's checks as findings, from the kernel's rules in
 * lib/kernel/overcommit.h (map-noreserve, overcommit-modes). */
#ifndef VMLAB_OVERCOMMIT_REPORT_H
#define VMLAB_OVERCOMMIT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "cli.h"
#include "narrate.h"
#include "overcommit.h"

/* --size and --fit-size, as both demos take them; overcommit_option stores
 * each in asked[index] (bytes). */
extern const struct cli_option overcommit_options[OVERCOMMIT_OPTIONS];
void overcommit_option(const struct demo_info *info, size_t index, const char *arg,
                       uint64_t asked[OVERCOMMIT_OPTIONS]);

/* Reads the budget, chooses the sizes (overcommit_request_sizes) and explains them: the facts
 * huge_kB, fit_kB, fit_chosen_as and the finding sizes_chosen, the same in
 * both demos. */
void overcommit_explain_sizes(struct narrator *n, const struct grant *g, bool enters_mode2,
                              const uint64_t asked[OVERCOMMIT_OPTIONS], uint64_t *huge,
                              uint64_t *fit);

/* One request, as the kernel's checks see it (kB). */
struct overcommit_ask {
    int64_t size;
    int64_t mode_before, mode_after;     /* overcommit_memory just before and after */
    int64_t committed, vm_size, vm_data; /* Committed_AS, VmSize, VmData just before */
    bool new_space;  /* mmap adds address space (RLIMIT_AS); mprotect does not */
    bool writable;   /* private and writable: RLIMIT_DATA and the commit charge */
    bool noreserve;
};

/* The checks that may explain a refusal, in the order the kernel makes them. */
enum overcommit_check {
    OVERCOMMIT_RLIMIT_AS,
    OVERCOMMIT_RLIMIT_DATA,
    OVERCOMMIT_MODE_CHANGED,   /* another program switched the mode meanwhile: no rule tells */
    OVERCOMMIT_RAM_SWAP,       /* mode 0, a single request larger than RAM + swap */
    OVERCOMMIT_FREE_ESTIMATE,  /* mode 0 before Linux 5.2 */
    OVERCOMMIT_COMMIT_LIMIT,   /* mode 2 */
    OVERCOMMIT_UNEXPLAINED,
    OVERCOMMIT_CHECKS,
};

struct overcommit_test {
    enum overcommit_check which;
    const char *name;               /* the finding's id after the request's: "refused_rlimit_as" */
    bool held;                      /* the numbers say this check refused it */
    struct finding_value values[4]; /* what the finding rests on, ending {NULL, 0} */
};

/* True, with the finding in t, where overcommit_memory changed while the
 * request ran (another program wrote it): no one mode's rule then tells. */
bool overcommit_mode_changed(const struct overcommit_ask *a, struct overcommit_test *t);

/* The checks that apply to a refused request, in order, up to the first that
 * held (the last one always holds: refused_unexplained where no other does).
 * Returns how many; the demo records each as a finding and explains the last. */
size_t overcommit_refusal(const struct grant *g, const struct overcommit_ask *a,
                          struct overcommit_test out[OVERCOMMIT_CHECKS]);

#endif
