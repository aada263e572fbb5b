/* SPDX-License-Identifier: MIT */
/* vmlab: the one command an installed vmlab puts on PATH.
 *
 *   vmlab tour --step         runs the program "tour" with --step
 *   vmlab mmap-anon --size 4M runs the demo mmap-anon
 *   vmlab watch               runs vmlab-watch, the second terminal
 *   vmlab list                names every program, one line each
 *   vmlab help mmap-anon      the demo's own --help
 *
 * The programs live in libexec/vmlab/ and are found from where this binary
 * is (/proc/self/exe), never through PATH.
 *
 * Why a small C program and not a shell script: it finds its programs
 * relative to its own location, so one binary works under /usr (the .deb),
 * /usr/local (cmake --install), a DESTDIR staging tree or the build tree,
 * with no path baked in by the installer; it replaces itself with the demo
 * (execv), so the terminal's signals reach the demo itself; and it is built
 * with the same warnings, sanitizers and linters as everything else. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"

#ifndef VMLAB_VERSION
#define VMLAB_VERSION "unknown"
#endif
/* From bin/ to libexec/vmlab/, e.g. "../libexec/vmlab" (set by CMake). */
#ifndef VMLAB_PROGRAMS_FROM_BIN
#define VMLAB_PROGRAMS_FROM_BIN "../libexec/vmlab"
#endif
/* Where the build puts the programs, next to this one (set by CMake). */
#ifndef VMLAB_BUILD_PROGRAMS_DIR
#define VMLAB_BUILD_PROGRAMS_DIR ""
#endif

/* Every program vmlab runs: the tour, the demos in teaching order, then the
 * second terminal. Only these names are ever run: "vmlab ../../bin/sh" is an
 * unknown command, not a path. */
static const struct program {
    const char *name;
    const char *what;
} programs[] = {
    {"tour", "every demo below, in teaching order: start here"},
    {"mmap-anon", "mmap gives address space; the first touch of a page, memory"},
    {"malloc-brk", "malloc: the heap's break, its own mappings, the threshold"},
    {"malloc-free", "what malloc'd memory costs; what free and malloc_trim give back"},
    {"stack-growth", "the stack grows page by page; what stops it"},
    {"page-walk", "an address split into page-table indices; what tables cost"},
    {"fault-cost", "what a first touch costs, per page, on this machine"},
    {"huge-fault-cost", "huge pages, per 4 KiB: THP, and hugetlb if the pool has pages"},
    {"mincore-residency", "which pages are resident, drawn page by page"},
    {"page-cache", "a file's pages as it is read: readahead"},
    {"page-writeback", "a file's pages written: dirty, writeback, dropped"},
    {"protnone-dirty", "resident and dirty, yet inaccessible"},
    {"fork-cow", "fork copies nothing until a page is written"},
    {"vfork-spawn", "vfork and posix_spawn: a program started without a copy"},
    {"mlock-pages", "mlock keeps pages resident, within RLIMIT_MEMLOCK"},
    {"madvise-pages", "madvise frees, marks or fills pages a process has"},
    {"segv-pgfault", "good and bad page faults, and what the signal says"},
    {"kernel-address", "addresses user space may never touch, and what the signal says"},
    {"map-noreserve", "overcommit: asking for more memory than there is"},
    {"overcommit-modes", "the same requests in overcommit modes 0, 1 and 2 (root)"},
    {"hugetlb-reserve", "huge pages are reserved at mmap, taken at first write"},
    {"oom-killer-try", "when memory runs out: the OOM killer, in a cgroup"},
    {"watch", "the second terminal: follows the demo running now (or a PID)"},
};
#define NPROGRAMS (sizeof programs / sizeof programs[0])

static const char help_text[] =
    "Usage: vmlab COMMAND [ARGUMENTS]\n"
    "\n"
    "Runs the vmlab demos: small programs that do one memory operation at a time\n"
    "and show, from /proc and mincore, what the Linux kernel did and why.\n"
    "\n"
    "Commands:\n"
    "  tour [OPTIONS]       every demo in teaching order\n"
    "  DEMO [OPTIONS]       one demo, e.g. vmlab mmap-anon --step\n"
    "  watch [PID]          in a second terminal: follows the demo running now\n"
    "  list                 name the demos, one line each\n"
    "  help [DEMO]          this help, or the demo's own (vmlab DEMO --help)\n"
    "\n"
    "Options:\n"
    "  -h, --help           show this help and exit\n"
    "  -V, --version        print the version and exit\n"
    "\n"
    "Each program has a manual page: man vmlab-tour, man vmlab-mmap-anon, ...,\n"
    "man vmlab-watch.\n"
    "\n"
    "Examples:\n"
    "  vmlab tour --step    the whole tour, one step at a time\n"
    "  vmlab list\n"
    "  vmlab mmap-anon --size 64K --json\n"
    "\n"
    "Exit status: 2 bad usage (an unknown command); 126 the program is there but\n"
    "could not be run; 127 it is not installed where vmlab looks; 1 this help or\n"
    "the list could not be written; otherwise the program's own status (vmlab help\n"
    "DEMO says what each means).\n";

