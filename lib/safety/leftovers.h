/* SPDX-License-Identifier: MIT */
/* leftovers: what a vmlab run killed with SIGKILL could not undo.
 *
 * Every program calls leftovers_repair() first. It puts back the
 * /proc/sys/vm values a killed run recorded in its undo record (lib/safety/sysctl:
 * only what the record's strict rules allow, and only while a value still
 * holds what that run set) and removes empty cgroups of runs that have
 * ended (lib/safety/confine: named after the run's PID namespace, PID and start
 * time, so that a live run elsewhere is never taken for a dead one), and
 * says on stderr what it repaired, refused or left alone. Without root
 * there is nothing it could repair, and it is silent. */
#ifndef VMLAB_LEFTOVERS_H
#define VMLAB_LEFTOVERS_H

void leftovers_repair(const char *demo);

#endif
