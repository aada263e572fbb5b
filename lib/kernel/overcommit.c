/* SPDX-License-Identifier: MIT */
/* overcommit: the kernel's rules for a private mapping, from grant_read's figures. */
#define _GNU_SOURCE
#include "overcommit.h"

#include <unistd.h>

int64_t overcommit_ram_swap(const struct grant *g)
{
    return g->mem_total + (g->swap_total > 0 ? g->swap_total : 0);
}

int64_t overcommit_mode2_allows(const struct grant *g, int64_t vm_size)
{
    int64_t user = vm_size / 32 < g->user_reserve_kbytes ? vm_size / 32 : g->user_reserve_kbytes;
    return g->commit_limit - (g->admin_reserve_kbytes > 0 ? g->admin_reserve_kbytes : 0) -
           (user > 0 ? user : 0);
}

bool overcommit_mode0_by_total(const struct grant *g)
{
    return g->kernel_major > 5 || (g->kernel_major == 5 && g->kernel_minor >= 2);
}

void overcommit_request_sizes(const struct grant *g, const struct budget *room, bool enters_mode2,
                              const uint64_t asked[OVERCOMMIT_OPTIONS], uint64_t *huge,
                              uint64_t *fit, char *why, size_t len)
{
    uint64_t size_opt = asked[OVERCOMMIT_OPT_SIZE], fit_opt = asked[OVERCOMMIT_OPT_FIT_SIZE];
    uint64_t ram_swap_kB = (uint64_t)overcommit_ram_swap(g);
    for (*huge = size_opt ? size_opt : 1ull << 40;
         !size_opt && *huge / 1024 < 4 * ram_swap_kB && *huge < (1ull << 46);)
        *huge *= 2;
    struct budget least = *room;
    int64_t mode2_room = overcommit_mode2_allows(g, g->vm_size) - g->committed_as;
    uint64_t mode2_bytes = mode2_room > 0 ? (uint64_t)mode2_room * 1024 : 0;
    /* Only where it binds: CommitLimit - Committed_AS read earlier (mode 2)
     * may bind already, and keeps its own detail then. */
    if (((enters_mode2 && mode2_room > 0) || g->overcommit_memory == 2) &&
        mode2_bytes < least.bytes)
        budget_consider(&least, BUDGET_COMMIT_LIMIT, mode2_bytes,
                        "in mode 2, less its reserves and Committed_AS");
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    budget_choose_size(&least, fit_opt, 1ull << 30, page, 1, 16, fit, why, len);
    if (*fit < page)
        *fit = page;
    if (fit_opt || !why[0])
        snprintf(why, len, "%s", fit_opt ? "as asked with --fit-size" : "at most 1 GiB");
}
