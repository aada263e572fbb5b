/* SPDX-License-Identifier: MIT */
/* cli: option parsing, strict numbers, usage text. */
#define _GNU_SOURCE
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "narrate.h"
#include "predict.h"
#include "procfs.h"

enum {
    OPT_HELP = 'h', OPT_VERSION = 'V',
    OPT_STEP = 1000, OPT_PREDICT, OPT_ANSWERS, OPT_JSON, OPT_SVG, /* a lesson's */ OPT_COLOR,
    OPT_DEMO_BASE = 2000
};

static const struct cli_option common_options[] = {
    {"step", NULL, "pause before each step (only when stdin and stdout are a terminal)"},
    {"predict", NULL, "before each step, show its code and ask what it will do; score at the end"},
    {"answers", "LIST", "--predict without a terminal: the answers in order, e.g. b,a,c"},
    {"json", NULL, "print one JSON object per step on stdout, and nothing else"},
    {"svg", "FILE", NULL}, /* svg_help: what this demo draws */
    {"color", "WHEN", "colour: auto (default), always or never; NO_COLOR also turns it off"},
    {"help", NULL, "show this help and exit"},
    {"version", NULL, "print the version and exit"},
};
static const int common_ids[] = {OPT_STEP,  OPT_PREDICT, OPT_ANSWERS, OPT_JSON,
                                 OPT_SVG,   OPT_COLOR,   OPT_HELP,    OPT_VERSION};
static const char common_letters[] = {0, 0, 0, 0, 0, 0, 'h', 'V'}; /* -h and -V, as GNU programs */
#define NCOMMON (sizeof common_options / sizeof common_options[0])

static bool offered(const struct demo_info *info, size_t common_index)
{
    int id = common_ids[common_index];
    /* A tool takes none of a lesson's options (--step to --svg). A program that runs the
     * demos passes --step and --predict on; a list of answers or a picture belongs to one
     * demo's run. */
    if (info->tool && id >= OPT_STEP && id <= OPT_SVG)
        return false;
    return !(info->runs_demos && (id == OPT_ANSWERS || id == OPT_SVG));
}

/* Help offers --predict and --answers where they have a question to ask, and --svg
 * where there is something to draw. The parser takes them even so, to say why not. */
static bool in_help(const struct demo_info *info, size_t common_index)
{
    int id = common_ids[common_index];
    if ((id == OPT_PREDICT || id == OPT_ANSWERS) && !info->runs_demos &&
        narrate_questions(info->lessons) == 0)
        return false;
    if (id == OPT_SVG && !info->draws)
        return false;
    return offered(info, common_index);
}

/* --svg's help: what this demo's pictures show, from its .draws. */
static void svg_help(const struct demo_info *info, char *help, size_t len)
{
    static const struct {
        unsigned kind;
        const char *what;
    } kinds[] = {
        {DRAWS_COMMIT, "each step's commit charge (Committed_AS)"},
        {DRAWS_RESIDENCY, "its residency maps (a square a page)"},
        {DRAWS_GROWTH, "its memory over time, against the limit"},
    };
    size_t used = (size_t)snprintf(help, len, "also draw in FILE what the run measured:");
    const char *sep = " ";
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && used < len; i++)
        if (info->draws & kinds[i].kind) {
            used += (size_t)snprintf(help + used, len - used, "%s%s", sep, kinds[i].what);
            sep = "; ";
        }
}
#define MAX_OPTIONS 32
/* Option help starts in this column, as in GNU programs' --help. */
#define HELP_COLUMN 22
/* Help text is wrapped to this many columns (at most 80 with the newline's
 * column to spare, so that no terminal wraps a line on its own). */
#define CLI_HELP_WIDTH 79

/* Columns a UTF-8 string takes: one per character (every character the
 * help texts use is one column wide). */
static int columns(const char *s, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            n++;
    return n;
}

/* A command to copy (sudo ..., echo 2 > ..., "(docker run ...)") starts with
 * one of these words, maybe after "(", and runs to the first word that ends
 * its clause (",", ";", "." or ")") or to the end of the line. */
