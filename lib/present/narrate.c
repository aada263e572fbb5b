/* SPDX-License-Identifier: MIT */
/* narrate: plain, --step and --json output of the steps of a demo. */
#define _GNU_SOURCE
#include "narrate.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "announce.h"
#include "errors.h"
#include "machine.h"
#include "picture.h"
#include "predict.h"

#define BOLD "\033[1m"
#define CYAN "\033[36m"
#define YELLOW "\033[33m"
#define DIM "\033[2m"
#define RESET "\033[0m"

static const char *paint(const struct narrator *n, const char *code)
{
    return n->color ? code : "";
}

/* Tells vmlab-watch, in a second terminal, where this demo is now. */
static void announce_step(const struct narrator *n)
{
    struct announcement a = {.pid = (long)getpid(), .step = n->step, .steps = n->nsteps,
                             .addr = n->watch_addr};
    snprintf(a.demo, sizeof a.demo, "%s", n->demo);
    snprintf(a.title, sizeof a.title, "%s", n->title);
    announce_write(&a);
}

void narrate_init(struct narrator *n, const char *demo, const struct cli_common *common, int nsteps)
{
    memset(n, 0, sizeof *n);
    n->demo = demo;
    n->json = common->json;
    n->nsteps = nsteps;
    n->out = stdout;
    n->row_page_kb = sysconf(_SC_PAGESIZE) / 1024;
    const char *no_color = getenv("NO_COLOR");
    bool tty_out = isatty(STDOUT_FILENO), auto_color = tty_out && !(no_color && no_color[0]);
    n->color = !n->json && (common->color == COLOR_ALWAYS ||
                            (common->color == COLOR_AUTO && auto_color));
    n->common = common;
    n->answers = common->answers[0] ? common->answers : NULL;
    if (n->answers && common->info)
        cli_check_answers(common); /* before anything runs: a list that fits this run */
    if (n->common->predict && !n->answers && !(isatty(STDIN_FILENO) && (tty_out || n->json))) {
        cli_notice(demo, "--predict asks at a terminal; without one, give the answers with "
                   "--answers (e.g. --answers b,a,c)");
        exit(EXIT_USAGE);
    }
    if (common->step) {
        n->pause = tty_out && isatty(STDIN_FILENO);
        if (!n->pause)
            cli_notice(demo, "--step: not pausing, because stdin or stdout is not a terminal");
    }
}

void narrate_intro(struct narrator *n, const char *fmt, ...)
{
    if (n->json)
        return;
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): a clang 14 false positive
    va_end(ap);
    cli_print_wrapped(n->out, text, 0); /* 80 columns, on a projector too */
    fputc('\n', n->out);
}

void narrate_watch(struct narrator *n, uintptr_t addr)
{
    narrate_watch_named(n, addr, NULL);
}

/* A grep pattern for a mapping's name ("\[stack\]"): what a basic regular expression
 * gives a meaning is escaped; what the command's two levels of quotes would change
 * is matched by '.' instead. */
static void name_pattern(const char *name, char *out, size_t len)
{
    size_t o = 0;
    for (; *name && o + 3 < len; name++) {
        if (strchr("[].*^", *name))
            out[o++] = '\\';
        if (strchr("'\"`$\\", *name))
            out[o++] = '.';
        else
            out[o++] = *name;
    }
    out[o] = '\0';
}

void narrate_watch_named(struct narrator *n, uintptr_t addr, const char *name)
{
    if (n->in_step) {
        n->watch_next = addr;
        n->watch_next_name = name;
        return;
    }
    n->watch_addr = addr;
    announce_step(n);
    if (!n->pause)
        return;
    char pattern[128];
    if (name)
        name_pattern(name, pattern, sizeof pattern);
    else
        snprintf(pattern, sizeof pattern, "^%lx-", (unsigned long)addr);
    fprintf(stderr,
            "%sWatch it from a second terminal (PID %ld):%s\n"
            "    watch -n 1 \"grep -A 24 '%s' /proc/%ld/smaps\"\n\n",
            paint(n, BOLD), (long)getpid(), paint(n, RESET), pattern, (long)getpid());
}

