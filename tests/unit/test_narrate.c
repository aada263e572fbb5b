/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/present/narrate.c: the JSON it writes must parse (escaping,
 * UTF-8), carry the numbers it was given, and the plain text must show them. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "narrate.h"
#include "suite.h"

static char *capture_buf;
static size_t capture_len;

static FILE *capture(void)
{
    FILE *f = open_memstream(&capture_buf, &capture_len);
    ck_assert_ptr_nonnull(f);
    return f;
}

static char *escaped(const char *s)
{
    FILE *f = capture();
    json_write_string(f, s);
    fclose(f);
    return capture_buf;
}

START_TEST(json_strings_round_trip)
{
    static const char *const inputs[] = {
        "plain", "quote \" and backslash \\", "new\nline\ttab\r", "\x01\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char *out = escaped(inputs[i]);
        char err[128];
        struct json *v = json_parse(out, strlen(out), err, sizeof err);
        ck_assert_msg(v != NULL, "input %zu gave invalid JSON %s: %s", i, out, err);
        ck_assert_int_eq(v->type, JSON_STRING);
        ck_assert_str_eq(v->string, inputs[i]);
        json_free(v);
        free(out);
    }
}
END_TEST

START_TEST(json_invalid_utf8_replaced)
{
    /* Overlong, stray continuation, surrogate, cut sequence, 0xff. */
    static const char *const inputs[] = {"\xc0\x80", "\x80", "\xed\xa0\x80", "\xe2\x82", "\xff"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char *out = escaped(inputs[i]);
        char err[128];
        struct json *v = json_parse(out, strlen(out), err, sizeof err);
        ck_assert_msg(v != NULL, "input %zu gave invalid JSON %s: %s", i, out, err);
        ck_assert_ptr_nonnull(strstr(v->string, "\xef\xbf\xbd")); /* U+FFFD */
        json_free(v);
        free(out);
    }
}
END_TEST

static void one_step(struct narrator *n)
{
    narrate_begin(n, "write_one", "Write \"one\" byte");
    narrate_lesson_before(n, "p[16] = 'a';");
    narrate_lesson_after(n);
    narrate_value(n, "Rss", "kB", true, 0, true, 4);
    narrate_value(n, "Size", "kB", false, 0, true, 16384);
    narrate_value(n, "minor_faults", "", true, 10, true, 11);
    narrate_fact(n, "maps", "7f00-7f10 rw-p");
    narrate_picture(n, "residency", "#..#");
    narrate_fact_int(n, "charged_kB", -1048576);
    narrate_note(n, "First sentence.");
    narrate_note(n, "Second %d.", 2);
    narrate_end_step(n);
}

START_TEST(json_step_object)
{
    struct cli_common c = {.json = true};
    struct narrator n;
    narrate_init(&n, "demo-x", &c, 3);
    n.out = capture();
    one_step(&n);
    fclose(n.out);

    ck_assert_ptr_nonnull(strchr(capture_buf, '\n'));
    ck_assert_ptr_eq(strchr(capture_buf, '\n'), capture_buf + capture_len - 1); /* one line */
    char err[128];
    struct json *v = json_parse(capture_buf, capture_len, err, sizeof err);
    ck_assert_msg(v != NULL, "%s: %s", err, capture_buf);
    int64_t x;
    ck_assert_str_eq(json_get_string(v, "demo"), "demo-x");
    ck_assert(json_get_int(v, "step", &x) && x == 1);
    ck_assert(json_get_int(v, "steps", &x) && x == 3);
    ck_assert_str_eq(json_get_string(v, "title"), "Write \"one\" byte");
    ck_assert(json_get_int(v, "before.Rss_kB", &x) && x == 0);
    ck_assert(json_get_int(v, "after.Rss_kB", &x) && x == 4);
    ck_assert(json_get_int(v, "delta.Rss_kB", &x) && x == 4);
    ck_assert(json_get_int(v, "delta.minor_faults", &x) && x == 1);
    ck_assert_int_eq(json_path(v, "before.Size_kB")->type, JSON_NULL);
    ck_assert_ptr_null(json_path(v, "delta.Size_kB")); /* no delta from an absent value */
    ck_assert_str_eq(json_get_string(v, "facts.maps"), "7f00-7f10 rw-p");
    ck_assert_str_eq(json_get_string(v, "facts.residency"), "#..#");
    ck_assert(json_get_int(v, "facts.charged_kB", &x) && x == -1048576);
    ck_assert_str_eq(json_get_string(v, "note"), "First sentence. Second 2.");
    json_free(v);
    free(capture_buf);
}
END_TEST