static const char *const command_words[] = {"sudo", "echo", "mount", "sysctl", "systemd-run",
                                            "docker", "rm"};

/* The end of the command that starts at line[word], or `word` when none does. */
static size_t command_end(const char *line, size_t word, size_t len)
{
    size_t end = word + (line[word] == '(');
    size_t first = end;
    while (end < len && line[end] != ' ')
        end++;
    bool command = false;
    for (size_t k = 0; k < sizeof command_words / sizeof command_words[0]; k++)
        command = command || (strlen(command_words[k]) == end - first &&
                              strncmp(line + first, command_words[k], end - first) == 0);
    if (!command)
        return word;
    while (end < len && !strchr(",;.)", line[end - 1])) {
        while (end < len && line[end] == ' ')
            end++;
        while (end < len && line[end] != ' ')
            end++;
    }
    return end;
}

static void print_wrapped_line(FILE *out, const char *line, size_t len, int most, int hang)
{
    size_t lead = 0;
    while (lead < len && line[lead] == ' ')
        lead++;
    int width = 0;
    size_t i = 0;
    bool first = true;
    while (i < len) {
        size_t word = i;
        while (word < len && line[word] == ' ')
            word++;
        size_t end = word;
        while (end < len && line[end] != ' ')
            end++;
        if (word == len)
            break; /* trailing spaces */
        int gap = columns(line + i, word - i), wlen = columns(line + word, end - word);
        /* A command goes to a line of its own rather than be split, where it fits one. */
        size_t command = command_end(line, word, len);
        int clen = columns(line + word, command - word);
        bool command_fits = (int)lead + hang + clen <= most;
        if (!first && (width + gap + wlen > most || (command_fits && width + gap + clen > most))) {
            /* a new line, indented like this one plus the hang */
            int indent = (int)lead + hang;
            fprintf(out, "\n%*s", indent, "");
            width = indent;
            gap = 0;
        }
        fprintf(out, "%.*s", first ? (int)(word - i) : gap, line + i);
        width += gap;
        /* A word wider than the line (a path, a kernel log line) is cut
         * where the line ends and goes on under the indent. */
        while (width + wlen > most && width < most && end - word > 1) {
            size_t take = 0;
            int cols = 0;
            while (word + take < end && cols < most - width) {
                take++;
                while (word + take < end && ((unsigned char)line[word + take] & 0xc0) == 0x80)
                    take++; /* never inside a UTF-8 character */
                cols++;
            }
            if (take == (size_t)(end - word))
                break;
            int indent = (int)lead + hang;
            fprintf(out, "%.*s\n%*s", (int)take, line + word, indent, "");
            word += take;
            wlen -= cols;
            width = indent;
        }
        fprintf(out, "%.*s", (int)(end - word), line + word);
        width += wlen;
        first = false;
        i = end;
    }
    fputc('\n', out);
}

void cli_print_folded(FILE *out, const char *text, int width, int hang)
{
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        print_wrapped_line(out, text, len, width, hang);
        text += len + (nl ? 1 : 0);
    }
}

void cli_print_wrapped(FILE *out, const char *text, int hang)
{
    cli_print_folded(out, text, CLI_HELP_WIDTH, hang);
}

/* "Usage: NAME [options] ARGS": its length. */
static int usage_line(const struct demo_info *info, char *line, size_t len)
{
    return snprintf(line, len, "Usage: %s [options]%s%s", info->name, info->args ? " " : "",
                    info->args ? info->args : "");
}

/* The one usage line under an error message: "Usage: NAME [options] ARGS
 * (more: --help)"; the options themselves are in --help. A line that would
 * not fit 80 columns drops its "(more: --help)". */
static void print_synopsis(const struct demo_info *info, FILE *out)
{
    char line[512];
    int n = usage_line(info, line, sizeof line);
    fprintf(out, "%s%s\n", line, n + 15 <= CLI_HELP_WIDTH ? " (more: --help)" : "");
}

/* "  -h, --help          show this help and exit", wrapped under its column;
 * a long option name puts its help on the next line. */
