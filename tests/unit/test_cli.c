/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/present/cli.c and lib/present/errors.c: strict sizes, usage errors that
 * exit 2, and errno names. */
#define _GNU_SOURCE
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "cli.h"
#include "errors.h"
#include "narrate.h"
#include "suite.h"

START_TEST(sizes_accepted)
{
    static const struct { const char *in; uint64_t bytes; } ok[] = {
        {"0", 0}, {"4096", 4096}, {"4K", 4096}, {"4k", 4096}, {"16M", 16ull << 20},
        {"1G", 1ull << 30}, {"1T", 1ull << 40}, {"16777215T", 16777215ull << 40},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t b = 0;
        const char *why = NULL;
        ck_assert_msg(cli_parse_size(ok[i].in, &b, &why), "%s refused: %s", ok[i].in, why);
        ck_assert_uint_eq(b, ok[i].bytes);
    }
}
END_TEST

START_TEST(sizes_refused)
{
    static const struct { const char *in; const char *why; } bad[] = {
        {"", "empty"}, {"-1", "negative"}, {"12Q", "suffix"}, {"1.5M", "whole number"},
        {"0x10", "suffix"}, {"1e3", "suffix"}, {"4KB", "suffix"}, {"M", "not a number"},
        {" 4K", "not a number"}, {"18446744073709551616", "too large"},
        {"16777216T", "too large"}, {"99999999T", "too large"}, {"4K ", "suffix"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t b = 0;
        const char *why = NULL;
        ck_assert_msg(!cli_parse_size(bad[i].in, &b, &why), "'%s' accepted", bad[i].in);
        ck_assert_msg(why && strstr(why, bad[i].why), "'%s': reason '%s' lacks '%s'", bad[i].in,
                      why ? why : "(none)", bad[i].why);
    }
}
END_TEST

START_TEST(sizes_for_people)
{
    char buf[32];
    format_size(16u << 20, buf, sizeof buf);
    ck_assert_str_eq(buf, "16 MiB");
    format_size(4096, buf, sizeof buf);
    ck_assert_str_eq(buf, "4 KiB");
    format_size(1536u << 10, buf, sizeof buf);
    ck_assert_str_eq(buf, "1.5 MiB");
    format_size(100, buf, sizeof buf);
    ck_assert_str_eq(buf, "100 bytes");
    format_size(1ull << 40, buf, sizeof buf);
    ck_assert_str_eq(buf, "1 TiB");
}
END_TEST

START_TEST(quote_is_printable_and_short)
{
    char buf[200];
    cli_quote("a\xff\x01z", buf, sizeof buf);
    ck_assert_str_eq(buf, "a\\xff\\x01z");
    char long_arg[70000];
    memset(long_arg, 'x', sizeof long_arg - 1);
    long_arg[sizeof long_arg - 1] = '\0';
    cli_quote(long_arg, buf, sizeof buf);
    ck_assert_uint_lt(strlen(buf), 60);
    ck_assert_ptr_nonnull(strstr(buf, "..."));
}
END_TEST

START_TEST(errno_names)
{
    char buf[24];
    ck_assert_str_eq(errno_name(ENOMEM, buf, sizeof buf), "ENOMEM");
    ck_assert_str_eq(errno_name(EACCES, buf, sizeof buf), "EACCES");
    ck_assert_str_eq(errno_name(9999, buf, sizeof buf), "errno 9999");
    char msg[128];
    errno_describe("mmap", ENOMEM, msg, sizeof msg);
    ck_assert_str_eq(msg, "mmap: ENOMEM (Cannot allocate memory)");
}
END_TEST

/* ---- cli_parse: these tests end in exit(), which Check's fork mode catches ---- */

static const struct cli_option opts[] = {{"size", "SIZE", "how much"}, {"flag", NULL, "a flag"}};
static const struct demo_info info = {.name = "t", .summary = "test", .options = opts, .noptions = 2};
static uint64_t seen_size;
static int seen_flag;

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)ctx;
    if (index == 0)
        seen_size = cli_size_arg(&info, "--size", arg, 4096, 1 << 20);
    else
        seen_flag++;
}

static int parse(int argc, const char **argv, struct cli_common *c)
{
    return cli_parse(argc, (char **)argv, &info, c, on_option, NULL);
}