START_TEST(plain_step_text)
{
    struct cli_common c = {.color = COLOR_NEVER};
    struct narrator n;
    narrate_init(&n, "demo-x", &c, 3);
    n.out = capture();
    one_step(&n);
    fclose(n.out);
    ck_assert_ptr_nonnull(strstr(capture_buf, "[1/3] Write \"one\" byte"));
    ck_assert_ptr_nonnull(strstr(capture_buf, "p[16] = 'a';"));
    ck_assert_ptr_nonnull(strstr(capture_buf, "absent -> 16384 kB"));
    ck_assert_ptr_nonnull(strstr(capture_buf, "+4 kB"));
    ck_assert_ptr_nonnull(strstr(capture_buf, "#..#"));
    ck_assert_ptr_null(strchr(capture_buf, '\033')); /* --color=never: no escapes */
    free(capture_buf);
}
END_TEST

/* A LESSON's code is printed laid out as C is, though the preprocessor joined its lines: a
 * statement a line, a body indented under its if, for, while or else (with braces or without),
 * '}' alone or with its "else" or "while", brackets, strings, an initializer's and a compound
 * literal's braces kept whole. */
struct pair {
    int a, b;
};

START_TEST(code_laid_out_as_its_source)
{
    struct cli_common c = {.color = COLOR_NEVER};
    struct narrator n;
    narrate_init(&n, "demo-x", &c, 1);
    n.out = capture();
    narrate_begin(&n, "s", "a loop");
    int sum = 0, i = 0, a[] = {1, 2};
    LESSON(&n, for (int k = 0; k < 2; k++) {
        if (a[k] > 1) {
            sum += a[k];
        }
        int b[] = {k, 1};
        sum += b[1] - 1;
        const char *s = "x; {y}";
        do { i++; } while (i < 2 && s[0] == 'x');
    }
    if (sum > 100) sum = 0; else { sum += 0; }
    for (int j = 0; j < 1; j++) if (j == 0) sum += (struct pair){1, 2}.b - 2;
    if (sum == 2) { i++; } else if (sum > 2) i--; else { i += 0; }
    if (sum < 0) i = 0; else i += 0;);
    narrate_end_step(&n);
    fclose(n.out);
    ck_assert_int_eq(sum, 2);
    ck_assert_msg(strstr(capture_buf, "      for (int k = 0; k < 2; k++) {\n"
                                      "          if (a[k] > 1) {\n"
                                      "              sum += a[k];\n"
                                      "          }\n"
                                      "          int b[] = {k, 1};\n"
                                      "          sum += b[1] - 1;\n"
                                      "          const char *s = \"x; {y}\";\n"
                                      "          do {\n"
                                      "              i++;\n"
                                      "          } while (i < 2 && s[0] == 'x');\n"
                                      "      }\n"
                                      "      if (sum > 100)\n"
                                      "          sum = 0;\n"
                                      "      else {\n"
                                      "          sum += 0;\n"
                                      "      }\n"
                                      "      for (int j = 0; j < 1; j++)\n"
                                      "          if (j == 0)\n"
                                      "              sum += (struct pair){1, 2}.b - 2;\n"
                                      "      if (sum == 2) {\n"
                                      "          i++;\n"
                                      "      } else if (sum > 2)\n"
                                      "          i--;\n"
                                      "      else {\n"
                                      "          i += 0;\n"
                                      "      }\n"
                                      "      if (sum < 0)\n"
                                      "          i = 0;\n"
                                      "      else\n"
                                      "          i += 0;\n"), "%s", capture_buf);
    free(capture_buf);
}
END_TEST

/* Rows keep their arrows in one column when a name is longer than 16 characters
 * (fork-cow's parent_Private_Dirty), and still fit 80 columns. */
