/* grant: how much memory this machine can give a demo, and why that much.
 *
 * A demo that maps memory to show a charge must ask for an amount the
 * machine can grant on every lab machine: a 640 MiB VM in overcommit mode 2,
 * a shell under `ulimit -v`, a container. This picks the size and names the
 * limit that chose it, so that the demo can say so. */
#ifndef VMLAB_GRANT_H
#define VMLAB_GRANT_H

#include <stddef.h>
#include <stdint.h>

/* The size in bytes (whole 2 MiB) of each of `count` private writable
 * anonymous mappings, never touched beyond a page: want_kB, or less - half
 * of CommitLimit - Committed_AS in overcommit mode 2, half of MemTotal +
 * SwapTotal in mode 0 (its heuristic refuses one request above that), a
 * share of RLIMIT_AS - VmSize (count + 1 mappings' worth) and of
 * RLIMIT_DATA - VmData (count). why gets one sentence naming what chose the
 * size. Returns -1 when under 8 MiB is left (why then also says how to
 * enable more), 0 otherwise. */
int grant_charge_size(int64_t want_kb, int count, size_t *size, char *why, size_t len);

#endif
