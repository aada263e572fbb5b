/* SPDX-License-Identifier: MIT */
/* malloc-child: see malloc-child.h. */
#define _GNU_SOURCE
#include "malloc-child.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "undo.h"

static const struct { const char *name, *file, *package; } known[] = {
    {"jemalloc", "libjemalloc.so.2", "libjemalloc2"},
    {"mimalloc", "libmimalloc.so.2", "libmimalloc2.0"},
};

static pid_t child = -1;  /* until it is reaped */
static int sock = -1;     /* the parent's end, or the child's */

int malloc_side_find_library(const char *arg, char *path, size_t path_size, char *name,
                             size_t name_size, char *why, size_t why_size)
{
    char libc[PATH_MAX], dir[PATH_MAX + 8], file[PATH_MAX + 80], quoted[128], real[PATH_MAX];
    const char *slash = strrchr(arg, '/');
    snprintf(name, name_size, "%s", slash ? slash + 1 : arg);
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        if (strcmp(arg, known[k].name) != 0)
            continue;
        if (!malloc_call_library(CALL_LIBC, libc, sizeof libc))
            snprintf(libc, sizeof libc, "/lib/libc.so.6");
        snprintf(dir, sizeof dir, "%s%s", strncmp(libc, "/usr/", 5) ? "/usr" : "", libc);
        *strrchr(dir, '/') = '\0';
        if (getenv("VMLAB_ALLOCATOR_DIR"))
            snprintf(dir, sizeof dir, "%s", getenv("VMLAB_ALLOCATOR_DIR"));
        snprintf(file, sizeof file, "%s/%s", dir, known[k].file);
        if (access(file, R_OK) != 0) {
            snprintf(why, why_size, "%s is not installed (no %s). As root: apt-get install %s",
                     arg, file, known[k].package);
            return EXIT_CANNOT;
        }
        arg = file;
    }
    cli_quote(arg, quoted, sizeof quoted);
    /* An ELF shared object: anything else under LD_PRELOAD stops the child's loader. */
    Elf64_Ehdr h;
    FILE *f = realpath(arg, real) ? fopen(real, "rbe") : NULL;
    int err = errno;
    bool elf = f && fread(&h, sizeof h, 1, f) == 1 && memcmp(h.e_ident, ELFMAG, SELFMAG) == 0;
    if (!f) {
        snprintf(why, why_size, "'%s': %s", quoted, strerror(err));
        return EXIT_USAGE;
    }
    (void)fclose(f);
    if (!elf || h.e_type != ET_DYN) {
        snprintf(why, why_size, "'%s' is not a shared library", quoted);
        return EXIT_USAGE;
    }
    snprintf(path, path_size, "%s", real);
    return EXIT_OK;
}

int malloc_side_child_start(const char *env_name, const char *arg, const char *library,
                            const char **failed)
{
    int sv[2];
    char how[256], preload[PATH_MAX + 16], *env[256];
    extern char **environ;
    size_t k = 0, name_len = strlen(env_name);
    for (char **e = environ; *e && k < sizeof env / sizeof env[0] - 3; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) != 0 &&
            !(strncmp(*e, env_name, name_len) == 0 && (*e)[name_len] == '='))
            env[k++] = *e;
    *failed = "socketpair";
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return errno;
    (void)fcntl(sv[1], F_SETFD, 0); /* the child's end stays open across exec */
    snprintf(how, sizeof how, "%s=%d,%s", env_name, sv[1], arg);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", library);
    env[k++] = how;
    env[k++] = preload;
    env[k] = NULL;
    char *argv[] = {program_invocation_short_name, NULL};
    *failed = "posix_spawn";
    int err = posix_spawn(&child, "/proc/self/exe", NULL, NULL, argv, env);
    if (!err && undo_track_child(child) != 0) { /* no child outlives the demo, Ctrl-C included */
        *failed = "atexit";
        err = errno;
        undo_end_child();
    }
    (void)close(sv[1]);
    if (err) {
        (void)close(sv[0]);
        child = -1;
        return err;
    }
    sock = sv[0];
    return 0;
}

pid_t malloc_side_child_pid(void)
{
    return child;
}

bool malloc_side_child_ask(int step, struct malloc_side *side)
{
    return (step < 0 || send(sock, &step, sizeof step, MSG_NOSIGNAL) == (ssize_t)sizeof step) &&
           recv(sock, side, sizeof *side, 0) == (ssize_t)sizeof *side;
}

int malloc_side_child_end(void)
{
    int status = -1;
    (void)close(sock);
    sock = -1;
    if (child > 0 && waitpid(child, &status, 0) != child)
        status = -1;
    child = -1; /* reaped */
    (void)undo_track_child(0);
    return status;
}

const char *malloc_side_child_arg(const char *value)
{
    char *end;
    errno = 0;
    long fd = strtol(value, &end, 10);
    return errno == 0 && end != value && fd >= 0 && fd <= INT_MAX && *end == ',' ? end + 1 : NULL;
}

noreturn void malloc_side_child_serve(const char *value, const struct malloc_side *side,
                                      int nsteps, void (*step)(int i))
{
    int i = -1;
    if (!malloc_side_child_arg(value))
        _exit(EXIT_USAGE);
    sock = (int)strtol(value, NULL, 10);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed parent cannot end it otherwise */
    if (getppid() == 1)
        _exit(EXIT_OK);
    while (send(sock, side, sizeof *side, MSG_NOSIGNAL) == (ssize_t)sizeof *side &&
           recv(sock, &i, sizeof i, 0) == (ssize_t)sizeof i && i >= 0 && i < nsteps)
        step(i);
    _exit(EXIT_OK);
}