START_TEST(long_row_names_stay_aligned)
{
    struct cli_common c = {.color = COLOR_NEVER};
    struct narrator n;
    narrate_init(&n, "demo-x", &c, 1);
    n.out = capture();
    narrate_begin(&n, "s", "rows");
    narrate_value(&n, "Rss", "kB", true, 0, true, 1048576);
    narrate_value(&n, "parent_Private_Dirty", "kB", true, 1024, true, 0);
    narrate_value(&n, "child_minflt", "", false, 0, true, 21);
    narrate_end_step(&n);
    fclose(n.out);
    int arrow = -1, rows = 0;
    for (char *line = capture_buf, *end; (end = strchr(line, '\n')); line = end + 1) {
        ck_assert_msg(end - line <= 80, "%.*s", (int)(end - line), line);
        char *at = strstr(line, " -> ");
        if (!at || at > end)
            continue;
        rows++;
        if (arrow < 0)
            arrow = (int)(at - line);
        ck_assert_msg(at - line == arrow, "not aligned: %.*s", (int)(end - line), line);
    }
    ck_assert_int_eq(rows, 3);
    free(capture_buf);
}
END_TEST

START_TEST(color_rules)
{
    struct narrator n;
    struct cli_common c = {.color = COLOR_ALWAYS};
    narrate_init(&n, "d", &c, 1);
    ck_assert(n.color);
    c.json = true;
    narrate_init(&n, "d", &c, 1);
    ck_assert(!n.color); /* never colour in JSON */
    c = (struct cli_common){.color = COLOR_AUTO};
    setenv("NO_COLOR", "1", 1);
    narrate_init(&n, "d", &c, 1);
    ck_assert(!n.color);
}
END_TEST

START_TEST(finish_json_line_and_exit)
{
    struct cli_common c = {.json = true};
    struct narrator n;
    narrate_init(&n, "d", &c, 1);
    narrate_finish(&n, RESULT_SKIP, "no huge pages");
}
END_TEST

/* A table of two rows: narrate_run must run them in order, record
 * CONCLUDE's finding and its sentence only where it held, and answer
 * --predict from the table. */
static struct narrator table_n;
static int ran[2], lessons;
static void lesson_a(void)
{
    LESSON(&table_n, ran[0] = ++lessons;);
    LESSON(&table_n, (void)0;); /* a second LESSON in the step asks nothing more */
}
static void lesson_b(void) { LESSON(&table_n, ran[1] = ++lessons;); }
static void explain_a(void)
{
    (void)(CONCLUDE(&table_n, "first", false, VALUES(VAL("x", 1)), "Not said.") ||
           CONCLUDE(&table_n, "second", true, VALUES(VAL("x", 2)), "Said %d.", 2));
}

static void explain_none(void)
{
    (void)FINDING(&table_n, "other", true, VAL("x", 0));
}

/* A question whose choices name only findings the step never records cannot
 * be answered "none fits": that is a bug in the table (a misspelt id). */
START_TEST(answers_from_unrecorded_findings_are_a_bug)
{
    static const struct narrate_lesson rows[] = {
        {"a", "Row a", lesson_a, explain_none, "Which?", {"first", "second"}, {"frist", "secnod"}},
    };
    struct cli_common c = {.json = true, .predict = true, .lessons = LESSONS(TABLE(rows))};
    snprintf(c.answers, sizeof c.answers, "a");
    narrate_init(&table_n, "demo-x", &c, NARRATE_COUNT(rows));
    table_n.out = capture();
    narrate_run(&table_n, rows, NARRATE_COUNT(rows));
    fclose(table_n.out);
    free(capture_buf);
    ck_assert_str_eq(table_n.bug, "step 1 (a) answers from findings it never records");
}
END_TEST

/* The code a step shows is the source that ran; one too long to keep whole
 * would reach the JSON cut short, so it is a bug, not a shorter line. */
START_TEST(code_too_long_to_keep_is_a_bug)
{
    struct cli_common c = {.json = true};
    struct narrator n;
    narrate_init(&n, "demo-x", &c, 1);
    n.out = capture();
    static char code[sizeof n.code + 1];
    memset(code, 'x', sizeof code - 1);
    narrate_lesson_before(&n, "short");
    ck_assert_str_eq(n.bug, "");
    narrate_lesson_before(&n, code);
    fclose(n.out);
    free(capture_buf);
    ck_assert_ptr_nonnull(strstr(n.bug, "code is longer than"));
}
END_TEST