/* "vmlab: WHAT 'ARG' WHY", then the usage line; exit 2. */
static noreturn void usage_error(const char *what, const char *arg, const char *why)
{
    (void)fflush(stdout);
    fprintf(stderr, "vmlab: %s", what);
    if (arg) {
        char quoted[200];
        cli_quote(arg, quoted, sizeof quoted);
        fprintf(stderr, " '%s'", quoted);
    }
    fprintf(stderr, "%s%s\n", why ? " " : "", why ? why : "");
    cli_print_wrapped(stderr, "Usage: vmlab COMMAND [ARGUMENTS] (the demos: vmlab list; "
                              "more: vmlab --help)", 13);
    exit(EXIT_USAGE);
}

static const struct program *find_program(const char *name)
{
    for (size_t i = 0; i < NPROGRAMS; i++)
        if (strcmp(programs[i].name, name) == 0)
            return &programs[i];
    return NULL;
}

static noreturn void list_programs(void)
{
    for (size_t i = 0; i < NPROGRAMS; i++)
        printf("%-18s %s\n", programs[i].name, programs[i].what);
    cli_exit_after_output("vmlab", "the list");
}

/* The directory the programs are in: libexec/vmlab/ relative to this
 * binary; in the build tree, where they are built next to it, that one. */
static void programs_dir(char *dir, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) {
        char msg[128];
        errno_describe("readlink /proc/self/exe", errno, msg, sizeof msg);
        fprintf(stderr, "vmlab: cannot find its own location: %s\n", msg);
        exit(127);
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    int n2;
    if (VMLAB_BUILD_PROGRAMS_DIR[0] && strcmp(self, VMLAB_BUILD_PROGRAMS_DIR) == 0)
        n2 = snprintf(dir, len, "%s", self);
    else
        n2 = snprintf(dir, len, "%s/%s", self, VMLAB_PROGRAMS_FROM_BIN);
    if (n2 < 0 || (size_t)n2 >= len) {
        fprintf(stderr, "vmlab: the path of its programs is too long (%s)\n", self);
        exit(127);
    }
}

/* Its file in libexec/vmlab/: its name, but for the second terminal, which
 * keeps the name it is built and documented under. */
static const char *program_file(const struct program *p)
{
    return strcmp(p->name, "watch") == 0 ? "vmlab-watch" : p->name;
}

/* Replaces this process with the program, so that it is the one the
 * terminal's Ctrl-C reaches and its exit status is vmlab's. */
static noreturn void run(const struct program *p, char **args, int nargs)
{
    char dir[PATH_MAX], path[PATH_MAX + 64], msg[PATH_MAX + 128];
    const char *file = program_file(p);
    programs_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, file);

    char **argv = calloc((size_t)nargs + 2, sizeof *argv);
    if (!argv) {
        errno_describe("calloc", errno, msg, sizeof msg);
        fprintf(stderr, "vmlab: %s\n", msg);
        exit(126);
    }
    argv[0] = (char *)file;
    for (int i = 0; i < nargs; i++)
        argv[i + 1] = args[i];
    (void)fflush(stdout);
    execv(path, argv);
    int err = errno;
    errno_describe("execv", err, msg, sizeof msg);
    fprintf(stderr, "vmlab: cannot run %s: %s\n", path, msg);
    free(argv);
    exit(err == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage_error("no command given", NULL, NULL);
    const char *command = argv[1];
    if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0) {
        if (argc > 2)
            usage_error("--help takes nothing after it, not", argv[2], NULL);
        fputs(help_text, stdout);
        cli_exit_after_output("vmlab", "the help");
    }
    if (strcmp(command, "-V") == 0 || strcmp(command, "--version") == 0) {
        if (argc > 2)
            usage_error("--version takes nothing after it, not", argv[2], NULL);
        printf("vmlab %s\n", VMLAB_VERSION);
        cli_exit_after_output("vmlab", "the version");
    }
    if (command[0] == '-')
        usage_error("unknown option", command, "(options after a demo's name go to the demo)");
    if (strcmp(command, "list") == 0) {
        if (argc > 2)
            usage_error("list takes nothing after it, not", argv[2], NULL);
        list_programs();
    }
    if (strcmp(command, "help") == 0) {
        if (argc == 2) {
            fputs(help_text, stdout);
            cli_exit_after_output("vmlab", "the help");
        }
        if (argc > 3)
            usage_error("help takes one demo, not also", argv[3], NULL);
        const struct program *p = find_program(argv[2]);
        if (!p)
            usage_error("help: no demo is named", argv[2], NULL);
        char *help[] = {(char *)"--help"};
        run(p, help, 1);
    }
    const struct program *p = find_program(command);
    if (!p)
        usage_error("unknown command", command, NULL);
    run(p, argv + 2, argc - 2);
}
