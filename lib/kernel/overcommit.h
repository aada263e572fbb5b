/* SPDX-License-Identifier: MIT */
/* overcommit: the rules by which the kernel grants or refuses a private
 * mapping (mm/util.c __vm_enough_memory, mm/vma.c, mm/mprotect.c), computed
 * from the figures grant_read took, for the demos that make such requests
 * (map-noreserve in this machine's mode, overcommit-modes in each mode). */
#ifndef VMLAB_OVERCOMMIT_H
#define VMLAB_OVERCOMMIT_H

#include "budget.h"
#include "cli.h"
#include "narrate.h"

/* --size and --fit-size: the large request and the one that fits, as both
 * demos take them; overcommit_option stores each in asked[index] (bytes). */
enum { OVERCOMMIT_OPT_SIZE, OVERCOMMIT_OPT_FIT_SIZE, OVERCOMMIT_OPTIONS };
extern const struct cli_option overcommit_options[OVERCOMMIT_OPTIONS];
void overcommit_option(const struct demo_info *info, size_t index, const char *arg,
                       uint64_t asked[OVERCOMMIT_OPTIONS]);

/* MemTotal + SwapTotal, kB: mode 0 refuses a single request larger. */
int64_t overcommit_ram_swap(const struct grant *g);

/* What mode 2 lets Committed_AS reach for a process of vm_size kB:
 * CommitLimit, less admin_reserve_kbytes (waived for CAP_SYS_ADMIN; counted
 * here, to be safe), less min(VmSize / 32, user_reserve_kbytes). */
int64_t overcommit_mode2_allows(const struct grant *g, int64_t vm_size);

/* Mode 0 compares a request with RAM + swap since Linux 5.2 (commit
 * 8c7829b04c52); before, with an estimate of free memory. */
bool overcommit_mode0_by_total(const struct grant *g);

/* The two sizes of the lesson, in bytes: `huge` is --size, else 1 TiB,
 * doubled while under four times RAM + swap (at most 64 TiB); `fit` is
 * --fit-size, else 1 GiB, or a sixteenth of the least this process may use
 * (room, from budget_read) or, in mode 2 or where the demo will enter it
 * (enters_mode2), of what mode 2 would still grant: map-noreserve holds
 * three such mappings at once and leaves nearly all to others. why: what
 * chose fit. */
void overcommit_request_sizes(const struct grant *g, const struct budget *room, bool enters_mode2,
                              const uint64_t asked[OVERCOMMIT_OPTIONS], uint64_t *huge,
                              uint64_t *fit, char *why, size_t len);

/* Reads the budget, chooses the sizes as above and explains them: the facts
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
