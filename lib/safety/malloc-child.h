/* SPDX-License-Identifier: MIT */
/* malloc-child: the other allocator's side of malloc-brk and malloc-free, in
 * a child of its own (lib/kernel/malloc-side.h measures each side).
 *
 * The child is spawned from /proc/self/exe with this environment plus
 * NAME=FD,ARG (where to answer, and the demo's own argument) and
 * LD_PRELOAD=LIBRARY (an LD_PRELOAD of ours left out; ours is unchanged).
 * They talk over a SOCK_SEQPACKET pair: the child sends its side once before
 * its first step, then after each step whose index the parent sends. It dies
 * with its parent (PR_SET_PDEATHSIG); the parent kills and reaps it on every
 * way out, Ctrl-C included (lib/safety/undo). One child per process. */
#ifndef VMLAB_MALLOC_CHILD_H
#define VMLAB_MALLOC_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#include "malloc-side.h"

/* --allocator ARG: "jemalloc" or "mimalloc" (next to the C library, under /usr;
 * VMLAB_ALLOCATOR_DIR overrides), or a path to an ELF shared object: its real path
 * and name. EXIT_CANNOT when a known one is not installed (why: the apt line),
 * EXIT_USAGE when the file is missing or no shared library. */
int malloc_side_find_library(const char *arg, char *path, size_t path_size, char *name,
                             size_t name_size, char *why, size_t why_size);

/* Parent: starts the child. 0, or an errno with *failed naming the call. */
int malloc_side_child_start(const char *env_name, const char *arg, const char *library,
                            const char **failed);

/* Parent: the child's pid; -1 before it starts and once it is reaped. */
pid_t malloc_side_child_pid(void);

/* Parent: sends step (none when < 0) and receives the child's side; false: gone. */
bool malloc_side_child_ask(int step, struct malloc_side *side);

/* Parent: closes the socket and reaps the child: its wait status, or -1. */
int malloc_side_child_end(void);

/* Child: the ARG after "FD," in NAME's value, or NULL when it is not one. */
const char *malloc_side_child_arg(const char *value);

/* Child: sends *side, then step(i) and *side again for each index the parent
 * sends; exits when the parent closes the socket or dies. */
noreturn void malloc_side_child_serve(const char *value, const struct malloc_side *side,
                                      int nsteps, void (*step)(int i));

#endif
