/* SPDX-License-Identifier: MIT */
/* leftovers: repair what an earlier, killed run left behind. */
#include "leftovers.h"

#include <stdio.h>
#include <unistd.h>

#include "confine.h"
#include "sysctl.h"

void leftovers_repair(const char *demo)
{
    char report[1024];
    if (geteuid() != 0)
        return; /* only root can have changed anything */
    sysctl_repair_leftovers(demo, report, sizeof report);
    if (report[0])
        fprintf(stderr, "%s: %s\n", demo, report);
    confine_sweep_leftovers(report, sizeof report);
    if (report[0])
        fprintf(stderr, "%s: %s\n", demo, report);
}
