/* SPDX-License-Identifier: MIT */
/* cgroup: this process's memory cgroup and the limit that applies to it.
 * See cgroup.h. */
#define _GNU_SOURCE
#include "cgroup.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include "procfs.h"

#define CGROUP2_MAGIC 0x63677270L
#define CGROUP1_MAGIC 0x27e0ebL

static bool is_fs(const char *path, long magic)
{
    struct statfs s;
    return statfs(path, &s) == 0 && (long)s.f_type == magic;
}

void cgroup_parse_membership(FILE *in, char *v2, size_t v2len, char *v1_memory, size_t v1len)
{
    char line[1024];
    v2[0] = v1_memory[0] = '\0';
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        /* hierarchy-ID:controller-list:path */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c2[1] != '/')
            continue;
        *c1 = '\0'; /* line: the hierarchy ID */
        *c2 = '\0'; /* c1 + 1: the controllers */
        const char *controllers = c1 + 1, *path = c2 + 1;
        if (strcmp(line, "0") == 0 && controllers[0] == '\0')
            snprintf(v2, v2len, "%s", path);
        else if (procfs_has_word(controllers, "memory", ','))
            snprintf(v1_memory, v1len, "%s", path);
    }
}

void cgroup_dir(char *out, size_t len, const char *mount, const char *rel)
{
    snprintf(out, len, "%s%s", mount, strcmp(rel, "/") == 0 ? "" : rel);
}

bool cgroup_read(const char *dir, const char *file, uint64_t *value)
{
    char path[640];
    int64_t v;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (procfs_read_number(path, &v) != PROCFS_OK || v < 0)
        return false;
    *value = v == INT64_MAX ? UINT64_MAX : (uint64_t)v;
    return true;
}

bool cgroup_read_key(const char *dir, const char *file, const char *key, uint64_t *value)
{
    char path[640];
    struct procfs_want w = {key, 0, false};
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (procfs_read_pairs(path, &w, 1) != PROCFS_OK || !w.present)
        return false;
    *value = w.value;
    return true;
}

/* v1 writes "no limit" as the largest page-aligned 63-bit number, v2 as "max". */
static bool is_limit(uint64_t bytes)
{
    return bytes < (UINT64_C(1) << 62);
}

static void no_limit(struct cgroup_limit *l)
{
    l->bytes = l->room = UINT64_MAX;
    l->dir[0] = l->file[0] = l->room_dir[0] = l->unknown[0] = '\0';
    l->room_file = "";
}

/* One limit more: the smallest is kept, with whose it is; and the least
 * room, `limit` of dir less dir's usage. A usage that cannot be read leaves
 * room for at most the limit itself: an upper bound, which keeps the limit
 * in the budget rather than dropping it (room_usage then says UINT64_MAX). */
static void consider_limit(struct cgroup_limit *out, const char *dir, const char *file,
                           uint64_t limit, const char *usage_file)
{
    uint64_t usage;
    if (limit < out->bytes) {
        out->bytes = limit;
        snprintf(out->dir, sizeof out->dir, "%s", dir);
        snprintf(out->file, sizeof out->file, "%s", file);
    }
    if (!cgroup_read(dir, usage_file, &usage))
        usage = UINT64_MAX;
    uint64_t room = usage == UINT64_MAX ? limit : limit > usage ? limit - usage : 0;
    if (room >= out->room)
        return;
    out->room = room;
    out->room_limit = limit;
    out->room_usage = usage;
    out->room_file = file;
    snprintf(out->room_dir, sizeof out->room_dir, "%s", dir);
}

bool cgroup_effective_limit(const char *mount, const char *rel, bool v1, struct cgroup_limit *out)
{
    const char *file = v1 ? "memory.limit_in_bytes" : "memory.max";
    const char *usage_file = v1 ? "memory.usage_in_bytes" : "memory.current";
    char own[512], dir[512];
    no_limit(out);
    cgroup_dir(own, sizeof own, mount, rel);
    snprintf(dir, sizeof dir, "%s", own);
    size_t root_len = strlen(mount);
    for (;;) {
        uint64_t bytes;
        if (cgroup_read(dir, file, &bytes) && is_limit(bytes))
            consider_limit(out, dir, file, bytes, usage_file);
        char *slash = strrchr(dir, '/');
        if (strlen(dir) <= root_len || !slash || (size_t)(slash - dir) < root_len)
            break;
        *slash = '\0'; /* the parent */
    }
    /* v1 sums the limits of ancestors a container cannot see. Their usage
     * is hidden too, but is at least this cgroup's own: the limit less that
     * is the most room they can leave. */
    uint64_t hierarchical;
    if (v1 && cgroup_read_key(own, "memory.stat", "hierarchical_memory_limit", &hierarchical) &&
        is_limit(hierarchical))
        consider_limit(out, own, "hierarchical_memory_limit", hierarchical, usage_file);
    return out->bytes != UINT64_MAX;
}