static void print_option(const struct cli_option *o, char letter, FILE *out)
{
    char left[64], line[512];
    const char *arg_gap = o->arg ? " " : "", *arg = o->arg ? o->arg : "";
    int n = letter ? snprintf(left, sizeof left, "  -%c, --%s%s%s", letter, o->name, arg_gap, arg)
                   : snprintf(left, sizeof left, "  --%s%s%s", o->name, arg_gap, arg);
    if (n <= HELP_COLUMN - 2) {
        snprintf(line, sizeof line, "%-*s%s", HELP_COLUMN, left, o->help);
        cli_print_wrapped(out, line, HELP_COLUMN - 2);
    } else {
        fprintf(out, "%s\n", left);
        snprintf(line, sizeof line, "%*s%s", HELP_COLUMN, "", o->help);
        cli_print_wrapped(out, line, 0);
    }
}

static bool takes_sizes(const struct demo_info *info)
{
    for (size_t i = 0; i < info->noptions; i++)
        if (info->options[i].arg && strcmp(info->options[i].arg, "SIZE") == 0)
            return true;
    return false;
}

static void write_help(const struct demo_info *info, FILE *out)
{
    char line[1024];
    usage_line(info, line, sizeof line);
    cli_print_wrapped(out, line, (int)strlen("Usage: ") + (int)strlen(info->name) + 1);
    fputc('\n', out);
    cli_print_wrapped(out, info->summary, 0);
    fputs("\nOptions:\n", out);
    for (size_t i = 0; i < info->noptions; i++)
        print_option(&info->options[i], 0, out);
    for (size_t i = 0; i < NCOMMON; i++) {
        if (!in_help(info, i))
            continue;
        struct cli_option o = common_options[i];
        char help[256];
        if (common_ids[i] == OPT_SVG) {
            svg_help(info, help, sizeof help);
            o.help = help;
        }
        print_option(&o, common_letters[i], out);
    }
    /* only a program that takes a size says how to write one */
    if (takes_sizes(info))
        fputs("\nSizes take a suffix: K, M, G or T (powers of 1024), e.g. 64K, 16M, 1T.\n", out);
    if (info->examples) {
        fputs("\nExamples:\n", out);
        cli_print_wrapped(out, info->examples, 4);
    }
    snprintf(line, sizeof line, "Exit status: %s", info->exit_status ? info->exit_status :
             "0 the demo ran and explained what the kernel did; 1 a system call failed (the "
             "message names it); 2 bad usage; 77 this machine cannot show it (the message "
             "says why and what would enable it).");
    fputc('\n', out);
    cli_print_wrapped(out, line, 0);
}

void cli_exit_after_output(const char *program, const char *what)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        exit(EXIT_OK);
    int err = errno ? errno : EIO;
    char msg[128];
    errno_describe("write", err, msg, sizeof msg);
    fprintf(stderr, "%s: could not print %s: %s\n", program, what, msg);
    exit(EXIT_RUNTIME);
}

/* "program: message": folded at a terminal, where a person reads it; one line
 * for a log or a script, where grep finds the whole sentence. */
__attribute__((format(printf, 2, 0)))
static void notice(const char *program, const char *fmt, va_list ap)
{
    char line[2048];
    int at = snprintf(line, sizeof line, "%s: ", program);
    if (at < 0 || (size_t)at >= sizeof line)
        at = 0;
    vsnprintf(line + at, sizeof line - (size_t)at, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): a clang 14 false positive
    cli_print_notice(line, 4);
}

void cli_print_notice(const char *line, int hang)
{
    if (isatty(STDERR_FILENO))
        cli_print_wrapped(stderr, line, hang);
    else
        fprintf(stderr, "%s\n", line);
}

void cli_notice(const char *program, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    notice(program, fmt, ap);
    va_end(ap);
}

void cli_usage_error(const struct demo_info *info, const char *fmt, ...)
{
    va_list ap;
    (void)fflush(stdout);
    va_start(ap, fmt);
    notice(info->name, fmt, ap);
    va_end(ap);
    print_synopsis(info, stderr);
    exit(EXIT_USAGE);
}