START_TEST(parse_good)
{
    const char *argv[] = {"t", "--size", "8K", "--flag", "--json", "--step", "--color=never", "pos", NULL};
    struct cli_common c;
    seen_size = 0;
    seen_flag = 0;
    int first = parse(8, argv, &c);
    ck_assert_uint_eq(seen_size, 8192);
    ck_assert_int_eq(seen_flag, 1);
    ck_assert(c.json && c.step);
    ck_assert_int_eq(c.color, COLOR_NEVER);
    ck_assert_int_eq(first, 7);
    ck_assert_str_eq(argv[first], "pos");
}
END_TEST

#define EXIT_CASE(name, ...)                                  \
    START_TEST(name)                                          \
    {                                                         \
        const char *argv[] = {"t", __VA_ARGS__, NULL};        \
        struct cli_common c;                                  \
        parse((int)(sizeof argv / sizeof argv[0]) - 1, argv, &c); \
        ck_abort_msg("cli_parse returned instead of exiting"); \
    }                                                         \
    END_TEST

EXIT_CASE(unknown_option, "--bogus")
EXIT_CASE(missing_value, "--size")
EXIT_CASE(repeated_option, "--flag", "--flag")
EXIT_CASE(size_too_small, "--size", "1K")
EXIT_CASE(size_too_large, "--size", "2M")
EXIT_CASE(bad_color, "--color=sometimes")
EXIT_CASE(flag_with_value, "--flag=1")
EXIT_CASE(short_option, "-x")
EXIT_CASE(help_exits_0, "--help")
EXIT_CASE(version_exits_0, "--version")
EXIT_CASE(short_help_exits_0, "-h")
EXIT_CASE(short_version_exits_0, "-V")

/* Help and version that cannot be written (a full disk, a closed pipe) are a
 * failure like any other output that is lost: exit 1, not 0. */
#define FULL_CASE(name, ...)                                         \
    START_TEST(name)                                                 \
    {                                                                \
        const char *argv[] = {"t", __VA_ARGS__, NULL};               \
        struct cli_common c;                                         \
        ck_assert_ptr_nonnull(freopen("/dev/full", "w", stdout));    \
        parse((int)(sizeof argv / sizeof argv[0]) - 1, argv, &c);   \
        ck_abort_msg("cli_parse returned instead of exiting");       \
    }                                                                \
    END_TEST

FULL_CASE(help_to_full_disk_fails, "--help")
FULL_CASE(version_to_full_disk_fails, "-V")

/* ---- help text: what `PROGRAM --help` writes, read back from a child ---- */

/* All a child started by fork_to_pipe wrote (malloc'd), then its wait status. */
static char *drain_child(int from_child, pid_t pid, int *status)
{
    size_t cap = 1 << 16;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    *status = child_output(from_child, pid, text, cap);
    return text;
}

static char *help_of(const struct demo_info *i)
{
    int from_child;
    pid_t pid = fork_to_pipe(&from_child);
    if (pid == 0) {
        const char *argv[] = {i->name, "--help", NULL};
        struct cli_common c;
        cli_parse(2, (char **)argv, i, &c, NULL, NULL);
        _exit(99); /* --help must exit */
    }
    int status;
    char *text = drain_child(from_child, pid, &status);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "--help: status %#x", status);
    return text;
}

/* Columns of the widest line, counting UTF-8 characters, not bytes. */
static int widest_line(const char *text)
{
    int widest = 0, col = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            col = 0;
            continue;
        }
        if (((unsigned char)*p & 0xc0) != 0x80 && ++col > widest)
            widest = col;
    }
    return widest;
}

/* The text with every run of spaces and newlines made one space: what is
 * left when wrapping is undone. */
static void squeeze(char *text)
{
    char *out = text;
    for (const char *p = text; *p; p++) {
        bool blank = *p == ' ' || *p == '\n';
        if (blank && out > text && out[-1] == ' ')
            continue;
        *out++ = blank ? ' ' : *p;
    }
    *out = '\0';
}

