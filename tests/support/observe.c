/* SPDX-License-Identifier: MIT */
/* observe: the tests' own readers of /proc/PID/{smaps,status,stat,pagemap}
 * and a pty stepper. Deliberately independent of lib/kernel/procfs. */
#define _GNU_SOURCE
#include "observe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static FILE *open_proc(pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, name);
    return fopen(path, "re");
}

/* True when line is a mapping header "start-end perms ..." covering addr. */
static bool header_covers(const char *line, uintptr_t addr, bool *is_header)
{
    unsigned long long start, end;
    char perms[8];
    *is_header = sscanf(line, "%llx-%llx %7s", &start, &end, perms) == 3;
    return *is_header && addr >= start && addr < end;
}

/* Calls fn(line) for every line of the smaps entry covering addr; false if
 * there is none. */
static bool smaps_entry(pid_t pid, uintptr_t addr, bool (*fn)(const char *, void *), void *ctx)
{
    FILE *f = open_proc(pid, "smaps");
    if (!f)
        return false;
    char line[1024];
    bool inside = false, found = false;
    while (fgets(line, sizeof line, f)) {
        bool is_header;
        bool covers = header_covers(line, addr, &is_header);
        if (is_header) {
            if (inside)
                break;
            inside = covers;
            found = found || covers;
            continue;
        }
        if (inside && fn(line, ctx))
            break;
    }
    fclose(f);
    return found;
}

struct field_want {
    const char *key;
    int64_t value;
};

/* "Key:   123 kB" -> value, when the key matches. */
static bool match_field(const char *line, void *ctx)
{
    struct field_want *w = ctx;
    size_t len = strlen(w->key);
    if (strncmp(line, w->key, len) != 0 || line[len] != ':')
        return false;
    long long v;
    if (sscanf(line + len + 1, "%lld", &v) == 1)
        w->value = v;
    return true;
}

int64_t observe_smaps(pid_t pid, uintptr_t addr, const char *key)
{
    struct field_want w = {key, -1};
    smaps_entry(pid, addr, match_field, &w);
    return w.value;
}

struct flags_want {
    char *out;
    size_t len;
};

static bool match_vmflags(const char *line, void *ctx)
{
    struct flags_want *w = ctx;
    if (strncmp(line, "VmFlags:", 8) != 0)
        return false;
    const char *s = line + 8;
    while (*s == ' ')
        s++;
    snprintf(w->out, w->len, "%.*s", (int)strcspn(s, "\n"), s);
    return true;
}

bool observe_vmflags(pid_t pid, uintptr_t addr, char *flags, size_t len)
{
    struct flags_want w = {flags, len};
    flags[0] = '\0';
    return smaps_entry(pid, addr, match_vmflags, &w) && flags[0];
}

static int64_t keyed_file(FILE *f, const char *key)
{
    struct field_want w = {key, -1};
    if (!f)
        return -1;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (match_field(line, &w))
            break;
    fclose(f);
    return w.value;
}

int64_t observe_status(pid_t pid, const char *key)
{
    return keyed_file(open_proc(pid, "status"), key);
}

int64_t observe_meminfo(const char *key)
{
    return keyed_file(fopen("/proc/meminfo", "re"), key);
}

int64_t observe_thp_kb(void)
{
    int64_t kb = 2048;
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
    long long bytes;
    if (f && fscanf(f, "%lld", &bytes) == 1)
        kb = bytes / 1024;
    if (f)
        fclose(f);
    return kb;
}

int64_t observe_vmstat(const char *key)
{
    FILE *f = fopen("/proc/vmstat", "re");
    if (!f)
        return -1;
    char line[256], name[128];
    long long v;
    int64_t value = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%127s %lld", name, &v) == 2 && strcmp(name, key) == 0) {
            value = v;
            break;
        }
    fclose(f);
    return value;
}

/* Field `index` (1-based, as in proc(5)) of /proc/PID/stat. The command
 * name (field 2) may hold spaces and parentheses: count from the last ')'. */
static int64_t stat_field(pid_t pid, int index)
{
    FILE *f = open_proc(pid, "stat");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = strrchr(buf, ')');
    if (!s)
        return -1;
    s++;
    for (int field = 3; field <= index; field++) {
        while (*s == ' ')
            s++;
        if (field == index) {
            long long v;
            return sscanf(s, "%lld", &v) == 1 ? v : -1;
        }
        s += strcspn(s, " ");
    }
    return -1;
}

int64_t observe_minflt(pid_t pid)
{
    return stat_field(pid, 10);
}

int64_t observe_majflt(pid_t pid)
{
    return stat_field(pid, 12);
}

