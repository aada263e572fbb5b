/* SPDX-License-Identifier: MIT */
/* overcommit: the rules by which the kernel grants or refuses a private
 * mapping (mm/util.c __vm_enough_memory, mm/vma.c, mm/mprotect.c), computed
 * from the figures grant_read took, for the demos that make such requests
 * (map-noreserve in this machine's mode, overcommit-modes in each mode).
 *
 * The options that ask for the sizes, the sizes explained and a refusal's
 * checks as findings: lib/present/overcommit-report.h. */
#ifndef VMLAB_OVERCOMMIT_H
#define VMLAB_OVERCOMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"

/* --size and --fit-size: the large request and the one that fits, in bytes
 * (0: not asked), by index in asked[]. */
enum { OVERCOMMIT_OPT_SIZE, OVERCOMMIT_OPT_FIT_SIZE, OVERCOMMIT_OPTIONS };

/* MemTotal + SwapTotal, kB: mode 0 refuses a single request larger. */
int64_t overcommit_ram_swap(const struct grant *g);

/* What mode 2 lets Committed_AS reach for a process of vm_size kB:
 * CommitLimit, less admin_reserve_kbytes (waived for CAP_SYS_ADMIN; counted
 * here, to be safe), less min(VmSize / 32, user_reserve_kbytes). */
int64_t overcommit_mode2_allows(const struct grant *g, int64_t vm_size);

/* Mode 0 compares a request with RAM + swap since Linux 5.2 (commit
 * 8c7829b04c52); before, with an estimate of free memory. */
bool overcommit_mode0_by_total(const struct grant *g);

/* The two sizes of the lesson, in bytes: `huge` (--size, else 1 TiB doubled while
 * under four times RAM + swap) and `fit` (--fit-size, else 1 GiB or a sixteenth of
 * what room, or mode 2, would still grant: three are held at once). why: what
 * chose fit. */
void overcommit_request_sizes(const struct grant *g, const struct budget *room, bool enters_mode2,
                              const uint64_t asked[OVERCOMMIT_OPTIONS], uint64_t *huge,
                              uint64_t *fit, char *why, size_t len);

#endif