void narrate_begin(struct narrator *n, const char *id, const char *title)
{
    n->step++;
    snprintf(n->id, sizeof n->id, "%s", id);
    snprintf(n->title, sizeof n->title, "%s", title);
    n->code[0] = '\0';
    n->note[0] = '\0';
    n->nrows = 0;
    n->nfacts = 0;
    n->nfindings = 0;
    n->nsentences = 0;
    memset(&n->question, 0, sizeof n->question);
    n->header_shown = false;
    (void)fflush(n->out);
    announce_step(n);
    n->in_step = true;
}

void narrate_run(struct narrator *n, const struct narrate_lesson *steps, int count)
{
    for (const struct narrate_lesson *st = steps; st < steps + count; st++) {
        narrate_begin(n, st->id, st->title);
        if (st->ask && narrate_question_place(n->common->lessons, st->ask) < 0 && !n->bug[0])
            snprintf(n->bug, sizeof n->bug, "step %d (%s) asks a question of no table in "
                     "demo_info.lessons: --help would not offer --predict", n->step, st->id);
        if (st->ask)
            narrate_ask(n, st->ask, st->choices);
        st->lesson();
        if (st->explain)
            st->explain();
        if (st->ask && !n->question.answered) /* else explain() answered from a number */
            narrate_answer_from(n, st->because);
        narrate_end_step(n);
    }
}

void narrate_observe(struct narrator *n, narrate_observer fn, void *ctx)
{
    n->observe = fn;
    n->observe_ctx = ctx;
}

static void plain_header(struct narrator *n);
static void plain_code(struct narrator *n, const char *code);

void narrate_lesson_before(struct narrator *n, const char *code)
{
    size_t used = strlen(n->code);
    int len = snprintf(n->code + used, sizeof n->code - used, "%s%s", used ? "\n" : "", code);
    /* The JSON's code must be the source that ran: a cut one is a bug, not a shorter line. */
    if (len < 0 || (size_t)len >= sizeof n->code - used) {
        if (!n->bug[0])
            snprintf(n->bug, sizeof n->bug, "step %d's code is longer than %zu characters",
                     n->step, sizeof n->code - 1);
    }
    if (!n->json) {
        if (n->header_shown)
            plain_code(n, code);
        else
            plain_header(n);
        (void)fflush(n->out);
    }
    if (n->question.asked && !n->question.read) {
        predict_read(n);  /* the answer is the pause; a step asks once, whatever its LESSONs */
        n->question.read = true;
    }
    else if (n->pause) {
        fprintf(stderr, "%s-- Press Enter to run step %d/%d --%s ", paint(n, DIM), n->step,
                n->nsteps, paint(n, RESET));
        (void)fflush(stderr);
        char line[64];
        for (;;) {
            if (!fgets(line, sizeof line, stdin)) {
                n->pause = false; /* end of input: go on without pausing */
                fputc('\n', stderr);
                break;
            }
            if (strchr(line, '\n'))
                break;
        }
    }
    if (n->observe)
        n->observe(n->observe_ctx, false);
    errno = 0; /* so that a lesson whose calls all succeeded keeps no older errno */
}

/* The lesson's errno is kept before the observer's reads of /proc can change it, and is
 * errno again afterwards: the code after a LESSON sees what its calls set. */
void narrate_lesson_after(struct narrator *n)
{
    n->lesson_errno = errno;
    if (n->observe)
        n->observe(n->observe_ctx, true);
    errno = n->lesson_errno;
}

bool narrate_finding(struct narrator *n, const char *id, bool held,
                     const struct finding_value *values)
{
    if (n->nfindings == NARRATE_MAX_FINDINGS) {
        if (!n->bug[0])
            snprintf(n->bug, sizeof n->bug, "step %d has more than %d findings", n->step,
                     NARRATE_MAX_FINDINGS);
        return held;
    }
    struct narrate_finding *f = &n->findings[n->nfindings++];
    snprintf(f->id, sizeof f->id, "%s", id);
    f->held = held;
    f->nvalues = 0;
    for (; values && values->key && f->nvalues < NARRATE_MAX_FINDING_VALUES; values++) {
        snprintf(f->values[f->nvalues].key, sizeof f->values[f->nvalues].key, "%s", values->key);
        f->values[f->nvalues].value = values->value;
        f->nvalues++;
    }
    return held;
}

