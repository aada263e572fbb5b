/* --step at a real terminal: run mmap-anon on a pseudo-terminal and check
 * that it waits before each step, shows how to watch it, and goes on only
 * when Enter is pressed. Driven by the prompts, not by sleeps. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "demo_test.h"
#include "ptydrive.h"
#include "suite.h"

static struct pty_child child;

START_TEST(step_pauses_until_enter)
{
    struct pty_child *c = &child;
    const char *argv[] = {demo_program("mmap-anon", RUN_AS_SELF), "--step", NULL};
    ck_assert_int_eq(pty_start(c, argv), 0);
    ck_assert_msg(pty_wait_for(c, "Press Enter for step 1/5"), "no first prompt: %s", c->screen);
    /* Waiting: no step has been printed yet, and the process is alive. */
    ck_assert_ptr_null(strstr(c->screen, "[1/5]"));
    ck_assert_int_eq(waitpid(c->pid, NULL, WNOHANG), 0);
    ck_assert(pty_send(c, "\n"));
    ck_assert_msg(pty_wait_for(c, "[1/5] Map private anonymous memory"), "%s", c->screen);
    ck_assert_msg(pty_wait_for(c, "/smaps"), "no watch command: %s", c->screen);
    size_t mark = c->mark;
    ck_assert_msg(pty_wait_for(c, "Press Enter for step 2/5"), "%s", c->screen);
    ck_assert_ptr_null(strstr(c->screen + mark, "[2/5]"));
    ck_assert(pty_send(c, "\n"));
    for (int step = 3; step <= 5; step++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Press Enter for step %d/5", step);
        ck_assert_msg(pty_wait_for(c, prompt), "%s", c->screen);
        ck_assert(pty_send(c, "\n"));
    }
    ck_assert_msg(pty_wait_for(c, "Done:"), "%s", c->screen);
    int status = pty_finish(c);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("step at a terminal");
    TCase *tc = tcase_create("pty");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, step_pauses_until_enter);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