void cli_quote(const char *text, char *buf, size_t len)
{
    static const size_t shown = 40;
    size_t out = 0, i = 0;
    if (len == 0)
        return;
    for (; i < shown && text[i] && out + 5 < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f)
            buf[out++] = (char)c;
        else
            out += (size_t)snprintf(buf + out, len - out, "\\x%02x", c);
    }
    if (text[i] && out + 4 < len) {
        memcpy(buf + out, "...", 3);
        out += 3;
    }
    buf[out] = '\0';
}

bool cli_parse_size(const char *text, uint64_t *bytes, const char **why)
{
    static const char suffixes[] = "KMGT"; /* K: 1 << 10, M: 1 << 20, ... */
    const char *s = text, *suffix = NULL;
    uint64_t value = 0;
    *why = NULL;
    if (*s == '\0')
        *why = "is empty";
    else if (*s == '-')
        *why = "must not be negative";
    else if (!isdigit((unsigned char)*s))
        *why = "is not a number";
    else if (procfs_parse_decimal(&s, &value) != PROCFS_OK)
        *why = "is too large"; /* a digit is there: only an overflow is left */
    else if (*s == '.' || *s == ',')
        *why = "is not a whole number (write 1536K, not 1.5M)";
    else if (*s && (!(suffix = strchr(suffixes, toupper((unsigned char)*s))) || s[1]))
        *why = "has an unknown suffix (use K, M, G or T)";
    unsigned shift = suffix ? 10 * (unsigned)(suffix - suffixes + 1) : 0;
    if (!*why && value > (UINT64_MAX >> shift))
        *why = "is too large";
    if (*why)
        return false;
    *bytes = value << shift;
    return true;
}

void format_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned u = 0;
    uint64_t whole = bytes;
    while (whole >= 1024 && whole % 1024 == 0 && u < 6) {
        whole /= 1024;
        u++;
    }
    if (whole >= 1024 && u < 6) {
        double v = (double)bytes;
        u = 0;
        while (v >= 1024 && u < 6) {
            v /= 1024;
            u++;
        }
        snprintf(buf, len, "%.1f %s", v, units[u]);
        return;
    }
    snprintf(buf, len, "%llu %s", (unsigned long long)whole, units[u]);
}

uint64_t cli_size_arg(const struct demo_info *info, const char *option, const char *text,
                      uint64_t min, uint64_t max)
{
    char quoted[200], limit[32];
    const char *why;
    uint64_t bytes;
    cli_quote(text, quoted, sizeof quoted);
    if (!cli_parse_size(text, &bytes, &why))
        cli_usage_error(info, "%s: '%s' %s", option, quoted, why);
    if (bytes < min) {
        format_size(min, limit, sizeof limit);
        cli_usage_error(info, "%s: '%s' is too small (at least %s)", option, quoted, limit);
    }
    if (bytes > max) {
        format_size(max, limit, sizeof limit);
        cli_usage_error(info, "%s: '%s' is too large (at most %s)", option, quoted, limit);
    }
    return bytes;
}

uint64_t cli_count_arg(const struct demo_info *info, const char *option, const char *text,
                       uint64_t min, uint64_t max)
{
    char quoted[200];
    const char *why = NULL;
    uint64_t n = 0;
    cli_quote(text, quoted, sizeof quoted);
    if (!cli_parse_size(text, &n, &why))
        cli_usage_error(info, "%s: '%s' %s", option, quoted, why);
    for (const char *s = text; *s; s++)
        if (!isdigit((unsigned char)*s))
            cli_usage_error(info, "%s: '%s' must be a plain whole number", option, quoted);
    if (n < min || n > max)
        cli_usage_error(info, "%s: '%s' is out of range (%llu to %llu)", option, quoted,
                        (unsigned long long)min, (unsigned long long)max);
    return n;
}