const struct narrate_finding *narrate_found(const struct narrator *n, const char *id)
{
    for (size_t i = 0; i < n->nfindings; i++)
        if (strcmp(n->findings[i].id, id) == 0)
            return &n->findings[i];
    return NULL;
}

bool narrate_held(const struct narrator *n, const char *id)
{
    const struct narrate_finding *f = narrate_found(n, id);
    return f && f->held;
}

void narrate_value(struct narrator *n, const char *key, const char *unit, bool has_before,
                   int64_t before, bool has_after, int64_t after)
{
    if (n->nrows == NARRATE_MAX_ROWS)
        return;
    struct narrate_row *r = &n->rows[n->nrows++];
    *r = (struct narrate_row){"", unit, has_before, has_after, before, after};
    snprintf(r->key, sizeof r->key, "%s", key);
}

static struct narrate_fact *new_fact(struct narrator *n, const char *key)
{
    if (n->nfacts == NARRATE_MAX_FACTS)
        return NULL;
    struct narrate_fact *f = &n->facts[n->nfacts++];
    *f = (struct narrate_fact){.picture = NULL};
    snprintf(f->key, sizeof f->key, "%s", key);
    return f;
}

void narrate_fact(struct narrator *n, const char *key, const char *fmt, ...)
{
    struct narrate_fact *f = new_fact(n, key);
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): a clang 14 false positive
    va_end(ap);
}

void narrate_fact_int(struct narrator *n, const char *key, int64_t value)
{
    narrate_fact_from(n, key, value, NULL);
}

void narrate_fact_from(struct narrator *n, const char *key, int64_t value, const char *from)
{
    struct narrate_fact *f = new_fact(n, key);
    if (!f)
        return;
    snprintf(f->text, sizeof f->text, "%lld", (long long)value);
    f->is_number = true;
    f->from = from;
}

void narrate_series(struct narrator *n, const char *key, const int64_t *values, size_t count)
{
    struct narrate_fact *f = new_fact(n, key);
    if (!f)
        return;
    size_t used = 0;
    f->text[used++] = '[';
    for (size_t i = 0; i < count && used + 24 < sizeof f->text; i++)
        used += (size_t)snprintf(f->text + used, sizeof f->text - used, "%s%lld", i ? "," : "",
                                 (long long)values[i]);
    snprintf(f->text + used, sizeof f->text - used, "]");
    f->is_number = true;
    f->is_series = true;
}

void narrate_picture(struct narrator *n, const char *key, const char *picture)
{
    struct narrate_fact *f = new_fact(n, key);
    if (!f)
        return;
    f->picture = picture;
}

__attribute__((format(printf, 3, 0)))
static void add_sentence(struct narrator *n, const char *finding, const char *fmt, va_list ap)
{
    if (n->note[0])
        strncat(n->note, " ", sizeof n->note - strlen(n->note) - 1);
    size_t start = strlen(n->note);
    if (start + 1 < sizeof n->note)
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): ap comes va_start'ed from the caller
        vsnprintf(n->note + start, sizeof n->note - start, fmt, ap);
    if (n->nsentences < NARRATE_MAX_SENTENCES) {
        struct narrate_sentence *s = &n->sentences[n->nsentences++];
        snprintf(s->finding, sizeof s->finding, "%s", finding ? finding : "");
        s->start = start;
        s->len = strlen(n->note) - start;
    }
}

void narrate_note(struct narrator *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_sentence(n, NULL, fmt, ap);
    va_end(ap);
}

