/* SPDX-License-Identifier: MIT */
/* overcommit-report: see overcommit-report.h. */
#include "overcommit-report.h"

#include <string.h>

const struct cli_option overcommit_options[OVERCOMMIT_OPTIONS] = {
    [OVERCOMMIT_OPT_SIZE] = {"size", "SIZE", "the request larger than RAM + swap (default: 1T, "
                             "or more where RAM + swap is over 256G; 1G to 64T)"},
    [OVERCOMMIT_OPT_FIT_SIZE] = {"fit-size", "SIZE", "the request that fits (default: chosen "
                                 "from what this machine can grant; 4K to 4G)"},
};

void overcommit_option(const struct demo_info *info, size_t index, const char *arg,
                       uint64_t asked[OVERCOMMIT_OPTIONS])
{
    if (index == OVERCOMMIT_OPT_SIZE)
        asked[index] = cli_size_arg(info, "--size", arg, 1ull << 30, 64ull << 40);
    else
        asked[index] = cli_size_arg(info, "--fit-size", arg, 4096, 4ull << 30);
}

void overcommit_explain_sizes(struct narrator *n, const struct grant *g, bool enters_mode2,
                              const uint64_t asked[OVERCOMMIT_OPTIONS], uint64_t *huge,
                              uint64_t *fit)
{
    struct budget room;
    budget_read(&room);
    char why_fit[300], huge_s[32], fit_s[32];
    overcommit_request_sizes(g, &room, enters_mode2, asked, huge, fit, why_fit, sizeof why_fit);
    format_size(*huge, huge_s, sizeof huge_s);
    format_size(*fit, fit_s, sizeof fit_s);
    narrate_fact_int(n, "huge_kB", (int64_t)(*huge / 1024));
    narrate_fact_int(n, "fit_kB", (int64_t)(*fit / 1024));
    narrate_fact(n, "fit_chosen_as", "%s", why_fit);
    int64_t ram_swap = overcommit_ram_swap(g);
    CONCLUDE(n, "sizes_chosen", true,
             VALUES(VAL("huge_kB", *huge / 1024), VAL("fit_kB", *fit / 1024),
                    VAL("ram_swap_kB", ram_swap)),
             "The large request is %s, %s RAM + swap (%lld kB)%s; the one that fits, %s "
             "(fit_chosen_as says why).", huge_s,
             *huge / 1024 > (uint64_t)ram_swap ? "more than" : "not more than",
             (long long)ram_swap, asked[OVERCOMMIT_OPT_SIZE] ? ", as asked with --size" : "",
             fit_s);
}

/* One check more: whether it applies, and what it rests on. */
static bool test(struct overcommit_test *t, enum overcommit_check which, const char *name,
                 bool held, const struct finding_value *values)
{
    t->which = which;
    t->name = name;
    t->held = held;
    memset(t->values, 0, sizeof t->values);
    for (size_t i = 0; values[i].key && i + 1 < sizeof t->values / sizeof t->values[0]; i++)
        t->values[i] = values[i];
    return held;
}

bool overcommit_mode_changed(const struct overcommit_ask *a, struct overcommit_test *t)
{
    return a->mode_before != a->mode_after &&
           test(t, OVERCOMMIT_MODE_CHANGED, "mode_changed", true,
                VALUES(VAL("mode_before", a->mode_before), VAL("mode_after", a->mode_after)));
}

size_t overcommit_refusal(const struct grant *g, const struct overcommit_ask *a,
                          struct overcommit_test out[OVERCOMMIT_CHECKS])
{
    size_t k = 0;
    int64_t len = a->size, mode = a->mode_before, room = overcommit_ram_swap(g);
    int64_t allowed = overcommit_mode2_allows(g, a->vm_size);
    bool mode0_request = mode == 0 && a->writable && !a->noreserve;
    if (a->new_space && g->rlimit_as >= 0 &&
        test(&out[k++], OVERCOMMIT_RLIMIT_AS, "refused_rlimit_as", a->vm_size + len > g->rlimit_as,
             VALUES(VAL("vm_size_kB", a->vm_size), VAL("size_kB", len),
                    VAL("rlimit_as_kB", g->rlimit_as))))
        return k;
    if (a->writable && g->rlimit_data >= 0 &&
        test(&out[k++], OVERCOMMIT_RLIMIT_DATA, "refused_rlimit_data",
             a->vm_data + len > g->rlimit_data,
             VALUES(VAL("vm_data_kB", a->vm_data), VAL("size_kB", len),
                    VAL("rlimit_data_kB", g->rlimit_data))))
        return k;
    if (overcommit_mode_changed(a, &out[k]))
        return k + 1;
    if (mode0_request &&
        test(&out[k++], OVERCOMMIT_RAM_SWAP, "refused_larger_than_ram_swap", len > room,
             VALUES(VAL("size_kB", len), VAL("ram_swap_kB", room))))
        return k;
    if (mode0_request && !overcommit_mode0_by_total(g) &&
        test(&out[k++], OVERCOMMIT_FREE_ESTIMATE, "refused_free_estimate", true,
             VALUES(VAL("size_kB", len), VAL("ram_swap_kB", room))))
        return k;
    if (mode == 2 && a->writable &&
        test(&out[k++], OVERCOMMIT_COMMIT_LIMIT, "refused_over_commit_limit",
             a->committed + len >= allowed,
             VALUES(VAL("committed_kB", a->committed), VAL("size_kB", len),
                    VAL("allowed_kB", allowed))))
        return k;
    test(&out[k++], OVERCOMMIT_UNEXPLAINED, "refused_unexplained", true,
         VALUES(VAL("overcommit_memory", mode), VAL("size_kB", len)));
    return k;
}
