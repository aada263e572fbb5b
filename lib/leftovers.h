/* leftovers: what a vmlab run killed with SIGKILL could not undo.
 *
 * Every demo calls leftovers_repair() first. It puts back the /proc/sys/vm
 * values recorded in /run/vmlab/saved-state (lib/sysctl) and removes empty
 * vmlab-PID cgroups whose run is gone (lib/confine), and says on stderr what
 * it repaired. Without root there is nothing it could repair, and it is
 * silent. */
#ifndef VMLAB_LEFTOVERS_H
#define VMLAB_LEFTOVERS_H

void leftovers_repair(const char *demo);

#endif