void narrate_because(struct narrator *n, const char *finding, const char *fmt, ...)
{
    if (!narrate_held(n, finding)) {
        if (!n->bug[0])
            snprintf(n->bug, sizeof n->bug,
                     "step %d (%s) explains from finding '%s', which did not hold or was "
                     "not recorded", n->step, n->id, finding);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    add_sentence(n, finding, fmt, ap);
    va_end(ap);
}

bool narrate_conclude(struct narrator *n, const char *id, bool held,
                      const struct finding_value *values, const char *fmt, ...)
{
    if (!narrate_finding(n, id, held, values))
        return false;
    va_list ap;
    va_start(ap, fmt);
    add_sentence(n, id, fmt, ap);
    va_end(ap);
    return true;
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
    size_t len;
    unsigned min;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) { len = 2; min = 0x80; }
    else if ((s[0] & 0xf0) == 0xe0) { len = 3; min = 0x800; }
    else if ((s[0] & 0xf8) == 0xf0) { len = 4; min = 0x10000; }
    else return 0;
    unsigned cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void json_write_string(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    while (*p) {
        switch (*p) {
        case '"': fputs("\\\"", out); p++; continue;
        case '\\': fputs("\\\\", out); p++; continue;
        case '\n': fputs("\\n", out); p++; continue;
        case '\t': fputs("\\t", out); p++; continue;
        case '\r': fputs("\\r", out); p++; continue;
        default: break;
        }
        if (*p < 0x20 || *p == 0x7f) {
            fprintf(out, "\\u%04x", *p);
            p++;
            continue;
        }
        size_t len = utf8_sequence(p);
        if (len == 0) {
            fputs("\\ufffd", out); /* not UTF-8: JSON text must be */
            p++;
            continue;
        }
        fwrite(p, 1, len, out);
        p += len;
    }
    fputc('"', out);
}

/* An object's member name: "key": after a comma unless it is the first. */
static void json_key(FILE *out, bool first, const char *key)
{
    if (!first)
        fputc(',', out);
    json_write_string(out, key);
    fputc(':', out);
}

static void json_rows(struct narrator *n, const char *name, int which)
{
    FILE *out = n->out;
    fprintf(out, ",\"%s\":{", name);
    bool first = true;
    for (size_t i = 0; i < n->nrows; i++) {
        const struct narrate_row *r = &n->rows[i];
        bool has;
        int64_t v;
        if (which == 0) { has = r->has_before; v = r->before; }
        else if (which == 1) { has = r->has_after; v = r->after; }
        else {
            if (!r->has_before || !r->has_after)
                continue;
            has = true;
            v = r->after - r->before;
        }
        char key[48];
        snprintf(key, sizeof key, "%s%s", r->key, strcmp(r->unit, "kB") == 0 ? "_kB" : "");
        json_key(out, first, key);
        first = false;
        if (has)
            fprintf(out, "%lld", (long long)v);
        else
            fputs("null", out);
    }
    fputc('}', out);
}

static void json_findings(struct narrator *n)
{
    FILE *out = n->out;
    fputs(",\"findings\":[", out);
    for (size_t i = 0; i < n->nfindings; i++) {
        const struct narrate_finding *f = &n->findings[i];
        fputs(i ? ",{\"id\":" : "{\"id\":", out);
        json_write_string(out, f->id);
        fprintf(out, ",\"held\":%s,\"values\":{", f->held ? "true" : "false");
        for (size_t v = 0; v < f->nvalues; v++) {
            json_key(out, v == 0, f->values[v].key);
            fprintf(out, "%lld", (long long)f->values[v].value);
        }
        fputs("}}", out);
    }
    fputc(']', out);
}

/* The note again, sentence by sentence, each with the finding it rests on
 * (null for a sentence that only restates the step's numbers). */
static void json_sentences(struct narrator *n)
{
    FILE *out = n->out;
    char text[sizeof n->note];
    fputs(",\"sentences\":[", out);
    for (size_t i = 0; i < n->nsentences; i++) {
        const struct narrate_sentence *s = &n->sentences[i];
        snprintf(text, sizeof text, "%.*s", (int)s->len, n->note + s->start);
        fputs(i ? ",{\"finding\":" : "{\"finding\":", out);
        json_write_string(out, s->finding[0] ? s->finding : NULL);
        fputs(",\"text\":", out);
        json_write_string(out, text);
        fputc('}', out);
    }
    fputc(']', out);
}

static void json_step(struct narrator *n)
{
    FILE *out = n->out;
    fputs("{\"demo\":", out);
    json_write_string(out, n->demo);
    fprintf(out, ",\"schema\":%d,\"step\":%d,\"steps\":%d,\"id\":", NARRATE_JSON_SCHEMA,
            n->step, n->nsteps);
    json_write_string(out, n->id);
    fputs(",\"title\":", out);
    json_write_string(out, n->title);
    fputs(",\"code\":", out);
    json_write_string(out, n->code);
    json_rows(n, "before", 0);
    json_rows(n, "after", 1);
    json_rows(n, "delta", 2);
    fputs(",\"facts\":{", out);
    for (size_t i = 0; i < n->nfacts; i++) {
        json_key(out, i == 0, n->facts[i].key);
        if (n->facts[i].picture)
            json_write_string(out, n->facts[i].picture);
        else if (n->facts[i].is_number)
            fputs(n->facts[i].text, out);
        else
            json_write_string(out, n->facts[i].text);
    }
    fputc('}', out);
    json_findings(n);
    predict_json(n);
    fputs(",\"note\":", out);
    json_write_string(out, n->note);
    json_sentences(n);
    fputs("}\n", out);
}

/* ---- plain ---- */

static void format_value(char *buf, size_t len, bool has, int64_t v, const char *unit)
{
    if (!has)
        snprintf(buf, len, "absent");
    else
        snprintf(buf, len, "%lld%s%s", (long long)v, unit[0] ? " " : "", unit);
}

/* The widths of a step's columns: 16 for the name and 12 for each value, or the step's
 * longest, so that its rows stay aligned. The columns a longer name takes come out of
 * the values' where they are narrower, so that the line keeps within 80 columns. */
struct row_widths {
    int key, before, after;
};

/* A value column: 12, less what a longer name still needs (*wider) where the values
 * leave room; never narrower than its widest value. */
static int value_width(int widest, int *wider)
{
    int take = 12 - widest < *wider ? 12 - widest : *wider;
    take = take > 0 ? take : 0;
    *wider -= take;
    return widest > 12 - take ? widest : 12 - take;
}

static struct row_widths row_widths(const struct narrator *n)
{
    struct row_widths w = {16, 0, 0};
    for (size_t i = 0; i < n->nrows; i++) {
        const struct narrate_row *r = &n->rows[i];
        char value[32];
        int len = (int)strlen(r->key);
        w.key = len > w.key ? len : w.key;
        format_value(value, sizeof value, r->has_before, r->before, r->unit);
        len = (int)strlen(value);
        w.before = len > w.before ? len : w.before;
        format_value(value, sizeof value, r->has_after, r->after, r->unit);
        len = (int)strlen(value);
        w.after = len > w.after ? len : w.after;
    }
    int wider = w.key - 16;
    w.before = value_width(w.before, &wider);
    w.after = value_width(w.after, &wider);
    return w;
}

static void plain_row(struct narrator *n, const struct narrate_row *r, struct row_widths w)
{
    char before[32], after[32], delta[64] = "";
    format_value(before, sizeof before, r->has_before, r->before, r->unit);
    format_value(after, sizeof after, r->has_after, r->after, r->unit);
    bool moved = r->has_before != r->has_after || (r->has_before && r->before != r->after);
    if (r->has_before && r->has_after && r->before != r->after) {
        int64_t d = r->after - r->before;
        long page_kb = n->row_page_kb;
        if (strcmp(r->unit, "kB") == 0 && page_kb > 0 && d % page_kb == 0)
            snprintf(delta, sizeof delta, "%+lld kB (%+lld page%s)", (long long)d,
                     (long long)(d / page_kb), (d / page_kb == 1 || d / page_kb == -1) ? "" : "s");
        else
            snprintf(delta, sizeof delta, "%+lld%s%s", (long long)d, r->unit[0] ? " " : "", r->unit);
    }
    fprintf(n->out, "      %-*s %*s -> %-*s %s%s%s\n", w.key, r->key, w.before, before, w.after,
            after, moved ? paint(n, YELLOW) : "", delta, moved ? paint(n, RESET) : "");
}

static void plain_picture(struct narrator *n, const struct narrate_fact *f)
{
    size_t len = strlen(f->picture);
    fprintf(n->out, "      %s:\n", f->key);
    for (size_t i = 0; i < len; i += 64)
        fprintf(n->out, "        %6zu  %.64s\n", i, f->picture + i);
}

/* A piece of a LESSON's code printed on a line of its own: a statement (to its ';'), the
 * header of an if, for, while or else whose body follows without a brace, a block's opening
 * (to its '{'), or a '}' (with the "else" or "while" that goes on from it). */
struct code_piece {
    size_t len;
    bool closes; /* it begins with a block's '}' */
    bool opens;  /* it ends with a block's '{' */
    bool header; /* one statement follows, indented */
};

static bool starts_word(const char *s, const char *word)
{
    size_t len = strlen(word);
    return strncmp(s, word, len) == 0 && !isalnum((unsigned char)s[len]) && s[len] != '_';
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

/* The preprocessor joined the source's lines into one: the layout is found again from the
 * brackets and the keywords; strings and character constants are skipped whole. */
static struct code_piece next_piece(const char *s)
{
    struct code_piece p = {0};
    const char *at = s;
    if (*at == '}') {
        p.closes = true;
        at = skip_spaces(at + 1);
        if (!starts_word(at, "else") && !starts_word(at, "while"))
            return (struct code_piece){.len = 1, .closes = true};
    }
    if (*at == '{')
        return (struct code_piece){.len = (size_t)(at + 1 - s), .closes = p.closes, .opens = true};
    bool control = starts_word(at, "if") || starts_word(at, "for") || starts_word(at, "while") ||
                   starts_word(at, "switch");
    if ((starts_word(at, "else") && !starts_word(skip_spaces(at + 4), "if")) ||
        starts_word(at, "do")) {
        const char *body = skip_spaces(at + (*at == 'e' ? 4 : 2));
        p.opens = *body == '{';
        p.header = !p.opens;
        p.len = (size_t)(p.opens ? body + 1 - s : body - s);
        return p;
    }
    control = control || starts_word(at, "else");
    int depth = 0; /* ( [ and an initializer's or a compound literal's { */
    size_t len = (size_t)(at - s);
    for (; s[len] && s[len] != '\n'; len++) {
        char c = s[len];
        if (c == '"' || c == '\'') {
            for (len++; s[len] && s[len] != c; len++)
                if (s[len] == '\\' && s[len + 1])
                    len++;
            if (!s[len])
                break;
        } else if (c == '(' || c == '[' || c == '{') {
            depth++;
        } else if (c == '}' && depth == 0) {
            break; /* the block's last statement had its ';' */
        } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
            if (--depth == 0 && c == ')' && control) { /* the header's (...) closed */
                const char *next = skip_spaces(s + len + 1);
                control = false;
                if (*next == '{') {
                    p.opens = true;
                    p.len = (size_t)(next + 1 - s);
                    return p;
                }
                if (*next != ';') { /* else "while (x);" of a do, or an empty body */
                    p.header = true;
                    p.len = len + 1;
                    return p;
                }
            }
        } else if (c == ';' && depth == 0) {
            p.len = len + 1;
            return p;
        }
    }
    p.len = len;
    return p;
}

/* Prints code as C is laid out: a statement a line, a body indented under its if, for, while
 * or else (with or without braces), folded at 78 columns. */
static void plain_code(struct narrator *n, const char *code)
{
    struct { int outer, line; } open[16]; /* each open block: the indent outside it, its line's */
    int blocks = 0, base = 0, hang = 0;   /* open blocks; their indent; headers' bodies pending */
    for (const char *s = code; *s;) {
        while (*s == ' ' || *s == '\n')
            s++;
        if (!*s)
            break;
        struct code_piece p = next_piece(s);
        int indent = base + hang;
        if (p.closes && blocks > 0) { /* back to the line that opened it */
            blocks--;
            base = open[blocks].outer;
            indent = open[blocks].line;
        }
        char line[4096]; /* one statement: a loop with its body at most */
        snprintf(line, sizeof line, "      %*s%.*s", 4 * indent, "", (int)p.len, s);
        fputs(paint(n, CYAN), n->out);
        cli_print_folded(n->out, line, 78, 4);
        fputs(paint(n, RESET), n->out);
        if (p.opens && blocks < (int)(sizeof open / sizeof open[0])) {
            open[blocks].outer = base;
            open[blocks++].line = indent;
            base = indent + 1;
            hang = 0;
        } else if (p.header) {
            hang = indent - base + 1;
        } else {
            hang = 0;
        }
        s += p.len;
    }
}

static void plain_header(struct narrator *n)
{
    FILE *out = n->out;
    if (n->header_shown)
        return;
    fprintf(out, "%s[%d/%d] %s%s\n", paint(n, BOLD), n->step, n->nsteps, n->title, paint(n, RESET));
    plain_code(n, n->code);
    n->header_shown = true;
}

void narrate_live(struct narrator *n, const char *fmt, ...)
{
    if (n->json)
        return;
    plain_header(n);
    va_list ap;
    fputs("      ", n->out);
    va_start(ap, fmt);
    vfprintf(n->out, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): a clang 14 false positive
    va_end(ap);
    fputc('\n', n->out);
    (void)fflush(n->out);
}

size_t narrate_series_values(const struct narrate_fact *f, int64_t *values, size_t max)
{
    size_t count = 0;
    for (const char *p = f->text + 1; *p && *p != ']' && count < max; count++) {
        char *end;
        values[count] = strtoll(p, &end, 10);
        if (end == p)
            break;
        p = *end == ',' ? end + 1 : end;
    }
    return count;
}

/* "samples_VmRSS_kB: 15 samples, 1200 to 65408, largest 65408" */
static void series_summary(const struct narrate_fact *f, char *line, size_t len)
{
    int64_t v[sizeof f->text / 2]; /* "1," at the least for each */
    size_t count = narrate_series_values(f, v, sizeof v / sizeof v[0]);
    int64_t largest = 0;
    for (size_t i = 0; i < count; i++)
        largest = i == 0 || v[i] > largest ? v[i] : largest;
    snprintf(line, len, "      %s: %zu samples, %lld to %lld, largest %lld", f->key, count,
             (long long)(count ? v[0] : 0), (long long)(count ? v[count - 1] : 0),
             (long long)largest);
}

static void plain_step(struct narrator *n)
{
    FILE *out = n->out;
    plain_header(n);
    for (size_t i = 0; i < n->nfacts; i++) {
        char line[sizeof n->facts[i].text + 1024]; /* + where it was read */
        if (n->facts[i].picture) {
            plain_picture(n, &n->facts[i]);
            continue;
        }
        if (n->facts[i].is_series)
            series_summary(&n->facts[i], line, sizeof line);
        else
            snprintf(line, sizeof line, "      %s: %s%s%s%s", n->facts[i].key, n->facts[i].text,
                     n->facts[i].from ? " (" : "", n->facts[i].from ? n->facts[i].from : "",
                     n->facts[i].from ? ")" : "");
        cli_print_wrapped(out, line, 4); /* 80 columns */
    }
    struct row_widths widths = row_widths(n);
    for (size_t i = 0; i < n->nrows; i++)
        plain_row(n, &n->rows[i], widths);
    predict_plain(n);
    if (n->note[0]) {
        /* The explanation, indented under the step, within 78 columns. */
        char text[sizeof n->note + 8];
        snprintf(text, sizeof text, "      %s", n->note);
        cli_print_folded(out, text, 78, 0);
    }
    fputc('\n', out);
}

void narrate_end_step(struct narrator *n)
{
    n->in_step = false;
    if (n->common->svg && !picture_book_add_step(&n->book, n) && !n->bug[0])
        snprintf(n->bug, sizeof n->bug, "--svg: out of memory while keeping step %d", n->step);
    if (n->json)
        json_step(n);
    else
        plain_step(n);
    (void)fflush(n->out);
    if (n->watch_next) {
        narrate_watch_named(n, n->watch_next, n->watch_next_name);
        n->watch_next = 0;
        n->watch_next_name = NULL;
    }
}

void narrate_summary(struct narrator *n, const char *key, int64_t value)
{
    if (n->nsummary < sizeof n->summary / sizeof n->summary[0])
        n->summary[n->nsummary++] = (struct finding_value){key, value};
}

void narrate_finish(struct narrator *n, enum narrate_result result, const char *fmt, ...)
{
    static const char *const names[] = {"ok", "skip", "fail"};
    static const int codes[] = {EXIT_OK, EXIT_CANNOT, EXIT_RUNTIME};
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): a clang 14 false positive
    va_end(ap);
    int (*undo)(void) = n->undo_at_finish;
    n->undo_at_finish = NULL;
    if (undo && undo() != 0) {
        /* Said on stderr; the undo record stays for the next run. An ending that would have
         * been "ok" may say that the value is back: it is replaced; another keeps its reason. */
        static const char failed[] = "a /proc/sys/vm value this run changed could not be put "
                                     "back (see above); the next vmlab run will try again";
        size_t used = result == RESULT_OK ? 0 : strlen(reason);
        snprintf(reason + used, sizeof reason - used, "%s%s", used ? "; and " : "", failed);
        result = RESULT_FAIL;
    }
    struct machine m; /* for the picture's CommitLimit and the JSON's last line */
    if (n->common->svg || n->json)
        machine_read(&m);
    if (n->common->svg && result == RESULT_OK) {
        if (picture_book_write(n->book, n->common->svg, n->demo, m.commit_limit_kB) != 0) {
            char msg[256];
            errno_describe("--svg: writing the picture", errno, msg, sizeof msg);
            snprintf(reason, sizeof reason, "%s (%s)", msg, n->common->svg);
            result = RESULT_FAIL;
        }
    }
    picture_book_free(n->book);
    n->book = NULL;
    if (n->bug[0] && result == RESULT_OK) {
        /* A sentence without a held finding: the demo said more than it
         * measured. That is a failure of the demo, never a pass. */
        snprintf(reason, sizeof reason, "internal error: %s", n->bug);
        result = RESULT_FAIL;
    }
    /* A score where questions were put (the tour passes --predict on, asking nothing). */
    bool scored = n->common->predict && n->questions > 0;
    if (n->json) {
        fputs("{\"demo\":", n->out);
        json_write_string(n->out, n->demo);
        fprintf(n->out, ",\"schema\":%d,\"vmlab\":\"%s\",\"result\":\"%s\",\"reason\":",
                NARRATE_JSON_SCHEMA, VMLAB_VERSION, names[result]);
        json_write_string(n->out, reason);
        fputs(",\"args\":[", n->out);
        for (int i = 0; i < n->common->nargs; i++) {
            fputs(i ? "," : "", n->out);
            json_write_string(n->out, n->common->args[i]);
        }
        fputc(']', n->out);
        if (scored)
            fprintf(n->out, ",\"score\":{\"questions\":%d,\"asked\":%d,\"right\":%d}",
                    n->questions, n->asked, n->right);
        for (size_t i = 0; i < n->nsummary; i++) {
            fputs(i ? "" : ",\"summary\":{", n->out);
            json_key(n->out, i == 0, n->summary[i].key);
            fprintf(n->out, "%lld%s", (long long)n->summary[i].value,
                    i + 1 == n->nsummary ? "}" : "");
        }
        fputs(",\"machine\":", n->out);
        machine_write_json(n->out, &m);
        fputs("}\n", n->out);
    } else if (result == RESULT_OK) {
        char line[1200];
        snprintf(line, sizeof line, "%sDone:%s %s", paint(n, BOLD), paint(n, RESET), reason);
        cli_print_wrapped(n->out, line, 6);
        if (scored) {
            fprintf(n->out, "%sYour predictions:%s %d of %d right", paint(n, BOLD),
                    paint(n, RESET), n->right, n->questions);
            if (n->asked < n->questions)
                fprintf(n->out, "; %d unchecked (skipped, or no choice fitted)",
                        n->questions - n->asked);
            fputs(".\n", n->out);
        }
    }
    /* Output errors (a full disk, a closed pipe) are checked here, once, for
     * every printf before: a run whose report was lost did not succeed. */
    if (fflush(n->out) != 0 || ferror(n->out)) {
        fprintf(stderr, "%s: writing the report failed: %s\n", n->demo, strerror(errno));
        exit(EXIT_RUNTIME);
    }
    if (n->nsteps > 0)
        announce_clear();
    if (result != RESULT_OK)
        cli_notice(n->demo, "%s%s", result == RESULT_SKIP ? "cannot show this here: " : "", reason);
    exit(codes[result]);
}

void narrate_fail_errno(struct narrator *n, const char *call, int err)
{
    char msg[256];
    errno_describe(call, err, msg, sizeof msg);
    narrate_finish(n, RESULT_FAIL, "%s", msg);
}
