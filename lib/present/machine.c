/* SPDX-License-Identifier: MIT */
/* machine: what this machine is, read once for the JSON contract. */
#define _GNU_SOURCE
#include "machine.h"

#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "narrate.h"
#include "procfs.h"
#include "thp.h"

/* Which hierarchy has the memory controller: "v2" (cgroup2 lists it), "v1"
 * (a v1 memory hierarchy is mounted) or "none". */
static const char *cgroup_version(void)
{
    if (procfs_lists_word("/sys/fs/cgroup/cgroup.controllers", "memory") ||
        procfs_lists_word("/sys/fs/cgroup/unified/cgroup.controllers", "memory"))
        return "v2";
    if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0)
        return "v1";
    return "none";
}

static int64_t vm_knob(const char *name)
{
    uint64_t v;
    return procfs_read_vm_sysctl(name, &v) == PROCFS_OK ? (int64_t)v : -1;
}

void machine_read(struct machine *m)
{
    memset(m, 0, sizeof *m);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s", u.release);
    m->page_size = sysconf(_SC_PAGESIZE);
    if (procfs_read_choice(THP_SYSFS "enabled", m->thp, sizeof m->thp) != PROCFS_OK)
        m->thp[0] = '\0';
    m->overcommit_memory = vm_knob("overcommit_memory");
    m->overcommit_ratio = vm_knob("overcommit_ratio");
    m->overcommit_kbytes = vm_knob("overcommit_kbytes");
    m->cgroup = cgroup_version();
    m->root = geteuid() == 0;
    m->mem_total_kB = procfs_read_one("/proc/meminfo", "MemTotal");
    m->swap_total_kB = procfs_read_one("/proc/meminfo", "SwapTotal");
    m->commit_limit_kB = procfs_read_one("/proc/meminfo", "CommitLimit");
}

static void number_or_null(FILE *out, const char *key, int64_t v)
{
    fprintf(out, ",\"%s\":", key);
    if (v < 0)
        fputs("null", out);
    else
        fprintf(out, "%lld", (long long)v);
}

void machine_write_json(FILE *out, const struct machine *m)
{
    fputs("{\"kernel\":", out);
    json_write_string(out, m->kernel);
    fprintf(out, ",\"page_size\":%ld,\"thp\":", m->page_size);
    json_write_string(out, m->thp[0] ? m->thp : NULL);
    number_or_null(out, "overcommit_memory", m->overcommit_memory);
    number_or_null(out, "overcommit_ratio", m->overcommit_ratio);
    number_or_null(out, "overcommit_kbytes", m->overcommit_kbytes);
    fprintf(out, ",\"memory_cgroup\":\"%s\",\"root\":%s", m->cgroup, m->root ? "true" : "false");
    number_or_null(out, "mem_total_kB", m->mem_total_kB);
    number_or_null(out, "swap_total_kB", m->swap_total_kB);
    number_or_null(out, "commit_limit_kB", m->commit_limit_kB);
    fputc('}', out);
}
