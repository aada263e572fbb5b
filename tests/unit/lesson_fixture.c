/* SPDX-License-Identifier: MIT */
/* A two-step lesson-first program for the tests of narrate's LESSON,
 * findings and the pty stepper: map four pages, write one. With "bug" as
 * its argument, step 2 explains from a finding that did not hold. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "narrate.h"
#include "procfs.h"

struct fixture {
    struct narrator n;
    char *p;
    int64_t rss[2];
};

static void observe(void *ctx, bool after)
{
    struct fixture *f = ctx;
    struct smaps_entry e;
    uint64_t rss = 0;
    if (f->p && smaps_read_entry((uintptr_t)f->p, &e) == PROCFS_OK)
        (void)smaps_get(&e, "Rss", &rss);
    f->rss[after] = (int64_t)rss;
}

LESSON_FN static void step_map(struct fixture *f, size_t len)
{
    narrate_begin(&f->n, "map", "Map four pages");
    char *p;
    LESSON(&f->n, p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           madvise(p, len, MADV_NOHUGEPAGE););
    f->p = p;
    char maps[128];
    snprintf(maps, sizeof maps, "%lx-%lx", (unsigned long)p, (unsigned long)(p + len));
    narrate_fact(&f->n, "maps", "%s", maps);
    narrate_end_step(&f->n);
}

LESSON_FN static void step_write(struct fixture *f, bool bug)
{
    char *p = f->p;
    narrate_begin(&f->n, "write", "Write one byte");
    narrate_ask(&f->n, "How much does Rss grow?",
                (const char *const[]){"not at all", "one page", "four pages", NULL});
    LESSON(&f->n, p[0] = 'a';);
    int64_t delta = f->rss[1] - f->rss[0];
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    bool one = FINDING(&f->n, "one_page", delta == page_kb, VAL("rss_delta_kB", delta));
    if (one)
        narrate_because(&f->n, "one_page", "Rss grew by one page.");
    narrate_answer(&f->n, one ? 1 : delta == 0 ? 0 : delta == 4 * page_kb ? 2 : -1, "one_page");
    FINDING(&f->n, "no_growth", delta == 0, VAL("rss_delta_kB", delta));
    if (bug)
        narrate_because(&f->n, "no_growth", "Rss did not grow.");
    narrate_end_step(&f->n);
}

int main(int argc, char **argv)
{
    struct cli_common common = {.step = false, .json = false, .color = COLOR_NEVER};
    bool bug = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            common.json = true;
        else if (strcmp(argv[i], "--step") == 0)
            common.step = true;
        else if (strcmp(argv[i], "bug") == 0)
            bug = true;
        else if (strcmp(argv[i], "--predict") == 0)
            common.predict = true;
        else if (strcmp(argv[i], "--answers") == 0 && i + 1 < argc) {
            common.predict = true;
            snprintf(common.answers, sizeof common.answers, "%s", argv[++i]);
        }
    }
    static struct fixture f;
    narrate_init(&f.n, "lesson-fixture", &common, 2);
    narrate_observe(&f.n, observe, &f);
    step_map(&f, (size_t)sysconf(_SC_PAGESIZE) * 4);
    step_write(&f, bug);
    narrate_finish(&f.n, RESULT_OK, "done");
}