START_TEST(table_runs_rows_that_apply)
{
    static const struct narrate_lesson rows[] = {
        {"a", "Row a", lesson_a, explain_a, "Which?", {"first", "second"}, {"first", "x|second"}},
        {"b", "Row b", lesson_b, NULL, NO_QUESTION},
    };
    struct cli_common c = {.json = true, .predict = true, .lessons = LESSONS(TABLE(rows))};
    snprintf(c.answers, sizeof c.answers, "b");
    narrate_init(&table_n, "demo-x", &c, NARRATE_COUNT(rows));
    table_n.out = capture();
    narrate_run(&table_n, rows, NARRATE_COUNT(rows));
    fclose(table_n.out);
    ck_assert_int_eq(ran[0], 1);
    ck_assert_int_eq(ran[1], 2);
    ck_assert_int_eq(table_n.step, 2);
    ck_assert_int_eq(table_n.questions, 1);
    ck_assert_int_eq(table_n.asked, 1);
    ck_assert_int_eq(table_n.right, 1); /* "b": the second choice, whose finding held */
    ck_assert_str_eq(table_n.bug, "");
    char *second_line = strchr(capture_buf, '\n') + 1;
    ck_assert_ptr_nonnull(strstr(capture_buf, "\"id\":\"first\",\"held\":false"));
    ck_assert_ptr_nonnull(strstr(capture_buf, "Said 2."));
    ck_assert_ptr_null(strstr(capture_buf, "Not said."));
    ck_assert_ptr_nonnull(strstr(second_line, "\"id\":\"b\""));
    free(capture_buf);
}
END_TEST

/* --answers gives a letter to each question of the demo's tables, in their order: a
 * question whose row does not run on this machine leaves its letter unused, and the
 * next question still gets its own. The score counts the questions this run put. */
static void explain_second(void)
{
    (void)FINDING(&table_n, "second", true, VAL("x", 2));
}

START_TEST(answers_belong_to_their_question_whatever_runs)
{
    static const struct narrate_lesson first[] = {
        {"a", "Row a", lesson_a, explain_second, "Skipped here?", {"x", "y"}, {"second", NULL}},
    };
    static const struct narrate_lesson then[] = {
        {"b", "Row b", lesson_b, explain_second, "Which?", {"first", "second"}, {NULL, "second"}},
    };
    struct cli_common c = {.json = true, .predict = true,
                           .lessons = LESSONS(TABLE(first), TABLE(then))};
    snprintf(c.answers, sizeof c.answers, "ab");
    narrate_init(&table_n, "demo-x", &c, 1);
    table_n.out = capture();
    narrate_run(&table_n, then, 1); /* only the second table runs */
    fclose(table_n.out);
    ck_assert_str_eq(table_n.bug, "");
    ck_assert_ptr_nonnull(strstr(capture_buf, "\"predicted\":\"b\",\"measured\":\"b\""));
    ck_assert_int_eq(table_n.questions, 1);
    ck_assert_int_eq(table_n.right, 1);
    free(capture_buf);
}
END_TEST

/* A question that is in none of the tables could never get its letter: a bug. */
START_TEST(question_of_no_table_is_a_bug)
{
    static const struct narrate_lesson listed[] = {
        {"a", "Row a", lesson_a, explain_second, "Listed?", {"x", "y"}, {"second", NULL}},
    };
    static const struct narrate_lesson other[] = {
        {"b", "Row b", lesson_b, explain_second, "Not listed?", {"x", "y"}, {"second", NULL}},
    };
    struct cli_common c = {.json = true, .predict = true, .lessons = LESSONS(TABLE(listed))};
    snprintf(c.answers, sizeof c.answers, "a");
    narrate_init(&table_n, "demo-x", &c, 1);
    table_n.out = capture();
    narrate_run(&table_n, other, 1);
    fclose(table_n.out);
    free(capture_buf);
    ck_assert_str_eq(table_n.bug, "step 1 (b) asks a question of no table in demo_info.lessons: "
                                  "--help would not offer --predict");
    /* so also without --predict: a run that never asks still finds the table missing */
    struct cli_common plain = {.json = true, .lessons = LESSONS(TABLE(listed))};
    narrate_init(&table_n, "demo-x", &plain, 1);
    table_n.out = capture();
    narrate_run(&table_n, other, 1);
    fclose(table_n.out);
    free(capture_buf);
    ck_assert_ptr_nonnull(strstr(table_n.bug, "asks a question of no table"));
}
END_TEST

/* A question answered from a number (explain() calls narrate_answer) is not then
 * answered again from the table's findings. */
static void explain_by_number(void)
{
    (void)FINDING(&table_n, "ratio", true, VAL("x", 3));
    narrate_answer(&table_n, 1, "ratio");
}