bool observe_pagemap(pid_t pid, uintptr_t addr, bool *present, uint64_t *pfn)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/pagemap", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    uint64_t entry;
    off_t off = (off_t)(addr / (uintptr_t)sysconf(_SC_PAGESIZE)) * (off_t)sizeof entry;
    ssize_t n = pread(fd, &entry, sizeof entry, off);
    close(fd);
    if (n != (ssize_t)sizeof entry)
        return false;
    *present = (entry >> 63) & 1;                       /* bit 63: present */
    *pfn = *present ? entry & ((UINT64_C(1) << 55) - 1) : 0; /* bits 0-54 */
    return true;
}

uint64_t observe_zero_pfn(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    (void)*(volatile char *)p; /* a read fault maps the zero page */
    bool present = false;
    uint64_t pfn = 0;
    if (!observe_pagemap(getpid(), (uintptr_t)p, &present, &pfn) || !present)
        pfn = 0;
    munmap(p, (size_t)page);
    return pfn;
}

/* ---- the stepper ---- */

int stepper_start(struct stepper *s, const char *const argv[])
{
    memset(s, 0, sizeof *s);
    return pty_start(&s->pty, argv);
}

/* Splits newly read screen text into lines; parses those that are JSON. */
static void split_lines(struct stepper *s)
{
    struct pty_child *c = &s->pty;
    for (;;) {
        char *start = c->screen + s->parsed;
        char *nl = memchr(start, '\n', c->len - s->parsed);
        if (!nl)
            return;
        size_t len = (size_t)(nl - start);
        s->parsed += len + 1;
        /* A prompt has no newline of its own: a JSON line may follow it on
         * the same terminal line, after the echo of Enter. */
        char *brace = memchr(start, '{', len);
        if (!brace)
            continue;
        len -= (size_t)(brace - start);
        while (len > 0 && (brace[len - 1] == '\r'))
            len--;
        char err[128];
        struct json *j = json_parse(brace, len, err, sizeof err);
        if (j && s->nlines < STEPPER_MAX_LINES)
            s->lines[s->nlines++] = j;
        else
            json_free(j);
    }
}

int stepper_wait(struct stepper *s)
{
    bool found = pty_wait_for(&s->pty, "Press Enter to run step ");
    split_lines(s);
    if (!found) {
        s->next = 0;
        return 0;
    }
    int step = 0;
    if (sscanf(s->pty.screen + s->pty.mark, "%d", &step) != 1)
        step = 0;
    s->next = step;
    /* Consume the rest of the prompt, so that the next wait finds the next. */
    (void)pty_wait_for(&s->pty, "--");
    split_lines(s);
    return step;
}

bool stepper_go(struct stepper *s)
{
    return pty_send(&s->pty, "\n");
}

const struct json *stepper_step(const struct stepper *s, int n)
{
    for (int i = 0; i < s->nlines; i++) {
        int64_t step;
        if (json_get_int(s->lines[i], "step", &step) && step == n)
            return s->lines[i];
    }
    return NULL;
}

const struct json *stepper_result(const struct stepper *s)
{
    for (int i = 0; i < s->nlines; i++)
        if (json_get_string(s->lines[i], "result"))
            return s->lines[i];
    return NULL;
}

pid_t stepper_pid(const struct stepper *s)
{
    return s->pty.pid;
}

int stepper_finish(struct stepper *s)
{
    /* Answer any pause still ahead, then read to the end. */
    while (stepper_wait(s) > 0)
        stepper_go(s);
    int status = pty_finish(&s->pty);
    split_lines(s);
    for (int i = 0; i < s->nlines; i++)
        json_free(s->lines[i]);
    s->nlines = 0;
    return status;
}

uintptr_t stepper_maps_start(const struct json *step)
{
    const char *maps = step ? json_get_string(step, "facts.maps") : NULL;
    unsigned long long start;
    if (!maps || sscanf(maps, "%llx-", &start) != 1)
        return 0;
    return (uintptr_t)start;
}

pid_t observe_child_of(pid_t parent)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        char path[300], text[512];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue; /* ended meanwhile */
        bool got = fgets(text, sizeof text, f) != NULL;
        fclose(f);
        const char *paren = got ? strrchr(text, ')') : NULL; /* the name may hold ')' */
        long ppid = 0;
        if (paren && sscanf(paren + 1, " %*c %ld", &ppid) == 1 && ppid == (long)parent)
            found = (pid_t)atol(e->d_name);
    }
    closedir(d);
    return found;
}

bool observe_reaped(pid_t pid, int ms, int *status)
{
    for (int waited = 0; waited <= ms; waited += 10) {
        pid_t got = waitpid(pid, status, WNOHANG);
        if (got == pid)
            return true; /* (ECHILD: not ours yet, while its parent is still dying) */
        struct timespec ts = {0, 10000000L}; /* 10 ms */
        nanosleep(&ts, NULL);
    }
    return false;
}