bool cgroup_swap_capped(const char *dir, uint64_t limit)
{
    uint64_t swap;
    if (cgroup_read(dir, "memory.swap.max", &swap) && swap == 0)
        return true;
    /* v1's "no limit" is a number like any other: 2^63 - 4096 would pass as
     * "no larger than" the same number read from memory.limit_in_bytes. */
    return cgroup_read(dir, "memory.memsw.limit_in_bytes", &swap) && is_limit(swap) &&
           swap <= limit;
}

/* mountinfo writes a space, tab, newline or backslash in a path as \ooo. */
static void unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        bool octal = s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                     s[3] >= '0' && s[3] <= '7';
        if (octal) {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

/* The root of the cgroup mount at `mount`, as the file mountinfo says (proc(5)):
 * "ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE
 * SUPER-OPTIONS", as many optional fields (shared:N, master:N...) as there are.
 * The last line for it counts, the one on top where mounts are stacked. */
static bool mount_root(const char *mountinfo, const char *mount, char *root, size_t len)
{
    char real[PATH_MAX], r[PATH_MAX], point[PATH_MAX], *line = NULL;
    size_t size = 0;
    bool found = false;
    if (!realpath(mount, real))
        snprintf(real, sizeof real, "%s", mount);
    FILE *f = fopen(mountinfo, "re");
    while (f && getline(&line, &size, f) > 0) {
        const char *fstype = strstr(line, " - "); /* a path's spaces are written \040 */
        if (!fstype || (strncmp(fstype, " - cgroup ", 10) != 0 &&
                        strncmp(fstype, " - cgroup2 ", 11) != 0))
            continue;
        if (sscanf(line, "%*s %*s %*s %4095s %4095s", r, point) != 2) /* PATH_MAX - 1 */
            continue;
        unescape(r);
        unescape(point);
        if (strcmp(point, real) == 0) {
            snprintf(root, len, "%s", r);
            found = true;
        }
    }
    free(line);
    if (f)
        (void)fclose(f); /* read-only: nothing to lose */
    return found;
}

/* rel less root, when rel lies below root (a cgroup of the mount); NULL
 * when it does not, or when it goes up (a component ".."). */
static const char *below_root(const char *rel, const char *root)
{
    for (const char *up = strstr(rel, "/.."); up; up = strstr(up + 1, "/.."))
        if (up[3] == '/' || up[3] == '\0')
            return NULL;
    size_t n = strcmp(root, "/") == 0 ? 0 : strlen(root);
    if (strncmp(rel, root, n) != 0 || (rel[n] != '/' && rel[n] != '\0'))
        return NULL;
    return rel[n] ? rel + n : "/";
}

void cgroup_limit_of(const char *mountinfo, const char *mount, const char *rel, bool v1,
                     char *below, size_t len, struct cgroup_limit *out)
{
    char root[PATH_MAX];
    const char *under = NULL;
    no_limit(out);
    below[0] = '\0';
    if (!mount_root(mountinfo, mount, root, sizeof root))
        snprintf(out->unknown, sizeof out->unknown, "%.200s is not a cgroup mount in %.200s",
                 mount, mountinfo);
    else if (!(under = below_root(rel, root)))
        snprintf(out->unknown, sizeof out->unknown, "this process's cgroup %.150s "
                 "(/proc/self/cgroup) is outside what %.100s shows (root %.150s in mountinfo): "
                 "a cgroup namespace (unshare --cgroup) with the host's hierarchy mounted?",
                 rel, mount, root);
    if (!under)
        return;
    snprintf(below, len, "%s", under);
    (void)cgroup_effective_limit(mount, below, v1, out);
}

void cgroup_self(struct cgroup_self *s)
{
    char v2[256] = "", v1[256] = ""; /* as /proc/self/cgroup says; "" when absent */
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (f) {
        cgroup_parse_membership(f, v2, sizeof v2, v1, sizeof v1);
        (void)fclose(f); /* read-only: nothing to lose */
    }
    s->v2_mount = is_fs("/sys/fs/cgroup", CGROUP2_MAGIC)           ? "/sys/fs/cgroup"
                  : is_fs("/sys/fs/cgroup/unified", CGROUP2_MAGIC) ? "/sys/fs/cgroup/unified"
                                                                   : NULL;
    s->v1_mounted = v1[0] && is_fs(CGROUP_V1_MEMORY, CGROUP1_MAGIC);
    const char *mount = s->v1_mounted ? CGROUP_V1_MEMORY : v2[0] ? s->v2_mount : NULL;
    const char *rel = s->v1_mounted ? v1 : v2;
    s->dir[0] = s->rel[0] = '\0';
    no_limit(&s->limit);
    if (mount)
        cgroup_limit_of("/proc/self/mountinfo", mount, rel, s->v1_mounted, s->rel, sizeof s->rel,
                        &s->limit);
    if (s->rel[0])
        cgroup_dir(s->dir, sizeof s->dir, mount, s->rel);
}