START_TEST(explain_may_answer_from_a_number)
{
    static const struct narrate_lesson rows[] = {
        {"a", "Row a", lesson_a, explain_by_number, "Ratio?", {"under 2", "2 or more"}, {NULL}},
    };
    struct cli_common c = {.json = true, .predict = true, .lessons = LESSONS(TABLE(rows))};
    snprintf(c.answers, sizeof c.answers, "b");
    narrate_init(&table_n, "demo-x", &c, 1);
    table_n.out = capture();
    narrate_run(&table_n, rows, 1);
    fclose(table_n.out);
    ck_assert_str_eq(table_n.bug, "");
    ck_assert_ptr_nonnull(strstr(capture_buf, "\"measured\":\"b\",\"finding\":\"ratio\""));
    ck_assert_int_eq(table_n.right, 1);
    free(capture_buf);
}
END_TEST

/* Plain --answers output on a projector: the prediction and the measurement of a
 * question with long choices fold within 80 columns, like the explanation. */
START_TEST(prediction_lines_fit_80_columns)
{
    static const struct narrate_lesson rows[] = {
        {"a", "Row a", lesson_a, explain_second, "Which of these rather long choices?",
         {"the first of two choices, which is long enough to need a line of its own",
          "the second of two choices, just as long as the first one is, or longer"},
         {NULL, "second"}},
    };
    struct cli_common c = {.predict = true, .color = COLOR_NEVER, .lessons = LESSONS(TABLE(rows))};
    snprintf(c.answers, sizeof c.answers, "a");
    narrate_init(&table_n, "demo-x", &c, 1);
    table_n.out = capture();
    narrate_run(&table_n, rows, 1);
    fclose(table_n.out);
    ck_assert_ptr_nonnull(strstr(capture_buf, "You predicted a)"));
    ck_assert_ptr_nonnull(strstr(capture_buf, "not what happened."));
    for (char *line = capture_buf, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        ck_assert_ptr_nonnull(end);
        ck_assert_msg(end - line <= 80, "%d columns: %.*s", (int)(end - line), (int)(end - line),
                      line);
    }
    free(capture_buf);
}
END_TEST

/* An observer reads /proc after the lesson and may change errno: the lesson's own errno is
 * kept for the explanation, and is errno again after LESSON. */
static void observer_clobbers_errno(void *ctx, bool after)
{
    (void)ctx, (void)after;
    errno = ENOENT;
}

START_TEST(lesson_errno_survives_the_observer)
{
    struct cli_common c = {.json = true};
    struct narrator n;
    narrate_init(&n, "d", &c, 1);
    n.out = fopen("/dev/null", "w");
    narrate_observe(&n, observer_clobbers_errno, NULL);
    narrate_begin(&n, "s", "a step");
    LESSON(&n, errno = EINVAL;);
    ck_assert_int_eq(n.lesson_errno, EINVAL);
    ck_assert_int_eq(errno, EINVAL);
    LESSON(&n, errno = 0;);
    ck_assert_int_eq(n.lesson_errno, 0);
    fclose(n.out);
}
END_TEST

static Suite *narrate_suite(void)
{
    Suite *s = suite_create("narrate");
    TCase *tc = tcase_create("output");
    tcase_add_test(tc, json_strings_round_trip);
    tcase_add_test(tc, json_invalid_utf8_replaced);
    tcase_add_test(tc, json_step_object);
    tcase_add_test(tc, plain_step_text);
    tcase_add_test(tc, code_laid_out_as_its_source);
    tcase_add_test(tc, color_rules);
    tcase_add_test(tc, long_row_names_stay_aligned);
    tcase_add_test(tc, table_runs_rows_that_apply);
    tcase_add_test(tc, lesson_errno_survives_the_observer);
    tcase_add_test(tc, answers_from_unrecorded_findings_are_a_bug);
    tcase_add_test(tc, answers_belong_to_their_question_whatever_runs);
    tcase_add_test(tc, question_of_no_table_is_a_bug);
    tcase_add_test(tc, explain_may_answer_from_a_number);
    tcase_add_test(tc, prediction_lines_fit_80_columns);
    tcase_add_test(tc, code_too_long_to_keep_is_a_bug);
    tcase_add_exit_test(tc, finish_json_line_and_exit, 77);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed = run_suite(narrate_suite());
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
