/* --step at a real terminal: run mmap-anon on a pseudo-terminal and check
 * that it waits before each step, shows how to watch it, and goes on only
 * when Enter is pressed. Driven by the prompts, not by sleeps. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"

static char program[PATH_MAX];
static char screen[1 << 16];
static size_t screen_len;

/* Reads from the terminal until `want` appears after `from`, or 10 s pass. */
static const char *wait_for(int fd, size_t from, const char *want)
{
    for (int rounds = 0; rounds < 100; rounds++) {
        const char *hit = memmem(screen + from, screen_len - from, want, strlen(want));
        if (hit)
            return hit;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, screen + screen_len, sizeof screen - 1 - screen_len);
        if (n <= 0)
            return NULL;
        screen_len += (size_t)n;
        screen[screen_len] = '\0';
    }
    return NULL;
}

START_TEST(step_pauses_until_enter)
{
    int fd;
    pid_t pid = forkpty(&fd, NULL, NULL, NULL);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("NO_COLOR", "1", 1);
        execl(program, "mmap-anon", "--step", (char *)NULL);
        _exit(127);
    }
    screen_len = 0;
    ck_assert_msg(wait_for(fd, 0, "Press Enter for step 1/5") != NULL, "no first prompt: %s", screen);
    /* Waiting: no step has been printed yet. */
    ck_assert_ptr_null(strstr(screen, "[1/5]"));
    ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
    ck_assert_int_eq(write(fd, "\n", 1), 1);
    ck_assert_msg(wait_for(fd, 0, "[1/5] Map private anonymous memory") != NULL, "%s", screen);
    size_t mark = screen_len;
    ck_assert_msg(wait_for(fd, 0, "/smaps") != NULL, "no watch command: %s", screen);
    ck_assert_msg(wait_for(fd, 0, "Press Enter for step 2/5") != NULL, "%s", screen);
    ck_assert_ptr_null(strstr(screen + mark, "[2/5]"));
    for (int step = 2; step <= 5; step++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Press Enter for step %d/5", step);
        ck_assert_msg(wait_for(fd, 0, prompt) != NULL, "%s", screen);
        ck_assert_int_eq(write(fd, "\n", 1), 1);
    }
    ck_assert_msg(wait_for(fd, 0, "Done:") != NULL, "%s", screen);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
}
END_TEST

int main(void)
{
    snprintf(program, sizeof program, "%s/mmap-anon", demo_dir());
    Suite *s = suite_create("step at a terminal");
    TCase *tc = tcase_create("pty");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, step_pauses_until_enter);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
