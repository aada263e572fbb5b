/* SPDX-License-Identifier: MIT */
/* announce: the "which demo is running" file for vmlab-watch. */
#define _GNU_SOURCE
#include "announce.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A directory only we may write, or false. */
static bool private_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return false;
    return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
           (st.st_mode & 0022) == 0;
}

bool announce_path(char *path, size_t len)
{
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (runtime && runtime[0] == '/' && stat(runtime, &st) == 0 && S_ISDIR(st.st_mode) &&
        st.st_uid == geteuid()) {
        snprintf(path, len, "%s/vmlab-current", runtime);
        return true;
    }
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/vmlab-%ld", (long)geteuid());
    if (!private_dir(dir))
        return false;
    snprintf(path, len, "%s/current", dir);
    return true;
}

void announce_write(const struct announcement *a)
{
    char path[512], tmp[600];
    if (!announce_path(path, sizeof path))
        return;
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    char text[512];
    int len = snprintf(text, sizeof text, "pid %ld\ndemo %s\nstep %d/%d\naddr %lx\ntitle %s\n",
                       a->pid, a->demo, a->step, a->steps, (unsigned long)a->addr, a->title);
    bool ok = len > 0 && (size_t)len < sizeof text && write(fd, text, (size_t)len) == len;
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0)
        unlink(tmp);
}

void announce_clear(void)
{
    char path[512];
    struct announcement a;
    if (announce_path(path, sizeof path) && announce_read(path, &a) && a.pid == (long)getpid())
        unlink(path);
}

/* The file's text: "key value" lines; unknown keys are a newer writer's. */
static bool parse(char *text, struct announcement *a)
{
    memset(a, 0, sizeof *a);
    char *save = NULL, *end;
    for (char *key = strtok_r(text, "\n", &save); key; key = strtok_r(NULL, "\n", &save)) {
        char *value = strchr(key, ' ');
        if (!value)
            continue;
        *value++ = '\0';
        if (strcmp(key, "pid") == 0) {
            a->pid = strtol(value, &end, 10);
            a->pid = *end == '\0' && a->pid > 0 ? a->pid : 0;
        } else if (strcmp(key, "demo") == 0) {
            snprintf(a->demo, sizeof a->demo, "%s", value);
        } else if (strcmp(key, "step") == 0) {
            long step = strtol(value, &end, 10);
            long steps = *end == '/' ? strtol(end + 1, &end, 10) : 0;
            bool ok = *end == '\0' && step >= 0 && steps >= step && steps < 1000;
            a->step = ok ? (int)step : 0;
            a->steps = ok ? (int)steps : 0;
        } else if (strcmp(key, "addr") == 0) {
            a->addr = (uintptr_t)strtoull(value, &end, 16);
            a->addr = *end == '\0' ? a->addr : 0;
        } else if (strcmp(key, "title") == 0) {
            snprintf(a->title, sizeof a->title, "%s", value);
        }
    }
    return a->pid > 0 && a->demo[0];
}

bool announce_read(const char *path, struct announcement *a)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    char text[1024];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
        n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n < 0)
        return false;
    text[n] = '\0';
    return parse(text, a);
}
