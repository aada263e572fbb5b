/* SPDX-License-Identifier: MIT */
/* commit: a move of Committed_AS, said exactly.
 *
 * Committed_AS counts the whole machine: between the readings just before
 * and just after a call, other processes move it too. So a demo never says
 * "about the mapping's size": it records the exact move against the charge
 * the call makes, as one of two findings -
 *   <exact_id>               the move was the charge, to the kB;
 *   commit_moved_by_others   it was not; values commit_delta_kB, charge_kB,
 *                            others_kB (the difference)
 * - and says the held one, ending with `why` (why the charge is what it is). */
#ifndef VMLAB_COMMIT_H
#define VMLAB_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "narrate.h"

void commit_explain(struct narrator *n, int64_t moved_kB, int64_t charge_kB, const char *exact_id,
                    const char *why);

/* Every figure grant_read took that bounds a commit charge, as facts (overcommit_memory,
 * commit_limit_kB, rlimit_as_kB...; a limit that is not set is left out), each named with where
 * it was read: "commit_limit_kB: 12341884 (/proc/meminfo CommitLimit)". */
void commit_grant_facts(struct narrator *n, const struct grant *g);

/* fork's charge (fact child_accounted_kB): every private writable mapping the child got. */
void commit_explain_fork(struct narrator *n, int64_t moved_kB, int64_t child_accounted_kB);

/* What a fork lesson maps: 32 MiB, less (whole pages, 4 MiB at least) where this
 * process may not use it twice, as fork charges it again; else the run ends (77). */
size_t commit_fork_size(struct narrator *n, size_t page);

#endif