void cli_check_fits(const struct demo_info *info, const char *option, uint64_t bytes,
                    unsigned fraction)
{
    int64_t available_kb = procfs_read_one("/proc/meminfo", "MemAvailable");
    if (available_kb < 0 || fraction == 0)
        return;
    uint64_t allowed = (uint64_t)available_kb * 1024 / fraction;
    if (bytes > allowed) {
        char want[32], have[32], most[32];
        format_size(bytes, want, sizeof want);
        format_size((uint64_t)available_kb * 1024, have, sizeof have);
        format_size(allowed, most, sizeof most);
        cli_usage_error(info, "%s: %s is too much for this machine now (MemAvailable %s): at most %s",
                        option, want, have, most);
    }
}

static void parse_color(const struct demo_info *info, const char *arg, struct cli_common *common)
{
    static const char *const modes[] = {[COLOR_AUTO] = "auto", [COLOR_ALWAYS] = "always",
                                        [COLOR_NEVER] = "never"};
    char quoted[200];
    for (int m = COLOR_AUTO; m <= COLOR_NEVER; m++)
        if (strcmp(arg, modes[m]) == 0) {
            common->color = (enum color_mode)m;
            return;
        }
    cli_quote(arg, quoted, sizeof quoted);
    cli_usage_error(info, "--color: '%s' is not auto, always or never", quoted);
}

/* "b,a,c": one letter a-z per step, in order; '-' skips a step. */
static void parse_answers(const struct demo_info *info, const char *text, struct cli_common *common)
{
    char quoted[200];
    size_t n = 0;
    for (const char *s = text;; s++) {
        bool letter = (*s >= 'a' && *s <= 'z') || *s == '-';
        if (!letter || n == sizeof common->answers - 1 || (s[1] != ',' && s[1] != '\0')) {
            cli_quote(text, quoted, sizeof quoted);
            cli_usage_error(info, "--answers: '%s' is not a list of letters such as b,a,c", quoted);
        }
        common->answers[n++] = *s;
        if (*++s == '\0')
            break;
    }
    common->answers[n] = '\0';
}

void cli_check_answers(const struct cli_common *common)
{
    const struct demo_info *info = common->info;
    int questions = narrate_questions(common->lessons);
    int given = (int)strlen(common->answers);
    if (given == 0)
        return; /* asked at the terminal */
    if (given != questions)
        cli_usage_error(info, "--answers: %d letter%s for %d questions (one a question, '-' "
                        "to skip one)", given, given == 1 ? "" : "s", questions);
    for (int i = 0; i < questions; i++) {
        const struct narrate_lesson *row = narrate_question_row(common->lessons, i);
        int choices = 0;
        while (choices < NARRATE_MAX_CHOICES && row->choices[choices])
            choices++;
        char c = common->answers[i];
        if (c != '-' && c - 'a' >= choices)
            cli_usage_error(info, "--answers: '%c' is not a choice of question %d, \"%s\" "
                            "(a to %c)", c, i + 1, row->ask, 'a' + choices - 1);
    }
}

/* getopt gives an option that needs a value the next word, whatever it is: in
 * "--size --json" the value would be "--json". A separate word that looks like an
 * option ("--x", "-h"; not "-1", which may be a value) means the value was left out. */
static bool took_next_option(const char *word, const char *value)
{
    bool separate = value == word; /* else it followed '=' in word */
    bool looks_like_option =
        value[0] == '-' && (value[1] == '-' || isalpha((unsigned char)value[1]));
    return separate && looks_like_option;
}