static const struct cli_option long_opts[] = {
    {"fit-size", "SIZE", "a request that fits, to compare the charges of the two requests "
                         "(default 1G; 1M to 4G), with words enough to need two lines"},
    {"i-accept-the-consequences", NULL, "a name too long for the option column"},
};
static const struct demo_info sized = {
    .name = "sized",
    .summary = "A summary line that is far too long for an eighty column terminal, as a "
               "demo might write one by mistake — with a dash.\nSecond line.",
    .options = long_opts,
    .noptions = 2,
    .examples = "  sized --fit-size 2G --i-accept-the-consequences   an example that runs "
                "past the edge of the screen\n",
};
static const struct demo_info unsized = {
    .name = "unsized",
    .summary = "No sizes here.",
    .options = opts + 1, /* only --flag */
    .noptions = 1,
    .exit_status = "0 it worked; 3 something of its own.",
};

START_TEST(help_fits_80_columns)
{
    char *text = help_of(&sized);
    ck_assert_int_le(widest_line(text), 80);
    /* a name too long for its column has its help on the next line */
    ck_assert_ptr_nonnull(strstr(text, "\n  --i-accept-the-consequences\n    "));
    /* nothing was lost by wrapping: every word is still there, in order */
    squeeze(text);
    ck_assert_ptr_nonnull(strstr(text, "to compare the charges of the two requests "
                                       "(default 1G; 1M to 4G), with words enough to need two lines"));
    ck_assert_ptr_nonnull(strstr(text, "as a demo might write one by mistake — with a dash."));
    ck_assert_ptr_nonnull(strstr(text, "an example that runs past the edge of the screen"));
    free(text);
}
END_TEST

START_TEST(help_lists_only_what_the_program_takes)
{
    char *text = help_of(&sized);
    ck_assert_ptr_nonnull(strstr(text, "Sizes take a suffix"));
    ck_assert_ptr_nonnull(strstr(text, "  -h, --help "));
    ck_assert_ptr_nonnull(strstr(text, "  -V, --version "));
    ck_assert_ptr_nonnull(strstr(text, "Exit status: 0 the demo ran"));
    free(text);
    text = help_of(&unsized);
    ck_assert_ptr_null(strstr(text, "Sizes take a suffix"));
    ck_assert_ptr_null(strstr(text, "SIZE"));
    ck_assert_ptr_null(strstr(text, "--size"));
    ck_assert_ptr_nonnull(strstr(text, "  --flag "));
    free(text);
}
END_TEST

START_TEST(help_states_the_programs_own_exit_codes)
{
    char *text = help_of(&unsized);
    ck_assert_ptr_nonnull(strstr(text, "Exit status: 0 it worked; 3 something of its own.\n"));
    ck_assert_ptr_null(strstr(text, "77"));
    free(text);
}
END_TEST

START_TEST(wrapping_keeps_indent_and_words)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    char line[400] = "    ";
    for (int i = 0; i < 30; i++)
        strcat(line, "word ");
    cli_print_wrapped(f, line, 2);
    cli_print_wrapped(f, "short\n", 0);
    cli_print_wrapped(f, "", 0);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_le(widest_line(text), 79);
    /* the first line keeps its indent, later ones are indented 2 more */
    ck_assert_int_eq(strncmp(text, "    word", 8), 0);
    const char *second = strchr(text, '\n') + 1;
    ck_assert_int_eq(strncmp(second, "      word", 10), 0);
    int words = 0;
    for (const char *p = text; (p = strstr(p, "word")) != NULL; p += 4)
        words++;
    ck_assert_int_eq(words, 30);
    ck_assert_ptr_nonnull(strstr(text, "\nshort\n"));
    free(text);
}
END_TEST

/* A command to copy is never split across lines: it moves to a line of its
 * own where it fits one (the prose around it wraps as before). */
START_TEST(wrapping_keeps_commands_whole)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    cli_print_wrapped(f, "hugetlb-reserve: cannot show this here: the huge-page pool has no page "
                         "to spare (HugePages_Free 0, Rsvd 0); --setup was not given (as root: "
                         "--setup 2). An administrator can fill it once for everyone: echo 2 > "
                         "/proc/sys/vm/nr_hugepages", 4);
    cli_print_wrapped(f, "oom-killer-try: cannot show this here: cannot confine the victim: the "
                         "memory controller is cgroup v1 here, where only root may create a "
                         "cgroup: sudo build/demos/oom-killer-try --touch read, or run it in a "
                         "container limited from outside (docker run -m 128m --memory-swap 128m "
                         "...)", 4);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_le(widest_line(text), 79);
    ck_assert_msg(strstr(text, "echo 2 > /proc/sys/vm/nr_hugepages\n"), "%s", text);
    ck_assert_msg(strstr(text, "sudo build/demos/oom-killer-try --touch read,"), "%s", text);
    ck_assert_msg(strstr(text, "(docker run -m 128m --memory-swap 128m ...)\n"), "%s", text);
    ck_assert_msg(strstr(text, "once for everyone:\n"), "the prose wraps as before: %s", text);
    free(text);
}
END_TEST

