/* SPDX-License-Identifier: MIT */
/* --step at a real terminal: run mmap-anon on a pseudo-terminal and check
 * that each step shows its title and code first, then waits ("Press Enter
 * to run step N/M") with the code not yet run, shows how to watch it, and
 * goes on only when Enter is pressed. Driven by the prompts, not by sleeps;
 * "not yet run" is read from the process itself (its smaps), not from its
 * output. */
#define _GNU_SOURCE
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "observe.h"
#include "ptydrive.h"
#include "suite.h"

static struct pty_child child;

/* The start of the first "maps: 7f..-7f.." line after the mark, or 0. */
static uintptr_t maps_after(const struct pty_child *c, size_t from)
{
    const char *m = strstr(c->screen + from, "maps: ");
    unsigned long long start;
    return m && sscanf(m + 6, "%llx-", &start) == 1 ? (uintptr_t)start : 0;
}

/* The command the demo printed to watch its mapping from a second terminal, run
 * once without `watch` while the demo waits: it must find the mapping in smaps
 * (its header line, and fields under it). */
static void watch_command_finds(const struct pty_child *c, const char *header)
{
    const char *cmd = strstr(c->screen, "watch -n 1 \"");
    ck_assert_msg(cmd != NULL, "no watch command: %s", c->screen);
    cmd += strlen("watch -n 1 \"");
    const char *end = strchr(cmd, '"');
    ck_assert_ptr_nonnull(end);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)(end - cmd), cmd);
    FILE *p = popen(line, "r");
    ck_assert_ptr_nonnull(p);
    char out[8192];
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    ck_assert_msg(pclose(p) == 0, "'%s' found nothing", line);
    ck_assert_msg(strstr(out, header) && strstr(out, "\nRss:"), "'%s' gave: %s", line, out);
}

START_TEST(step_pauses_until_enter)
{
    struct pty_child *c = &child;
    const char *argv[] = {demo_program("mmap-anon", RUN_AS_SELF), "--step", "--size", "64K", NULL};
    ck_assert_int_eq(pty_start(c, argv), 0);

    /* Step 1: title, then its code, then the prompt - and nothing has run. */
    ck_assert_msg(pty_wait_for(c, "[1/7] Reserve address space"), "%s", c->screen);
    ck_assert_msg(pty_wait_for(c, "guard = mmap(NULL, span, PROT_NONE"), "%s", c->screen);
    ck_assert_msg(pty_wait_for(c, "Press Enter to run step 1/7"), "no first prompt: %s", c->screen);
    ck_assert_ptr_null(strstr(c->screen, "maps: ")); /* no measurement printed yet */
    ck_assert_int_eq(waitpid(c->pid, NULL, WNOHANG), 0);

    ck_assert(pty_send(c, "\n"));
    size_t mark = c->mark;
    ck_assert_msg(pty_wait_for(c, "[2/7] Map private anonymous memory"), "%s", c->screen);
    ck_assert_msg(pty_wait_for(c, "MAP_FIXED"), "%s", c->screen);
    ck_assert_msg(pty_wait_for(c, "Press Enter to run step 2/7"), "%s", c->screen);
    /* The reservation exists, PROT_NONE; the read-write mapping does not yet. */
    uintptr_t guard = maps_after(c, mark);
    ck_assert(guard != 0);
    char flags[256];
    uintptr_t where = guard + (uintptr_t)sysconf(_SC_PAGESIZE); /* where p goes */
    ck_assert(observe_vmflags(c->pid, where, flags, sizeof flags));
    ck_assert_msg(strstr(flags, "rd") == NULL, "step 2 ran before Enter: %s", flags);

    ck_assert(pty_send(c, "\n"));
    ck_assert_msg(pty_wait_for(c, "/smaps"), "no watch command: %s", c->screen);
    ck_assert_msg(pty_wait_for(c, "Press Enter to run step 3/7"), "%s", c->screen);
    watch_command_finds(c, " rw-p ");
    ck_assert(pty_send(c, "\n"));
    for (int step = 4; step <= 7; step++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Press Enter to run step %d/7", step);
        ck_assert_msg(pty_wait_for(c, prompt), "%s", c->screen);
        ck_assert(pty_send(c, "\n"));
    }
    ck_assert_msg(pty_wait_for(c, "Done:"), "%s", c->screen);
    int status = pty_finish(c);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/* stack-growth watches [stack], whose start moves as it grows: its command finds
 * the mapping by name, at the first pause after it was announced and after the
 * stack grew (not by an address on the stack, which is no mapping's start). */
START_TEST(stack_watch_finds_the_stack)
{
    struct pty_child *c = &child;
    const char *argv[] = {demo_program("stack-growth", RUN_AS_SELF), "--step", NULL};
    ck_assert_int_eq(pty_start(c, argv), 0);
    ck_assert_msg(pty_wait_for(c, "Press Enter to run step 1/"), "%s", c->screen);
    ck_assert(pty_send(c, "\n"));
    ck_assert_msg(pty_wait_for(c, "/smaps"), "no watch command: %s", c->screen);
    ck_assert_msg(pty_wait_for(c, "Press Enter to run step 2/"), "%s", c->screen);
    watch_command_finds(c, "[stack]");
    ck_assert(pty_send(c, "\n"));
    ck_assert_msg(pty_wait_for(c, "Press Enter to run step 3/"), "%s", c->screen);
    watch_command_finds(c, "[stack]");
    kill(c->pid, SIGTERM);
    pty_finish(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("step at a terminal");
    TCase *tc = tcase_create("pty");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, step_pauses_until_enter);
    tcase_add_test(tc, stack_watch_finds_the_stack);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