int cli_parse(int argc, char **argv, const struct demo_info *info, struct cli_common *common,
              cli_option_fn on_option, void *ctx)
{
    struct option longopts[MAX_OPTIONS + 1];
    bool seen[MAX_OPTIONS] = {false};
    size_t n = 0;
    char quoted[200];

    if (info->noptions + NCOMMON > MAX_OPTIONS) {
        fprintf(stderr, "%s: too many options for cli_parse\n", info->name);
        exit(EXIT_RUNTIME);
    }
    for (size_t i = 0; i < info->noptions; i++)
        longopts[n++] = (struct option){info->options[i].name,
                                        info->options[i].arg ? required_argument : no_argument,
                                        NULL, OPT_DEMO_BASE + (int)i};
    for (size_t i = 0; i < NCOMMON; i++)
        if (offered(info, i))
            longopts[n++] = (struct option){common_options[i].name,
                                            common_options[i].arg ? required_argument
                                                                  : no_argument,
                                            NULL, common_ids[i]};
    longopts[n] = (struct option){NULL, 0, NULL, 0};

    *common = (struct cli_common){.color = COLOR_AUTO};
    if (argc - 1 > CLI_MAX_ARGS)
        cli_usage_error(info, "%d arguments: more than any use of %s takes", argc - 1, info->name);
    const char *as_given[CLI_MAX_ARGS]; /* before getopt reorders argv */
    for (int i = 1; i < argc; i++)
        as_given[i - 1] = argv[i];
    const char *json_arg = NULL;        /* the argument getopt read as --json */
    opterr = 0;
    optind = 1;
    for (;;) {
        int index = -1;
        int opt = getopt_long(argc, argv, ":hV", longopts, &index);
        if (opt == -1)
            break;
        if (opt == '?') {
            cli_quote(argv[optind - 1], quoted, sizeof quoted);
            /* a known long option given "=value" it does not take: getopt
             * sets optopt to that option's value; for a short one, to the letter */
            const char *given = argv[optind - 1];
            if (optopt != 0 && strncmp(given, "--", 2) == 0 && strchr(given, '='))
                cli_usage_error(info, "option '%s' takes no value", quoted);
            cli_usage_error(info, "unknown option '%s'", quoted);
        }
        if (opt == ':') {
            cli_quote(argv[optind - 1], quoted, sizeof quoted);
            cli_usage_error(info, "option '%s' needs a value", quoted);
        }
        if (index >= 0 && optarg && took_next_option(argv[optind - 1], optarg)) {
            cli_quote(optarg, quoted, sizeof quoted);
            cli_usage_error(info, "option '--%s' needs a value ('%s' is an option)",
                            longopts[index].name, quoted);
        }
        if (index >= 0) {
            if (seen[index])
                cli_usage_error(info, "--%s is given more than once", longopts[index].name);
            seen[index] = true;
        }
        switch (opt) {
        case OPT_HELP:
            write_help(info, stdout);
            cli_exit_after_output(info->name, "the help");
        case OPT_VERSION:
            printf("%s (vmlab) %s\n", info->name, VMLAB_VERSION);
            cli_exit_after_output(info->name, "the version");
        case OPT_STEP: common->step = true; break;
        case OPT_PREDICT: common->predict = true; break;
        case OPT_ANSWERS:
            parse_answers(info, optarg, common);
            common->predict = true;
            break;
        case OPT_JSON:
            common->json = true;
            json_arg = argv[optind - 1];
            break;
        case OPT_SVG:
            if (!info->draws)
                cli_usage_error(info, "--svg: this demo draws nothing; its numbers are in "
                                "--json");
            if (!optarg[0])
                cli_usage_error(info, "--svg needs a file name");
            common->svg = optarg;
            break;
        case OPT_COLOR: parse_color(info, optarg, common); break;
        default:
            on_option(ctx, (size_t)(opt - OPT_DEMO_BASE), optarg);
        }
    }
    for (int i = 0; i < argc - 1; i++)
        if (as_given[i] != json_arg)
            common->args[common->nargs++] = as_given[i];
    common->lessons = info->lessons;
    common->info = info;
    if (common->predict && !info->runs_demos && narrate_questions(info->lessons) == 0)
        cli_usage_error(info, "%s: this demo asks no questions; its lab sheet's Predict "
                        "first section has them", common->answers[0] ? "--answers" : "--predict");
    return optind;
}

void cli_no_positionals(const struct demo_info *info, int argc, char **argv, int first)
{
    if (first < argc) {
        char quoted[200];
        cli_quote(argv[first], quoted, sizeof quoted);
        cli_usage_error(info, "unexpected argument '%s'", quoted);
    }
}
