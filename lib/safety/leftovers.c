/* SPDX-License-Identifier: MIT */
/* leftovers: repair what an earlier, killed run left behind. */
#include "leftovers.h"

#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "confine.h"
#include "sysctl.h"

void leftovers_repair(const char *demo)
{
    char report[1024];
    if (geteuid() != 0)
        return; /* only root can have changed anything, and read the record (root's, 0700):
                 * a run as another user cannot even see that one is there */
    sysctl_repair_leftovers(demo, report, sizeof report);
    if (report[0])
        cli_notice(demo, "%s", report);
    confine_sweep_leftovers(report, sizeof report);
    if (report[0])
        cli_notice(demo, "%s", report);
}