START_TEST(fits_what_there_is)
{
    cli_check_fits(&info, "--size", 4096, 2); /* one page: always fits, returns */
}
END_TEST

START_TEST(fits_refuses_more_than_there_is)
{
    cli_check_fits(&info, "--size", UINT64_C(1) << 62, 1); /* 4 EiB: never fits */
    ck_abort_msg("cli_check_fits returned for 4 EiB");
}
END_TEST

/* ---- --predict and --answers against the demo's questions ---- */

static const struct narrate_lesson asks_first[] = {
    {"one", "One", NULL, NULL, "Two choices?", {"yes", "no"}, {NULL}},
    {"two", "Two", NULL, NULL, NO_QUESTION},
};
static const struct narrate_lesson asks_then[] = {
    {"three", "Three", NULL, NULL, "Three choices?", {"a", "b", "c"}, {NULL}},
};
static const struct demo_info asking = {
    .name = "asking", .summary = "Asks two questions.",
    .lessons = LESSONS(TABLE(asks_first), TABLE(asks_then)),
    .draws = DRAWS_RESIDENCY | DRAWS_GROWTH,
};

/* What cli_parse and cli_check_answers write to stderr for argv, which must end them
 * with status `want`. */
static char *stderr_of(const struct demo_info *i, const char *const *argv, int want)
{
    int from_child;
    pid_t pid = fork_to_pipe(&from_child);
    if (pid == 0) {
        dup2(STDOUT_FILENO, STDERR_FILENO);
        int argc = 0;
        while (argv[argc])
            argc++;
        struct cli_common c;
        cli_parse(argc, (char **)argv, i, &c, NULL, NULL);
        cli_check_answers(&c); /* narrate_init's check, before anything runs */
        _exit(0);
    }
    int status;
    char *text = drain_child(from_child, pid, &status);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == want, "%s: status %#x, not %d: %s",
                  argv[1], status, want, text);
    return text;
}

START_TEST(answers_one_choice_per_question)
{
    char *err = stderr_of(&asking, (const char *const[]){"asking", "--answers", "-,c", NULL}, 0);
    ck_assert_str_eq(err, "");
    free(err);
    struct cli_common c;
    const char *argv[] = {"asking", "--answers", "b,a", NULL};
    cli_parse(3, (char **)argv, &asking, &c, NULL, NULL);
    ck_assert_str_eq(c.answers, "ba");
    ck_assert_ptr_eq(c.lessons, asking.lessons);
    ck_assert_ptr_eq(c.info, &asking);
}
END_TEST

/* Bad answers: one line naming what is wrong (and the question), the usage, exit 2. */
START_TEST(answers_refused_before_anything_runs)
{
    static const struct {
        const char *answers, *says;
    } bad[] = {
        {"a", "asking: --answers: 1 letter for 2 questions (one a question, '-' to skip one)\n"},
        {"a,b,c", "asking: --answers: 3 letters for 2 questions"},
        {"c,a", "asking: --answers: 'c' is not a choice of question 1, \"Two choices?\" (a to b)\n"},
        {"a,d", "asking: --answers: 'd' is not a choice of question 2, \"Three choices?\" (a to c)\n"},
        {"z,a", "'z' is not a choice of question 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err = stderr_of(&asking, (const char *const[]){"asking", "--answers", bad[i].answers,
                                                             NULL}, EXIT_USAGE);
        ck_assert_msg(strstr(err, bad[i].says) != NULL, "--answers %s: %s", bad[i].answers, err);
        ck_assert_ptr_nonnull(strstr(err, "\nUsage: asking [options]"));
        free(err);
    }
}
END_TEST

