/* SPDX-License-Identifier: MIT */
/* run: fork, exec, and collect stdout/stderr with poll(). */
#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap ? *cap * 2 : 4096);
        while (ncap < *len + n + 1)
            ncap *= 2;
        char *nb = realloc(*buf, ncap);
        if (!nb)
            abort();
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

int run_program(const char *const argv[], enum run_as as, struct run_result *r)
{
    int outp[2], errp[2];
    memset(r, 0, sizeof *r);
    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
            _exit(126);
        if (as == RUN_AS_NOBODY &&
            (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
            dprintf(2, "run_program: cannot drop to uid 65534: %s\n", strerror(errno));
            _exit(126);
        }
        execv(argv[0], (char *const *)argv);
        dprintf(2, "run_program: execv %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(outp[1]);
    close(errp[1]);
    size_t out_cap = 0, err_cap = 0;
    append(&r->out, &r->out_len, &out_cap, "", 0);
    append(&r->err, &r->err_len, &err_cap, "", 0);
    struct pollfd fds[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[8192];
            ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
            if (n > 0) {
                if (i == 0)
                    append(&r->out, &r->out_len, &out_cap, chunk, (size_t)n);
                else
                    append(&r->err, &r->err_len, &err_cap, chunk, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return 0;
}

void run_result_free(struct run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

const char *demo_dir(void)
{
    const char *dir = getenv("VMLAB_DEMO_DIR");
    return dir && *dir ? dir : ".";
}

const char *copy_for_nobody(const char *path)
{
    char dir[] = "/tmp/vmlab-test-XXXXXX";
    if (!mkdtemp(dir) || chmod(dir, 0755) != 0)
        return NULL;
    return copy_program_into(dir, path);
}

const char *copy_program_into(const char *dir, const char *path)
{
    static char copy[PATH_MAX];
    const char *base = strrchr(path, '/');
    snprintf(copy, sizeof copy, "%s/%s", dir, base ? base + 1 : path);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0755);
    if (in < 0 || out < 0) {
        if (in >= 0) close(in);
        if (out >= 0) close(out);
        return NULL;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    close(in);
    if (close(out) != 0 || n < 0)
        return NULL;
    return copy;
}

void remove_copy(const char *copy)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", copy);
    char *slash = strrchr(dir, '/');
    unlink(copy);
    if (slash) {
        *slash = '\0';
        rmdir(dir);
    }
}

int parse_json_lines(const char *text, struct json **objs, int max, char *err, size_t errlen)
{
    int n = 0;
    const char *s = text;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (n == max) {
            snprintf(err, errlen, "more than %d lines", max);
            free_json_lines(objs, n);
            return -1;
        }
        char why[128];
        objs[n] = json_parse(s, len, why, sizeof why);
        if (!objs[n]) {
            snprintf(err, errlen, "line %d is not JSON (%s): %.*s", n + 1, why,
                     (int)(len > 200 ? 200 : len), s);
            free_json_lines(objs, n);
            return -1;
        }
        n++;
        s += len + (nl ? 1 : 0);
    }
    return n;
}

void free_json_lines(struct json **objs, int n)
{
    for (int i = 0; i < n; i++)
        json_free(objs[i]);
}

int count_lines(const char *text)
{
    int n = 0;
    for (const char *s = text; *s; s++)
        if (*s == '\n')
            n++;
    size_t len = strlen(text);
    if (len > 0 && text[len - 1] != '\n')
        n++;
    return n;
}
