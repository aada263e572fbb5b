/* SPDX-License-Identifier: MIT */
/* runid: a name for a run that no other process shares. See runid.h. */
#define _GNU_SOURCE
#include "runid.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procfs.h"

/* The inode of the first PID namespace (PROC_PID_INIT_INO in the kernel):
 * a process there sees every process of the machine. */
#define INIT_PID_NS UINT64_C(0xEFFFFFFC)

/* A decimal number without sign that fits in 64 bits; returns the character
 * after it, or NULL. */
static const char *parse_u64(const char *s, uint64_t *value)
{
    return procfs_parse_decimal(&s, value) == PROCFS_OK ? s : NULL;
}

bool runid_parse_stat(const char *stat, char *state, uint64_t *start)
{
    /* "PID (name) S ppid ..." - the name may contain ") ", so the last ')'
     * ends it; from there the fields are fixed by proc(5): state is field 3,
     * starttime field 22. */
    const char *p = strrchr(stat, ')');
    if (!p || p[1] != ' ' || !p[2])
        return false;
    p += 2;
    *state = *p;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return false;
        p++;
    }
    const char *end = parse_u64(p, start);
    return end && (*end == ' ' || *end == '\n' || *end == '\0');
}

/* Reads /proc/PID/stat (PID as text, or "self"). */
static bool read_stat(const char *pid, char *state, uint64_t *start)
{
    char path[300], text[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    return procfs_read_text(path, text, sizeof text) > 0 && runid_parse_stat(text, state, start);
}

/* The PID namespace of /proc/PID/ns/pid, from the link "pid:[4026531836]". */
static bool read_pidns(const char *pid, uint64_t *ns)
{
    char path[300], link[64];
    snprintf(path, sizeof path, "/proc/%s/ns/pid", pid);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0)
        return false;
    link[n] = '\0';
    if (strncmp(link, "pid:[", 5) != 0)
        return false;
    const char *end = parse_u64(link + 5, ns);
    return end && end[0] == ']' && end[1] == '\0';
}

int runid_self(struct runid *id)
{
    char state;
    memset(id, 0, sizeof *id);
    id->pid = (uint64_t)getpid();
    if (!read_pidns("self", &id->pidns) || !read_stat("self", &state, &id->start)) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

bool runid_format(const struct runid *id, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%" PRIu64 "-%" PRIu64 "-%" PRIu64, id->pidns, id->pid, id->start);
    return n > 0 && (size_t)n < len;
}

bool runid_parse(const char *text, struct runid *id)
{
    const char *p = parse_u64(text, &id->pidns);
    if (!p || *p != '-')
        return false;
    p = parse_u64(p + 1, &id->pid);
    if (!p || *p != '-')
        return false;
    p = parse_u64(p + 1, &id->start);
    return p && *p == '\0' && id->pid > 0;
}

/* Alive when /proc/PID (as this namespace numbers it) is that very run. */
static enum runid_state judge(const char *pid, uint64_t start)
{
    char state;
    uint64_t started;
    if (!read_stat(pid, &state, &started))
        return RUNID_GONE; /* no such process */
    if (state == 'Z' || state == 'X' || started != start)
        return RUNID_GONE; /* a zombie, or the PID now belongs to another */
    return RUNID_ALIVE;
}

/* The last number of "NSpid:" in /proc/P/status: P's PID in its own
 * (innermost) namespace. */
static bool innermost_pid(const char *pid, uint64_t *inner)
{
    char path[300], line[256];
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "NSpid:", 6) != 0)
            continue;
        const char *last = NULL;
        for (char *save = NULL, *w = strtok_r(line + 6, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
            last = w;
        const char *end = last ? parse_u64(last, inner) : NULL;
        found = end && *end == '\0';
    }
    (void)fclose(f); /* read-only: nothing to lose */
    return found;
}

/* True when /proc numbers processes as this process's namespace does: not
 * so after `unshare --pid` without a new /proc mount. */
static bool proc_is_ours(void)
{
    char link[24], pid[24];
    ssize_t n = readlink("/proc/self", link, sizeof link - 1);
    if (n <= 0)
        return false;
    link[n] = '\0';
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    return strcmp(link, pid) == 0;
}

enum runid_state runid_state(const struct runid *id)
{
    struct runid me;
    if (runid_self(&me) != 0)
        return RUNID_UNKNOWN;
    if (id->pidns == me.pidns && proc_is_ours()) {
        char pid[24];
        snprintf(pid, sizeof pid, "%" PRIu64, id->pid);
        return judge(pid, id->start);
    }
    /* Another namespace, or a /proc of another one. If that namespace is
     * ours or below the one /proc shows, we see all of its processes, and
     * /proc/P/status says what PID each has in its own. */
    DIR *d = opendir("/proc");
    if (!d)
        return RUNID_UNKNOWN;
    bool seen = false;
    enum runid_state st = RUNID_GONE;
    struct dirent *e;
    while (st != RUNID_ALIVE && (e = readdir(d)) != NULL) {
        uint64_t ns, inner;
        if (!isdigit((unsigned char)e->d_name[0]) || !read_pidns(e->d_name, &ns) || ns != id->pidns)
            continue;
        seen = true;
        if (innermost_pid(e->d_name, &inner) && inner == id->pid)
            st = judge(e->d_name, id->start);
    }
    closedir(d);
    if (st == RUNID_ALIVE)
        return st;
    /* Not found: gone for sure if we see every process of that namespace
     * (it is below ours), or every process at all (we are in the first). */
    return seen || me.pidns == INIT_PID_NS ? RUNID_GONE : RUNID_UNKNOWN;
}

bool runid_boot_id(char *buf, size_t len)
{
    char text[64];
    ssize_t n = procfs_read_text("/proc/sys/kernel/random/boot_id", text, sizeof text);
    /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n", as the undo record's parser takes it */
    if (n != 37 || text[36] != '\n' || strspn(text, "0123456789abcdef-") != 36)
        return false;
    text[36] = '\0';
    snprintf(buf, len, "%s", text);
    return len > 36;
}
