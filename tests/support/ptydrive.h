/* SPDX-License-Identifier: MIT */
/* pty: run a demo on a pseudo-terminal, as a person at a keyboard would, and
 * drive it by what it prints (its --step prompts), never by sleeps. */
#ifndef VMLAB_TEST_PTYDRIVE_H
#define VMLAB_TEST_PTYDRIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pty_child {
    pid_t pid;
    int fd;
    char screen[1 << 18]; /* the whole tour with --step: 128 KiB was full at 20 stops */
    size_t len;
    size_t mark;   /* searches start here; a match moves it past the match */
};

/* Starts argv[0] (a path) on a new terminal with NO_COLOR=1. */
int pty_start(struct pty_child *c, const char *const argv[]);
/* The same on a terminal of rows x cols (a projector's 24 x 80, say). */
int pty_start_sized(struct pty_child *c, const char *const argv[], unsigned short rows,
                    unsigned short cols);
/* The same, started by a shell that stays (sh -c 'ARGV; exec sleep 600'),
 * as from a shell at a terminal: argv's program is then not the terminal's
 * controlling process, whose death would hang the terminal up (SIGHUP to
 * every process on it) and so end its children for it. c->pid is the
 * shell's (observe_child_of finds the program); kill it when done. */
int pty_start_in_shell(struct pty_child *c, const char *const argv[]);
enum { PTY_WAIT_MS = 60000, PTY_FINISH_MS = 60000 };

/* Milliseconds on a clock that only moves forward: waits in tests are real time,
 * never a count of reads or polls (on a loaded machine those run out early). */
long long pty_now_ms(void);

/* Reads until text appears after the mark (true), or PTY_WAIT_MS pass (false). */
bool pty_wait_for(struct pty_child *c, const char *text);
bool pty_send(struct pty_child *c, const char *text);
/* Waits for the child, reading its terminal; returns its wait status (SIGKILL's
 * where it still ran after PTY_FINISH_MS). */
int pty_finish(struct pty_child *c);

#endif