/* A program whose tables ask nothing refuses --predict and --answers, saying where the
 * questions are, and its help does not offer them; one that asks offers both. Likewise
 * --svg, where the program draws nothing; else its help says what it draws. */
START_TEST(asking_nothing_refuses_predict)
{
    static const char says[] = "t: --predict: this demo asks no questions; its lab sheet's "
                               "Predict first section has them\n";
    char *err = stderr_of(&info, (const char *const[]){"t", "--predict", NULL}, EXIT_USAGE);
    ck_assert_msg(strncmp(err, says, sizeof says - 1) == 0, "%s", err);
    free(err);
    err = stderr_of(&info, (const char *const[]){"t", "--answers", "a", NULL}, EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "t: --answers: this demo asks no questions"));
    free(err);
    char *text = help_of(&info);
    ck_assert_ptr_null(strstr(text, "--predict"));
    ck_assert_ptr_null(strstr(text, "--answers"));
    ck_assert_ptr_null(strstr(text, "--svg"));
    err = stderr_of(&info, (const char *const[]){"t", "--svg", "x.svg", NULL}, EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "t: --svg: this demo draws nothing; its numbers are in "
                                      "--json\n"));
    free(err);
    free(text);
    text = help_of(&asking);
    squeeze(text);
    ck_assert_ptr_nonnull(strstr(text, " --svg FILE also draw in FILE what the run measured: "
                                       "its residency maps (a square a page); its memory over "
                                       "time, against the limit "));
    free(text);
    text = help_of(&asking);
    ck_assert_ptr_nonnull(strstr(text, "\n  --predict "));
    ck_assert_ptr_nonnull(strstr(text, "\n  --answers LIST "));
    free(text);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *values = tcase_create("values");
    tcase_add_test(values, sizes_accepted);
    tcase_add_test(values, sizes_refused);
    tcase_add_test(values, sizes_for_people);
    tcase_add_test(values, quote_is_printable_and_short);
    tcase_add_test(values, errno_names);
    suite_add_tcase(s, values);
    TCase *parsing = tcase_create("parse");
    tcase_add_test(parsing, parse_good);
    tcase_add_exit_test(parsing, unknown_option, EXIT_USAGE);
    tcase_add_exit_test(parsing, missing_value, EXIT_USAGE);
    tcase_add_exit_test(parsing, repeated_option, EXIT_USAGE);
    tcase_add_exit_test(parsing, size_too_small, EXIT_USAGE);
    tcase_add_exit_test(parsing, size_too_large, EXIT_USAGE);
    tcase_add_exit_test(parsing, bad_color, EXIT_USAGE);
    tcase_add_exit_test(parsing, flag_with_value, EXIT_USAGE);
    tcase_add_exit_test(parsing, short_option, EXIT_USAGE);
    tcase_add_exit_test(parsing, help_exits_0, EXIT_OK);
    tcase_add_exit_test(parsing, version_exits_0, EXIT_OK);
    tcase_add_exit_test(parsing, short_help_exits_0, EXIT_OK);
    tcase_add_exit_test(parsing, short_version_exits_0, EXIT_OK);
    tcase_add_exit_test(parsing, help_to_full_disk_fails, EXIT_RUNTIME);
    tcase_add_exit_test(parsing, version_to_full_disk_fails, EXIT_RUNTIME);
    tcase_add_test(parsing, fits_what_there_is);
    tcase_add_exit_test(parsing, fits_refuses_more_than_there_is, EXIT_USAGE);
    tcase_add_test(parsing, answers_one_choice_per_question);
    tcase_add_test(parsing, answers_refused_before_anything_runs);
    tcase_add_test(parsing, asking_nothing_refuses_predict);
    suite_add_tcase(s, parsing);
    TCase *help = tcase_create("help");
    tcase_add_test(help, help_fits_80_columns);
    tcase_add_test(help, help_lists_only_what_the_program_takes);
    tcase_add_test(help, help_states_the_programs_own_exit_codes);
    tcase_add_test(help, wrapping_keeps_indent_and_words);
    tcase_add_test(help, wrapping_keeps_commands_whole);
    suite_add_tcase(s, help);
    return s;
}

int main(void)
{
    int failed = run_suite(cli_suite());
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
