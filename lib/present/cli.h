/* SPDX-License-Identifier: MIT */
/* cli: the command line every demo shares.
 *
 * A demo describes itself and its own options in a struct demo_info; cli_parse()
 * adds the common ones (-h/--help -V/--version --step --json --color), builds
 * the usage text from the same table, and turns every mistake into one line
 * that names the problem, a usage line, and exit status 2. Help follows the
 * GNU conventions: it fits 80 columns and lists only what the program takes. */
#ifndef VMLAB_CLI_H
#define VMLAB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

enum vmlab_exit {
    EXIT_OK = 0,       /* the demo ran and said what the kernel did          */
    EXIT_RUNTIME = 1,  /* a call failed; the message names it and its errno  */
    EXIT_USAGE = 2,    /* bad command line                                   */
    EXIT_CANNOT = 77,  /* this machine cannot show it (CTest's skip code)    */
};

enum color_mode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

struct lesson_table;

/* More arguments than any command line of a vmlab program has (a usage error). */
#define CLI_MAX_ARGS 32

struct cli_common {
    bool step;
    bool predict;        /* --predict, or --answers */
    char answers[64];    /* --answers b,a,c as "bac"; "" to ask at the terminal */
    /* The step tables of this run (demo_info.lessons, or those of one mode of the demo,
     * set before demo_start): the questions --answers has a letter for, in order. */
    const struct lesson_table *lessons;
    const struct demo_info *info; /* whose command line this is */
    bool json;
    const char *svg;     /* --svg FILE, or NULL */
    enum color_mode color;
    /* The arguments as given, in their order (getopt reorders argv), but --json: the result
     * line's "args", which tell the tour's two runs of a demo apart. */
    const char *args[CLI_MAX_ARGS];
    int nargs;
};

struct demo_need;
struct narrate_lesson;

/* One table of a demo's steps (narrate.h), as LESSONS(TABLE(steps)) writes it. */
struct lesson_table {
    const struct narrate_lesson *rows;
    int count;
};

/* What --svg draws of a run (lib/present/picture): the kinds of numbers a demo's
 * steps measure, for its demo_info's .draws. */
enum { DRAWS_COMMIT = 1, DRAWS_RESIDENCY = 2, DRAWS_GROWTH = 4 };

struct cli_option {
    const char *name;  /* long name without "--" */
    const char *arg;   /* "SIZE", or NULL for a flag */
    const char *help;
};

/* demo_info's .options and .noptions, from one table: DEMO_OPTIONS(options), */
#define DEMO_OPTIONS(table) .options = (table), .noptions = sizeof(table) / sizeof((table)[0])

struct demo_info {
    const char *name;      /* "mmap-anon" */
    const char *args;      /* positional synopsis after [options], or NULL */
    const char *summary;   /* what the demo shows, a few lines */
    const struct cli_option *options;
    size_t noptions;
    const char *examples;  /* one example command per line */
    /* The program's exit statuses in its own terms, one paragraph; NULL for
     * the demos' usual 0/1/2/77 text. */
    const char *exit_status;
    /* A tool, not a lesson (vmlab-watch): it takes no --step, --predict,
     * --answers or --json. */
    bool tool;
    /* Runs the demos (the tour): no --answers or --svg of its own. */
    bool runs_demos;
    /* What it needs from the machine, ended by {0} (lib/safety/needs), or NULL. */
    const struct demo_need *needs;
    /* Its step tables, ended by {0}, or NULL: their questions are the ones --predict
     * asks, in this order (a demo without one asks none, and --help offers no --predict). */
    const struct lesson_table *lessons;
    /* What --svg draws of its runs (DRAWS_...); 0: nothing, and it takes no --svg. */
    unsigned draws;
};

/* Called once per demo option, with its index in info->options and its
 * argument (NULL for a flag). Reports bad values with cli_usage_error(). */
typedef void (*cli_option_fn)(void *ctx, size_t index, const char *arg);

/* Parses argv; returns the index of the first positional argument. Handles
 * -h/--help and -V/--version itself (exit 0, or 1 when stdout cannot take
 * the text). Every option may be given once. */
int cli_parse(int argc, char **argv, const struct demo_info *info, struct cli_common *common,
              cli_option_fn on_option, void *ctx);

/* For demos without positional arguments. */
void cli_no_positionals(const struct demo_info *info, int argc, char **argv, int first);

/* --answers against common->lessons: one letter for each question, each a choice of
 * that question or '-'; else a usage error naming it (narrate_init calls it). */
void cli_check_answers(const struct cli_common *common);

noreturn void cli_usage_error(const struct demo_info *info, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A notice a student reads on stderr, "program: text": folded at 80 columns at
 * a terminal (a command to copy kept on one line), one line for a log. */
void cli_notice(const char *program, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one way a line reaches a person on stderr (cli_notice's, a --predict question's when
 * stdout is JSON): folded at 80 columns, continuations indented by hang, where stderr is a
 * terminal; whole where it is a file or a pipe. */
void cli_print_notice(const char *line, int hang);

/* Prints text to out with every line within 79 columns: a line that is too long is
 * broken between words, and its continuation is indented like the line itself plus
 * `hang` columns. */
void cli_print_wrapped(FILE *out, const char *text, int hang);
/* The same at `width` columns (a step's explanation folds at 78). */
void cli_print_folded(FILE *out, const char *text, int width, int hang);

/* Ends a program whose whole job was to print (help, version, a list): exit
 * 0 if everything written to stdout reached it, else a one-line message
 * naming `what` and the errno, and exit 1 (e.g. stdout is /dev/full). */
noreturn void cli_exit_after_output(const char *program, const char *what);

/* "16M" -> 16777216. Digits and one optional suffix K, M, G or T (powers of
 * 1024, either case). On failure returns false and sets *why. */
bool cli_parse_size(const char *text, uint64_t *bytes, const char **why);

/* Parses a size option or exits 2 naming it, e.g. "--size: '12Q' has an
 * unknown suffix". min/max in bytes. */
uint64_t cli_size_arg(const struct demo_info *info, const char *option, const char *text,
                      uint64_t min, uint64_t max);
/* The same for a plain count (no suffix). */
uint64_t cli_count_arg(const struct demo_info *info, const char *option, const char *text,
                       uint64_t min, uint64_t max);

/* Exits 2 naming the option when `bytes` is more than 1/`fraction` of the
 * memory available right now (MemAvailable): a demo that really uses the
 * memory must never be what exhausts a small VM. Silent when MemAvailable
 * cannot be read (kernels before 3.14). */
void cli_check_fits(const struct demo_info *info, const char *option, uint64_t bytes,
                    unsigned fraction);

/* Copies text for an error message: cut to a readable length, bytes that
 * are not printable ASCII shown as \xNN. */
void cli_quote(const char *text, char *buf, size_t len);

/* "16 MiB", "4 KiB", "1.5 GiB": sizes as people read them. */
void format_size(uint64_t bytes, char *buf, size_t len);

#endif
