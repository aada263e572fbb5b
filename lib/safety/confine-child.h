/* SPDX-License-Identifier: MIT */
/* confine-child: run part of a lesson in a child process inside the memory
 * cgroup lib/safety/confine made, so that the pressure it creates falls on that
 * cgroup alone. The child joins the cgroup first; a signal to this process
 * kills it before the cgroup is removed (confine_track_child). */
#ifndef VMLAB_CONFINE_CHILD_H
#define VMLAB_CONFINE_CHILD_H

#include "confine.h"

/* Forks; the child joins c (V1 or V2) and exits with run(ctx)'s value
 * (stdio flushed; no atexit handlers). Waits for it and returns its wait
 * status, or -1 with errno when it could not be started. */
int confine_run_child(const struct confine *c, int (*run)(void *ctx), void *ctx);

#endif
